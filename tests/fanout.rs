//! Many watchers of one session share each event: every watcher, over
//! gRPC or SSE, from the start or resuming mid-log, gets every event once,
//! in order, with nothing missing — while eight tools store their reports
//! at the same moment, so the events reach the shared tail out of order.

mod common;

use common::{TestServer, gated_page, grpc_client, read_sse};
use livescan::proto as pb;
use pb::watch_session_response::Event;
use serde_json::json;
use tokio::sync::mpsc;

/// Every URL tool of the catalog: all fetch the one gated page, so they
/// all finish together once it answers.
fn url_tools() -> Vec<&'static str> {
    common::test_catalog()
        .iter()
        .map(|tool| tool.spec())
        .filter(|spec| spec.targets.contains(&livescan::model::TargetKind::Url))
        .map(|spec| spec.id)
        .collect()
}

/// A watcher's events: (sequence number, event name).
type Seen = Vec<(u64, String)>;

/// What a watcher saw: where its events start, the tools whose reports its
/// snapshot already held (a tool that needs no page, such as
/// `security-txt`, may finish before a watcher connects), and the events.
type Watched = (u64, Vec<String>, Seen);

/// Watches from `after`, or from a snapshot (announced on `ready`).
async fn grpc_watcher(
    base: String,
    key: String,
    id: String,
    after: Option<u64>,
    ready: mpsc::Sender<()>,
) -> Watched {
    let mut grpc = grpc_client(&base, &key).await;
    let mut stream = grpc
        .watch_session(pb::WatchSessionRequest {
            session_id: id,
            after_seq: after,
        })
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    let (start, finished) = match after {
        Some(after) => (after, Vec::new()),
        None => {
            let snapshot = stream.message().await.unwrap().expect("a snapshot first");
            let Some(Event::Snapshot(session)) = snapshot.event else {
                panic!("a snapshot first, not {snapshot:?}");
            };
            ready.send(()).await.unwrap();
            let waiting = [pb::ToolStatus::Pending as i32, pb::ToolStatus::Running as i32];
            let finished = session
                .tool_reports
                .iter()
                .filter(|r| !waiting.contains(&r.status))
                .map(|r| r.tool_name.clone())
                .collect();
            (snapshot.seq, finished)
        }
    };
    while let Some(message) = stream.message().await.unwrap() {
        let name = match message.event.expect("every message has an event") {
            Event::Heartbeat(_) => continue,
            Event::ToolFinished(report) => format!("tool_finished {}", report.tool_name),
            Event::SessionFinished(_) => "session_finished".to_string(),
            other => format!("{other:?}").split('(').next().unwrap().to_string(),
        };
        seen.push((message.seq, name));
    }
    (start, finished, seen)
}

/// Watches over SSE from a snapshot.
async fn sse_watcher(base: String, key: String, id: String) -> Watched {
    let response = common::http_with_key(&key)
        .get(format!("{base}/api/sessions/{id}/events"))
        .send()
        .await
        .unwrap();
    let events = read_sse(response).await;
    assert_eq!(events[0].event, "snapshot");
    let seq = |event: &common::Sse| event.id.as_deref().unwrap().parse::<u64>().unwrap();
    let finished = events[0].data["toolReports"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| !matches!(r["status"].as_str(), Some("pending" | "running")))
        .map(|(tool, _)| tool.clone())
        .collect();
    let seen = events[1..]
        .iter()
        .map(|e| {
            let name = match e.event.as_str() {
                "tool_finished" => {
                    format!("tool_finished {}", e.data["report"]["toolName"].as_str().unwrap())
                }
                other => other.to_string(),
            };
            (seq(e), name)
        })
        .collect();
    (seq(&events[0]), finished, seen)
}

/// Checks that `seen` runs without a gap or repeat from `after + 1` to the
/// session's end, and holds each tool's report once unless the snapshot
/// had it (`finished`).
fn assert_whole((after, finished, seen): &Watched, tools: &[&str], who: &str) {
    let after = *after;
    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<u64> = (after + 1..=after + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "{who}: gaps or repeats in {seen:?}");
    assert_eq!(seen.last().unwrap().1, "session_finished", "{who}: {seen:?}");
    for tool in tools {
        let reports = seen
            .iter()
            .filter(|(_, name)| *name == format!("tool_finished {tool}"))
            .count();
        let expected = usize::from(!finished.iter().any(|f| f == tool));
        assert_eq!(
            reports, expected,
            "{who}: {tool} reported {reports} times in {seen:?} after a snapshot with {finished:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_watcher_gets_every_event_once_in_order_while_reports_arrive_together() {
    let server = TestServer::start().await;
    let (page, open) = gated_page().await;
    let tools = url_tools();
    assert!(tools.len() >= 8, "{tools:?}");
    let id = server
        .start_session(json!({ "target": { "url": page }, "tools": tools, "maxConcurrent": tools.len() }))
        .await;
    const EACH: usize = 40;
    let (ready, mut readied) = mpsc::channel(EACH);
    let mut watchers = Vec::new();
    for _ in 0..EACH {
        let (base, key, id) = (server.base.clone(), server.key.clone(), id.clone());
        watchers.push(tokio::spawn(grpc_watcher(base, key, id, None, ready.clone())));
    }
    // The gRPC watchers are past their snapshots before any tool can finish.
    for _ in 0..EACH {
        readied.recv().await.unwrap();
    }
    for _ in 0..EACH {
        let (base, key, id) = (server.base.clone(), server.key.clone(), id.clone());
        watchers.push(tokio::spawn(sse_watcher(base, key, id)));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    open.send(true).unwrap();
    for (i, watcher) in watchers.into_iter().enumerate() {
        let watched = watcher.await.unwrap();
        assert_whole(&watched, &tools, &format!("watcher {i}"));
    }
    // Watchers that come later and resume mid-log get exactly the rest.
    let (base, key) = (server.base.clone(), server.key.clone());
    let from_zero = grpc_watcher(base.clone(), key.clone(), id.clone(), Some(0), ready.clone()).await;
    assert_whole(&from_zero, &tools, "a watcher resuming from 0");
    let all = from_zero.2;
    let middle = all.len() / 2;
    let (_, _, rest) = grpc_watcher(base, key, id, Some(middle as u64), ready).await;
    assert_eq!(rest, all[middle..].to_vec(), "a watcher resuming from {middle}");
}
