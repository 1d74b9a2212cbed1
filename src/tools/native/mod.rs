//! Native analyzers: Rust implementations, always available but for the
//! browser tools, which need Chromium (and `axe`, axe-core).

pub mod advisories;
mod axe;
mod binary_artifacts;
pub mod complexity;
mod config_syntax;
mod console_errors;
mod cookies;
mod dangerous_calls;
mod debug_statements;
mod dockerfile;
mod duplicate_code;
mod exposed_paths;
mod github_actions;
mod html_a11y;
mod http_headers;
mod insecure_transport;
mod kubernetes;
mod lang;
mod large_assets;
mod large_files;
mod lighthouse;
mod long_lines;
mod merge_conflicts;
mod missing_lockfile;
mod mixed_content;
mod page_weight;
mod rendered_mixed_content;
mod rules;
pub(crate) mod secrets;
mod security_txt;
mod sensitive_files;
mod server_banner;
mod third_party;
mod tls;
mod todo_comments;
mod unminified_assets;
mod vulnerable_dependencies;
mod weak_crypto;
mod whitespace;

use super::browser::BrowserSetup;
use super::{ByTarget, CatalogOptions, FileTool, PageTool, RenderedTool, Tool};
pub use secrets::keywords as secret_keywords;
use std::sync::Arc;

/// Every native tool, in catalog order.
pub fn all(options: &CatalogOptions) -> Vec<Arc<dyn Tool>> {
    let browser = Arc::new(BrowserSetup::discover(&options.tool_dirs));
    vec![
        Arc::new(FileTool(secrets::Secrets::new())),
        Arc::new(FileTool(merge_conflicts::MergeConflicts)),
        Arc::new(FileTool(todo_comments::TodoComments)),
        Arc::new(FileTool(large_files::LargeFiles)),
        Arc::new(FileTool(dangerous_calls::tool())),
        Arc::new(FileTool(weak_crypto::tool())),
        Arc::new(FileTool(insecure_transport::tool())),
        Arc::new(FileTool(debug_statements::tool())),
        Arc::new(FileTool(sensitive_files::SensitiveFiles)),
        Arc::new(vulnerable_dependencies::VulnerableDependencies::new(
            options.advisory_db.clone(),
        )),
        Arc::new(FileTool(dockerfile::Dockerfile)),
        Arc::new(FileTool(github_actions::GithubActions)),
        Arc::new(FileTool(kubernetes::Kubernetes)),
        Arc::new(missing_lockfile::MissingLockfile),
        Arc::new(FileTool(long_lines::LongLines)),
        Arc::new(FileTool(complexity::Complexity)),
        Arc::new(duplicate_code::DuplicateCode),
        Arc::new(FileTool(binary_artifacts::BinaryArtifacts)),
        Arc::new(FileTool(whitespace::Whitespace)),
        Arc::new(FileTool(config_syntax::ConfigSyntax)),
        Arc::new(FileTool(large_assets::LargeAssets)),
        Arc::new(FileTool(unminified_assets::UnminifiedAssets)),
        Arc::new(PageTool(http_headers::HttpHeaders)),
        Arc::new(ByTarget {
            directory: Arc::new(FileTool(html_a11y::HtmlA11y)),
            urls: Arc::new(PageTool(html_a11y::HtmlA11y)),
        }),
        Arc::new(PageTool(cookies::Cookies)),
        Arc::new(PageTool(mixed_content::MixedContent)),
        Arc::new(PageTool(server_banner::ServerBanner)),
        Arc::new(exposed_paths::ExposedPaths),
        Arc::new(security_txt::SecurityTxt),
        Arc::new(page_weight::PageWeight),
        Arc::new(tls::Tls),
        Arc::new(RenderedTool {
            check: axe::Axe,
            setup: browser.clone(),
        }),
        Arc::new(RenderedTool {
            check: console_errors::ConsoleErrors,
            setup: browser.clone(),
        }),
        Arc::new(RenderedTool {
            check: third_party::ThirdParty,
            setup: browser.clone(),
        }),
        Arc::new(RenderedTool {
            check: rendered_mixed_content::RenderedMixedContent,
            setup: browser.clone(),
        }),
        Arc::new(lighthouse::Lighthouse::new(browser, &options.tool_dirs)),
    ]
}
