//! One tenant cannot degrade another through shared state: targets a user
//! chose that cannot be reached (a closed port, an address the policy
//! refuses) fail that user's runs, refunded, but never open the circuit
//! breaker that every session shares.

use crate::common::{self, TestServer};
use livescan::tools::Catalog;
use serde_json::{Value, json};

fn circuit(tools: &Value, id: &str) -> Value {
    tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()["circuit"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_targets_never_open_a_tools_circuit() {
    // A port nobody listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = TestServer::start().await;
    let tools = ["http-headers", "tls", "cookies", "exposed-paths"];
    for _ in 0..7 {
        let id = server
            .start_session(json!({ "target": { "url": format!("http://{closed}/") }, "tools": tools }))
            .await;
        let session = server.wait_finished(&id).await;
        assert_eq!(session["status"], "partial", "{session}");
        assert_eq!(session["refund"]["refundedCredits"], 5, "{session}");
        assert_eq!(
            session["toolReports"]["http-headers"]["status"], "failed",
            "{session}"
        );
    }
    // A server whose policy refuses loopback: `localhost` resolves there.
    let strict =
        TestServer::with_config(Catalog::builtin(), |config| config.policy.allow_private = false).await;
    for _ in 0..7 {
        let id = strict
            .start_session(json!({ "target": { "url": format!("http://localhost:{}/", closed.port()) }, "tools": tools }))
            .await;
        let session = strict.wait_finished(&id).await;
        let error = session["toolReports"]["http-headers"]["result"]["error"].to_string();
        assert!(error.contains("non-public"), "{session}");
    }
    for server in [&server, &strict] {
        let listed = server.get("/api/tools").await.1;
        for tool in tools {
            let circuit = circuit(&listed, tool);
            assert_eq!(circuit["state"], "closed", "{tool}: {circuit}");
            assert_eq!(circuit["failures"], 0, "{tool}: {circuit}");
        }
    }
    // Others' sessions still run the tools.
    let site = common::web_site().await;
    let id = server
        .start_session(
            json!({ "target": { "url": format!("{site}/clean.html") }, "tools": ["http-headers"] }),
        )
        .await;
    let session = server.wait_finished(&id).await;
    assert_eq!(
        session["toolReports"]["http-headers"]["status"], "completed",
        "{session}"
    );
}
