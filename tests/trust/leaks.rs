//! Secrets never leave the server whole: a password a scanner quotes, a
//! token in a finding, the credentials in a URL target. Checked on every
//! way out — the REST views, server-sent events, gRPC, the CLI's SARIF —
//! and in the server's own log at its most verbose (`RUST_LOG=trace`).

use crate::common::{self, RealServer};
use livescan::proto as pb;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_report_a_stream_or_a_log_line() {
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let password = format!("hunter2-{marker}");
    let stripe_key = format!("sk_live_{}", &marker[..24]);
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(
        tree.path().join("app.py"),
        format!(
            "password = \"{password}\"\nAPI_KEY = \"{stripe_key}\"\n\n\ndef connect(token=\"{password}\"):\n    return token\n"
        ),
    )
    .unwrap();
    let site = common::web_site().await;
    let url = format!(
        "{}/planted.html",
        site.replacen("://", &format!("://admin:{password}@"), 1)
    );

    let data_dir = tempfile::tempdir().unwrap();
    let tree_arg = tree.path().to_str().unwrap();
    let server = RealServer::start_with(
        data_dir.path(),
        "127.0.0.1:0",
        "trace",
        &["--scan-root", tree_arg],
    );
    let client = server.client();
    let directory = json!({
        "target": { "directory": tree.path() },
        "tools": ["secrets", "bandit", "ruff", "detect-secrets", "pylint", "semgrep", "dangerous-calls"]
    });
    let pages = json!({ "target": { "url": url }, "tools": ["http-headers", "cookies", "server-banner", "html-a11y"] });
    let mut everything = String::new();
    for body in [directory, pages] {
        let id = common::start_with(&client, &server.base, body).await;
        let session = common::wait_terminal(&client, &server.base, &id).await;
        assert_eq!(session["status"], "completed", "{session}");
        everything.push_str(&session.to_string());
        let events = client
            .get(format!("{}/api/sessions/{id}/events?after=0", server.base))
            .send()
            .await
            .unwrap();
        everything.push_str(&events.text().await.unwrap());
        let mut grpc = common::grpc_client(&server.base, &server.key).await;
        let got = grpc
            .get_session(pb::GetSessionRequest {
                session_id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        everything.push_str(&format!("{:?}", got.into_inner()));
        let mut watch = grpc
            .watch_session(pb::WatchSessionRequest {
                session_id: id.clone(),
                after_seq: Some(0),
            })
            .await
            .unwrap()
            .into_inner();
        while let Some(message) = watch.message().await.unwrap() {
            everything.push_str(&format!("{message:?}"));
        }
    }
    // The findings are there, only without the secrets.
    assert!(
        everything.contains("hardcoded password"),
        "bandit found nothing: {everything}"
    );
    assert!(
        everything.contains("Stripe"),
        "secrets found nothing: {everything}"
    );
    assert!(
        everything.contains("admin") || everything.contains("***@"),
        "{everything}"
    );

    let (code, sarif, err) = common::livescan(&[
        "scan",
        tree_arg,
        "--server",
        &server.base,
        "--api-key",
        &server.key,
        "--tools",
        "secrets,bandit,detect-secrets",
        "--format",
        "sarif",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(sarif.contains("B105"), "{sarif}");
    everything.push_str(&sarif);
    everything.push_str(&err);

    for (what, secret) in [
        ("the password", password.as_str()),
        ("the Stripe key", &stripe_key),
        ("the marker", &marker),
    ] {
        assert!(
            !everything.contains(secret),
            "{what} left the server: {everything}"
        );
    }
    let log = server.log.lock().unwrap().clone();
    assert!(log.lines().count() > 100, "trace logging is on: {log}");
    for (what, secret) in [
        ("the password", password.as_str()),
        ("the Stripe key", &stripe_key),
        ("the marker", &marker),
        ("the API key", &server.key),
        ("the API key's secret part", &server.key[17..]),
    ] {
        let line = log.lines().find(|line| line.contains(secret));
        assert!(
            line.is_none(),
            "{what} reached the log: {}",
            line.unwrap_or_default()
        );
    }
}
