//! Orchestration, independent of any wire protocol: starting, reading,
//! watching and cancelling sessions; scheduling tools under the per-session
//! and global caps; running each tool with a deadline and cancellation; and
//! resuming sessions that were running when the process stopped (in a
//! cluster, claiming the sessions this node runs: [`cluster`]); who is
//! calling (API keys, the per-key rate limit) and what they pay (credits are
//! reserved when a session starts and refunded when it ends).
//!
//! Every change goes through the store's event log first and is then
//! announced to watchers, so what clients see is always what is stored.

pub mod accounts;
pub mod breaker;
mod cluster;
pub mod error;
pub mod fingerprints;
pub mod metrics;
pub mod narrative;
pub mod plan;
mod rate_limit;
mod run;
pub mod slots;
mod states;
pub mod uploads;
pub mod watch;

pub use cluster::ClusterConfig;
pub use error::EngineError;
pub use plan::TargetPolicy;
pub use rate_limit::RateLimit;
pub use watch::WatchItem;

use crate::model::{
    Account, Event, EventKind, LedgerEntry, SessionListing, SessionMeta, SessionState, StartRequest, Target,
    TargetKind, Upload, time,
};
use crate::store::{SharedStore, Store, StoreError, events_after};
use crate::tools::{Availability, Catalog, Fetcher, Workspace};
use error::{MAX_ECHO_CHARS, bounded};
use futures::Stream;
use rand::Rng;
use rate_limit::RateLimiter;
use slots::FairSlots;
use states::StateCache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use watch::{Notifier, WatchParams};

pub const DEFAULT_LIST_LIMIT: u32 = 20;
pub const MAX_LIST_LIMIT: u32 = 100;
/// Ledger entries shown with an account.
pub const ACCOUNT_LEDGER_LIMIT: u32 = 50;

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub policy: TargetPolicy,
    /// Weight of tools running at once across all sessions (a native
    /// analyzer weighs 1, a scanner process more; see [`slots`]).
    pub global_concurrency: usize,
    /// How long a watch stream may stay silent before a heartbeat.
    pub heartbeat: Duration,
    /// Requests per API key; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Tool errors in a row that open a tool's circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit skips its tool before a trial run.
    pub breaker_cooldown: Duration,
    /// Findings a tool report keeps (the worst); the rest are counted.
    pub max_findings_per_report: usize,
    /// Certificate authorities URL targets may use besides the public web's.
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Where tool runs make their private directories (in a directory of
    /// `policy.excluded`, so no scan reads it) and how their children are
    /// limited and tagged. Reclaimed when the engine opens: what is there
    /// belonged to an earlier process.
    pub workspace: Workspace,
    /// Where uploaded archives are kept, and their limits; `None`: this
    /// engine takes no uploads (a scan run in the CLI's own process).
    pub uploads: Option<uploads::UploadConfig>,
    /// The language model that writes analyses' narratives, if any.
    pub narrator: Option<narrative::NarratorConfig>,
}

impl EngineConfig {
    pub fn new(policy: TargetPolicy, workspace: Workspace) -> Self {
        EngineConfig {
            workspace,
            uploads: None,
            narrator: None,
            policy,
            global_concurrency: slots::default_capacity(),
            heartbeat: Duration::from_secs(15),
            rate_limit: Some(RateLimit::default()),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(60),
            max_findings_per_report: crate::tools::DEFAULT_MAX_FINDINGS,
            extra_roots: Vec::new(),
        }
    }
}

/// One page of a caller's sessions, newest first.
pub struct SessionPage {
    pub sessions: Vec<(SessionMeta, SessionListing)>,
    /// How many sessions the caller has in all.
    pub total: u64,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next_before: Option<String>,
}

/// Who is asking. Every session belongs to one user and is visible only to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// The API key the caller presented; `None` for scans run in this process.
    pub key_id: Option<String>,
}

impl Caller {
    /// The local account, for scans run in this process.
    pub fn local() -> Self {
        Caller {
            user_id: accounts::LOCAL_USER.to_string(),
            key_id: None,
        }
    }
}

