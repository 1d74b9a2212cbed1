//! The whole scan as one document, for `livescan scan --format json` (the
//! REST API's spelling of every part) and `--format sarif` (SARIF 2.1.0, as
//! code-scanning services read it).

use super::baseline::Baseline;
use livescan::model::finding::{mark_against_baseline, new_by_severity};
use livescan::model::{Intelligence, Refund, SessionStatus, Summary, Target, ToolReport, sarif};
use serde::Serialize;

/// Everything a scan produced, whichever way it was followed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    pub session_id: String,
    /// What was scanned, in the REST spelling: `{"directory": ...}` (also
    /// when it was uploaded) or `{"url": ...}`.
    pub target: Target,
    /// The scanned directory (absolute), for directory targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    pub status: SessionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    /// Each tool's report, in the order they finished; an object keyed by
    /// tool, as the REST API's full view has it.
    #[serde(serialize_with = "by_tool")]
    pub tool_reports: Vec<ToolReport>,
    /// The `--fail-on` rules the summary crossed (empty: the scan passed).
    pub failed_on: Vec<String>,
    /// The analysis of the findings, when the session has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intelligence: Option<Intelligence>,
}

/// Reports as an object keyed by tool name, in the order they finished.
fn by_tool<S: serde::Serializer>(reports: &[ToolReport], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(reports.iter().map(|report| (&report.tool_name, report)))
}

impl ScanReport {
    /// Marks each listed finding `new` or `unchanged` against `baseline`
    /// and counts the new ones (not suppressed) by severity in the summary.
    pub fn compare(&mut self, baseline: &Baseline) {
        let findings = self.tool_reports.iter_mut().flat_map(|r| &mut r.result.findings);
        mark_against_baseline(findings, |print| baseline.has(print));
        let findings = self.tool_reports.iter().flat_map(|r| &r.result.findings);
        self.summary.new_by_severity = Some(new_by_severity(findings));
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scan report serialises") + "\n"
    }

    /// SARIF 2.1.0 ([`sarif`]), paths relative to `SRCROOT`, the scanned
    /// directory.
    pub fn sarif(&self, runs: sarif::Runs, merge: bool) -> anyhow::Result<String> {
        let source_root = self
            .directory
            .as_deref()
            .and_then(|dir| url::Url::from_directory_path(dir).ok())
            .map(String::from);
        let document = match (merge, &self.intelligence) {
            (false, _) => sarif::document(&self.tool_reports, source_root.as_deref(), runs),
            (true, Some(analysis)) => {
                sarif::merged_document(&self.tool_reports, analysis, source_root.as_deref())
            }
            (true, None) => {
                anyhow::bail!("--sarif-merge: the session has no analysis (it ended before its tools did)")
            }
        };
        Ok(serde_json::to_string_pretty(&document).expect("SARIF serialises") + "\n")
    }
}
