//! The tool catalog: the `Tool` trait every scanner implements, the context a
//! run receives (target, deadline, cancellation, finding sink), and adapters
//! that turn per-file and per-page checks into tools.
//!
//! Native tools are Rust analyzers; external tools are scanners run as
//! child processes, described by data files ([`external`]).
//!
//! A directory is walked once per session ([`inventory::Inventory`]) and every
//! directory tool reads that inventory; URL tools fetch through one
//! [`fetch::Fetcher`] that enforces the target address policy.

pub mod browser;
pub mod external;
pub mod fetch;
mod file_checks;
pub mod inventory;
pub mod listing;
pub mod native;
pub mod origin;
pub mod redact;
pub mod workspace;

use crate::model::{Category, Ecosystem, Finding, Metric, Omitted, RuleInfo, Scanner, TargetKind};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub use fetch::{FetchError, Fetcher, Page, Pages};
pub(crate) use file_checks::panic_text;
pub use file_checks::{FileCheck, FilePass, FileTool};
pub use inventory::{FileEntry, Inventory, LeftOut};
pub use origin::Origin;
pub use workspace::Workspace;

/// What a tool is, independent of any run.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    /// Stable identifier used in requests and reports (`secrets`, `http-headers`).
    pub id: &'static str,
    pub category: Category,
    /// What it looks at: a language, a kind of file, or web sites.
    pub ecosystem: Ecosystem,
    /// The target kinds this tool can scan.
    pub targets: &'static [TargetKind],
    /// Credits one run of this tool costs.
    pub cost: u32,
    /// One line on what it finds.
    pub summary: &'static str,
}

impl ToolSpec {
    pub fn applies_to(&self, kind: TargetKind) -> bool {
        self.targets.contains(&kind)
    }
}

/// Whether a tool can run on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Available,
    Unavailable { reason: String, install_hint: String },
}

/// The target as tools see it: a walked directory, or the URLs to check.
#[derive(Clone, Debug)]
pub enum ToolTarget {
    Directory(Arc<Inventory>),
    Urls(Vec<String>),
}

/// Findings a report keeps by default; the rest are counted ([`Omitted`]).
pub const DEFAULT_MAX_FINDINGS: usize = 1000;

/// Collects findings (and measurements) as a tool produces them, so the
/// ones found before a deadline or cancellation are kept. Memory stays
/// bounded whatever the tool emits: every field is cut to its bound, and
/// past twice the cap the worst `cap` findings are kept and the rest only
/// counted.
#[derive(Clone, Debug)]
pub struct FindingSink {
    collected: Arc<Mutex<Collected>>,
    metrics: Arc<Mutex<Vec<Metric>>>,
    read: Arc<Read>,
    about: Arc<Mutex<About>>,
}

/// What a tool said about itself while it ran: its rules, its program.
#[derive(Debug, Default)]
struct About {
    rules: BTreeMap<String, RuleInfo>,
    scanner: Option<Scanner>,
}

/// What a directory tool read: files and bytes of text, reported beside its
/// findings so a slow tool shows what it was slow on.
#[derive(Debug, Default)]
struct Read {
    files: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Debug)]
struct Collected {
    findings: Vec<Finding>,
    cap: usize,
    omitted: Omitted,
}

impl Collected {
    /// Keeps the worst `cap` findings and counts the rest.
    fn shrink(&mut self) {
        if self.findings.len() <= self.cap {
            return;
        }
        self.findings.sort_by(Finding::report_order);
        for dropped in self.findings.drain(self.cap..) {
            self.omitted.count_finding(&dropped);
        }
    }
}

