//! A session's reports as SARIF 2.1.0, the format code-scanning services
//! read; `livescan scan --format sarif` and `GET /api/sessions/{id}/sarif`
//! write the same document.
//!
//! By default it is one run whose driver is livescan: GitHub code scanning
//! refuses a file of more than 20 runs, and several runs of one tool in one
//! category. Rules are named `TOOL/RULE`, and the tool that reported each
//! result is in its rule's and its own properties. [`Runs::PerTool`] writes
//! one run per tool instead (each with a category of its own), for other
//! consumers. [`merged_document`] writes one result per issue of the
//! session's analysis, the findings of several tools merged.

use super::{Finding, Intelligence, Severity, Suppression, SuppressionKind, ToolReport, ToolStatus};
use serde_json::{Value, json};

/// How a document divides its results into runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Runs {
    /// One run, driver `livescan`: what GitHub code scanning accepts.
    #[default]
    One,
    /// One run per tool that ran.
    PerTool,
}

impl std::str::FromStr for Runs {
    type Err = String;

    fn from_str(raw: &str) -> Result<Runs, String> {
        match raw {
            "one" => Ok(Runs::One),
            "per-tool" => Ok(Runs::PerTool),
            _ => Err(format!("`{raw}` is not one of: one, per-tool")),
        }
    }
}

/// The SARIF category a single-run document uploads under, so a new upload
/// replaces the previous one's alerts.
const CATEGORY: &str = "livescan";

/// The document for `reports` (tools that never ran are left out), paths
/// relative to `source_root` (a `file://` URI) when it is known.
pub fn document<'a>(
    reports: impl IntoIterator<Item = &'a ToolReport>,
    source_root: Option<&str>,
    runs: Runs,
) -> Value {
    let ran = ran(reports);
    let runs: Vec<Value> = match runs {
        Runs::One => vec![run(&ran, "livescan", &format!("{CATEGORY}/"), source_root)],
        Runs::PerTool => ran
            .iter()
            .map(|report| {
                let category = format!("{CATEGORY}-{}/", report.tool_name);
                run(&[report], &report.tool_name, &category, source_root)
            })
            .collect(),
    };
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": runs,
    })
}

/// The reports of tools that ran, by tool name: the same reports make the
/// same document, whatever order they finished in.
fn ran<'a>(reports: impl IntoIterator<Item = &'a ToolReport>) -> Vec<&'a ToolReport> {
    let mut ran: Vec<&ToolReport> = reports
        .into_iter()
        .filter(|r| matches!(r.status, ToolStatus::Completed | ToolStatus::Failed))
        .collect();
    ran.sort_by(|a, b| a.tool_name.cmp(&b.tool_name));
    ran
}

/// One run of the results of `reports`, its driver named `driver`. With
/// more than one tool in the run, rule ids carry the tool's name.
fn run(reports: &[&ToolReport], driver: &str, category: &str, source_root: Option<&str>) -> Value {
    let namespaced = driver == "livescan";
    let mut rules: Vec<Rule> = Vec::new();
    let mut results = Vec::new();
    for report in reports {
        for finding in &report.result.findings {
            let id = match namespaced {
                true => format!("{}/{}", report.tool_name, finding.rule_id),
                false => finding.rule_id.clone(),
            };
            let index = rule_index(&mut rules, &id, report, finding);
            let mut result = json!({
                "ruleId": id,
                "ruleIndex": index,
                "level": level(finding.severity),
                "message": {"text": finding.message},
                "partialFingerprints": {"livescan/v1": finding.fingerprint},
                "properties": {"severity": finding.severity.as_str(), "tool": report.tool_name},
            });
            if let Some(location) = location(finding) {
                result["locations"] = json!([location]);
            }
            if let Some(state) = finding.baseline_state {
                result["baselineState"] = json!(state.as_str());
            }
            if let Some(suppression) = &finding.suppression {
                result["suppressions"] = json!([suppression_object(suppression)]);
            }
            results.push(result);
        }
    }
    wrap_run(reports, driver, category, source_root, &rules, results)
}

/// The index of rule `id` in `rules`, added (first seen with `finding`)
/// when it is new; the rule keeps the worst severity of its results.
fn rule_index<'a>(
    rules: &mut Vec<Rule<'a>>,
    id: &str,
    report: &'a ToolReport,
    finding: &'a Finding,
) -> usize {
    match rules.iter().position(|rule| rule.id == id) {
        Some(index) => {
            // Severity orders from critical (least) to info.
            rules[index].severity = rules[index].severity.min(finding.severity);
            index
        }
        None => {
            rules.push(Rule {
                id: id.to_string(),
                report,
                finding,
                severity: finding.severity,
            });
            rules.len() - 1
        }
    }
}

