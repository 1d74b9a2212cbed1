//! The analysis `enableIntelligence` asks for, through a real server on
//! 127.0.0.1 with real tools (`secrets`, the external `detect-secrets` from
//! `scripts/install-test-tools`, `dangerous-calls`): a planted secret that
//! two tools report is one issue seen by both, its id survives moved lines,
//! it ranks first, the grade improves when it is removed, watchers get the
//! analysis as an event before the end, and `enableIntelligence: false`
//! leaves it out.

mod common;

use common::{TestServer, installed_catalog};
use livescan::proto as pb;
use serde_json::{Value, json};
use std::path::Path;

const AWS_KEY: &str = "AKIAY62MMZD344CUMP7M";
const TOOLS: [&str; 3] = ["secrets", "detect-secrets", "dangerous-calls"];

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn plant(root: &Path, lines_above: usize, secret: bool) {
    let padding = "# padding\n".repeat(lines_above);
    let key = if secret { AWS_KEY } else { "" };
    write(root, ".env", &format!("{padding}AWS_ACCESS_KEY_ID={key}\n"));
    write(
        root,
        "app/views.py",
        "def report(cursor, name):\n    cursor.execute(f\"SELECT * FROM reports WHERE name = '{name}'\")\n",
    );
}

async fn analysed(server: &TestServer, root: &Path, intelligence: bool) -> Value {
    let id = server
        .start_session(json!({
            "target": { "directory": root.display().to_string() },
            "tools": TOOLS,
            "enableIntelligence": intelligence,
        }))
        .await;
    let session = server.wait_finished(&id).await;
    assert_eq!(session["status"], "completed", "{session:#}");
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_problems_are_merged_ranked_and_graded() {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    let canonical = root.canonicalize().unwrap();
    let server = TestServer::with_config(installed_catalog(), move |config| {
        config.policy.scan_roots.push(canonical)
    })
    .await;
    plant(root, 0, true);
    let session = analysed(&server, root, true).await;
    let analysis = &session["intelligence"];
    assert!(analysis.is_object(), "{session:#}");

    // The secret, reported by two tools, is one issue seen by both.
    let secret = &analysis["issues"][0];
    assert_eq!(secret["location"], ".env:1", "{analysis:#}");
    assert_eq!(secret["severity"], "critical");
    assert_eq!(secret["cwe"], 798);
    assert_eq!(secret["exposure"], "secrets-file");
    let tools: Vec<&str> = secret["seenBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["detect-secrets", "secrets"], "{secret:#}");
    assert_eq!(secret["fingerprints"].as_array().unwrap().len(), 2);
    assert_eq!(analysis["corroborated"], 1);
    assert_eq!(analysis["issueCount"], 2, "{analysis:#}");
    assert_eq!(analysis["findings"], 3);
    let injection = &analysis["issues"][1];
    assert_eq!(injection["location"], "app/views.py:2");
    assert_eq!(injection["owasp"], "A03:2021-Injection");

    // The secret is what to fix first, with why and what to do.
    let first = &analysis["priorities"][0];
    assert_eq!(first["rank"], 1);
    assert_eq!(first["issue"], secret["id"]);
    assert!(
        first["whatToDo"]
            .as_str()
            .unwrap()
            .starts_with("Revoke the credential")
    );
    assert!(
        first["why"].as_str().unwrap().contains("reported by 2 tools"),
        "{first}"
    );
    let grade_with_secret = analysis["grade"].as_str().unwrap().to_string();
    let risk_with_secret = analysis["riskScore"].as_u64().unwrap();
    assert!(risk_with_secret >= 60, "{analysis:#}");
    assert!(
        analysis["summary"].as_str().unwrap().contains("Fix first"),
        "{analysis:#}"
    );

    // Lines moved: the same issue, by its id.
    plant(root, 5, true);
    let moved = analysed(&server, root, true).await;
    assert_eq!(moved["intelligence"]["issues"][0]["location"], ".env:6");
    assert_eq!(moved["intelligence"]["issues"][0]["id"], secret["id"]);

    // The secret removed: less risk, a better grade, the injection first.
    plant(root, 0, false);
    let fixed = analysed(&server, root, true).await;
    let after = &fixed["intelligence"];
    assert!(
        after["riskScore"].as_u64().unwrap() < risk_with_secret,
        "{after:#}"
    );
    assert_ne!(after["grade"].as_str().unwrap(), grade_with_secret);
    assert_eq!(after["priorities"][0]["location"], "app/views.py:2");

    // Without intelligence there is none.
    let plain = analysed(&server, root, false).await;
    assert!(plain.get("intelligence").is_none(), "{plain:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_get_the_analysis_before_the_end() {
    let server = TestServer::with_catalog(installed_catalog(), 4).await;
    let dir = common::fixtures().join("dir-planted");
    let id = server
        .start_session(json!({ "target": { "directory": dir }, "tools": ["secrets", "detect-secrets"] }))
        .await;
    server.wait_finished(&id).await;

    // SSE from the start: the analysis comes after the last report, before the end.
    let response = server
        .client()
        .get(server.url(&format!("/api/sessions/{id}/events?after=0")))
        .send()
        .await
        .unwrap();
    let events = common::read_sse(response).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    let analysis = names
        .iter()
        .position(|n| *n == "analysis")
        .expect("an analysis event");
    let last_report = names.iter().rposition(|n| *n == "tool_finished").unwrap();
    assert!(analysis > last_report, "{names:?}");
    assert_eq!(names.last(), Some(&"session_finished"), "{names:?}");
    assert_eq!(analysis + 1, names.len() - 1, "{names:?}");
    let corroborated = events[analysis].data["intelligence"]["corroborated"]
        .as_u64()
        .unwrap();
    assert!(
        corroborated > 0,
        "secrets and detect-secrets agree on dir-planted"
    );

    // gRPC: the session carries it, and a watch from the start sends it.
    let mut grpc = server.grpc().await;
    let session = grpc
        .get_session(pb::GetSessionRequest {
            session_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    let intelligence = session.intelligence.unwrap();
    assert_eq!(u64::from(intelligence.corroborated), corroborated);
    assert!(!intelligence.priorities.is_empty());
    let mut stream = grpc
        .watch_session(pb::WatchSessionRequest {
            session_id: id.clone(),
            after_seq: Some(0),
        })
        .await
        .unwrap()
        .into_inner();
    let mut saw_analysis = false;
    while let Some(message) = stream.message().await.unwrap() {
        if let Some(pb::watch_session_response::Event::Analysis(analysis)) = message.event {
            assert_eq!(analysis, intelligence);
            saw_analysis = true;
        }
    }
    assert!(saw_analysis);
}
