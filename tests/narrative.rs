//! The optional narrative from a language model, against a small local
//! server on 127.0.0.1 that speaks the chat-completions protocol: a good
//! answer is added to the analysis after the session's end, told nothing
//! a finding said, and reaches the session's watchers (gRPC and SSE) as
//! the last event of their streams; a slow, a failing and a malformed
//! answer leave the session completed on time, its narrative saying why
//! there is no text.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::{Sse, TestServer, fixtures, read_sse, test_catalog};
use livescan::engine::narrative::NarratorConfig;
use livescan::proto::WatchSessionRequest;
use livescan::proto::watch_session_response::Event as WatchEvent;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the model server answers.
#[derive(Clone, Copy)]
enum Answer {
    Good,
    Slow,
    Failing,
    Malformed,
}

#[derive(Clone)]
struct Model {
    answer: Answer,
    /// Each request's headers and body, as received.
    heard: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn chat(State(model): State<Model>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    model.heard.lock().unwrap().push((headers, request));
    match model.answer {
        Answer::Good => {
            // Long enough for the watchers to be waiting when it comes.
            tokio::time::sleep(Duration::from_millis(700)).await;
            axum::Json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{ "index": 0, "finish_reason": "stop",
                "message": { "role": "assistant", "content": "  Rotate the leaked keys first.  " } }]
            }))
            .into_response()
        }
        Answer::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        Answer::Failing => (StatusCode::INTERNAL_SERVER_ERROR, "model overloaded").into_response(),
        Answer::Malformed => axum::Json(json!({ "choices": [] })).into_response(),
    }
}

/// A model server answering `answer`, and what it heard.
async fn model_server(answer: Answer) -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let heard = Arc::default();
    let model = Model {
        answer,
        heard: Arc::clone(&heard),
    };
    let router = axum::Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(model);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{address}/v1"), heard)
}

async fn server_with_model(url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::with_config(test_catalog(), move |config| {
        config.narrator = Some(NarratorConfig {
            url,
            model: "test-model".into(),
            api_key: Some("model-key".into()),
            timeout: Duration::from_secs(2),
        });
    })
    .await
}

/// What the session's watchers received, read to the end of their streams.
struct Watched {
    /// Event names of the SSE stream, from the start.
    sse: Vec<Sse>,
    /// Kinds of the WatchSession stream's messages, heartbeats left out.
    grpc: Vec<WatchEvent>,
}

/// Scans the planted secrets with an SSE and a gRPC watcher following from
/// the start; the finished session, how long the end took, and what the
/// watchers received.
async fn scan(server: &TestServer) -> (Value, Duration, Watched) {
    let started = Instant::now();
    let directory = fixtures().join("dir-planted").display().to_string();
    let id = server
        .start_session(json!({ "target": { "directory": directory }, "tools": ["secrets"] }))
        .await;
    let sse = server
        .client()
        .get(server.url(&format!("/api/sessions/{id}/events?after=0")))
        .send()
        .await
        .unwrap();
    let sse = tokio::spawn(read_sse(sse));
    let mut grpc = server.grpc().await;
    let mut stream = grpc
        .watch_session(WatchSessionRequest {
            session_id: id.clone(),
            after_seq: Some(0),
        })
        .await
        .unwrap()
        .into_inner();
    let grpc = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(message) = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("the stream ends")
            .unwrap()
        {
            match message.event.unwrap() {
                WatchEvent::Heartbeat(_) => {}
                event => events.push(event),
            }
        }
        events
    });
    let session = server.wait_finished(&id).await;
    let took = started.elapsed();
    let watched = Watched {
        sse: sse.await.unwrap(),
        grpc: grpc.await.unwrap(),
    };
    (session, took, watched)
}

