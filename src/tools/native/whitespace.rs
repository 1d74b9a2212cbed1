//! The `whitespace` tool: trailing spaces, mixed line endings, a missing
//! final newline, and indentation that mixes tabs and spaces, in code and
//! configuration. Each problem is reported once per file, at its first line,
//! with a count, so a sloppy file is one finding per rule, not hundreds.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "whitespace",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Trailing spaces, mixed line endings, missing final newline, tabs mixed with spaces",
};

const HELP: &str = "https://editorconfig.org/";

pub struct Whitespace;

/// The first offending line (0-based) and how many lines offend.
#[derive(Default)]
struct Tally {
    first: Option<usize>,
    count: usize,
}

impl Tally {
    fn add(&mut self, index: usize) {
        self.first.get_or_insert(index);
        self.count += 1;
    }
}

/// Whether whitespace is a matter of style in this language.
fn styled(lang: Lang) -> bool {
    lang.is_code()
        || matches!(
            lang,
            Lang::Yaml | Lang::Toml | Lang::Json | Lang::Dockerfile | Lang::Css | Lang::Html
        )
}

impl FileCheck for Whitespace {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        Lang::by_name(&file.rel).is_none_or(styled)
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        let lang = Lang::of(&file.rel, Some(text));
        if !styled(lang) || text.is_empty() {
            return;
        }
        let mut trailing = Tally::default();
        let mut mixed_indent = Tally::default();
        let (mut crlf, mut lf) = (Tally::default(), Tally::default());
        for (index, raw) in text.split_inclusive('\n').enumerate() {
            if raw.ends_with("\r\n") {
                crlf.add(index);
            } else if raw.ends_with('\n') {
                lf.add(index);
            }
            let line = raw.trim_end_matches(['\n', '\r']);
            if line.ends_with([' ', '\t']) && !line.trim().is_empty() {
                trailing.add(index);
            }
            let indent: &str = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
            if indent.contains('\t') && indent.contains(' ') && !line.trim().is_empty() {
                mixed_indent.add(index);
            }
        }
        let mut report = |rule: &str, index: usize, message: String| {
            out.push(
                Finding::new(rule, Severity::Info, message)
                    .at_path(&file.rel, Some(to_u32(index + 1)), None)
                    .with_help(HELP)
                    .fingerprinted(rule),
            );
        };
        if let Some(first) = trailing.first {
            report(
                "trailing-whitespace",
                first,
                format!("{} lines end in spaces or tabs", trailing.count),
            );
        }
        if let Some(first) = mixed_indent.first {
            report(
                "mixed-indentation",
                first,
                format!("{} lines indent with both tabs and spaces", mixed_indent.count),
            );
        }
        if crlf.count > 0 && lf.count > 0 {
            // The minority is the odd one out.
            let (odd, usual, name) = if crlf.count <= lf.count {
                (&crlf, &lf, "CRLF")
            } else {
                (&lf, &crlf, "LF")
            };
            report(
                "mixed-line-endings",
                odd.first.unwrap_or(0),
                format!(
                    "{} lines end in {name} among {} that do not",
                    odd.count, usual.count
                ),
            );
        }
        if !text.ends_with('\n') {
            report(
                "missing-final-newline",
                text.lines().count().saturating_sub(1),
                "the file does not end with a newline".to_string(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(path: &str, text: &str) -> Vec<(String, u32)> {
        let file = FileEntry {
            rel: path.into(),
            abs: path.into(),
            size: 0,
            origin: crate::tools::Origin::Source,
        };
        let mut out = Vec::new();
        Whitespace.check(&file, Some(text), &mut out);
        out.into_iter().map(|f| (f.rule_id, f.line.unwrap())).collect()
    }

    #[test]
    fn each_problem_once_at_its_first_line() {
        assert_eq!(
            rules("a.py", "a = 1 \nb = 2\t\nif a:\n\t  pass\n"),
            vec![("trailing-whitespace".into(), 1), ("mixed-indentation".into(), 4)]
        );
        assert_eq!(
            rules("a.rs", "fn a() {}\r\nfn b() {}\nfn c() {}\n"),
            vec![("mixed-line-endings".into(), 1)]
        );
        assert_eq!(
            rules("a.go", "package a\n\nfunc A() {}"),
            vec![("missing-final-newline".into(), 3)]
        );
        assert!(rules("notes.md", "two spaces  \nbreak a line\n").is_empty());
        assert!(rules("a.py", "x = 1\n").is_empty());
    }
}
