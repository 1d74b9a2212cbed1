//! The legacy Scans API, as an old client uses it against a real server on
//! 127.0.0.1: the flat start request, then polling the scan id until it has
//! finished and reading every result at once; each answer says it is
//! deprecated and links to the Sessions API.

mod common;

use common::{TestServer, fixtures};
use serde_json::{Value, json};
use std::time::Duration;

async fn get(client: &reqwest::Client, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

fn assert_deprecated(headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers["deprecation"], "@1796083200");
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("</api/sessions>; rel=\"successor-version\""),
        "{link}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_client_starts_polls_and_reads_every_result() {
    let server = TestServer::start().await;
    let client = server.client();
    let directory = fixtures().join("dir-planted").display().to_string();
    let response = client
        .post(server.url("/api/v1/scans"))
        .json(&json!({ "directory": directory, "tools": ["secrets", "merge-conflicts"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_deprecated(response.headers());
    let started: Value = response.json().await.unwrap();
    let scan_id = started["scanId"].as_str().unwrap().to_string();
    assert!(scan_id.starts_with("scan-"), "{started}");
    assert_eq!(started["status"], "started");

    // Poll until it has finished, as the old API was used.
    let mut scan = Value::Null;
    for _ in 0..200 {
        let (status, headers, body) = get(&client, &server.url(&format!("/api/v1/scans/{scan_id}"))).await;
        assert_eq!(status, 200, "{body}");
        assert_deprecated(&headers);
        if common::is_terminal(&body["status"]) {
            scan = body;
            break;
        }
        assert!(
            body.get("results").is_none(),
            "results only once finished: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(scan["status"], "completed", "{scan:#}");
    assert_eq!(scan["scanId"], scan_id.as_str());
    let results = scan["results"].as_array().unwrap();
    let tools: Vec<&str> = results.iter().map(|r| r["toolName"].as_str().unwrap()).collect();
    assert_eq!(tools, ["secrets", "merge-conflicts"]);
    // Every result at once: the same reports the Sessions API has.
    let session_id = scan["sessionId"].as_str().unwrap();
    let (_, session) = server.get(&format!("/api/sessions/{session_id}")).await;
    assert_eq!(results[0], session["toolReports"]["secrets"]);
    assert_eq!(scan["summary"], session["summary"]);
    assert_eq!(scan["intelligence"], session["intelligence"]);
    assert!(scan["completedAt"].is_string());

    // Another account cannot read it, and an unknown id is a 404.
    let (_, other) = server.account("other", 100).await;
    let (status, _, body) = get(&other, &server.url(&format!("/api/v1/scans/{scan_id}"))).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = get(&client, &server.url("/api/v1/scans/scan-0-000000")).await;
    assert_eq!(status, 404);

    // The old request's mistakes are named like the new one's.
    let (status, body) = server
        .post(
            "/api/v1/scans",
            json!({ "directory": directory, "categoriez": ["security"] }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["suggestion"], "categories", "{body}");
    let (status, body) = server
        .post("/api/v1/scans", json!({ "categories": ["security"] }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["field"], "target", "{body}");
}
