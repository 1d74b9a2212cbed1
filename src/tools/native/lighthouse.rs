//! The `lighthouse` tool: Lighthouse (npm `lighthouse`) on each URL, in
//! this machine's Chromium, every request of the page through a guard of
//! livescan's (the address policy, a budget). Its four category scores and
//! its timing metrics (first contentful paint, total blocking time, …) are
//! the report's metrics; each other audit that fails, with its savings or
//! the elements it is about, is a finding under the audit's own id.

use crate::model::{Category, Ecosystem, Finding, Metric, Severity, TargetKind};
use crate::tools::browser::{self, BrowserSetup, guard};
use crate::tools::external::process::{Ended, MAX_OUTPUT_BYTES, confined, run_to_end};
use crate::tools::{Availability, Tool, ToolContext, ToolError, ToolSpec, per_url};
use futures::future::BoxFuture;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

static SPEC: ToolSpec = ToolSpec {
    id: "lighthouse",
    category: Category::Performance,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 3,
    summary: "Lighthouse on the rendered page: performance, accessibility, best-practice and SEO scores and failed audits",
};

const CATEGORIES: &str = "performance,accessibility,best-practices,seo";
/// What one Lighthouse run may load: it loads the page more than once.
const BUDGET: guard::Budget = guard::Budget {
    requests: 1000,
    bytes: 100 * 1024 * 1024,
};
/// Memory Lighthouse's Node and its Chromium may map.
const MEMORY: u64 = 8 * 1024 * 1024 * 1024;

pub struct Lighthouse {
    setup: Arc<BrowserSetup>,
    /// `lighthouse` beside the npm tools, if installed.
    executable: Option<PathBuf>,
}

impl Lighthouse {
    pub fn new(setup: Arc<BrowserSetup>, tool_dirs: &[PathBuf]) -> Lighthouse {
        let executable = tool_dirs
            .iter()
            .map(|dir| dir.join("lighthouse"))
            .find(|path| path.is_file());
        Lighthouse { setup, executable }
    }
}

impl Tool for Lighthouse {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn availability(&self) -> Availability {
        let missing = match (&self.setup.chromium, &self.executable) {
            (None, _) => (
                "no Chromium on this machine",
                "apt-get install chromium, or set LIVESCAN_CHROMIUM to a Chromium or Chrome executable",
            ),
            (_, None) => (
                "Lighthouse is not installed",
                "npm install lighthouse@12.8.2 into .tools/node (scripts/install-test-tools does)",
            ),
            _ => return Availability::Available,
        };
        Availability::Unavailable {
            reason: missing.0.into(),
            install_hint: missing.1.into(),
        }
    }

    /// The `version` of the npm package the executable belongs to.
    fn version(&self) -> Option<String> {
        let package = self
            .executable
            .as_ref()?
            .parent()?
            .join("../lighthouse/package.json");
        let package: serde_json::Value = serde_json::from_slice(&std::fs::read(package).ok()?).ok()?;
        package["version"].as_str().map(String::from)
    }

    fn weight(&self) -> usize {
        3
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        per_url(ctx, move |ctx, url| {
            let tool = self.clone();
            async move {
                let report = tool.audit(&ctx, &url).await?;
                let (findings, metrics) = read_report(&report, &url)?;
                ctx.findings.measure(metrics);
                Ok(findings)
            }
        })
    }
}

