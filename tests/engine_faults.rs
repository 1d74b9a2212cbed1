//! Faulty and slow tools against a real server: a panic or a hang becomes a
//! failed report with its reason and the session goes on; a timeout really
//! stops the tool; the per-session and global caps hold; the tools expected
//! to take longest start first.

mod common;

use common::{TestServer, fixtures};
use futures::future::BoxFuture;
use livescan::model::{Category, Ecosystem, TargetKind};
use livescan::model::{Finding, Severity};
use livescan::tools::{Availability, Catalog, Tool, ToolContext, ToolError, ToolSpec};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const DIR: &[TargetKind] = &[TargetKind::Directory];

fn spec(id: &'static str) -> ToolSpec {
    ToolSpec {
        id,
        category: Category::CodeQuality,
        ecosystem: Ecosystem::Any,
        targets: DIR,
        cost: 1,
        summary: "test tool",
    }
}

/// Panics mid-run after producing a finding.
struct Panics(ToolSpec);

impl Tool for Panics {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            ctx.findings
                .extend([Finding::new("before-panic", Severity::Low, "found first").fingerprinted("x")]);
            panic!("index out of bounds in the analyzer");
        })
    }
}

/// Never returns on its own: an async wait that only stops when dropped.
struct HangsAsync(ToolSpec);

impl Tool for HangsAsync {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            ctx.findings.extend([
                Finding::new("partial", Severity::Medium, "found before the hang").fingerprinted("y")
            ]);
            std::future::pending::<()>().await;
            Ok(())
        })
    }
}

/// Busy blocking work that checks its cancellation token, recording when it stopped.
struct SpinsBlocking {
    spec: ToolSpec,
    stopped: Arc<AtomicBool>,
}

impl Tool for SpinsBlocking {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let stopped = self.stopped.clone();
            tokio::task::spawn_blocking(move || {
                while !ctx.cancel.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                stopped.store(true, Ordering::SeqCst);
                Err(ToolError::Cancelled)
            })
            .await
            .unwrap()
        })
    }
}

