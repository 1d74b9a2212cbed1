//! The whole scan as one document, for `livescan scan --format json` (the
//! REST API's spelling of every part) and `--format sarif` (SARIF 2.1.0, one
//! run per tool, as code-scanning services read it).

use livescan::model::{Finding, Refund, SessionStatus, Severity, Summary, ToolReport, ToolStatus};
use serde::Serialize;
use serde_json::{Value, json};

/// Everything a scan produced, whichever way it was followed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    pub session_id: String,
    /// The directory, URL or URLs as the session describes them.
    pub target: String,
    /// The scanned directory (absolute), for directory targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    pub status: SessionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<Refund>,
    /// Each tool's report, in the order they finished.
    pub tool_reports: Vec<ToolReport>,
    /// The `--fail-on` rules the summary crossed (empty: the scan passed).
    pub failed_on: Vec<String>,
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The score code-scanning services rank security alerts by (CVSS-like, 0–10).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// A relative path as a URI reference: unreserved characters and `/` stay,
/// every other byte is percent-encoded.
fn uri_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.replace('\\', "/").bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn sarif_location(finding: &Finding) -> Option<Value> {
    if let Some(path) = &finding.path {
        let mut location = json!({
            "physicalLocation": {
                "artifactLocation": {"uri": uri_path(path), "uriBaseId": "SRCROOT"}
            }
        });
        if let Some(line) = finding.line.filter(|line| *line > 0) {
            let mut region = json!({"startLine": line});
            if let Some(column) = finding.column.filter(|column| *column > 0) {
                region["startColumn"] = json!(column);
            }
            location["physicalLocation"]["region"] = region;
        }
        return Some(location);
    }
    finding
        .url
        .as_ref()
        .map(|url| json!({"physicalLocation": {"artifactLocation": {"uri": url}}}))
}

/// One SARIF run for one tool's report; `None` for a tool that never ran.
fn sarif_run(report: &ToolReport, source_root: Option<&str>) -> Option<Value> {
    if !matches!(report.status, ToolStatus::Completed | ToolStatus::Failed) {
        return None;
    }
    let security = report.category.as_str() == "security";
    // Rules in order of first use, each with the worst severity seen.
    let mut rules: Vec<(&str, Severity, Option<&str>)> = Vec::new();
    let mut results = Vec::new();
    for finding in &report.result.findings {
        let index = match rules.iter().position(|(id, ..)| *id == finding.rule_id) {
            Some(index) => {
                // Severity orders from critical (least) to info.
                rules[index].1 = rules[index].1.min(finding.severity);
                index
            }
            None => {
                rules.push((&finding.rule_id, finding.severity, finding.help_uri.as_deref()));
                rules.len() - 1
            }
        };
        let mut result = json!({
            "ruleId": finding.rule_id,
            "ruleIndex": index,
            "level": sarif_level(finding.severity),
            "message": {"text": finding.message},
            "partialFingerprints": {"livescan/v1": finding.fingerprint},
            "properties": {"severity": finding.severity.as_str()},
        });
        if let Some(location) = sarif_location(finding) {
            result["locations"] = json!([location]);
        }
        results.push(result);
    }
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|(id, severity, help)| {
            let mut rule = json!({
                "id": id,
                "defaultConfiguration": {"level": sarif_level(severity)},
                "properties": {"tags": [report.category.as_str()]},
            });
            if security {
                rule["properties"]["security-severity"] = json!(security_severity(severity));
            }
            if let Some(help) = help {
                rule["helpUri"] = json!(help);
            }
            rule
        })
        .collect();
    let mut invocation = json!({"executionSuccessful": report.status == ToolStatus::Completed});
    if let Some(error) = &report.result.error {
        invocation["toolExecutionNotifications"] = json!([{"level": "error", "message": {"text": error}}]);
    }
    let mut run = json!({
        "tool": {"driver": {
            "name": report.tool_name,
            "fullName": format!("livescan {}", report.tool_name),
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "invocations": [invocation],
        "results": results,
        "properties": {"category": report.category.as_str(), "durationMs": report.duration},
    });
    if let Some(root) = source_root {
        run["originalUriBaseIds"] = json!({"SRCROOT": {"uri": root}});
    }
    Some(run)
}

impl ScanReport {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scan report serialises") + "\n"
    }

    /// SARIF 2.1.0: one run per tool that ran; paths relative to `SRCROOT`,
    /// the scanned directory.
    pub fn sarif(&self) -> String {
        let source_root = self
            .directory
            .as_deref()
            .and_then(|dir| url::Url::from_directory_path(dir).ok())
            .map(String::from);
        let runs: Vec<Value> = self
            .tool_reports
            .iter()
            .filter_map(|report| sarif_run(report, source_root.as_deref()))
            .collect();
        let document = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": runs,
        });
        serde_json::to_string_pretty(&document).expect("SARIF serialises") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_path("src/a b/ü#1.rs"), "src/a%20b/%C3%BC%231.rs");
        assert_eq!(uri_path(r"dir\file.py"), "dir/file.py");
    }
}
