//! The proxy every request of a rendered page goes through, on
//! 127.0.0.1: the target address policy applied to each request the page
//! makes (scripts, images, fetches, WebSockets), not only to the first, and
//! the page's budget of requests and bytes. Chromium resolves no name
//! itself behind a proxy; the guard resolves it, keeps only the addresses
//! the policy allows, and connects to one of those, so a name that points
//! at a private address (or is re-pointed there) is refused. `CONNECT`
//! tunnels carry HTTPS and WebSockets end to end; plain HTTP requests are
//! forwarded in origin form with `Connection: close`.

use crate::tools::fetch::allowed_addresses;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head read from the browser.
const MAX_HEAD_BYTES: usize = 32 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one page may use.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub requests: usize,
    pub bytes: u64,
}

/// A request the guard did not let through, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `host:port` (a tunnel) or the URL (plain HTTP).
    pub target: String,
    pub reason: String,
}

/// One page's proxy: its address for the browser, and what went through.
pub struct Guard {
    pub address: std::net::SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    allow_private: bool,
    budget: Budget,
    requests: AtomicUsize,
    bytes: AtomicU64,
    refused: Mutex<Vec<Refusal>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Guard {
    pub async fn start(allow_private: bool, budget: Budget) -> std::io::Result<Guard> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(State {
            allow_private,
            budget,
            requests: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            refused: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                connections.spawn(handle(stream, serving.clone()));
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Guard { address, state, task })
    }

    /// The requests refused so far.
    pub fn refused(&self) -> Vec<Refusal> {
        self.state
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The bytes relayed so far, both ways.
    pub fn bytes(&self) -> u64 {
        self.state.bytes.load(Ordering::Relaxed)
    }

    /// Whether the page ran out of its budget.
    pub fn exhausted(&self) -> Option<String> {
        let budget = self.state.budget;
        if self.state.requests.load(Ordering::Relaxed) > budget.requests {
            Some(format!("the page made more than {} requests", budget.requests))
        } else if self.bytes() > budget.bytes {
            Some(format!("the page loaded more than {} bytes", budget.bytes))
        } else {
            None
        }
    }
}

impl State {
    fn refuse(&self, target: &str, reason: String) {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Refusal {
                target: target.to_string(),
                reason,
            });
    }
}

/// One connection from the browser: one tunnel or one forwarded request.
async fn handle(mut browser: TcpStream, state: Arc<State>) {
    let Ok((head, rest)) = read_head(&mut browser).await else {
        return;
    };
    let Some((method, target, headers)) = parse_head(&head) else {
        let _ = browser.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        return;
    };
    let tunnel = method.eq_ignore_ascii_case("CONNECT");
    let (host, port, forwarded) = if tunnel {
        let Some((host, port)) = split_host_port(&target, 443) else {
            return refuse(&mut browser, &state, &target, "not a host:port".into()).await;
        };
        (host, port, None)
    } else {
        match url::Url::parse(&target) {
            Ok(url) if url.scheme() == "http" && url.host_str().is_some() => {
                let host = url
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_string();
                let port = url.port_or_known_default().unwrap_or(80);
                let path = match url.query() {
                    Some(query) => format!("{}?{query}", url.path()),
                    None => url.path().to_string(),
                };
                (host, port, Some(origin_form(&method, &path, &headers)))
            }
            _ => {
                return refuse(
                    &mut browser,
                    &state,
                    &target,
                    "only http:// and CONNECT are relayed".into(),
                )
                .await;
            }
        }
    };
    if state.requests.fetch_add(1, Ordering::Relaxed) >= state.budget.requests {
        let reason = format!("over the page's budget of {} requests", state.budget.requests);
        return refuse(&mut browser, &state, &target, reason).await;
    }
    let addresses = match allowed_addresses(&host, port, state.allow_private).await {
        Ok(addresses) => addresses,
        Err(err) => return refuse(&mut browser, &state, &target, err.to_string()).await,
    };
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, connect_any(&addresses)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(err)) => {
            let _ = browser.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            tracing::debug!(%target, error = %err, "a rendered page's request could not connect");
            return;
        }
        Err(_) => {
            let _ = browser.write_all(b"HTTP/1.1 504 Gateway Timeout\r\n\r\n").await;
            return;
        }
    };
    let mut upstream = upstream;
    let opened = match forwarded {
        None => browser
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_ok(),
        Some(head) => upstream.write_all(head.as_bytes()).await.is_ok(),
    };
    if !opened || (!rest.is_empty() && upstream.write_all(&rest).await.is_err()) {
        return;
    }
    relay(browser, upstream, &state).await;
}

async fn refuse(browser: &mut TcpStream, state: &State, target: &str, reason: String) {
    tracing::info!(%target, %reason, "a rendered page's request was refused");
    let body = format!("livescan refused this request: {reason}\n");
    let answer = format!(
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    state.refuse(target, reason);
    let _ = browser.write_all(answer.as_bytes()).await;
}

async fn connect_any(addresses: &[std::net::SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address");
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// The request head (up to the blank line) and whatever followed it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buffer).into_owned(), rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
}

/// The method, the request target and the header lines of a head.
fn parse_head(head: &str) -> Option<(String, String, Vec<&str>)> {
    let mut lines = head.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let method = request.next()?.to_string();
    let target = request.next()?.to_string();
    request.next().filter(|v| v.starts_with("HTTP/1."))?;
    let headers = lines.filter(|l| !l.is_empty()).collect();
    Some((method, target, headers))
}

/// The request for the origin server: its path, its headers without the
/// proxy's and connection ones, and `Connection: close`, so that the next
/// request (perhaps for another host) comes on a connection of its own.
fn origin_form(method: &str, path: &str, headers: &[&str]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for header in headers {
        let name = header.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if name.starts_with("proxy-") || name == "connection" || name == "keep-alive" {
            continue;
        }
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

fn split_host_port(target: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = match target.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (target, default_port),
    };
    let host = host.trim_matches(['[', ']']);
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// Copies both ways until either side closes or the page's byte budget is
/// spent.
async fn relay(browser: TcpStream, upstream: TcpStream, state: &State) {
    let (browser_read, browser_write) = browser.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::select! {
        () = pump(browser_read, upstream_write, state) => {}
        () = pump(upstream_read, browser_write, state) => {}
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, state: &State) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let total = state.bytes.fetch_add(read as u64, Ordering::Relaxed) + read as u64;
        if total > state.budget.bytes || to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_read_into_what_is_forwarded() {
        let head = "GET http://example.com/a?b=1 HTTP/1.1\r\nHost: example.com\r\nProxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n";
        let (method, target, headers) = parse_head(head).unwrap();
        assert_eq!(
            (method.as_str(), target.as_str()),
            ("GET", "http://example.com/a?b=1")
        );
        assert_eq!(
            origin_form(&method, "/a?b=1", &headers),
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(parse_head("GET /\r\n\r\n"), None, "no version");
        assert_eq!(
            split_host_port("example.com:8443", 443),
            Some(("example.com".into(), 8443))
        );
        assert_eq!(split_host_port("[::1]:443", 443), Some(("::1".into(), 443)));
        assert_eq!(
            split_host_port("example.com", 443),
            Some(("example.com".into(), 443))
        );
        assert_eq!(split_host_port(":443", 443), None);
    }
}
