//! Throughput of the `secrets` tool on a large real corpus, beside
//! detect-secrets on the same directory when it is installed.
//!
//! Run: `cargo bench --bench secrets_throughput -- [DIR]` (default: the
//! crate sources under ~/.cargo/registry/src). Prints the files and bytes
//! scanned, the findings, and MB/s for each scanner. The corpus is read once
//! first, so both scanners start with it in the page cache.

use livescan::tools::{Fetcher, FindingSink, Inventory, Pages, ToolContext, ToolTarget, native};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn corpus() -> PathBuf {
    std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cargo/registry/src")
        })
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1_000_000.0 / elapsed.as_secs_f64()
}

fn main() {
    let root = corpus();
    let inventory = Inventory::walk(&root, &[], &CancellationToken::new()).expect("the corpus is readable");
    let (files, bytes) = inventory
        .files()
        .iter()
        .filter_map(|f| inventory.read_text(f).map(|t| t.len() as u64))
        .fold((0u64, 0u64), |(n, b), len| (n + 1, b + len));
    println!(
        "corpus: {} ({files} text files, {:.1} MB)",
        root.display(),
        bytes as f64 / 1e6
    );

    let secrets = native::all(&Default::default())
        .into_iter()
        .find(|t| t.spec().id == "secrets")
        .expect("the secrets tool");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let findings = FindingSink::default();
    let ctx = Arc::new(ToolContext {
        target: ToolTarget::Directory(Arc::new(inventory)),
        deadline: Instant::now() + Duration::from_secs(3600),
        cancel: CancellationToken::new(),
        findings: findings.clone(),
        pages: Pages::new(Arc::new(Fetcher::new(false))),
        workspace: Arc::new(livescan::tools::Workspace::scratch(
            std::env::temp_dir().join("livescan-tests"),
        )),
    });
    let started = Instant::now();
    runtime.block_on(secrets.run(ctx)).expect("the scan completes");
    let elapsed = started.elapsed();
    println!(
        "livescan secrets: {:.2} s, {:.1} MB/s, {} findings",
        elapsed.as_secs_f64(),
        mb_per_s(bytes, elapsed),
        findings.take().len()
    );

    let detect_secrets =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/detect-secrets/bin/detect-secrets");
    if !detect_secrets.exists() {
        println!("detect-secrets: not installed (scripts/install-test-tools installs it)");
        return;
    }
    let started = Instant::now();
    let output = Command::new(&detect_secrets)
        .args(["scan", "--all-files", "."])
        .current_dir(&root)
        .output()
        .expect("detect-secrets runs");
    let elapsed = started.elapsed();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let count: usize = report["results"].as_object().map_or(0, |files| {
        files.values().filter_map(|v| v.as_array()).map(Vec::len).sum()
    });
    println!(
        "detect-secrets: {:.2} s, {:.1} MB/s, {count} findings (exit {:?})",
        elapsed.as_secs_f64(),
        mb_per_s(bytes, elapsed),
        output.status.code()
    );
}
