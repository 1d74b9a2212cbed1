//! The `large-files` tool: files big enough to bloat a repository or slow
//! clones and builds, judged from their size alone (contents are never read).

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, Origin, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "large-files",
    category: Category::Performance,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Files of 1 MiB or more (10 MiB or more: very large) checked into the tree",
};

const MIB: u64 = 1024 * 1024;
const LARGE: u64 = MIB;
const VERY_LARGE: u64 = 10 * MIB;

const HELP: &str = "https://docs.github.com/en/repositories/working-with-files/managing-large-files/about-large-files-on-github";

/// Flags files by size.
pub struct LargeFiles;

impl FileCheck for LargeFiles {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    /// Every file: a large one is large wherever it comes from.
    fn sees(&self, _origin: Origin) -> bool {
        true
    }

    fn needs_text(&self) -> bool {
        false
    }

    fn check(&self, file: &FileEntry, _text: Option<&str>, out: &mut Vec<Finding>) {
        let (rule_id, severity, limit) = if file.size >= VERY_LARGE {
            ("very-large-file", Severity::High, VERY_LARGE)
        } else if file.size >= LARGE {
            ("large-file", Severity::Medium, LARGE)
        } else {
            return;
        };
        let message = format!(
            "File is {} (at least {}); keep large assets out of the repository or use Git LFS",
            human_size(file.size),
            human_size(limit)
        );
        out.push(
            Finding::new(rule_id, severity, message)
                .at_path(&file.rel, None, None)
                .with_help(HELP)
                .fingerprinted(rule_id),
        );
    }
}

/// A size in binary units with one decimal: `2.0 MiB`, `512 B`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(2 * MIB), "2.0 MiB");
        assert_eq!(human_size(10 * MIB + MIB / 2), "10.5 MiB");
        assert_eq!(human_size(3 * 1024 * MIB), "3.0 GiB");
    }
}
