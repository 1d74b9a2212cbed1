//! The `rendered-mixed-content` tool: mixed content as Chromium sees it
//! while the page loads — every plain-HTTP request of an HTTPS page,
//! including those its scripts make after load, with what the browser did
//! about it: blocked (the page breaks), upgraded to HTTPS (it works only
//! where the browser upgrades and the server answers HTTPS), or loaded
//! over HTTP (anyone on the path can read or replace it). `mixed-content`
//! reads the HTML as served, without a browser.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::browser::Rendered;
use crate::tools::{RenderedCheck, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "rendered-mixed-content",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Mixed content as the browser sees it, script-made requests included: blocked, upgraded or loaded (Chromium)",
};

const HELP: &str = "https://developer.mozilla.org/en-US/docs/Web/Security/Mixed_content";

pub struct RenderedMixedContent;

impl RenderedCheck for RenderedMixedContent {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Rendered, out: &mut Vec<Finding>) -> Result<(), String> {
        for mixed in &page.mixed_content {
            let what = mixed.resource.to_ascii_lowercase();
            let (rule, severity, consequence) = match mixed.resolution.as_str() {
                "MixedContentBlocked" => (
                    "mixed-content-blocked",
                    Severity::High,
                    "the browser blocked it, so the page works only without it",
                ),
                "MixedContentAutomaticallyUpgraded" => (
                    "mixed-content-upgraded",
                    Severity::Low,
                    "the browser upgraded it to HTTPS; where a browser does not, or the server has no HTTPS, it is insecure or missing",
                ),
                _ => (
                    "mixed-content-loaded",
                    Severity::Medium,
                    "the browser loaded it over HTTP, where anyone on the path can read or replace it",
                ),
            };
            out.push(
                Finding::new(
                    rule,
                    severity,
                    format!(
                        "the HTTPS page asks for the {what} {} over plain HTTP: {consequence}",
                        mixed.url
                    ),
                )
                .at_url(&page.url)
                .with_help(HELP)
                .with_cwe(319)
                .fingerprinted(&format!("{rule}:{}", mixed.url)),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::browser::MixedContent;

    #[test]
    fn each_resolution_has_its_rule_and_severity() {
        let page = Rendered {
            url: "https://shop.example/".into(),
            final_url: "https://shop.example/".into(),
            mixed_content: [
                ("Script", "MixedContentBlocked"),
                ("Image", "MixedContentAutomaticallyUpgraded"),
                ("Form", "MixedContentWarning"),
            ]
            .map(|(resource, resolution)| MixedContent {
                url: format!("http://cdn.example/{resource}"),
                resource: resource.into(),
                resolution: resolution.into(),
            })
            .to_vec(),
            ..Rendered::default()
        };
        let mut out = Vec::new();
        RenderedMixedContent.check(&page, &mut out).unwrap();
        let found: Vec<(&str, Severity)> = out.iter().map(|f| (f.rule_id.as_str(), f.severity)).collect();
        assert_eq!(
            found,
            [
                ("mixed-content-blocked", Severity::High),
                ("mixed-content-upgraded", Severity::Low),
                ("mixed-content-loaded", Severity::Medium),
            ]
        );
        assert!(
            out[0].message.contains("script http://cdn.example/Script"),
            "{}",
            out[0].message
        );
    }
}
