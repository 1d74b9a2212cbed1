//! The `duplicate-code` tool: blocks of code repeated across files (or
//! within one), found by hashing every run of six significant lines.
//! Significant means not blank, not a comment, not only brackets, and not
//! an import, so shared boilerplate headers do not count. Each repeat is
//! reported once, at the later copy, naming the first.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Tool, ToolContext, ToolError, ToolSpec, analyse_inventory};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;

static SPEC: ToolSpec = ToolSpec {
    id: "duplicate-code",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 2,
    summary: "Blocks of six or more significant lines repeated across files",
};

pub const WINDOW: usize = 6;
/// A window this short in characters is boilerplate, not logic.
const MIN_WINDOW_CHARS: usize = 120;
const HELP: &str = "https://en.wikipedia.org/wiki/Don%27t_repeat_yourself";

/// A line worth comparing: its 0-based number, its trimmed text and that
/// text's hash.
struct Significant<'a> {
    line: usize,
    text: &'a str,
    hash: u64,
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
            (!only_brackets && !import && !lang.is_comment(text)).then(|| Significant {
                line,
                text,
                hash: line_hash(text),
            })
        })
        .collect()
}

/// FNV-1a of one line's text.
fn line_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The multiplier of the rolling hash over line hashes (odd, so no line's
/// contribution is ever shifted out).
const BASE: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash of each window of [`WINDOW`] consecutive lines and its length
/// in characters, in order: a polynomial over the lines' hashes, updated
/// as the window slides instead of hashing its text again.
fn windows<'l>(lines: &'l [Significant]) -> impl Iterator<Item = (u64, usize)> + 'l {
    let drop_factor = (1..WINDOW).fold(1u64, |f, _| f.wrapping_mul(BASE));
    let (mut hash, mut chars) = (0u64, 0usize);
    lines.iter().enumerate().filter_map(move |(i, line)| {
        if i >= WINDOW {
            let out = &lines[i - WINDOW];
            hash = hash.wrapping_sub(out.hash.wrapping_mul(drop_factor));
            chars -= out.text.len();
        }
        hash = hash.wrapping_mul(BASE).wrapping_add(line.hash);
        chars += line.text.len();
        (i + 1 >= WINDOW).then_some((hash, chars))
    })
}

/// Where a window was first seen: which file, its position among that
/// file's significant lines and its 1-based line number.
#[derive(Clone, Copy)]
struct Origin {
    file: usize,
    position: usize,
    line: usize,
}

/// Finds repeated blocks in files given one at a time, keeping only each
/// window's hash and origin, never the files' text.
#[derive(Default)]
struct Scan {
    first_seen: HashMap<u64, Origin>,
    /// The paths of the files seen, by index.
    paths: Vec<String>,
    findings: Vec<Finding>,
}

impl Scan {
    fn file(&mut self, rel: &str, text: &str) {
        let file = self.paths.len();
        self.paths.push(rel.to_string());
        let lines = significant(Lang::of(rel, Some(text)), text);
        // The open run of duplicated windows: (start position, origin of its first window).
        let mut run: Option<(usize, Origin)> = None;
        for (position, (hash, chars)) in windows(&lines).enumerate() {
            let earlier = match self.first_seen.get(&hash) {
                // Overlapping itself (a run of identical lines) is not a copy.
                Some(&o) if o.file != file || o.position + WINDOW <= position => Some(o),
                Some(_) => None,
                None => {
                    let line = lines[position].line + 1;
                    self.first_seen.insert(hash, Origin { file, position, line });
                    None
                }
            };
            match (earlier.filter(|_| chars >= MIN_WINDOW_CHARS), run) {
                (Some(origin), None) => run = Some((position, origin)),
                (None, Some((start, origin))) => {
                    self.finding(rel, &lines[start..position - 1 + WINDOW], origin);
                    run = None;
                }
                _ => {}
            }
        }
        if let Some((start, origin)) = run {
            self.finding(rel, &lines[start..], origin);
        }
    }

    /// A finding for the copy `block` of `rel`.
    fn finding(&mut self, rel: &str, block: &[Significant], origin: Origin) {
        let first = block[0].line + 1;
        let last = block[block.len() - 1].line + 1;
        let text: Vec<&str> = block.iter().map(|l| l.text).collect();
        self.findings.push(
            Finding::new(
                "duplicate-block",
                Severity::Low,
                format!(
                    "lines {first}-{last} ({} significant lines) repeat {}:{}; extract the shared code",
                    block.len(),
                    self.paths[origin.file],
                    origin.line
                ),
            )
            .at_path(rel, Some(to_u32(first)), None)
            .with_help(HELP)
            .fingerprinted(&text.join("\n")),
        );
    }
}

pub struct DuplicateCode;

impl Tool for DuplicateCode {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let cancel = ctx.cancel.clone();
            analyse_inventory(&ctx, move |inventory, sink| {
                let mut scan = Scan::default();
                for file in inventory.files_seen(|origin| origin == crate::tools::Origin::Source) {
                    if cancel.is_cancelled() {
                        return Err(ToolError::Cancelled);
                    }
                    if !Lang::of(&file.rel, None).is_code() {
                        continue;
                    }
                    if let Some(text) = inventory.read_text(file) {
                        sink.read(text.len());
                        scan.file(&file.rel, &text);
                    }
                }
                Ok(scan.findings)
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rolling_hash_of_a_window_is_the_hash_of_its_lines_alone() {
        let text: String = (0..40)
            .map(|i| format!("value_{} = {}\n", i % 7, i * i))
            .collect();
        let lines = significant(Lang::Python, &text);
        let rolled: Vec<(u64, usize)> = windows(&lines).collect();
        assert_eq!(rolled.len(), lines.len() - WINDOW + 1);
        for (position, window) in rolled.iter().enumerate() {
            let alone = windows(&lines[position..position + WINDOW]).next();
            assert_eq!(Some(*window), alone, "window at {position}");
        }
        assert_ne!(rolled[0].0, rolled[1].0);
    }

    #[test]
    fn a_copied_block_is_reported_once_at_the_copy() {
        let block: String = (0..8)
            .map(|i| format!("    total = total + compute_the_value_of_item(items[{i}], weights[{i}])\n"))
            .collect();
        let a = format!("def first(items, weights):\n    total = 0\n{block}    return total\n");
        let b =
            format!("import os\n\n\ndef second(items, weights):\n    total = 0\n{block}    return total\n");
        let mut scan = Scan::default();
        scan.file("a.py", &a);
        scan.file("b.py", &b);
        let found = scan.findings;
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].path.as_deref(), found[0].line), (Some("b.py"), Some(5)));
        assert!(found[0].message.contains("repeat a.py:2"), "{}", found[0].message);

        let mut short = Scan::default();
        short.file("a.py", &"x = 1\n".repeat(20));
        assert!(short.findings.is_empty(), "repeated short lines are not blocks");
    }
}
