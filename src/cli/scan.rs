//! `livescan scan TARGET`: runs a session in-process (a private in-memory
//! store) or on a server through `WatchSession`, and feeds each finished
//! tool to the console as it arrives. A dropped stream is resumed with
//! `after_seq`, so no report is missed or shown twice.

use super::console::{Console, Update};
use anyhow::{Context, Result, anyhow};
use futures::StreamExt;
use livescan::api::grpc::convert;
use livescan::engine::{Caller, Engine, EngineConfig, TargetPolicy, WatchItem};
use livescan::model::{Category, EventKind, RawTarget, Refund, SessionStatus, StartRequest, Summary};
use livescan::proto as pb;
use livescan::store::SqliteStore;
use livescan::tools::Catalog;
use pb::session_service_client::SessionServiceClient;
use pb::watch_session_response::Event as WatchEvent;
use std::sync::Arc;

/// What `scan` asks for, independent of where it runs.
pub struct ScanOptions {
    pub target: String,
    pub categories: Vec<String>,
    pub tools: Vec<String>,
    pub exclude_tools: Vec<String>,
    pub timeout: Option<u64>,
    pub max_concurrent: Option<u64>,
}

/// The end of a scan, for the exit code.
pub struct ScanEnd {
    pub status: SessionStatus,
    pub summary: Summary,
}

impl ScanOptions {
    /// A directory path becomes its absolute form; anything with a scheme is a URL.
    fn request(&self) -> Result<StartRequest> {
        let target = if self.target.contains("://") {
            RawTarget {
                url: Some(self.target.clone()),
                ..Default::default()
            }
        } else {
            // Absolute, but not resolved here: with --server the path is the
            // server's to open (and to check against its scan roots).
            let dir = std::path::absolute(&self.target)
                .with_context(|| format!("`{}` is not a usable path", self.target))?;
            RawTarget {
                directory: Some(dir.display().to_string()),
                ..Default::default()
            }
        };
        Ok(StartRequest {
            target: Some(target),
            categories: self.categories.clone(),
            tools: self.tools.clone(),
            exclude_tools: self.exclude_tools.clone(),
            enable_intelligence: None,
            timeout: self.timeout,
            max_concurrent: self.max_concurrent,
        })
    }
}

/// Shows the end of the scan and returns it for the exit code.
fn finished(
    console: &mut Console,
    status: SessionStatus,
    summary: Summary,
    error: Option<String>,
    refund: Option<Refund>,
) -> ScanEnd {
    console.show(&Update::Finished {
        status,
        summary: summary.clone(),
        error,
        refund,
    });
    ScanEnd { status, summary }
}

/// Runs the scan in this process. The user scans what they can already
/// read, so the target's own directory is the scan root and private
/// addresses are allowed.
pub async fn in_process(options: &ScanOptions, catalog: Catalog, console: &mut Console) -> Result<ScanEnd> {
    let request = options.request()?;
    let scan_roots = match request.target.as_ref().and_then(|t| t.directory.as_deref()) {
        Some(dir) => {
            vec![std::fs::canonicalize(dir).with_context(|| format!("cannot open directory `{dir}`"))?]
        }
        None => Vec::new(),
    };
    let store = Arc::new(SqliteStore::in_memory().await?);
    livescan::engine::accounts::ensure_local_user(&*store).await?;
    let config = EngineConfig::new(TargetPolicy {
        scan_roots,
        allow_private: true,
    });
    let engine = Engine::open(store, catalog, config).await?;
    let caller = Caller::local();
    let state = engine
        .start_session(&caller, request)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    console.show(&Update::Started {
        target: state.meta.target.describe(),
        total: state.reports.len() as u32,
    });
    let mut items = Box::pin(
        engine
            .watch(&caller, &state.meta.session_id, Some(state.cursor))
            .await
            .map_err(|e| anyhow!("{e}"))?,
    );
    while let Some(item) = items.next().await {
        if let WatchItem::Event {
            event,
            progress,
            summary,
        } = item.map_err(|e| anyhow!("{e}"))?
        {
            match event.kind {
                EventKind::ToolFinished { report } => console.show(&Update::ToolFinished {
                    report: *report,
                    progress,
                }),
                EventKind::SessionFinished {
                    status,
                    error,
                    refund,
                } => {
                    return Ok(finished(
                        console,
                        status,
                        summary.unwrap_or_default(),
                        error,
                        refund,
                    ));
                }
                _ => {}
            }
        }
    }
    Err(anyhow!(
        "the session's event stream ended before the session finished"
    ))
}

/// How often in a row a dropped watch stream is resumed before giving up;
/// the waits between attempts double from 250 ms to 8 s (about 30 s in all,
/// enough for a server restart).
const RESUME_ATTEMPTS: u32 = 8;

