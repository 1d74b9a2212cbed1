//! The `todo-comments` tool: TODO, FIXME, HACK and XXX markers in comments.
//! A marker counts only as a whole upper-case word inside a comment: after a
//! comment opener on its line (`//`, `#`, `/*`, `--`, `<!--`, a leading `*` or
//! `;`) that is not inside a string literal, or on a line within a `/* */` or
//! `<!-- -->` block.

use crate::model::{Category, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use regex::Regex;
use std::sync::LazyLock;

static SPEC: ToolSpec = ToolSpec {
    id: "todo-comments",
    category: Category::CodeQuality,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "TODO, FIXME, HACK and XXX markers left in code comments",
};

/// The longest comment text a message carries, in characters.
const MAX_TEXT_CHARS: usize = 120;

static MARKER_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(TODO|FIXME|HACK|XXX)\b").expect("the marker regex is valid"));

/// Reports the first marker of each comment line.
pub struct TodoComments;

impl FileCheck for TodoComments {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        // The closer of the block comment the current line starts inside, if any.
        let mut open_block: Option<&'static str> = None;
        for (index, line) in text.lines().enumerate() {
            let comment = match open_block {
                Some(closer) => {
                    if line.contains(closer) {
                        open_block = None;
                    }
                    Some(0)
                }
                None => comment_start(line).inspect(|&start| {
                    open_block = unclosed_block(&line[start..]);
                }),
            };
            let Some(start) = comment else { continue };
            let Some(word) = MARKER_WORD.find(&line[start..]) else {
                continue;
            };
            let (rule_id, severity) = match word.as_str() {
                "TODO" => ("todo", Severity::Info),
                "FIXME" => ("fixme", Severity::Low),
                "HACK" => ("hack", Severity::Low),
                _ => ("xxx", Severity::Low),
            };
            let body = comment_body(&line[start..]);
            let column = line[..start + word.start()].chars().count() + 1;
            out.push(
                Finding::new(rule_id, severity, truncate(body, MAX_TEXT_CHARS))
                    .at_path(&file.rel, Some(to_u32(index + 1)), Some(to_u32(column)))
                    .fingerprinted(body),
            );
        }
    }
}

/// The byte offset where a comment opens on this line, skipping string
/// literals (a quote counts only when it is closed on the same line).
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let first = line.len() - line.trim_start().len();
    if matches!(bytes.get(first), Some(b'*' | b';')) {
        return Some(first);
    }
    let mut i = first;
    while i < bytes.len() {
        // Bytes, not str: `i` may stand inside a multi-byte character.
        let rest = &bytes[i..];
        let after_space = i == 0 || bytes[i - 1].is_ascii_whitespace();
        match bytes[i] {
            quote @ (b'"' | b'\'' | b'`') => {
                if let Some(len) = closing_quote(&bytes[i + 1..], quote) {
                    i += len + 2;
                    continue;
                }
            }
            b'/' if rest.starts_with(b"/*") => return Some(i),
            b'/' if rest.starts_with(b"//") && (i == 0 || bytes[i - 1] != b':') => return Some(i),
            b'<' if rest.starts_with(b"<!--") => return Some(i),
            b'#' if after_space => return Some(i),
            b'-' if after_space
                && rest.starts_with(b"--")
                && rest.get(2).is_none_or(u8::is_ascii_whitespace) =>
            {
                return Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The length of a quoted string's contents up to its unescaped closing quote.
fn closing_quote(after: &[u8], quote: u8) -> Option<usize> {
    let mut i = 0;
    while i < after.len() {
        match after[i] {
            b'\\' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The closer a block comment opened in `comment` still needs after this line.
fn unclosed_block(comment: &str) -> Option<&'static str> {
    let (opener, closer) = if comment.starts_with("/*") {
        ("/*", "*/")
    } else if comment.starts_with("<!--") {
        ("<!--", "-->")
    } else {
        return None;
    };
    (!comment[opener.len()..].contains(closer)).then_some(closer)
}

/// The comment's text without its opening and closing punctuation.
fn comment_body(comment: &str) -> &str {
    let body = comment.trim_start_matches(['/', '*', '#', '-', '<', '!', ';', ' ', '\t']);
    let body = body.trim_end();
    let body = body
        .strip_suffix("*/")
        .or_else(|| body.strip_suffix("-->"))
        .unwrap_or(body);
    body.trim()
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max_chars - 1).collect();
    short.push('…');
    short
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scan(text: &str) -> Vec<(String, u32, u32, String)> {
        let file = FileEntry {
            rel: "x".into(),
            abs: PathBuf::from("x"),
            size: 0,
        };
        let mut out = Vec::new();
        TodoComments.check(&file, Some(text), &mut out);
        out.into_iter()
            .map(|f| (f.rule_id, f.line.unwrap(), f.column.unwrap(), f.message))
            .collect()
    }

    #[test]
    fn markers_in_comments_fire_with_position_and_text() {
        let found =
            scan("let x = 1; // TODO: tidy up */\n# FIXME later\n  * HACK around it\n<!-- XXX check -->\n");
        assert_eq!(
            found,
            vec![
                ("todo".into(), 1, 15, "TODO: tidy up".into()),
                ("fixme".into(), 2, 3, "FIXME later".into()),
                ("hack".into(), 3, 5, "HACK around it".into()),
                ("xxx".into(), 4, 6, "XXX check".into()),
            ]
        );
    }

    #[test]
    fn code_strings_and_partial_words_do_not_fire() {
        let text = "todos = []\nprint(\"TODO list\")\nlabel = \"# TODO\"\nurl = \"https://x/TODO\"\n// TODOS are fine\nlet s = \"a\"; let t = \"TODO\";\n";
        assert!(scan(text).is_empty(), "{:?}", scan(text));
    }

    #[test]
    fn block_comments_span_lines_and_long_text_is_truncated() {
        let found = scan("/*\n   FIXME: one\n*/\nTODO not a comment\n");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0.as_str(), found[0].1), ("fixme", 2));
        let long = format!("# TODO {}", "x".repeat(300));
        let message = &scan(&long)[0].3;
        assert_eq!(message.chars().count(), MAX_TEXT_CHARS);
        assert!(message.ends_with('…'));
    }
}
