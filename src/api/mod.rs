//! The wire adapters over the engine, served together on one listener: REST
//! (HTTP/1.1 and HTTP/2) and gRPC (HTTP/2, plus gRPC-web over HTTP/1.1).

pub mod grpc;
pub mod rest;

use crate::engine::Engine;
use std::future::Future;
use tokio::net::TcpListener;

/// The whole HTTP application: gRPC services, REST routes, and a JSON 404.
pub fn app(engine: Engine) -> axum::Router {
    grpc::router(engine.clone())
        .merge(rest::router(engine))
        .fallback(rest::not_found)
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// Serves the application on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    engine: Engine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Without TCP_NODELAY, Nagle's algorithm meets delayed ACKs and a pushed
    // report can wait 40 ms for the next packet.
    let listener = listener.tap_io(|tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(error = %err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
