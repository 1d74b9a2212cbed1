//! The `unminified-assets` tool: JavaScript and CSS in the directories a
//! site is served from (`dist/`, `build/`, `public/`, `static/`, `assets/`,
//! ...) that were shipped unminified, and `*.min.*` files that are not
//! minified at all. Source directories are left alone: sources are meant to
//! be readable.

use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, Origin, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "unminified-assets",
    category: Category::Performance,
    ecosystem: Ecosystem::Web,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Unminified JavaScript and CSS in served directories (dist/, public/, static/, ...)",
};

const HELP: &str = "https://developer.chrome.com/docs/lighthouse/performance/unminified-javascript";
const SERVED_DIRS: &[&str] = &[
    "dist", "build", "public", "static", "assets", "www", "wwwroot", "_site", "out",
];
/// Smaller files gain too little from minification to matter.
const MIN_BYTES: u64 = 4 * 1024;

/// Whether text reads like source: many short, indented lines and comments.
fn looks_unminified(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 40 {
        return false;
    }
    let average = lines.iter().map(|l| l.len()).sum::<usize>() / lines.len();
    let indented = lines.iter().filter(|l| l.starts_with([' ', '\t'])).count();
    average < 100 && indented * 4 >= lines.len()
}

pub struct UnminifiedAssets;

impl FileCheck for UnminifiedAssets {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    /// Everything that is text: what ships is its concern, whoever wrote it
    /// (an unminified bundle in `dist/`, a `vendor/lib.min.js` that is not).
    fn sees(&self, origin: Origin) -> bool {
        origin != Origin::Binary
    }

    /// Large scripts and stylesheets named `.min.` or in a served directory.
    fn wants(&self, file: &FileEntry) -> bool {
        let lower = file.rel.to_ascii_lowercase();
        let asset = lower
            .rsplit_once('.')
            .is_some_and(|(_, ext)| matches!(ext, "js" | "mjs" | "css"));
        let served = lower
            .split('/')
            .rev()
            .skip(1)
            .any(|dir| SERVED_DIRS.contains(&dir));
        asset && file.size >= MIN_BYTES && (lower.contains(".min.") || served)
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        if !self.wants(file) || !looks_unminified(text) {
            return;
        }
        let named_min = file.rel.to_ascii_lowercase().contains(".min.");
        let message = if named_min {
            "named .min but not minified; the build step that should minify it did not run".to_string()
        } else {
            format!(
                "served unminified ({} KiB, {} lines); minify it in the build (esbuild, terser, lightningcss)",
                file.size / 1024,
                text.lines().count()
            )
        };
        out.push(
            Finding::new("unminified-asset", Severity::Low, message)
                .at_path(&file.rel, Some(to_u32(1)), None)
                .with_help(HELP)
                .fingerprinted("unminified-asset"),
        );
    }
}
