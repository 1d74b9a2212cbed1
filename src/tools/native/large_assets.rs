//! The `large-assets` tool: web assets heavy enough to slow a page down:
//! images over 300 KiB, fonts over 200 KiB, script and style bundles over
//! 500 KiB, videos over 2 MiB. Judged by extension and size alone.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, Origin, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "large-assets",
    category: Category::Performance,
    ecosystem: Ecosystem::Web,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Images over 300 KiB, fonts over 200 KiB, JS/CSS bundles over 500 KiB, videos over 2 MiB",
};

const KIB: u64 = 1024;
const HELP: &str = "https://web.dev/articles/fast#optimize_your_images";

/// (rule, extensions, limit in bytes, severity, advice)
const KINDS: &[(&str, &[&str], u64, Severity, &str)] = &[
    (
        "large-image",
        &[
            "png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "tif", "tiff", "svg",
        ],
        300 * KIB,
        Severity::Low,
        "compress it, resize it to the size it is shown at, or serve WebP/AVIF",
    ),
    (
        "large-font",
        &["woff", "woff2", "ttf", "otf", "eot"],
        200 * KIB,
        Severity::Low,
        "subset it to the characters you use and serve WOFF2",
    ),
    (
        "large-bundle",
        &["js", "mjs", "cjs", "css"],
        500 * KIB,
        Severity::Medium,
        "split it, drop unused code, and load what is not needed at first paint later",
    ),
    (
        "large-video",
        &["mp4", "webm", "mov", "m4v", "ogv"],
        2048 * KIB,
        Severity::Low,
        "stream it, or re-encode it at the size it is shown at",
    ),
];

pub struct LargeAssets;

impl FileCheck for LargeAssets {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    /// Everything but vendored copies (images and fonts are binary).
    fn sees(&self, origin: Origin) -> bool {
        origin != Origin::Vendored
    }

    fn needs_text(&self) -> bool {
        false
    }

    fn check(&self, file: &FileEntry, _text: Option<&str>, out: &mut Vec<Finding>) {
        let Some((_, ext)) = file.rel.rsplit_once('.') else {
            return;
        };
        let ext = ext.to_ascii_lowercase();
        let Some(&(rule, _, limit, severity, advice)) = KINDS.iter().find(|k| k.1.contains(&ext.as_str()))
        else {
            return;
        };
        if file.size <= limit {
            return;
        }
        out.push(
            Finding::new(
                rule,
                severity,
                format!(
                    "{} KiB (more than {} KiB); {advice}",
                    file.size / KIB,
                    limit / KIB
                ),
            )
            .at_path(&file.rel, None, None)
            .with_help(HELP)
            .fingerprinted(rule),
        );
    }
}
