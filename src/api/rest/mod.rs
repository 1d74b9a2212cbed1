//! The axum adapter: the Sessions API reference's JSON polling API and its additive routes
//! (SSE events, cancel, tools, account, health, OpenAPI). Each handler
//! parses its input, makes one engine call and renders a view. Every route
//! but `/healthz`, `/openapi.json` and the dashboard's static files needs
//! `Authorization: Bearer <api key>`.

mod dashboard;
mod fields;
mod legacy;
mod openapi;
pub(super) mod views;

use super::shared::SharedViews;
use crate::engine::error::{MAX_ECHO_CHARS, bounded};
use crate::engine::metrics::metrics;
use crate::engine::watch::Encoding;
use crate::engine::{Caller, Engine, EngineError, WatchItem};
use crate::model::SessionState;
use crate::model::{StartRequest, sarif, time};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRef, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

/// Request bodies larger than this are refused.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// An engine error rendered as the documented error body and status.
pub struct ApiError(pub EngineError);

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        ApiError(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(views::error(&self.0))).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"livescan\""),
            );
        }
        if let Some(wait) = self.0.retry_after() {
            // Whole seconds, rounded up: a client that waits this long gets through.
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_millis().div_ceil(1000).max(1) as u64),
            );
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

/// What the REST handlers share: the engine, and the encoded full views.
#[derive(Clone)]
struct RestState {
    engine: Engine,
    views: Arc<SharedViews>,
}

impl FromRef<RestState> for Engine {
    fn from_ref(state: &RestState) -> Engine {
        state.engine.clone()
    }
}

impl FromRef<RestState> for Arc<SharedViews> {
    fn from_ref(state: &RestState) -> Arc<SharedViews> {
        state.views.clone()
    }
}

/// The tool list as `GET /api/tools` answers it (`livescan tools --json`).
pub fn tools_document(tools: &[crate::engine::ToolInfo]) -> Value {
    views::tools(tools)
}

pub fn router(engine: Engine) -> Router {
    let state = RestState {
        engine,
        views: Arc::default(),
    };
    Router::new()
        .route("/api/sessions", post(start_session).get(list_sessions))
        .route("/api/sessions/{id}", get(get_session))
        .route("/api/sessions/{id}/events", get(session_events))
        .route("/api/sessions/{id}/cancel", post(cancel_session))
        .route("/api/sessions/{id}/sarif", get(session_sarif))
        .route("/api/tools", get(list_tools))
        .route("/api/account", get(account))
        .route("/api/uploads", post(upload_archive))
        .route("/api/v1/scans", post(legacy::start_scan))
        .route("/api/v1/scans/{scan_id}", get(legacy::get_scan))
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_document))
        .merge(dashboard::routes())
        .route_layer(axum::middleware::from_fn(super::counting::count_requests))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// A JSON body of bytes already encoded.
fn json_bytes(body: Bytes) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// The JSON 404 for paths no route serves.
pub async fn not_found() -> Response {
    super::counting::count_unmatched(404);
    ApiError(EngineError::NotFound("no such route; see /openapi.json".into())).into_response()
}

/// The caller named by the request's API key.
async fn caller(engine: &Engine, headers: &HeaderMap) -> Result<Caller, EngineError> {
    engine
        .authenticate(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes))
        .await
}

fn query_map(query: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn parse_number<T: std::str::FromStr>(field: &str, raw: Option<&String>) -> Result<Option<T>, EngineError> {
    raw.map(|v| {
        v.parse::<T>()
            .map_err(|_| EngineError::invalid(field, format!("must be a non-negative integer, got `{v}`")))
    })
    .transpose()
}

/// A 415 for a body that does not say it is JSON (`application/json`, or
/// any `application/*+json`); `None` when it does.
fn not_json(headers: &HeaderMap) -> Option<Response> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        return None;
    }
    let said = if declared.is_empty() {
        "no Content-Type".to_string()
    } else {
        format!("Content-Type `{}`", bounded(declared, MAX_ECHO_CHARS))
    };
    let body = views::error_body(
        "unsupported_media_type",
        &format!("the body must be JSON, sent with Content-Type: application/json; this request has {said}"),
        serde_json::json!({ "field": "Content-Type" }),
    );
    Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(body)).into_response())
}

