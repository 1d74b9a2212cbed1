//! `livescan scan TARGET`: runs a session in-process (a private temporary
//! store), on a server through `WatchSession` (pushed), or on a server by
//! polling the REST API (`--poll`), and feeds each finished tool to the
//! output as it arrives; all three give the same output. A dropped stream
//! is resumed with `after_seq` and polling follows the exact `?after=`
//! cursor, so no report is missed or shown twice.

use super::console::{Console, Credits, Update};
use super::report::ScanReport;
use anyhow::{Context, Result, anyhow};
use futures::StreamExt;
use livescan::api::grpc::convert;
use livescan::engine::{Caller, Engine, EngineConfig, TargetPolicy, WatchItem};
use livescan::model::{
    Category, EventKind, Intelligence, Progress, RawTarget, Refund, SessionStatus, StartRequest, Summary,
    Target, ToolReport,
};
use livescan::proto as pb;
use livescan::store::SqliteStore;
use livescan::tools::Catalog;
use pb::session_service_client::SessionServiceClient;
use pb::watch_session_response::Event as WatchEvent;
use std::path::Path;
use std::sync::Arc;

/// What `scan` asks for, independent of where it runs.
pub struct ScanOptions {
    pub target: String,
    pub categories: Vec<String>,
    pub tools: Vec<String>,
    pub exclude_tools: Vec<String>,
    pub timeout: Option<u64>,
    pub max_concurrent: Option<u64>,
    /// The upload that holds the target directory, once it was sent to the
    /// server ([`super::pack`]); scanned instead of the path.
    pub upload: Option<String>,
    /// The text of `--config`, used instead of the directory's `livescan.toml`.
    pub config: Option<String>,
}

impl ScanOptions {
    /// Whether the target is a URL (anything with a scheme) rather than a directory.
    pub fn is_url(&self) -> bool {
        self.target.contains("://")
    }

    /// The target directory, absolute (not resolved), for directory targets.
    fn directory(&self) -> Option<String> {
        (!self.is_url())
            .then(|| std::path::absolute(&self.target).ok())
            .flatten()
            .map(|dir| dir.display().to_string())
    }

    /// How the consoles name the target: the URL, or the absolute directory
    /// (also when it was uploaded).
    fn shown(&self) -> String {
        self.directory().unwrap_or_else(|| self.target.clone())
    }

    /// A directory path becomes its absolute form (or the upload that holds
    /// it); anything with a scheme is a URL.
    fn request(&self) -> Result<StartRequest> {
        let target = if let Some(upload) = &self.upload {
            RawTarget {
                upload: Some(upload.clone()),
                ..Default::default()
            }
        } else if self.is_url() {
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
            config: self.config.clone(),
            baseline: None,
        })
    }
}

/// Where a scan's updates go: the live consoles (the terminal, and a
/// `--output` text file), and the reports kept for the final document.
pub struct ScanOutput {
    consoles: Vec<Console>,
    /// Whether an account pays for the scan (a server's); not in process.
    charged: bool,
    session_id: String,
    target: String,
    reports: Vec<ToolReport>,
    /// The session's analysis, once it arrived.
    analysis: Option<Intelligence>,
}

impl ScanOutput {
    pub fn new(consoles: Vec<Console>) -> Self {
        ScanOutput {
            consoles,
            charged: true,
            session_id: String::new(),
            target: String::new(),
            reports: Vec::new(),
            analysis: None,
        }
    }

    /// Shows `update` on every console.
    pub fn show(&mut self, update: &Update<'_>) {
        for console in &mut self.consoles {
            console.show(update);
        }
    }

    /// The session started, with `total` tools of `categories`.
    fn started(&mut self, session_id: &str, target: &str, total: u32, categories: &[Category]) {
        self.session_id = session_id.to_string();
        self.target = target.to_string();
        self.show(&Update::Started {
            session_id,
            target,
            total,
            categories,
        });
    }

