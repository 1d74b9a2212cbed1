//! Bare fan-out: what pushing one event to W watchers costs on this machine
//! with nothing of livescan's in the way. It is the fanout bench's
//! own binary started again with `FANOUT_BARE=<file>`, in a process of its
//! own like `livescan serve`, on livescan's listener (`api::bind`,
//! `api::serve_with`) with the generated `WatchSession` service and the SSE
//! route's path, but no engine, store, authentication or snapshot: a
//! watcher gets a tiny snapshot, then the next event, and its stream ends
//! half a second later. The file holds a real event as livescan sent it (its protobuf
//! encoding, a blank line, its SSE data); each line read on stdin announces
//! it again, stamped with the time, encoded once for all watchers.

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use livescan::api::grpc::codec::Encoded;
use livescan::proto as pb;
use pb::session_service_server::{SessionService, SessionServiceServer};
use prost::Message;
use serde_json::Value;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

/// The environment variable that makes the bench binary the bare server.
pub const BARE: &str = "FANOUT_BARE";

/// One announced event, encoded once per transport.
#[derive(Clone, Default)]
struct Announced {
    protobuf: Bytes,
    sse: Bytes,
}

/// A real event, as the bench saw it from livescan.
pub struct Sample {
    pub protobuf: Vec<u8>,
    pub sse_data: String,
}

impl Sample {
    pub fn write(&self, path: &std::path::Path) {
        let mut bytes = (self.protobuf.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&self.protobuf);
        bytes.extend_from_slice(self.sse_data.as_bytes());
        std::fs::write(path, bytes).unwrap();
    }

    fn read(path: &str) -> Sample {
        let bytes = std::fs::read(path).unwrap();
        let split = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        Sample {
            protobuf: bytes[8..split].to_vec(),
            sse_data: String::from_utf8(bytes[split..].to_vec()).unwrap(),
        }
    }

    /// The sample stamped with `seq` and the time now, in both encodings.
    fn announce(&self, seq: u64) -> Announced {
        let now = chrono::Utc::now();
        let mut message = pb::WatchSessionResponse::decode(self.protobuf.as_slice()).unwrap();
        message.seq = seq;
        message.time = Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        });
        let mut data: Value = serde_json::from_str(&self.sse_data).unwrap();
        data["at"] = Value::String(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        Announced {
            protobuf: Bytes::from(message.encode_to_vec()),
            sse: Bytes::from(format!("event: tool_finished\nid: {seq}\ndata: {data}\n\n")),
        }
    }
}

#[derive(Clone)]
struct Bare {
    announced: watch::Receiver<(u64, Announced)>,
}

impl Bare {
    /// A stream of the next event announced after the call, which ends a
    /// while after it: closing streams is not part of pushing an event.
    fn next(&self) -> impl Stream<Item = Announced> + Send + use<> {
        let mut announced = self.announced.clone();
        let seen = announced.borrow_and_update().0;
        let next = async move {
            let next = announced.wait_for(|(seq, _)| *seq > seen).await.unwrap();
            next.1.clone()
        };
        let linger = futures::stream::once(tokio::time::sleep(Duration::from_millis(500)));
        futures::stream::once(next).chain(linger.filter_map(|()| async { None }))
    }
}

type Frames<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

fn unimplemented<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("the bare fan-out server only watches"))
}

#[tonic::async_trait]
impl SessionService for Bare {
    type WatchSessionStream = Frames<Result<Encoded, Status>>;

    async fn watch_session(
        &self,
        _: Request<pb::WatchSessionRequest>,
    ) -> Result<Response<Self::WatchSessionStream>, Status> {
        let snapshot = pb::WatchSessionResponse {
            event: Some(pb::watch_session_response::Event::Snapshot(pb::Session::default())),
            ..Default::default()
        };
        let snapshot = futures::stream::iter([Ok(Encoded(snapshot.encode_to_vec().into()))]);
        let event = self.next().map(|event| Ok(Encoded(event.protobuf)));
        Ok(Response::new(Box::pin(snapshot.chain(event))))
    }

    async fn start_session(
        &self,
        _: Request<pb::StartSessionRequest>,
    ) -> Result<Response<pb::StartSessionResponse>, Status> {
        unimplemented()
    }

    async fn get_session(
        &self,
        _: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::GetSessionResponse>, Status> {
        unimplemented()
    }

    async fn list_sessions(
        &self,
        _: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        unimplemented()
    }

    async fn cancel_session(
        &self,
        _: Request<pb::CancelSessionRequest>,
    ) -> Result<Response<pb::CancelSessionResponse>, Status> {
        unimplemented()
    }

    async fn list_tools(
        &self,
        _: Request<pb::ListToolsRequest>,
    ) -> Result<Response<pb::ListToolsResponse>, Status> {
        unimplemented()
    }

    async fn upload_archive(
        &self,
        _: Request<tonic::Streaming<pb::UploadArchiveRequest>>,
    ) -> Result<Response<pb::UploadArchiveResponse>, Status> {
        unimplemented()
    }

    async fn get_account(
        &self,
        _: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        unimplemented()
    }
}

/// Runs the bare server: prints `listening on ADDRESS`, then announces the
/// sample once per line read on stdin, until stdin ends.
pub async fn serve(sample: &str) {
    let sample = Sample::read(sample);
    let (announce, announced) = watch::channel((0, Announced::default()));
    let bare = Bare { announced };
    let sse_bare = bare.clone();
    let events = get(move || {
        let next = sse_bare.next();
        async move {
            let snapshot = futures::stream::iter([Bytes::from_static(b"event: snapshot\ndata: {}\n\n")]);
            let event = next.map(|event| event.sse);
            let frames: Frames<Bytes> = Box::pin(snapshot.chain(event));
            (
                [("content-type", "text/event-stream")],
                Body::from_stream(frames.map(Ok::<_, std::convert::Infallible>)),
            )
        }
    });
    let app = tonic::service::Routes::new(SessionServiceServer::new(bare))
        .into_axum_router()
        .route("/api/sessions/{id}/events", events);
    let listener = livescan::api::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    let limits = livescan::api::Limits {
        connections_per_peer: 0,
        ..Default::default()
    };
    let stdin_closed = async move {
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut seq = 0;
        while let Ok(Some(_)) = lines.next_line().await {
            seq += 1;
            announce.send_replace((seq, sample.announce(seq)));
        }
    };
    livescan::api::serve_with(listener, app, limits, stdin_closed)
        .await
        .unwrap();
}
