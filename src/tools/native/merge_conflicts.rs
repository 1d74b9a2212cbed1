//! The `merge-conflicts` tool: unresolved conflict markers left in files. A
//! conflict is a `<<<<<<<` line followed by a `=======` line and then a
//! `>>>>>>>` line (with an optional diff3 `|||||||` section before the
//! separator); a separator on its own, such as a Markdown or RST underline, is
//! not one.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "merge-conflicts",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Unresolved merge conflict markers (<<<<<<< / ======= / >>>>>>>) left in files",
};

const HELP: &str = "https://git-scm.com/docs/git-merge#_how_conflicts_are_presented";

/// Finds conflict blocks; reports each once, at its `<<<<<<<` line.
pub struct MergeConflicts;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Ours,
    Base,
    Separator,
    Theirs,
}

/// The marker a line is: seven marker characters at the start of the line,
/// then a space or the end of the line (`=======` must stand alone).
fn marker(line: &str) -> Option<Marker> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (head, rest) = line.split_at_checked(7)?;
    let labelled = rest.is_empty() || rest.starts_with(' ');
    match head {
        "<<<<<<<" if labelled => Some(Marker::Ours),
        "|||||||" if labelled => Some(Marker::Base),
        ">>>>>>>" if labelled => Some(Marker::Theirs),
        "=======" if rest.trim().is_empty() => Some(Marker::Separator),
        _ => None,
    }
}

impl FileCheck for MergeConflicts {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        // The open block: its `<<<<<<<` line (index) and whether its separator was seen.
        let mut open: Option<(usize, bool)> = None;
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            match (marker(line), open) {
                (Some(Marker::Ours), _) => open = Some((index, false)),
                (Some(Marker::Separator), Some((start, false))) => open = Some((start, true)),
                (Some(Marker::Theirs), Some((start, true))) => {
                    out.push(conflict(file, &lines[start..=index], start, index));
                    open = None;
                }
                _ => {}
            }
        }
    }
}

fn conflict(file: &FileEntry, block: &[&str], start: usize, end: usize) -> Finding {
    let message = format!(
        "Unresolved merge conflict (lines {}-{}); pick the intended side and remove the markers",
        start + 1,
        end + 1
    );
    Finding::new("merge-conflict", Severity::High, message)
        .at_path(
            &file.rel,
            Some(u32::try_from(start + 1).unwrap_or(u32::MAX)),
            Some(1),
        )
        .with_help(HELP)
        .fingerprinted(&block.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scan(text: &str) -> Vec<(u32, String)> {
        let file = FileEntry {
            rel: "a.txt".into(),
            abs: PathBuf::from("a.txt"),
            size: 0,
            origin: crate::tools::Origin::Source,
        };
        let mut out = Vec::new();
        MergeConflicts.check(&file, Some(text), &mut out);
        out.into_iter().map(|f| (f.line.unwrap(), f.rule_id)).collect()
    }

    #[test]
    fn finds_plain_and_diff3_blocks() {
        let text = "a\n<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> feature\nb\n<<<<<<< ours\nx\n||||||| base\nw\n=======\ny\n>>>>>>> theirs\n";
        assert_eq!(
            scan(text),
            vec![(2, "merge-conflict".into()), (8, "merge-conflict".into())]
        );
    }

    #[test]
    fn separators_alone_or_incomplete_blocks_are_not_conflicts() {
        assert!(scan("Title\n=======\n\ntext\n").is_empty());
        assert!(scan("<<<<<<< HEAD\nx\n>>>>>>> other\n").is_empty());
        assert!(scan("<<<<<<<<<< not a marker\n=======\n>>>>>>> x\n").is_empty());
        assert!(scan("<<<<<<< HEAD\nx\n=======\ny\n").is_empty());
    }
}
