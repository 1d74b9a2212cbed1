//! The `missing-lockfile` tool: dependency manifests without the lock file
//! that pins them (`package.json` without a lock, `Pipfile` without
//! `Pipfile.lock`, a Poetry project without `poetry.lock`, `go.mod` with
//! requirements but no `go.sum`, `Gemfile`, `composer.json`). Without one,
//! every install may pull different code, including a compromised release.

use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{
    FindingSink, Inventory, Origin, Tool, ToolContext, ToolError, ToolSpec, analyse_inventory,
};
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::sync::Arc;

static SPEC: ToolSpec = ToolSpec {
    id: "missing-lockfile",
    category: Category::Security,
    ecosystem: Ecosystem::Dependencies,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Dependency manifests (npm, Pipenv, Poetry, Go, Bundler, Composer) without their lock file",
};

const HELP: &str = "https://docs.npmjs.com/cli/configuring-npm/package-lock-json";

/// (manifest, lock files any of which pins it, what the manifest must hold to need one)
const MANIFESTS: &[(&str, &[&str], &str)] = &[
    (
        "package.json",
        &[
            "package-lock.json",
            "npm-shrinkwrap.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "bun.lockb",
            "bun.lock",
        ],
        "dependencies",
    ),
    ("Pipfile", &["Pipfile.lock"], "[packages]"),
    ("pyproject.toml", &["poetry.lock"], "[tool.poetry"),
    ("go.mod", &["go.sum"], "require"),
    ("Gemfile", &["Gemfile.lock"], "gem "),
    ("composer.json", &["composer.lock"], "require"),
];

/// Manifests are source, lock files generated; vendored copies are not ours.
fn manifest_or_lock(origin: Origin) -> bool {
    matches!(origin, Origin::Source | Origin::Generated)
}

fn scan(inventory: &Inventory, sink: &FindingSink) -> Vec<Finding> {
    let present: HashSet<&str> = inventory
        .files_seen(manifest_or_lock)
        .map(|f| f.rel.as_str())
        .collect();
    let mut findings = Vec::new();
    for file in inventory.files_seen(manifest_or_lock) {
        let (dir, name) = file
            .rel
            .rsplit_once('/')
            .map_or(("", file.rel.as_str()), |(d, n)| (d, n));
        if dir.split('/').any(|d| d == "node_modules" || d == "vendor") {
            continue;
        }
        let Some(&(_, locks, needs)) = MANIFESTS.iter().find(|m| m.0 == name) else {
            continue;
        };
        let locked = locks.iter().any(|lock| {
            let path = if dir.is_empty() {
                lock.to_string()
            } else {
                format!("{dir}/{lock}")
            };
            present.contains(path.as_str())
        });
        // A workspace member's lock lives at the workspace root.
        let root_locked = !dir.is_empty() && locks.iter().any(|lock| present.contains(lock));
        if locked || root_locked {
            continue;
        }
        let Some(text) = inventory.read_text(file) else {
            continue;
        };
        sink.read(text.len());
        if !text.contains(needs) {
            continue;
        }
        findings.push(
            Finding::new(
                "missing-lockfile",
                Severity::Low,
                format!("{} has dependencies but no {} beside it; commit the lock file so every install gets the same versions", file.rel, locks[0]),
            )
            .at_path(&file.rel, None, None)
            .with_help(HELP)
            .with_cwe(1357)
            .fingerprinted(name),
        );
    }
    findings
}

pub struct MissingLockfile;

impl Tool for MissingLockfile {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn sees(&self, origin: Origin) -> bool {
        manifest_or_lock(origin)
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move { analyse_inventory(&ctx, |inventory, sink| Ok(scan(inventory, sink))).await })
    }
}
