//! The `mixed-content` tool: HTTPS pages that load scripts, styles, frames,
//! images or media over plain HTTP, or submit forms to it. Browsers block
//! active mixed content (the page breaks) and warn on passive content; either
//! way whoever sits on the path can read or change those requests. This
//! reads the HTML as served; `rendered-mixed-content` sees what the page's
//! scripts request too, in a browser.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Page, PageCheck, ToolSpec};
use scraper::{Html, Selector};

static SPEC: ToolSpec = ToolSpec {
    id: "mixed-content",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "HTTPS pages loading scripts, styles, frames, images or forms over plain HTTP",
};

const HELP: &str = "https://developer.mozilla.org/en-US/docs/Web/Security/Mixed_content";

/// (selector, attribute, rule, severity, what)
const REFERENCES: &[(&str, &str, &str, Severity, &str)] = &[
    (
        "script[src]",
        "src",
        "active-mixed-content",
        Severity::High,
        "script",
    ),
    (
        "link[rel~=stylesheet][href]",
        "href",
        "active-mixed-content",
        Severity::High,
        "stylesheet",
    ),
    (
        "iframe[src]",
        "src",
        "active-mixed-content",
        Severity::High,
        "frame",
    ),
    (
        "object[data]",
        "data",
        "active-mixed-content",
        Severity::High,
        "plugin content",
    ),
    ("img[src]", "src", "passive-mixed-content", Severity::Low, "image"),
    (
        "audio[src], video[src], source[src]",
        "src",
        "passive-mixed-content",
        Severity::Low,
        "media",
    ),
    (
        "form[action]",
        "action",
        "insecure-form-action",
        Severity::Medium,
        "form",
    ),
];

pub struct MixedContent;

impl PageCheck for MixedContent {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Page, out: &mut Vec<Finding>) {
        if !page.is_https() {
            return;
        }
        let document = Html::parse_document(&page.body);
        for &(css, attr, rule, severity, what) in REFERENCES {
            let selector = Selector::parse(css).expect("valid selector");
            for element in document.select(&selector) {
                let Some(target) = element.value().attr(attr) else {
                    continue;
                };
                if !target.trim().to_ascii_lowercase().starts_with("http://") {
                    continue;
                }
                out.push(
                    Finding::new(
                        rule,
                        severity,
                        format!("the HTTPS page loads a {what} over plain HTTP: {target}"),
                    )
                    .at_url(&page.url)
                    .with_help(HELP)
                    .with_cwe(319)
                    .fingerprinted(target),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(url: &str, body: &str) -> Vec<String> {
        let page = Page {
            url: url.into(),
            final_url: url.into(),
            body: body.into(),
            ..Default::default()
        };
        let mut out = Vec::new();
        MixedContent.check(&page, &mut out);
        out.into_iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn http_references_on_https_pages() {
        let body = r#"<html><head><script src="http://cdn.test/a.js"></script><link rel="stylesheet" href="https://cdn.test/s.css"></head>
            <body><img src="http://img.test/p.png"><form action="http://a.test/login"></form><img src="/local.png"></body></html>"#;
        assert_eq!(
            rules("https://a.test/", body),
            [
                "active-mixed-content",
                "passive-mixed-content",
                "insecure-form-action"
            ]
        );
        assert!(
            rules("http://a.test/", body).is_empty(),
            "plain HTTP pages are not mixed"
        );
    }
}
