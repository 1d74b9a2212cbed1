//! The `livescan` command: `serve` runs the API (REST and gRPC on one port)
//! with its workers; `worker` runs sessions for a cluster that shares a
//! PostgreSQL database; `scan` runs one scan with live console output, in-process
//! or through a server; `tools` lists the catalog; `keys` and `credits`
//! manage accounts in the data directory.

mod cli;

/// jemalloc, not the system allocator: a server that builds and drops large
/// reports for many watchers gives the memory back to the system after a
/// burst (glibc's per-thread arenas keep most of it), and fragments less.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options: a background thread returns memory freed more than a
/// second ago, instead of waiting for the next allocation to notice.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000\0";

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use cli::console::{Console, FailOn, Update};
use cli::duration::{self, BareNumber};
use cli::keys::{CreditsCommand, DataDir, KeysCommand};
use cli::scan::{ScanOptions, ScanOutput};
use livescan::engine::uploads::{UploadConfig, UploadLimits};
use livescan::engine::{Engine, EngineConfig, RateLimit, TargetPolicy};
use livescan::model::sarif;
use livescan::tools::{Catalog, CatalogOptions};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "livescan",
    version,
    about = "Streaming scans: each tool's report the moment it finishes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: REST, gRPC, gRPC-web, health and reflection on one port.
    Serve(ServeArgs),
    /// Run sessions for the nodes of a cluster that share the PostgreSQL
    /// database --database-url names; serves no API.
    Worker(WorkerArgs),
    /// Scan a directory or a URL and print each tool's result as it finishes.
    Scan(ScanArgs),
    /// List the tool catalog, with each tool's availability here.
    Tools(ToolsArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Grant credits and show balances.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// Keep the offline advisory data of `vulnerable-dependencies` current.
    #[command(subcommand)]
    Advisories(AdvisoriesCommand),
    /// Print a completion script for a shell, e.g.
    /// `livescan completions bash > ~/.local/share/bash-completion/completions/livescan`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): livescan's, or a subcommand's, e.g.
    /// `livescan man scan | man -l -`.
    Man {
        /// The subcommand whose page to print (serve, scan, tools, ...).
        subcommand: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdvisoriesCommand {
    /// Download the OSV project's advisories for every ecosystem livescan
    /// reads (where the network allows) into a directory for --advisory-db.
    /// Without it, the built-in snapshot is used.
    Refresh {
        /// The directory to fill (one folder per ecosystem, replaced whole).
        #[arg(long)]
        into: PathBuf,
        /// Where the archives are: `<source>/<ecosystem>/all.zip`.
        #[arg(long, default_value = livescan::tools::native::advisories::OSV_ARCHIVES)]
        source: String,
        /// Ecosystems to refresh (comma-separated). Default: all it reads.
        #[arg(long, value_delimiter = ',')]
        ecosystems: Vec<String>,
    },
}

#[derive(clap::Args)]
struct ToolsArgs {
    #[command(flatten)]
    tools: ToolArgs,
    /// Print the list as JSON, as `GET /api/tools` answers it, for scripts.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the README's catalog tables (Markdown), whatever is installed.
    #[arg(long)]
    markdown: bool,
    /// Average durations and versions come from the runs stored here, when
    /// it holds a database (it is not created).
    #[command(flatten)]
    data_dir: DataDir,
}

/// Where tools find what they need on this machine.
#[derive(clap::Args)]
struct ToolArgs {
    /// A directory of OSV advisories (JSON) for `vulnerable-dependencies`.
    #[arg(long, env = "LIVESCAN_ADVISORY_DB")]
    advisory_db: Option<PathBuf>,
    /// Where to look for external scanners before PATH (repeatable, or
    /// `:`-separated in LIVESCAN_TOOL_DIRS). Default: the directories
    /// `scripts/install-test-tools` fills under .tools/ in the current
    /// directory, in the checkout this executable was built in, and in
    /// $XDG_DATA_HOME/livescan (~/.local/share/livescan).
    #[arg(long = "tool-dir", env = "LIVESCAN_TOOL_DIRS", value_delimiter = ':')]
    tool_dirs: Vec<PathBuf>,
}

impl ToolArgs {
    fn catalog(&self) -> Catalog {
        let tool_dirs = if self.tool_dirs.is_empty() {
            livescan::tools::external::default_tool_dirs()
        } else {
            self.tool_dirs.clone()
        };
        // Absolute, so children started in other directories find them too.
        let tool_dirs = tool_dirs
            .into_iter()
            .map(|d| std::path::absolute(&d).unwrap_or(d))
            .collect();
        Catalog::with_options(&CatalogOptions {
            advisory_db: self.advisory_db.clone(),
            tool_dirs,
        })
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LIVESCAN_LISTEN")]
    listen: SocketAddr,
    #[command(flatten)]
    node: NodeArgs,
    /// Serve /metrics (Prometheus, no key) on this address instead of the
    /// main one, e.g. `127.0.0.1:9090`; `off` serves it nowhere.
    #[arg(long, value_parser = parse_metrics_listen, env = "LIVESCAN_METRICS_LISTEN")]
    metrics_listen: Option<MetricsListen>,
    /// Close a connection on which nothing moves for this long, e.g. `120s`.
    #[arg(long, default_value = "120s", value_parser = parse_interval, env = "LIVESCAN_IDLE_TIMEOUT")]
    idle_timeout: Duration,
    /// Connections one client address may hold open at once (0: no cap).
    #[arg(long, default_value_t = livescan::api::Limits::default().connections_per_peer, env = "LIVESCAN_MAX_CONNECTIONS_PER_PEER")]
    max_connections_per_peer: usize,
    /// Requests per second each API key may make (0: no limit). Each node
    /// of a cluster counts its own requests.
    #[arg(long, default_value_t = RateLimit::default().per_second, env = "LIVESCAN_RATE_LIMIT")]
    rate_limit: f64,
    /// Requests each API key may make at once before the per-second rate applies.
    #[arg(long, default_value_t = RateLimit::default().burst, env = "LIVESCAN_RATE_BURST")]
    rate_burst: u32,
    /// Largest archive an upload may send, in MiB.
    #[arg(long, default_value_t = UploadLimits::default().archive_bytes >> 20, value_parser = mebibytes(), env = "LIVESCAN_UPLOAD_MAX_MB")]
    upload_max_mb: u64,
    /// Largest size an upload may unpack to, in MiB.
    #[arg(long, default_value_t = UploadLimits::default().unpacked_bytes >> 20, value_parser = mebibytes(), env = "LIVESCAN_UPLOAD_MAX_UNPACKED_MB")]
    upload_max_unpacked_mb: u64,
    /// Most files an upload may hold.
    #[arg(long, default_value_t = UploadLimits::default().files, env = "LIVESCAN_UPLOAD_MAX_FILES")]
    upload_max_files: u64,
    /// Most that one account's uploads may take together, in MiB.
    #[arg(long, default_value_t = UploadLimits::default().quota_bytes >> 20, value_parser = mebibytes(), env = "LIVESCAN_UPLOAD_QUOTA_MB")]
    upload_quota_mb: u64,
    /// Uploads that no session used for this long are removed, e.g. `24h`.
    #[arg(long, default_value = "24h", value_parser = parse_interval, env = "LIVESCAN_UPLOAD_RETENTION")]
    upload_retention: Duration,
}

/// What a node that runs sessions needs: `serve` and `worker` alike.
#[derive(clap::Args)]
struct NodeArgs {
    #[command(flatten)]
    database: cli::keys::Database,
    #[command(flatten)]
    tools: ToolArgs,
    /// Directories that directory targets must lie within (repeatable).
    /// Default: the directory the server was started in. Every node of a
    /// cluster must see them at the same paths.
    #[arg(long = "scan-root", env = "LIVESCAN_SCAN_ROOT", value_delimiter = ':')]
    scan_roots: Vec<PathBuf>,
    /// Allow URL targets on loopback, private and link-local addresses.
    #[arg(long, env = "LIVESCAN_ALLOW_PRIVATE_TARGETS")]
    allow_private_targets: bool,
    /// How much tool work runs at once across all sessions, in native
    /// analyzers: a scanner process counts 2, semgrep and checkov 4.
    /// Default: 4 per core. With --database-url, 0 makes an API-only node
    /// that runs no tools (`worker` nodes run them).
    #[arg(long, visible_aliases = ["workers", "concurrency"], default_value_t = livescan::engine::slots::default_capacity(), env = "LIVESCAN_MAX_RUNNING_TOOLS")]
    max_running_tools: usize,
    /// With --database-url: how long a session stays with a node that
    /// stopped renewing its lease (killed, cut off) before another node
    /// resumes it, e.g. `10s` (at least `1s`). Leases are renewed every
    /// third of it, at least once a second.
    #[arg(long, default_value = "10s", value_parser = parse_lease, env = "LIVESCAN_LEASE")]
    lease: Duration,
    /// Also trust this certificate authority (PEM) for URL targets, e.g. a
    /// company's internal CA (repeatable).
    #[arg(long = "ca-cert", env = "LIVESCAN_CA_CERT", value_delimiter = ':')]
    ca_certs: Vec<PathBuf>,
    /// Findings each tool report keeps, worst first; the rest are counted
    /// in the report (`omitted`) but not listed.
    #[arg(long, default_value_t = livescan::tools::DEFAULT_MAX_FINDINGS, env = "LIVESCAN_MAX_FINDINGS_PER_REPORT")]
    max_findings_per_report: usize,
    /// Memory each scanner process may use, in MiB (0: no cap). A scanner
    /// that runs out fails with that reason (and is refunded).
    #[arg(long, default_value_t = livescan::tools::workspace::DEFAULT_CHILD_MEMORY / 1024 / 1024, value_parser = mebibytes(), env = "LIVESCAN_TOOL_MEMORY_MB")]
    tool_memory_mb: u64,
    /// Log lines as `text` or `json` (one object per line, with the request
    /// id, session and tool of each line). RUST_LOG sets what is logged.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "LIVESCAN_LOG_FORMAT")]
    log_format: LogFormat,
    /// On SIGTERM or SIGINT, how long to wait for streams to end and tools
    /// to stop before exiting anyway, e.g. `10s`.
    #[arg(long, default_value = "10s", value_parser = parse_interval, env = "LIVESCAN_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: Duration,
    /// An OpenAI-compatible chat-completions API (its base URL, e.g.
    /// http://127.0.0.1:11434/v1 for Ollama) that writes a narrative of each
    /// analysis after the session ends; its key, if it needs one, comes from
    /// LIVESCAN_LLM_API_KEY. It gets the merged issues, never a finding's text.
    #[arg(long, requires = "llm_model", env = "LIVESCAN_LLM_URL")]
    llm_url: Option<String>,
    /// The model --llm-url runs, e.g. `llama3.1:8b`.
    #[arg(long, requires = "llm_url", env = "LIVESCAN_LLM_MODEL")]
    llm_model: Option<String>,
    /// How long the model may take for one narrative, e.g. `60s`. In a
    /// cluster, give every node the same value: streams on other nodes wait
    /// this long (and one --lease) after a session's end for its narrative.
    #[arg(long, default_value = "60s", value_parser = parse_interval, env = "LIVESCAN_LLM_TIMEOUT")]
    llm_timeout: Duration,
}

/// `livescan worker`: a node of a cluster that runs sessions and serves nothing.
#[derive(clap::Args)]
struct WorkerArgs {
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(clap::Args)]
struct ScanArgs {
    /// A directory path, or an http(s) URL.
    target: String,
    /// Run on this livescan server (e.g. http://127.0.0.1:8080) instead of
    /// in-process. A directory is packed (as git would see it: .gitignore
    /// honoured, .git/ and symbolic links left out) and uploaded to it.
    #[arg(long, env = "LIVESCAN_SERVER")]
    server: Option<String>,
    /// The API key for --server. Default: the local key that `serve` wrote
    /// into the data directory.
    #[arg(long, env = "LIVESCAN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    #[command(flatten)]
    data_dir: DataDir,
    #[command(flatten)]
    tool_args: ToolArgs,
    /// Categories to run (comma-separated): security, code-quality, accessibility, performance.
    #[arg(long, value_delimiter = ',', env = "LIVESCAN_CATEGORIES")]
    categories: Vec<String>,
    /// Specific tools to run (comma-separated); overrides --categories.
    #[arg(long, value_delimiter = ',', env = "LIVESCAN_TOOLS")]
    tools: Vec<String>,
    /// Tools to leave out (comma-separated).
    #[arg(long, value_delimiter = ',', env = "LIVESCAN_EXCLUDE_TOOLS")]
    exclude_tools: Vec<String>,
    /// Max milliseconds per tool.
    #[arg(long, env = "LIVESCAN_TIMEOUT")]
    timeout: Option<u64>,
    /// Tools of this scan running at once.
    #[arg(long, env = "LIVESCAN_MAX_CONCURRENT")]
    max_concurrent: Option<u64>,
    /// Scan settings to use instead of the `livescan.toml` at the
    /// directory's root: tools, excluded paths, severity overrides and
    /// suppressions (see the README's "livescan.toml").
    #[arg(long, env = "LIVESCAN_CONFIG")]
    config: Option<PathBuf>,
    /// Compare with an earlier scan: a session id on --server (sess-…), or
    /// a `--format json` or `--format sarif` file. Findings are marked new
    /// or unchanged, and `new:` rules of --fail-on count the new ones.
    #[arg(long, env = "LIVESCAN_BASELINE")]
    baseline: Option<String>,
    /// Exit 1 when any rule is crossed, e.g. `critical>0,high>5`, or only
    /// findings the --baseline lacks: `new:critical>0,new:high>0`; `none`
    /// never fails.
    #[arg(long, default_value = "critical>0,high>5", env = "LIVESCAN_FAIL_ON")]
    fail_on: FailOn,
    /// With --server: send the directory's path for the server to open
    /// (it must see this filesystem, inside its scan roots) instead of
    /// uploading the directory's files.
    #[arg(long, requires = "server", env = "LIVESCAN_SERVER_PATH")]
    server_path: bool,
    /// With --server: follow the scan by polling the REST API instead of
    /// having reports pushed over gRPC (same output).
    #[arg(long, requires = "server", env = "LIVESCAN_POLL")]
    poll: bool,
    /// How often --poll asks, e.g. `5s`, `500ms`.
    #[arg(long, default_value = "5s", value_parser = parse_interval, requires = "poll", env = "LIVESCAN_POLL_INTERVAL")]
    poll_interval: Duration,
    /// The report's format: `text` (the live console lines), `json` (the
    /// whole scan, in the REST API's spelling) or `sarif` (SARIF 2.1.0).
    /// With json or sarif and no --output, the document goes to stdout and
    /// the live lines to stderr.
    #[arg(long, value_enum, default_value_t = Format::Text, env = "LIVESCAN_FORMAT")]
    format: Format,
    /// With --format sarif: `one` run whose driver is livescan (what GitHub
    /// code scanning accepts) or a run `per-tool`.
    #[arg(long, default_value = "one", value_parser = |raw: &str| raw.parse::<sarif::Runs>(), env = "LIVESCAN_SARIF_RUNS")]
    sarif_runs: sarif::Runs,
    /// With --format sarif: one result per issue of the analysis (the
    /// findings of several tools about one problem merged), the tools that
    /// saw it in its properties.
    #[arg(long, conflicts_with = "sarif_runs", env = "LIVESCAN_SARIF_MERGE")]
    sarif_merge: bool,
    /// Write the report into this file (replaced only once the scan has
    /// finished); the live lines still show on stdout.
    #[arg(long, env = "LIVESCAN_OUTPUT")]
    output: Option<PathBuf>,
}

/// How the server writes its log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
}

/// Where `/metrics` is served when not on the main address.
#[derive(Clone, Copy, Debug)]
enum MetricsListen {
    Off,
    At(SocketAddr),
}

fn parse_metrics_listen(raw: &str) -> Result<MetricsListen, String> {
    if raw == "off" {
        return Ok(MetricsListen::Off);
    }
    raw.parse()
        .map(MetricsListen::At)
        .map_err(|_| format!("`{raw}` is neither an address like 127.0.0.1:9090 nor `off`"))
}

/// A size in MiB that fits in a count of bytes: up to 1 PiB.
fn mebibytes() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(..=1 << 30)
}

/// A timeout or an interval (`5s`, `500ms`, `1m`; a number alone is
/// seconds), at least 100ms.
fn parse_interval(raw: &str) -> Result<Duration, String> {
    let interval = duration::parse(raw, BareNumber::Seconds)?;
    if interval < Duration::from_millis(100) {
        return Err(format!(
            "`{raw}` is shorter than the 100ms the server is glad to answer"
        ));
    }
    Ok(interval)
}

/// `--lease`: at least a second, as it is renewed every third of it (at
/// most every second): a shorter one would pass a node's sessions to
/// another at its first slow query.
fn parse_lease(raw: &str) -> Result<Duration, String> {
    let lease = parse_interval(raw)?;
    if lease < Duration::from_secs(1) {
        return Err(format!(
            "`{raw}` is shorter than a lease may be (1s): renewed every third of it, it would pass this node's sessions to another at the first slow query"
        ));
    }
    Ok(lease)
}

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's own convention).
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::Worker(_)) {
        // A command whose output is piped into `head` ends quietly when the
        // reader goes, as Unix tools do (Rust ignores SIGPIPE, so writes
        // would fail and print! panic). Sockets are unaffected: Rust sends
        // with MSG_NOSIGNAL. The server keeps ignoring it.
        // SAFETY: restoring a signal's default disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // The server logs its work; the console commands keep stderr for problems.
    // RUST_LOG replaces the default filter (see the README).
    let (default_filter, format) = match &cli.command {
        Command::Serve(args) => ("info,sqlx=warn,tower_http=warn", args.node.log_format),
        Command::Worker(args) => ("info,sqlx=warn", args.node.log_format),
        Command::Scan(_)
        | Command::Tools(_)
        | Command::Keys(_)
        | Command::Credits(_)
        | Command::Advisories(_)
        | Command::Completions { .. }
        | Command::Man { .. } => ("warn", LogFormat::Text),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // One JSON object per line, with the fields of every enclosing span
        // (request id, session, tool), for log collectors.
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs
            .with_ansi(cli::console::colours_wanted(std::io::stderr().is_terminal()))
            .init(),
    }
    // A tool that panics becomes a failed report; log the panic as one line
    // instead of letting it spill a backtrace over the console.
    std::panic::set_hook(Box::new(|panic| tracing::error!("{panic}")));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await.map(|()| ExitCode::SUCCESS),
            Command::Worker(args) => worker(args).await.map(|()| ExitCode::SUCCESS),
            Command::Scan(args) => scan(args).await,
            Command::Tools(args) => {
                if args.markdown {
                    print!("{}", livescan::tools::listing::readme());
                    return Ok(ExitCode::SUCCESS);
                }
                let catalog = args.tools.catalog();
                // A process of its own has no tool whose circuit is open.
                let infos = livescan::engine::tool_infos(
                    &catalog,
                    &Default::default(),
                    &past_runs(&args.data_dir).await,
                );
                if args.json {
                    println!("{:#}", livescan::api::rest::tools_document(&infos));
                } else {
                    print!("{}", cli::tools::table(&infos));
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Keys(command) => cli::keys::keys(command).await.map(|()| ExitCode::SUCCESS),
            Command::Credits(command) => cli::keys::credits(command).await.map(|()| ExitCode::SUCCESS),
            Command::Advisories(command) => advisories(command).await,
            Command::Completions { shell } => {
                let mut command = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(shell, &mut command, "livescan", &mut std::io::stdout());
                Ok(ExitCode::SUCCESS)
            }
            Command::Man { subcommand } => {
                let mut page = <Cli as clap::CommandFactory>::command();
                if let Some(name) = subcommand {
                    let Some(sub) = page.find_subcommand(&name).cloned() else {
                        anyhow::bail!("`{name}` is not a livescan subcommand; `livescan --help` lists them");
                    };
                    page = sub
                        .name(format!("livescan-{name}"))
                        .version(env!("CARGO_PKG_VERSION"));
                }
                clap_mangen::Man::new(page).render(&mut std::io::stdout())?;
                Ok(ExitCode::SUCCESS)
            }
        }
    });
    // Do not wait for tools still running in blocking threads.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result.unwrap_or_else(|err| {
        eprintln!("livescan: {err:#}");
        ExitCode::from(2)
    })
}