/// Whether a failed watch is worth resuming: connection trouble (which
/// surfaces as UNAVAILABLE, UNKNOWN "transport error" and the like) is;
/// an answer about the request itself is not.
fn retryable(status: &tonic::Status) -> bool {
    use tonic::Code;
    !matches!(
        status.code(),
        Code::NotFound
            | Code::InvalidArgument
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::Unimplemented
    )
}

async fn back_off(attempt: u32) {
    let millis = (250u64 << attempt.min(5)).min(8_000);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

/// Runs the scan on a server and follows it through `WatchSession`, sending
/// `key` (when there is one) as `authorization: Bearer`.
pub async fn remote(
    server: &str,
    key: Option<String>,
    options: &ScanOptions,
    console: &mut Console,
) -> Result<ScanEnd> {
    let request = options.request()?;
    let categories = request
        .categories
        .iter()
        .map(|name| {
            name.parse::<Category>()
                .map(|c| convert::category(c) as i32)
                .map_err(|_| {
                    anyhow!(
                        "unknown category `{name}`; valid: security, code-quality, accessibility, performance"
                    )
                })
        })
        .collect::<Result<Vec<i32>>>()?;
    let channel = tonic::transport::Endpoint::from_shared(server.to_string())
        .with_context(|| format!("`{server}` is not a server address like http://127.0.0.1:8080"))?
        .connect()
        .await
        .with_context(|| format!("cannot connect to {server}"))?;
    let authorization: Option<tonic::metadata::AsciiMetadataValue> = key
        .map(|key| format!("Bearer {key}").parse())
        .transpose()
        .map_err(|_| anyhow!("the API key holds characters no key has"))?;
    let mut client =
        SessionServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
            if let Some(value) = &authorization {
                request.metadata_mut().insert("authorization", value.clone());
            }
            Ok(request)
        });
    let target = request.target.clone().unwrap_or_default();
    let started = client
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                url: target.url.unwrap_or_default(),
                urls: target.urls.unwrap_or_default(),
                directory: target.directory.unwrap_or_default(),
            }),
            categories,
            tools: request.tools.clone(),
            exclude_tools: request.exclude_tools.clone(),
            enable_intelligence: None,
            timeout_ms: request.timeout.map(|t| t.min(u64::from(u32::MAX)) as u32),
            max_concurrent: request.max_concurrent.map(|m| m.min(u64::from(u32::MAX)) as u32),
        })
        .await
        .map_err(|status| {
            let hint = if status.code() == tonic::Code::Unauthenticated {
                " (pass --api-key or set LIVESCAN_API_KEY; on the server's machine, --data-dir finds its local key)"
            } else {
                ""
            };
            anyhow!("the server refused the scan: {}{hint}", status.message())
        })?
        .into_inner();
    let session = started.session.unwrap_or_default();
    console.show(&Update::Started {
        target: options.target.clone(),
        total: session.progress.map_or(0, |p| p.total),
    });
    let mut cursor = session.cursor;
    let mut attempts = 0;
    loop {
        let stream = client
            .watch_session(pb::WatchSessionRequest {
                session_id: started.session_id.clone(),
                after_seq: Some(cursor),
            })
            .await;
        let mut stream = match stream {
            Ok(stream) => stream.into_inner(),
            Err(status) if attempts < RESUME_ATTEMPTS && retryable(&status) => {
                back_off(attempts).await;
                attempts += 1;
                continue;
            }
            Err(status) => return Err(anyhow!("watching the session failed: {}", status.message())),
        };
        loop {
            let message = match stream.message().await {
                Ok(Some(message)) => {
                    attempts = 0;
                    message
                }
                Ok(None) => return Err(anyhow!("the server ended the stream before the session finished")),
                Err(status) if attempts < RESUME_ATTEMPTS && retryable(&status) => {
                    tracing::warn!(error = %status.message(), "watch stream dropped; resuming");
                    back_off(attempts).await;
                    attempts += 1;
                    break;
                }
                Err(status) => return Err(anyhow!("the watch stream failed: {}", status.message())),
            };
            let progress = message
                .progress
                .as_ref()
                .map(convert::from_progress)
                .unwrap_or_default();
            match message.event {
                Some(WatchEvent::ToolFinished(report)) => console.show(&Update::ToolFinished {
                    report: convert::from_report(&report),
                    progress,
                }),
                Some(WatchEvent::SessionFinished(end)) => {
                    let status = convert::from_session_status(end.status());
                    let summary = end
                        .summary
                        .as_ref()
                        .map(convert::from_summary)
                        .unwrap_or_default();
                    let error = Some(end.error).filter(|e| !e.is_empty());
                    let refund = end.refund.as_ref().map(convert::from_refund);
                    return Ok(finished(console, status, summary, error, refund));
                }
                _ => {}
            }
            if message.seq > cursor {
                cursor = message.seq;
            }
        }
    }
}
