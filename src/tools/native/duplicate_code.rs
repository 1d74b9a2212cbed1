//! The `duplicate-code` tool: blocks of code repeated across files (or
//! within one), found by hashing every run of six significant lines.
//! Significant means not blank, not a comment, not only brackets, and not
//! an import, so shared boilerplate headers do not count. Each repeat is
//! reported once, at the later copy, naming the first.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Finding, Severity, TargetKind, fingerprint};
use crate::tools::{Tool, ToolContext, ToolError, ToolSpec, analyse_inventory};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;

static SPEC: ToolSpec = ToolSpec {
    id: "duplicate-code",
    category: Category::CodeQuality,
    targets: &[TargetKind::Directory],
    cost: 2,
    summary: "Blocks of six or more significant lines repeated across files",
};

pub const WINDOW: usize = 6;
/// A window this short in characters is boilerplate, not logic.
const MIN_WINDOW_CHARS: usize = 120;
const HELP: &str = "https://en.wikipedia.org/wiki/Don%27t_repeat_yourself";

/// A line worth comparing: its 0-based number and its trimmed text.
struct Significant<'a> {
    line: usize,
    text: &'a str,
}

fn significant(lang: Lang, text: &str) -> Vec<Significant<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(line, raw)| {
            let text = raw.trim();
            let only_brackets = text.chars().all(|c| "{}()[];,".contains(c));
            let import = ["import ", "from ", "use ", "#include", "package ", "require("]
                .iter()
                .any(|p| text.starts_with(p));
            (!only_brackets && !import && !lang.is_comment(text)).then_some(Significant { line, text })
        })
        .collect()
}

/// Where a window was first seen: file index and position in its significant lines.
type Origin = (usize, usize);

pub struct DuplicateCode;

impl DuplicateCode {
    fn scan(files: &[(String, String)]) -> Vec<Finding> {
        let mut first_seen: HashMap<u64, Origin> = HashMap::new();
        let mut findings = Vec::new();
        for (file_index, (rel, text)) in files.iter().enumerate() {
            let lines = significant(Lang::of(rel, Some(text)), text);
            // The open run of duplicated windows: (start position, origin of its first window).
            let mut run: Option<(usize, Origin)> = None;
            let mut position = 0;
            while position + WINDOW <= lines.len() {
                let window = &lines[position..position + WINDOW];
                let chars: usize = window.iter().map(|l| l.text.len()).sum();
                let hash = u64::from_str_radix(
                    &fingerprint(&window.iter().map(|l| l.text).collect::<Vec<_>>()),
                    16,
                )
                .unwrap_or_default();
                let earlier = match first_seen.get(&hash) {
                    // Overlapping itself (a run of identical lines) is not a copy.
                    Some(&(f, p)) if f != file_index || p + WINDOW <= position => Some((f, p)),
                    Some(_) => None,
                    None => {
                        first_seen.insert(hash, (file_index, position));
                        None
                    }
                };
                match (earlier.filter(|_| chars >= MIN_WINDOW_CHARS), run) {
                    (Some(origin), None) => run = Some((position, origin)),
                    (Some(_), Some(_)) => {}
                    (None, Some((start, origin))) => {
                        findings.push(Self::finding(
                            files,
                            rel,
                            &lines,
                            start,
                            position - 1 + WINDOW,
                            origin,
                        ));
                        run = None;
                    }
                    (None, None) => {}
                }
                position += 1;
            }
            if let Some((start, origin)) = run {
                findings.push(Self::finding(files, rel, &lines, start, lines.len(), origin));
            }
        }
        findings
    }

    /// A finding for the copy spanning significant lines `start..end` of `rel`.
    fn finding(
        files: &[(String, String)],
        rel: &str,
        lines: &[Significant],
        start: usize,
        end: usize,
        (origin_file, origin_position): Origin,
    ) -> Finding {
        let (origin_rel, origin_text) = &files[origin_file];
        let origin_lines = significant(Lang::of(origin_rel, Some(origin_text)), origin_text);
        let origin_line = origin_lines.get(origin_position).map_or(0, |l| l.line) + 1;
        let first = lines[start].line + 1;
        let last = lines[end - 1].line + 1;
        let block: Vec<&str> = lines[start..end].iter().map(|l| l.text).collect();
        Finding::new(
            "duplicate-block",
            Severity::Low,
            format!(
                "lines {first}-{last} ({} significant lines) repeat {origin_rel}:{origin_line}; extract the shared code",
                end - start
            ),
        )
        .at_path(rel, Some(to_u32(first)), None)
        .with_help(HELP)
        .fingerprinted(&block.join("\n"))
    }
}

impl Tool for DuplicateCode {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let cancel = ctx.cancel.clone();
            analyse_inventory(&ctx, move |inventory| {
                let mut files = Vec::new();
                for file in inventory.files_seen(|origin| origin == crate::tools::Origin::Source) {
                    if cancel.is_cancelled() {
                        return Err(ToolError::Cancelled);
                    }
                    if !Lang::of(&file.rel, None).is_code() {
                        continue;
                    }
                    if let Some(text) = inventory.read_text(file) {
                        files.push((file.rel.clone(), text));
                    }
                }
                Ok(Self::scan(&files))
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copied_block_is_reported_once_at_the_copy() {
        let block: String = (0..8)
            .map(|i| format!("    total = total + compute_the_value_of_item(items[{i}], weights[{i}])\n"))
            .collect();
        let a = format!("def first(items, weights):\n    total = 0\n{block}    return total\n");
        let b =
            format!("import os\n\n\ndef second(items, weights):\n    total = 0\n{block}    return total\n");
        let files = vec![("a.py".to_string(), a), ("b.py".to_string(), b)];
        let found = DuplicateCode::scan(&files);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].path.as_deref(), found[0].line), (Some("b.py"), Some(5)));
        assert!(found[0].message.contains("repeat a.py:2"), "{}", found[0].message);

        let short = vec![("a.py".to_string(), "x = 1\n".repeat(20))];
        assert!(
            DuplicateCode::scan(&short).is_empty(),
            "repeated short lines are not blocks"
        );
    }
}