/// The session's narrative, once it arrived (within `wait`).
async fn narrative_of(server: &TestServer, id: &str, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let (_, session) = server.get(&format!("/api/sessions/{id}")).await;
        let narrative = &session["intelligence"]["narrative"];
        if !narrative.is_null() {
            return Some(narrative.clone());
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_narrative_follows_the_analysis_and_hears_no_secret() {
    let (url, heard) = model_server(Answer::Good).await;
    let server = server_with_model(&url).await;
    let (session, _, watched) = scan(&server).await;
    assert_eq!(session["status"], "completed");
    let id = session["sessionId"].as_str().unwrap();
    let narrative = narrative_of(&server, id, Duration::from_secs(10))
        .await
        .expect("a narrative");
    let expected = json!({ "text": "Rotate the leaked keys first.", "model": "test-model" });
    assert_eq!(narrative, expected);
    // The watchers got it too, as the last event of their streams.
    assert_ends_with_narrative(&watched, &expected);

    let heard = heard.lock().unwrap().clone();
    assert_eq!(heard.len(), 1);
    let (headers, request) = &heard[0];
    assert_eq!(headers["authorization"], "Bearer model-key");
    assert_eq!(request["model"], "test-model");
    assert_eq!(request["messages"][0]["role"], "system");
    let told = request["messages"][1]["content"].as_str().unwrap();
    let told: Value = serde_json::from_str(told).unwrap();
    assert!(!told["issues"].as_array().unwrap().is_empty(), "{told}");
    // Nothing a finding said reaches the model: no planted secret, no message.
    let sent = request.to_string();
    let settings = std::fs::read_to_string(fixtures().join("dir-planted/config/settings.py")).unwrap();
    for secret in [
        "AKIAY62MMZD344CUMP7M",
        "sk_live_i5qJhnLwPTL7MzmgqRiZ7fC2JyC2cCJ8sV",
    ] {
        assert!(settings.contains(secret));
        assert!(!sent.contains(secret), "{secret} sent to the model");
        assert!(
            !sent.contains(&secret[..4]),
            "a prefix of {secret} sent to the model"
        );
    }
    assert!(
        !sent.contains("hard-coded"),
        "a finding's message sent to the model"
    );

    // The narrative is an event of its own in the log, after the end.
    let events = livescan::store::events_after(&*server.store, id, 0)
        .await
        .unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names[names.len() - 3..],
        ["analysis", "session_finished", "narrative"],
        "{names:?}"
    );
    let (_, full) = server.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(full["cursor"], events.last().unwrap().seq);
    assert_eq!(full["status"], "completed");
}

/// Both watchers saw the analysis, an end announcing the narrative, then
/// `narrative` (as in the full view) last.
fn assert_ends_with_narrative(watched: &Watched, narrative: &Value) {
    let names: Vec<&str> = watched.sse.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        names[names.len() - 3..],
        ["analysis", "session_finished", "narrative"],
        "{names:?}"
    );
    let end = &watched.sse[names.len() - 2].data;
    assert_eq!(end["narrativeFollows"], true, "{end}");
    assert_eq!(watched.sse.last().unwrap().data["narrative"], *narrative);

    let grpc = &watched.grpc;
    assert!(
        matches!(grpc[grpc.len() - 3], WatchEvent::Analysis(_)),
        "{grpc:?}"
    );
    let WatchEvent::SessionFinished(end) = &grpc[grpc.len() - 2] else {
        panic!("no end before the narrative: {grpc:?}")
    };
    assert!(end.narrative_follows);
    let WatchEvent::Narrative(last) = grpc.last().unwrap() else {
        panic!("the narrative is not last: {grpc:?}")
    };
    assert_eq!(last.model, narrative["model"].as_str().unwrap());
    assert_eq!(last.text, narrative["text"].as_str().unwrap_or(""));
    assert_eq!(last.error, narrative["error"].as_str().unwrap_or(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_failing_or_malformed_model_leaves_the_session_completed_on_time() {
    for (answer, error) in [
        (Answer::Slow, "the model did not answer within 2000 ms"),
        (Answer::Failing, "the model answered 500 Internal Server Error"),
        (
            Answer::Malformed,
            "the model's answer has no choices[0].message.content",
        ),
    ] {
        let (url, heard) = model_server(answer).await;
        let server = server_with_model(&url).await;
        let (session, took, watched) = scan(&server).await;
        assert_eq!(session["status"], "completed");
        // The end never waits for the model (which takes 30 s when slow).
        assert!(took < Duration::from_secs(10), "took {took:?}");
        assert!(session["intelligence"]["priorities"].is_array(), "{session:#}");
        let id = session["sessionId"].as_str().unwrap();
        // Why there is no text, without the model's address or its words.
        let expected = json!({ "model": "test-model", "error": error });
        let narrative = narrative_of(&server, id, Duration::from_secs(5)).await;
        assert_eq!(narrative.as_ref(), Some(&expected));
        assert_ends_with_narrative(&watched, &expected);
        assert_eq!(heard.lock().unwrap().len(), 1, "asked once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_model_the_streams_end_at_the_end() {
    let server = TestServer::start().await;
    let (session, _, watched) = scan(&server).await;
    assert_eq!(session["status"], "completed");
    assert!(session["intelligence"]["narrative"].is_null(), "{session:#}");
    let last = watched.sse.last().unwrap();
    assert_eq!(last.event, "session_finished");
    assert!(last.data.get("narrativeFollows").is_none(), "{}", last.data);
    let Some(WatchEvent::SessionFinished(end)) = watched.grpc.last() else {
        panic!("the stream does not end at the end: {:?}", watched.grpc)
    };
    assert!(!end.narrative_follows);
}
