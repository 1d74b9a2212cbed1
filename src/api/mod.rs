//! The wire adapters over the engine, served together on one listener: REST
//! (HTTP/1.1 and HTTP/2) and gRPC (HTTP/2, plus gRPC-web over HTTP/1.1).

mod counting;
pub mod grpc;
mod limits;
pub mod listen;
pub mod rest;
mod shared;

use crate::engine::Engine;
pub use listen::{Limits, bind, serve_with};
use std::future::Future;
use tokio::net::TcpListener;

/// The whole HTTP application: gRPC services, REST routes, `/metrics`
/// (without a key), and a JSON 404.
pub fn app(engine: Engine) -> axum::Router {
    with_layers(api_routes(engine).route("/metrics", axum::routing::get(counting::render)))
}

/// The application without `/metrics`, for a server that shows its metrics
/// on another address ([`metrics_app`]) or not at all.
pub fn app_without_metrics(engine: Engine) -> axum::Router {
    with_layers(api_routes(engine))
}

/// `/metrics` alone, for its own listener (`serve --metrics-listen`).
pub fn metrics_app() -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(counting::render))
}

fn api_routes(engine: Engine) -> axum::Router {
    grpc::router(engine.clone()).merge(rest::router(engine))
}

/// Every request gets an id (`x-request-id`, kept from the client when it
/// sends a short one, echoed in the response) and a span that puts it on
/// every log line the request causes.
fn with_layers(routes: axum::Router) -> axum::Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    routes
        .fallback(rest::not_found)
        .method_not_allowed_fallback(limits::method_not_allowed)
        .layer(axum::middleware::from_fn(limits::head_within_limits))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The span of one request: its id, method and path (never its query or
/// headers, which may hold secrets).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let id = crate::model::text::bounded(id, 64);
    let path = crate::model::text::bounded(request.uri().path(), 256);
    tracing::info_span!("request", request_id = %id, method = %request.method(), %path)
}

/// Serves the application on `listener` with the default [`Limits`] until
/// `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app(engine), Limits::default(), shutdown).await
}