/// A catalog entry as the tool list shows it.
#[derive(Clone, Debug)]
pub struct ToolInfo {
    pub id: &'static str,
    pub category: crate::model::Category,
    pub ecosystem: crate::model::Ecosystem,
    pub targets: Vec<TargetKind>,
    pub availability: Availability,
    pub cost: u32,
    pub summary: &'static str,
    pub circuit: breaker::Circuit,
    /// The version a run uses: livescan's for a native analyzer; for a
    /// scanner, what it said when asked in this process, else what its
    /// last stored run said.
    pub version: Option<String>,
    /// Its past runs on this server, when it has run.
    pub runs: Option<crate::store::ToolRuns>,
}

/// `catalog` with each tool's availability here, its circuit (closed
/// unless in `circuits`) and its past `runs`.
pub fn tool_infos(
    catalog: &Catalog,
    circuits: &HashMap<String, breaker::Circuit>,
    runs: &std::collections::BTreeMap<String, crate::store::ToolRuns>,
) -> Vec<ToolInfo> {
    catalog
        .iter()
        .map(|tool| {
            let spec = tool.spec();
            ToolInfo {
                id: spec.id,
                category: spec.category,
                ecosystem: spec.ecosystem,
                targets: spec.targets.to_vec(),
                availability: tool.availability(),
                cost: spec.cost,
                summary: spec.summary,
                circuit: circuits.get(spec.id).copied().unwrap_or(breaker::Circuit::CLOSED),
                version: tool
                    .version()
                    .or_else(|| runs.get(spec.id).and_then(|r| r.version.clone())),
                runs: runs.get(spec.id).cloned(),
            }
        })
        .collect()
}

/// A session running in this process, and how to stop it.
struct RunningSession {
    /// Stops it without an end, for another start or node to resume.
    stop: CancellationToken,
    /// Cancels it: it stops and records its end as cancelled.
    cancel: CancellationToken,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    catalog: Catalog,
    config: EngineConfig,
    slots: Arc<FairSlots>,
    notifier: Arc<Notifier>,
    fetcher: Arc<Fetcher>,
    states: StateCache,
    limiter: Option<RateLimiter>,
    /// Key records read in the last second.
    keys: accounts::KeyCache,
    breakers: breaker::Breakers,
    /// The config's workspace, shared with every tool run.
    workspace: Arc<Workspace>,
    uploads: Option<Arc<uploads::Uploads>>,
    /// Writes analyses' narratives, when a model is configured.
    narrator: Option<narrative::Narrator>,
    /// The sessions running in this process.
    running: Mutex<HashMap<String, RunningSession>>,
    /// Fired when the server shuts down: sessions stop without recording
    /// an end (the next start resumes them) and watch streams end.
    stopping: CancellationToken,
    /// Woken whenever a session task ends.
    session_ended: tokio::sync::Notify,
    /// This node's part in a cluster on a shared database; `None`: the
    /// only node, which runs every session.
    cluster: Option<cluster::Cluster>,
}

impl Engine {
    /// Builds the engine of the only node using `store`, and resumes every
    /// session that had not finished.
    pub async fn open(
        store: Arc<dyn Store>,
        catalog: Catalog,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        Self::build(store, None, catalog, config).await
    }

    /// Builds the engine of one node of a cluster sharing `store`: it runs
    /// the sessions it claims (if it runs tools), and hears of every
    /// event, whichever node stored it.
    pub async fn open_shared(
        store: Arc<dyn SharedStore>,
        catalog: Catalog,
        config: EngineConfig,
        cluster: ClusterConfig,
    ) -> Result<Engine, EngineError> {
        let shared = cluster::Cluster {
            store: store.clone(),
            config: cluster,
            claim: tokio::sync::Notify::new(),
        };
        Self::build(store, Some(shared), catalog, config).await
    }

