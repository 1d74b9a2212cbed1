//! The legacy Scans API, deprecated, kept so integrations written for it
//! work while their owners move to the Sessions API: `POST /api/v1/scans`
//! takes the old flat request (the target's fields at the top level) and
//! answers a `scanId`; `GET /api/v1/scans/{scanId}` answers the status and,
//! once the scan has finished, every result at once. Both run on the same
//! engine as sessions (a scan is a session, found by its scan id) and say
//! they are deprecated: a `Deprecation` header, and a `Link` to the
//! successor.

use super::{ApiResult, caller, start_from};
use crate::engine::Engine;
use crate::model::{RawTarget, SessionState, StartRequest, time};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

/// When the Scans API was deprecated (RFC 9745: `@` and Unix seconds):
/// 2026-12-01T00:00:00Z, the release that brought it back as a shim.
const DEPRECATED_SINCE: &str = "@1796083200";
/// Where its successor is documented.
const SUCCESSOR: &str = "</api/sessions>; rel=\"successor-version\", </openapi.json>; rel=\"service-desc\"";

/// The old start request: the target's fields beside the options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScanRequest {
    url: Option<String>,
    urls: Option<Vec<String>>,
    directory: Option<String>,
    upload: Option<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    exclude_tools: Vec<String>,
    enable_intelligence: Option<bool>,
    timeout: Option<u64>,
    max_concurrent: Option<u64>,
}

impl From<ScanRequest> for StartRequest {
    fn from(old: ScanRequest) -> StartRequest {
        let given =
            old.url.is_some() || old.urls.is_some() || old.directory.is_some() || old.upload.is_some();
        StartRequest {
            target: given.then_some(RawTarget {
                url: old.url,
                urls: old.urls,
                directory: old.directory,
                upload: old.upload,
            }),
            categories: old.categories,
            tools: old.tools,
            exclude_tools: old.exclude_tools,
            enable_intelligence: old.enable_intelligence,
            timeout: old.timeout,
            max_concurrent: old.max_concurrent,
            config: None,
            baseline: None,
        }
    }
}

/// A response with the deprecation headers.
fn deprecated(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static(DEPRECATED_SINCE),
    );
    headers.insert(axum::http::header::LINK, HeaderValue::from_static(SUCCESSOR));
    response
}

pub async fn start_scan(
    State(engine): State<Engine>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let expected = "a JSON object with a `url`, `urls` or `directory`";
    let state = match start_from::<ScanRequest>(&engine, &headers, body, expected).await? {
        Ok(state) => state,
        Err(refusal) => return Ok(refusal),
    };
    let scan_id = &state.meta.scan_id;
    Ok(deprecated(
        StatusCode::ACCEPTED,
        json!({
            "scanId": scan_id,
            "sessionId": state.meta.session_id,
            "status": "started",
            "message": format!(
                "Scan started. Poll /api/v1/scans/{scan_id}; this API is deprecated: /api/sessions/{} \
                 streams each tool's report as it finishes",
                state.meta.session_id
            ),
        }),
    ))
}

pub async fn get_scan(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(scan_id): Path<String>,
) -> ApiResult {
    let caller = caller(&engine, &headers).await?;
    let state = engine.session_by_scan_id(&caller, &scan_id).await?;
    Ok(deprecated(StatusCode::OK, scan_view(&state)))
}

/// The old poll answer: status and progress while the scan runs; with
/// the summary and every tool's result once it has finished.
fn scan_view(state: &SessionState) -> Value {
    let mut view = json!({
        "scanId": state.meta.scan_id,
        "sessionId": state.meta.session_id,
        "status": state.status,
        "progress": state.progress(),
        "createdAt": time::format(&state.meta.created_at),
    });
    if state.is_finished() {
        view["completedAt"] = json!(state.completed_at.as_ref().map(time::format));
        view["summary"] = json!(state.summary());
        view["results"] = json!(state.reports.iter().map(|r| &**r).collect::<Vec<_>>());
        if let Some(error) = &state.error {
            view["error"] = json!(error);
        }
        if let Some(refund) = &state.refund {
            view["refund"] = json!(refund);
        }
        if let Some(intelligence) = &state.intelligence {
            view["intelligence"] = json!(intelligence);
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flat_request_becomes_a_start_request() {
        let old: ScanRequest =
            serde_json::from_value(json!({ "url": "https://example.com", "categories": ["security"] }))
                .unwrap();
        let request = StartRequest::from(old);
        assert_eq!(
            request.target.unwrap().url.as_deref(),
            Some("https://example.com")
        );
        assert_eq!(request.categories, ["security"]);
        let none: ScanRequest = serde_json::from_value(json!({ "categories": [] })).unwrap();
        assert!(StartRequest::from(none).target.is_none());
        assert!(serde_json::from_value::<ScanRequest>(json!({ "target": {} })).is_err());
    }
}
