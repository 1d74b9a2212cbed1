//! Push latency: the time from a tool finishing to a `WatchSession` client on
//! loopback receiving its report. A real server (SQLite file, gRPC over TCP on
//! 127.0.0.1) runs sessions of tools that sleep for staggered times and note
//! the instant they return; the client notes the instant each report arrives.
//!
//! Run: `cargo bench --bench watch_latency` (prints median, p90, p99, max).

mod common;

use common::percentile;
use futures::future::BoxFuture;
use livescan::engine::{Engine, EngineConfig, TargetPolicy, accounts};
use livescan::model::{Category, Ecosystem, TargetKind};
use livescan::proto as pb;
use livescan::store::SqliteStore;
use livescan::tools::{Catalog, Tool, ToolContext, ToolError, ToolSpec};
use pb::watch_session_response::Event;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOOLS: usize = 150;
const SESSIONS: usize = 3;

/// Tools of a session running at once; `WATCH_BENCH_CONCURRENCY` overrides it.
fn max_concurrent() -> u32 {
    std::env::var("WATCH_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

type FinishTimes = Arc<Mutex<HashMap<String, Instant>>>;

struct Sleeper {
    spec: ToolSpec,
    delay: Duration,
    finished: FinishTimes,
}

impl Tool for Sleeper {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn run(self: Arc<Self>, _ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.finished
                .lock()
                .unwrap()
                .insert(self.spec.id.to_string(), Instant::now());
            Ok(())
        })
    }
}

#[tokio::main]
async fn main() {
    let finished: FinishTimes = Arc::default();
    let mut catalog = Catalog::default();
    let mut ids = Vec::new();
    for i in 0..TOOLS {
        let id: &'static str = Box::leak(format!("bench-{i:03}").into_boxed_str());
        ids.push(id);
        catalog.add(Arc::new(Sleeper {
            spec: ToolSpec {
                id,
                category: Category::CodeQuality,
                ecosystem: Ecosystem::Any,
                targets: &[TargetKind::Directory],
                cost: 1,
                summary: "sleeps",
            },
            delay: Duration::from_millis(((i * 7) % 40) as u64),
            finished: finished.clone(),
        }));
    }
    let data_dir = tempfile::tempdir().unwrap();
    let target_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&data_dir.path().join("bench.sqlite"))
            .await
            .unwrap(),
    );
    let policy = TargetPolicy {
        scan_roots: vec![target_dir.path().canonicalize().unwrap()],
        allow_private: false,
        excluded: vec![data_dir.path().to_path_buf()],
    };
    // An account whose key the client sends; enough credits for every
    // session's tools and its analysis.
    let credits = (TOOLS as u64 + u64::from(livescan::tools::ANALYSIS_COST)) * SESSIONS as u64;
    let (_, key) = accounts::create_account(&*store, "bench", credits, None)
        .await
        .unwrap();
    let engine = Engine::open(
        store,
        catalog,
        EngineConfig::new(
            policy,
            livescan::tools::Workspace::scratch(data_dir.path().join("work")),
        ),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(livescan::api::serve(listener, engine, std::future::pending()));
    let channel = tonic::transport::Endpoint::from_shared(base)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let authorization: tonic::metadata::AsciiMetadataValue = format!("Bearer {}", key.key).parse().unwrap();
    let mut client = pb::session_service_client::SessionServiceClient::with_interceptor(
        channel,
        move |mut request: tonic::Request<()>| {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
            Ok(request)
        },
    );

    let mut latencies = Vec::new();
    for _ in 0..SESSIONS {
        finished.lock().unwrap().clear();
        let started = client
            .start_session(pb::StartSessionRequest {
                target: Some(pb::Target {
                    directory: target_dir.path().display().to_string(),
                    ..Default::default()
                }),
                tools: ids.iter().map(|s| s.to_string()).collect(),
                max_concurrent: Some(max_concurrent()),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut stream = client
            .watch_session(pb::WatchSessionRequest {
                session_id: started.session_id,
                after_seq: Some(0),
            })
            .await
            .unwrap()
            .into_inner();
        while let Some(message) = stream.message().await.unwrap() {
            let received = Instant::now();
            if let Some(Event::ToolFinished(report)) = message.event {
                let done = finished.lock().unwrap()[&report.tool_name];
                latencies.push(received - done);
            }
        }
    }
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / latencies.len() as u32;
    println!(
        "watch_latency: {} reports over {SESSIONS} sessions of {TOOLS} tools (maxConcurrent {})",
        latencies.len(),
        max_concurrent()
    );
    println!(
        "tool finished -> WatchSession client received: median {:?}, mean {:?}, p90 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.5),
        mean,
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
}
