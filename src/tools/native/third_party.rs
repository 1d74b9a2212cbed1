//! The `third-party` tool: the origins other than the page's own site that
//! the rendered page loads from, what each costs in requests and bytes, and
//! the scripts and stylesheets it includes from them without Subresource
//! Integrity (`integrity=`), which run whatever that origin serves today.

use crate::model::{Category, Ecosystem, Finding, Metric, Severity, TargetKind};
use crate::tools::browser::Rendered;
use crate::tools::{RenderedCheck, ToolSpec};
use std::collections::BTreeMap;

static SPEC: ToolSpec = ToolSpec {
    id: "third-party",
    category: Category::Security,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 1,
    summary: "Third-party origins of the rendered page, their bytes, and scripts or stylesheets included without SRI (Chromium)",
};

const SRI_HELP: &str = "https://developer.mozilla.org/en-US/docs/Web/Security/Subresource_Integrity";

pub struct ThirdParty;

/// The site a host belongs to: its last two labels, or three under a
/// two-letter country domain with a short second level (`example.co.uk`).
/// An IP address is a site of its own.
fn site(host: &str) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host.to_string();
    }
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let keep = match labels.as_slice() {
        [.., second, top] if top.len() == 2 && second.len() <= 3 && labels.len() >= 3 => 3,
        _ => 2,
    };
    labels[labels.len().saturating_sub(keep)..]
        .join(".")
        .to_ascii_lowercase()
}

/// The origin of `url` when its site is not `own`.
fn third_party(url: &url::Url, own: &str) -> Option<String> {
    let host = url.host_str()?;
    (matches!(url.scheme(), "http" | "https") && site(host) != own)
        .then(|| url.origin().ascii_serialization())
}

impl RenderedCheck for ThirdParty {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, page: &Rendered, out: &mut Vec<Finding>) -> Result<(), String> {
        let base = url::Url::parse(&page.final_url).map_err(|e| format!("{}: {e}", page.final_url))?;
        let own = site(base.host_str().unwrap_or_default());
        let document = scraper::Html::parse_document(&page.html);
        let included = [
            (
                "script[src]",
                "src",
                "third-party-script-without-sri",
                Severity::Medium,
                "script",
            ),
            (
                "link[rel~=stylesheet][href]",
                "href",
                "third-party-stylesheet-without-sri",
                Severity::Low,
                "stylesheet",
            ),
        ];
        for (css, attribute, rule, severity, what) in included {
            let selector = scraper::Selector::parse(css).expect("a valid selector");
            for element in document.select(&selector) {
                let Some(url) = element.attr(attribute).and_then(|v| base.join(v).ok()) else {
                    continue;
                };
                if third_party(&url, &own).is_none()
                    || element.attr("integrity").is_some_and(|v| !v.trim().is_empty())
                {
                    continue;
                }
                out.push(
                    Finding::new(
                        rule,
                        severity,
                        format!("the {what} {url} comes from another site without an integrity hash: whatever it serves runs in this page"),
                    )
                    .at_url(&page.url)
                    .with_cwe(829)
                    .with_help(SRI_HELP)
                    .fingerprinted(&format!("{rule}:{url}")),
                );
            }
        }
        Ok(())
    }

    fn measure(&self, page: &Rendered) -> Vec<Metric> {
        let Ok(base) = url::Url::parse(&page.final_url) else {
            return Vec::new();
        };
        let own = site(base.host_str().unwrap_or_default());
        let mut origins: BTreeMap<String, (usize, u64)> = BTreeMap::new();
        for request in &page.requests {
            if let Some(origin) = url::Url::parse(&request.url)
                .ok()
                .and_then(|u| third_party(&u, &own))
            {
                let entry = origins.entry(origin).or_default();
                entry.0 += 1;
                entry.1 += request.bytes;
            }
        }
        let metric = |name: String, value: String| Metric {
            name,
            value,
            url: Some(page.url.clone()),
        };
        let mut metrics = vec![
            metric("third-party-origins".into(), origins.len().to_string()),
            metric(
                "third-party-bytes".into(),
                origins.values().map(|(_, bytes)| bytes).sum::<u64>().to_string(),
            ),
        ];
        for (origin, (requests, bytes)) in origins {
            metrics.push(metric(
                format!("third-party {origin}"),
                format!("{requests} requests, {bytes} bytes"),
            ));
        }
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_the_registrable_part_of_a_host() {
        assert_eq!(site("www.example.com"), "example.com");
        assert_eq!(site("cdn.example.co.uk"), "example.co.uk");
        assert_eq!(site("example.com"), "example.com");
        assert_eq!(site("127.0.0.1"), "127.0.0.1");
        assert_eq!(site("localhost"), "localhost");
    }
}