impl Lighthouse {
    /// Runs Lighthouse on `url`; its JSON report.
    async fn audit(&self, ctx: &ToolContext, url: &str) -> Result<Value, ToolError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| ToolError::Failed(format!("{what}: {e}"));
        let (Some(chromium), Some(executable)) = (&self.setup.chromium, &self.executable) else {
            return Err(ToolError::Failed(
                "Lighthouse or Chromium is not installed".into(),
            ));
        };
        let guard = guard::Guard::start(ctx.pages.fetcher().allows_private(), BUDGET)
            .await
            .map_err(|e| failed("cannot start the page's guard", &e))?;
        std::fs::create_dir_all(&ctx.workspace.dir)
            .map_err(|e| failed("cannot make a private directory", &e))?;
        let private = tempfile::Builder::new()
            .prefix("lighthouse-")
            .tempdir_in(&ctx.workspace.dir)
            .map_err(|e| failed("cannot make a private directory", &e))?;
        // Lighthouse's launcher makes the browser's profile in TMPDIR.
        let chrome_flags = browser::flags(
            None,
            &format!("http://{}", guard.address),
            ctx.pages.fetcher().extra_root_keys(),
        )
        .join(" ");
        let memory = ctx.workspace.child_memory.map(|cap| cap.max(MEMORY));
        let mut command = confined(executable, private.path(), &ctx.workspace, memory);
        command
            .arg(url)
            .args([
                "--output=json",
                "--output-path=stdout",
                "--quiet",
                "--no-enable-error-reporting",
                "--form-factor=desktop",
                "--screenEmulation.disabled",
                "--max-wait-for-load=20000",
            ])
            .arg(format!("--only-categories={CATEGORIES}"))
            .arg(format!("--chrome-flags={chrome_flags}"))
            .current_dir(private.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TMPDIR", private.path())
            .env("CHROME_PATH", chromium);
        let Ended {
            stdout: (stdout, over),
            stderr: (stderr, _),
            status,
        } = run_to_end(command, executable, &ctx.cancel).await?;
        if over {
            return Err(ToolError::Failed(format!(
                "Lighthouse wrote more than {} MiB",
                MAX_OUTPUT_BYTES / 1024 / 1024
            )));
        }
        let report: Option<Value> = serde_json::from_slice(&stdout).ok();
        if let Some(error) = report
            .as_ref()
            .and_then(|r| r["runtimeError"]["message"].as_str())
        {
            let refused = guard.refused();
            return Err(ToolError::Failed(match refused.first() {
                Some(refusal) => format!("{url}: refused: {}", refusal.reason),
                None => format!("Lighthouse could not audit {url}: {error}"),
            }));
        }
        match (report, status.success()) {
            (Some(report), true) => Ok(report),
            _ => {
                let stderr = String::from_utf8_lossy(&stderr);
                let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
                Err(ToolError::Failed(format!(
                    "Lighthouse exited with {status}: {}",
                    crate::model::text::bounded(last, 300)
                )))
            }
        }
    }
}

/// Lighthouse's display modes of audits that pass or fail.
const SCORED: &[&str] = &["binary", "numeric", "metricSavings"];
/// An audit scoring under this fails (Lighthouse shows it amber or red).
const PASSES_AT: f64 = 0.9;

/// The report's findings and its scores.
fn read_report(report: &Value, url: &str) -> Result<(Vec<Finding>, Vec<Metric>), ToolError> {
    let categories = report["categories"]
        .as_object()
        .ok_or_else(|| ToolError::Failed("Lighthouse's report has no categories".into()))?;
    let mut metrics = Vec::new();
    // Each audit once, with the greatest weight any category gives it.
    let mut weights: BTreeMap<&str, f64> = BTreeMap::new();
    // Timings measure the machine that ran the scan as much as the page:
    // the same page scores differently on a busy one. They are metrics,
    // as Lighthouse shows them, never findings.
    let mut timings: BTreeSet<&str> = BTreeSet::new();
    for (id, category) in categories {
        let score = match category["score"].as_f64() {
            Some(score) => format!("{:.0}", score * 100.0),
            None => "n/a".to_string(),
        };
        metrics.push(Metric {
            name: format!("lighthouse {id}"),
            value: score,
            url: Some(url.to_string()),
        });
        for reference in category["auditRefs"].as_array().into_iter().flatten() {
            let (Some(audit), Some(weight)) = (reference["id"].as_str(), reference["weight"].as_f64()) else {
                continue;
            };
            if reference["group"] == "metrics" {
                timings.insert(audit);
                continue;
            }
            let kept = weights.entry(audit).or_insert(weight);
            *kept = kept.max(weight);
        }
    }
    for id in timings {
        if let Some(shown) = report["audits"][id]["displayValue"].as_str() {
            metrics.push(Metric {
                name: format!("lighthouse {id}"),
                value: shown.replace('\u{a0}', " "),
                url: Some(url.to_string()),
            });
        }
    }
    let mut findings = Vec::new();
    for (id, weight) in weights.into_iter().filter(|(_, w)| *w > 0.0) {
        let audit = &report["audits"][id];
        let mode = audit["scoreDisplayMode"].as_str().unwrap_or("");
        let Some(score) = audit["score"].as_f64().filter(|s| *s < PASSES_AT) else {
            continue;
        };
        if !SCORED.contains(&mode) {
            continue;
        }
        let mut finding = Finding::new(id, severity(weight, score), message(audit))
            .at_url(url)
            .fingerprinted(id);
        if let Some(link) = learn_more(audit["description"].as_str().unwrap_or("")) {
            finding = finding.with_help(&link);
        }
        findings.push(finding);
    }
    Ok((findings, metrics))
}

