//! Accepting connections, with bounds a public server needs: a client must
//! send a request's headers within [`Limits::header_timeout`] (HTTP/1), a
//! connection on which no byte moves either way for
//! [`Limits::idle_timeout`] is closed (slowloris, stalled readers, dead
//! peers), and one peer address holds at most
//! [`Limits::connections_per_peer`] connections at once (more are closed on
//! arrival). Watch streams stay alive through their heartbeats.
//!
//! Shutdown is graceful: the listener closes, HTTP/1 connections finish the
//! request in hand, HTTP/2 ones get a GOAWAY; [`serve_with`] returns once
//! every connection is gone.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::{Instant, Sleep};

/// Connections the kernel queues for the server before it accepts them
/// (capped by `net.core.somaxconn`). With tokio's default of 1,024, a
/// thousand watchers connecting at once while the server was busy
/// overflowed the queue, and the kernel reset some of them.
const ACCEPT_BACKLOG: u32 = 4096;

/// Listens on `address` with a deep accept queue ([`ACCEPT_BACKLOG`]).
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Request heads larger than this are refused by hyper itself (without a
/// JSON body); the API's own, smaller limits answer first ([`super::limits`]).
const MAX_HEAD_BUFFER: usize = 1024 * 1024;
const MAX_HEAD_FIELDS: usize = 256;

/// Bounds on connections.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time a client has to send a request's headers (HTTP/1).
    pub header_timeout: Duration,
    /// A connection on which nothing is read or written this long is closed.
    pub idle_timeout: Duration,
    /// Connections one peer address may hold at once (0: no cap).
    pub connections_per_peer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            connections_per_peer: 256,
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then
/// stops accepting and waits for open connections to finish.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BUFFER)
        .max_headers(MAX_HEAD_FIELDS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEAD_BUFFER as u32);
    let builder = Arc::new(builder);
    let peers = Peers::default();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, a connection reset before accept:
                    // wait a moment instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(admitted) = peers.admit(peer.ip(), limits.connections_per_peer) else {
            tracing::debug!(%peer, "too many connections from this peer; closed");
            continue;
        };
        // Without TCP_NODELAY, Nagle's algorithm meets delayed ACKs and a
        // pushed report can wait 40 ms for the next packet.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::warn!(error = %err, "could not set TCP_NODELAY");
        }
        let io = TokioIo::new(Idle::new(tcp, limits.idle_timeout));
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(io, service);
            if let Err(err) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Open connections per peer address.
#[derive(Clone, Default)]
struct Peers(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One admitted connection; dropping it frees its place.
struct Admitted {
    peers: Peers,
    ip: IpAddr,
}

impl Peers {
    fn admit(&self, ip: IpAddr, cap: usize) -> Option<Admitted> {
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if cap > 0 && *count >= cap {
            return None;
        }
        *count += 1;
        Some(Admitted {
            peers: self.clone(),
            ip,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.peers.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection that fails its reads (and so closes) once no byte has moved
/// in either direction for `timeout`. The server always has a read pending
/// on a live connection, so the deadline is noticed while it waits.
struct Idle {
    inner: TcpStream,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Idle {
    fn new(inner: TcpStream, timeout: Duration) -> Self {
        Idle {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn moved(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.timeout);
    }
}

impl AsyncRead for Idle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the connection was idle too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Idle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.moved();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