    async fn build(
        store: Arc<dyn Store>,
        cluster: Option<cluster::Cluster>,
        catalog: Catalog,
        config: EngineConfig,
    ) -> Result<Engine, EngineError> {
        let ended = config.workspace.reclaim().map_err(|e| {
            EngineError::Internal(format!("cannot prepare {}: {e}", config.workspace.dir.display()))
        })?;
        if ended > 0 {
            tracing::warn!(ended, "ended scanner processes an earlier server left running");
        }
        let narrator = match &config.narrator {
            Some(narrator) => {
                Some(narrative::Narrator::new(narrator.clone()).map_err(EngineError::Internal)?)
            }
            None => None,
        };
        let uploads = match &config.uploads {
            Some(uploads) => Some(Arc::new(
                uploads::Uploads::open(uploads.clone(), cluster.as_ref().map(|c| c.store.clone())).map_err(
                    |e| EngineError::Internal(format!("cannot prepare {}: {e}", uploads.dir.display())),
                )?,
            )),
            None => None,
        };
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                catalog,
                slots: FairSlots::new(config.global_concurrency),
                fetcher: Arc::new(Fetcher::with_roots(
                    config.policy.allow_private,
                    config.extra_roots.clone(),
                )),
                limiter: config.rate_limit.map(RateLimiter::new),
                keys: accounts::KeyCache::default(),
                breakers: match &cluster {
                    Some(cluster) => breaker::Breakers::shared(
                        config.breaker_threshold,
                        config.breaker_cooldown,
                        cluster.store.clone(),
                    ),
                    None => breaker::Breakers::new(config.breaker_threshold, config.breaker_cooldown),
                },
                workspace: Arc::new(config.workspace.clone()),
                uploads,
                narrator,
                config,
                notifier: Arc::new(Notifier::default()),
                states: StateCache::default(),
                running: Mutex::new(HashMap::new()),
                stopping: CancellationToken::new(),
                session_ended: tokio::sync::Notify::new(),
                cluster,
            }),
        };
        if let Some(uploads) = engine.inner.uploads.as_ref().filter(|u| u.sweeps()) {
            uploads
                .clone()
                .sweep_periodically(engine.inner.store.clone(), engine.inner.stopping.clone());
        }
        if engine.inner.cluster.is_some() {
            // Unfinished sessions are claimed, each by one node.
            engine.inner.join_cluster().await?;
            return Ok(engine);
        }
        for meta in engine.inner.store.unfinished_sessions().await? {
            let state = engine.inner.load(meta).await?;
            tracing::info!(session = %state.meta.session_id, unfinished = state.unfinished_tools().len(), "resuming session");
            engine.inner.clone().launch(state);
        }
        Ok(engine)
    }

    /// The caller behind an `Authorization` header value, after the key's
    /// rate limit. Missing, malformed, unknown, revoked and expired keys are
    /// refused with a message that says which (and never repeats the key).
    pub async fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, EngineError> {
        let key = accounts::bearer_key(authorization)?;
        let (caller, record) = accounts::verify(&*self.inner.store, &self.inner.keys, key).await?;
        if let Some(limiter) = &self.inner.limiter {
            limiter.take(&record.key_id)?;
        }
        Ok(caller)
    }

    /// Receives an archive from `chunks` and keeps it as an upload of the
    /// caller's ([`uploads`]).
    pub async fn upload<S, E>(&self, caller: &Caller, chunks: S) -> Result<Upload, EngineError>
    where
        S: futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let uploads = self.uploads()?;
        uploads.receive(&*self.inner.store, &caller.user_id, chunks).await
    }

    fn uploads(&self) -> Result<&uploads::Uploads, EngineError> {
        self.inner
            .uploads
            .as_deref()
            .ok_or_else(|| EngineError::NotFound("this server takes no uploads".to_string()))
    }

    /// Checks that upload `upload_id` is the caller's, and notes its use.
    /// Marks the caller's upload used; answers the text of its `livescan.toml`.
    async fn claim_upload(&self, caller: &Caller, upload_id: &str) -> Result<Option<String>, EngineError> {
        let retention = self.uploads()?.limits().retention;
        match self.inner.store.upload(upload_id).await? {
            Some(upload) if upload.user_id == caller.user_id => {
                self.inner.store.use_upload(upload_id).await?;
                Ok(upload.config)
            }
            _ => Err(EngineError::invalid(
                "target.upload",
                format!(
                    "no upload `{upload_id}` of yours: uploads unused for {} are removed; upload the archive again",
                    uploads::for_people(retention)
                ),
            )),
        }
    }

    /// A baseline is one of the caller's sessions that has ended.
    async fn check_baseline(&self, caller: &Caller, session_id: &str) -> Result<(), EngineError> {
        if !session_id.starts_with("sess-") || session_id.len() > 64 {
            return Err(EngineError::invalid(
                "baseline",
                "is not a session id: give the `sess-…` id of an earlier session",
            ));
        }
        let state = self
            .inner
            .owned_state(caller, session_id)
            .await
            .map_err(|err| match err {
                EngineError::NotFound(_) => {
                    EngineError::invalid("baseline", format!("no session `{session_id}` of yours"))
                }
                other => other,
            })?;
        if !state.is_finished() {
            return Err(EngineError::invalid(
                "baseline",
                format!(
                    "session `{session_id}` is still {}; a baseline is a session that has ended",
                    state.status.as_str()
                ),
            ));
        }
        Ok(())
    }

    /// The caller's balance and newest ledger entries.
    pub async fn account(&self, caller: &Caller) -> Result<(Account, Vec<LedgerEntry>), EngineError> {
        let account = self
            .inner
            .store
            .user(&caller.user_id)
            .await?
            .ok_or_else(EngineError::account_gone)?;
        let ledger = self
            .inner
            .store
            .ledger(&caller.user_id, ACCOUNT_LEDGER_LIMIT)
            .await?;
        Ok((account, ledger))
    }

    /// Validates the request, reserves the cost of its tools from the
    /// caller's balance (402 when short), stores the new session and starts
    /// its tools.
    pub async fn start_session(
        &self,
        caller: &Caller,
        request: StartRequest,
    ) -> Result<Arc<SessionState>, EngineError> {
        if self.inner.stopping.is_cancelled() {
            return Err(EngineError::Unavailable(
                "the server is shutting down; start the session again in a moment".into(),
            ));
        }
        let mut request = request;
        let target = plan::validate_target(request.target.take(), &self.inner.config.policy)?;
        let root_config = match &target {
            Target::Directory(path) => plan::read_root_config(std::path::Path::new(path))?,
            Target::Upload(upload_id) => self.claim_upload(caller, upload_id).await?,
            Target::Url(_) | Target::Urls(_) => None,
        };
        if let Some(baseline) = &request.baseline {
            self.check_baseline(caller, baseline).await?;
        }
        let plan = plan::plan(request, target, root_config, &self.inner.catalog)?;
        let cost = plan.credits();
        let created_at = time::from_millis(time::now_millis());
        let mut meta = SessionMeta {
            session_id: new_session_id(),
            scan_id: new_scan_id(created_at.timestamp()),
            user_id: caller.user_id.clone(),
            target: plan.target,
            options: plan.options,
            created_at,
        };
        // Storing and launching happen in a task of their own: if the
        // caller goes away (a client that disconnects mid-request), a
        // session that was committed is still launched, never left
        // `initializing` with its credits reserved.
        let inner = self.inner.clone();
        let stored = tokio::spawn(
            async move {
            let first = EventKind::SessionStarted {
                tools: plan.tools,
                analysis_cost: plan.analysis_cost,
            };
            let first = create_with_free_scan_id(&*inner.store, &mut meta, &first, cost, || {
                new_scan_id(created_at.timestamp())
            })
            .await?;
            metrics::metrics().sessions_started.inc();
            let state = Arc::new(SessionState::fold(meta, [&first]));
            tracing::info!(session = %state.meta.session_id, target = %state.meta.target.describe(), tools = state.reports.len(), "session started");
            match inner.cluster() {
                None => inner.launch(state.clone()),
                // In a cluster, the node that runs tools runs what it
                // starts; otherwise a node that runs tools claims it.
                Some(cluster) if cluster.config.runs_tools => {
                    let (node, lease) = (&cluster.config.node, cluster.config.lease);
                    match cluster.store.claim_session(&state.meta.session_id, node, lease).await {
                        Ok(true) => inner.launch(state.clone()),
                        Ok(false) => {}
                        Err(err) => tracing::warn!(error = %err, "could not claim the session; another node will"),
                    }
                }
                Some(_) => {}
            }
            Ok::<_, EngineError>(state)
        }
            .instrument(tracing::Span::current()),
        );
        stored
            .await
            .map_err(|e| EngineError::Internal(format!("starting the session failed: {e}")))?
    }

    /// The session's current state.
    pub async fn session(&self, caller: &Caller, session_id: &str) -> Result<Arc<SessionState>, EngineError> {
        self.inner.owned_state(caller, session_id).await
    }

    /// The caller's session with this scan id (`scan-…`), for the legacy Scans API.
    pub async fn session_by_scan_id(
        &self,
        caller: &Caller,
        scan_id: &str,
    ) -> Result<Arc<SessionState>, EngineError> {
        let not_found =
            || EngineError::NotFound(format!("no scan with id `{}`", bounded(scan_id, MAX_ECHO_CHARS)));
        match self.inner.store.session_by_scan_id(scan_id).await? {
            Some(meta) if meta.user_id == caller.user_id => {
                self.inner.owned_state(caller, &meta.session_id).await
            }
            _ => Err(not_found()),
        }
    }

    /// The caller's newest sessions (1 to 100, default 20), older than the
    /// session `before` when given; their total count; and the `before` of
    /// the next page, when there is one.
    pub async fn list_sessions(
        &self,
        caller: &Caller,
        limit: Option<u32>,
        before: Option<&str>,
    ) -> Result<SessionPage, EngineError> {
        let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT);
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(EngineError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIST_LIMIT}, got {limit}"),
            ));
        }
        if let Some(before) = before {
            self.inner
                .owned_meta(caller, before)
                .await
                .map_err(|_| EngineError::invalid("before", "is not the id of one of your sessions"))?;
        }
        let (mut listed, total) = self
            .inner
            .store
            .list_sessions(&caller.user_id, limit + 1, before)
            .await?;
        let more = listed.len() > limit as usize;
        listed.truncate(limit as usize);
        let next_before = more
            .then(|| listed.last().map(|l| l.meta.session_id.clone()))
            .flatten();
        let mut sessions = Vec::with_capacity(listed.len());
        for session in listed {
            // An ended session's listing is stored; one still running is folded.
            let listing = match session.listing {
                Some(listing) => listing,
                None => self
                    .inner
                    .owned_state(caller, &session.meta.session_id)
                    .await?
                    .listing(),
            };
            sessions.push((session.meta, listing));
        }
        Ok(SessionPage {
            sessions,
            total,
            next_before,
        })
    }

    /// Asks a session to stop. Running tools are stopped, pending ones skipped;
    /// the session then finishes as `cancelled`. A finished session is unchanged.
    pub async fn cancel(&self, caller: &Caller, session_id: &str) -> Result<Arc<SessionState>, EngineError> {
        let meta = self.inner.owned_meta(caller, session_id).await?;
        let state = self.inner.load(meta.clone()).await?;
        if state.is_finished() || state.cancel_requested {
            return Ok(state);
        }
        self.inner.append(session_id, &EventKind::CancelRequested).await?;
        if let Some(running) = self.inner.lock_running().get(session_id) {
            running.cancel.cancel();
        }
        self.inner.load(meta).await
    }

    /// Nothing will be added to the session's log any more: it has ended,
    /// and no narrative is being written for it here.
    pub fn log_complete(&self, state: &SessionState) -> bool {
        state.is_finished()
            && !(state.awaits_narrative() && self.inner.notifier.newest(&state.meta.session_id).is_some())
    }

    /// Streams the session: a snapshot first (or the events after `after`),
    /// then each event as it happens, heartbeats when idle, ending after the
    /// session-finished event or the narrative it announces.
    pub async fn watch(
        &self,
        caller: &Caller,
        session_id: &str,
        after: Option<u64>,
    ) -> Result<impl Stream<Item = Result<WatchItem, EngineError>> + Send + 'static, EngineError> {
        let current = self.inner.owned_state(caller, session_id).await?;
        let start = match after {
            None => current,
            Some(after) if after > current.cursor => {
                return Err(EngineError::invalid(
                    "after_seq",
                    format!(
                        "{after} is beyond the newest event of this session ({})",
                        current.cursor
                    ),
                ));
            }
            Some(after) if after == current.cursor => current,
            // Resuming mid-log: fold up to the cursor, for the progress sent
            // with each event; page by page and lean, keeping no findings.
            Some(after) => {
                Arc::new(watch::lean_state_at(&*self.inner.store, current.meta.clone(), after).await?)
            }
        };
        let params = WatchParams {
            start,
            snapshot: after.is_none(),
            heartbeat: self.inner.config.heartbeat,
            key_id: caller.key_id.clone(),
            narrative_wait: self.inner.cluster().map(|cluster| cluster.config.narrative_wait),
        };
        Ok(watch::stream(
            self.inner.store.clone(),
            &self.inner.notifier,
            self.inner.stopping.clone(),
            params,
        ))
    }

    /// The catalog with each tool's availability here and how long its
    /// past runs took (left out when the store cannot say).
    pub async fn tools(&self) -> Vec<ToolInfo> {
        let runs = self.inner.store.tool_runs().await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "could not read the tools' past runs");
            Default::default()
        });
        let circuits = self.inner.breakers.circuits().await;
        tool_infos(&self.inner.catalog, &circuits, &runs)
    }

    /// Sessions currently running in this process.
    pub fn running_sessions(&self) -> usize {
        self.inner.lock_running().len()
    }

    /// Stops for a shutdown: new starts are refused, watch streams end with
    /// `Unavailable` (clients resume elsewhere with their cursor), running
    /// tools and their processes are stopped, and unfinished sessions are
    /// left as they are, for the next start to resume. Returns once every
    /// session task has stopped.
    pub async fn shutdown(&self) {
        self.inner.stopping.cancel();
        loop {
            let ended = self.inner.session_ended.notified();
            let mut ended = std::pin::pin!(ended);
            ended.as_mut().enable();
            if self.inner.lock_running().is_empty() {
                break;
            }
            ended.await;
        }
        // Another node may resume them at once, without waiting for the leases to run out.
        if let Some(cluster) = self.inner.cluster()
            && let Err(err) = cluster.store.release_leases(&cluster.config.node).await
        {
            tracing::warn!(error = %err, "could not give up this node's leases; they run out by themselves");
        }
    }
}

