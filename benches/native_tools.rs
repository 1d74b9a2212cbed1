//! The native directory tools on a large real tree: each tool alone (time,
//! what it read, MB/s), all of them at once as a session runs them, and
//! `secrets` beside ripgrep looking for the same keywords on one thread
//! (and detect-secrets, when installed, given up after `DETECT_SECRETS_SECONDS`).
//!
//! Run: `cargo bench --bench native_tools -- [DIR]` (default: the crate
//! sources under ~/.cargo/registry/src). `TOOLS=secrets,complexity` runs
//! only those tools alone. The tree is read once first, so every run starts
//! with it in the page cache.

/// jemalloc, as in `livescan serve`, which runs these tools: tree-sitter
/// allocates a great deal, and under glibc's allocator `complexity` took
/// 8.6–8.9 s after the other tools had run against 7.1 s when run alone.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use livescan::model::{Metric, TargetKind};
use livescan::tools::{
    Fetcher, FileCheck, FileTool, FindingSink, Inventory, Origin, Pages, SharedRuns, Tool, ToolContext,
    ToolTarget, Workspace, native,
};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

/// One run of one tool: how long it took, what it read and found.
struct Run {
    elapsed: Duration,
    bytes_read: u64,
    findings: usize,
}

fn metric(metrics: &[Metric], name: &str) -> u64 {
    metrics
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.value.parse().ok())
        .unwrap_or(0)
}

/// Runs `tool` in a session that runs `shared`'s tools.
async fn run(tool: Arc<dyn Tool>, inventory: Arc<Inventory>, shared: Arc<SharedRuns>) -> Run {
    let findings = FindingSink::default();
    let ctx = Arc::new(ToolContext {
        target: ToolTarget::Directory(inventory),
        deadline: Instant::now() + Duration::from_secs(3600),
        cancel: CancellationToken::new(),
        findings: findings.clone(),
        pages: Pages::new(Arc::new(Fetcher::new(false))),
        workspace: Arc::new(Workspace::scratch(std::env::temp_dir().join("livescan-bench"))),
        shared,
        capacity: Default::default(),
    });
    let id = tool.spec().id;
    let started = Instant::now();
    tool.run(ctx)
        .await
        .unwrap_or_else(|e| panic!("{id} completes: {e}"));
    let elapsed = started.elapsed();
    let metrics = findings.take_metrics();
    Run {
        elapsed,
        bytes_read: metric(&metrics, "bytes read"),
        findings: findings.take().len() + findings.take_omitted().count as usize,
    }
}

