//! The `axe` tool: axe-core, the accessibility engine behind browser
//! devtools and Lighthouse, run inside the page as the browser rendered it
//! — so content that scripts write is checked too, which `html-a11y` (it
//! reads the HTML as served) cannot see. Every failing rule is a finding
//! per element (its CSS selector), with axe's impact as the severity.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::browser::{BrowserSetup, Rendered};
use crate::tools::{RenderedCheck, ToolSpec};
use serde_json::Value;

static SPEC: ToolSpec = ToolSpec {
    id: "axe",
    category: Category::Accessibility,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 2,
    summary: "Accessibility of the page as rendered, scripts included: every failing axe-core rule, per element (axe-core in Chromium)",
};

/// Elements reported per rule and page; the rest are counted in the last message.
const MAX_NODES: usize = 25;

pub struct Axe;

/// axe's impact as a severity. livescan keeps `critical` for problems an
/// attacker can use; an element no assistive technology can reach is
/// `high`, as in `html-a11y`.
fn severity(impact: &str) -> Severity {
    match impact {
        "critical" => Severity::High,
        "serious" => Severity::Medium,
        "moderate" => Severity::Low,
        _ => Severity::Info,
    }
}

impl RenderedCheck for Axe {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn missing(&self, setup: &BrowserSetup) -> Option<(String, String)> {
        setup.axe_script.is_none().then(|| {
            (
                "axe-core is not installed".to_string(),
                "npm install axe-core@4.11.0 into .tools/node (scripts/install-test-tools does)".to_string(),
            )
        })
    }

    fn check(&self, page: &Rendered, out: &mut Vec<Finding>) -> Result<(), String> {
        let violations = match &page.axe {
            Some(Ok(violations)) => violations,
            Some(Err(reason)) => return Err(format!("axe could not run on {}: {reason}", page.url)),
            None => return Err("axe-core is not installed".into()),
        };
        for violation in violations {
            let rule = violation["id"].as_str().unwrap_or("axe");
            let help = violation["help"].as_str().unwrap_or(rule);
            let severity = severity(violation["impact"].as_str().unwrap_or("minor"));
            let nodes = violation["nodes"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (i, node) in nodes.iter().take(MAX_NODES).enumerate() {
                let selector = selector(node);
                let mut message = format!("{help}: {selector}");
                if i + 1 == MAX_NODES && nodes.len() > MAX_NODES {
                    message.push_str(&format!(" (and {} more elements)", nodes.len() - MAX_NODES));
                }
                let mut finding = Finding::new(rule, severity, message)
                    .at_url(&page.url)
                    .fingerprinted(&format!("{rule}:{selector}"));
                if let Some(url) = violation["helpUrl"].as_str() {
                    finding = finding.with_help(url);
                }
                out.push(finding);
            }
        }
        Ok(())
    }
}

/// The element's selector as axe gives it (frames joined by ` >>> `).
fn selector(node: &Value) -> String {
    let parts: Vec<&str> = node["target"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match parts.is_empty() {
        true => "(an element)".to_string(),
        false => crate::model::text::bounded(&parts.join(" >>> "), 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_element_of_a_violation_is_a_finding_with_its_impact() {
        let page = Rendered {
            url: "http://127.0.0.1/".into(),
            axe: Some(Ok(vec![json!({
                "id": "image-alt", "impact": "critical", "help": "Images must have alternative text",
                "helpUrl": "https://dequeuniversity.com/rules/axe/4.11/image-alt",
                "nodes": [{ "target": ["#hero > img"] }, { "target": ["iframe", "img.logo"] }]
            })])),
            ..Rendered::default()
        };
        let mut out = Vec::new();
        Axe.check(&page, &mut out).unwrap();
        let seen: Vec<(&str, Severity, &str)> = out
            .iter()
            .map(|f| (f.rule_id.as_str(), f.severity, f.message.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "image-alt",
                    Severity::High,
                    "Images must have alternative text: #hero > img"
                ),
                (
                    "image-alt",
                    Severity::High,
                    "Images must have alternative text: iframe >>> img.logo"
                ),
            ]
        );
        let failed = Rendered {
            axe: Some(Err("boom".into())),
            ..Rendered::default()
        };
        assert!(Axe.check(&failed, &mut out).is_err());
    }
}