impl Default for FindingSink {
    fn default() -> Self {
        Self::with_cap(DEFAULT_MAX_FINDINGS)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl FindingSink {
    /// A sink that keeps at most `cap` findings (at least one).
    pub fn with_cap(cap: usize) -> Self {
        FindingSink {
            collected: Arc::new(Mutex::new(Collected {
                findings: Vec::new(),
                cap: cap.max(1),
                omitted: Omitted::default(),
            })),
            metrics: Arc::default(),
            read: Arc::default(),
            about: Arc::default(),
        }
    }

    /// An empty sink with this one's cap.
    pub fn empty_like(&self) -> Self {
        Self::with_cap(lock(&self.collected).cap)
    }

    /// Moves everything `other` holds into this sink: findings, omitted
    /// counts, measurements, reads, rules and program.
    pub fn absorb(&self, other: &FindingSink) {
        self.extend(other.take());
        lock(&self.collected).omitted.add(&other.take_omitted());
        self.measure(std::mem::take(&mut *lock(&other.metrics)));
        for (mine, theirs) in [
            (&self.read.files, &other.read.files),
            (&self.read.bytes, &other.read.bytes),
        ] {
            mine.fetch_add(theirs.swap(0, Ordering::Relaxed), Ordering::Relaxed);
        }
        let (rules, scanner) = other.take_about();
        self.describe_rules(rules.into_values());
        if let Some(scanner) = scanner {
            self.ran(scanner);
        }
    }

    /// Records what the tool says about its rules (the first word on each wins).
    pub fn describe_rules(&self, rules: impl IntoIterator<Item = RuleInfo>) {
        let mut about = lock(&self.about);
        for mut rule in rules {
            rule.bound_fields();
            about.rules.entry(rule.id.clone()).or_insert(rule);
        }
    }

    /// Records the external program that ran.
    pub fn ran(&self, scanner: Scanner) {
        lock(&self.about).scanner = Some(scanner);
    }

    /// The rules described and the program recorded.
    pub fn take_about(&self) -> (BTreeMap<String, RuleInfo>, Option<Scanner>) {
        let mut about = lock(&self.about);
        (std::mem::take(&mut about.rules), about.scanner.take())
    }

    pub fn extend(&self, findings: impl IntoIterator<Item = Finding>) {
        let mut collected = lock(&self.collected);
        for mut finding in findings {
            finding.bound_fields();
            collected.findings.push(finding);
            if collected.findings.len() >= collected.cap.saturating_mul(2) {
                collected.shrink();
            }
        }
    }

    /// The kept findings, at most the cap, worst first.
    pub fn take(&self) -> Vec<Finding> {
        let mut collected = lock(&self.collected);
        collected.shrink();
        std::mem::take(&mut collected.findings)
    }

    /// The findings counted but not kept (call after [`FindingSink::take`]).
    pub fn take_omitted(&self) -> Omitted {
        std::mem::take(&mut lock(&self.collected).omitted)
    }

    pub fn measure(&self, metrics: impl IntoIterator<Item = Metric>) {
        lock(&self.metrics).extend(metrics);
    }

    /// Counts one file of `bytes` as read by the tool.
    pub fn read(&self, bytes: usize) {
        self.read.files.fetch_add(1, Ordering::Relaxed);
        self.read.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The measurements, with the files and bytes read when any were.
    pub fn take_metrics(&self) -> Vec<Metric> {
        let mut metrics = std::mem::take(&mut *lock(&self.metrics));
        let files = self.read.files.swap(0, Ordering::Relaxed);
        let bytes = self.read.bytes.swap(0, Ordering::Relaxed);
        if files > 0 {
            for (name, value) in [("files read", files), ("bytes read", bytes)] {
                metrics.push(Metric {
                    name: name.into(),
                    value: value.to_string(),
                    url: None,
                });
            }
        }
        metrics
    }
}

/// Everything one run of one tool receives.
pub struct ToolContext {
    pub target: ToolTarget,
    /// When the run's time is up; the engine cancels `cancel` at that instant.
    pub deadline: Instant,
    /// Cancelled on deadline or when the session is cancelled. Long loops check it.
    pub cancel: CancellationToken,
    pub findings: FindingSink,
    /// The session's pages: each URL fetched once, shared by every URL tool.
    pub pages: Arc<Pages>,
    /// Where the run may make private directories (a scanner's home, the
    /// session's view of a directory target), and how its child processes
    /// are limited and tagged.
    pub workspace: Arc<Workspace>,
    /// What the session's tools share besides pages: which tools it runs,
    /// and runs that several of them share.
    pub shared: Arc<SharedRuns>,
    /// The share of the server's capacity this run holds.
    pub capacity: Capacity,
}

/// What the tools of one session share: the ids of the tools it runs, and a
/// value per key that the first tool to ask makes (one eslint process for
/// every eslint tool of the session, say).
#[derive(Default)]
pub struct SharedRuns {
    selected: std::collections::HashSet<String>,
    /// Keyed by type and name, so a value is always of its key's type.
    values:
        Mutex<std::collections::HashMap<(std::any::TypeId, String), Arc<dyn std::any::Any + Send + Sync>>>,
}

impl SharedRuns {
    /// For a session that runs `selected`.
    pub fn new(selected: impl IntoIterator<Item = String>) -> Arc<SharedRuns> {
        Arc::new(SharedRuns {
            selected: selected.into_iter().collect(),
            values: Mutex::default(),
        })
    }

    /// Whether the session runs the tool `id`.
    pub fn selects(&self, id: &str) -> bool {
        self.selected.contains(id)
    }

    /// The session's value under `key`, made on first use.
    pub fn value<T: Default + Send + Sync + 'static>(&self, key: &str) -> Arc<T> {
        let mut values = lock(&self.values);
        let value = values
            .entry((std::any::TypeId::of::<T>(), key.to_string()))
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("values are keyed by their type"))
    }
}

/// One session's run of work that several of its tools share (kept in
/// [`SharedRuns`] under a key of theirs): the first of them to ask makes
/// it; the others give their capacity back and wait for it. If the one
/// making it is stopped, the next to ask makes it again, without capacity
/// of its own, which is no more than a run of its own would take.
pub struct SharedWork<T> {
    /// Whether one of the tools has started making it.
    started: std::sync::atomic::AtomicBool,
    made: tokio::sync::OnceCell<T>,
}

impl<T> Default for SharedWork<T> {
    fn default() -> Self {
        SharedWork {
            started: Default::default(),
            made: Default::default(),
        }
    }
}

impl<T> SharedWork<T> {
    /// What `make` made, made by the first run to ask; a cancel of the
    /// asking run wins over the wait.
    pub async fn get<F, Fut>(&self, ctx: &ToolContext, make: F) -> Result<&T, ToolError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ToolError>>,
    {
        if self.started.swap(true, Ordering::SeqCst) {
            ctx.capacity.release();
        }
        tokio::select! {
            made = self.made.get_or_try_init(make) => made,
            () = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }
}

/// The capacity a tool run holds (its session's permit and its weight of
/// the server's slots), given back when the run ends or earlier, when it
/// only waits on work another run does.
#[derive(Clone, Default)]
pub struct Capacity(Arc<Mutex<Option<Box<dyn Send>>>>);

impl Capacity {
    /// Capacity held by `guard` until it is released.
    pub fn holding(guard: impl Send + 'static) -> Capacity {
        Capacity(Arc::new(Mutex::new(Some(Box::new(guard)))))
    }

