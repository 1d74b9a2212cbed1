//! The `long-lines` tool: lines of code and configuration longer than 120
//! characters. A line that is long only because of one unbreakable token (a
//! URL, a hash, base64) is left alone, and so are generated files; at most ten lines are
//! reported per file, the last report counting the rest.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "long-lines",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Lines of code or configuration longer than 120 characters",
};

pub const MAX_CHARS: usize = 120;
const REPORTED_PER_FILE: usize = 10;
const HELP: &str = "https://peps.python.org/pep-0008/#maximum-line-length";

pub struct LongLines;

/// Characters in the line's longest whitespace-free run.
fn longest_token(line: &str) -> usize {
    line.split_whitespace()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(0)
}

/// Whether line length is a matter of style in this language.
fn styled(lang: Lang) -> bool {
    lang.is_code() || matches!(lang, Lang::Yaml | Lang::Toml | Lang::Dockerfile | Lang::Css)
}

impl FileCheck for LongLines {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        Lang::by_name(&file.rel).is_none_or(styled)
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        if !styled(Lang::of(&file.rel, Some(text))) {
            return;
        }
        let long: Vec<(usize, usize)> = text
            .lines()
            .enumerate()
            // No line has more characters than bytes.
            .filter(|(_, line)| line.len() > MAX_CHARS)
            .map(|(index, line)| (index, line.trim_end().chars().count(), longest_token(line)))
            // Without its longest token (a URL, a hash) the line would fit: nothing to wrap.
            .filter(|&(_, chars, token)| {
                chars > MAX_CHARS && !(token > MAX_CHARS / 2 && chars - token <= MAX_CHARS)
            })
            .map(|(index, chars, _)| (index, chars))
            .collect();
        let rest = long.len().saturating_sub(REPORTED_PER_FILE);
        for (n, &(index, chars)) in long.iter().take(REPORTED_PER_FILE).enumerate() {
            let more = if n + 1 == REPORTED_PER_FILE && rest > 0 {
                format!("; {rest} more long lines in this file")
            } else {
                String::new()
            };
            out.push(
                Finding::new(
                    "long-line",
                    Severity::Info,
                    format!("Line is {chars} characters long (the limit is {MAX_CHARS}){more}"),
                )
                .at_path(&file.rel, Some(to_u32(index + 1)), Some(to_u32(MAX_CHARS + 1)))
                .with_help(HELP)
                .fingerprinted(&chars.to_string()),
            );
        }
    }
}
