//! The tonic adapter: each RPC parses its request, makes one engine call and
//! renders the result. Also assembles health, reflection and gRPC-web.

pub mod codec;
pub mod convert;

use super::shared::SharedViews;
use crate::engine::watch::{Encoding, Published};
use crate::engine::{Caller, Engine, EngineError, WatchItem};
use crate::model::{EventKind, SessionState};
use crate::proto as pb;
use bytes::Bytes;
use codec::Encoded;
use convert::status;
use futures::{Stream, StreamExt};
use pb::session_service_server::{SessionService, SessionServiceServer};
use pb::watch_session_response::Event as WatchEvent;
use prost::Message;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct GrpcSessions {
    engine: Engine,
    /// Watchers' snapshots, encoded once per session and cursor.
    snapshots: Arc<SharedViews>,
}

impl GrpcSessions {
    pub fn server(engine: Engine) -> SessionServiceServer<GrpcSessions> {
        SessionServiceServer::new(GrpcSessions {
            engine,
            snapshots: Arc::default(),
        })
    }
}

impl GrpcSessions {
    /// The caller named by the `authorization` metadata's API key.
    async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let header = request.metadata().get("authorization").map(|v| v.as_bytes());
        self.engine.authenticate(header).await.map_err(status)
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<Encoded, Status>> + Send>>;

#[tonic::async_trait]
impl SessionService for GrpcSessions {
    async fn start_session(
        &self,
        request: Request<pb::StartSessionRequest>,
    ) -> Result<Response<pb::StartSessionResponse>, Status> {
        let caller = self.caller(&request).await?;
        let state = self
            .engine
            .start_session(&caller, convert::start_request(request.into_inner()))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartSessionResponse {
            session_id: state.meta.session_id.clone(),
            scan_id: state.meta.scan_id.clone(),
            session: Some(convert::session_full(&state)),
        }))
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::GetSessionResponse>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let state = self
            .engine
            .session(&caller, &request.session_id)
            .await
            .map_err(status)?;
        let response = match request.view() {
            pb::View::Unspecified | pb::View::Full => pb::GetSessionResponse {
                session: Some(convert::session_full(&state)),
                new_reports: Vec::new(),
            },
            pb::View::Progress => pb::GetSessionResponse {
                session: Some(convert::session_progress(&state)),
                new_reports: Vec::new(),
            },
            pb::View::Incremental => {
                let reports = match (request.after_seq, request.since) {
                    (Some(after), _) => state.reports_after(after),
                    (None, Some(since)) => {
                        let since = convert::from_timestamp(&since).ok_or_else(|| {
                            status(EngineError::invalid("since", "is not a valid timestamp"))
                        })?;
                        state.reports_since(since)
                    }
                    (None, None) => state.reports_after(0),
                };
                pb::GetSessionResponse {
                    session: Some(convert::session_progress(&state)),
                    new_reports: reports.into_iter().map(convert::report).collect(),
                }
            }
        };
        Ok(Response::new(response))
    }

    type WatchSessionStream = WatchStream;

    async fn watch_session(
        &self,
        request: Request<pb::WatchSessionRequest>,
    ) -> Result<Response<Self::WatchSessionStream>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let items = self
            .engine
            .watch(&caller, &request.session_id, request.after_seq)
            .await
            .map_err(status)?;
        let watching = crate::engine::metrics::metrics().watching("grpc");
        let snapshots = self.snapshots.clone();
        let messages = items.map(move |item| {
            let _counted = &watching;
            item.map(|item| watch_message(item, &snapshots)).map_err(status)
        });
        Ok(Response::new(Box::pin(messages)))
    }

    async fn upload_archive(
        &self,
        request: Request<tonic::Streaming<pb::UploadArchiveRequest>>,
    ) -> Result<Response<pb::UploadArchiveResponse>, Status> {
        let caller = self.caller(&request).await?;
        let chunks = request
            .into_inner()
            .map(|message| message.map(|m| Bytes::from(m.chunk)));
        let upload = self.engine.upload(&caller, chunks).await.map_err(status)?;
        Ok(Response::new(pb::UploadArchiveResponse {
            upload_id: upload.upload_id,
            digest: upload.digest,
            bytes: upload.bytes,
            files: upload.files,
            unpacked_bytes: upload.unpacked_bytes,
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let request = request.into_inner();
        let limit = Some(request.limit).filter(|l| *l > 0);
        let before = Some(request.before.as_str()).filter(|b| !b.is_empty());
        let page = self
            .engine
            .list_sessions(&caller, limit, before)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: page
                .sessions
                .iter()
                .map(|(meta, listing)| convert::session_listed(meta, listing))
                .collect(),
            total: page.total as u32,
            next_before: page.next_before.unwrap_or_default(),
        }))
    }

    async fn cancel_session(
        &self,
        request: Request<pb::CancelSessionRequest>,
    ) -> Result<Response<pb::CancelSessionResponse>, Status> {
        let caller = self.caller(&request).await?;
        let state = self
            .engine
            .cancel(&caller, &request.into_inner().session_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CancelSessionResponse {
            session: Some(convert::session_full(&state)),
        }))
    }

    async fn list_tools(
        &self,
        request: Request<pb::ListToolsRequest>,
    ) -> Result<Response<pb::ListToolsResponse>, Status> {
        self.caller(&request).await?;
        Ok(Response::new(pb::ListToolsResponse {
            tools: self.engine.tools().await.iter().map(convert::tool).collect(),
            analysis_cost: crate::tools::ANALYSIS_COST,
        }))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let caller = self.caller(&request).await?;
        let (account, ledger) = self.engine.account(&caller).await.map_err(status)?;
        Ok(Response::new(convert::account(&account, &ledger)))
    }
}

