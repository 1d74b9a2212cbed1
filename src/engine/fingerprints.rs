//! Fingerprints that follow a finding when lines move. A finding at a line
//! of a file is fingerprinted by its tool, its rule, its path and the text
//! of that line with its whitespace collapsed (and, among identical lines
//! with the same rule in the same file, which one it is), not by its line
//! number: inserting or deleting lines above it, or re-indenting it, keeps
//! its fingerprint, so a baseline can tell new findings from old ones.
//! Findings without a line keep the fingerprint their tool gave them.
//!
//! The line is hashed with SHA-256 (its first 64 bits shown), as the line
//! may hold a secret that the finding's message no longer does.
//!
//! The same read of the line tells whether a `livescan:ignore` comment on
//! it (or on the comment line above) suppresses the finding, whichever tool
//! reported it.

use crate::model::repo_config::inline_ignore_covers;
use crate::model::{Suppression, SuppressionKind, ToolReport};
use crate::tools::Inventory;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Gives each finding of `report` that has a path and a line in `inventory`
/// a fingerprint of its line's text instead of its line number, and marks
/// it suppressed when an inline `livescan:ignore` covers its rule.
pub fn read_finding_lines(report: &mut ToolReport, inventory: &Inventory) {
    let wanted: std::collections::HashSet<&str> = report
        .result
        .findings
        .iter()
        .filter(|f| f.line.is_some())
        .filter_map(|f| f.path.as_deref())
        .collect();
    if wanted.is_empty() {
        return;
    }
    let files: HashMap<&str, &crate::tools::FileEntry> = inventory
        .files()
        .iter()
        .filter(|f| wanted.contains(f.rel.as_str()))
        .map(|f| (f.rel.as_str(), f))
        .collect();
    // Each file's lines, whitespace collapsed, read once.
    let mut lines: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut occurrences: HashMap<(String, String, String), u32> = HashMap::new();
    let tool = report.tool_name.clone();
    for finding in &mut report.result.findings {
        let (Some(path), Some(line)) = (&finding.path, finding.line) else {
            continue;
        };
        let texts = lines.entry(path.clone()).or_insert_with(|| {
            let text = inventory.read_text(files.get(path.as_str())?)?;
            Some(text.lines().map(collapse_whitespace).collect())
        });
        let Some(index) = (line as usize).checked_sub(1) else {
            continue;
        };
        let Some(text) = texts.as_ref().and_then(|texts| texts.get(index)) else {
            continue;
        };
        let above = index
            .checked_sub(1)
            .and_then(|i| texts.as_ref()?.get(i))
            .map(String::as_str);
        if finding.suppression.is_none() && inline_ignore_covers(text, above, &tool, &finding.rule_id) {
            finding.suppression = Some(Suppression {
                kind: SuppressionKind::Inline,
                reason: None,
                expires: None,
                expired: false,
            });
        }
        let nth = occurrences
            .entry((finding.rule_id.clone(), path.clone(), text.clone()))
            .or_default();
        *nth += 1;
        finding.fingerprint = digest(&[&tool, &finding.rule_id, path, text, &nth.to_string()]);
    }
}

fn collapse_whitespace(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first 64 bits of the SHA-256 of `parts`, each ended by a NUL, in hex.
fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Finding, Severity};
    use tokio_util::sync::CancellationToken;

    fn report_at(dir: &std::path::Path, lines: &[u32]) -> ToolReport {
        let inventory = Inventory::walk(dir, &[], &CancellationToken::new()).unwrap();
        let mut report = ToolReport::pending("secrets", crate::model::Category::Security);
        for &line in lines {
            let mut finding = Finding::new("rule", Severity::High, "found");
            finding.path = Some("app.py".into());
            finding.line = Some(line);
            report.result.findings.push(finding);
        }
        read_finding_lines(&mut report, &inventory);
        report
    }

    fn fingerprints(report: &ToolReport) -> Vec<String> {
        report
            .result
            .findings
            .iter()
            .map(|f| f.fingerprint.clone())
            .collect()
    }

    #[test]
    fn moved_and_reindented_lines_keep_their_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.py");
        std::fs::write(&file, "import os\nKEY = 'x'\nKEY = 'x'\nOTHER = 1\n").unwrap();
        let before = fingerprints(&report_at(dir.path(), &[2, 3, 4]));
        std::fs::write(
            &file,
            "import os\n# a\n# b\n# c\n  KEY  =  'x'\nKEY = 'x'\nOTHER = 1\n",
        )
        .unwrap();
        let after = fingerprints(&report_at(dir.path(), &[5, 6, 7]));
        assert_eq!(before, after);
        // Identical lines are told apart by their order.
        assert_ne!(before[0], before[1]);
        // Another line's text is another finding.
        std::fs::write(&file, "import os\nKEY = 'y'\n").unwrap();
        assert_ne!(fingerprints(&report_at(dir.path(), &[2]))[0], before[0]);
    }
}