    /// Gives the capacity back; later calls do nothing.
    pub fn release(&self) {
        let guard = lock(&self.0).take();
        drop(guard);
    }
}

impl ToolContext {
    /// The session's page at `url`; a fetch failure fails the run, and a
    /// cancel wins over a slow answer.
    pub async fn page(&self, url: &str) -> Result<Arc<Page>, ToolError> {
        tokio::select! {
            page = self.pages.get(url) => page.map_err(ToolError::from),
            () = self.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }

    /// The session's rendering of `url` by the browser; as for [`Self::page`].
    pub async fn rendered(
        &self,
        url: &str,
        setup: &browser::BrowserSetup,
    ) -> Result<Arc<browser::Rendered>, ToolError> {
        let rendering = self
            .pages
            .renderings
            .get(url, setup, &self.workspace, self.pages.fetcher());
        tokio::select! {
            rendered = rendering => rendered.map_err(ToolError::Failed),
            () = self.cancel.cancelled() => Err(ToolError::Cancelled),
        }
    }
}

/// Why a run did not complete normally.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{0}")]
    Failed(String),
    /// The target could not be reached or was refused (the address policy,
    /// DNS, a connection, TLS): the run failed, but through the target's
    /// fault, so it says nothing about the tool's health.
    #[error("{0}")]
    Target(String),
    #[error("cancelled")]
    Cancelled,
    #[error("target not supported by this tool")]
    UnsupportedTarget,
}

impl From<FetchError> for ToolError {
    fn from(err: FetchError) -> Self {
        ToolError::Target(err.to_string())
    }
}

/// A scanner. Implementations push findings into `ctx.findings` and return
/// `Ok(())` for a completed run; the engine owns deadlines, panics and reports.
pub trait Tool: Send + Sync + 'static {
    fn spec(&self) -> &ToolSpec;

    fn availability(&self) -> Availability {
        Availability::Available
    }

    /// The version a run would use, when known without running anything:
    /// a native analyzer is livescan's own; a scanner's is known once it
    /// has been asked.
    fn version(&self) -> Option<String> {
        Some(env!("CARGO_PKG_VERSION").to_string())
    }

    /// Whether the tool looks at files of this origin (directory targets):
    /// by default only at source files, not at vendored, generated,
    /// minified or binary ones.
    fn sees(&self, origin: Origin) -> bool {
        origin == Origin::Source
    }