/// Seconds ripgrep takes on one thread to find every secrets keyword in
/// `root` (case-insensitive literals, the same files the walk sees), or
/// why it could not run.
fn ripgrep(root: &Path) -> Result<Duration, String> {
    let mut command = Command::new("rg");
    command
        .args([
            "-j1",
            "--no-require-git",
            "--hidden",
            "-i",
            "-F",
            "-c",
            "--glob",
            "!.git",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for keyword in native::secrets::keywords() {
        command.arg("-e").arg(keyword);
    }
    let started = Instant::now();
    let status = command
        .arg(root)
        .status()
        .map_err(|e| format!("not installed ({e}); `apt-get install ripgrep`"))?;
    // 1 is "no match", which is a completed search too.
    match status.code() {
        Some(0 | 1) => Ok(started.elapsed()),
        _ => Err(format!("failed ({status})")),
    }
}

/// detect-secrets over the corpus, for comparison; given up after
/// `DETECT_SECRETS_SECONDS` (default 120: on the default corpus it is far
/// slower than everything else here, and it runs on one core).
fn detect_secrets(root: &Path) -> Result<(Duration, usize), String> {
    let program = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/detect-secrets/bin/detect-secrets");
    if !program.exists() {
        return Err("not installed (scripts/install-test-tools installs it)".into());
    }
    let limit = Duration::from_secs(
        std::env::var("DETECT_SECRETS_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    // Its report goes to a file: a pipe nobody reads while it runs could fill and stall it.
    let mut report = tempfile::tempfile().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(&program)
        .args(["scan", "--all-files", "."])
        .current_dir(root)
        .stdout(report.try_clone().map_err(|e| e.to_string())?)
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > limit {
            // The whole group: it may have started workers of its own.
            // SAFETY: kill(2) on a process group this bench started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Err(format!(
                "gave up after {} s (DETECT_SECRETS_SECONDS sets the limit)",
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    let mut output = Vec::new();
    std::io::Seek::rewind(&mut report).map_err(|e| e.to_string())?;
    std::io::Read::read_to_end(&mut report, &mut output).map_err(|e| e.to_string())?;
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap_or_default();
    let count = report["results"].as_object().map_or(0, |files| {
        files.values().filter_map(|v| v.as_array()).map(Vec::len).sum()
    });
    Ok((elapsed, count))
}

/// How long tree-sitter alone takes, on one thread, to parse the files
/// `complexity` measures: the least that tool can cost.
fn parse_floor(inventory: &Inventory) -> Duration {
    let mut parsing = Duration::ZERO;
    for file in inventory.files_seen(|o| o == Origin::Source) {
        if !native::complexity::Complexity.wants(file) {
            continue;
        }
        let Some(text) = inventory.read_text(file) else {
            continue;
        };
        let started = Instant::now();
        let tree = native::complexity::parse(&file.rel, &text);
        parsing += started.elapsed();
        drop(tree);
    }
    parsing
}

fn main() {
    let root = corpus();
    let inventory =
        Arc::new(Inventory::walk(&root, &[], &CancellationToken::new()).expect("the corpus is readable"));
    let text_bytes: u64 = inventory
        .files()
        .iter()
        .filter_map(|f| inventory.read_text(f).map(|t| t.len() as u64))
        .sum();
    println!(
        "corpus: {} ({} files, {:.1} MB of text)",
        root.display(),
        inventory.files().len(),
        text_bytes as f64 / 1e6
    );

    let chosen: Option<Vec<String>> = std::env::var("TOOLS")
        .ok()
        .map(|list| list.split(',').map(str::to_string).collect());
    let tools: Vec<Arc<dyn Tool>> = native::all(&Default::default())
        .into_iter()
        .filter(|t| t.spec().targets.contains(&TargetKind::Directory))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");

    println!("\n| tool (alone) | seconds | MB read | MB/s | findings |");
    println!("|---|---|---|---|---|");
    let (mut secrets, mut complexity) = (None, None);
    let mut sum = Duration::ZERO;
    for tool in &tools {
        let id = tool.spec().id;
        if chosen.as_ref().is_some_and(|c| !c.iter().any(|t| t == id)) {
            continue;
        }
        let alone = SharedRuns::new([id.to_string()]);
        let result = runtime.block_on(run(tool.clone(), inventory.clone(), alone));
        println!(
            "| {id} | {:.2} | {:.1} | {:.0} | {} |",
            result.elapsed.as_secs_f64(),
            result.bytes_read as f64 / 1e6,
            mb_per_s(result.bytes_read, result.elapsed),
            result.findings
        );
        sum += result.elapsed;
        match id {
            "secrets" => secrets = Some(result),
            "complexity" => complexity = Some(result),
            _ => {}
        }
    }
    println!("| sum | {:.2} | | | |", sum.as_secs_f64());

    // All at once, as one session runs them (the engine lets a session run
    // every selected tool; the blocking pool spreads them over the cores),
    // and all but `complexity`, whose parsing is a floor of its own.
    let at_once = |tools: Vec<Arc<dyn Tool>>| {
        let session = SharedRuns::new(tools.iter().map(|tool| tool.spec().id.to_string()));
        let started = Instant::now();
        runtime.block_on(futures::future::join_all(
            tools
                .into_iter()
                .map(|tool| run(tool, inventory.clone(), session.clone())),
        ));
        started.elapsed()
    };
    let (all, but_complexity) = if chosen.is_none() {
        let others = tools
            .iter()
            .filter(|t| t.spec().id != "complexity")
            .cloned()
            .collect();
        (Some(at_once(tools.clone())), Some(at_once(others)))
    } else {
        (None, None)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let floor = parse_floor(&inventory) / cores as u32;
    // The baseline: `secrets` on one core, as every tool ran before the
    // cheap ones came to share one read on every core.
    let one_core = secrets.is_some().then(|| {
        let secrets = Arc::new(FileTool(native::secrets::Secrets::new()));
        runtime.block_on(run(
            secrets,
            inventory.clone(),
            SharedRuns::new(["secrets".to_string()]),
        ))
    });

    println!("\n| metric | goal | measured | baseline (same run) | ratio |");
    println!("|---|---|---|---|---|");
    if let (Some(secrets), Some(one_core)) = (&secrets, &one_core) {
        println!(
            "| `secrets` alone on {cores} cores, as a session runs it | | {:.2} s | on one core: {:.2} s | {:.2}× |",
            secrets.elapsed.as_secs_f64(),
            one_core.elapsed.as_secs_f64(),
            secrets.elapsed.as_secs_f64() / one_core.elapsed.as_secs_f64()
        );
    }
    if let (Some(all), Some(but_complexity), Some(one_core)) = (all, but_complexity, &one_core) {
        let secrets = one_core.elapsed.as_secs_f64();
        println!(
            "| all {} native directory tools at once | ≤ 5× secrets alone on one core | {:.2} s | secrets on one core: {secrets:.2} s | {:.1}× |",
            tools.len(),
            all.as_secs_f64(),
            all.as_secs_f64() / secrets
        );
        println!(
            "| the same without `complexity` | ≤ 5× secrets alone on one core | {:.2} s | secrets on one core: {secrets:.2} s | {:.1}× |",
            but_complexity.as_secs_f64(),
            but_complexity.as_secs_f64() / secrets
        );
    }
    if let Some(complexity) = &complexity {
        println!(
            "| `complexity` alone, on {cores} cores | ≤ 1.5× its parse floor | {:.2} s | tree-sitter parse of its files ÷ {cores} cores: {:.2} s | {:.2}× |",
            complexity.elapsed.as_secs_f64(),
            floor.as_secs_f64(),
            complexity.elapsed.as_secs_f64() / floor.as_secs_f64()
        );
    }
    if let Some(secrets) = &one_core {
        let ours = mb_per_s(secrets.bytes_read, secrets.elapsed);
        match ripgrep(&root) {
            Ok(rg) => println!(
                "| secrets throughput on one core | ≥ 150 MB/s, within 1.5× of ripgrep | {ours:.0} MB/s | ripgrep -j1, same keywords: {:.0} MB/s | {:.2}× |",
                mb_per_s(text_bytes, rg),
                mb_per_s(text_bytes, rg) / ours
            ),
            Err(why) => println!(
                "| secrets throughput on one core | ≥ 150 MB/s | {ours:.0} MB/s | ripgrep: {why} | |"
            ),
        }
        match detect_secrets(&root) {
            Ok((elapsed, count)) => println!(
                "\ndetect-secrets: {:.2} s, {:.1} MB/s, {count} findings (livescan secrets: {} findings)",
                elapsed.as_secs_f64(),
                mb_per_s(text_bytes, elapsed),
                secrets.findings
            ),
            Err(why) => println!("\ndetect-secrets: {why}"),
        }
    }
}
