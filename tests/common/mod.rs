//! Shared test harness: a real livescan server on 127.0.0.1:0 over a real
//! SQLite file with a funded test account, a local web site for URL targets,
//! and small REST/SSE/gRPC helpers that send the account's API key.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod tls;

use livescan::engine::{Engine, EngineConfig, TargetPolicy, accounts};
use livescan::store::SqliteStore;
use livescan::tools::Catalog;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An HTTP client for loopback only: proxies from the environment are ignored.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A loopback client that sends `key` as `Authorization: Bearer`.
pub fn http_with_key(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Adds `authorization: Bearer <key>` to every gRPC call.
#[derive(Clone)]
pub struct BearerKey(pub tonic::metadata::AsciiMetadataValue);

impl BearerKey {
    pub fn new(key: &str) -> Self {
        BearerKey(format!("Bearer {key}").parse().unwrap())
    }
}

impl tonic::service::Interceptor for BearerKey {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type GrpcClient = livescan::proto::session_service_client::SessionServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, BearerKey>,
>;

/// For tests of a guard that must refuse non-loopback addresses: runs the
/// calling test (`path`, as `cargo test` names it) again inside a network
/// namespace of its own where only loopback is up, so a broken guard cannot
/// send a packet off this machine. Returns true inside, where the test's
/// body runs; outside, waits for that run and returns false.
pub fn in_own_network_namespace(path: &str) -> bool {
    const INSIDE: &str = "LIVESCAN_TEST_IN_NETNS";
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let output = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(std::env::current_exe().unwrap())
        .args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "inside its own network namespace: {report}"
    );
    assert!(
        report.contains("1 passed"),
        "the test did not run inside the namespace: {report}"
    );
    false
}

/// The catalog with this checkout's installed scanners (`.tools/`); its
/// advisory directory does not exist, so `vulnerable-dependencies` is one
/// tool the tests can count on being unavailable (and refunded).
pub fn installed_catalog() -> Catalog {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Catalog::with_options(&livescan::tools::CatalogOptions {
        advisory_db: Some(no_advisory_directory()),
        tool_dirs: livescan::tools::external::DEFAULT_TOOL_DIRS
            .iter()
            .map(|dir| root.join(dir))
            .collect(),
    })
}

/// The built-in catalog with scanners looked up on `PATH` only and, as in
/// `installed_catalog`, no advisory directory.
pub fn test_catalog() -> Catalog {
    Catalog::with_options(&livescan::tools::CatalogOptions {
        advisory_db: Some(no_advisory_directory()),
        tool_dirs: Vec::new(),
    })
}

fn no_advisory_directory() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-such-advisory-directory")
}

