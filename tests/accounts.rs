//! Accounts against a real server: credits reserved atomically under
//! concurrency (402 with required/balance), refunds for exactly the tools that
//! failed, timed out or were skipped, users kept apart on REST and gRPC, keys
//! refused with a reason, and the per-key rate limit.

mod common;

use common::{TestServer, fixtures};
use futures::future::BoxFuture;
use livescan::engine::{RateLimit, accounts};
use livescan::model::{Category, Ecosystem, TargetKind};
use livescan::proto as pb;
use livescan::tools::{Availability, Catalog, Tool, ToolContext, ToolError, ToolSpec};
use serde_json::{Value, json};
use std::sync::Arc;
use tonic::Code;

const DIR: &[TargetKind] = &[TargetKind::Directory];

fn spec(id: &'static str, cost: u32) -> ToolSpec {
    ToolSpec {
        id,
        category: Category::CodeQuality,
        ecosystem: Ecosystem::Any,
        targets: DIR,
        cost,
        summary: "test tool",
    }
}

enum Behaviour {
    Succeeds,
    Fails,
    Hangs,
    NotInstalled,
}

struct TestTool(ToolSpec, Behaviour);

impl Tool for TestTool {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }

    fn availability(&self) -> Availability {
        match self.1 {
            Behaviour::NotInstalled => Availability::Unavailable {
                reason: "`missing-scanner` is not on PATH".into(),
                install_hint: "pip install missing-scanner".into(),
            },
            _ => Availability::Available,
        }
    }

    fn run(self: Arc<Self>, _ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            match self.1 {
                Behaviour::Succeeds => Ok(()),
                Behaviour::Fails => Err(ToolError::Failed("exit status 3: bad config".into())),
                Behaviour::Hangs => std::future::pending().await,
                Behaviour::NotInstalled => unreachable!("an unavailable tool is never run"),
            }
        })
    }
}

/// ok (7 credits), fails (2), hangs (3), missing (5, not installed).
fn faulty_catalog() -> Catalog {
    let mut catalog = Catalog::default();
    for (id, cost, behaviour) in [
        ("ok", 7, Behaviour::Succeeds),
        ("fails", 2, Behaviour::Fails),
        ("hangs", 3, Behaviour::Hangs),
        ("missing", 5, Behaviour::NotInstalled),
    ] {
        catalog.add(Arc::new(TestTool(spec(id, cost), behaviour)));
    }
    catalog
}

