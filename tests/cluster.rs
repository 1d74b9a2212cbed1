//! Several real `livescan` processes sharing one PostgreSQL database, made
//! for the test and dropped after it: API nodes that run no tools
//! (`serve --workers 0`), `worker` nodes that do, kill -9 of either kind in
//! the middle of a session, and racing starts spread over two nodes.
//!
//! The server is the machine's (`LIVESCAN_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Without one the tests say
//! that they skipped; with `CI` set they fail instead.

mod common;

use common::RealServer;
use futures::StreamExt;
use livescan::proto::watch_session_response::Event as Pushed;
use livescan::store::TemporaryDatabase;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

/// Lease of the workers here: how long a killed worker's session waits
/// before another worker resumes it.
const LEASE: &str = "2s";

/// A database of the test's own, or `None` where no PostgreSQL answers
/// (said on stderr; a failure under CI).
async fn database() -> Option<TemporaryDatabase> {
    let url = std::env::var("LIVESCAN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match TemporaryDatabase::create(&url).await {
        Ok(database) => Some(database),
        Err(err) if std::env::var_os("CI").is_some() => panic!("PostgreSQL at {url}: {err}"),
        Err(err) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: no PostgreSQL at {url} ({err}); LIVESCAN_TEST_POSTGRES sets the server"
            );
            None
        }
    }
}

/// An API node on the shared database: it answers clients and runs no tools.
fn api_node(database: &TemporaryDatabase, data_dir: &std::path::Path) -> RealServer {
    let url = database.url();
    RealServer::start_with(
        data_dir,
        "127.0.0.1:0",
        "info",
        &["--database-url", &url, "--workers", "0"],
    )
}

/// A worker node on the shared database.
fn worker(database: &TemporaryDatabase, data_dir: &std::path::Path) -> RealServer {
    let url = database.url();
    RealServer::worker(data_dir, &["--database-url", &url, "--lease", LEASE])
}

fn log_of(node: &RealServer) -> String {
    node.log.lock().unwrap().clone()
}

