//! What an operator sees: `/metrics` in the Prometheus (OpenMetrics) text
//! format without a key, or on an address of its own, or off; and logs as
//! JSON lines in which every line a request causes carries its request id,
//! and engine lines their session and tool.

use crate::common::{self, RealServer};
use livescan::proto as pb;
use serde_json::{Value, json};
use std::time::Duration;

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_sessions_tools_watchers_refunds_and_requests() {
    let data_dir = tempfile::tempdir().unwrap();
    // An advisory directory that does not exist makes `vulnerable-dependencies`
    // unavailable: one tool completes, one is skipped and refunded.
    let missing = data_dir.path().join("no-advisories");
    let server = RealServer::start_with(
        data_dir.path(),
        "127.0.0.1:0",
        "info",
        &["--advisory-db", missing.to_str().unwrap()],
    );
    let id = common::start_with(
        &server.client(),
        &server.base,
        json!({ "target": { "directory": common::fixtures().join("dir-planted") }, "tools": ["secrets", "vulnerable-dependencies"] }),
    )
    .await;
    let session = common::wait_terminal(&server.client(), &server.base, &id).await;
    assert_eq!(session["status"], "partial", "{session}");
    // A held SSE watcher of a running session.
    let (page, open) = common::gated_page().await;
    let held = common::start_with(
        &server.client(),
        &server.base,
        json!({ "target": { "url": page }, "tools": ["http-headers"] }),
    )
    .await;
    let mut sse = server
        .client()
        .get(format!("{}/api/sessions/{held}/events", server.base))
        .send()
        .await
        .unwrap();
    sse.chunk().await.unwrap();
    // Paths nobody serves, sent as gRPC by a client without a key: each
    // is counted under a bounded label, never under its own path.
    for path in [
        "/livescan.v1.SessionService/NoSuchMethod-7c1e",
        "/api/sessions/sess-7c1e",
        "/no/such/route-7c1e",
    ] {
        reqwest::Client::new()
            .post(format!("{}{path}", server.base))
            .header("content-type", "application/grpc")
            .body(vec![0u8; 5])
            .send()
            .await
            .unwrap();
    }
    let mut grpc = common::grpc_client(&server.base, &server.key).await;
    grpc.list_tools(pb::ListToolsRequest {}).await.unwrap();
    let missing = grpc
        .get_session(pb::GetSessionRequest {
            session_id: "sess-none".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // No key needed; the OpenMetrics text format.
    let response = common::http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let metrics = response.text().await.unwrap();
    for (series, at_least) in [
        ("livescan_sessions_started_total", 2.0),
        ("livescan_sessions_finished_total{status=\"partial\"}", 1.0),
        ("livescan_sessions_running", 1.0),
        (
            "livescan_tool_runs_total{tool=\"secrets\",outcome=\"findings\"}",
            1.0,
        ),
        (
            "livescan_tool_runs_total{tool=\"vulnerable-dependencies\",outcome=\"skipped\"}",
            1.0,
        ),
        ("livescan_tool_duration_seconds_count{tool=\"secrets\"}", 1.0),
        ("livescan_tools_running", 1.0),
        ("livescan_tools_waiting", 0.0),
        ("livescan_watchers{transport=\"sse\"}", 1.0),
        ("livescan_refunds_total", 1.0),
        ("livescan_refunded_credits_total", 2.0),
        ("livescan_store_errors_total", 0.0),
        (
            "livescan_requests_total{protocol=\"http\",route=\"/api/sessions\",code=\"202\"}",
            2.0,
        ),
        (
            "livescan_requests_total{protocol=\"grpc\",route=\"/livescan.v1.SessionService/ListTools\",code=\"0\"}",
            1.0,
        ),
        (
            "livescan_requests_total{protocol=\"grpc\",route=\"/livescan.v1.SessionService/GetSession\",code=\"5\"}",
            1.0,
        ),
    ] {
        let value = sample(&metrics, series).unwrap_or_else(|| panic!("no {series} in\n{metrics}"));
        assert!(
            value >= at_least,
            "{series} = {value}, expected at least {at_least}\n{metrics}"
        );
    }
    assert!(
        !metrics.contains("7c1e"),
        "a path nobody serves became a series of its own:\n{metrics}"
    );
    open.send(true).unwrap();
    drop(sse);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_move_to_their_own_address_or_be_turned_off() {
    let data_dir = tempfile::tempdir().unwrap();
    let elsewhere = RealServer::start_with(
        data_dir.path(),
        "127.0.0.1:0",
        "info",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let mut address = None;
    for _ in 0..100 {
        let log = elsewhere.log.lock().unwrap().clone();
        if let Some(line) = log.lines().find(|l| l.contains("serving /metrics")) {
            address = line
                .split("address=")
                .nth(1)
                .map(|a| a.split_whitespace().next().unwrap().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let address = address.expect("the metrics address is logged");
    let moved = common::http()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    assert!(
        moved
            .text()
            .await
            .unwrap()
            .contains("livescan_sessions_started_total")
    );
    let main = common::http()
        .get(format!("{}/metrics", elsewhere.base))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    drop(elsewhere);

    let data_dir = tempfile::tempdir().unwrap();
    let off = RealServer::start_with(
        data_dir.path(),
        "127.0.0.1:0",
        "info",
        &["--metrics-listen", "off"],
    );
    let response = common::http()
        .get(format!("{}/metrics", off.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_request_ids_sessions_and_tools() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = RealServer::start_with(data_dir.path(), "127.0.0.1:0", "info", &["--log-format", "json"]);
    let response = server
        .client()
        .post(format!("{}/api/sessions", server.base))
        .json(&json!({ "target": { "directory": common::fixtures().join("dir-clean") }, "tools": ["large-files"] }))
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let started: Value = response.json().await.unwrap();
    let id = started["sessionId"].as_str().unwrap();
    common::wait_terminal(&server.client(), &server.base, id).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log.lock().unwrap().clone();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let line = |message: &str| {
        lines
            .iter()
            .find(|l| l["message"].as_str().is_some_and(|m| m.contains(message)))
            .unwrap_or_else(|| panic!("no `{message}` line in {log}"))
    };
    // A field of the line itself or of one of the spans it is in.
    let field = |line: &Value, name: &str| -> Value {
        let in_spans = line["spans"]
            .as_array()
            .and_then(|spans| spans.iter().find_map(|s| s.get(name).cloned()));
        line.get(name).cloned().or(in_spans).unwrap_or(Value::Null)
    };
    let started_line = line("session started");
    assert_eq!(
        field(started_line, "request_id"),
        request_id.as_str(),
        "{started_line}"
    );
    assert_eq!(field(started_line, "session"), id, "{started_line}");
    let finished_line = line("session finished");
    assert_eq!(field(finished_line, "session"), id, "{finished_line}");
    assert_eq!(finished_line["level"], "INFO");
    // The tool's own lines name it, inside its session.
    let report_line = lines
        .iter()
        .find(|l| field(l, "tool") == "large-files")
        .unwrap_or_else(|| panic!("no line of the tool in {log}"));
    assert_eq!(field(report_line, "session"), id, "{report_line}");
}
