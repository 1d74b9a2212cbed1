//! What the benchmarks that load a real server share: starting `livescan
//! serve` (this build's binary, its own process, a fresh data directory),
//! a REST client with the server's local key, and settings from the
//! environment.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A setting from the environment, or its default.
pub fn setting<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running `livescan serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The server's local key (full credits, no rate limit).
    pub key: String,
    pub data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `livescan serve` on 127.0.0.1:0 without a rate limit or a
    /// per-peer connection cap, with `args` added. With `SERVER_CPUS` set
    /// (e.g. `0`), the server runs on those CPUs only.
    pub fn start<A: AsRef<OsStr>>(args: &[A]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut command = match std::env::var("SERVER_CPUS") {
            Ok(cpus) => {
                let mut pinned = Command::new("taskset");
                pinned.args(["-c", &cpus, env!("CARGO_BIN_EXE_livescan")]);
                pinned
            }
            Err(_) => Command::new(env!("CARGO_BIN_EXE_livescan")),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "0"])
            .args(["--max-connections-per-peer", "0"])
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .env("RUST_LOG", "warn,livescan=info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("serve exited before listening").unwrap();
            if let Some(rest) = line.split("serving REST and gRPC on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        let key = std::fs::read_to_string(data.path().join("local.key"))
            .unwrap()
            .trim()
            .to_string();
        Server {
            child,
            base,
            key,
            data,
        }
    }
}

/// A REST client that sends `key`.
pub fn rest_client(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A process's resident memory, in KiB (`field` as in /proc/PID/status).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A page that answers only once `open` is set: it holds a session's URL tools.
pub async fn gated_page() -> (String, tokio::sync::watch::Sender<bool>) {
    let (open, gate) = tokio::sync::watch::channel(false);
    let app = axum::Router::new().fallback(move || {
        let mut gate = gate.clone();
        async move {
            let _ = gate.wait_for(|open| *open).await;
            axum::response::Html("<html lang=en><head><title>t</title></head><body><p>held</p></body></html>")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, open)
}
