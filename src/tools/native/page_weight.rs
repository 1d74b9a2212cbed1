//! The `page-weight` tool: what makes each page slow to load — a slow first
//! byte, uncompressed text, a long redirect chain, a heavy page, static
//! resources without caching headers, render-blocking scripts in `<head>`,
//! images without dimensions (layout shift) and too many requests.
//!
//! The page's scripts, styles and images (up to [`MAX_RESOURCES`]) are
//! fetched too, through the session's shared pages, to weigh them.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{Page, Tool, ToolContext, ToolError, ToolSpec, per_url};
use futures::future::BoxFuture;
use reqwest::Url;
use scraper::{Html, Selector};
use std::sync::Arc;
use std::time::Duration;

static SPEC: ToolSpec = ToolSpec {
    id: "page-weight",
    category: Category::Performance,
    ecosystem: Ecosystem::Website,
    targets: &[TargetKind::Url, TargetKind::Urls],
    cost: 2,
    summary: "Slow first byte, no compression or caching, redirects, heavy pages, render-blocking scripts",
};

pub const MAX_RESOURCES: usize = 30;
const SLOW_TTFB: Duration = Duration::from_millis(800);
const HEAVY_PAGE_BYTES: usize = 2 * 1024 * 1024;
const MANY_REQUESTS: usize = 25;
/// Text smaller than this gains nothing from compression.
const COMPRESSIBLE_BYTES: usize = 1024;
const HELP: &str = "https://web.dev/learn/performance";

/// What the page's HTML refers to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Markup {
    resources: Vec<String>,
    blocking_scripts: Vec<String>,
    images_without_size: usize,
}

fn markup(page: &Page) -> Markup {
    let document = Html::parse_document(&page.body);
    let select = |css: &str| Selector::parse(css).expect("valid selector");
    let base = Url::parse(&page.final_url).ok();
    let absolute = |raw: &str| {
        base.as_ref()
            .and_then(|b| b.join(raw).ok())
            .map(|u| u.to_string())
    };
    let mut found = Markup::default();
    for element in document.select(&select("script[src], link[rel~=stylesheet][href], img[src]")) {
        let attr = if element.value().name() == "link" {
            "href"
        } else {
            "src"
        };
        if let Some(url) = element.value().attr(attr).and_then(absolute)
            && !found.resources.contains(&url)
        {
            found.resources.push(url);
        }
    }
    for script in document.select(&select("head script[src]")) {
        let e = script.value();
        let deferred =
            e.attr("async").is_some() || e.attr("defer").is_some() || e.attr("type") == Some("module");
        if !deferred {
            found
                .blocking_scripts
                .push(e.attr("src").unwrap_or_default().to_string());
        }
    }
    found.images_without_size = document
        .select(&select("img"))
        .filter(|img| img.value().attr("width").is_none() || img.value().attr("height").is_none())
        .count();
    found
}

fn is_text(page: &Page) -> bool {
    let kind = page.header("content-type").unwrap_or("").to_ascii_lowercase();
    ["text/", "javascript", "json", "xml", "svg"]
        .iter()
        .any(|t| kind.contains(t))
}