    fn tool_finished(&mut self, report: ToolReport) {
        self.show(&Update::ToolFinished(&report));
        self.reports.push(report);
    }

    /// Shows the end of the scan and returns the whole of it.
    fn finished(
        &mut self,
        directory: Option<String>,
        status: SessionStatus,
        summary: Summary,
        error: Option<String>,
        refund: Option<Refund>,
    ) -> ScanReport {
        let credits = match self.charged {
            true => Credits::Charged(refund.as_ref()),
            false => Credits::NotCharged,
        };
        self.show(&Update::Finished {
            status,
            summary: &summary,
            error: error.as_deref(),
            credits,
        });
        if let Some(analysis) = self.analysis.take() {
            self.show(&Update::Analysis(&analysis));
            self.analysis = Some(analysis);
        }
        let target = match &directory {
            Some(dir) => Target::Directory(dir.clone()),
            None => Target::Url(std::mem::take(&mut self.target)),
        };
        ScanReport {
            session_id: std::mem::take(&mut self.session_id),
            target,
            directory,
            status,
            error,
            summary,
            refund: refund.filter(|_| self.charged),
            tool_reports: std::mem::take(&mut self.reports),
            failed_on: Vec::new(),
            intelligence: self.analysis.take(),
        }
    }

    /// Keeps the session's analysis, shown after the summary.
    pub fn analysed(&mut self, analysis: Intelligence) {
        self.analysis = Some(analysis);
    }
}