/// Waits until `check` holds, up to 30 s.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// The SSE events of a session on `base` after `after`, until the stream
/// ends: cleanly at the session's end, or cut (its node killed).
async fn sse_events(client: reqwest::Client, base: String, id: String, after: u64) -> Vec<(u64, String)> {
    let url = format!("{base}/api/sessions/{id}/events?after={after}");
    let Ok(mut response) = client.get(url).send().await else {
        return Vec::new();
    };
    let mut text = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Only whole events: a cut stream may end mid-event.
    let whole = &text[..text.rfind("\n\n").map_or(0, |end| end + 2)];
    whole
        .split("\n\n")
        .filter_map(|block| {
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))?
                .trim()
                .parse()
                .ok()?;
            let event = block.lines().find_map(|l| l.strip_prefix("event:"))?.trim();
            Some((id, event.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_on_one_node_is_run_by_a_worker_and_seen_whole_on_every_node() {
    let Some(database) = database().await else { return };
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut a = api_node(&database, dirs[0].path());
    let b = api_node(&database, dirs[1].path());
    let mut workers = [
        Some(worker(&database, dirs[2].path())),
        Some(worker(&database, dirs[3].path())),
    ];
    let (page, open_gate) = common::gated_page().await;

    // Started on A, which runs no tools: a worker claims it, and both its
    // tools wait at the gate.
    let body = json!({ "target": { "url": page }, "tools": ["http-headers", "exposed-paths"] });
    let id = common::start_with(&a.client(), &a.base, body).await;

    // Watched over gRPC on B, over SSE on A, and polled with `?after=` on B.
    let mut grpc = common::grpc_client(&b.base, &b.key).await;
    let mut watch = common::watch_from_snapshot(&mut grpc, &id).await;
    let grpc_events = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = watch.message().await.unwrap() {
            match message.event {
                Some(Pushed::Heartbeat(_)) | None => {}
                Some(Pushed::ToolFinished(report)) => {
                    seen.push((message.seq, format!("finished {}", report.tool_name)))
                }
                Some(other) => seen.push((
                    message.seq,
                    format!("{other:?}").split('(').next().unwrap().to_string(),
                )),
            }
        }
        seen
    });
    let sse_on_a = tokio::spawn(sse_events(a.client(), a.base.clone(), id.clone(), 0));
    let (poll_client, poll_base, poll_id) = (b.client(), b.base.clone(), id.clone());
    let poller = tokio::spawn(async move {
        let (mut cursor, mut reports) = (0, Vec::new());
        loop {
            let url = format!("{poll_base}/api/sessions/{poll_id}?after={cursor}");
            let view = common::get_json(&poll_client, &url).await;
            for report in view["newReports"].as_array().unwrap() {
                reports.push(report["toolName"].as_str().unwrap().to_string());
            }
            cursor = view["cursor"].as_u64().unwrap();
            if common::is_terminal(&view["status"]) {
                return reports;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    // The worker that claimed it is running its tools.
    let claimed = format!("claimed session session={id}");
    let mut holder = None;
    eventually("a worker claims the session", async || {
        holder = workers
            .iter()
            .position(|w| log_of(w.as_ref().unwrap()).contains(&claimed));
        holder.is_some()
    })
    .await;
    eventually("its tools run", async || {
        let view = common::get_json(&b.client(), &format!("{}/api/sessions/{id}", b.base)).await;
        view["progress"]["running"].as_u64() == Some(2)
    })
    .await;

    // kill -9 of API node A: its SSE client resumes on B from its cursor.
    a.kill();
    let before_kill = sse_on_a.await.unwrap();
    let cursor = before_kill.last().map_or(0, |(seq, _)| *seq);
    let sse_on_b = tokio::spawn(sse_events(b.client(), b.base.clone(), id.clone(), cursor));

    // kill -9 of the worker running the tools: the other one resumes the
    // session once the lease runs out, and runs both tools again.
    let holder = holder.unwrap();
    workers[holder].take().unwrap().kill();
    let survivor = workers[1 - holder].as_ref().unwrap();
    eventually("the other worker claims the session", async || {
        log_of(survivor).contains(&claimed)
    })
    .await;
    open_gate.send(true).unwrap();

    let session = common::wait_terminal(&b.client(), &b.base, &id).await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(session["progress"]["completed"], 2, "{session}");

    // gRPC on B saw every event after the snapshot once, in order, ending
    // with the end; SSE (A, then B from its cursor) saw the same events.
    let pushed = tokio::time::timeout(Duration::from_secs(30), grpc_events)
        .await
        .expect("the watch ends with the session")
        .unwrap();
    let seqs: Vec<u64> = pushed.iter().map(|(seq, _)| *seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "gap or repeat: {pushed:?}"
    );
    let names: Vec<&str> = pushed.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("finished ")).count(),
        2,
        "{names:?}"
    );
    assert!(names.contains(&"finished http-headers") && names.contains(&"finished exposed-paths"));
    assert_eq!(names.last(), Some(&"SessionFinished"), "{names:?}");

    let mut sse = before_kill;
    sse.extend(sse_on_b.await.unwrap());
    let sse_seqs: Vec<u64> = sse.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        sse_seqs,
        (1..=*seqs.last().unwrap()).collect::<Vec<_>>(),
        "{sse:?}"
    );
    assert!(
        sse_seqs.ends_with(&seqs),
        "SSE {sse_seqs:?} and gRPC {seqs:?} disagree"
    );
    assert_eq!(sse.iter().filter(|(_, e)| e == "tool_finished").count(), 2);
    assert_eq!(sse.iter().filter(|(_, e)| e == "session_finished").count(), 1);

    let mut polled = poller.await.unwrap();
    polled.sort();
    assert_eq!(polled, ["exposed-paths", "http-headers"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_starts_over_two_nodes_take_exactly_the_credits_there_are_and_refund_once() {
    let Some(database) = database().await else { return };
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = api_node(&database, dirs[0].path());
    let b = api_node(&database, dirs[1].path());
    let _worker = worker(&database, dirs[2].path());

    let tools = common::get_json(&a.client(), &format!("{}/api/tools", a.base)).await;
    let cost = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "http-headers")
        .unwrap()["cost"]
        .as_i64()
        .unwrap();
    let url = database.url();
    let credits = (10 * cost).to_string();
    let (code, key, err) = common::livescan(&[
        "keys",
        "create",
        "--name",
        "racer",
        "--credits",
        &credits,
        "--database-url",
        &url,
        "--data-dir",
        dirs[3].path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let client = common::http_with_key(key.trim());

    // A site that never answers: every tool times out, and is refunded.
    let site = common::web_site().await;
    let body = json!({ "target": { "url": format!("{site}/hang") }, "tools": ["http-headers"], "timeout": 1000, "enableIntelligence": false });
    let starts = (0..100).map(|i| {
        let (client, body) = (client.clone(), body.clone());
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        async move {
            let (status, answer) = common::try_start_with(&client, &base, &body).await;
            (status, answer, base)
        }
    });
    let answers = futures::stream::iter(starts)
        .buffer_unordered(100)
        .collect::<Vec<_>>()
        .await;
    let started: Vec<_> = answers.iter().filter(|(status, ..)| *status == 202).collect();
    let refused = answers.iter().filter(|(status, ..)| *status == 402).count();
    assert_eq!(
        (started.len(), refused),
        (10, 90),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );

    for (_, answer, base) in &started {
        let id = answer["sessionId"].as_str().unwrap();
        let session = common::wait_terminal(&client, base, id).await;
        assert_eq!(
            session["toolReports"]["http-headers"]["status"], "failed",
            "{session}"
        );
        assert_eq!(session["refund"]["refundedCredits"], cost, "{session}");
    }

    // Every credit came back once: ten reserves, ten refunds, and the
    // balance the grant made.
    let account = common::get_json(&client, &format!("{}/api/account", b.base)).await;
    assert_eq!(account["balance"].as_i64(), Some(10 * cost), "{account}");
    let ledger = account["ledger"].as_array().unwrap();
    let count = |kind: &str| ledger.iter().filter(|e| e["kind"] == kind).count();
    assert_eq!(
        (count("grant"), count("reserve"), count("refund")),
        (1, 10, 10),
        "{account}"
    );
    let sum: i64 = ledger.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
    assert_eq!(sum, 10 * cost, "the ledger adds up to the balance");
}

#[test]
fn a_database_that_cannot_be_used_is_a_clear_error_without_its_password() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let refused = |args: &[&str], says: &str| {
        let (code, _, err) = common::livescan(args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
        err
    };
    // Nothing listens on port 1 of loopback.
    let unreachable = "postgres://livescan:s3cret-pw@127.0.0.1:1/livescan";
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir,
        "--database-url",
        unreachable,
    ];
    let err = refused(
        &serve,
        "--database-url: cannot connect to postgres://livescan:***@127.0.0.1:1/livescan",
    );
    assert!(
        err.contains("Connection refused") && !err.contains("s3cret-pw"),
        "{err}"
    );
    refused(&["worker", "--data-dir", dir], "give --database-url");
    // A lease so short that one slow renewal would pass every session on.
    let short_lease = [
        "worker",
        "--data-dir",
        dir,
        "--database-url",
        unreachable,
        "--lease",
        "500ms",
    ];
    refused(&short_lease, "`500ms` is shorter than a lease may be (1s)");
    let api_only = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir,
        "--workers",
        "0",
    ];
    refused(&api_only, "--workers 0 runs no tools");
    let not_postgres = "mysql://root:pw@db/x";
    let err = refused(
        &["keys", "list", "--data-dir", dir, "--database-url", not_postgres],
        "--database-url",
    );
    assert!(!err.contains(":pw@"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_server_uploads_a_directory_no_worker_can_see_and_a_worker_scans_it() {
    let Some(database) = database().await else { return };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let api = api_node(&database, dirs[0].path());
    let runner = worker(&database, dirs[1].path());
    // Outside every node's scan roots (their working directory): only an
    // upload brings it to the worker.
    let checkout = tempfile::tempdir().unwrap();
    std::fs::write(
        checkout.path().join("settings.py"),
        "AWS_ACCESS_KEY_ID = \"AKIAY62MMZD344CUMP7M\"\n",
    )
    .unwrap();
    let output = tokio::task::spawn_blocking({
        let (base, key) = (api.base.clone(), api.key.clone());
        let target = checkout.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_livescan"))
                .arg("scan")
                .arg(&target)
                .args(["--server", &base, "--tools", "secrets,todo-comments"])
                .args(["--format", "json", "--fail-on", "none"])
                .env("LIVESCAN_API_KEY", key)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("stdout holds the report");
    assert_eq!(report["status"], "completed", "{report}");
    let secrets = &report["toolReports"]["secrets"];
    assert_eq!(secrets["status"], "completed", "{secrets}");
    assert_eq!(
        secrets["result"]["findings"][0]["path"], "settings.py",
        "{secrets}"
    );
    assert!(log_of(&runner).contains("claimed session"), "the worker ran it");
}

/// The future of one run of a test's tool.
type Run = futures::future::BoxFuture<'static, Result<(), livescan::tools::ToolError>>;

/// A test's tool whose every run is what `run` makes.
struct Scripted {
    spec: livescan::tools::ToolSpec,
    run: Box<dyn Fn() -> Run + Send + Sync>,
}

impl livescan::tools::Tool for Scripted {
    fn spec(&self) -> &livescan::tools::ToolSpec {
        &self.spec
    }

    fn run(self: std::sync::Arc<Self>, _ctx: std::sync::Arc<livescan::tools::ToolContext>) -> Run {
        (self.run)()
    }
}

/// A directory tool that waits until its gate opens (or its run is
/// cancelled).
fn gated(gate: tokio::sync::watch::Receiver<bool>) -> Scripted {
    Scripted {
        spec: directory_tool("gated"),
        run: Box::new(move || {
            let mut gate = gate.clone();
            Box::pin(async move {
                let _ = gate.wait_for(|open| *open).await;
                Ok(())
            })
        }),
    }
}

/// A catalog of one tool.
fn catalog_of(tool: impl livescan::tools::Tool + 'static) -> livescan::tools::Catalog {
    let mut catalog = livescan::tools::Catalog::default();
    catalog.add(std::sync::Arc::new(tool));
    catalog
}

fn directory_tool(id: &'static str) -> livescan::tools::ToolSpec {
    livescan::tools::ToolSpec {
        id,
        category: livescan::model::Category::CodeQuality,
        ecosystem: livescan::model::Ecosystem::Any,
        targets: &[livescan::model::TargetKind::Directory],
        cost: 1,
        summary: "a test's tool",
    }
}

/// A node in this process on `database`, with its own pool and listening
/// connection, scanning under `root`; its watchers' heartbeat is a minute
/// away, so what they hear in less came by the feed.
async fn in_process_node(
    database: &TemporaryDatabase,
    root: &std::path::Path,
    catalog: &livescan::tools::Catalog,
    name: &str,
    runs_tools: bool,
    configure: impl FnOnce(&mut livescan::engine::EngineConfig),
) -> livescan::engine::Engine {
    use livescan::engine::{ClusterConfig, Engine, EngineConfig, TargetPolicy};
    let store = std::sync::Arc::new(
        livescan::store::PostgresStore::connect(&database.url(), 4)
            .await
            .unwrap(),
    );
    let work = root.join(format!("work-{name}"));
    let mut config = EngineConfig::new(
        TargetPolicy {
            scan_roots: vec![root.to_path_buf()],
            allow_private: false,
            excluded: vec![work.clone()],
        },
        livescan::tools::Workspace::scratch(work),
    );
    config.heartbeat = Duration::from_secs(60);
    configure(&mut config);
    let cluster = ClusterConfig {
        node: name.to_string(),
        lease: Duration::from_secs(30),
        runs_tools,
        narrative_wait: Duration::ZERO,
    };
    Engine::open_shared(store, catalog.clone(), config, cluster)
        .await
        .unwrap()
}

/// A directory to scan, holding one file, and its canonical path.
fn scan_root() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::write(root.join("a.txt"), "text\n").unwrap();
    (dir, root)
}

/// The local account the in-process nodes' sessions are charged to.
async fn local_account(database: &TemporaryDatabase) {
    let accounts = livescan::store::PostgresStore::connect(&database.url(), 1)
        .await
        .unwrap();
    livescan::engine::accounts::ensure_local_user(&accounts)
        .await
        .unwrap();
}

/// An API node and a worker that runs `gated`, in this process.
async fn two_nodes(
    database: &TemporaryDatabase,
    root: &std::path::Path,
    gate: tokio::sync::watch::Receiver<bool>,
) -> (livescan::engine::Engine, livescan::engine::Engine) {
    let catalog = catalog_of(gated(gate));
    let api = in_process_node(database, root, &catalog, "api", false, |_| {}).await;
    let worker = in_process_node(database, root, &catalog, "worker", true, |_| {}).await;
    (api, worker)
}

/// The events a watch on `engine` yields until it ends, each within
/// `within` of the one before: far less than the heartbeat, so they came
/// by the feed, not by the fallback poll.
async fn watched(engine: &livescan::engine::Engine, session_id: &str, within: Duration) -> Vec<String> {
    use livescan::engine::WatchItem;
    let stream = engine.watch(&local(), session_id, Some(0)).await.unwrap();
    let mut stream = std::pin::pin!(stream);
    let mut names = Vec::new();
    while let Some(item) = tokio::time::timeout(within, stream.next())
        .await
        .unwrap_or_else(|_| panic!("nothing for {within:?} after {names:?}"))
    {
        match item.unwrap() {
            WatchItem::Event(published) => names.push(published.event.kind.name().to_string()),
            other => panic!("only events are expected, got {other:?}"),
        }
    }
    names
}

fn local() -> livescan::engine::Caller {
    livescan::engine::Caller::local()
}

async fn start_gated(engine: &livescan::engine::Engine, root: &std::path::Path) -> String {
    start_tool(engine, root, "gated").await
}

async fn start_tool(engine: &livescan::engine::Engine, root: &std::path::Path, tool: &str) -> String {
    let request = livescan::model::StartRequest {
        target: Some(livescan::model::RawTarget {
            directory: Some(root.display().to_string()),
            ..Default::default()
        }),
        tools: vec![tool.into()],
        enable_intelligence: Some(false),
        ..Default::default()
    };
    let state = engine.start_session(&local(), request).await.unwrap();
    state.meta.session_id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_another_node_hears_each_event_by_the_feed_and_a_cancel_reaches_the_worker() {
    let Some(database) = database().await else { return };
    let (_root, root) = scan_root();
    let (open_gate, gate) = tokio::sync::watch::channel(false);
    let (api, worker) = two_nodes(&database, &root, gate).await;
    local_account(&database).await;

    // Run on the worker, watched on the API node: every event arrives
    // long before the watcher's heartbeat would have polled the log.
    let first = start_gated(&api, &root).await;
    let watch = tokio::spawn({
        let (api, first) = (api.clone(), first.clone());
        async move { watched(&api, &first, Duration::from_secs(10)).await }
    });
    for _ in 0..200 {
        if worker.running_sessions() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(worker.running_sessions(), 1, "the worker claimed the session");
    open_gate.send(true).unwrap();
    let names = watch.await.unwrap();
    assert_eq!(
        names,
        [
            "session_started",
            "session_running",
            "tool_started",
            "tool_finished",
            "session_finished"
        ]
    );

    // A cancel on the API node stops the tool on the worker (at its next
    // renewal, within a second): the session ends cancelled there.
    open_gate.send(false).unwrap();
    let second = start_gated(&api, &root).await;
    for _ in 0..200 {
        let state = api.session(&local(), &second).await.unwrap();
        if state
            .reports
            .iter()
            .any(|r| r.status == livescan::model::ToolStatus::Running)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Only the worker can end it: were the cancel not to reach it, the
    // tool would wait at its gate and the watch would time out.
    api.cancel(&local(), &second).await.unwrap();
    let names = watched(&api, &second, Duration::from_secs(10)).await;
    assert_eq!(
        names.last().map(String::as_str),
        Some("session_finished"),
        "{names:?}"
    );
    let state = api.session(&local(), &second).await.unwrap();
    assert_eq!(state.status, livescan::model::SessionStatus::Cancelled);
    worker.shutdown().await;
    api.shutdown().await;
}

/// The kind of the next event of a watch, past its heartbeats, which must
/// come within 5 s.
async fn next_event<E: std::fmt::Debug>(
    stream: &mut (impl futures::Stream<Item = Result<livescan::engine::WatchItem, E>> + Unpin),
) -> &'static str {
    use livescan::engine::WatchItem;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(WatchItem::Event(published)))) => return published.event.kind.name(),
            Ok(Some(Ok(WatchItem::Heartbeat { .. }))) => {}
            other => panic!("no event within 5 s: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_announcement_was_lost_reaches_watchers_at_their_heartbeat() {
    use sqlx::Connection;
    let Some(database) = database().await else { return };
    let (_root, root) = scan_root();
    let (_gate, gate) = tokio::sync::watch::channel(false);
    let catalog = catalog_of(gated(gate));
    let api = in_process_node(&database, &root, &catalog, "api", false, |config| {
        config.heartbeat = Duration::from_millis(500);
    })
    .await;
    local_account(&database).await;
    let id = start_gated(&api, &root).await;
    let stream = api.watch(&local(), &id, Some(0)).await.unwrap();
    let mut stream = std::pin::pin!(stream);
    assert_eq!(next_event(&mut stream).await, "session_started");
    // The start's own announcement is heard and done with first: nothing
    // else is there to read.
    let quiet = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");

    // A worker that stored an event and was killed before announcing it:
    // the event is committed and no node hears of it.
    let mut worker = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    let (seq,): (i64,) =
        sqlx::query_as("SELECT seq FROM livescan_append($1, 'session_running', NULL, $2, $3, NULL, NULL)")
            .bind(&id)
            .bind(r#"{"recordVersion":1,"type":"session_running"}"#)
            .bind(livescan::model::time::now_millis())
            .fetch_one(&mut worker)
            .await
            .unwrap();
    assert_eq!(seq, 2);
    assert_eq!(
        next_event(&mut stream).await,
        "session_running",
        "read at a heartbeat"
    );
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_opened_on_one_worker_skips_the_tool_on_every_node() {
    use livescan::engine::breaker::CircuitState;
    use livescan::model::ToolStatus;
    let Some(database) = database().await else { return };
    let (_root, root) = scan_root();
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Every run fails as a tool error.
    let catalog = catalog_of(Scripted {
        spec: directory_tool("broken"),
        run: Box::new({
            let runs = runs.clone();
            move || {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Box::pin(async {
                    Err(livescan::tools::ToolError::Failed(
                        "exit status 2: config error".into(),
                    ))
                })
            }
        }),
    });
    let two_errors_open_it = |config: &mut livescan::engine::EngineConfig| {
        config.breaker_threshold = 2;
        config.breaker_cooldown = Duration::from_secs(600);
    };
    let api = in_process_node(&database, &root, &catalog, "api", false, two_errors_open_it).await;
    let first = in_process_node(&database, &root, &catalog, "first", true, two_errors_open_it).await;
    local_account(&database).await;
    let run_to_the_end = async |id: &str| {
        watched(&api, id, Duration::from_secs(10)).await;
        let state = api.session(&local(), id).await.unwrap();
        state.reports[0].clone()
    };

    for _ in 0..2 {
        let id = start_tool(&api, &root, "broken").await;
        let report = run_to_the_end(&id).await;
        assert_eq!(report.status, ToolStatus::Failed, "{report:?}");
    }
    first.shutdown().await;

    // The API node, which ran nothing, reads the circuit from the database.
    let tools = api.tools().await;
    let circuit = tools.iter().find(|t| t.id == "broken").unwrap().circuit;
    assert_eq!((circuit.state, circuit.failures), (CircuitState::Open, 2));
    assert!(circuit.retry_at.is_some());

    // A worker that saw none of the errors skips the tool, refunded.
    let second = in_process_node(&database, &root, &catalog, "second", true, two_errors_open_it).await;
    let id = start_tool(&api, &root, "broken").await;
    let report = run_to_the_end(&id).await;
    assert_eq!(report.status, ToolStatus::Skipped, "{report:?}");
    let reason = report.result.skip_reason.clone().unwrap_or_default();
    assert!(reason.contains("circuit open after 2 tool errors"), "{reason}");
    let state = api.session(&local(), &id).await.unwrap();
    assert_eq!(state.refund.as_ref().unwrap().tools_refunded, ["broken"]);
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "not run while open"
    );
    second.shutdown().await;
    api.shutdown().await;
}

/// A TCP proxy in front of the PostgreSQL server that the test can cut
/// (open connections closed, new ones closed at once) and restore: the
/// database going away and coming back, for the nodes behind it.
struct Outage {
    address: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Outage {
    async fn in_front_of(server: String) -> Outage {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (cut, watched) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if *watched.borrow() {
                    continue;
                }
                let (server, mut cut) = (server.clone(), watched.clone());
                tokio::spawn(async move {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(server).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Outage { address, cut }
    }

    /// `url` with its server replaced by this proxy.
    fn url(&self, url: &str) -> String {
        let mut url = url::Url::parse(url).unwrap();
        url.set_host(Some(&self.address.ip().to_string())).unwrap();
        url.set_port(Some(self.address.port())).unwrap();
        url.to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_answers_503_and_loses_nothing_when_it_returns() {
    let Some(database) = database().await else { return };
    let real = url::Url::parse(&database.url()).unwrap();
    let server = format!("{}:{}", real.host_str().unwrap(), real.port().unwrap_or(5432));
    let outage = Outage::in_front_of(server).await;
    let url = outage.url(&database.url());
    let data_dir = tempfile::tempdir().unwrap();
    // One node that serves and runs tools.
    let node = RealServer::start_with(data_dir.path(), "127.0.0.1:0", "info", &["--database-url", &url]);
    let (page, open_gate) = common::gated_page().await;
    let body = json!({ "target": { "url": page }, "tools": ["http-headers", "exposed-paths"], "enableIntelligence": false });
    let id = common::start_with(&node.client(), &node.base, body).await;
    eventually("its tools run", async || {
        let view = common::get_json(&node.client(), &format!("{}/api/sessions/{id}", node.base)).await;
        view["progress"]["running"].as_u64() == Some(2)
    })
    .await;

    // The database goes away: requests that need it answer 503 with the
    // error body; the tools finish meanwhile, and keep their reports.
    outage.cut.send(true).unwrap();
    let account = format!("{}/api/account", node.base);
    let mut refused = None;
    eventually("a request is refused with 503", async || {
        let response = node.client().get(&account).send().await.unwrap();
        if response.status() != 503 {
            return false;
        }
        refused = Some(response.json::<Value>().await.unwrap());
        true
    })
    .await;
    assert_eq!(refused.unwrap()["error"]["code"], "unavailable");
    open_gate.send(true).unwrap();
    eventually(
        "a finished tool waits for the database with its report",
        async || log_of(&node).contains("could not store the tool report; retrying"),
    )
    .await;

    // It returns: the node recovers by itself, and the session ends with
    // both reports, each stored once.
    outage.cut.send(false).unwrap();
    let session = common::wait_terminal(&node.client(), &node.base, &id).await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(session["progress"]["completed"], 2, "{session}");
    let events = sse_events(node.client(), node.base.clone(), id.clone(), 0).await;
    assert_eq!(
        events.iter().filter(|(_, e)| e == "tool_finished").count(),
        2,
        "{events:?}"
    );
    assert_eq!(events.iter().filter(|(_, e)| e == "session_finished").count(), 1);
    let account = common::get_json(&node.client(), &account).await;
    let sum: i64 = account["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(account["balance"].as_i64(), Some(sum), "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_cannot_see_a_directory_fails_its_session_saying_why() {
    let Some(database) = database().await else { return };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // The API node may scan this checkout (its working directory); the
    // worker only a directory of its own.
    let api = api_node(&database, dirs[0].path());
    let elsewhere = dirs[2].path().to_str().unwrap();
    let _worker = RealServer::worker(
        dirs[1].path(),
        &["--database-url", &database.url(), "--scan-root", elsewhere],
    );
    let target = common::fixtures().join("dir-clean");
    let body =
        json!({ "target": { "directory": target }, "tools": ["secrets"], "enableIntelligence": false });
    let id = common::start_with(&api.client(), &api.base, body).await;
    let session = failed_and_refunded(&api, &id, "is not inside the directories this server may scan").await;
    assert_eq!(
        session["toolReports"]["secrets"]["status"], "skipped",
        "{session}"
    );
}

/// Waits for session `id` to end on `node`, failed with an error that
/// says `saying`, and refunded; the session.
async fn failed_and_refunded(node: &RealServer, id: &str, saying: &str) -> Value {
    let session = common::wait_terminal(&node.client(), &node.base, id).await;
    assert_eq!(session["status"], "failed", "{session}");
    let error = session["error"].as_str().unwrap_or_default();
    assert!(error.contains(saying), "{session}");
    assert!(
        session["refund"]["refundedCredits"].as_u64() > Some(0),
        "{session}"
    );
    session
}

/// Uploads the clean fixture directory to `node`, as an archive.
async fn upload_clean_fixture(node: &RealServer) -> reqwest::Response {
    let mut archive = tar::Builder::new(Vec::new());
    archive
        .append_dir_all(".", common::fixtures().join("dir-clean"))
        .unwrap();
    node.client()
        .post(format!("{}/api/uploads", node.base))
        .body(archive.into_inner().unwrap())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_upload_lost_its_archive_fails_saying_so_and_is_refunded() {
    use sqlx::Connection;
    let Some(database) = database().await else { return };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let api = api_node(&database, dirs[0].path());
    let _worker = worker(&database, dirs[1].path());
    let response = upload_clean_fixture(&api).await;
    assert_eq!(response.status().as_u16(), 201);
    let upload: Value = response.json().await.unwrap();

    // Recorded, and its archive lost: a database that went away between
    // the two, say.
    let mut conn = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    sqlx::query("DELETE FROM upload_archives")
        .execute(&mut conn)
        .await
        .unwrap();
    let body = json!({ "target": { "upload": upload["uploadId"] }, "tools": ["secrets"], "enableIntelligence": false });
    let id = common::start_with(&api.client(), &api.base, body).await;
    failed_and_refunded(
        &api,
        &id,
        "is gone: unused uploads are removed; upload the archive again",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_archive_cannot_be_kept_answers_503_and_leaves_no_record() {
    use sqlx::Connection;
    let Some(database) = database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let api = api_node(&database, dir.path());
    // The database takes the upload's record and refuses its archive.
    let mut conn = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    let refuse = "ALTER TABLE upload_archives ADD CONSTRAINT refused CHECK (false) NOT VALID";
    sqlx::query(refuse).execute(&mut conn).await.unwrap();
    let response = upload_clean_fixture(&api).await;
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("cannot store the upload"), "{body}");
    // Nothing of it is kept to count against the quota.
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM uploads")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(records, 0);

    sqlx::query("ALTER TABLE upload_archives DROP CONSTRAINT refused")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(upload_clean_fixture(&api).await.status().as_u16(), 201);
}

/// A model server that answers every chat completion with one narrative,
/// after `delay`: its `/v1` URL.
async fn model_answering_after(delay: Duration) -> String {
    let answer = move || async move {
        tokio::time::sleep(delay).await;
        axum::Json(json!({
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Fix the headers first." } }]
        }))
    };
    let router = axum::Router::new().route("/v1/chat/completions", axum::routing::post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/v1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_another_node_receives_the_narrative_a_worker_writes_after_the_end() {
    let Some(database) = database().await else { return };
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let api = api_node(&database, dirs[0].path());
    // The narrative comes well after the end, which watchers on the API
    // node read first.
    let model = model_answering_after(Duration::from_millis(1500)).await;
    let url = database.url();
    let _worker = RealServer::worker(
        dirs[1].path(),
        &[
            "--database-url",
            &url,
            "--lease",
            LEASE,
            "--llm-url",
            &model,
            "--llm-model",
            "test-model",
        ],
    );
    let site = common::web_site().await;
    let body = json!({ "target": { "url": site }, "tools": ["http-headers"], "enableIntelligence": true });
    let id = common::start_with(&api.client(), &api.base, body).await;

    let events = sse_events(api.client(), api.base.clone(), id, 0).await;
    let kinds: Vec<&str> = events.iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["session_finished", "narrative"],
        "{kinds:?}"
    );
}
