//! The wire adapters over the engine, served together on one listener: REST
//! (HTTP/1.1 and HTTP/2) and gRPC (HTTP/2, plus gRPC-web over HTTP/1.1).

pub mod grpc;
mod limits;
pub mod listen;
pub mod rest;

use crate::engine::Engine;
pub use listen::{Limits, serve_with};
use std::future::Future;
use tokio::net::TcpListener;

/// The whole HTTP application: gRPC services, REST routes, and a JSON 404.
pub fn app(engine: Engine) -> axum::Router {
    grpc::router(engine.clone())
        .merge(rest::router(engine))
        .fallback(rest::not_found)
        .method_not_allowed_fallback(limits::method_not_allowed)
        .layer(axum::middleware::from_fn(limits::head_within_limits))
        .layer(tower_http::trace::TraceLayer::new_for_http())
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
