//! The whole catalog on one repository: `livescan scan DIR` (this build's
//! binary, its own process, every directory tool installed here) against
//! the same scan limited to the 45 directory tools the catalog had on
//! 2026-11-30, in the same run, alternating. The goal: the full catalog
//! takes under twice as long. Tools with nothing to analyse are skipped
//! without starting, so the repository should hold many languages.
//!
//! Run: `cargo bench --bench catalog -- [DIR]` (default: a copy of this
//! checkout's `clients/` and `tests/fixtures/external`, about 8,000 lines
//! in 18 languages; `ROUNDS=3`). Run `scripts/install-test-tools` first:
//! a scanner that is not installed is skipped and makes the figure lie.

mod common;

use common::setting;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The directory tools of the catalog of 2026-11-30.
const CATALOG_OF_2026_11_30: &[&str] = &[
    "secrets",
    "merge-conflicts",
    "todo-comments",
    "large-files",
    "dangerous-calls",
    "weak-crypto",
    "insecure-transport",
    "debug-statements",
    "sensitive-files",
    "vulnerable-dependencies",
    "dockerfile",
    "github-actions",
    "kubernetes",
    "missing-lockfile",
    "long-lines",
    "complexity",
    "duplicate-code",
    "binary-artifacts",
    "whitespace",
    "config-syntax",
    "large-assets",
    "unminified-assets",
    "html-a11y",
    "bandit",
    "cfn-lint",
    "checkov",
    "codespell",
    "detect-secrets",
    "eslint-security",
    "eslint",
    "flawfinder",
    "hadolint",
    "html-validate",
    "htmlhint",
    "lizard",
    "pylint",
    "ruff",
    "semgrep",
    "shellcheck",
    "spectral",
    "sqlfluff",
    "stylelint",
    "vulture",
    "yamllint",
    "zizmor",
];

/// Copies the files under `from` into `into`, leaving out installed
/// packages and build output.
fn copy_tree(from: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["node_modules", ".venv", "dist", "__pycache__"].contains(&name.to_str().unwrap_or_default()) {
            continue;
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &into.join(&name));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), into.join(&name)).unwrap();
        }
    }
}

/// Lines in the files under `dir`.
fn lines(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                lines(&entry.path())
            } else if kind.is_file() {
                std::fs::read(entry.path())
                    .map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count())
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

/// One scan: how long it took, and how many tools ran and were skipped.
struct Scan {
    elapsed: Duration,
    ran: usize,
    skipped: usize,
}

fn scan(dir: &Path, tools: Option<&[&str]>) -> Scan {
    let mut command = Command::new(env!("CARGO_BIN_EXE_livescan"));
    command.arg("scan").arg(dir).args(["--format", "json"]);
    if let Some(tools) = tools {
        command.arg("--tools").arg(tools.join(","));
    }
    let started = Instant::now();
    let output = command.stderr(Stdio::null()).output().expect("livescan runs");
    let elapsed = started.elapsed();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "livescan scan printed no report ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let reports = report["toolReports"].as_object().expect("a report per tool");
    let skipped = reports.values().filter(|r| r["status"] == "skipped").count();
    Scan {
        elapsed,
        ran: reports.len() - skipped,
        skipped,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let rounds: usize = setting("ROUNDS", 3).max(1);
    let copy = tempfile::tempdir().unwrap();
    let dir: PathBuf = match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
            copy_tree(&checkout.join("clients"), &copy.path().join("clients"));
            copy_tree(
                &checkout.join("tests/fixtures/external"),
                &copy.path().join("external"),
            );
            copy.path().to_path_buf()
        }
    };
    println!("{}: {} lines, {rounds} rounds", dir.display(), lines(&dir));
    let (mut full, mut then) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=rounds {
        let before = scan(&dir, Some(CATALOG_OF_2026_11_30));
        let now = scan(&dir, None);
        println!(
            "round {round}: catalog of 2026-11-30 {:.1} s ({} ran, {} skipped), full catalog {:.1} s ({} ran, {} skipped)",
            before.elapsed.as_secs_f64(),
            before.ran,
            before.skipped,
            now.elapsed.as_secs_f64(),
            now.ran,
            now.skipped
        );
        then.push(before.elapsed);
        full.push(now.elapsed);
        last = Some(now);
    }
    let (full, then) = (median(full), median(then));
    let tools = last.map_or(0, |scan| scan.ran + scan.skipped);
    println!("\n| metric | goal | measured | baseline (same run) | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| full catalog ({tools} directory tools) on one repository, median | ≤ 2× the 45 tools of 2026-11-30 | {:.1} s | those 45 tools: {:.1} s | {:.2}× |",
        full.as_secs_f64(),
        then.as_secs_f64(),
        full.as_secs_f64() / then.as_secs_f64().max(1e-9)
    );
}
