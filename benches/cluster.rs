//! A cluster on one PostgreSQL: how many tool runs per second 1, 2 and 4
//! worker nodes claim, run and report, and how long a report takes from its
//! tool's end to a watcher on another node; the same figures for one node
//! on SQLite beside them.
//!
//! The nodes are engines in this process, each on its own pool of
//! connections and its own listening connection, as separate processes
//! would be: a report reaches the API node's watcher only through the
//! database (NOTIFY, then a read of the log). The tools do nothing but note
//! when they end. Each round runs on a fresh database.
//!
//! Run: `cargo bench --bench cluster` (PostgreSQL from
//! `LIVESCAN_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`).
//! `WORKERS=1,2,4`, `SESSIONS=100` and `TOOLS=20` (per session) set the size.

mod common;

use common::{percentile, setting};
use futures::StreamExt;
use futures::future::BoxFuture;
use livescan::engine::{Caller, ClusterConfig, Engine, EngineConfig, TargetPolicy, WatchItem};
use livescan::model::{Category, Ecosystem, EventKind, RawTarget, StartRequest, TargetKind};
use livescan::store::{PostgresStore, SqliteStore, Store, TemporaryDatabase};
use livescan::tools::{Catalog, Tool, ToolContext, ToolError, ToolSpec, ToolTarget};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When each run ended, by (the session's target directory, tool): each
/// session scans a directory of its own.
type Ends = Arc<Mutex<HashMap<(PathBuf, String), Instant>>>;

/// A tool that does nothing but note when it ends.
struct NoOp {
    spec: ToolSpec,
    ends: Ends,
}

impl Tool for NoOp {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ToolTarget::Directory(inventory) = &ctx.target else {
                return Err(ToolError::Failed("a directory target".into()));
            };
            let session = inventory.root().to_path_buf();
            self.ends
                .lock()
                .unwrap()
                .insert((session, self.spec.id.to_string()), Instant::now());
            Ok(())
        })
    }
}

fn catalog(tools: usize, ends: &Ends) -> (Catalog, Vec<String>) {
    let mut catalog = Catalog::default();
    let mut ids = Vec::new();
    for i in 0..tools {
        let id: &'static str = Box::leak(format!("noop-{i:03}").into_boxed_str());
        ids.push(id.to_string());
        catalog.add(Arc::new(NoOp {
            spec: ToolSpec {
                id,
                category: Category::CodeQuality,
                ecosystem: Ecosystem::Any,
                targets: &[TargetKind::Directory],
                cost: 1,
                summary: "does nothing",
            },
            ends: ends.clone(),
        }));
    }
    (catalog, ids)
}

fn config(target: &Path, work: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(
        TargetPolicy {
            scan_roots: vec![target.to_path_buf()],
            allow_private: false,
            excluded: vec![work.to_path_buf()],
        },
        livescan::tools::Workspace::scratch(work.to_path_buf()),
    );
    config.rate_limit = None;
    config
}

/// What one round measured.
struct Round {
    runs: usize,
    elapsed: Duration,
    /// Tool end to the watcher's receipt of its report, sorted.
    push: Vec<Duration>,
}

