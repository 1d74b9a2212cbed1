//! A repository's `livescan.toml` and inline `livescan:ignore` comments,
//! and server-side baselines, through a real server on 127.0.0.1: excluded
//! paths are not reported, severities are overridden, suppressed findings
//! are kept and counted apart until their suppression expires, a bad file
//! is refused naming the key, and a baseline marks what is new.

mod common;

use common::{TestServer, test_catalog};
use livescan::proto as pb;
use serde_json::{Value, json};
use std::path::Path;

const AWS_KEY: &str = "AKIAY62MMZD344CUMP7M";
const STRIPE_KEY: &str = "sk_live_i5qJhnLwPTL7MzmgqRiZ7fC2JyC2cCJ8sV";

/// A server that may scan `root` besides the fixtures.
async fn server_for(root: &Path) -> TestServer {
    let root = root.canonicalize().unwrap();
    TestServer::with_config(test_catalog(), move |config| config.policy.scan_roots.push(root)).await
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The secrets report's findings as (path, rule, severity, suppression).
fn secrets(session: &Value) -> Vec<(String, String, String, Value)> {
    let mut found: Vec<_> = session["toolReports"]["secrets"]["result"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["ruleId"].as_str().unwrap().to_string(),
                f["severity"].as_str().unwrap().to_string(),
                f["suppression"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    found
}

async fn scan(server: &TestServer, body: Value) -> Value {
    let id = server.start_session(body).await;
    server.wait_finished(&id).await
}

#[tokio::test]
async fn livescan_toml_excludes_overrides_and_suppresses_until_it_expires() {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    write(root, "app.py", &format!("KEY = \"{AWS_KEY}\"\n"));
    write(root, "legacy/lib.py", &format!("KEY = \"{AWS_KEY}\"\n"));
    write(root, "tests/fixture.py", &format!("KEY = \"{AWS_KEY}\"\n"));
    write(root, "old/fixture.py", &format!("KEY = \"{AWS_KEY}\"\n"));
    write(
        root,
        "inline.py",
        &format!(
            "A = \"{AWS_KEY}\"  # livescan:ignore[aws-access-key-id]\n# livescan:ignore\nB = \"{STRIPE_KEY}\"\nC = \"{STRIPE_KEY}\"  # livescan:ignore[other-rule]\n"
        ),
    );
    write(
        root,
        "livescan.toml",
        r#"
tools = ["secrets"]
exclude = ["legacy/"]

[severity]
"secrets/stripe-secret-key" = "medium"

[[ignore]]
rule = "secrets/aws-access-key-id"
path = "tests/**"
reason = "test keys, revoked"
expires = 2999-01-01

[[ignore]]
rule = "aws-access-key-id"
path = "old/**"
reason = "was accepted"
expires = "2020-01-01"
"#,
    );
    let server = server_for(root).await;
    let session = scan(
        &server,
        json!({ "target": { "directory": root.display().to_string() } }),
    )
    .await;
    // `tools` came from the file.
    assert_eq!(
        session["toolReports"].as_object().unwrap().len(),
        1,
        "{session:#}"
    );
    let found = secrets(&session);
    let shown: Vec<(&str, &str, &str, &Value)> = found
        .iter()
        .map(|(p, r, s, sup)| (p.as_str(), r.as_str(), s.as_str(), sup))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("app.py", "aws-access-key-id", "critical", &Value::Null),
            (
                "inline.py",
                "aws-access-key-id",
                "critical",
                &json!({ "kind": "inline" })
            ),
            (
                "inline.py",
                "stripe-secret-key",
                "medium",
                &json!({ "kind": "inline" })
            ),
            ("inline.py", "stripe-secret-key", "medium", &Value::Null),
            (
                "old/fixture.py",
                "aws-access-key-id",
                "critical",
                &json!({ "kind": "config", "reason": "was accepted", "expires": "2020-01-01", "expired": true })
            ),
            (
                "tests/fixture.py",
                "aws-access-key-id",
                "critical",
                &json!({ "kind": "config", "reason": "test keys, revoked", "expires": "2999-01-01" })
            ),
        ],
        "{session:#}"
    );
    // Suppressed findings are listed, and counted apart.
    let report = &session["toolReports"]["secrets"];
    assert_eq!(report["findingsCount"], 3);
    assert_eq!(report["result"]["suppressed"], 3);
    assert_eq!(session["summary"]["totalFindings"], 3);
    assert_eq!(session["summary"]["suppressed"], 3);
    assert_eq!(session["summary"]["bySeverity"]["critical"], 2);
    assert_eq!(session["summary"]["bySeverity"]["medium"], 1);

    // The same tree uploaded: the archive's livescan.toml applies alike.
    let mut archive = tar::Builder::new(Vec::new());
    archive.append_dir_all(".", root).unwrap();
    let (status, upload) = common_upload(&server, archive.into_inner().unwrap()).await;
    assert_eq!(status, 201, "{upload}");
    let uploaded = scan(&server, json!({ "target": { "upload": upload["uploadId"] } })).await;
    assert_eq!(secrets(&uploaded), found);

    // The request's own config replaces the file.
    let replaced = scan(
        &server,
        json!({
            "target": { "directory": root.display().to_string() },
            "tools": ["secrets"],
            "config": "[[ignore]]\nrule = \"secrets/*\"\nreason = \"all\"\n"
        }),
    )
    .await;
    assert_eq!(replaced["toolReports"]["secrets"]["findingsCount"], 0);
    assert_eq!(replaced["toolReports"]["secrets"]["result"]["outcome"], "clean");
    assert_eq!(
        replaced["summary"]["suppressed"], 7,
        "legacy/ is read again: {replaced:#}"
    );
}

async fn common_upload(server: &TestServer, body: Vec<u8>) -> (u16, Value) {
    let response = server
        .client()
        .post(server.url("/api/uploads"))
        .header("content-type", "application/x-tar")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_bad_livescan_toml_is_refused_naming_the_key_and_nothing_is_charged() {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    write(root, "app.py", "print('hi')\n");
    let server = server_for(root).await;
    let (_, before) = server.get("/api/account").await;
    let directory = root.display().to_string();
    let huge = "#".repeat(200_000);
    let cases = [
        (huge.as_str(), "livescan.toml", "is larger than 65536 bytes"),
        (
            "tools = [\"secrets\"]\ntols = 1\n",
            "livescan.toml",
            "line 2: unknown field `tols`",
        ),
        (
            "[[ignore]]\nrule = \"x\"\nexpires = \"tomorrow\"\n",
            "livescan.toml",
            "ignore[0].expires",
        ),
        (
            "tools = [\"no-such-tool\"]\n",
            "livescan.toml",
            "tools[0]: unknown tool `no-such-tool`",
        ),
        (
            "[tool.secrets]\nthreshold = 3\n",
            "livescan.toml",
            "unknown field `threshold`",
        ),
    ];
    for (text, field, says) in cases {
        write(root, "livescan.toml", text);
        let (status, body) = server
            .post("/api/sessions", json!({ "target": { "directory": directory } }))
            .await;
        assert_eq!(status, 400, "{text}: {body}");
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{text}: {message}");
    }
    // The same text given in the request names the request's field.
    let (status, body) = server
        .post(
            "/api/sessions",
            json!({ "target": { "directory": directory }, "config": "tols = 1" }),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["field"], "config");
    // A link in place of the file is refused, not followed.
    std::fs::remove_file(root.join("livescan.toml")).unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("livescan.toml")).unwrap();
    let (status, body) = server
        .post("/api/sessions", json!({ "target": { "directory": directory } }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("symbolic link"),
        "{body}"
    );
    let (_, after) = server.get("/api/account").await;
    assert_eq!(after["balance"], before["balance"]);
}

#[tokio::test]
async fn a_baseline_session_marks_new_findings_over_rest_and_grpc() {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    write(root, "app.py", &format!("import os\nKEY = \"{AWS_KEY}\"\n"));
    let server = server_for(root).await;
    let directory = root.display().to_string();
    let first = scan(
        &server,
        json!({ "target": { "directory": directory }, "tools": ["secrets"] }),
    )
    .await;
    let baseline = first["sessionId"].as_str().unwrap();
    assert!(first["summary"].get("newBySeverity").is_none());

    // Lines inserted above the old finding, and one new problem.
    write(
        root,
        "app.py",
        &format!("import os\n# one\n# two\nKEY = \"{AWS_KEY}\"\nPAY = \"{STRIPE_KEY}\"\n"),
    );
    let second = scan(
        &server,
        json!({ "target": { "directory": directory }, "tools": ["secrets"], "baseline": baseline }),
    )
    .await;
    let states: Vec<(String, String)> = second["toolReports"]["secrets"]["result"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["ruleId"].as_str().unwrap().into(),
                f["baselineState"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("aws-access-key-id".to_string(), "unchanged".to_string()),
            ("stripe-secret-key".to_string(), "new".to_string())
        ]
    );
    assert_eq!(
        second["summary"]["newBySeverity"],
        json!({ "critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0 })
    );

    // Over gRPC: the same request fields, the same answer.
    let mut grpc = server.grpc().await;
    let started = grpc
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                directory: directory.clone(),
                ..Default::default()
            }),
            tools: vec!["secrets".into()],
            baseline: Some(baseline.to_string()),
            config: Some("[[ignore]]\nrule = \"stripe-secret-key\"\n".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    server.wait_finished(&started.session_id).await;
    let session = grpc
        .get_session(pb::GetSessionRequest {
            session_id: started.session_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    let summary = session.summary.unwrap();
    assert_eq!(summary.suppressed, 1);
    // The new finding is suppressed, so nothing new counts.
    assert_eq!(summary.new_by_severity.unwrap().critical, 0);
    let findings = &session.tool_reports[0].findings;
    let stripe = findings
        .iter()
        .find(|f| f.rule_id == "stripe-secret-key")
        .unwrap();
    assert_eq!(stripe.baseline_state, "new");
    assert_eq!(stripe.suppression.as_ref().unwrap().kind, "config");

    // A baseline that is not one of the caller's ended sessions is refused.
    for (given, says) in [
        ("sess-nosuchsession", "no session"),
        ("upl-1", "not a session id"),
    ] {
        let (status, body) = server
            .post(
                "/api/sessions",
                json!({ "target": { "directory": directory }, "baseline": given }),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"]["field"], "baseline");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{body}"
        );
    }
}
