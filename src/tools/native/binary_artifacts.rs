//! The `binary-artifacts` tool: build outputs and archives committed to the
//! source tree (executables, shared libraries, object files, class files and
//! jars, Python bytecode, zip and tar archives). They bloat every clone,
//! cannot be reviewed, and drift from the code they were built from.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, Origin, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "binary-artifacts",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Committed executables, libraries, object files, bytecode and archives",
};

const HELP: &str = "https://git-scm.com/docs/gitignore";

/// (rule, severity, extensions, what)
const KINDS: &[(&str, Severity, &[&str], &str)] = &[
    (
        "committed-binary",
        Severity::Medium,
        &[
            "exe", "dll", "so", "dylib", "o", "obj", "a", "lib", "class", "pyc", "pyo", "wasm",
        ],
        "a compiled binary; build it in CI instead and ignore it",
    ),
    (
        "committed-archive",
        Severity::Low,
        &[
            "zip", "tar", "tgz", "gz", "bz2", "xz", "7z", "rar", "jar", "war", "whl",
        ],
        "an archive; its contents cannot be reviewed or diffed, keep it in a release or package registry",
    ),
];

pub struct BinaryArtifacts;

impl FileCheck for BinaryArtifacts {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    /// Every file: committed binaries are what it looks for.
    fn sees(&self, _origin: Origin) -> bool {
        true
    }

    fn needs_text(&self) -> bool {
        false
    }

    fn check(&self, file: &FileEntry, _text: Option<&str>, out: &mut Vec<Finding>) {
        let lower = file.rel.to_ascii_lowercase();
        // Test fixtures and vendored dependencies hold archives on purpose.
        if lower
            .split('/')
            .any(|dir| matches!(dir, "fixtures" | "testdata" | "vendor" | "third_party"))
        {
            return;
        }
        let Some((_, ext)) = lower.rsplit_once('.') else {
            return;
        };
        let Some(&(rule, severity, _, what)) = KINDS.iter().find(|k| k.2.contains(&ext)) else {
            return;
        };
        out.push(
            Finding::new(rule, severity, format!("{} is {what}", file.rel))
                .at_path(&file.rel, None, None)
                .with_help(HELP)
                .fingerprinted(rule),
        );
    }
}
