//! Protocol edges a hostile or careless client reaches: malformed and
//! oversized requests get the API's JSON error (REST) or INVALID_ARGUMENT
//! with details (gRPC) and never an echo of a huge value; typos in field
//! names are refused before anything is charged; the session list pages
//! past its newest 100; a key revoked mid-stream ends its streams.

use crate::common::{self, TestServer};
use livescan::proto as pb;
use serde_json::{Value, json};
use std::time::Duration;

fn dir_clean() -> String {
    common::fixtures().join("dir-clean").display().to_string()
}

async fn raw_post(server: &TestServer, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = server
        .client()
        .post(server.url("/api/sessions"))
        .body(body.to_string());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn balance(server: &TestServer) -> i64 {
    server.get("/api/account").await.1["balance"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_mistyped_start_requests_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let before = balance(&server).await;
    let valid = json!({ "target": { "directory": dir_clean() }, "tools": ["large-files"] }).to_string();

    // Bytes after the JSON object.
    let (status, body) = raw_post(&server, Some("application/json"), &format!("{valid} {{}}")).await;
    assert_eq!(
        (status, &body["error"]["details"]["field"]),
        (400, &json!("body")),
        "{body}"
    );

    // Typos name the field and the one meant; nothing runs, nothing is charged.
    for (request, field, suggestion) in [
        (
            json!({ "target": { "directory": dir_clean() }, "timeOut": 1000 }),
            "timeOut",
            "timeout",
        ),
        (
            json!({ "target": { "directory": dir_clean() }, "excludeTool": ["secrets"] }),
            "excludeTool",
            "excludeTools",
        ),
        (
            json!({ "target": { "dir": dir_clean() } }),
            "target.dir",
            "directory",
        ),
    ] {
        let (status, body) = raw_post(&server, Some("application/json"), &request.to_string()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
        assert_eq!(body["error"]["details"]["suggestion"], suggestion, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("did you mean `{suggestion}`")),
            "{message}"
        );
    }
    assert_eq!(balance(&server).await, before, "a refused request was charged");

    // The body must say it is JSON.
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, body) = raw_post(&server, content_type, &valid).await;
        assert_eq!(status, 415, "{content_type:?}: {body}");
        assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
    }
    let (status, body) = raw_post(&server, Some("application/json; charset=utf-8"), &valid).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refusals_carry_the_json_error_body_and_bound_what_they_echo() {
    let server = TestServer::start().await;
    let client = server.client();
    let json_error = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON error body");
        assert!(body["error"]["code"].is_string(), "{body}");
        (status, body)
    };

    let (status, body) = json_error(client.delete(server.url("/api/sessions")).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{body}"
    );

    let long = "x".repeat(9000);
    let (status, body) = json_error(
        client
            .get(server.url(&format!("/api/sessions/{long}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (414, Some("uri_too_long")),
        "{body}"
    );

    let mut many = client.get(server.url("/api/sessions"));
    for i in 0..150 {
        many = many.header(format!("x-filler-{i}"), "y");
    }
    let (status, body) = json_error(many.send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (431, Some("headers_too_large")),
        "{body}"
    );

    // A 3 MB id is not echoed back whole, over REST (in a query) or gRPC.
    let huge = "s".repeat(3 * 1024 * 1024);
    let mut grpc = server.grpc().await;
    let refused = grpc
        .get_session(pb::GetSessionRequest {
            session_id: huge.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::NotFound);
    assert!(
        refused.message().len() < 2000,
        "{} bytes echoed",
        refused.message().len()
    );
    let (status, body) = server
        .get(&format!("/api/sessions?limit={}", "9".repeat(5000)))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().len() < 3000,
        "{} bytes echoed",
        body.to_string().len()
    );
}

/// Sends and receives raw bytes as gRPC messages.
struct RawBytes;

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawBytes;
    type Decoder = RawBytes;
    fn encoder(&mut self) -> RawBytes {
        RawBytes
    }
    fn decoder(&mut self) -> RawBytes {
        RawBytes
    }
}

impl tonic::codec::Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(buf, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawBytes {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, buf: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let mut out = vec![0; bytes::Buf::remaining(buf)];
        bytes::Buf::copy_to_slice(buf, &mut out);
        Ok(Some(out))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_grpc_request_is_invalid_argument_with_details() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Endpoint::from_shared(server.base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    // Not a GetSessionRequest: field 1 as a varint that never ends.
    let mut request = tonic::Request::new(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", server.key).parse().unwrap());
    let path = axum::http::uri::PathAndQuery::from_static("/livescan.v1.SessionService/GetSession");
    let refused = grpc.unary(request, path, RawBytes).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let details = refused
        .metadata()
        .get_bin("livescan-error-bin")
        .expect("error details");
    let details: Value = serde_json::from_slice(&details.to_bytes().unwrap()).unwrap();
    assert_eq!(details["code"], "invalid_argument", "{details}");
    assert_eq!(details["details"]["field"], "request", "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_list_pages_past_its_newest_hundred() {
    let server = TestServer::start().await;
    let mut started = Vec::new();
    for _ in 0..105 {
        started.push(
            server
                .start_session(json!({ "target": { "directory": dir_clean() }, "tools": ["large-files"] }))
                .await,
        );
    }
    let mut listed = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(before) => format!("/api/sessions?limit=40&before={before}"),
            None => "/api/sessions?limit=40".to_string(),
        };
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 105);
        listed.extend(
            page["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["sessionId"].as_str().unwrap().to_string()),
        );
        match page["nextBefore"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    started.reverse();
    assert_eq!(listed, started, "every session once, newest first");

    // gRPC pages the same way; a cursor that is not the caller's session is refused.
    let mut grpc = server.grpc().await;
    let first = grpc
        .list_sessions(pb::ListSessionsRequest {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rest = grpc
        .list_sessions(pb::ListSessionsRequest {
            limit: 100,
            before: first.next_before.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.sessions.len(), rest.sessions.len()), (100, 5));
    assert!(rest.next_before.is_empty());
    let (status, body) = server.get("/api/sessions?before=sess-nosuchsession").await;
    assert_eq!(
        (status, &body["error"]["details"]["field"]),
        (400, &json!("before")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_mid_stream_ends_its_streams() {
    let server = TestServer::start().await;
    let (key, client) = server.account("watcher", 100).await;
    let (page, open) = common::gated_page().await;
    let id = common::start_with(
        &client,
        &server.base,
        json!({ "target": { "url": page }, "tools": ["http-headers"] }),
    )
    .await;
    let sse = client
        .get(server.url(&format!("/api/sessions/{id}/events")))
        .send()
        .await
        .unwrap();
    let mut grpc = server.grpc_with_key(&key).await;
    let mut watch = common::watch_from_snapshot(&mut grpc, &id).await;

    let key_id = key.split('_').nth(1).unwrap();
    livescan::store::Store::revoke_key(&*server.store, key_id)
        .await
        .unwrap();
    // Within a heartbeat (300 ms here) both streams end, while the session runs on.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match watch.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended without an error"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the gRPC stream outlived its key");
    assert_eq!(ended.code(), tonic::Code::Unauthenticated, "{ended:?}");
    assert!(ended.message().contains("revoked"), "{ended:?}");
    let events = common::read_sse(sse).await;
    let last = events.last().unwrap();
    assert_eq!(
        (last.event.as_str(), &last.data["error"]["code"]),
        ("error", &json!("unauthenticated")),
        "{events:?}"
    );
    open.send(true).unwrap();
}
