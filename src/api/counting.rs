//! Requests in the metrics, by protocol, route and code, and the `/metrics`
//! route that shows them. The route is the pattern that matched
//! (`/api/sessions/{id}`) or a gRPC method this server serves, never a raw
//! path, so requests to random URLs (with any content type) cannot grow the
//! number of series. A gRPC call's code is its
//! `grpc-status`: in the headers of an answer that failed at once, else in
//! the trailers that end its body.

use crate::engine::metrics::{RequestLabels, metrics};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

/// The path of every gRPC method served here (`/package.Service/Method`),
/// read from the services' own descriptor sets.
static GRPC_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    use prost::Message;
    [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .flat_map(|set| {
        prost_types::FileDescriptorSet::decode(set)
            .expect("the embedded descriptor sets are valid")
            .file
    })
    .flat_map(|file| {
        let package = file.package().to_string();
        file.service.into_iter().flat_map(move |service| {
            let prefix = format!("/{package}.{}/", service.name());
            service
                .method
                .into_iter()
                .map(move |method| format!("{prefix}{}", method.name()))
        })
    })
    .collect()
});

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
    let path = request.uri().path();
    let route = if protocol != "http" && GRPC_METHODS.contains(path) {
        path.to_string()
    } else {
        matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string())
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