impl Inner {
    async fn owned_meta(&self, caller: &Caller, session_id: &str) -> Result<SessionMeta, EngineError> {
        match self.store.session(session_id).await? {
            // Another user's session is indistinguishable from a missing one.
            Some(meta) if meta.user_id == caller.user_id => Ok(meta),
            _ => Err(EngineError::session_not_found(session_id)),
        }
    }

    /// The caller's session. The cached fold is returned without a store
    /// round trip when it is known to be current: the session has ended
    /// (its log never grows again), or it runs here and nothing has been
    /// published since the fold.
    async fn owned_state(&self, caller: &Caller, session_id: &str) -> Result<Arc<SessionState>, EngineError> {
        let Some(cached) = self.states.get(session_id) else {
            let meta = self.owned_meta(caller, session_id).await?;
            return self.load(meta).await;
        };
        if cached.meta.user_id != caller.user_id {
            return Err(EngineError::session_not_found(session_id));
        }
        if cached.is_finished() || self.notifier.newest(session_id) == Some(cached.cursor) {
            return Ok(cached);
        }
        self.load(cached.meta.clone()).await
    }

    /// The session's state: the cached fold plus the events stored since.
    async fn load(&self, meta: SessionMeta) -> Result<Arc<SessionState>, EngineError> {
        let mut state = self
            .states
            .get(&meta.session_id)
            .unwrap_or_else(|| Arc::new(SessionState::new(meta)));
        let newer = events_after(&*self.store, &state.meta.session_id, state.cursor).await?;
        if newer.is_empty() {
            return Ok(state);
        }
        let folded = Arc::make_mut(&mut state);
        for event in &newer {
            folded.apply(event);
        }
        self.states.put(state.clone());
        Ok(state)
    }