/// Parses a JSON object body into `T` (one whose unknown fields are
/// errors), naming the field at fault in every error; `expected` says what
/// the body should be.
fn parse_object<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<T, EngineError> {
    let body = body.map_err(|rejection| {
        EngineError::invalid(
            "body",
            format!("{rejection} (the limit is {MAX_BODY_BYTES} bytes)"),
        )
    })?;
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(EngineError::invalid("body", format!("is empty; send {expected}"))),
        // serde would read an array positionally as the object's fields.
        Some(b'{') => {}
        Some(_) => return Err(EngineError::invalid("body", format!("must be {expected}"))),
    }
    let mut json = serde_json::Deserializer::from_slice(&body);
    let request = serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            EngineError::invalid("body", format!("malformed JSON: {inner}"))
        } else if let Some(unknown) = fields::unknown(&path, &inner.to_string()) {
            unknown
        } else if path == "." {
            EngineError::invalid("body", format!("malformed JSON: {inner}"))
        } else {
            EngineError::invalid(&path, inner.to_string())
        }
    })?;
    // One JSON value and nothing after it: trailing bytes are a client bug.
    json.end()
        .map_err(|e| EngineError::invalid("body", format!("has bytes after the JSON object: {e}")))?;
    Ok(request)
}

async fn start_session(
    State(engine): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    match start_from::<StartRequest>(&engine, &headers, body, "a JSON object with a `target`").await? {
        Ok(state) => Ok((StatusCode::ACCEPTED, Json(views::started(&state))).into_response()),
        Err(refusal) => Ok(refusal),
    }
}

/// Starts the session a JSON body of type `T` asks for: the caller's key,
/// then a JSON content type (else the 415 to answer), then the body.
async fn start_from<T: serde::de::DeserializeOwned + Into<StartRequest>>(
    engine: &Engine,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    expected: &str,
) -> Result<Result<Arc<SessionState>, Response>, ApiError> {
    let caller = caller(engine, headers).await?;
    if let Some(refusal) = not_json(headers) {
        return Ok(Err(refusal));
    }
    let request: T = parse_object(body, expected)?;
    Ok(Ok(engine.start_session(&caller, request.into()).await?))
}

/// One session in one of its views. Precedence when several are asked for:
/// `progress=true`, then `after`, then `since`, else the full report.
async fn get_session(
    State(engine): State<Engine>,
    State(views): State<Arc<SharedViews>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let query = query_map(query);
    let progress_only = match query.get("progress").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(
                EngineError::invalid("progress", format!("must be true or false, got `{other}`")).into(),
            );
        }
    };
    let after = parse_number::<u64>("after", query.get("after"))?;
    let since = query
        .get("since")
        .map(|raw| time::parse(raw).map_err(|m| EngineError::invalid("since", m)))
        .transpose()?;
    let state = engine.session(&caller(&engine, &headers).await?, &id).await?;
    let body: Value = if progress_only {
        views::progress(&state)
    } else if let Some(after) = after {
        views::incremental(&state, &state.reports_after(after))
    } else if let Some(since) = since {
        views::incremental(&state, &state.reports_since(since))
    } else {
        return Ok(json_bytes(views.encoded(&state, full_view)));
    };
    Ok(Json(body).into_response())
}

async fn list_sessions(
    State(engine): State<Engine>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let caller = caller(&engine, &headers).await?;
    let query = query_map(query);
    let limit = parse_number::<u32>("limit", query.get("limit"))?;
    let before = query.get("before").map(String::as_str);
    let page = engine.list_sessions(&caller, limit, before).await?;
    Ok(Json(views::list(&page)).into_response())
}

async fn cancel_session(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let state = engine.cancel(&caller(&engine, &headers).await?, &id).await?;
    Ok(json_bytes(Bytes::from(views::full(&state))))
}

/// The session's reports so far as SARIF 2.1.0 (`?runs=one|per-tool`), or
/// its analysis's merged issues (`?merge=true`): the document `livescan
/// scan --format sarif` writes, without the server's own path as the
/// source root.
async fn session_sarif(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let caller = caller(&engine, &headers).await?;
    let query = query_map(query);
    let runs = match query.get("runs") {
        Some(raw) => raw
            .parse::<sarif::Runs>()
            .map_err(|message| EngineError::invalid_choice("runs", message, &["one", "per-tool"]))?,
        None => sarif::Runs::One,
    };
    let merge = match query.get("merge").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(EngineError::invalid_choice(
                "merge",
                format!("must be true or false, got `{}`", bounded(other, MAX_ECHO_CHARS)),
                &["true", "false"],
            )
            .into());
        }
    };
    let state = engine.session(&caller, &id).await?;
    let reports = state.reports.iter().map(|r| &**r);
    let document = match (merge, &state.intelligence) {
        (false, _) => sarif::document(reports, None, runs),
        (true, Some(analysis)) => sarif::merged_document(reports, analysis, None),
        (true, None) => {
            return Err(EngineError::invalid(
                "merge",
                "this session has no analysis (yet): it comes when its tools have finished, with enableIntelligence",
            )
            .into());
        }
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/sarif+json"),
        )],
        Json(document),
    )
        .into_response())
}