/// The directories the sessions scan, one each, under `root`.
fn targets(root: &Path, sessions: usize) -> Vec<PathBuf> {
    (0..sessions)
        .map(|i| {
            let dir = root.join(format!("s{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("a.txt"), "text\n").unwrap();
            dir
        })
        .collect()
}

/// Starts a session of every tool on each of `targets` on `api`, watches
/// each there until it ends, and measures.
async fn round(api: &Engine, targets: &[PathBuf], tools: &[String], ends: &Ends) -> Round {
    let caller = Caller {
        user_id: "bench".into(),
        key_id: None,
    };
    let began = Instant::now();
    let mut watches = Vec::new();
    for target in targets {
        let request = StartRequest {
            target: Some(RawTarget {
                directory: Some(target.display().to_string()),
                ..Default::default()
            }),
            tools: tools.to_vec(),
            max_concurrent: Some(tools.len() as u64),
            enable_intelligence: Some(false),
            ..Default::default()
        };
        let state = api.start_session(&caller, request).await.unwrap();
        let stream = api
            .watch(&caller, &state.meta.session_id, Some(state.cursor))
            .await
            .unwrap();
        let target = target.clone();
        watches.push(tokio::spawn(async move {
            let mut received = Vec::new();
            let mut stream = std::pin::pin!(stream);
            while let Some(item) = stream.next().await {
                if let WatchItem::Event(published) = item.unwrap()
                    && let EventKind::ToolFinished { report } = &published.event.kind
                {
                    received.push((target.clone(), report.tool_name.clone(), Instant::now()));
                }
            }
            received
        }));
    }
    let mut received = Vec::new();
    for watch in watches {
        received.extend(watch.await.unwrap());
    }
    let elapsed = began.elapsed();
    let ends = ends.lock().unwrap();
    let mut push: Vec<Duration> = received
        .iter()
        .map(|(target, tool, at)| at.saturating_duration_since(ends[&(target.clone(), tool.clone())]))
        .collect();
    push.sort();
    Round {
        runs: received.len(),
        elapsed,
        push,
    }
}

fn print(label: &str, round: &Round) {
    println!(
        "{label}: {} tool runs in {:.2} s = {:.0} runs/s; tool end -> watcher: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        round.runs,
        round.elapsed.as_secs_f64(),
        round.runs as f64 / round.elapsed.as_secs_f64(),
        percentile(&round.push, 0.5).as_secs_f64() * 1e3,
        percentile(&round.push, 0.99).as_secs_f64() * 1e3,
        round.push.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn cluster_round(admin: &str, workers: usize, targets: &[PathBuf], tools: usize, root: &Path) -> Round {
    let database = TemporaryDatabase::create(admin).await.unwrap();
    let url = database.url();
    let ends: Ends = Arc::default();
    let (catalog, ids) = catalog(tools, &ends);
    let scratch = tempfile::tempdir().unwrap();
    let node = |name: String, runs_tools: bool| {
        let (url, catalog, work) = (url.clone(), catalog.clone(), scratch.path().join(&name));
        async move {
            let store = Arc::new(PostgresStore::connect(&url, 8).await.unwrap());
            let cluster = ClusterConfig {
                node: name,
                lease: Duration::from_secs(10),
                runs_tools,
                narrative_wait: Duration::ZERO,
            };
            Engine::open_shared(store, catalog, config(root, &work), cluster)
                .await
                .unwrap()
        }
    };
    let api = node("api".into(), false).await;
    let mut nodes = Vec::new();
    for i in 0..workers {
        nodes.push(node(format!("worker-{i}"), true).await);
    }
    let accounts = PostgresStore::connect(&url, 2).await.unwrap();
    accounts
        .create_user("bench", "bench", (targets.len() * tools) as u64)
        .await
        .unwrap();
    let measured = round(&api, targets, &ids, &ends).await;
    for node in nodes.iter().chain([&api]) {
        node.shutdown().await;
    }
    measured
}

async fn sqlite_round(targets: &[PathBuf], tools: usize, root: &Path) -> Round {
    let data = tempfile::tempdir().unwrap();
    let ends: Ends = Arc::default();
    let (catalog, ids) = catalog(tools, &ends);
    let store = Arc::new(
        SqliteStore::open(&data.path().join("bench.sqlite"))
            .await
            .unwrap(),
    );
    store
        .create_user("bench", "bench", (targets.len() * tools) as u64)
        .await
        .unwrap();
    let engine = Engine::open(store, catalog, config(root, &data.path().join("work")))
        .await
        .unwrap();
    round(&engine, targets, &ids, &ends).await
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("LIVESCAN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let workers: Vec<usize> = std::env::var("WORKERS")
        .unwrap_or_else(|_| "1,2,4".into())
        .split(',')
        .map(|n| n.trim().parse().expect("WORKERS is a list of numbers"))
        .collect();
    let sessions = setting("SESSIONS", 100);
    let tools = setting("TOOLS", 20);
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().canonicalize().unwrap();
    let targets = targets(&root, sessions);
    println!("cluster: {sessions} sessions of {tools} no-op tools per round, each round on a fresh database");

    let single = sqlite_round(&targets, tools, &root).await;
    print("one node on SQLite", &single);

    if let Err(err) = TemporaryDatabase::create(&admin).await {
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL at {admin}: {err}");
        }
        println!("skipped the cluster rounds: no PostgreSQL at {admin} ({err})");
        return;
    }
    for count in workers {
        let measured = cluster_round(&admin, count, &targets, tools, &root).await;
        print(&format!("PostgreSQL, 1 API node + {count} worker(s)"), &measured);
    }
}
