//! kill -9 of a real `livescan serve` in the middle of a session, then a
//! restart on the same data directory: finished tools are not run again,
//! unfinished ones are, and every report is in the log exactly once.

mod common;

use axum::extract::State;
use axum::routing::get;
use common::RealServer;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// A site whose `/page` is answered at once and whose every other path (the
/// probes of `exposed-paths`) waits until the gate opens; counts both.
#[derive(Clone)]
struct GatedSite {
    pages: Arc<AtomicUsize>,
    probes: Arc<AtomicUsize>,
    open: watch::Receiver<bool>,
}

const PAGE: &str = "<html><head><title>t</title></head><body><img src=a.png></body></html>";

async fn page(State(site): State<GatedSite>) -> axum::response::Html<&'static str> {
    site.pages.fetch_add(1, Ordering::SeqCst);
    axum::response::Html(PAGE)
}

async fn probe(State(site): State<GatedSite>) -> axum::response::Html<&'static str> {
    site.probes.fetch_add(1, Ordering::SeqCst);
    let mut open = site.open.clone();
    let _ = open.wait_for(|open| *open).await;
    axum::response::Html(PAGE)
}

/// Serves the gated site; returns its base URL, the `/page` and probe
/// counters, and the switch that opens the gate. With the tools
/// `http-headers` and `exposed-paths` one at a time, the first reads `/page`
/// and finishes while the second waits at the gate.
async fn gated_site() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>, watch::Sender<bool>) {
    let (open_gate, open) = watch::channel(false);
    let state = GatedSite {
        pages: Arc::new(AtomicUsize::new(0)),
        probes: Arc::new(AtomicUsize::new(0)),
        open,
    };
    let (pages, probes) = (state.pages.clone(), state.probes.clone());
    let app = axum::Router::new()
        .route("/page", get(page))
        .fallback(probe)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (site, pages, probes, open_gate)
}