/// Runs the scan in this process. The user scans what they can already
/// read, so the target's own directory is the scan root and private
/// addresses are allowed; a server's data directory (`data_dir`) is still
/// left out, as a server leaves out its own.
pub async fn in_process(
    options: &ScanOptions,
    catalog: Catalog,
    data_dir: &Path,
    output: &mut ScanOutput,
) -> Result<ScanReport> {
    let request = options.request()?;
    let directory = match request.target.as_ref().and_then(|t| t.directory.as_deref()) {
        Some(dir) => {
            Some(std::fs::canonicalize(dir).with_context(|| format!("cannot open directory `{dir}`"))?)
        }
        None => None,
    };
    let scan_roots = directory.iter().cloned().collect();
    let store = Arc::new(SqliteStore::temporary().await?);
    livescan::engine::accounts::ensure_local_user(&*store).await?;
    // The runs' private directories live as long as this scan.
    let work_dir = tempfile::Builder::new()
        .prefix("livescan-scan-")
        .tempdir()
        .context("cannot make a private directory for the scan")?;
    let config = EngineConfig::new(
        TargetPolicy {
            scan_roots,
            allow_private: true,
            excluded: vec![data_dir.to_path_buf(), work_dir.path().to_path_buf()],
        },
        livescan::tools::Workspace::scratch(work_dir.path().join("work")),
    );
    let engine = Engine::open(store, catalog, config).await?;
    // The local account of a store that ends with the scan pays for nothing.
    output.charged = false;
    let caller = Caller::local();
    let state = engine
        .start_session(&caller, request)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let categories: Vec<Category> = state.reports.iter().map(|r| r.category).collect();
    output.started(
        &state.meta.session_id,
        &state.meta.target.describe(),
        state.reports.len() as u32,
        &categories,
    );
    let mut items = Box::pin(
        engine
            .watch(&caller, &state.meta.session_id, Some(state.cursor))
            .await
            .map_err(|e| anyhow!("{e}"))?,
    );
    while let Some(item) = items.next().await {
        if let WatchItem::Event(published) = item.map_err(|e| anyhow!("{e}"))? {
            match &published.event.kind {
                EventKind::ToolFinished { report } => output.tool_finished((**report).clone()),
                EventKind::Analysis { intelligence } => output.analysed((**intelligence).clone()),
                EventKind::SessionFinished {
                    status,
                    error,
                    refund,
                    ..
                } => {
                    return Ok(output.finished(
                        directory.map(|dir| dir.display().to_string()),
                        *status,
                        published.summary.clone().unwrap_or_default(),
                        error.clone(),
                        refund.clone(),
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

/// What to do about a refused key.
const KEY_HINT: &str =
    " (pass --api-key or set LIVESCAN_API_KEY; on the server's machine, --data-dir finds its local key)";

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
    output: &mut ScanOutput,
) -> Result<ScanReport> {
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
        })
        // A session's snapshot can pass tonic's 4 MiB default; take what the server sends.
        .max_decoding_message_size(usize::MAX);
    let target = request.target.clone().unwrap_or_default();
    let started = client
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                url: target.url.clone().unwrap_or_default(),
                urls: target.urls.clone().unwrap_or_default(),
                directory: target.directory.clone().unwrap_or_default(),
                upload: target.upload.clone().unwrap_or_default(),
            }),
            categories,
            tools: request.tools.clone(),
            exclude_tools: request.exclude_tools.clone(),
            enable_intelligence: None,
            timeout_ms: request.timeout.map(|t| t.min(u64::from(u32::MAX)) as u32),
            max_concurrent: request.max_concurrent.map(|m| m.min(u64::from(u32::MAX)) as u32),
            config: request.config.clone(),
            baseline: None,
        })
        .await
        .map_err(|status| {
            let hint = if status.code() == tonic::Code::Unauthenticated {
                KEY_HINT
            } else {
                ""
            };
            anyhow!("the server refused the scan: {}{hint}", status.message())
        })?
        .into_inner();
    let session = started.session.unwrap_or_default();
    let categories: Vec<Category> = session
        .tool_reports
        .iter()
        .map(|r| convert::from_category(r.category()))
        .collect();
    output.started(
        &started.session_id,
        &options.shown(),
        session.progress.map_or(0, |p| p.total),
        &categories,
    );
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
            match message.event {
                Some(WatchEvent::ToolFinished(report)) => output.tool_finished(convert::from_report(&report)),
                Some(WatchEvent::Analysis(analysis)) => {
                    output.analysed(convert::from_intelligence(&analysis))
                }
                Some(WatchEvent::SessionFinished(end)) => {
                    let status = convert::from_session_status(end.status());
                    let summary = end
                        .summary
                        .as_ref()
                        .map(convert::from_summary)
                        .unwrap_or_default();
                    let error = Some(end.error).filter(|e| !e.is_empty());
                    let refund = end.refund.as_ref().map(convert::from_refund);
                    return Ok(output.finished(options.directory(), status, summary, error, refund));
                }
                _ => {}
            }
            if message.seq > cursor {
                cursor = message.seq;
            }
        }
    }
}

/// The REST incremental view, as far as the poller reads it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncrementalView {
    status: SessionStatus,
    progress: Progress,
    new_reports: Vec<ToolReport>,
    cursor: u64,
}

/// The tools of the REST full view, read once the session has started.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FullViewTools {
    tool_reports: std::collections::HashMap<String, ToolCategory>,
}

#[derive(serde::Deserialize)]
struct ToolCategory {
    category: Category,
}

/// The REST full view's ending, read once the session is over.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinalView {
    status: SessionStatus,
    summary: Summary,
    error: Option<String>,
    refund: Option<Refund>,
    intelligence: Option<Intelligence>,
}

/// Why a REST call failed: worth another try (connection trouble, a 5xx, a
/// 429 with its wait) or final (the server's answer about the request).
pub(super) enum CallError {
    Retry(anyhow::Error, Option<std::time::Duration>),
    Final(anyhow::Error),
}

impl CallError {
    pub(super) fn into_error(self) -> anyhow::Error {
        match self {
            CallError::Retry(error, _) | CallError::Final(error) => error,
        }
    }
}