/// Tracks how many instances run at once.
struct Gauge {
    spec: ToolSpec,
    now: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Tool for Gauge {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn run(self: Arc<Self>, _ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let running = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(40)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// Takes its time, noting when it started.
struct Timed {
    spec: ToolSpec,
    millis: u64,
    weight: usize,
    starts: Arc<std::sync::Mutex<Vec<&'static str>>>,
}

impl Tool for Timed {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn weight(&self) -> usize {
        self.weight
    }
    fn run(self: Arc<Self>, _ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            self.starts.lock().unwrap().push(self.spec.id);
            tokio::time::sleep(Duration::from_millis(self.millis)).await;
            Ok(())
        })
    }
}

fn directory() -> String {
    fixtures().join("dir-clean").display().to_string()
}

#[tokio::test]
async fn panics_and_hangs_fail_their_tool_and_the_session_goes_on() {
    let stopped = Arc::new(AtomicBool::new(false));
    let mut catalog = Catalog::builtin();
    catalog.add(Arc::new(Panics(spec("panics"))));
    catalog.add(Arc::new(HangsAsync(spec("hangs"))));
    catalog.add(Arc::new(SpinsBlocking {
        spec: spec("spins"),
        stopped: stopped.clone(),
    }));
    let server = TestServer::with_catalog(catalog, 16).await;
    let id = server
        .start_session(json!({
            "target": { "directory": directory() },
            "tools": ["panics", "hangs", "spins", "todo-comments"],
            "timeout": 1500
        }))
        .await;
    let session = server.wait_finished(&id).await;
    assert_eq!(session["status"], "partial", "{session}");
    let report = |tool: &str| session["toolReports"][tool].clone();

    let panicked = report("panics");
    assert_eq!(panicked["status"], "failed");
    assert_eq!(panicked["result"]["outcome"], "tool_error");
    let reason = panicked["result"]["error"].as_str().unwrap();
    assert!(
        reason.contains("crashed") && reason.contains("index out of bounds"),
        "{reason}"
    );

    let hung = report("hangs");
    assert_eq!(hung["status"], "failed");
    assert_eq!(hung["result"]["outcome"], "timed_out");
    assert!(
        hung["result"]["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 1500 ms")
    );
    assert_eq!(
        hung["result"]["partial"], true,
        "findings before the deadline are kept"
    );
    assert_eq!(hung["findingsCount"], 1);
    assert!(hung["duration"].as_u64().unwrap() >= 1500);

    assert_eq!(report("spins")["result"]["outcome"], "timed_out");
    // The blocking work saw its token and really stopped.
    for _ in 0..200 {
        if stopped.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stopped.load(Ordering::SeqCst), "the timed-out tool kept running");

    assert_eq!(report("todo-comments")["status"], "completed");
    let progress = &session["progress"];
    assert_eq!(
        (progress["completed"].as_u64(), progress["failed"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(session["summary"]["toolsFailed"], 3);

    // The server is still serving.
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn per_session_and_global_caps_hold() {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let ids: Vec<&'static str> = vec!["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"];
    let mut catalog = Catalog::builtin();
    for id in &ids {
        catalog.add(Arc::new(Gauge {
            spec: spec(id),
            now: now.clone(),
            peak: peak.clone(),
        }));
    }
    let server = TestServer::with_catalog(catalog, 3).await;

    // One session alone with maxConcurrent 2 never exceeds 2.
    let id = server
        .start_session(json!({ "target": { "directory": directory() }, "tools": ids, "maxConcurrent": 2 }))
        .await;
    server.wait_finished(&id).await;
    assert_eq!(peak.load(Ordering::SeqCst), 2);

    // Three sessions with maxConcurrent 8 share the global cap of 3.
    peak.store(0, Ordering::SeqCst);
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(
            server
                .start_session(
                    json!({ "target": { "directory": directory() }, "tools": ids, "maxConcurrent": 8 }),
                )
                .await,
        );
    }
    for id in &sessions {
        let session = server.wait_finished(id).await;
        assert_eq!(session["status"], "completed");
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

/// A tool that cannot run on this machine.
struct NotInstalled(ToolSpec);

impl Tool for NotInstalled {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    fn availability(&self) -> Availability {
        Availability::Unavailable {
            reason: "`scanner` is not on PATH".into(),
            install_hint: "pip install scanner".into(),
        }
    }
    fn run(self: Arc<Self>, _ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async { panic!("an unavailable tool is never run") })
    }
}

#[tokio::test]
async fn unavailable_tools_are_left_out_unless_asked_for_by_name() {
    let mut catalog = Catalog::builtin();
    catalog.add(Arc::new(NotInstalled(spec("absent"))));
    let server = TestServer::with_catalog(catalog, 16).await;

    let by_category = server
        .start_session(json!({ "target": { "directory": directory() }, "categories": ["code-quality"] }))
        .await;
    let session = server.wait_finished(&by_category).await;
    assert!(
        session["toolReports"].get("absent").is_none(),
        "not selected by category"
    );
    assert_eq!(session["status"], "completed");

    let by_name = server
        .start_session(
            json!({ "target": { "directory": directory() }, "tools": ["absent", "todo-comments"] }),
        )
        .await;
    let session = server.wait_finished(&by_name).await;
    assert_eq!(session["status"], "partial");
    let absent = &session["toolReports"]["absent"];
    assert_eq!(absent["status"], "skipped");
    let reason = absent["result"]["skipReason"].as_str().unwrap();
    assert!(
        reason.contains("not installed") && reason.contains("pip install scanner"),
        "{reason}"
    );

    let (_, tools) = server.get("/api/tools").await;
    let listed = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "absent")
        .unwrap()
        .clone();
    assert_eq!(listed["available"], false);
    assert_eq!(listed["installHint"], "pip install scanner");
}

/// Fails with a tool error while `broken` is set, else finds nothing.
struct Flaky {
    spec: ToolSpec,
    broken: Arc<AtomicBool>,
    runs: Arc<AtomicUsize>,
}

impl Tool for Flaky {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn run(self: Arc<Self>, _ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            self.runs.fetch_add(1, Ordering::SeqCst);
            if self.broken.load(Ordering::SeqCst) {
                return Err(ToolError::Failed("exit status 2: config error".into()));
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn repeated_tool_errors_open_the_circuit_until_a_trial_succeeds() {
    let broken = Arc::new(AtomicBool::new(true));
    let runs = Arc::new(AtomicUsize::new(0));
    let mut catalog = Catalog::builtin();
    catalog.add(Arc::new(Flaky {
        spec: spec("flaky"),
        broken: broken.clone(),
        runs: runs.clone(),
    }));
    let server = TestServer::with_config(catalog, |config| {
        config.breaker_threshold = 3;
        config.breaker_cooldown = Duration::from_millis(400);
    })
    .await;
    let body = json!({ "target": { "directory": directory() }, "tools": ["flaky"] });
    let circuit = |tools: &serde_json::Value| {
        tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "flaky")
            .unwrap()["circuit"]
            .clone()
    };
    for _ in 0..3 {
        let id = server.start_session(body.clone()).await;
        let session = server.wait_finished(&id).await;
        assert_eq!(session["toolReports"]["flaky"]["result"]["outcome"], "tool_error");
    }
    let (_, tools) = server.get("/api/tools").await;
    assert_eq!(circuit(&tools)["state"], "open", "{tools}");
    assert_eq!(circuit(&tools)["failures"], 3);
    assert!(circuit(&tools)["retryAt"].is_string());

    // Open: skipped without running, and refunded.
    let id = server.start_session(body.clone()).await;
    let session = server.wait_finished(&id).await;
    let report = &session["toolReports"]["flaky"];
    assert_eq!(report["status"], "skipped");
    let reason = report["result"]["skipReason"].as_str().unwrap();
    assert!(reason.contains("circuit open after 3 tool errors"), "{reason}");
    assert_eq!(session["refund"]["toolsRefunded"], json!(["flaky"]));
    assert_eq!(runs.load(Ordering::SeqCst), 3, "not run while open");

    // After the cool-down one trial runs; it succeeds and closes the circuit.
    broken.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (_, tools) = server.get("/api/tools").await;
    assert_eq!(circuit(&tools)["state"], "half-open");
    let id = server.start_session(body.clone()).await;
    let session = server.wait_finished(&id).await;
    assert_eq!(session["toolReports"]["flaky"]["status"], "completed");
    let (_, tools) = server.get("/api/tools").await;
    assert_eq!(circuit(&tools), json!({ "state": "closed", "failures": 0 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tool_starts_after_a_cancel() {
    let mut catalog = Catalog::builtin();
    catalog.add(Arc::new(HangsAsync(spec("hangs"))));
    let server = TestServer::with_catalog(catalog, 16).await;
    // The cancel stops `hangs`, which frees the one permit right after the
    // cancel is seen: the next tool must not start (once seen in the event
    // log of a cancelled URL session). The run loop lets a cancel win over a
    // free permit, and the store refuses a start logged after a cancel.
    for _ in 0..12 {
        let id = server
            .start_session(json!({
                "target": {"directory": fixtures().join("dir-clean")},
                "tools": ["hangs", "todo-comments", "merge-conflicts"],
                "maxConcurrent": 1,
            }))
            .await;
        loop {
            let (_, progress) = server.get(&format!("/api/sessions/{id}?progress=true")).await;
            if progress["progress"]["running"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (status, _) = server
            .post(&format!("/api/sessions/{id}/cancel"), json!({}))
            .await;
        assert_eq!(status, 200);
        server.wait_finished(&id).await;
        let events = common::read_sse(
            server
                .client()
                .get(server.url(&format!("/api/sessions/{id}/events?after=0")))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
        let cancel = kinds.iter().position(|k| *k == "cancel_requested").unwrap();
        assert!(
            !kinds[cancel..].contains(&"tool_started"),
            "a tool started after the cancel: {kinds:?}"
        );
        assert_eq!(kinds.last(), Some(&"session_finished"));
    }
}

#[tokio::test]
async fn the_tools_expected_to_take_longest_start_first() {
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut catalog = Catalog::builtin();
    for (id, millis, weight) in [("quick", 10, 1), ("slow", 400, 1), ("wide", 10, 2)] {
        catalog.add(Arc::new(Timed {
            spec: spec(id),
            millis,
            weight,
            starts: starts.clone(),
        }));
    }
    let server = TestServer::with_catalog(catalog, 4).await;
    let body = json!({ "target": { "directory": directory() }, "tools": ["quick", "slow", "wide"], "maxConcurrent": 1 });
    // Never run here: the heavier first, equals in the order asked.
    let first = server.start_session(body.clone()).await;
    assert_eq!(server.wait_finished(&first).await["status"], "completed");
    assert_eq!(*starts.lock().unwrap(), ["wide", "quick", "slow"]);
    // Now their past runs say which is long.
    starts.lock().unwrap().clear();
    let second = server.start_session(body).await;
    assert_eq!(server.wait_finished(&second).await["status"], "completed");
    assert_eq!(starts.lock().unwrap()[0], "slow");
}