/// The tools' past runs stored in `data_dir`, when it holds a database;
/// none (said on stderr) when it cannot be read.
async fn past_runs(data_dir: &DataDir) -> std::collections::BTreeMap<String, livescan::store::ToolRuns> {
    use livescan::store::Store;
    if !data_dir.database().is_file() {
        return Default::default();
    }
    let runs = match data_dir.open_store().await {
        Ok(store) => store.tool_runs().await.map_err(anyhow::Error::from),
        Err(err) => Err(err),
    };
    runs.unwrap_or_else(|err| {
        eprintln!("livescan: past runs left out: {err:#}");
        Default::default()
    })
}

async fn advisories(command: AdvisoriesCommand) -> Result<ExitCode> {
    use livescan::tools::native::advisories::{ECOSYSTEMS, refresh};
    let AdvisoriesCommand::Refresh {
        into,
        source,
        ecosystems,
    } = command;
    let ecosystems: Vec<String> = if ecosystems.is_empty() {
        ECOSYSTEMS.iter().map(|e| e.to_string()).collect()
    } else {
        ecosystems
    };
    if let Some(unknown) = ecosystems.iter().find(|e| !ECOSYSTEMS.contains(&e.as_str())) {
        eprintln!(
            "livescan: --ecosystems: `{unknown}` is not one livescan reads ({})",
            ECOSYSTEMS.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    for ecosystem in &ecosystems {
        eprintln!(
            "{ecosystem}: downloading {}/{ecosystem}/all.zip",
            source.trim_end_matches('/')
        );
        match refresh(&source, &into, std::slice::from_ref(ecosystem)).await {
            Ok(done) => {
                for refreshed in done {
                    println!("{}: {} advisories", refreshed.ecosystem, refreshed.advisories);
                }
            }
            Err(reason) => {
                eprintln!("livescan: {reason}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    println!("Use them with: livescan serve --advisory-db {}", into.display());
    Ok(ExitCode::SUCCESS)
}

impl NodeArgs {
    /// Makes the data directory private and takes its lock, held while the
    /// node runs: one process per data directory, as a second one would
    /// end the first one's scanner processes and run its sessions twice.
    fn take_data_dir(&self) -> Result<std::fs::File> {
        let data_dir = &self.database.data_dir;
        data_dir.prepare()?;
        let lock_path = data_dir.path.join("livescan.lock");
        let lock = std::fs::File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.try_lock().map_err(|_| {
            anyhow::anyhow!(
                "another livescan server is using the data directory {}",
                data_dir.path.display()
            )
        })?;
        Ok(lock)
    }

    fn scan_roots(&self) -> Result<Vec<PathBuf>> {
        let roots = if self.scan_roots.is_empty() {
            vec![std::env::current_dir()?]
        } else {
            self.scan_roots.clone()
        };
        roots
            .iter()
            .map(|root| {
                std::fs::canonicalize(root)
                    .with_context(|| format!("scan root {} does not exist", root.display()))
            })
            .collect()
    }

    /// Where uploads are received and fetched to be unpacked.
    fn uploads_dir(&self) -> Result<PathBuf> {
        Ok(std::path::absolute(&self.database.data_dir.path)?.join("uploads"))
    }

    /// How this node's engine runs tools.
    fn engine_config(&self, scan_roots: &[PathBuf]) -> Result<EngineConfig> {
        // Absolute, because scanners run in other directories; and never
        // scanned, whatever the target (see `TargetPolicy::excluded`).
        let data_dir_abs = std::path::absolute(&self.database.data_dir.path)?;
        let mut workspace = livescan::tools::Workspace::for_data_dir(&data_dir_abs);
        workspace.child_memory = (self.tool_memory_mb > 0).then(|| self.tool_memory_mb * 1024 * 1024);
        let mut config = EngineConfig::new(
            TargetPolicy {
                scan_roots: scan_roots.to_vec(),
                allow_private: self.allow_private_targets,
                excluded: vec![data_dir_abs],
            },
            workspace,
        );
        config.global_concurrency = self.max_running_tools.max(1);
        config.max_findings_per_report = self.max_findings_per_report.max(1);
        if let (Some(url), Some(model)) = (&self.llm_url, &self.llm_model) {
            url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| anyhow::anyhow!("--llm-url: `{url}` is not an http(s) URL"))?;
            config.narrator = Some(livescan::engine::narrative::NarratorConfig {
                url: url.clone(),
                model: model.clone(),
                api_key: std::env::var("LIVESCAN_LLM_API_KEY")
                    .ok()
                    .filter(|k| !k.is_empty()),
                timeout: self.llm_timeout,
            });
        }
        for path in &self.ca_certs {
            use rustls::pki_types::{CertificateDer, pem::PemObject};
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| anyhow::anyhow!("--ca-cert {}: {e}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("--ca-cert {}: no PEM certificate in the file", path.display());
            }
            config.extra_roots.extend(certs);
        }
        Ok(config)
    }

    /// Opens the store: the shared PostgreSQL database, or the data
    /// directory's SQLite file.
    async fn open_store(&self) -> Result<NodeStore> {
        match self.database.open_shared().await? {
            Some(shared) => Ok(NodeStore::Shared(shared)),
            None if self.max_running_tools == 0 => anyhow::bail!(
                "--workers 0 runs no tools, which only a node of a cluster may do: give --database-url, and run `livescan worker` nodes"
            ),
            None => Ok(NodeStore::Own(Arc::new(
                self.database.data_dir.open_store().await?,
            ))),
        }
    }
}

/// A node's store: the database a cluster shares, or its own.
enum NodeStore {
    Shared(Arc<livescan::store::PostgresStore>),
    Own(Arc<livescan::store::SqliteStore>),
}

impl NodeStore {
    fn store(&self) -> Arc<dyn livescan::store::Store> {
        match self {
            NodeStore::Shared(store) => store.clone(),
            NodeStore::Own(store) => store.clone(),
        }
    }

    /// The engine on this store: one node of a cluster (running tools
    /// unless `args` gives it none), or the only node.
    async fn engine(&self, args: &NodeArgs, config: EngineConfig) -> Result<Engine> {
        let catalog = args.tools.catalog();
        Ok(match self {
            NodeStore::Shared(store) => {
                let cluster = livescan::engine::ClusterConfig::new(
                    args.lease,
                    args.max_running_tools > 0,
                    args.llm_timeout,
                );
                tracing::info!(node = %cluster.node, runs_tools = cluster.runs_tools, lease = ?cluster.lease, "joining the cluster");
                Engine::open_shared(store.clone(), catalog, config, cluster).await?
            }
            NodeStore::Own(store) => Engine::open(store.clone(), catalog, config).await?,
        })
    }
}

/// Waits for SIGTERM or SIGINT, then stops `engine` within `timeout`.
async fn run_until_signalled(engine: &Engine, timeout: Duration) -> Result<()> {
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(stop_on_signals(stop.clone())?);
    stop.cancelled().await;
    tracing::info!(
        ?timeout,
        "stopping: running tools stop; unfinished sessions resume on another node or at the next start"
    );
    if tokio::time::timeout(timeout, engine.shutdown()).await.is_err() {
        tracing::warn!(
            running_sessions = engine.running_sessions(),
            "--shutdown-timeout passed; stopping now"
        );
    }
    Ok(())
}

async fn worker(args: WorkerArgs) -> Result<()> {
    let node = &args.node;
    if node.database.database_url.as_deref().is_none_or(str::is_empty) {
        anyhow::bail!(
            "livescan worker runs sessions for a cluster: give --database-url (or DATABASE_URL) naming the PostgreSQL database its `serve` nodes use"
        );
    }
    if node.max_running_tools == 0 {
        anyhow::bail!("--concurrency must be at least 1: a worker that runs no tools has nothing to do");
    }
    let lock = node.take_data_dir()?;
    let scan_roots = node.scan_roots()?;
    let mut config = node.engine_config(&scan_roots)?;
    // It unpacks the uploads that `serve` nodes took and keeps in the
    // database; they alone remove unused ones, by their own retention.
    config.uploads = Some(UploadConfig {
        dir: node.uploads_dir()?,
        limits: UploadLimits::default(),
        sweep: false,
    });
    let store = node.open_store().await?;
    let engine = store.engine(node, config).await?;
    tracing::info!(
        database = %node.database.describe(),
        scan_roots = ?scan_roots,
        concurrency = node.max_running_tools,
        "livescan worker is running sessions"
    );
    run_until_signalled(&engine, node.shutdown_timeout).await?;
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    if !(args.rate_limit >= 0.0 && args.rate_limit.is_finite()) || args.rate_burst == 0 {
        anyhow::bail!("--rate-limit must be 0 or more and --rate-burst at least 1");
    }
    let node = &args.node;
    let lock = node.take_data_dir()?;
    let scan_roots = node.scan_roots()?;
    let mut config = node.engine_config(&scan_roots)?;
    // Listen before resuming anything, so a taken port fails before any work starts.
    let listener =
        livescan::api::bind(args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    let store = node.open_store().await?;
    let data_dir = &node.database.data_dir;
    let (key_path, created) = cli::keys::ensure_local_key(&*store.store(), data_dir).await?;
    if created {
        tracing::info!(path = %key_path.display(), "created an API key for the local account; `livescan scan --server` uses it by itself");
    }
    config.uploads = Some(UploadConfig {
        dir: node.uploads_dir()?,
        limits: UploadLimits {
            archive_bytes: args.upload_max_mb << 20,
            unpacked_bytes: args.upload_max_unpacked_mb << 20,
            files: args.upload_max_files,
            quota_bytes: args.upload_quota_mb << 20,
            retention: args.upload_retention,
            ..UploadLimits::default()
        },
        sweep: true,
    });
    config.rate_limit = (args.rate_limit > 0.0).then_some(RateLimit {
        per_second: args.rate_limit,
        burst: args.rate_burst,
    });
    let engine = store.engine(node, config).await?;
    let address = listener.local_addr()?;
    tracing::info!(
        %address,
        database = %node.database.describe(),
        local_key = %key_path.display(),
        scan_roots = ?scan_roots,
        allow_private_targets = node.allow_private_targets,
        "livescan is serving REST and gRPC on http://{address}"
    );
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(stop_on_signals(stop.clone())?);
    let limits = livescan::api::Limits {
        idle_timeout: args.idle_timeout,
        connections_per_peer: args.max_connections_per_peer,
        ..livescan::api::Limits::default()
    };
    let app = match args.metrics_listen {
        None => livescan::api::app(engine.clone()),
        Some(MetricsListen::Off) => livescan::api::app_without_metrics(engine.clone()),
        Some(MetricsListen::At(address)) => {
            let metrics_listener = livescan::api::bind(address)
                .with_context(|| format!("--metrics-listen: cannot listen on {address}"))?;
            tracing::info!(address = %metrics_listener.local_addr()?, "serving /metrics");
            let metrics = livescan::api::metrics_app();
            let stopped = stop.clone().cancelled_owned();
            tokio::spawn(livescan::api::serve_with(
                metrics_listener,
                metrics,
                limits.clone(),
                stopped,
            ));
            livescan::api::app_without_metrics(engine.clone())
        }
    };
    let serving = tokio::spawn(livescan::api::serve_with(
        listener,
        app,
        limits,
        stop.clone().cancelled_owned(),
    ));
    stop.cancelled().await;
    tracing::info!(
        timeout = ?node.shutdown_timeout,
        "shutting down: no new connections, streams end, running tools stop; unfinished sessions resume on another node or at the next start"
    );
    let stopped = tokio::time::timeout(node.shutdown_timeout, async {
        engine.shutdown().await;
        serving.await
    })
    .await;
    match stopped {
        Ok(served) => served??,
        Err(_) => tracing::warn!(
            running_sessions = engine.running_sessions(),
            "--shutdown-timeout passed; stopping now"
        ),
    }
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM (what systemd, Docker and Kubernetes send) or SIGINT,
/// then fires `stop`; a second signal ends the process at once.
fn stop_on_signals(
    stop: tokio_util::sync::CancellationToken,
) -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        for round in 0..2 {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            if round == 0 {
                stop.cancel();
            } else {
                tracing::warn!("second signal: stopping at once");
                std::process::exit(130);
            }
        }
    })
}

async fn scan(args: ScanArgs) -> Result<ExitCode> {
    let mut options = ScanOptions {
        target: args.target,
        categories: args.categories,
        tools: args.tools,
        exclude_tools: args.exclude_tools,
        timeout: args.timeout,
        max_concurrent: args.max_concurrent,
        upload: None,
        config: match &args.config {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("--config: cannot read {}", path.display()))?,
            ),
            None => None,
        },
    };
    if let Some(text) = &options.config {
        // Checked here too, so a typo fails before anything is packed or sent.
        livescan::model::RepoConfig::parse(text).map_err(|e| anyhow::anyhow!("--config: {e}"))?;
    }
    if args.sarif_merge && args.format != Format::Sarif {
        anyhow::bail!("--sarif-merge: only with --format sarif");
    }
    if args.fail_on.counts_new() && args.baseline.is_none() {
        anyhow::bail!("--fail-on {}: `new:` rules need --baseline", args.fail_on);
    }
    let baseline = match &args.baseline {
        Some(spec) => {
            let key = cli::keys::client_key(args.api_key.clone(), &args.data_dir);
            Some(cli::baseline::Baseline::load(spec, args.server.as_deref(), key.as_deref()).await?)
        }
        None => None,
    };
    // The report file is written beside its final place and moved there at
    // the end, so a scan that breaks off leaves no half-written report.
    let report_file = args
        .output
        .as_deref()
        .map(|path| {
            let dir = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => std::path::Path::new("."),
            };
            tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("--output: cannot write into {}", dir.display()))
        })
        .transpose()?;
    // A JSON or SARIF document on stdout moves the live lines to stderr.
    let document_on_stdout = args.format != Format::Text && report_file.is_none();
    let mut consoles = vec![Console::terminal(document_on_stdout)];
    if let (Format::Text, Some(file)) = (args.format, &report_file) {
        consoles.push(Console::plain(Box::new(file.reopen()?)));
    }
    let mut output = ScanOutput::new(consoles);
    let mut report = match &args.server {
        Some(server) => {
            let key = cli::keys::client_key(args.api_key, &args.data_dir);
            if !options.is_url() && !args.server_path {
                let dir = std::path::absolute(&options.target)?;
                if !dir.is_dir() {
                    anyhow::bail!("`{}` is not a directory here", options.target);
                }
                let private = &args.data_dir.path;
                options.upload = Some(cli::pack::upload(server, key.as_deref(), &dir, private).await?);
            }
            if args.poll {
                cli::scan::polled(server, key, &options, args.poll_interval, &mut output).await?
            } else {
                cli::scan::remote(server, key, &options, &mut output).await?
            }
        }
        None => {
            let catalog = args.tool_args.catalog();
            cli::scan::in_process(&options, catalog, &args.data_dir.path, &mut output).await?
        }
    };
    if let Some(baseline) = &baseline {
        report.compare(baseline);
        if let Some(new) = &report.summary.new_by_severity {
            output.show(&Update::NewSinceBaseline(new));
        }
    }
    report.failed_on = args.fail_on.crossed(&report.summary);
    output.show(&Update::Verdict {
        rules: &args.fail_on.to_string(),
        crossed: &report.failed_on,
    });
    let document = match args.format {
        Format::Text => None,
        Format::Json => Some(report.json()),
        Format::Sarif => Some(report.sarif(args.sarif_runs, args.sarif_merge)?),
    };
    drop(output);
    match (report_file, document) {
        (Some(mut file), document) => {
            let path = args.output.as_deref().expect("a report file comes from --output");
            if let Some(document) = document {
                file.write_all(document.as_bytes())?;
            }
            // A temporary file is private (0600); a report is not.
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o666 & !current_umask()))
                .with_context(|| format!("--output: cannot write {}", path.display()))?;
            file.persist(path)
                .with_context(|| format!("--output: cannot write {}", path.display()))?;
        }
        (None, Some(document)) => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(document.as_bytes())?;
            stdout.flush()?;
        }
        (None, None) => {}
    }
    if !report.failed_on.is_empty() {
        return Ok(ExitCode::from(1));
    }
    if report.status == livescan::model::SessionStatus::Failed {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// The process's file-creation mask (read by setting it, then set back).
fn current_umask() -> u32 {
    // SAFETY: umask only swaps the process's mask; no memory is involved.
    let mask = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(mask) };
    mask
}