fn directory() -> String {
    fixtures().join("dir-clean").display().to_string()
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn account(server: &TestServer, client: &reqwest::Client) -> Value {
    let (status, body) = json_of(client.get(server.url("/api/account")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn ledger_sum(account: &Value) -> i64 {
    account["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["amount"].as_i64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_take_exactly_the_credits_there_are() {
    let server = TestServer::start().await;
    // todo-comments costs 1 and the analysis 1: the balance covers
    // exactly ten sessions.
    let (_, alice) = server.account("alice", 20).await;
    let body = json!({ "target": { "directory": directory() }, "tools": ["todo-comments"] });
    let starts = (0..100).map(|_| {
        let request = alice.post(server.url("/api/sessions")).json(&body);
        async move { json_of(request.send().await.unwrap()).await }
    });
    let answers = futures::future::join_all(starts).await;
    let accepted: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 202)
        .map(|(_, b)| b)
        .collect();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 402)
        .map(|(_, b)| b)
        .collect();
    assert_eq!((accepted.len(), refused.len()), (10, 90), "{answers:?}");
    for body in &refused {
        assert_eq!(body["error"]["code"], "insufficient_credits");
        assert_eq!(body["error"]["details"]["required"], 2);
        assert_eq!(body["error"]["details"]["balance"], 0);
    }
    for body in &accepted {
        common::wait_terminal(&alice, &server.base, body["sessionId"].as_str().unwrap()).await;
    }
    let (_, list) = json_of(
        alice
            .get(server.url("/api/sessions?limit=100"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["total"], 10, "refused starts left no session behind");
    let account = account(&server, &alice).await;
    assert_eq!(account["balance"], 0);
    assert_eq!(ledger_sum(&account), 0, "{account}");
    let reserves = account["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "reserve")
        .count();
    assert_eq!(reserves, 10);

    // gRPC says the same: FAILED_PRECONDITION with required and balance.
    let (key, _) = server.account("bob", 0).await;
    let mut grpc = server.grpc_with_key(&key).await;
    let refused = grpc
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                directory: directory(),
                ..Default::default()
            }),
            tools: vec!["todo-comments".into(), "secrets".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let details: Value = serde_json::from_slice(
        &refused
            .metadata()
            .get_bin("livescan-error-bin")
            .unwrap()
            .to_bytes()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(details["code"], "insufficient_credits");
    assert_eq!(details["details"]["required"], 3);
    assert_eq!(details["details"]["balance"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_timed_out_and_skipped_tools_are_refunded_once() {
    let server = TestServer::with_catalog(faulty_catalog(), 4).await;
    let (_, alice) = server.account("alice", 100).await;
    let body = json!({
        "target": { "directory": directory() },
        "tools": ["ok", "fails", "hangs", "missing"],
        "timeout": 1000
    });
    let id = &common::start_with(&alice, &server.base, body).await;
    // The tools' 17 credits, and 1 for the analysis.
    assert_eq!(account(&server, &alice).await["balance"], 100 - 18);

    let session = common::wait_terminal(&alice, &server.base, id).await;
    assert_eq!(session["status"], "partial", "{session}");
    let reports = &session["toolReports"];
    assert_eq!(reports["fails"]["result"]["outcome"], "tool_error");
    assert_eq!(reports["hangs"]["result"]["outcome"], "timed_out");
    assert_eq!(reports["missing"]["status"], "skipped");
    assert_eq!(session["creditsReserved"], 18);
    assert_eq!(
        session["refund"],
        json!({ "refundedCredits": 10, "toolsRefunded": ["fails", "hangs", "missing"], "newBalance": 92 })
    );

    let account = account(&server, &alice).await;
    assert_eq!(account["balance"], 92);
    assert_eq!(ledger_sum(&account), 92, "{account}");
    let kinds: Vec<(&str, i64)> = account["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("refund", 10), ("reserve", -18), ("grant", 100)]);

    // The pushed end carries the same refund, and gRPC's account agrees.
    let mut grpc = server.grpc().await;
    let watched = grpc
        .get_session(pb::GetSessionRequest {
            session_id: id.to_string(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        watched.unwrap_err().code(),
        Code::NotFound,
        "not the tester's session"
    );
    let alice_key = accounts::add_key(&*server.store, account["userId"].as_str().unwrap(), "grpc", None)
        .await
        .unwrap();
    let mut grpc = server.grpc_with_key(&alice_key.key).await;
    let refund = grpc
        .get_session(pb::GetSessionRequest {
            session_id: id.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap()
        .refund
        .unwrap();
    assert_eq!(refund.tools_refunded, vec!["fails", "hangs", "missing"]);
    assert_eq!((refund.refunded_credits, refund.new_balance), (10, 92));
    let grpc_account = grpc
        .get_account(pb::GetAccountRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(grpc_account.balance, 92);
    assert_eq!(grpc_account.ledger.len(), 3);
    assert_eq!(grpc_account.ledger[0].kind(), pb::LedgerKind::Refund);
    assert_eq!(&grpc_account.ledger[0].session_id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analysis_costs_what_the_catalog_says_and_comes_back_when_not_made() {
    let server = TestServer::with_catalog(faulty_catalog(), 4).await;
    let (key, alice) = server.account("alice", 100).await;
    let (_, tools) = json_of(alice.get(server.url("/api/tools")).send().await.unwrap()).await;
    assert_eq!(tools["analysis"]["cost"], 1, "{tools}");
    let mut grpc = server.grpc_with_key(&key).await;
    let catalog = grpc
        .list_tools(pb::ListToolsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(catalog.analysis_cost, 1);

    // Without the analysis: the tool's 7 credits only, and no analysis.
    let without =
        json!({ "target": { "directory": directory() }, "tools": ["ok"], "enableIntelligence": false });
    let id = common::start_with(&alice, &server.base, without).await;
    let session = common::wait_terminal(&alice, &server.base, &id).await;
    assert_eq!(session["creditsReserved"], 7);
    assert!(session["intelligence"].is_null(), "{session}");
    assert!(session["refund"].is_null(), "{session}");
    assert_eq!(account(&server, &alice).await["balance"], 93);

    // With it (the default): 8 credits, kept, since the analysis was made.
    let with = json!({ "target": { "directory": directory() }, "tools": ["ok"] });
    let id = common::start_with(&alice, &server.base, with).await;
    let session = common::wait_terminal(&alice, &server.base, &id).await;
    assert_eq!(session["creditsReserved"], 8);
    assert!(session["intelligence"]["grade"].is_string(), "{session}");
    assert!(session["refund"].is_null(), "{session}");
    assert_eq!(account(&server, &alice).await["balance"], 85);

    // Cancelled before the analysis: it is refunded with the tool.
    let hangs = json!({ "target": { "directory": directory() }, "tools": ["hangs"] });
    let id = common::start_with(&alice, &server.base, hangs).await;
    assert_eq!(account(&server, &alice).await["balance"], 81);
    let (status, body) = json_of(
        alice
            .post(server.url(&format!("/api/sessions/{id}/cancel")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let session = common::wait_terminal(&alice, &server.base, &id).await;
    assert_eq!(session["status"], "cancelled");
    assert!(session["intelligence"].is_null(), "{session}");
    assert_eq!(
        session["refund"],
        json!({ "refundedCredits": 4, "toolsRefunded": ["hangs"], "analysisRefunded": true, "newBalance": 85 })
    );
    let account = account(&server, &alice).await;
    assert_eq!(account["balance"], 85);
    assert_eq!(ledger_sum(&account), 85, "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_never_sees_another_users_sessions() {
    let server = TestServer::start().await;
    let (alice_key, alice) = server.account("alice", 100).await;
    let (bob_key, bob) = server.account("bob", 100).await;
    let body = json!({ "target": { "directory": directory() }, "tools": ["todo-comments"] });
    let id = common::start_with(&alice, &server.base, body).await;
    common::wait_terminal(&alice, &server.base, &id).await;

    // REST: bob gets 404 (never 403) on every route, and an empty list.
    for request in [
        bob.get(server.url(&format!("/api/sessions/{id}"))),
        bob.get(server.url(&format!("/api/sessions/{id}?progress=true"))),
        bob.get(server.url(&format!("/api/sessions/{id}/events"))),
        bob.post(server.url(&format!("/api/sessions/{id}/cancel"))),
    ] {
        let (status, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (_, list) = json_of(bob.get(server.url("/api/sessions")).send().await.unwrap()).await;
    assert_eq!(list["total"], 0, "{list}");
    let (_, list) = json_of(alice.get(server.url("/api/sessions")).send().await.unwrap()).await;
    assert_eq!(list["sessions"][0]["sessionId"], id.as_str());

    // gRPC: the same.
    let mut as_bob = server.grpc_with_key(&bob_key).await;
    let get = as_bob
        .get_session(pb::GetSessionRequest {
            session_id: id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(get.unwrap_err().code(), Code::NotFound);
    let watch = as_bob
        .watch_session(pb::WatchSessionRequest {
            session_id: id.clone(),
            after_seq: None,
        })
        .await;
    assert_eq!(watch.err().unwrap().code(), Code::NotFound);
    let cancel = as_bob
        .cancel_session(pb::CancelSessionRequest {
            session_id: id.clone(),
        })
        .await;
    assert_eq!(cancel.unwrap_err().code(), Code::NotFound);
    let listed = as_bob
        .list_sessions(pb::ListSessionsRequest {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total, 0);
    let mut as_alice = server.grpc_with_key(&alice_key).await;
    let listed = as_alice
        .list_sessions(pb::ListSessionsRequest {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.sessions[0].session_id, id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_keys_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    let (_, good) = accounts::create_account(&*server.store, "carol", 10, None)
        .await
        .unwrap();
    let revoked = accounts::add_key(&*server.store, &good.record.user_id, "old", None)
        .await
        .unwrap();
    accounts::revoke(&*server.store, &revoked.record.key_id)
        .await
        .unwrap();
    let past = livescan::model::time::from_millis(livescan::model::time::now_millis() - 60_000);
    let expired = accounts::add_key(&*server.store, &good.record.user_id, "temp", Some(past))
        .await
        .unwrap();
    let mut unknown = good.key.clone();
    unknown.replace_range(4..8, "zzzz");

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no API key"),
        (Some(format!("Basic {}", good.key)), "`Basic` scheme"),
        (Some(format!("Token {}", good.key)), "`Token` scheme"),
        (Some(good.key.clone()), "without its scheme"),
        (Some("Bearer".into()), "no key after `Bearer`"),
        (Some("Bearer not-a-livescan-key".into()), "malformed"),
        (Some(format!("Bearer {unknown}")), "unknown or mistyped"),
        (Some(format!("Bearer {}", revoked.key)), "was revoked at"),
        (Some(format!("Bearer {}", expired.key)), "expired at"),
    ];
    let plain = common::http();
    for (header, expected) in &cases {
        for path in ["/api/sessions", "/api/tools", "/api/account"] {
            let mut request = plain.get(server.url(path));
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"livescan\""
            );
            let (status, body) = json_of(response).await;
            assert_eq!(status, 401, "{header:?} on {path}: {body}");
            assert_eq!(body["error"]["code"], "unauthenticated");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(expected), "{header:?}: {message}");
            for key in [&good.key, &revoked.key, &expired.key, &unknown] {
                assert!(
                    !message.contains(key.as_str()),
                    "the message repeats a key: {message}"
                );
            }
        }
    }
    // A start without a key is refused before its body is even read.
    let (status, _) = json_of(
        plain
            .post(server.url("/api/sessions"))
            .body("not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);

    // gRPC: UNAUTHENTICATED with the same reasons.
    let channel = tonic::transport::Endpoint::from_shared(server.base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut anonymous = pb::session_service_client::SessionServiceClient::new(channel);
    let refused = anonymous.list_tools(pb::ListToolsRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("no API key"), "{}", refused.message());
    let mut with_revoked = server.grpc_with_key(&revoked.key).await;
    let refused = with_revoked
        .list_sessions(pb::ListSessionsRequest {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("was revoked at"),
        "{}",
        refused.message()
    );

    // What stays open: liveness and the API description.
    for path in ["/healthz", "/openapi.json"] {
        assert_eq!(plain.get(server.url(path)).send().await.unwrap().status(), 200);
    }
    // And the good key works.
    let (status, _) = json_of(
        common::http_with_key(&good.key)
            .get(server.url("/api/account"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_has_its_own_rate_limit() {
    let server = TestServer::with_config(Catalog::builtin(), |config| {
        config.rate_limit = Some(RateLimit {
            per_second: 0.5,
            burst: 3,
        });
    })
    .await;
    let client = server.client();
    for _ in 0..3 {
        assert_eq!(
            client
                .get(server.url("/api/tools"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let response = client.get(server.url("/api/tools")).send().await.unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["details"]["retryAfterMs"].as_u64().unwrap() > 0);

    // gRPC shares the key's bucket.
    let mut grpc = server.grpc().await;
    let limited = grpc.list_tools(pb::ListToolsRequest {}).await.unwrap_err();
    assert_eq!(limited.code(), Code::ResourceExhausted);
    assert!(limited.metadata().get("retry-after").is_some());

    // Another key is not held back by this one.
    let (_, other) = server.account("other", 0).await;
    assert_eq!(
        other.get(server.url("/api/tools")).send().await.unwrap().status(),
        200
    );
    // Unauthenticated requests never reach (or drain) a bucket.
    assert_eq!(
        common::http()
            .get(server.url("/api/tools"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}