/// Credits the test account starts with: plenty for any suite.
pub const TEST_CREDITS: u64 = 1_000_000;

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub engine: Engine,
    pub store: Arc<SqliteStore>,
    /// The test account's API key.
    pub key: String,
    pub user_id: String,
    pub data_dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with_catalog(test_catalog(), 16).await
    }

    /// A server whose directory targets may lie under `tests/fixtures` and whose
    /// URL targets may be local, with a short heartbeat.
    pub async fn with_catalog(catalog: Catalog, global_concurrency: usize) -> TestServer {
        Self::with_config(catalog, |config| config.global_concurrency = global_concurrency).await
    }

    /// A server as `with_catalog` makes it, with its configuration adjusted.
    pub async fn with_config(catalog: Catalog, adjust: impl FnOnce(&mut EngineConfig)) -> TestServer {
        let data_dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&data_dir.path().join("livescan.sqlite"))
                .await
                .unwrap(),
        );
        let mut config = EngineConfig::new(
            TargetPolicy {
                scan_roots: vec![std::fs::canonicalize(fixtures()).unwrap()],
                allow_private: true,
                excluded: vec![data_dir.path().to_path_buf()],
            },
            livescan::tools::Workspace::scratch(data_dir.path().join("work")),
        );
        config.heartbeat = Duration::from_millis(300);
        config.uploads = Some(livescan::engine::uploads::UploadConfig {
            dir: data_dir.path().join("uploads"),
            limits: Default::default(),
            sweep: true,
        });
        adjust(&mut config);
        let (account, key) = accounts::create_account(&*store, "tester", TEST_CREDITS, None)
            .await
            .unwrap();
        let engine = Engine::open(store.clone(), catalog, config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn({
            let engine = engine.clone();
            async move {
                livescan::api::serve(listener, engine, std::future::pending())
                    .await
                    .unwrap();
            }
        });
        TestServer {
            addr,
            base: format!("http://{addr}"),
            engine,
            store,
            key: key.key,
            user_id: account.user_id,
            data_dir,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A REST client with the test account's key.
    pub fn client(&self) -> reqwest::Client {
        http_with_key(&self.key)
    }

    /// A new account with `credits` and a client for it.
    pub async fn account(&self, name: &str, credits: u64) -> (String, reqwest::Client) {
        let (_, new) = accounts::create_account(&*self.store, name, credits, None)
            .await
            .unwrap();
        let client = http_with_key(&new.key);
        (new.key, client)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let response = self
            .client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client().get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Starts a session and returns its id.
    pub async fn start_session(&self, body: Value) -> String {
        start_with(&self.client(), &self.base, body).await
    }

    /// Polls the full view until the session reaches a terminal status.
    pub async fn wait_finished(&self, session_id: &str) -> Value {
        wait_terminal(&self.client(), &self.base, session_id).await
    }

    /// A gRPC client with the test account's key.
    pub async fn grpc(&self) -> GrpcClient {
        self.grpc_with_key(&self.key).await
    }

    pub async fn grpc_with_key(&self, key: &str) -> GrpcClient {
        grpc_client(&self.base, key).await
    }
}

/// A gRPC client for the server at `base` that sends `key`.
pub async fn grpc_client(base: &str, key: &str) -> GrpcClient {
    let channel = tonic::transport::Endpoint::from_shared(base.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    livescan::proto::session_service_client::SessionServiceClient::with_interceptor(
        channel,
        BearerKey::new(key),
    )
}

/// A `WatchSession` stream of a session from its start, its snapshot read.
pub async fn watch_from_snapshot(
    grpc: &mut GrpcClient,
    session_id: &str,
) -> tonic::Streaming<livescan::proto::WatchSessionResponse> {
    let mut watch = grpc
        .watch_session(livescan::proto::WatchSessionRequest {
            session_id: session_id.to_string(),
            after_seq: None,
        })
        .await
        .unwrap()
        .into_inner();
    watch.message().await.unwrap().expect("a snapshot first");
    watch
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Polls a session's full view on the server at `base` with `client` until
/// it reaches a terminal status.
pub async fn wait_terminal(client: &reqwest::Client, base: &str, session_id: &str) -> Value {
    for _ in 0..600 {
        let session = get_json(client, &format!("{base}/api/sessions/{session_id}")).await;
        if is_terminal(&session["status"]) {
            return session;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {session_id} did not finish in 30 s");
}

/// Asks the server at `base` to start a session: its status and answer.
pub async fn try_start_with(client: &reqwest::Client, base: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/sessions"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Starts a session on the server at `base` with `client`; returns its id.
pub async fn start_with(client: &reqwest::Client, base: &str, body: Value) -> String {
    let (status, started) = try_start_with(client, base, &body).await;
    assert_eq!(status, 202, "{started}");
    started["sessionId"].as_str().unwrap().to_string()
}

pub fn is_terminal(status: &Value) -> bool {
    matches!(
        status.as_str(),
        Some("completed" | "partial" | "failed" | "cancelled")
    )
}

/// A local web site: `/planted.html` and `/clean.html` from the web fixtures,
/// the latter with every recommended security header, `/slow.html`, answered
/// after 150 ms, and `/hang`, which never answers. Returns its base URL.
pub async fn web_site() -> String {
    use axum::http::header::{self, HeaderName, HeaderValue};
    use axum::routing::get;
    let web = fixtures().join("web");
    let planted = std::fs::read_to_string(web.join("planted.html")).unwrap();
    let clean = std::fs::read_to_string(web.join("clean.html")).unwrap();
    let strong_headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'",
        ),
        (
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    ];
    let app = axum::Router::new()
        .route("/hang", get(std::future::pending::<String>))
        .route(
            "/slow.html",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                axum::response::Html("<html lang=en><head><title>slow</title></head><body></body></html>")
            }),
        )
        .route(
            "/planted.html",
            get(move || async move { axum::response::Html(planted) }),
        )
        .route(
            "/clean.html",
            get(move || async move {
                let mut response = axum::response::IntoResponse::into_response(axum::response::Html(clean));
                for (name, value) in strong_headers {
                    response
                        .headers_mut()
                        .insert::<HeaderName>(name, HeaderValue::from_static(value));
                }
                response
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A page that answers only once the test opens its gate, so a session can
/// be held mid-run while the test looks at it. Returns the page's URL and
/// the switch.
pub async fn gated_page() -> (String, tokio::sync::watch::Sender<bool>) {
    let (open, gate) = tokio::sync::watch::channel(false);
    let app = axum::Router::new().route(
        "/page",
        axum::routing::get(move || {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|open| *open).await;
                axum::response::Html("<html lang=en><head><title>gated</title></head><body></body></html>")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/page"), open)
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Sse {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// Reads an SSE response to its end (the server closes it after
/// `session_finished`), skipping comments.
pub async fn read_sse(response: reqwest::Response) -> Vec<Sse> {
    read_sse_then(response, || {}).await
}

/// Like [`read_sse`], calling `after_first` once the first event has arrived.
pub async fn read_sse_then(mut response: reqwest::Response, after_first: impl FnOnce()) -> Vec<Sse> {
    let mut text = String::new();
    let mut after_first = Some(after_first);
    let read = async {
        while let Some(chunk) = response.chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            if text.contains("\n\n")
                && let Some(callback) = after_first.take()
            {
                callback();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("SSE stream ended");
    parse_sse(&text)
}

fn parse_sse(text: &str) -> Vec<Sse> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            (!data.is_empty()).then(|| Sse {
                id,
                event,
                data: serde_json::from_str(&data).unwrap(),
            })
        })
        .collect()
}

/// The real `livescan serve` binary as a child process, its log collected.
pub struct RealServer {
    pub child: Child,
    pub base: String,
    /// The local key the server wrote into its data directory.
    pub key: String,
    /// Everything the server has logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RealServer {
    /// Starts `livescan serve` on `listen` (URL targets may be local) and
    /// reads the address it logs.
    pub fn start(data_dir: &Path, listen: &str) -> RealServer {
        Self::start_with(data_dir, listen, "info", &[])
    }

    pub fn start_with(data_dir: &Path, listen: &str, log_filter: &str, extra_args: &[&str]) -> RealServer {
        let mut args = vec![
            "serve",
            "--listen",
            listen,
            "--allow-private-targets",
            "--data-dir",
        ];
        args.push(data_dir.to_str().expect("test paths are UTF-8"));
        args.extend_from_slice(extra_args);
        let cwd = std::env::current_dir().unwrap();
        Self::spawn(&cwd, data_dir, log_filter, &args)
    }

    /// Starts `livescan serve ARGS` in `cwd` as the README says to (data in
    /// `cwd/livescan-data`), logging at info.
    pub fn start_in(cwd: &Path, args: &[&str]) -> RealServer {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Self::spawn(cwd, &cwd.join("livescan-data"), "info", &all)
    }

    /// Starts `livescan worker --data-dir DATA_DIR ARGS` (URL targets may
    /// be local) and waits until it runs sessions. It serves nothing: its
    /// `base` and `key` are empty.
    pub fn worker(data_dir: &Path, extra_args: &[&str]) -> RealServer {
        let mut args = vec!["worker", "--allow-private-targets", "--data-dir"];
        args.push(data_dir.to_str().expect("test paths are UTF-8"));
        args.extend_from_slice(extra_args);
        let cwd = std::env::current_dir().unwrap();
        Self::spawn(&cwd, data_dir, "info", &args)
    }

    /// Runs `livescan ARGS` in `cwd` with this checkout's scanners, until
    /// it says it serves (or, a worker, that it runs sessions).
    fn spawn(cwd: &Path, data_dir: &Path, log_filter: &str, args: &[&str]) -> RealServer {
        let tool_dirs = livescan::tools::external::DEFAULT_TOOL_DIRS
            .iter()
            .map(|dir| format!("--tool-dir={}/{dir}", env!("CARGO_MANIFEST_DIR")));
        let mut child = Command::new(env!("CARGO_BIN_EXE_livescan"))
            .args(args)
            .args(tool_dirs)
            .current_dir(cwd)
            .env("RUST_LOG", log_filter)
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let base = loop {
            let Some(line) = lines.next() else {
                panic!(
                    "livescan {args:?} exited before it was ready:\n{}",
                    log.lock().unwrap()
                );
            };
            let line = line.unwrap();
            log.lock().unwrap().push_str(&format!("{line}\n"));
            // Text or JSON logs: the address ends at a space or a quote.
            if let Some(rest) = line.split("serving REST and gRPC on ").nth(1) {
                break rest.split([' ', '"']).next().unwrap().to_string();
            }
            if line.contains("livescan worker is running sessions") {
                break String::new();
            }
        };
        // Keep draining the log so the child never blocks on a full pipe.
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let key = std::fs::read_to_string(data_dir.join("local.key")).unwrap_or_default();
        RealServer {
            child,
            base,
            key: key.trim().to_string(),
            log,
        }
    }

    /// A REST client with the local key.
    pub fn client(&self) -> reqwest::Client {
        http_with_key(&self.key)
    }

    /// kill -9, and wait for the process to be gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Runs `livescan ARGS` to completion: (exit code, stdout, stderr).
pub fn livescan(args: &[&str]) -> (i32, String, String) {
    livescan_in(&std::env::current_dir().unwrap(), args)
}

/// Runs `livescan ARGS` to completion in `cwd`: (exit code, stdout, stderr).
pub fn livescan_in(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_livescan"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("LIVESCAN_API_KEY")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A directory tool called `broken` (cost 2) that fails every run, as a
/// scanner that crashes would: its session ends `partial` and the tool's
/// credits come back.
pub struct Broken(livescan::tools::ToolSpec);

impl Broken {
    pub fn new(category: livescan::model::Category) -> Self {
        Broken(livescan::tools::ToolSpec {
            id: "broken",
            category,
            ecosystem: livescan::model::Ecosystem::Any,
            targets: &[livescan::model::TargetKind::Directory],
            cost: 2,
            summary: "fails every run",
        })
    }
}

impl livescan::tools::Tool for Broken {
    fn spec(&self) -> &livescan::tools::ToolSpec {
        &self.0
    }
    fn run(
        self: Arc<Self>,
        _ctx: Arc<livescan::tools::ToolContext>,
    ) -> futures::future::BoxFuture<'static, Result<(), livescan::tools::ToolError>> {
        Box::pin(async {
            Err(livescan::tools::ToolError::Failed(
                "the scanner crashed (exit code 139)".into(),
            ))
        })
    }
}

/// `from` copied into `to` (made if missing): a checkout of a fixture tree
/// that a test may change.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
