//! The Sessions API reference's REST flows against a real server: start, the three polling
//! modes, listing, SSE with resume, cancel, and every kind of bad input.

mod common;

use common::{TestServer, fixtures, is_terminal, read_sse, web_site};
use livescan::store::Store;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn planted_dir() -> String {
    fixtures().join("dir-planted").display().to_string()
}

fn check_progress(progress: &Value) {
    let n = |k: &str| {
        progress[k]
            .as_u64()
            .unwrap_or_else(|| panic!("progress.{k} missing in {progress}"))
    };
    let total = n("total");
    assert_eq!(
        n("pending") + n("running") + n("completed") + n("failed") + n("skipped"),
        total,
        "{progress}"
    );
    let finished = n("completed") + n("failed") + n("skipped");
    assert_eq!(n("percentage"), 100 * finished / total, "{progress}");
}

#[tokio::test]
async fn directory_session_follows_the_reference_polling_flows() {
    let server = TestServer::start().await;
    let (status, started) = server
        .post(
            "/api/sessions",
            json!({ "target": { "directory": planted_dir() }, "categories": ["security", "code-quality"] }),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let id = started["sessionId"].as_str().unwrap().to_string();
    assert!(id.starts_with("sess-"));
    assert!(started["scanId"].as_str().unwrap().starts_with("scan-"));
    assert_eq!(started["status"], "started");
    assert_eq!(
        started["message"],
        format!("Audit session started. Poll /api/sessions/{id} for real-time updates.")
    );
    assert_eq!(started["pollUrls"]["full"], format!("/api/sessions/{id}"));
    assert_eq!(
        started["pollUrls"]["progress"],
        format!("/api/sessions/{id}?progress=true")
    );
    assert_eq!(
        started["pollUrls"]["newReports"],
        format!("/api/sessions/{id}?since={{timestamp}}")
    );

    // Incremental polling, feeding back lastUpdated, with a progress poll between.
    let mut since = String::from("1970-01-01T00:00:00Z");
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut status = Value::Null;
    for _ in 0..600 {
        let (code, progress) = server.get(&format!("/api/sessions/{id}?progress=true")).await;
        assert_eq!(code, 200);
        check_progress(&progress["progress"]);
        assert!(
            progress.get("toolReports").is_none(),
            "progress view is lightweight"
        );

        let encoded: String = url::form_urlencoded::byte_serialize(since.as_bytes()).collect();
        let (code, increment) = server.get(&format!("/api/sessions/{id}?since={encoded}")).await;
        assert_eq!(code, 200, "{increment}");
        check_progress(&increment["progress"]);
        for report in increment["newReports"].as_array().unwrap() {
            *seen
                .entry(report["toolName"].as_str().unwrap().to_string())
                .or_default() += 1;
            assert!(report["completedAt"].as_str().unwrap() > since.as_str());
        }
        since = increment["lastUpdated"].as_str().unwrap().to_string();
        status = increment["status"].clone();
        if is_terminal(&status) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "completed");

    let (_, full) = server.get(&format!("/api/sessions/{id}")).await;
    let reports = full["toolReports"].as_object().unwrap();
    let expected: Vec<&str> = vec!["secrets", "merge-conflicts", "todo-comments"];
    for tool in &expected {
        assert_eq!(
            seen.get(*tool),
            Some(&1),
            "{tool} reported exactly once via since: {seen:?}"
        );
        assert_eq!(reports[*tool]["status"], "completed");
    }
    assert_eq!(
        seen.len(),
        reports.len(),
        "every report, and only those, arrived incrementally"
    );
    assert_eq!(full["progress"]["percentage"], 100);
    assert_eq!(full["userId"], server.user_id.as_str());
    // Each selected tool's cost, and the analysis', as the catalog lists
    // them, were reserved.
    let (_, catalog) = server.get("/api/tools").await;
    let cost = |id: &str| {
        catalog["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .map_or(0, |t| t["cost"].as_u64().unwrap())
    };
    let reserved: u64 = reports.keys().map(|id| cost(id)).sum();
    let analysis = catalog["analysis"]["cost"].as_u64().unwrap();
    assert_eq!(full["creditsReserved"], reserved + analysis);
    // Nothing failed; the tools that found nothing of theirs to analyse
    // (no Dockerfile, no HTML here) were skipped and are refunded, and
    // only those.
    let mut idle: Vec<&str> = reports
        .iter()
        .filter(|(_, r)| r["result"]["skipReason"] == "nothing to analyse")
        .map(|(id, _)| id.as_str())
        .collect();
    idle.sort();
    assert!(!idle.is_empty(), "{full}");
    assert!(
        reports
            .values()
            .all(|r| r["status"] == "completed" || r["result"]["skipReason"] == "nothing to analyse"),
        "{full}"
    );
    let mut refunded: Vec<&str> = full["refund"]["toolsRefunded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    refunded.sort();
    assert_eq!(refunded, idle, "{full}");
    assert_eq!(
        full["refund"]["refundedCredits"].as_u64().unwrap(),
        idle.iter().map(|id| cost(id)).sum::<u64>()
    );
    assert!(full["completedAt"].is_string());
    // The tool list now knows how long each tool that ran took: this
    // server's only runs.
    let (_, catalog) = server.get("/api/tools").await;
    for entry in catalog["tools"].as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        match reports.get(id) {
            Some(report) if report["status"] == "completed" => {
                assert_eq!(entry["runs"], 1, "{entry}");
                assert_eq!(entry["averageDuration"], report["duration"], "{entry}");
                // The version that ran: the scanner's; with none run (a
                // native analyzer, or a scanner whose files held nothing in
                // its format), livescan's own or none yet.
                match &report["result"]["scanner"] {
                    serde_json::Value::Null => assert!(
                        entry.get("version").is_none() || entry["version"] == env!("CARGO_PKG_VERSION"),
                        "{entry}"
                    ),
                    scanner => assert_eq!(entry["version"], scanner["version"], "{entry}"),
                }
            }
            _ => assert!(
                entry.get("runs").is_none() && entry.get("averageDuration").is_none(),
                "{entry}"
            ),
        }
    }
    // session_started, session_running, a start and a report per tool (a
    // skipped tool only a report), the analysis, session_finished.
    assert_eq!(
        full["cursor"].as_u64().unwrap(),
        4 + 2 * reports.len() as u64 - idle.len() as u64
    );

    // The summary is the sum of the reports.
    let mut by_severity: HashMap<String, u64> = HashMap::new();
    let mut total = 0;
    for report in reports.values() {
        // Suppressed findings (a `livescan:ignore` in the fixture) are listed, not counted.
        let findings: Vec<&Value> = report["result"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["suppression"].is_null() || f["suppression"]["expired"] == true)
            .collect();
        assert_eq!(report["findingsCount"].as_u64().unwrap(), findings.len() as u64);
        total += findings.len() as u64;
        for finding in findings {
            *by_severity
                .entry(finding["severity"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let summary = &full["summary"];
    assert_eq!(summary["totalFindings"].as_u64().unwrap(), total);
    assert!(total > 0);
    for severity in ["critical", "high", "medium", "low", "info"] {
        assert_eq!(
            summary["bySeverity"][severity].as_u64().unwrap(),
            by_severity.get(severity).copied().unwrap_or(0)
        );
    }
    assert!(
        summary["bySeverity"]["critical"].as_u64().unwrap() > 0,
        "planted private keys are critical"
    );
    assert_eq!(
        summary["toolsRun"].as_u64().unwrap(),
        (reports.len() - idle.len()) as u64,
        "a tool with nothing to analyse did not run"
    );

    // Polling with lastUpdated after the end returns nothing new.
    let encoded: String = url::form_urlencoded::byte_serialize(since.as_bytes()).collect();
    let (_, after_end) = server.get(&format!("/api/sessions/{id}?since={encoded}")).await;
    assert_eq!(after_end["newReports"], json!([]));
    // ... and the cursor form returns every report from 0.
    let (_, from_zero) = server.get(&format!("/api/sessions/{id}?after=0")).await;
    assert_eq!(from_zero["newReports"].as_array().unwrap().len(), reports.len());

    let (code, list) = server.get("/api/sessions?limit=20").await;
    assert_eq!(code, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["sessions"][0]["sessionId"], id.as_str());
    assert_eq!(list["sessions"][0]["status"], "completed");
    assert_eq!(list["sessions"][0]["progress"]["percentage"], 100);
    // The ended session is listed from its stored listing, which says what
    // the full view says.
    let (stored, _) = server
        .store
        .list_sessions(&server.user_id, 20, None)
        .await
        .unwrap();
    assert!(stored[0].listing.is_some(), "the listing is stored at the end");
    let (_, full) = server.get(&format!("/api/sessions/{id}")).await;
    for field in [
        "status",
        "progress",
        "summary",
        "completedAt",
        "lastUpdated",
        "cursor",
        "createdAt",
    ] {
        assert_eq!(list["sessions"][0][field], full[field], "{field}");
    }
}

#[tokio::test]
async fn url_session_finds_header_and_accessibility_problems() {
    let server = TestServer::start().await;
    let site = web_site().await;
    let id = server
        .start_session(json!({ "target": { "url": format!("{site}/planted.html") } }))
        .await;
    let session = server.wait_finished(&id).await;
    assert_eq!(session["status"], "completed", "{session}");
    let rules = |tool: &str| -> Vec<String> {
        session["toolReports"][tool]["result"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["ruleId"].as_str().unwrap().to_string())
            .collect()
    };
    let a11y = rules("html-a11y");
    for rule in [
        "html-has-lang",
        "document-title",
        "image-alt",
        "label",
        "button-name",
        "link-name",
    ] {
        assert!(a11y.contains(&rule.to_string()), "{rule} missing from {a11y:?}");
    }
    let headers = rules("http-headers");
    assert!(headers.contains(&"csp-missing".to_string()), "{headers:?}");
    // Directory tools do not apply to URL targets.
    assert!(session["toolReports"].get("secrets").is_none());
}

#[tokio::test]
async fn server_sent_events_stream_and_resume_without_gaps() {
    let server = TestServer::start().await;
    // The page holds both tools until the snapshot has arrived.
    let (page, gate) = common::gated_page().await;
    let id = server
        .start_session(json!({ "target": { "url": page }, "maxConcurrent": 1 }))
        .await;
    let response = server
        .client()
        .get(server.url(&format!("/api/sessions/{id}/events")))
        .send()
        .await
        .unwrap();
    let events = common::read_sse_then(response, move || {
        gate.send(true).unwrap();
    })
    .await;
    assert_eq!(events[0].event, "snapshot");
    assert_eq!(events.last().unwrap().event, "session_finished");
    let finished: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "tool_finished")
        .map(|e| e.data["report"]["toolName"].as_str().unwrap())
        .collect();
    let snapshot_reports = events[0].data["toolReports"].as_object().unwrap();
    let already_done = snapshot_reports
        .values()
        .filter(|r| r["completedAt"].is_string())
        .count();
    assert_eq!(
        already_done, 0,
        "the gate holds every tool until the snapshot is out"
    );
    assert_eq!(finished.len(), snapshot_reports.len());

    // Resuming from any event id replays exactly the events after it.
    let all = read_sse(
        server
            .client()
            .get(server.url(&format!("/api/sessions/{id}/events")))
            .header("Last-Event-ID", "0")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let seqs: Vec<u64> = all
        .iter()
        .map(|e| e.id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "gap-free from 1"
    );
    let middle = seqs[seqs.len() / 2];
    let rest = read_sse(
        server
            .client()
            .get(server.url(&format!("/api/sessions/{id}/events?after={middle}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let rest_seqs: Vec<u64> = rest
        .iter()
        .map(|e| e.id.as_ref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        rest_seqs,
        seqs.iter().copied().filter(|s| *s > middle).collect::<Vec<_>>()
    );
    // Past the end nothing will ever come: 204 stops a browser's EventSource reconnecting.
    let last = seqs.last().unwrap();
    let done = server
        .client()
        .get(server.url(&format!("/api/sessions/{id}/events")))
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);
    for event in &all {
        let progress = &event.data["progress"];
        assert_eq!(
            ["pending", "running", "completed", "failed", "skipped"]
                .iter()
                .map(|k| progress[k].as_u64().unwrap())
                .sum::<u64>(),
            progress["total"].as_u64().unwrap()
        );
    }
}

#[tokio::test]
async fn bad_input_is_rejected_naming_the_field() {
    let server = TestServer::start().await;
    let dir = planted_dir();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "target"),
        (json!({ "target": {} }), "target"),
        (
            json!({ "target": { "url": "https://example.com", "directory": dir } }),
            "target",
        ),
        (json!({ "target": { "url": "ftp://example.com/" } }), "target.url"),
        (json!({ "target": { "url": "not a url" } }), "target.url"),
        (json!({ "target": { "urls": [] } }), "target.urls"),
        (
            json!({ "target": { "urls": ["https://example.com", "file:///etc/passwd"] } }),
            "target.urls[1]",
        ),
        (json!({ "target": { "directory": "/etc" } }), "target.directory"),
        (
            json!({ "target": { "directory": format!("{dir}/../../../src") } }),
            "target.directory",
        ),
        (
            json!({ "target": { "directory": "/nonexistent/livescan" } }),
            "target.directory",
        ),
        (
            json!({ "target": { "directory": dir }, "tools": ["nope"] }),
            "tools[0]",
        ),
        (
            json!({ "target": { "directory": dir }, "tools": ["http-headers"] }),
            "tools[0]",
        ),
        (
            json!({ "target": { "directory": dir }, "excludeTools": ["nope"] }),
            "excludeTools[0]",
        ),
        (
            json!({ "target": { "directory": dir }, "categories": ["speed"] }),
            "categories[0]",
        ),
        (
            json!({ "target": { "directory": dir }, "tools": ["large-files"], "excludeTools": ["large-files"] }),
            "tools",
        ),
        (
            json!({ "target": { "directory": dir }, "maxConcurrent": 0 }),
            "maxConcurrent",
        ),
        (
            json!({ "target": { "directory": dir }, "maxConcurrent": 33 }),
            "maxConcurrent",
        ),
        (
            json!({ "target": { "directory": dir }, "maxConcurrent": "five" }),
            "maxConcurrent",
        ),
        (
            json!({ "target": { "directory": dir }, "timeout": 10 }),
            "timeout",
        ),
        (
            json!({ "target": { "directory": dir }, "timeout": -1 }),
            "timeout",
        ),
        (
            json!({ "target": { "directory": dir }, "timeout": 3_600_001 }),
            "timeout",
        ),
        (
            json!({ "target": { "urls": "https://example.com" } }),
            "target.urls",
        ),
        (
            json!({ "target": { "urls": vec!["https://example.com/"; 101] } }),
            "target.urls",
        ),
        (
            json!({ "target": { "directory": dir }, "tools": vec!["secrets"; 501] }),
            "tools",
        ),
        (json!({ "target": { "directory": "" } }), "target.directory"),
        (
            json!({ "target": { "directory": "tests/fixtures/dir-planted" } }),
            "target.directory",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = server.post("/api/sessions", body.clone()).await;
        assert_eq!(status, 400, "{body} -> {error}");
        assert_eq!(error["error"]["code"], "invalid_argument", "{body}");
        assert_eq!(error["error"]["details"]["field"], field, "{body} -> {error}");
        assert!(
            error["error"]["message"].as_str().unwrap().starts_with(field),
            "{error}"
        );
    }

    let (status, error) = server
        .post(
            "/api/sessions",
            json!({ "target": { "directory": dir }, "tools": ["nope"] }),
        )
        .await;
    assert_eq!(status, 400);
    let valid = error["error"]["details"]["valid"].as_array().unwrap();
    assert!(
        valid.contains(&json!("secrets")) && valid.contains(&json!("html-a11y")),
        "{error}"
    );
    let (_, error) = server
        .post(
            "/api/sessions",
            json!({ "target": { "directory": dir }, "categories": ["speed"] }),
        )
        .await;
    assert_eq!(
        error["error"]["details"]["valid"],
        json!(["security", "code-quality", "accessibility", "performance"])
    );

    for raw in ["{not json", "", "[1,2]"] {
        let (status, error) = server.post_raw("/api/sessions", raw).await;
        assert_eq!(status, 400, "{raw}: {error}");
        assert_eq!(error["error"]["details"]["field"], "body", "{raw}: {error}");
    }

    for (path, field) in [
        ("/api/sessions/sess-x?progress=maybe", "progress"),
        ("/api/sessions/sess-x?since=yesterday", "since"),
        ("/api/sessions/sess-x?after=-1", "after"),
        ("/api/sessions?limit=0", "limit"),
        ("/api/sessions?limit=101", "limit"),
    ] {
        let (status, error) = server.get(path).await;
        assert_eq!(status, 400, "{path}: {error}");
        assert_eq!(error["error"]["details"]["field"], field, "{path}");
    }

    for path in [
        "/api/sessions/sess-unknown",
        "/api/sessions/sess-unknown/events",
        "/api/nothing-here",
    ] {
        let (status, error) = server.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(error["error"]["code"], "not_found");
    }
    let (status, _) = server.post("/api/sessions/sess-unknown/cancel", json!({})).await;
    assert_eq!(status, 404);
    // Nothing was created by any of the rejected requests.
    let (_, list) = server.get("/api/sessions").await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn tools_health_and_openapi_describe_the_server() {
    let server = TestServer::start().await;
    let (status, health) = server.get("/healthz").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));

    let (_, tools) = server.get("/api/tools").await;
    let ids: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for id in [
        "secrets",
        "merge-conflicts",
        "todo-comments",
        "large-files",
        "http-headers",
        "html-a11y",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(
        tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["cost"].is_u64() && (t["available"] == true || t["installHint"].is_string()))
    );

    // Every documented operation exists and answers with a documented status.
    let (_, doc) = server.get("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let id = server
        .start_session(json!({ "target": { "directory": planted_dir() } }))
        .await;
    server.wait_finished(&id).await;
    let client = server.client();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let url = server.url(&path.replace("{id}", &id));
            let request = match method.as_str() {
                "get" => client.get(&url),
                "post" => client
                    .post(&url)
                    .json(&json!({ "target": { "directory": planted_dir() } })),
                other => panic!("undocumented method {other}"),
            };
            let status = request.send().await.unwrap().status().as_u16().to_string();
            assert!(
                operation["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, which the document does not list"
            );
        }
    }
}

#[tokio::test]
async fn a_session_can_be_cancelled() {
    let server = TestServer::start().await;
    let site = web_site().await;
    // `/hang` never answers, so the first tool is running when the cancel arrives.
    let id = server
        .start_session(json!({ "target": { "url": format!("{site}/hang") }, "maxConcurrent": 1 }))
        .await;
    let (status, cancelled) = server
        .post(&format!("/api/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let session = server.wait_finished(&id).await;
    assert_eq!(session["status"], "cancelled", "{session}");
    for report in session["toolReports"].as_object().unwrap().values() {
        assert_eq!(report["status"], "skipped", "{report}");
        assert_eq!(report["result"]["skipReason"], "cancelled", "{report}");
    }
    assert_eq!(session["progress"]["percentage"], 100);
    // Cancelling again changes nothing.
    let (status, again) = server
        .post(&format!("/api/sessions/{id}/cancel"), json!({}))
        .await;
    assert_eq!((status, &again["status"]), (200, &json!("cancelled")));
}