    /// Stores an event and tells watchers. `None`: a duplicate that was dropped.
    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, EngineError> {
        let event = self.store.append(session_id, kind).await?;
        if let Some(event) = &event {
            self.notifier.publish(&*self.store, event, session_id).await;
        }
        Ok(event)
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, RunningSession>> {
        self.running.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// How many scan ids a start tries before it gives up. A scan id has 24
/// random bits per second, so at 1,500 starts a second about one start in
/// 20,000 needs a second try.
const SCAN_ID_TRIES: usize = 8;

/// `scan-<unix seconds>-<6 hex digits>`, as the Scans API spells it.
fn new_scan_id(unix_seconds: i64) -> String {
    format!(
        "scan-{unix_seconds}-{:06x}",
        rand::rng().random::<u32>() & 0xff_ffff
    )
}

/// Stores `meta` as a new session; while another session has its scan id
/// (nothing was stored or charged then), with the next of `next_scan_id`.
async fn create_with_free_scan_id(
    store: &dyn Store,
    meta: &mut SessionMeta,
    first: &EventKind,
    cost: u64,
    mut next_scan_id: impl FnMut() -> String,
) -> Result<Event, StoreError> {
    let mut tries = 1;
    loop {
        match store.create_session(meta, first, cost).await {
            Err(StoreError::ScanIdTaken(taken)) if tries < SCAN_ID_TRIES => {
                tracing::debug!(scan_id = %taken, "scan id taken; drawing another");
                tries += 1;
                meta.scan_id = next_scan_id();
            }
            result => return result,
        }
    }
}

fn new_session_id() -> String {
    random_id("sess")
}

/// `PREFIX-` and 20 random lowercase letters and digits: a session's or an
/// upload's id, not to be guessed.
fn random_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::session::sample_meta;
    use crate::store::SqliteStore;

    fn meta(id: &str, scan_id: &str) -> SessionMeta {
        let mut meta = sample_meta(id, "u", 1);
        meta.scan_id = scan_id.into();
        meta
    }

    async fn balance(store: &SqliteStore) -> i64 {
        store.user("u").await.unwrap().unwrap().balance
    }

    #[tokio::test]
    async fn a_start_whose_scan_id_is_taken_draws_another_and_is_charged_once() {
        let store = SqliteStore::temporary().await.unwrap();
        store.create_user("u", "alice", 10).await.unwrap();
        let first = EventKind::SessionStarted {
            tools: vec![],
            analysis_cost: 0,
        };
        store
            .create_session(&meta("s1", "scan-1-aaaaaa"), &first, 2)
            .await
            .unwrap();

        // Taken: nothing stored, nothing charged.
        let taken = store
            .create_session(&meta("s2", "scan-1-aaaaaa"), &first, 2)
            .await;
        assert!(
            matches!(&taken, Err(StoreError::ScanIdTaken(id)) if id == "scan-1-aaaaaa"),
            "{taken:?}"
        );
        assert_eq!(balance(&store).await, 8);
        assert!(store.session("s2").await.unwrap().is_none());

        // Drawn again until free: stored once, under the free id, charged once.
        let mut drawn = ["scan-1-aaaaaa", "scan-1-bbbbbb"].into_iter();
        let mut second = meta("s2", "scan-1-aaaaaa");
        create_with_free_scan_id(&store, &mut second, &first, 2, || drawn.next().unwrap().into())
            .await
            .unwrap();
        assert_eq!(second.scan_id, "scan-1-bbbbbb");
        assert_eq!(
            store.session("s2").await.unwrap().unwrap().scan_id,
            "scan-1-bbbbbb"
        );
        assert_eq!(balance(&store).await, 6);

        // Never free: it gives up after SCAN_ID_TRIES, with nothing charged.
        let mut draws = 0;
        let mut third = meta("s3", "scan-1-aaaaaa");
        let gave_up = create_with_free_scan_id(&store, &mut third, &first, 2, || {
            draws += 1;
            "scan-1-bbbbbb".into()
        })
        .await;
        assert!(matches!(gave_up, Err(StoreError::ScanIdTaken(_))), "{gave_up:?}");
        assert_eq!(draws, SCAN_ID_TRIES - 1);
        assert_eq!(balance(&store).await, 6);
        assert!(store.session("s3").await.unwrap().is_none());
    }
}
