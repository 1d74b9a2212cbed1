//! The `todo-comments` tool: TODO, FIXME, HACK and XXX markers in comments.
//! A marker counts only as a whole upper-case word inside a comment: after a
//! comment opener on its line (`//`, `#`, `/*`, `--`, `<!--`, a leading `*` or
//! `;`) that is not inside a string literal, or on a line within a `/* */` or
//! `<!-- -->` block. A `/*` opens a comment only at the line start or after
//! whitespace or punctuation, so a glob such as `cp build/* dist/` does not.
//! Token-like runs in the comment text (long runs that mix letters and digits)
//! are redacted from the message.

use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use regex::{Captures, Regex};
use std::sync::LazyLock;

static SPEC: ToolSpec = ToolSpec {
    id: "todo-comments",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "TODO, FIXME, HACK and XXX markers left in code comments",
};

/// The longest comment text a message carries, in characters.
const MAX_TEXT_CHARS: usize = 120;

/// What a token-like run of the comment text becomes in the message.
const REDACTED: &str = "…(redacted)";

static MARKER_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(TODO|FIXME|HACK|XXX)\b").expect("the marker regex is valid"));

/// A run of credential alphabet long enough to be a token; it is redacted
/// when it mixes letters and digits.
static TOKEN_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9_\-+/=.]{20,}").expect("the token regex is valid"));

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
        // Only Rust has lifetimes; elsewhere `'` always opens a string.
        let rust = file.rel.ends_with(".rs");
        for (index, line) in text.lines().enumerate() {
            let comment = match open_block {
                Some(closer) => {
                    if line.contains(closer) {
                        open_block = None;
                    }
                    Some(0)
                }
                None => comment_start(line, rust).inspect(|&start| {
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
                Finding::new(rule_id, severity, truncate(&redact_tokens(body), MAX_TEXT_CHARS))
                    .at_path(&file.rel, Some(to_u32(index + 1)), Some(to_u32(column)))
                    .fingerprinted(body),
            );
        }
    }
}

/// The byte offset where a comment opens on this line, skipping string
/// literals (a quote counts only when it is closed on the same line, and in
/// Rust a lifetime or label such as `'static` is no quote).
fn comment_start(line: &str, rust: bool) -> Option<usize> {
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
            b'\'' if rust && is_lifetime(&bytes[i + 1..]) => {}
            quote @ (b'"' | b'\'' | b'`') => {
                if let Some(len) = closing_quote(&bytes[i + 1..], quote) {
                    i += len + 2;
                    continue;
                }
            }
            b'/' if rest.starts_with(b"/*") && opens_block(bytes, i) => return Some(i),
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

/// Whether the `'` before `after` starts a lifetime or label (`'static`,
/// `'outer:`) rather than a quoted string or character (`'a'`, `'#'`).
fn is_lifetime(after: &[u8]) -> bool {
    let ident = after
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    ident > 0 && !after[0].is_ascii_digit() && after.get(ident) != Some(&b'\'')
}

/// Whether the `/*` at byte `i` opens a block comment: at the line start or
/// after whitespace or punctuation, not inside a path or glob (`cp build/* dist/`).
fn opens_block(bytes: &[u8], i: usize) -> bool {
    i == 0 || bytes[i - 1].is_ascii_whitespace() || b"(){}[],;=:".contains(&bytes[i - 1])
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

/// The text with each token-like run (see [`TOKEN_RUN`]) that holds both a
/// letter and a digit replaced by [`REDACTED`].
fn redact_tokens(text: &str) -> String {
    TOKEN_RUN
        .replace_all(text, |caps: &Captures<'_>| {
            let run = &caps[0];
            let mixed =
                run.bytes().any(|b| b.is_ascii_alphabetic()) && run.bytes().any(|b| b.is_ascii_digit());
            if mixed { REDACTED } else { run }.to_string()
        })
        .into_owned()
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max_chars - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scan(text: &str) -> Vec<(String, u32, u32, String)> {
        scan_file("x.rs", text)
    }

    fn scan_file(name: &str, text: &str) -> Vec<(String, u32, u32, String)> {
        let file = FileEntry {
            rel: name.into(),
            abs: PathBuf::from(name),
            size: 0,
            origin: crate::tools::Origin::Source,
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

    #[test]
    fn globs_and_paths_do_not_open_block_comments() {
        let text = "dist: build\n\tcp build/* dist/\n\t@echo \"TODO list copied\"\n\
                    COPY --from=build /app/* /srv/\nRUN ls ~/*.log $HOME/* ./* -/*\nx = \"TODO\"\n\
                    # TODO: sign the artifacts\n";
        let lines: Vec<_> = scan(text).into_iter().map(|f| f.1).collect();
        assert_eq!(lines, vec![7]);
        let text = "f(/* FIXME: one */);\nx = {/*\n  HACK: two\n*/}\ny = 1;/*\nXXX three */\n";
        let lines: Vec<_> = scan(text).into_iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(
            lines,
            vec![("fixme".into(), 1), ("hack".into(), 3), ("xxx".into(), 6)]
        );
    }

    #[test]
    fn lifetimes_and_labels_are_not_quotes() {
        let text = "fn region() -> &'static str { // TODO: don't hardcode\n\
                    fn f<'a>(x: &'a str) -> &'a str { x } // FIXME: isn't generic\n\
                    let c = '#'; let d = 'x'; let e = '\\''; // HACK: it's fine\n\
                    let s = 'TODO'; let t = '# XXX';\n";
        let found: Vec<_> = scan(text).into_iter().map(|f| (f.0, f.1, f.3)).collect();
        assert_eq!(
            found,
            vec![
                ("todo".into(), 1, "TODO: don't hardcode".into()),
                ("fixme".into(), 2, "FIXME: isn't generic".into()),
                ("hack".into(), 3, "HACK: it's fine".into()),
            ]
        );
    }

    #[test]
    fn outside_rust_a_quote_before_a_word_is_a_string() {
        let found = scan_file("app.py", "x = 'Item # TODO'  # FIXME: real comment\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0.as_str(), found[0].2), ("fixme", 22));
    }

    #[test]
    fn token_like_runs_are_redacted_from_messages() {
        let token = ["ghp_", "Q7mZt2LwXc9RbV4nKd8sHj3yPf6gUa1eTo5i"].concat();
        let text = format!(
            "# TODO rotate {token} before v1.2 ships\n\
             // FIXME see docs/configuration/overview.md and build-2024-05-01-nightly.tar.gz\n"
        );
        let messages: Vec<_> = scan(&text).into_iter().map(|f| f.3).collect();
        assert_eq!(
            messages,
            vec![
                "TODO rotate …(redacted) before v1.2 ships".to_string(),
                "FIXME see docs/configuration/overview.md and …(redacted)".to_string(),
            ]
        );
    }
}
