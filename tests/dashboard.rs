//! The dashboard at `/`, driven in headless Chromium against a real server:
//! `tests/dashboard/e2e.cjs` (playwright-core, from `scripts/install-test-tools`)
//! pastes a key, starts scans from the form, and must see tool rows while the
//! session still runs — a gate tool holds each session open until the
//! script says it has seen them — then the summary with the refund, once
//! over server-sent events and once over polling; a third scan is cancelled
//! from the page while held. Screenshots go to `target/dashboard*.png`.

mod common;

use common::{Broken, TestServer, fixtures};
use futures::future::BoxFuture;
use livescan::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use livescan::tools::{Catalog, Tool, ToolContext, ToolError, ToolSpec};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Holds its n-th run until the test has let `n` runs through.
struct Gate {
    spec: ToolSpec,
    runs: AtomicU64,
    let_through: tokio::sync::watch::Receiver<u64>,
}

impl Tool for Gate {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ticket = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
            let mut let_through = self.let_through.clone();
            let _ = let_through.wait_for(|n| *n >= ticket).await;
            ctx.findings.extend([Finding::new(
                "held-open",
                Severity::Medium,
                "the test held this tool until the page showed the first rows",
            )
            .fingerprinted("gate")]);
            Ok(())
        })
    }
}

/// The package directory of playwright-core, as `scripts/install-test-tools` installs it.
fn playwright_core() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/browser/node_modules/playwright-core");
    assert!(
        dir.exists() && Path::new("/usr/bin/chromium").exists(),
        "playwright-core ({}) or /usr/bin/chromium is missing: run scripts/install-test-tools (or the whole suite with scripts/test)",
        dir.display()
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_rows_live_then_the_summary_and_refund_in_chromium() {
    let playwright = playwright_core();
    let (open, let_through) = tokio::sync::watch::channel(0u64);
    // A small catalog: native tools of each category, one that fails (and
    // is refunded), and the gate.
    let builtin = Catalog::builtin();
    let mut catalog = Catalog::default();
    for id in [
        "secrets",
        "merge-conflicts",
        "todo-comments",
        "large-files",
        "html-a11y",
    ] {
        catalog.add(builtin.get(id).unwrap().clone());
    }
    catalog.add(Arc::new(Gate {
        spec: ToolSpec {
            id: "gate",
            category: Category::Security,
            ecosystem: Ecosystem::Any,
            targets: &[TargetKind::Directory],
            cost: 1,
            summary: "holds the session open for the test",
        },
        runs: AtomicU64::new(0),
        let_through,
    }));
    catalog.add(Arc::new(Broken::new(Category::Performance)));
    let server = TestServer::with_catalog(catalog, 8).await;
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&screenshots).unwrap();

    let mut child = tokio::process::Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard/e2e.cjs"))
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("DASHBOARD_URL", &server.base)
        .env("API_KEY", &server.key)
        .env("TARGET_DIR", fixtures().join("dir-planted"))
        .env("SCREENSHOT_DIR", &screenshots)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut transcript = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("ROWS_SEEN") {
                // The page has shown rows of a running session: let it finish.
                open.send_modify(|n| *n += 1);
            }
            transcript.push(line);
        }
        child.wait_with_output().await.unwrap()
    };
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("the browser run finished within 2 minutes");
    let transcript = transcript.join("\n");
    assert!(
        output.status.success(),
        "{transcript}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(transcript.ends_with("DONE"), "{transcript}");
    for transport in ["sse", "poll"] {
        let seen = transcript
            .lines()
            .find(|l| l.starts_with(&format!("ROWS_SEEN {transport} ")))
            .unwrap_or_else(|| panic!("no rows seen mid-scan over {transport}:\n{transcript}"));
        assert!(!seen.contains(" 7/7 "), "{seen}");
        let final_line = transcript
            .lines()
            .find(|l| l.starts_with(&format!("FINAL {{\"transport\":\"{transport}\"")))
            .unwrap();
        let state: serde_json::Value = serde_json::from_str(final_line.trim_start_matches("FINAL ")).unwrap();
        assert_eq!(state["status"], "partial", "{state}");
        assert_eq!(state["progress"], "7/7 tools complete (100%)", "{state}");
        assert!(
            state["refund"]
                .as_str()
                .unwrap()
                .starts_with("Refunded 3 credits for html-a11y, broken · balance "),
            "{state}"
        );
        let rows = state["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 7, "{state}");
        let colour_of = |tool: &str| {
            rows.iter()
                .find(|r| r["tool"] == tool)
                .unwrap_or_else(|| panic!("no row for {tool}: {state}"))
        };
        // Coloured by the worst severity: red for critical, orange for high.
        assert_eq!(colour_of("secrets")["severity"], "critical");
        assert_eq!(colour_of("secrets")["colour"], "rgb(198, 40, 40)");
        assert_eq!(colour_of("merge-conflicts")["severity"], "high");
        assert_eq!(colour_of("merge-conflicts")["colour"], "rgb(239, 108, 0)");
        assert_eq!(colour_of("gate")["severity"], "medium");
        assert_eq!(colour_of("broken")["classes"], "tool failed sev-none");
        assert_eq!(colour_of("large-files")["colour"], "rgb(46, 125, 50)");
        assert_ne!(state["critical"], "0", "{state}");
        // The analysis: a grade, what to fix first, and the issues with filters that work.
        let analysis = &state["analysis"];
        assert!(
            ["D+", "D", "D-", "F"].contains(&analysis["grade"].as_str().unwrap()),
            "{analysis}"
        );
        let priorities = analysis["priorities"].as_array().unwrap();
        assert!(!priorities.is_empty(), "{analysis}");
        assert!(
            priorities[0].as_str().unwrap().starts_with("critical"),
            "{analysis}"
        );
        assert!(priorities[0].as_str().unwrap().contains("Do: "), "{analysis}");
        let filtered = |key: &str, field: &str, value: &str| {
            let rows = analysis[key].as_array().unwrap();
            assert!(!rows.is_empty(), "no {key} rows: {analysis}");
            assert!(
                rows.len() < analysis["issues"].as_u64().unwrap() as usize,
                "{key} filtered nothing"
            );
            assert!(rows.iter().all(|r| r[field] == value), "{key}: {analysis}");
        };
        filtered("critical", "severity", "critical");
        filtered("codeQuality", "category", "code-quality");
        let searched = analysis["searched"].as_array().unwrap();
        assert!(!searched.is_empty(), "{analysis}");
        assert!(
            searched
                .iter()
                .all(|r| r["text"].as_str().unwrap().to_lowercase().contains("merge"))
        );
        assert!(
            analysis["shownText"].as_str().unwrap().contains(" of "),
            "{analysis}"
        );
    }
    // The third scan, cancelled from the page while the gate held it.
    let cancelled: serde_json::Value = serde_json::from_str(
        transcript
            .lines()
            .find_map(|l| l.strip_prefix("CANCELLED "))
            .unwrap_or_else(|| panic!("no cancelled scan:\n{transcript}")),
    )
    .unwrap();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["progress"], "7/7 tools complete (100%)", "{cancelled}");
    let refund = cancelled["refund"].as_str().unwrap();
    assert!(
        refund.contains("broken") && refund.contains("gate"),
        "the held and the failed tool come back: {cancelled}"
    );
    let screenshot = std::fs::metadata(screenshots.join("dashboard.png")).unwrap();
    assert!(screenshot.len() > 10_000, "a real screenshot, not an empty one");
}
