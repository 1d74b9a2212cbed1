//! The `console-errors` tool: what went wrong while the browser loaded
//! the page — uncaught exceptions and `console.error` calls of its scripts,
//! requests that failed or answered an error status, and requests the scan's
//! address policy refused (a page that loads from a private address).

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::browser::Rendered;
use crate::tools::{RenderedCheck, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "console-errors",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "JavaScript errors and failed requests while the page loads in a browser (Chromium)",
};

pub struct ConsoleErrors;

/// Resources without which a page does not work as written.
fn essential(kind: &str) -> bool {
    matches!(kind, "Document" | "Script" | "Stylesheet" | "Fetch" | "XHR")
}

impl RenderedCheck for ConsoleErrors {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Rendered, out: &mut Vec<Finding>) -> Result<(), String> {
        for error in &page.errors {
            let (rule, severity) = match error.kind {
                "exception" => ("uncaught-exception", Severity::Medium),
                _ => ("console-error", Severity::Low),
            };
            let at = error
                .source
                .as_deref()
                .map(|s| format!(" (at {s})"))
                .unwrap_or_default();
            out.push(
                Finding::new(rule, severity, format!("{}{at}", error.text))
                    .at_url(&page.url)
                    .fingerprinted(&format!("{rule}:{}", error.text)),
            );
        }
        let refused: Vec<&str> = page.refused.iter().map(|r| r.target.as_str()).collect();
        for request in &page.requests {
            let refused_here = refused.iter().any(|target| request.url.contains(target));
            // The browser asks for a favicon the page never named.
            let favicon = request.kind == "Other" && request.url.ends_with("/favicon.ico");
            // An error status says more than the abort that follows it.
            let problem = match (request.status, &request.failed) {
                _ if refused_here || favicon => continue,
                (Some(status), _) if status >= 400 => format!("HTTP {status}"),
                (_, Some(reason)) => reason.clone(),
                _ => continue,
            };
            let severity = if essential(&request.kind) {
                Severity::Medium
            } else {
                Severity::Low
            };
            out.push(
                Finding::new(
                    "failed-request",
                    severity,
                    format!("{} {} failed: {problem}", request.kind, request.url),
                )
                .at_url(&page.url)
                .fingerprinted(&format!("failed-request:{}", request.url)),
            );
        }
        for refusal in &page.refused {
            out.push(
                Finding::new(
                    "request-refused",
                    Severity::Low,
                    format!(
                        "the page asked for {} and the scan refused it: {}",
                        refusal.target, refusal.reason
                    ),
                )
                .at_url(&page.url)
                .fingerprinted(&format!("request-refused:{}", refusal.target)),
            );
        }
        if let Some(reason) = &page.cut_short {
            out.push(
                Finding::new(
                    "page-budget",
                    Severity::Info,
                    format!("the page was not loaded whole: {reason}"),
                )
                .at_url(&page.url)
                .fingerprinted("page-budget"),
            );
        }
        Ok(())
    }
}