/// Server-sent events: a `snapshot` first (or, with `Last-Event-ID` or
/// `?after=`, the events after that sequence number), then every event as it
/// happens; each SSE id is the event's sequence number. Ends after
/// `session_finished`.
async fn session_events(
    State(engine): State<Engine>,
    State(views): State<Arc<SharedViews>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let caller = caller(&engine, &headers).await?;
    let query = query_map(query);
    // Both are checked; a reconnecting EventSource's Last-Event-ID wins.
    let from_query = parse_number::<u64>("after", query.get("after"))?;
    let from_header = headers
        .get("last-event-id")
        .map(|v| {
            let raw = v.to_str().unwrap_or("").to_string();
            parse_number::<u64>("Last-Event-ID", Some(&raw))
        })
        .transpose()?
        .flatten();
    let after = from_header.or(from_query);
    if let Some(after) = after {
        let state = engine.session(&caller, &id).await?;
        if engine.log_complete(&state) && after >= state.cursor {
            // Nothing will ever follow: 204 tells an EventSource to stop reconnecting.
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
    }
    let items = engine.watch(&caller, &id, after).await?;
    let watching = metrics().watching("sse");
    let frames = items.flat_map(move |item| {
        let _counted = &watching;
        futures::stream::iter(sse_frames(item, &views))
    });
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Ok((headers, Body::from_stream(frames)).into_response())
}

/// One watch item as server-sent-event bytes: `event:`, `id:` and one
/// `data:` line of compact JSON (which never holds a line break). A
/// snapshot's data is the shared encoding of the full view, not a copy.
fn sse_frames(item: Result<WatchItem, EngineError>, views: &SharedViews) -> Vec<Result<Bytes, Infallible>> {
    let frame = |name: &str, id: Option<u64>, data: Bytes| {
        vec![
            Ok(Bytes::from(frame_head(name, id))),
            Ok(data),
            Ok(Bytes::from_static(FRAME_END)),
        ]
    };
    match item {
        Ok(WatchItem::Snapshot(state)) => {
            frame("snapshot", Some(state.cursor), views.encoded(&state, full_view))
        }
        // One encoding of each event for all of its watchers.
        Ok(WatchItem::Event(published)) => vec![Ok(published.encoded(Encoding::ServerSentEvent, |p| {
            let data = views::event(&p.event, &p.progress, p.summary.as_ref()).to_string();
            let head = frame_head(p.event.kind.name(), Some(p.event.seq));
            Bytes::from([head.as_bytes(), data.as_bytes(), FRAME_END].concat())
        }))],
        Ok(WatchItem::Heartbeat { .. }) => vec![Ok(Bytes::from_static(b": heartbeat\n\n"))],
        Err(err) => frame("error", None, Bytes::from(views::error(&err).to_string())),
    }
}

/// The full view of a session, as JSON bytes.
fn full_view(state: &SessionState) -> Bytes {
    Bytes::from(views::full(state))
}

/// The `event:` and `id:` lines of a frame, and the start of its `data:` line.
fn frame_head(name: &str, id: Option<u64>) -> String {
    let id = id.map_or(String::new(), |id| format!("id: {id}\n"));
    format!("event: {name}\n{id}data: ")
}

const FRAME_END: &[u8] = b"\n\n";

async fn list_tools(State(engine): State<Engine>, headers: HeaderMap) -> ApiResult {
    caller(&engine, &headers).await?;
    Ok(Json(views::tools(&engine.tools().await)).into_response())
}

/// Receives a directory as a tar or tar.gz body, streamed to disk as it
/// arrives (not held by the body limit of JSON requests, but by the upload
/// limits), and answers the upload to scan it by.
async fn upload_archive(State(engine): State<Engine>, headers: HeaderMap, body: Body) -> ApiResult {
    let caller = caller(&engine, &headers).await?;
    let upload = engine.upload(&caller, body.into_data_stream()).await?;
    Ok((StatusCode::CREATED, Json(upload)).into_response())
}

async fn account(State(engine): State<Engine>, headers: HeaderMap) -> ApiResult {
    let (account, ledger) = engine.account(&caller(&engine, &headers).await?).await?;
    Ok(Json(views::account(&account, &ledger)).into_response())
}

async fn health(State(engine): State<Engine>) -> Json<Value> {
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "runningSessions": engine.running_sessions(),
    }))
}

async fn openapi_document(State(engine): State<Engine>) -> Json<Value> {
    let tools = engine.tools().await;
    let ids: Vec<&str> = tools.iter().map(|t| t.id).collect();
    Json(openapi::document(&ids))
}