/// One watch item as an encoded stream message: a snapshot encoded once per
/// session and cursor, an event once for all of its watchers.
fn watch_message(item: WatchItem, snapshots: &SharedViews) -> Encoded {
    let encode = |message: pb::WatchSessionResponse| Bytes::from(message.encode_to_vec());
    Encoded(match item {
        WatchItem::Snapshot(state) => snapshots.encoded(&state, |state| encode(snapshot_message(state))),
        WatchItem::Event(published) => {
            published.encoded(Encoding::Protobuf, |published| encode(event_message(published)))
        }
        WatchItem::Heartbeat { seq, at } => encode(pb::WatchSessionResponse {
            seq,
            progress: None,
            time: Some(convert::timestamp(&at)),
            event: Some(WatchEvent::Heartbeat(pb::Heartbeat {})),
        }),
    })
}

fn snapshot_message(state: &SessionState) -> pb::WatchSessionResponse {
    pb::WatchSessionResponse {
        seq: state.cursor,
        progress: Some(convert::progress(&state.progress())),
        time: Some(convert::timestamp(&state.last_updated)),
        event: Some(WatchEvent::Snapshot(convert::session_full(state))),
    }
}

fn event_message(published: &Published) -> pb::WatchSessionResponse {
    let event = &published.event;
    let message = match &event.kind {
        EventKind::SessionStarted { tools, .. } => WatchEvent::SessionStarted(pb::SessionStarted {
            tools: tools.iter().map(|t| t.name.clone()).collect(),
        }),
        EventKind::SessionRunning => WatchEvent::SessionRunning(pb::SessionRunning {}),
        EventKind::CancelRequested => WatchEvent::CancelRequested(pb::CancelRequested {}),
        EventKind::ToolStarted { tool } => WatchEvent::ToolStarted(pb::ToolStarted {
            tool_name: tool.clone(),
        }),
        EventKind::ToolFinished { report } => WatchEvent::ToolFinished(convert::report(report)),
        EventKind::Analysis { intelligence } => WatchEvent::Analysis(convert::intelligence(intelligence)),
        EventKind::Narrative { narrative } => WatchEvent::Narrative(convert::narrative(narrative)),
        EventKind::SessionFinished {
            status,
            error,
            refund,
            narrative_follows,
        } => WatchEvent::SessionFinished(pb::SessionFinished {
            status: convert::session_status(*status).into(),
            summary: published.summary.as_ref().map(convert::summary),
            error: error.clone().unwrap_or_default(),
            refund: refund.as_ref().map(convert::refund),
            narrative_follows: *narrative_follows,
        }),
    };
    pb::WatchSessionResponse {
        seq: event.seq,
        progress: Some(convert::progress(&published.progress)),
        time: Some(convert::timestamp(&event.at)),
        event: Some(message),
    }
}

/// The gRPC side of the shared listener: the session service, health,
/// reflection (v1 and v1alpha, so grpcurl needs no proto files) and
/// gRPC-web for browsers, as an axum router to merge with REST.
pub fn router(engine: Engine) -> axum::Router {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        health_reporter
            .set_serving::<SessionServiceServer<GrpcSessions>>()
            .await;
    });
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the embedded descriptor set is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the embedded descriptor set is valid");
    let web = tonic_web::GrpcWebLayer::new();
    use tower::Layer;
    tonic::service::Routes::new(web.layer(GrpcSessions::server(engine)))
        .add_service(web.layer(health_service))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .into_axum_router()
        .route_layer(axum::middleware::from_fn(super::counting::count_requests))
}
