//! Requests in the metrics, by protocol, route and code, and the `/metrics`
//! route that shows them. The route is the pattern that matched
//! (`/api/sessions/{id}`) or the gRPC method, never a raw path, so a scan of
//! random URLs cannot grow the number of series. A gRPC call's code is its
//! `grpc-status`: in the headers of an answer that failed at once, else in
//! the trailers that end its body.

use crate::engine::metrics::{RequestLabels, metrics};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::pin::Pin;
use std::task::{Context, Poll};

fn count(protocol: &str, route: &str, code: &str) {
    let labels = RequestLabels {
        protocol: protocol.to_string(),
        route: route.to_string(),
        code: code.to_string(),
    };
    metrics().requests.get_or_create(&labels).inc();
}

/// Counts a request that no route matched.
pub fn count_unmatched(status: u16) {
    count("http", "unmatched", &status.to_string());
}

/// Middleware (as a route layer, so the matched route is known).
pub async fn count_requests(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let protocol = if content_type.starts_with("application/grpc-web") {
        "grpc-web"
    } else if content_type.starts_with("application/grpc") {
        "grpc"
    } else {
        "http"
    };
    let route = match (protocol, &matched) {
        ("http", Some(matched)) => matched.as_str().to_string(),
        ("http", None) => "unmatched".to_string(),
        // A gRPC route matched a known service: its path names the method.
        _ => request.uri().path().to_string(),
    };
    let response = next.run(request).await;
    if protocol != "grpc" {
        count(protocol, &route, response.status().as_str());
        return response;
    }
    if let Some(code) = grpc_status(response.headers()) {
        count(protocol, &route, &code);
        return response;
    }
    response.map(|body| {
        Body::new(CountedAtTrailers {
            body,
            route: Some(route),
        })
    })
}

fn grpc_status(headers: &HeaderMap) -> Option<String> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A gRPC body that counts its call when its trailers pass (or, without
/// them, when it ends or is dropped).
struct CountedAtTrailers {
    body: Body,
    route: Option<String>,
}

impl CountedAtTrailers {
    fn counted(&mut self, code: &str) {
        if let Some(route) = self.route.take() {
            count("grpc", &route, code);
        }
    }
}

impl HttpBody for CountedAtTrailers {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    self.counted(&code);
                }
            }
            Poll::Ready(Some(Err(_))) => self.counted("error"),
            Poll::Ready(None) => self.counted("unknown"),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for CountedAtTrailers {
    fn drop(&mut self) {
        // The client went away before the call ended.
        self.counted("cancelled");
    }
}

/// `GET /metrics`: every metric, in the OpenMetrics text format.
pub async fn render() -> Response {
    let content_type = HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], metrics().render()).into_response()
}
