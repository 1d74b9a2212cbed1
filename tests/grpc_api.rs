//! The gRPC API on the shared port: WatchSession (snapshot, live events, end,
//! exact resume), the other RPCs, errors, health, reflection and gRPC-web.

mod common;

use common::{TestServer, fixtures};
use livescan::proto as pb;
use pb::watch_session_response::Event;
use prost::Message;
use std::collections::HashMap;
use tonic::Code;

fn directory_request(max_concurrent: u32) -> pb::StartSessionRequest {
    pb::StartSessionRequest {
        target: Some(pb::Target {
            directory: fixtures().join("dir-planted").display().to_string(),
            ..Default::default()
        }),
        max_concurrent: Some(max_concurrent),
        ..Default::default()
    }
}

async fn collect(
    client: &mut common::GrpcClient,
    session_id: &str,
    after_seq: Option<u64>,
) -> Vec<pb::WatchSessionResponse> {
    let mut stream = client
        .watch_session(pb::WatchSessionRequest {
            session_id: session_id.to_string(),
            after_seq,
        })
        .await
        .unwrap()
        .into_inner();
    let mut messages = Vec::new();
    // The stream ends with OK (Ok(None)) after the session-finished event.
    while let Some(message) = stream.message().await.expect("the stream ends with OK") {
        messages.push(message);
    }
    messages
}

#[tokio::test]
async fn watch_sends_snapshot_then_each_report_then_the_end() {
    let server = TestServer::start().await;
    let mut client = server.grpc().await;
    // The page holds both tools until the snapshot has arrived.
    let (page, gate) = common::gated_page().await;
    let started = client
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                url: page,
                ..Default::default()
            }),
            max_concurrent: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let session = started.session.unwrap();
    assert_eq!(session.status(), pb::SessionStatus::Initializing);
    let total = session.progress.unwrap().total;

    let mut stream = client
        .watch_session(pb::WatchSessionRequest {
            session_id: started.session_id.clone(),
            after_seq: None,
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    gate.send(true).unwrap();
    let mut messages = vec![first];
    // The stream ends with OK (Ok(None)) after the session-finished event.
    while let Some(message) = stream.message().await.expect("the stream ends with OK") {
        if !matches!(message.event, Some(Event::Heartbeat(_))) {
            messages.push(message);
        }
    }
    let Some(Event::Snapshot(snapshot)) = &messages[0].event else {
        panic!("first message is a snapshot")
    };
    assert_eq!(snapshot.session_id, started.session_id);
    let finished_in_snapshot: Vec<String> = snapshot
        .tool_reports
        .iter()
        .filter(|r| r.completed_at.is_some())
        .map(|r| r.tool_name.clone())
        .collect();
    assert!(
        finished_in_snapshot.is_empty(),
        "the gate holds every tool until the snapshot is out"
    );
    let mut reports: HashMap<String, u32> = HashMap::new();
    for message in &messages[1..] {
        if let Some(Event::ToolFinished(report)) = &message.event {
            *reports.entry(report.tool_name.clone()).or_default() += 1;
            assert!(report.completed_at.is_some());
        }
        let p = message.progress.unwrap();
        assert_eq!(
            p.pending + p.running + p.completed + p.failed + p.skipped,
            p.total
        );
        assert_eq!(p.total, total);
    }
    assert_eq!(reports.len() as u32, total, "{reports:?}");
    assert!(
        reports.values().all(|n| *n == 1),
        "each report exactly once: {reports:?}"
    );
    let last = messages.last().unwrap();
    let Some(Event::SessionFinished(end)) = &last.event else {
        panic!("last message is the end: {last:?}")
    };
    assert_eq!(end.status(), pb::SessionStatus::Completed);
    assert!(end.summary.as_ref().unwrap().total_findings > 0);
    let seqs: Vec<u64> = messages[1..].iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "consecutive: {seqs:?}");

    // Resuming from every cursor replays exactly the rest, nothing twice.
    let all = collect(&mut client, &started.session_id, Some(0)).await;
    let all_seqs: Vec<u64> = all.iter().map(|m| m.seq).collect();
    assert_eq!(all_seqs, (1..=all.len() as u64).collect::<Vec<_>>());
    for cut in 0..all.len() as u64 {
        let rest = collect(&mut client, &started.session_id, Some(cut)).await;
        assert_eq!(
            rest.iter().map(|m| m.seq).collect::<Vec<_>>(),
            all_seqs[cut as usize..].to_vec()
        );
    }
    assert!(matches!(all[0].event, Some(Event::SessionStarted(_))));
}

