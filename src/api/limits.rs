//! Requests refused before any route sees them, with the API's JSON error
//! body like every other error: a URI longer than [`MAX_URI_BYTES`] (414),
//! more than [`MAX_HEADERS`] header fields or [`MAX_HEADER_BYTES`] of them
//! (431), and a method a route does not serve (405). Larger heads are
//! refused by the HTTP layer itself ([`super::listen`]).

use super::rest::views;
use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 100;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

fn refuse(status: StatusCode, code: &str, message: &str, details: serde_json::Value) -> Response {
    (status, Json(views::error_body(code, message, details))).into_response()
}

/// Middleware: the head of the request within the limits, or a JSON refusal.
pub async fn head_within_limits(request: Request, next: Next) -> Response {
    let uri = request.uri().to_string().len();
    if uri > MAX_URI_BYTES {
        return refuse(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            &format!("the URI has {uri} bytes; at most {MAX_URI_BYTES} are accepted"),
            json!({ "limit": MAX_URI_BYTES }),
        );
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            &format!(
                "the request has {} header fields, {bytes} bytes in all; at most {MAX_HEADERS} fields and \
                 {MAX_HEADER_BYTES} bytes are accepted",
                headers.len()
            ),
            json!({ "limit": { "fields": MAX_HEADERS, "bytes": MAX_HEADER_BYTES } }),
        );
    }
    next.run(request).await
}

/// The answer for a route that exists but not with this method.
pub async fn method_not_allowed(request: Request) -> Response {
    refuse(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!(
            "{} is not served on {}; see /openapi.json",
            request.method(),
            request.uri().path()
        ),
        json!({ "method": request.method().as_str() }),
    )
}
