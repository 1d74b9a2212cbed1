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
pub mod secrets;
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
use super::{ByTarget, CatalogOptions, FilePass, FileTool, PageTool, RenderedTool, Tool};
use std::sync::Arc;

/// Every native tool, in catalog order.
pub fn all(options: &CatalogOptions) -> Vec<Arc<dyn Tool>> {
    let browser = Arc::new(BrowserSetup::discover(&options.tool_dirs));
    // The cheap file checks share one read of each file per session;
    // `complexity`, bound by parsing, runs on its own.
    let pass = Arc::new(FilePass::default());
    vec![
        pass.join(secrets::Secrets::new()),
        pass.join(merge_conflicts::MergeConflicts),
        pass.join(todo_comments::TodoComments),
        pass.join(large_files::LargeFiles),
        pass.join(dangerous_calls::tool()),
        pass.join(weak_crypto::tool()),
        pass.join(insecure_transport::tool()),
        pass.join(debug_statements::tool()),
        pass.join(sensitive_files::SensitiveFiles),
        Arc::new(vulnerable_dependencies::VulnerableDependencies::new(
            options.advisory_db.clone(),
        )),
        pass.join(dockerfile::Dockerfile),
        pass.join(github_actions::GithubActions),
        pass.join(kubernetes::Kubernetes),
        Arc::new(missing_lockfile::MissingLockfile),
        pass.join(long_lines::LongLines),
        Arc::new(FileTool(complexity::Complexity)),
        Arc::new(duplicate_code::DuplicateCode),
        pass.join(binary_artifacts::BinaryArtifacts),
        pass.join(whitespace::Whitespace),
        pass.join(config_syntax::ConfigSyntax),
        pass.join(large_assets::LargeAssets),
        pass.join(unminified_assets::UnminifiedAssets),
        Arc::new(PageTool(http_headers::HttpHeaders)),
        Arc::new(ByTarget {
            directory: pass.join(html_a11y::HtmlA11y),
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