#[tokio::test]
async fn a_watcher_that_drops_mid_session_resumes_without_gaps_or_repeats() {
    let server = TestServer::start().await;
    let site = common::web_site().await;
    let mut client = server.grpc().await;
    // One tool at a time over many pages keeps the session running while we drop and resume.
    let urls: Vec<String> = (0..30).map(|i| format!("{site}/planted.html?p={i}")).collect();
    let started = client
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                urls,
                ..Default::default()
            }),
            max_concurrent: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let total = started
        .session
        .as_ref()
        .and_then(|s| s.progress)
        .map_or(0, |p| p.total);
    let id = started.session_id;
    let mut stream = client
        .watch_session(pb::WatchSessionRequest {
            session_id: id.clone(),
            after_seq: Some(0),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.message().await.unwrap().unwrap();
    let second = stream.message().await.unwrap().unwrap();
    drop(stream);
    let mut seqs = vec![first.seq, second.seq];
    let rest = collect(&mut client, &id, Some(second.seq)).await;
    // Heartbeats repeat the newest seq; every event advances it by one.
    seqs.extend(
        rest.iter()
            .filter(|m| !matches!(m.event, Some(Event::Heartbeat(_))))
            .map(|m| m.seq),
    );
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let finished: Vec<String> = rest
        .iter()
        .filter_map(|m| match &m.event {
            Some(Event::ToolFinished(r)) => Some(r.tool_name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len() as u32, total, "{finished:?}");
}

#[tokio::test]
async fn rpcs_share_the_engine_and_map_errors_to_codes() {
    let server = TestServer::start().await;
    let mut client = server.grpc().await;
    let started = client
        .start_session(directory_request(5))
        .await
        .unwrap()
        .into_inner();
    server.wait_finished(&started.session_id).await;

    let get = |view: pb::View, after_seq: Option<u64>| pb::GetSessionRequest {
        session_id: started.session_id.clone(),
        view: view.into(),
        after_seq,
        since: None,
    };
    let full = client
        .get_session(get(pb::View::Full, None))
        .await
        .unwrap()
        .into_inner();
    let session = full.session.unwrap();
    assert_eq!(session.status(), pb::SessionStatus::Completed);
    assert!(!session.tool_reports.is_empty());
    let progress = client
        .get_session(get(pb::View::Progress, None))
        .await
        .unwrap()
        .into_inner();
    assert!(progress.session.unwrap().tool_reports.is_empty());
    let increment = client
        .get_session(get(pb::View::Incremental, Some(0)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(increment.new_reports.len(), session.tool_reports.len());
    let since_end = pb::GetSessionRequest {
        since: session.last_updated,
        after_seq: None,
        ..get(pb::View::Incremental, None)
    };
    assert!(
        client
            .get_session(since_end)
            .await
            .unwrap()
            .into_inner()
            .new_reports
            .is_empty()
    );

    let list = client
        .list_sessions(pb::ListSessionsRequest {
            limit: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((list.total, list.sessions.len()), (1, 1));
    let tools = client
        .list_tools(pb::ListToolsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(tools.tools.iter().any(|t| t.id == "secrets" && t.available));
    let cancelled = client
        .cancel_session(pb::CancelSessionRequest {
            session_id: started.session_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        cancelled.session.unwrap().status(),
        pb::SessionStatus::Completed,
        "a finished session is unchanged"
    );

    let missing = client
        .get_session(pb::GetSessionRequest {
            session_id: "sess-missing".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let watch_missing = client
        .watch_session(pb::WatchSessionRequest {
            session_id: "sess-missing".into(),
            after_seq: None,
        })
        .await
        .unwrap_err();
    assert_eq!(watch_missing.code(), Code::NotFound);
    let mut bad = directory_request(0);
    let invalid = client.start_session(bad.clone()).await.unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().starts_with("maxConcurrent"),
        "{}",
        invalid.message()
    );
    // The REST error body's code and details ride along as binary metadata,
    // never in grpc-status-details-bin (which must hold a google.rpc.Status).
    let details = invalid
        .metadata()
        .get_bin("livescan-error-bin")
        .unwrap()
        .to_bytes()
        .unwrap();
    let details: serde_json::Value = serde_json::from_slice(&details).unwrap();
    assert_eq!(details["code"], "invalid_argument");
    assert_eq!(details["details"]["field"], "maxConcurrent");
    assert!(invalid.details().is_empty());
    let far_future = pb::GetSessionRequest {
        since: Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        }),
        ..get(pb::View::Incremental, None)
    };
    assert_eq!(
        client.get_session(far_future).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    bad.max_concurrent = None;
    bad.categories = vec![pb::Category::Unspecified as i32];
    assert_eq!(
        client.start_session(bad).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let beyond = client
        .watch_session(pb::WatchSessionRequest {
            session_id: started.session_id.clone(),
            after_seq: Some(10_000),
        })
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn health_reflection_and_grpc_web_are_served_on_the_same_port() {
    let server = TestServer::start().await;
    let channel = tonic::transport::Channel::from_shared(server.base.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "livescan.v1.SessionService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"livescan.v1.SessionService".to_string()),
        "{names:?}"
    );
    // A reflection client (grpcurl) can describe the service and every file it
    // imports, so it needs no proto files of its own.
    let ask = |request: MessageRequest| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    for request in [
        MessageRequest::FileContainingSymbol("livescan.v1.SessionService".into()),
        MessageRequest::FileByFilename("google/protobuf/timestamp.proto".into()),
    ] {
        let mut responses = reflection
            .server_reflection_info(tokio_stream::once(ask(request.clone())))
            .await
            .unwrap()
            .into_inner();
        let answer = responses.message().await.unwrap().unwrap().message_response;
        let Some(MessageResponse::FileDescriptorResponse(files)) = answer else {
            panic!("{request:?} answered {answer:?}")
        };
        assert!(!files.file_descriptor_proto.is_empty());
    }

    // gRPC-web over HTTP/1.1: a length-prefixed frame in, data and trailers out.
    let mut frame = vec![0u8];
    let body = pb::ListToolsRequest {}.encode_to_vec();
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    let response = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .build()
        .unwrap()
        .post(server.url("/livescan.v1.SessionService/ListTools"))
        .bearer_auth(&server.key)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc-web+proto");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes[0], 0, "first frame carries data");
    let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
    let tools = pb::ListToolsResponse::decode(&bytes[5..5 + len]).unwrap();
    assert!(tools.tools.iter().any(|t| t.id == "html-a11y"));
    let trailers = String::from_utf8_lossy(&bytes[5 + len + 5..]);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
}

/// Reads a watch stream to its end, leaving out heartbeats.
async fn drain(mut stream: tonic::Streaming<pb::WatchSessionResponse>) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    while let Some(message) = stream.message().await.expect("the stream ends with OK") {
        let kind = match &message.event {
            Some(Event::Heartbeat(_)) => continue,
            Some(Event::Snapshot(_)) => "snapshot".to_string(),
            Some(Event::ToolFinished(report)) => format!("finished {}", report.tool_name),
            Some(Event::SessionStarted(_)) => "SessionStarted".to_string(),
            Some(Event::SessionRunning(_)) => "SessionRunning".to_string(),
            Some(Event::ToolStarted(started)) => format!("started {}", started.tool_name),
            Some(Event::CancelRequested(_)) => "CancelRequested".to_string(),
            Some(Event::Analysis(_)) => "Analysis".to_string(),
            Some(Event::Narrative(_)) => "Narrative".to_string(),
            Some(Event::SessionFinished(_)) => "SessionFinished".to_string(),
            None => panic!("a message without an event"),
        };
        seen.push((message.seq, kind));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_watchers_and_a_stalled_one_all_see_every_event() {
    let server = TestServer::start().await;
    let mut client = server.grpc().await;
    let (page, gate) = common::gated_page().await;
    let urls: Vec<String> = (0..3).map(|i| format!("{page}?p={i}")).collect();
    let started = client
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                urls,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let watch = |client: &mut pb::session_service_client::SessionServiceClient<_>| {
        let request = pb::WatchSessionRequest {
            session_id: started.session_id.clone(),
            after_seq: Some(0),
        };
        let mut client = client.clone();
        async move { client.watch_session(request).await.unwrap().into_inner() }
    };
    // Fifty watchers read as events come; one stalls until the session is over.
    let mut readers = Vec::new();
    for _ in 0..50 {
        let stream = watch(&mut client).await;
        readers.push(tokio::spawn(drain(stream)));
    }
    let stalled = watch(&mut client).await;
    gate.send(true).unwrap();
    server.wait_finished(&started.session_id).await;

    let caught_up = drain(stalled).await;
    assert_eq!(caught_up.last().unwrap().1, "SessionFinished");
    let seqs: Vec<u64> = caught_up.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "the stalled watcher missed nothing"
    );
    for reader in readers {
        assert_eq!(
            reader.await.unwrap(),
            caught_up,
            "every watcher saw the same events"
        );
    }
}