/// The heavier an audit weighs in its category's score, the worse its
/// failure; one that only falls short (amber) is a step less.
fn severity(weight: f64, score: f64) -> Severity {
    let severity = match weight {
        w if w >= 10.0 => Severity::High,
        w if w >= 5.0 => Severity::Medium,
        _ => Severity::Low,
    };
    match (score >= 0.5, severity) {
        (true, Severity::High) => Severity::Medium,
        (true, _) => Severity::Low,
        (false, severity) => severity,
    }
}

/// The audit's title, what it measured, what fixing it would save, and the
/// first elements it names.
fn message(audit: &Value) -> String {
    let mut message = audit["title"].as_str().unwrap_or("a failed audit").to_string();
    if let Some(shown) = audit["displayValue"].as_str().filter(|v| !v.is_empty()) {
        message.push_str(&format!(": {shown}"));
    }
    if let Some(savings) = audit["metricSavings"].as_object() {
        let saved: Vec<String> = savings
            .iter()
            .filter_map(|(metric, value)| {
                // Layout shift is a fraction; the rest are milliseconds.
                value
                    .as_f64()
                    .filter(|v| *v > 0.0)
                    .map(|v| match metric.as_str() {
                        "CLS" => format!("{metric} {v:.2}"),
                        _ => format!("{metric} {v:.0} ms"),
                    })
            })
            .collect();
        if !saved.is_empty() {
            message.push_str(&format!(" (saves {})", saved.join(", ")));
        }
    }
    let elements: Vec<&str> = audit["details"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["node"]["selector"].as_str())
        .take(3)
        .collect();
    if !elements.is_empty() {
        message.push_str(&format!(" — {}", elements.join(", ")));
    }
    crate::model::text::bounded(&message, 500)
}

/// The `[Learn more](https://…)` link of an audit's description.
fn learn_more(description: &str) -> Option<String> {
    let start = description.find("](")? + 2;
    let end = description[start..].find(')')? + start;
    let link = &description[start..end];
    link.starts_with("https://").then(|| link.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failed_audits_are_findings_and_categories_and_timings_are_metrics() {
        let report = json!({
            "categories": {
                "accessibility": { "score": 0.51, "auditRefs": [
                    { "id": "image-alt", "weight": 10 }, { "id": "heading-order", "weight": 3 } ] },
                "seo": { "score": 0.8, "auditRefs": [ { "id": "image-alt", "weight": 1 } ] },
                "performance": { "score": null, "auditRefs": [ { "id": "unsized-images", "weight": 5 },
                    { "id": "total-blocking-time", "weight": 30, "group": "metrics" },
                    { "id": "diagnostics", "weight": 0 } ] }
            },
            "audits": {
                "image-alt": { "title": "Image elements do not have [alt] attributes", "score": 0,
                    "scoreDisplayMode": "binary",
                    "description": "Informative elements should aim for short text. [Learn more](https://developer.chrome.com/docs/lighthouse/accessibility/image-alt/).",
                    "details": { "items": [ { "node": { "selector": "main > img" } } ] } },
                "heading-order": { "title": "Headings in order", "score": 1, "scoreDisplayMode": "binary" },
                "unsized-images": { "title": "Images without width and height", "score": 0.5,
                    "scoreDisplayMode": "metricSavings", "metricSavings": { "CLS": 0.12, "LCP": 0 } },
                "total-blocking-time": { "title": "Total Blocking Time", "score": 0.2,
                    "scoreDisplayMode": "numeric", "displayValue": "480\u{a0}ms" },
                "diagnostics": { "title": "Diagnostics", "score": 0, "scoreDisplayMode": "binary" }
            }
        });
        let (findings, metrics) = read_report(&report, "http://a/").unwrap();
        let seen: Vec<(&str, Severity, &str)> = findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.severity, f.message.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "image-alt",
                    Severity::High,
                    "Image elements do not have [alt] attributes — main > img"
                ),
                (
                    "unsized-images",
                    Severity::Low,
                    "Images without width and height (saves CLS 0.12)"
                ),
            ]
        );
        assert_eq!(
            findings[0].help_uri.as_deref(),
            Some("https://developer.chrome.com/docs/lighthouse/accessibility/image-alt/")
        );
        let scores: Vec<(&str, &str)> = metrics
            .iter()
            .map(|m| (m.name.as_str(), m.value.as_str()))
            .collect();
        assert_eq!(
            scores,
            [
                ("lighthouse accessibility", "51"),
                ("lighthouse performance", "n/a"),
                ("lighthouse seo", "80"),
                ("lighthouse total-blocking-time", "480 ms")
            ]
        );
    }
}