async fn wait_for_requests(requests: &AtomicUsize, n: usize) {
    for _ in 0..1000 {
        if requests.load(Ordering::SeqCst) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the site never saw {n} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_its_session_with_every_report_once() {
    let (site, pages, probes, open_gate) = gated_site().await;

    let data_dir = tempfile::tempdir().unwrap();
    let first = RealServer::start(data_dir.path(), "127.0.0.1:0");
    // One tool at a time: http-headers gets the first (immediate) answer and
    // finishes; exposed-paths' first probe then waits at the gate.
    let body = json!({ "target": { "url": format!("{site}/page") }, "tools": ["http-headers", "exposed-paths"], "maxConcurrent": 1 });
    let id = common::start_with(&first.client(), &first.base, body).await;
    let mut waited = 0;
    loop {
        let session = common::get_json(&first.client(), &format!("{}/api/sessions/{id}", first.base)).await;
        let reports = &session["toolReports"];
        if reports["http-headers"]["status"] == "completed" && reports["exposed-paths"]["status"] == "running"
        {
            break;
        }
        waited += 1;
        assert!(waited < 600, "session never reached the mid-point: {session}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_requests(&probes, 1).await;

    // A second server on the same data directory refuses to start (it would
    // resume this session and run its tools twice).
    let second_server = Command::new(env!("CARGO_BIN_EXE_livescan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .output()
        .unwrap();
    assert_eq!(second_server.status.code(), Some(2));
    let refusal = String::from_utf8_lossy(&second_server.stderr);
    assert!(
        refusal.contains("another livescan server is using the data directory"),
        "{refusal}"
    );

    // kill -9, then let every later request through and start again.
    let mut first = first;
    first.kill();
    open_gate.send(true).unwrap();
    let second = RealServer::start(data_dir.path(), "127.0.0.1:0");

    let session = common::wait_terminal(&second.client(), &second.base, &id).await;
    assert_eq!(session["status"], "completed", "{session}");
    assert_eq!(session["progress"]["completed"], 2);
    assert!(
        session["toolReports"]["http-headers"]["findingsCount"]
            .as_u64()
            .unwrap()
            > 0
    );

    // The log holds exactly one report per tool and one end.
    let events = common::read_sse(
        second
            .client()
            .get(format!("{}/api/sessions/{id}/events?after=0", second.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let finished: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "tool_finished")
        .map(|e| e.data["report"]["toolName"].as_str().unwrap())
        .collect();
    assert_eq!(finished, vec!["http-headers", "exposed-paths"]);
    assert_eq!(events.iter().filter(|e| e.event == "session_finished").count(), 1);
    // http-headers was not run again: `/page` was read once, before the kill.
    assert_eq!(pages.load(Ordering::SeqCst), 1);
}

/// `livescan scan --server` follows the session over WatchSession; the server
/// is killed with -9 mid-session and restarted on the same port, and the CLI
/// resumes with `after_seq`: each tool's line is printed once and it exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_rides_out_a_server_crash() {
    let (site, pages, probes, open_gate) = gated_site().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut first = RealServer::start(data_dir.path(), "127.0.0.1:0");
    let address = first.base.trim_start_matches("http://").to_string();
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_livescan"))
        .args(["scan", "--server", &first.base, &format!("{site}/page")])
        // The CLI finds the server's local key in its data directory by itself.
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("LIVESCAN_API_KEY")
        .args([
            "--tools",
            "http-headers,exposed-paths",
            "--max-concurrent",
            "1",
            "--fail-on",
            "none",
        ])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // http-headers has finished and exposed-paths waits at the gate.
    wait_for_requests(&probes, 1).await;
    first.kill();
    open_gate.send(true).unwrap();
    let _second = RealServer::start(data_dir.path(), &address);

    let output = tokio::time::timeout(Duration::from_secs(60), cli.wait_with_output())
        .await
        .expect("the CLI finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.matches("✓ http-headers:").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("✓ exposed-paths:").count(), 1, "{stdout}");
    assert_eq!(pages.load(Ordering::SeqCst), 1, "http-headers ran once");
    assert!(stdout.contains("[2/2] ✓"), "{stdout}");
    assert!(stdout.contains("Finished: completed"), "{stdout}");
}

/// A listener that accepts connections and closes them at once: every
/// fetch from it fails, and no other process can take its port meanwhile.
async fn slammed_door() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    url
}

async fn account(server: &RealServer, client: &reqwest::Client) -> Value {
    common::get_json(client, &format!("{}/api/account", server.base)).await
}

/// A session whose tools both fail, with the server killed (-9) while it
/// runs and again after it ended: the refund is paid once, with the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_are_paid_exactly_once_across_crashes() {
    let (site, pages, probes, open_gate) = gated_site().await;
    let broken = slammed_door().await;
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let mut first = RealServer::start(data_dir.path(), "127.0.0.1:0");
    // An account made with the CLI while the server runs.
    let (code, key, stderr) = common::livescan(&[
        "keys",
        "create",
        "--name",
        "alice",
        "--credits",
        "10",
        "--data-dir",
        dir,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let alice = common::http_with_key(key.trim());

    // One tool at a time: http-headers reads the page, fails on the broken
    // URL and is done; exposed-paths' first probe then waits at the gate
    // (after the restart it fails on the broken URL's origin).
    let body = json!({
        "target": { "urls": [format!("{site}/page"), broken] },
        "tools": ["http-headers", "exposed-paths"],
        "maxConcurrent": 1
    });
    let id = common::start_with(&alice, &first.base, body).await;
    wait_for_requests(&probes, 1).await;
    // The tools' 3 credits and the analysis' 1.
    assert_eq!(account(&first, &alice).await["balance"], 6);

    // kill -9 before the end, then let the gated request through.
    first.kill();
    open_gate.send(true).unwrap();
    let mut second = RealServer::start(data_dir.path(), "127.0.0.1:0");
    let session = common::wait_terminal(&alice, &second.base, &id).await;
    assert_eq!(session["status"], "partial", "{session}");
    // The analysis was made: only the tools come back.
    let refund =
        json!({ "refundedCredits": 3, "toolsRefunded": ["http-headers", "exposed-paths"], "newBalance": 9 });
    assert_eq!(session["refund"], refund);
    assert_eq!(pages.load(Ordering::SeqCst), 1, "only exposed-paths ran again");

    // kill -9 after the end: nothing more is paid.
    second.kill();
    let third = RealServer::start(data_dir.path(), "127.0.0.1:0");
    assert_eq!(
        common::wait_terminal(&alice, &third.base, &id).await["refund"],
        refund
    );
    let account = account(&third, &alice).await;
    assert_eq!(account["balance"], 9, "{account}");
    let entries: Vec<(&str, i64)> = account["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(entries, vec![("refund", 3), ("reserve", -4), ("grant", 10)]);

    // The CLI's summary shows a refund too (with the local key it found).
    let (code, stdout, stderr) = common::livescan(&[
        "scan",
        "--server",
        &third.base,
        &broken,
        "--tools",
        "http-headers",
        "--data-dir",
        dir,
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Credits refunded: 1 for http-headers (balance "),
        "{stdout}"
    );
}
