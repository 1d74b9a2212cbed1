//! Native analyzers: Rust implementations that are always available.

mod html_a11y;
mod http_headers;
mod large_files;
mod merge_conflicts;
mod secrets;
mod todo_comments;

use super::{FileTool, PageTool, Tool};
use std::sync::Arc;

/// Every native tool, in catalog order.
pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(FileTool(secrets::Secrets::new())),
        Arc::new(FileTool(merge_conflicts::MergeConflicts)),
        Arc::new(FileTool(todo_comments::TodoComments)),
        Arc::new(FileTool(large_files::LargeFiles)),
        Arc::new(PageTool(http_headers::HttpHeaders)),
        Arc::new(PageTool(html_a11y::HtmlA11y)),
    ]
}
