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

/// A command that runs `program` as a server: with `SERVER_CPUS` set (e.g.
/// `0`), on those CPUs only.
pub fn server_command(program: &OsStr) -> Command {
    match std::env::var("SERVER_CPUS") {
        Ok(cpus) => {
            let mut pinned = Command::new("taskset");
            pinned.args([OsStr::new("-c"), OsStr::new(&cpus), program]);
            pinned
        }
        Err(_) => Command::new(program),
    }
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
        let mut child = server_command(OsStr::new(env!("CARGO_BIN_EXE_livescan")))
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

/// GET `url` as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Starts a session with `body`; its id.
pub async fn start_session(client: &reqwest::Client, base: &str, body: &serde_json::Value) -> String {
    let started: serde_json::Value = client
        .post(format!("{base}/api/sessions"))
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    started["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {started}"))
        .to_string()
}

/// Polls `url` every `every` until `done` holds for its JSON; that JSON.
pub async fn wait_until(
    client: &reqwest::Client,
    url: &str,
    every: std::time::Duration,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    loop {
        let body = get_json(client, url).await;
        if done(&body) {
            return body;
        }
        tokio::time::sleep(every).await;
    }
}

/// CPU time process `pid` has used (user and system), in milliseconds.
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 1000.0 / 100.0
}

/// The value at fraction `p` (0 to 1) of `sorted`.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The ids of the tools the server offers for `target` ("directory", "url").
pub async fn available_tools(client: &reqwest::Client, base: &str, target: &str) -> Vec<String> {
    get_json(client, &format!("{base}/api/tools")).await["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["available"] == true && t["targets"].as_array().unwrap().iter().any(|k| k == target))
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}