/// Sends `request` and reads the JSON answer; an error answer becomes its
/// `error.message`, with a hint on what to do about a refused key.
pub(super) async fn call<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, CallError> {
    let response = request
        .send()
        .await
        .map_err(|e| CallError::Retry(anyhow!("the server did not answer: {e}"), None))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map(std::time::Duration::from_secs);
    let body = response
        .bytes()
        .await
        .map_err(|e| CallError::Retry(anyhow!("the answer broke off: {e}"), None))?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|e| CallError::Final(anyhow!("the server's answer is not what livescan sends: {e}")));
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let error = if status == reqwest::StatusCode::UNAUTHORIZED {
        anyhow!("{message}{KEY_HINT}")
    } else {
        anyhow!("{message}")
    };
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(CallError::Retry(error, retry_after))
    } else {
        Err(CallError::Final(error))
    }
}

/// The REST API's base URL of `server`, without a trailing slash.
pub(super) fn rest_base(server: &str) -> Result<String> {
    let base = url::Url::parse(server)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| anyhow!("`{server}` is not a server address like http://127.0.0.1:8080"))?;
    Ok(base.as_str().trim_end_matches('/').to_string())
}

/// A REST client that sends `key` (when there is one) as `authorization:
/// Bearer`, and gives up on a request after `timeout`.
pub(super) fn rest_client(
    key: Option<&str>,
    timeout: Option<std::time::Duration>,
) -> Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        let value = format!("Bearer {key}")
            .parse()
            .map_err(|_| anyhow!("the API key holds characters no key has"))?;
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let mut builder = reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(std::time::Duration::from_secs(30));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    Ok(builder.build()?)
}

/// Runs the scan on a server and follows it by polling the REST API every
/// `interval`, always from the previous answer's `cursor` (`?after=`), so
/// each report arrives exactly once; the output is the same as `remote`'s.
pub async fn polled(
    server: &str,
    key: Option<String>,
    options: &ScanOptions,
    interval: std::time::Duration,
    output: &mut ScanOutput,
) -> Result<ScanReport> {
    let request = options.request()?;
    let base = rest_base(server)?;
    let client = rest_client(key.as_deref(), Some(std::time::Duration::from_secs(60)))?;
    // Not retried: a start that reached the server but whose answer was lost
    // would start (and charge for) a second session.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Started {
        session_id: String,
        cursor: u64,
    }
    let started: Started = call(client.post(format!("{base}/api/sessions")).json(&request))
        .await
        .map_err(|error| {
            error
                .into_error()
                .context(format!("the server at {base} refused the scan"))
        })?;
    let session_url = format!("{base}/api/sessions/{}", started.session_id);
    let mut cursor = started.cursor;
    let mut announced = false;
    let mut attempts = 0;
    loop {
        let view: IncrementalView = match call(client.get(format!("{session_url}?after={cursor}"))).await {
            Ok(view) => {
                attempts = 0;
                view
            }
            Err(CallError::Retry(error, wait)) if attempts < RESUME_ATTEMPTS => {
                tracing::warn!(error = %error, "polling failed; trying again");
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => back_off(attempts).await,
                }
                attempts += 1;
                continue;
            }
            Err(error) => return Err(error.into_error().context("polling the session failed")),
        };
        if !announced {
            // The categories of the session's tools, from its full view once.
            let full: FullViewTools = call(client.get(&session_url))
                .await
                .map_err(|error| error.into_error().context("reading the session failed"))?;
            let categories: Vec<Category> = full.tool_reports.values().map(|r| r.category).collect();
            output.started(
                &started.session_id,
                &options.shown(),
                view.progress.total,
                &categories,
            );
            announced = true;
        }
        for report in view.new_reports {
            output.tool_finished(report);
        }
        cursor = view.cursor;
        if view.status.is_terminal() {
            let end: FinalView = call(client.get(&session_url))
                .await
                .map_err(|error| error.into_error().context("reading the finished session failed"))?;
            if let Some(analysis) = end.intelligence {
                output.analysed(analysis);
            }
            return Ok(output.finished(
                options.directory(),
                end.status,
                end.summary,
                end.error,
                end.refund,
            ));
        }
        tokio::time::sleep(interval).await;
    }
}