fn cacheable(page: &Page) -> bool {
    ["cache-control", "expires", "etag", "last-modified"]
        .iter()
        .any(|h| page.header(h).is_some())
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

pub struct PageWeight;

impl PageWeight {
    async fn weigh(ctx: &ToolContext, url: &str) -> Result<Vec<Finding>, ToolError> {
        let page = ctx.pages.get(url).await?;
        let mut findings = Vec::new();
        let mut push = |rule: &str, severity: Severity, message: String, evidence: &str| {
            findings.push(
                Finding::new(rule, severity, message)
                    .at_url(url)
                    .with_help(HELP)
                    .fingerprinted(evidence),
            );
        };
        if page.ttfb > SLOW_TTFB {
            push(
                "slow-first-byte",
                Severity::Medium,
                format!(
                    "the first byte took {} ms (more than {} ms)",
                    page.ttfb.as_millis(),
                    SLOW_TTFB.as_millis()
                ),
                "ttfb",
            );
        }
        if page.redirects.len() > 1 {
            let chain: Vec<&str> = page.redirects.iter().map(|r| r.url.as_str()).collect();
            push(
                "redirect-chain",
                Severity::Low,
                format!(
                    "{} redirects before the page ({} -> {}); link to the final URL",
                    page.redirects.len(),
                    chain.join(" -> "),
                    page.final_url
                ),
                "redirects",
            );
        }
        let found = markup(&page);
        let mut total = page.wire_bytes;
        let mut uncompressed = Vec::new();
        let mut uncached = Vec::new();
        if is_text(&page)
            && page.header("content-encoding").is_none()
            && page.wire_bytes >= COMPRESSIBLE_BYTES
        {
            uncompressed.push(page.final_url.clone());
        }
        for resource in found.resources.iter().take(MAX_RESOURCES) {
            let Ok(fetched) = ctx.pages.get(resource).await else {
                continue;
            };
            total += fetched.wire_bytes;
            if fetched.status != 200 {
                continue;
            }
            if is_text(&fetched)
                && fetched.header("content-encoding").is_none()
                && fetched.wire_bytes >= COMPRESSIBLE_BYTES
            {
                uncompressed.push(resource.clone());
            }
            if !cacheable(&fetched) {
                uncached.push(resource.clone());
            }
        }
        if !uncompressed.is_empty() {
            push(
                "uncompressed-text",
                Severity::Medium,
                format!(
                    "{} text responses are sent without gzip or brotli: {}",
                    uncompressed.len(),
                    uncompressed.join(", ")
                ),
                "uncompressed",
            );
        }
        if !uncached.is_empty() {
            push(
                "no-caching-headers",
                Severity::Low,
                format!(
                    "{} static resources have no Cache-Control, Expires, ETag or Last-Modified, so every visit downloads them again: {}",
                    uncached.len(),
                    uncached.join(", ")
                ),
                "uncached",
            );
        }
        if total > HEAVY_PAGE_BYTES {
            push(
                "heavy-page",
                Severity::Medium,
                format!(
                    "the page and its resources weigh {} (more than {})",
                    kib(total),
                    kib(HEAVY_PAGE_BYTES)
                ),
                "heavy",
            );
        }
        if found.resources.len() > MANY_REQUESTS {
            push(
                "too-many-requests",
                Severity::Low,
                format!(
                    "the page loads {} resources (more than {MANY_REQUESTS}); bundle or lazy-load them",
                    found.resources.len()
                ),
                "requests",
            );
        }
        if !found.blocking_scripts.is_empty() {
            push(
                "render-blocking-script",
                Severity::Low,
                format!(
                    "{} scripts in <head> block rendering until they download and run; add defer or async: {}",
                    found.blocking_scripts.len(),
                    found.blocking_scripts.join(", ")
                ),
                "blocking",
            );
        }
        if found.images_without_size > 0 {
            push(
                "image-without-dimensions",
                Severity::Low,
                format!(
                    "{} images have no width and height, so the layout jumps as they load",
                    found.images_without_size
                ),
                "dimensions",
            );
        }
        Ok(findings)
    }
}

impl Tool for PageWeight {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        per_url(ctx, |ctx, url| async move { Self::weigh(&ctx, &url).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_lists_resources_blocking_scripts_and_unsized_images() {
        let page = Page {
            url: "https://a.test/x/".into(),
            final_url: "https://a.test/x/".into(),
            body: r#"<html><head><script src="/a.js"></script><script src="b.js" defer></script>
                <link rel="stylesheet" href="s.css"></head>
                <body><img src="i.png"><img src="j.png" width="1" height="1"><script src="/a.js"></script></body></html>"#
                .into(),
            ..Default::default()
        };
        let found = markup(&page);
        assert_eq!(
            found.resources,
            [
                "https://a.test/a.js",
                "https://a.test/x/b.js",
                "https://a.test/x/s.css",
                "https://a.test/x/i.png",
                "https://a.test/x/j.png"
            ]
        );
        assert_eq!(found.blocking_scripts, ["/a.js"]);
        assert_eq!(found.images_without_size, 1);
    }
}