    /// Whether a directory holds anything this tool looks at, judged from
    /// its inventory without reading files: a tool with nothing to analyse
    /// is skipped (and refunded) rather than run. By default, always.
    fn has_work(&self, _inventory: &Inventory) -> bool {
        true
    }

    /// How much of the server's capacity for running tools a run takes
    /// (see `engine::slots`): 1 for an analyzer in this process.
    fn weight(&self) -> usize {
        1
    }

    /// Whether this tool's `rule` prints a secret value in quotes in its
    /// messages, so [`redact`] hides every quoted value of it.
    fn quotes_secret(&self, _rule: &str) -> bool {
        false
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>>;
}

/// A check applied to each fetched page of a URL target.
pub trait PageCheck: Send + Sync + 'static {
    fn spec(&self) -> &ToolSpec;

    fn check(&self, page: &Page, out: &mut Vec<Finding>);

    /// Measurements of the page beside the findings (none by default).
    fn measure(&self, _page: &Page) -> Vec<Metric> {
        Vec::new()
    }
}

/// Fetches each URL of the target and runs a [`PageCheck`] on it. A URL that
/// cannot be fetched fails the run; findings for the pages before it are kept.
pub struct PageTool<C>(pub C);

impl<C: PageCheck> Tool for PageTool<C> {
    fn spec(&self) -> &ToolSpec {
        self.0.spec()
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        per_url(ctx, move |ctx, url| {
            let check = self.clone();
            async move {
                let page = ctx.page(&url).await?;
                let (found, metrics) = off_runtime(move || {
                    let mut found = Vec::new();
                    check.0.check(&page, &mut found);
                    (found, check.0.measure(&page))
                })
                .await?;
                ctx.findings.measure(metrics);
                Ok(found)
            }
        })
    }
}

/// A check of a page as the browser rendered it (see [`browser`]).
pub trait RenderedCheck: Send + Sync + 'static {
    fn spec(&self) -> &ToolSpec;

    /// What the check needs beside the browser and this machine lacks, if
    /// anything: the reason and how to install it.
    fn missing(&self, _setup: &browser::BrowserSetup) -> Option<(String, String)> {
        None
    }

    /// The page's findings; an `Err` (the check could not run on it)
    /// fails the run.
    fn check(&self, page: &browser::Rendered, out: &mut Vec<Finding>) -> Result<(), String>;

    /// Measurements of the page beside the findings (none by default).
    fn measure(&self, _page: &browser::Rendered) -> Vec<Metric> {
        Vec::new()
    }
}

/// Renders each URL of the target (once per session, shared by every
/// browser tool) and runs a [`RenderedCheck`] on it. A URL that cannot be
/// rendered fails the run; findings for the pages before it are kept.
pub struct RenderedTool<C> {
    pub check: C,
    pub setup: Arc<browser::BrowserSetup>,
}

impl<C: RenderedCheck> Tool for RenderedTool<C> {
    fn spec(&self) -> &ToolSpec {
        self.check.spec()
    }

    fn availability(&self) -> Availability {
        if self.setup.chromium.is_none() {
            return Availability::Unavailable {
                reason: "no Chromium on this machine".into(),
                install_hint:
                    "apt-get install chromium, or set LIVESCAN_CHROMIUM to a Chromium or Chrome executable"
                        .into(),
            };
        }
        match self.check.missing(&self.setup) {
            Some((reason, install_hint)) => Availability::Unavailable { reason, install_hint },
            None => Availability::Available,
        }
    }

    /// A browser and its renderers take far more than an analyzer.
    fn weight(&self) -> usize {
        2
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        per_url(ctx, move |ctx, url| {
            let tool = self.clone();
            async move {
                let page = ctx.rendered(&url, &tool.setup).await?;
                let (found, metrics) = off_runtime(move || {
                    let mut found = Vec::new();
                    let checked = tool.check.check(&page, &mut found);
                    checked.map(|()| (found, tool.check.measure(&page)))
                })
                .await?
                .map_err(ToolError::Failed)?;
                ctx.findings.measure(metrics);
                Ok(found)
            }
        })
    }
}