/// One run whose results are the issues of `analysis` (findings merged
/// across tools): each result is the issue's worst finding, at its place,
/// with every tool and rule that saw it in its properties.
pub fn merged_document<'a>(
    reports: impl IntoIterator<Item = &'a ToolReport>,
    analysis: &Intelligence,
    source_root: Option<&str>,
) -> Value {
    let ran = ran(reports);
    let by_fingerprint: std::collections::HashMap<&str, (&ToolReport, &Finding)> = ran
        .iter()
        .flat_map(|report| {
            report
                .result
                .findings
                .iter()
                .map(move |f| (f.fingerprint.as_str(), (*report, f)))
        })
        .collect();
    let mut rules: Vec<Rule> = Vec::new();
    let mut results = Vec::new();
    for issue in &analysis.issues {
        // The finding that gave the issue its severity.
        let worst = issue
            .fingerprints
            .iter()
            .filter_map(|print| by_fingerprint.get(print.as_str()))
            .min_by_key(|(_, finding)| finding.severity);
        let Some(&(report, finding)) = worst else { continue };
        let id = format!("{}/{}", report.tool_name, finding.rule_id);
        let index = rule_index(&mut rules, &id, report, finding);
        let mut result = json!({
            "ruleId": id,
            "ruleIndex": index,
            "level": level(issue.severity),
            "message": {"text": issue.title},
            "partialFingerprints": {"livescan/issue/v1": issue.id},
            "properties": {
                "severity": issue.severity.as_str(),
                "confidence": issue.confidence,
                "exposure": issue.exposure,
                "tools": issue.seen_by,
            },
        });
        if let Some(owasp) = &issue.owasp {
            result["properties"]["owasp"] = json!(owasp);
        }
        if let Some(location) = location(finding) {
            result["locations"] = json!([location]);
        }
        results.push(result);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [wrap_run(&ran, "livescan", &format!("{CATEGORY}-merged/"), source_root, &rules, results)],
    })
}

/// A run around `rules` and `results`: the driver, the invocation with the
/// tools' errors, the tools' scanners, the source root.
fn wrap_run(
    reports: &[&ToolReport],
    driver: &str,
    category: &str,
    source_root: Option<&str>,
    rules: &[Rule],
    results: Vec<Value>,
) -> Value {
    let namespaced = driver == "livescan";
    let notifications: Vec<Value> = reports
        .iter()
        .filter_map(|report| {
            let error = report.result.error.as_ref()?;
            let text = match namespaced {
                true => format!("{}: {error}", report.tool_name),
                false => error.clone(),
            };
            Some(json!({
                "level": "error",
                "message": {"text": text},
                "properties": {"tool": report.tool_name},
            }))
        })
        .collect();
    let mut invocation = json!({
        "executionSuccessful": reports.iter().all(|r| r.status == ToolStatus::Completed),
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    let tools: Vec<Value> = reports
        .iter()
        .map(|r| {
            json!({
                "name": r.tool_name,
                "category": r.category.as_str(),
                "status": r.status,
                "durationMs": r.duration,
            })
        })
        .collect();
    // The external programs that ran, with their versions.
    let mut extensions: Vec<Value> = Vec::new();
    for scanner in reports.iter().filter_map(|r| r.result.scanner.as_ref()) {
        if extensions.iter().any(|e| e["name"] == scanner.name.as_str()) {
            continue;
        }
        let mut extension = json!({"name": scanner.name});
        if let Some(version) = &scanner.version {
            extension["version"] = json!(version);
        }
        extensions.push(extension);
    }
    let mut run = json!({
        "tool": {"driver": {
            "name": driver,
            "fullName": format!("livescan {driver}"),
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules.iter().map(Rule::descriptor).collect::<Vec<_>>(),
        }},
        "automationDetails": {"id": category},
        "invocations": [invocation],
        "results": results,
        "properties": {"tools": tools},
    });
    if let Some(root) = source_root {
        run["originalUriBaseIds"] = json!({"SRCROOT": {"uri": root}});
    }
    if !extensions.is_empty() {
        run["tool"]["extensions"] = json!(extensions);
    }
    run
}

/// A rule as first seen: the tool and finding that introduced it, and the
/// worst severity any of its results has.
struct Rule<'a> {
    id: String,
    report: &'a ToolReport,
    finding: &'a Finding,
    severity: Severity,
}

impl Rule<'_> {
    fn descriptor(&self) -> Value {
        let category = self.report.category.as_str();
        let mut tags = vec![category.to_string()];
        if let Some(cwe) = self.finding.cwe {
            tags.push(format!("external/cwe/cwe-{cwe}"));
        }
        // What the tool said about the rule, where it said it; else what
        // its first finding said.
        let told = self
            .report
            .result
            .rules
            .iter()
            .find(|r| r.id == self.finding.rule_id);
        let short = told
            .and_then(|r| r.name.clone())
            .unwrap_or_else(|| format!("{} ({})", self.finding.rule_id, self.report.tool_name));
        let full = told
            .and_then(|r| r.description.clone())
            .unwrap_or_else(|| self.finding.message.clone());
        let mut rule = json!({
            "id": self.id,
            "name": self.finding.rule_id,
            "shortDescription": {"text": short},
            "fullDescription": {"text": full},
            "defaultConfiguration": {"level": level(self.severity)},
            "properties": {"tool": self.report.tool_name, "tags": tags},
        });
        if let Some(help) = told.and_then(|r| r.help.as_ref()) {
            rule["help"] = json!({"text": help});
        }
        if let Some(scanner) = &self.report.result.scanner {
            rule["properties"]["scanner"] = json!(scanner.name);
        }
        if category == "security" {
            rule["properties"]["security-severity"] = json!(security_severity(self.severity));
        }
        if let Some(help) = &self.finding.help_uri {
            rule["helpUri"] = json!(help);
        }
        rule
    }
}

