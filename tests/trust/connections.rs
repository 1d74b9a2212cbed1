//! Connections a hostile client holds: headers sent a byte at a time
//! (slowloris), connections that send nothing, and more connections from one
//! address than it may hold. Each is closed by the server within its bound,
//! while a real watch stream, which the server keeps busy with heartbeats,
//! lives on.

use crate::common::{self, TestServer};
use livescan::api::Limits;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server on the test server's engine with tight limits.
async fn tight_server(server: &TestServer, limits: Limits) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let app = livescan::api::app(server.engine.clone());
    tokio::spawn(livescan::api::serve_with(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    address
}

/// Reads until the server closes the connection; false if it is still open
/// after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_excess_connections_are_closed_and_streams_live_on() {
    let server = TestServer::start().await;
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        connections_per_peer: 400,
    };
    let address = tight_server(&server, limits).await;

    // 300 slowloris connections, each sending its headers a byte at a time.
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(TcpStream::connect(&address).await.unwrap());
    }
    let started = Instant::now();
    let trickle: Vec<_> = slow
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle() {
                    if stream.write_all(&[*byte]).await.is_err() {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if started.elapsed() > Duration::from_secs(10) {
                        return false;
                    }
                }
                unreachable!("the cycle never ends")
            })
        })
        .collect();
    for stream in trickle {
        assert!(stream.await.unwrap(), "a slowloris connection was held for 10 s");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // A connection that never sends a byte, and one idle after a request.
    let mut silent = TcpStream::connect(&address).await.unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(4)).await,
        "a silent connection was held"
    );
    let mut done = TcpStream::connect(&address).await.unwrap();
    done.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut done, Duration::from_secs(4)).await,
        "an idle keep-alive connection was held"
    );

    // A watch stream outlives the idle timeout: heartbeats keep it moving.
    let (site, open) = common::gated_page().await;
    let id = server
        .start_session(json!({ "target": { "url": site }, "tools": ["http-headers"] }))
        .await;
    let mut events = server
        .client()
        .get(format!("http://{address}/api/sessions/{id}/events"))
        .send()
        .await
        .unwrap();
    let watched = Instant::now();
    let mut received = String::new();
    while watched.elapsed() < Duration::from_millis(2500) {
        let chunk = tokio::time::timeout(Duration::from_secs(2), events.chunk()).await;
        let chunk = chunk
            .expect("the stream went quiet")
            .unwrap()
            .expect("the stream was closed");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(received.contains("heartbeat"), "{received}");
    open.send(true).unwrap();
    server.wait_finished(&id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_share_of_connections() {
    let server = TestServer::start().await;
    let limits = Limits {
        connections_per_peer: 20,
        ..Limits::default()
    };
    let address = tight_server(&server, limits).await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    // Let the server admit them before the next ones arrive.
    let ok = reqwest_health(&address).await;
    assert!(ok.is_err(), "the 21st connection was served");
    for _ in 0..10 {
        let mut excess = TcpStream::connect(&address).await.unwrap();
        assert!(
            closed_within(&mut excess, Duration::from_secs(2)).await,
            "an excess connection was kept"
        );
    }
    drop(held);
    let mut served = false;
    for _ in 0..100 {
        if reqwest_health(&address).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "places were not freed when connections closed");
}

async fn reqwest_health(address: &str) -> Result<reqwest::StatusCode, reqwest::Error> {
    common::http()
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .map(|r| r.status())
}
