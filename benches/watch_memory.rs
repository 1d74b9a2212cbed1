//! Server memory with many watchers of one big session. A real `livescan
//! serve` (the release binary, its own process) scans a generated tree in
//! which native tools find about 100,000 problems, while the session
//! is held open by a URL tool waiting on a local page; then W watchers (half
//! SSE, half gRPC `WatchSession`) connect at once, read their snapshots and
//! stay connected; then they go. The server's resident memory (VmRSS, from
//! /proc) is sampled before, while and after, and its peak (VmHWM) read.
//!
//! Run: `cargo bench --bench watch_memory` (prints a table; `WATCHERS=20,100`
//! and `CAPS=1000,100000` choose the cases).

mod common;

use common::{Server, gated_page, start_session, status_kib, wait_until};
use livescan::proto as pb;
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Lines per generated file: each line is one finding for `whitespace` and
/// one for `todo-comments` (`dangerous-calls` reports one per file).
const LINES_PER_FILE: usize = 5_000;
const FILES: usize = 10;

fn list(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// Python files whose every line has trailing spaces, an eval and a TODO.
fn generate_tree(root: &Path) {
    for file in 0..FILES {
        let mut text = String::new();
        for line in 0..LINES_PER_FILE {
            text.push_str(&format!(
                "eval(step_{line})  # TODO revisit step {line} of module {file}   \n"
            ));
        }
        std::fs::write(root.join(format!("module_{file}.py")), text).unwrap();
    }
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// One case: returns the row of the table.
async fn measure(tree: &Path, cap: usize, watchers: usize) -> String {
    let cap_arg = cap.to_string();
    let server = Server::start(&[
        std::ffi::OsStr::new("--allow-private-targets"),
        "--max-findings-per-report".as_ref(),
        cap_arg.as_ref(),
        "--scan-root".as_ref(),
        tree.as_os_str(),
    ]);
    let pid = server.child.id();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {}", server.key).parse().unwrap());
    let client = reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = status_kib(pid, "VmRSS:");

    // A directory session with ~100k findings, then a URL session held open.
    let body = json!({ "target": { "directory": tree }, "tools": ["whitespace", "dangerous-calls", "todo-comments"] });
    let id = start_session(&client, &server.base, &body).await;
    let finished = wait_until(
        &client,
        &format!("{}/api/sessions/{id}", server.base),
        Duration::from_millis(100),
        |s| s["status"] == "completed",
    )
    .await;
    let counted = finished["summary"]["totalFindings"].as_u64().unwrap();
    let listed: usize = finished["toolReports"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["result"]["findings"].as_array().unwrap().len())
        .sum();
    let snapshot_bytes = finished.to_string().len();
    let session = status_kib(pid, "VmRSS:");

    // Watchers of the finished session: each gets the whole snapshot.
    let begun = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..watchers {
        let base = server.base.clone();
        let key = server.key.clone();
        let id = id.clone();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let mut response = client
                    .get(format!("{base}/api/sessions/{id}/events"))
                    .send()
                    .await
                    .unwrap();
                let mut bytes = 0;
                while let Some(chunk) = response.chunk().await.unwrap() {
                    bytes += chunk.len();
                }
                bytes
            } else {
                let channel = tonic::transport::Endpoint::from_shared(base)
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
                let mut grpc = pb::session_service_client::SessionServiceClient::new(channel)
                    .max_decoding_message_size(usize::MAX);
                let mut request = tonic::Request::new(pb::WatchSessionRequest {
                    session_id: id,
                    after_seq: None,
                });
                request
                    .metadata_mut()
                    .insert("authorization", format!("Bearer {key}").parse().unwrap());
                let mut stream = grpc.watch_session(request).await.unwrap().into_inner();
                let mut bytes = 0;
                while let Some(message) = stream.message().await.unwrap() {
                    bytes += prost::Message::encoded_len(&message);
                }
                bytes
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all_read = begun.elapsed();
    let after_snapshots = status_kib(pid, "VmRSS:");

    // Watchers of a running session: they connect, get a snapshot, and stay.
    let (page, open) = gated_page().await;
    let held_id = start_session(
        &client,
        &server.base,
        &json!({ "target": { "url": page }, "tools": ["http-headers"] }),
    )
    .await;
    let mut streams = Vec::new();
    for i in 0..watchers {
        if i % 2 == 0 {
            let mut response = client
                .get(format!("{}/api/sessions/{held_id}/events", server.base))
                .send()
                .await
                .unwrap();
            streams.push(tokio::spawn(async move {
                while let Ok(Some(_)) = response.chunk().await {}
            }));
        } else {
            let channel = tonic::transport::Endpoint::from_shared(server.base.clone())
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = pb::session_service_client::SessionServiceClient::new(channel);
            let mut request = tonic::Request::new(pb::WatchSessionRequest {
                session_id: held_id.clone(),
                after_seq: None,
            });
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {}", server.key).parse().unwrap());
            let mut stream = grpc.watch_session(request).await.unwrap().into_inner();
            streams.push(tokio::spawn(async move {
                while let Ok(Some(_)) = stream.message().await {}
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let while_held = status_kib(pid, "VmRSS:");
    open.send(true).unwrap();
    for stream in streams {
        stream.await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = status_kib(pid, "VmRSS:");
    let peak = status_kib(pid, "VmHWM:");
    format!(
        "| {cap:>7} | {counted:>7} | {listed:>6} | {:>6} KiB | {watchers:>3} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} | {:>6.2} s |",
        snapshot_bytes / 1024,
        mib(idle),
        mib(session),
        mib(after_snapshots),
        mib(while_held),
        mib(peak),
        mib(after),
        all_read.as_secs_f64(),
    )
}

#[tokio::main]
async fn main() {
    let tree = tempfile::tempdir().unwrap();
    generate_tree(tree.path());
    let tree = tree.path().canonicalize().unwrap();
    println!(
        "| cap     | counted | listed | full view  |   W | idle    | session | after W | W held  | peak    | after   | W read   |"
    );
    println!(
        "|---------|---------|--------|------------|-----|---------|---------|---------|---------|---------|---------|----------|"
    );
    for cap in list("CAPS", &[1000, 100_000]) {
        for watchers in list("WATCHERS", &[20, 100]) {
            println!("{}", measure(&tree, cap, watchers).await);
        }
    }
}