fn level(severity: Severity) -> &'static str {
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

fn location(finding: &Finding) -> Option<Value> {
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

/// A SARIF `suppression`: where it was written, why, and `rejected` once
/// it expired (a result whose suppressions are all rejected is not suppressed).
fn suppression_object(suppression: &Suppression) -> Value {
    let mut object = json!({
        "kind": match suppression.kind {
            SuppressionKind::Inline => "inSource",
            SuppressionKind::Config => "external",
        },
        "status": if suppression.expired { "rejected" } else { "accepted" },
    });
    let justification = match (&suppression.reason, &suppression.expires) {
        (Some(reason), Some(expires)) => Some(format!("{reason} (until {expires})")),
        (Some(reason), None) => Some(reason.clone()),
        (None, Some(expires)) => Some(format!("until {expires}")),
        (None, None) => None,
    };
    if let Some(text) = justification {
        object["justification"] = json!(text);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_path("src/a b/ü#1.rs"), "src/a%20b/%C3%BC%231.rs");
        assert_eq!(uri_path(r"dir\file.py"), "dir/file.py");
    }

    #[test]
    fn rules_carry_what_the_tool_said_and_runs_name_the_scanners() {
        use crate::model::{Category, Outcome, RuleInfo, Scanner, SuppressionKind};
        let described = Finding::new("B602", Severity::High, "subprocess call with shell=True").at_path(
            "app.py",
            Some(3),
            None,
        );
        let mut suppressed =
            Finding::new("B101", Severity::Low, "assert used").at_path("t.py", Some(1), None);
        suppressed.suppression = Some(Suppression {
            kind: SuppressionKind::Inline,
            reason: None,
            expires: None,
            expired: false,
        });
        let mut report = ToolReport::finished(
            "bandit",
            Category::Security,
            Outcome::Findings,
            10,
            vec![described, suppressed],
            None,
        );
        report.result.rules = vec![RuleInfo {
            id: "B602".into(),
            name: Some("subprocess_popen_with_shell_equals_true".into()),
            description: Some("A subprocess is started through a shell.".into()),
            help: Some("Pass a list of arguments and shell=False.".into()),
        }];
        report.result.scanner = Some(Scanner {
            name: "bandit".into(),
            version: Some("1.9.4".into()),
        });
        let document = document([&report], None, Runs::One);
        let run = &document["runs"][0];
        assert_eq!(
            run["tool"]["extensions"],
            json!([{"name": "bandit", "version": "1.9.4"}])
        );
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let b602 = rules.iter().find(|r| r["id"] == "bandit/B602").unwrap();
        assert_eq!(
            b602["shortDescription"]["text"],
            "subprocess_popen_with_shell_equals_true"
        );
        assert_eq!(
            b602["fullDescription"]["text"],
            "A subprocess is started through a shell."
        );
        assert_eq!(b602["help"]["text"], "Pass a list of arguments and shell=False.");
        // Without the tool's words: its finding's message, and no help.
        let b101 = rules.iter().find(|r| r["id"] == "bandit/B101").unwrap();
        assert_eq!(b101["fullDescription"]["text"], "assert used");
        assert!(b101.get("help").is_none());
        let result = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ruleId"] == "bandit/B101");
        assert_eq!(
            result.unwrap()["suppressions"],
            json!([{"kind": "inSource", "status": "accepted"}])
        );
    }
}