/// Runs `check` on each URL of the target in turn, keeping the findings
/// of every URL done when a cancel arrives.
pub fn per_url<F, Fut>(ctx: Arc<ToolContext>, check: F) -> BoxFuture<'static, Result<(), ToolError>>
where
    F: Fn(Arc<ToolContext>, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<Finding>, ToolError>> + Send,
{
    Box::pin(async move {
        let ToolTarget::Urls(urls) = &ctx.target else {
            return Err(ToolError::UnsupportedTarget);
        };
        for url in urls {
            let findings = tokio::select! {
                findings = check(ctx.clone(), url.clone()) => findings?,
                () = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
            };
            ctx.findings.extend(findings);
        }
        Ok(())
    })
}

/// The origins (scheme, host, port) of the target URLs, each once, in order.
pub fn origins(urls: &[String]) -> Vec<reqwest::Url> {
    let mut seen: Vec<reqwest::Url> = Vec::new();
    for raw in urls {
        let Ok(mut url) = reqwest::Url::parse(raw) else {
            continue;
        };
        url.set_path("/");
        url.set_query(None);
        url.set_fragment(None);
        if !seen.iter().any(|o| o.origin() == url.origin()) {
            seen.push(url);
        }
    }
    seen
}

/// One tool for both kinds of target, as two implementations sharing one
/// spec: the directory one runs on directories, the other on URLs.
pub struct ByTarget {
    pub directory: Arc<dyn Tool>,
    pub urls: Arc<dyn Tool>,
}

impl Tool for ByTarget {
    fn spec(&self) -> &ToolSpec {
        self.directory.spec()
    }

    fn has_work(&self, inventory: &Inventory) -> bool {
        self.directory.has_work(inventory)
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        match ctx.target {
            ToolTarget::Directory(_) => self.directory.clone().run(ctx),
            ToolTarget::Urls(_) => self.urls.clone().run(ctx),
        }
    }
}

/// Runs `analyse` over the session's whole directory inventory on a
/// blocking thread and keeps the findings it returns: for tools that look
/// at the tree as a whole rather than file by file (see [`FileTool`]).
/// `analyse` counts what it reads in the sink it is given.
pub(crate) async fn analyse_inventory(
    ctx: &ToolContext,
    analyse: impl FnOnce(&Inventory, &FindingSink) -> Result<Vec<Finding>, ToolError> + Send + 'static,
) -> Result<(), ToolError> {
    let ToolTarget::Directory(inventory) = ctx.target.clone() else {
        return Err(ToolError::UnsupportedTarget);
    };
    let sink = ctx.findings.clone();
    let findings = off_runtime(move || analyse(&inventory, &sink)).await??;
    ctx.findings.extend(findings);
    Ok(())
}

/// Runs CPU-bound analysis on a blocking thread, off the async workers that
/// serve clients. A panic inside is re-raised here, so the engine reports the
/// tool as crashed.
pub(crate) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ToolError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(ToolError::Cancelled),
    }
}

/// What the catalog needs to know about this machine.
#[derive(Clone, Debug, Default)]
pub struct CatalogOptions {
    /// A directory of OSV advisories for `vulnerable-dependencies`.
    pub advisory_db: Option<std::path::PathBuf>,
    /// Where external tools' commands are looked for before `PATH`.
    pub tool_dirs: Vec<std::path::PathBuf>,
}

/// Credits the analysis of a session's findings (`enableIntelligence`)
/// costs, listed with the catalog: one more pass over every finding,
/// priced like a light tool, and refunded when it is not made.
pub const ANALYSIS_COST: u32 = 1;
/// What the analysis is, where the catalog lists its cost.
pub const ANALYSIS_SUMMARY: &str =
    "The findings of every tool merged, ranked and graded (enableIntelligence); refunded when it is not made";

/// The set of tools a server offers, in a stable order.
#[derive(Clone, Default)]
pub struct Catalog {
    tools: Vec<Arc<dyn Tool>>,
}

impl Catalog {
    /// Every built-in tool, with default options.
    pub fn builtin() -> Self {
        Self::with_options(&CatalogOptions::default())
    }

    /// Every built-in tool, configured for this machine.
    pub fn with_options(options: &CatalogOptions) -> Self {
        let mut catalog = Catalog::default();
        for tool in native::all(options)
            .into_iter()
            .chain(external::all(&options.tool_dirs))
        {
            catalog.add(tool);
        }
        catalog
    }

    /// Adds a tool; a later tool with the same id replaces the earlier one.
    pub fn add(&mut self, tool: Arc<dyn Tool>) {
        let id = tool.spec().id;
        self.tools.retain(|t| t.spec().id != id);
        self.tools.push(tool);
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.iter().find(|t| t.spec().id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Tool>> {
        self.tools.iter()
    }

    pub fn ids(&self) -> Vec<&'static str> {
        self.tools.iter().map(|t| t.spec().id).collect()
    }
}
