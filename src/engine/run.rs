//! Running one session: preparing the target, starting its unfinished tools
//! longest first under the session's `maxConcurrent` and the global fair cap, running
//! each tool with its deadline, and recording the session's end exactly once.

use super::breaker::Verdict;
use super::metrics::{Raised, StatusLabel, ToolLabel, ToolOutcome, metrics};
use super::{EngineError, Inner, RunningSession};
use crate::model::finding::mark_against_baseline;
use crate::model::intelligence;
use crate::model::repo_config::Rules;
use crate::model::{
    EventKind, Outcome, SelectedTool, SessionMeta, SessionState, SessionStatus, Target, ToolReport,
    ToolStatus,
};
use crate::store::SessionEnd;
use crate::tools::{
    Availability, Capacity, FindingSink, Inventory, Pages, SharedRuns, ToolContext, ToolError, ToolTarget,
    redact,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What a tool that has never run here is expected to take, per unit of
/// its weight: a native analyzer (1) under a scanner process (2) under a
/// heavy scanner (4), which is how they compare on a typical repository.
const PRIOR_MS_PER_WEIGHT: u64 = 5_000;

impl Inner {
    /// Runs the session in the background until it has recorded its end.
    /// Does nothing when the session already runs here.
    pub(super) fn launch(self: Arc<Self>, state: Arc<SessionState>) {
        let session_id = state.meta.session_id.clone();
        // A shutdown stops every session, and so does losing a session's
        // lease: it stops without an end. A cancel stops one, with its end.
        let stop = self.stopping.child_token();
        let token = stop.child_token();
        if state.cancel_requested {
            token.cancel();
        }
        {
            let mut running = self.lock_running();
            if running.contains_key(&session_id) {
                return;
            }
            running.insert(
                session_id.clone(),
                RunningSession {
                    stop: stop.clone(),
                    cancel: token.clone(),
                },
            );
        }
        self.notifier.open(&state);
        let span = tracing::info_span!("session", session = %session_id);
        let task = async move {
            let running = Raised::new(&metrics().sessions_running);
            let outcome = self.drive(&state, &stop, &token).await;
            if stop.is_cancelled() {
                // Stopped by a shutdown or a lost lease: no end is
                // recorded, and the next start (or the node holding the
                // lease now) resumes the session where its log stops.
                self.notifier.close(&session_id);
                self.lock_running().remove(&session_id);
                self.session_ended.notify_waiters();
                return;
            }
            // The end must be recorded, or watchers wait forever: retry while
            // the store is unavailable (a full disk, say), backing off to a
            // try every 5 s.
            let mut wait = Duration::from_millis(100);
            while let Err(err) = self.finish(&state.meta, outcome.clone(), &token).await {
                tracing::error!(error = %err, "could not record the end of the session; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            self.lock_running().remove(&session_id);
            self.session_ended.notify_waiters();
            drop(running);
            // After the end, never before it: the model's narrative. The
            // session's channel stays open for it, so that its watchers,
            // told by the end that it follows, receive it too.
            self.narrate(&state.meta).await;
            self.notifier.close(&session_id);
        };
        tokio::spawn(task.instrument(span));
    }

    /// The inventory of the directory `root`, walked off the runtime,
    /// without the paths the session's config excludes.
    async fn walk(
        &self,
        root: std::path::PathBuf,
        rules: Option<Arc<Rules>>,
        token: &CancellationToken,
    ) -> Result<ToolTarget, String> {
        let walk_token = token.clone();
        let excluded = self.config.policy.excluded.clone();
        let inventory = tokio::task::spawn_blocking(move || {
            let mut inventory = Inventory::walk(&root, &excluded, &walk_token)?;
            if let Some(rules) = rules {
                inventory.exclude(|rel| rules.excludes_path(rel));
            }
            Ok::<_, crate::tools::inventory::InventoryError>(inventory)
        })
        .await
        .map_err(|e| format!("walking the directory failed: {e}"))?
        .map_err(|e| e.to_string())?;
        Ok(ToolTarget::Directory(Arc::new(inventory)))
    }

    /// The fingerprints of the findings of the session's baseline, if it has one.
    async fn baseline_fingerprints(
        &self,
        meta: &SessionMeta,
    ) -> Result<Option<Arc<HashSet<String>>>, String> {
        let Some(baseline) = &meta.options.baseline else {
            return Ok(None);
        };
        let owner = super::Caller {
            user_id: meta.user_id.clone(),
            key_id: None,
        };
        let state = self
            .owned_state(&owner, baseline)
            .await
            .map_err(|e| format!("cannot read the baseline {baseline}: {e}"))?;
        let fingerprints = state
            .reports
            .iter()
            .flat_map(|report| &report.result.findings)
            .map(|finding| finding.fingerprint.clone())
            .collect();
        Ok(Some(Arc::new(fingerprints)))
    }

    /// Prepares the target and runs every unfinished tool. An `Err` means the
    /// session itself could not run.
    async fn drive(
        self: &Arc<Self>,
        state: &SessionState,
        stop: &CancellationToken,
        token: &CancellationToken,
    ) -> Result<(), String> {
        let session_id = &state.meta.session_id;
        let unfinished = state.unfinished_tools();
        if unfinished.is_empty() || token.is_cancelled() {
            // Nothing left to run (a restart after the last report, or a
            // cancel): no need to prepare the target again.
            return Ok(());
        }
        let rules = match &state.meta.options.config {
            Some(config) => Some(Arc::new(config.compile()?)),
            None => None,
        };
        let baseline = self.baseline_fingerprints(&state.meta).await?;
        // An upload is unpacked for this session and removed when it ends.
        let mut unpacked = None;
        let target = match &state.meta.target {
            Target::Directory(path) => {
                // The roots may have changed since the session started (a restart).
                let root = super::plan::resolve_directory(path, &self.config.policy)?;
                self.walk(root, rules.clone(), token).await?
            }
            Target::Upload(upload_id) => {
                let uploads = self.uploads.as_ref().ok_or("this server takes no uploads")?;
                let into = self.workspace.dir.join("uploads").join(session_id);
                let tree = uploads.unpack(&*self.store, upload_id, into).await?;
                let target = self.walk(tree.path().to_path_buf(), rules.clone(), token).await?;
                unpacked = Some(tree);
                target
            }
            url_target => ToolTarget::Urls(url_target.urls()),
        };
        if state.status == SessionStatus::Initializing {
            self.append(session_id, &EventKind::SessionRunning)
                .await
                .map_err(|e| e.to_string())?;
        }

        let unfinished = self.longest_first(unfinished).await;
        let per_session = Arc::new(Semaphore::new(state.meta.options.max_concurrent as usize));
        // One fetch of each URL for all of this session's tools.
        let pages = Pages::new(self.fetcher.clone());
        let shared = SharedRuns::new(unfinished.iter().map(|tool| tool.name.clone()));
        let timeout = Duration::from_millis(state.meta.options.timeout);
        let mut running = JoinSet::new();
        for tool in unfinished {
            // Start order is run order: take the session's permit, then a global slot.
            // A cancel wins over a permit or slot that is free at the same
            // moment: no tool starts after the session was cancelled.
            let waiting = Raised::new(&metrics().tools_waiting);
            let permit = tokio::select! {
                biased;
                () = token.cancelled() => break,
                permit = per_session.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let weight = self.catalog.get(&tool.name).map_or(1, |t| t.weight());
            let slot = tokio::select! {
                biased;
                () = token.cancelled() => break,
                slot = self.slots.acquire(session_id, weight) => slot,
            };
            drop(waiting);
            // Held until the run ends, or given back earlier by a run that
            // only waits on another's work.
            let capacity = Capacity::holding((permit, slot));
            let job = ToolJob {
                inner: self.clone(),
                session_id: session_id.clone(),
                tool,
                target: target.clone(),
                pages: pages.clone(),
                shared: shared.clone(),
                capacity: capacity.clone(),
                timeout,
                session_stop: stop.clone(),
                session_token: token.clone(),
                rules: rules.clone(),
                baseline: baseline.clone(),
            };
            let span = tracing::info_span!("tool", tool = %job.tool.name);
            running.spawn(
                async move {
                    let _running = Raised::new(&metrics().tools_running);
                    job.run().await;
                    capacity.release();
                }
                .instrument(span),
            );
        }
        while running.join_next().await.is_some() {}
        drop(unpacked);
        Ok(())
    }

    /// `tools` in the order they should start: the longest expected first,
    /// so that a heavy tool started last does not hold the session's end on
    /// its own while the cores idle. Expected: the average of its past runs
    /// here, else [`PRIOR_MS_PER_WEIGHT`] per unit of its weight. Equals keep
    /// their order.
    async fn longest_first(&self, mut tools: Vec<SelectedTool>) -> Vec<SelectedTool> {
        if tools.len() < 2 {
            // Nothing to order: spare the store a read on every start.
            return tools;
        }
        let runs = self.store.tool_runs().await.unwrap_or_else(|err| {
            tracing::debug!(error = %err, "tools start in catalog order: past runs unreadable");
            Default::default()
        });
        tools.sort_by_cached_key(|tool| {
            let weight = self.catalog.get(&tool.name).map_or(1, |t| t.weight());
            let expected = runs
                .get(&tool.name)
                .map_or(weight as u64 * PRIOR_MS_PER_WEIGHT, |r| r.average_ms);
            std::cmp::Reverse(expected)
        });
        tools
    }

    /// Records a skip for every tool that never ran, then the session's end.
    async fn finish(
        &self,
        meta: &SessionMeta,
        outcome: Result<(), String>,
        token: &CancellationToken,
    ) -> Result<(), EngineError> {
        let session_id = meta.session_id.as_str();
        let mut state = self.load(meta.clone()).await?;
        // A cancel wins over whatever it interrupted (a directory walk, say).
        let cancelled = token.is_cancelled();
        let reason = match &outcome {
            _ if cancelled => "cancelled",
            Ok(()) => "its report could not be stored",
            Err(_) => "the session could not run",
        };
        let unfinished: Vec<_> = state.reports.iter().filter(|r| !r.status.is_finished()).collect();
        for report in &unfinished {
            let skipped = ToolReport::finished(
                &report.tool_name,
                report.category,
                Outcome::Skipped,
                0,
                Vec::new(),
                Some(reason.to_string()),
            );
            self.append(
                session_id,
                &EventKind::ToolFinished {
                    report: Box::new(skipped),
                },
            )
            .await?;
        }
        if !unfinished.is_empty() {
            state = self.load(meta.clone()).await?;
        }
        if !cancelled && outcome.is_ok() && meta.options.enable_intelligence && state.intelligence.is_none() {
            state = self.record_analysis(&state).await?;
        }
        let (status, error) = match outcome {
            _ if cancelled => (SessionStatus::Cancelled, None),
            Err(error) => (SessionStatus::Failed, Some(error)),
            Ok(()) if state.reports.iter().all(|r| r.is_done()) => (SessionStatus::Completed, None),
            Ok(()) => (SessionStatus::Partial, None),
        };
        let refund = state.refund_due();
        let refund_credits = refund.credits;
        let end = SessionEnd {
            status,
            error,
            refund,
            narrative_follows: self.narrator.is_some() && state.intelligence.is_some(),
        };
        // The refund is stored with the end, in one transaction: a second
        // finish (after a restart, say) finds the end and moves nothing.
        if let Some(event) = self.store.finish_session(&state.meta, &end).await? {
            self.notifier.publish(&*self.store, &event, session_id).await;
            // What lists show of it from now on; without it (a failed
            // write), lists fold the log instead.
            // The end folded onto the state in hand, unless something was
            // logged in between (a cancel request): then from the store.
            let ended = if event.seq == state.cursor + 1 {
                let mut ended = state;
                Arc::make_mut(&mut ended).apply(&event);
                ended
            } else {
                self.load(meta.clone()).await?
            };
            if let Err(err) = self.store.save_listing(session_id, &ended.listing()).await {
                tracing::warn!(error = %err, "could not store the session's listing; lists will fold its log");
            }
            let metrics = metrics();
            let status_label = StatusLabel {
                status: status.as_str().to_string(),
            };
            metrics.sessions_finished.get_or_create(&status_label).inc();
            if refund_credits > 0 {
                metrics.refunds.inc();
                metrics.refunded_credits.inc_by(refund_credits);
            }
            tracing::info!(
                status = status.as_str(),
                refunded = refund_credits,
                "session finished"
            );
        }
        Ok(())
    }
}

impl Inner {
    /// Asks the configured model for the narrative the session's end
    /// announced, and records it: the text, or why there is none (a slow,
    /// failing or malformed answer). A shutdown stops the wait, and the
    /// session keeps no narrative.
    async fn narrate(&self, meta: &SessionMeta) {
        let Some(narrator) = &self.narrator else { return };
        let state = match self.load(meta.clone()).await {
            Ok(state) => state,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the analysis for its narrative");
                return;
            }
        };
        let Some(analysis) = state.intelligence.clone().filter(|_| state.awaits_narrative()) else {
            return;
        };
        let answer = tokio::select! {
            biased;
            () = self.stopping.cancelled() => return,
            answer = narrator.narrate(&analysis) => answer,
        };
        if let Err(reason) = &answer {
            tracing::warn!(%reason, "the analysis has no narrative");
        }
        let kind = EventKind::Narrative {
            narrative: intelligence::Narrative {
                model: narrator.model().to_string(),
                error: answer.as_ref().err().cloned(),
                text: answer.ok(),
            },
        };
        match self.append(&meta.session_id, &kind).await {
            // Folded in, so readers of the finished session see it.
            Ok(_) => {
                if let Err(err) = self.load(meta.clone()).await {
                    tracing::warn!(error = %err, "cannot fold the narrative in");
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot store the narrative"),
        }
    }

    /// Analyses the session's findings off the runtime and records the
    /// analysis; the state after it. A failed analysis is logged, and the
    /// session ends without one.
    async fn record_analysis(&self, state: &Arc<SessionState>) -> Result<Arc<SessionState>, EngineError> {
        let reports = state.clone();
        let analysis =
            tokio::task::spawn_blocking(move || intelligence::analyse(reports.reports.iter().map(|r| &**r)))
                .await;
        let analysis = match analysis {
            Ok(analysis) => analysis,
            Err(err) => {
                tracing::error!(error = %err, "the analysis failed; the session ends without one");
                return Ok(state.clone());
            }
        };
        let kind = EventKind::Analysis {
            intelligence: Box::new(analysis),
        };
        self.append(&state.meta.session_id, &kind).await?;
        self.load(state.meta.clone()).await
    }
}

/// One tool run within a session.
struct ToolJob {
    inner: Arc<Inner>,
    session_id: String,
    tool: SelectedTool,
    target: ToolTarget,
    pages: Arc<Pages>,
    shared: Arc<SharedRuns>,
    capacity: Capacity,
    timeout: Duration,
    /// Fired when the session stops here without an end (a shutdown, a
    /// lost lease).
    session_stop: CancellationToken,
    /// Fired by a cancel, and by `session_stop`.
    session_token: CancellationToken,
    /// The session's `livescan.toml`, compiled.
    rules: Option<Arc<Rules>>,
    /// The fingerprints of the session's baseline.
    baseline: Option<Arc<HashSet<String>>>,
}

impl ToolJob {
    async fn run(self) {
        let mut report = self.execute().await;
        if self.session_stop.is_cancelled() && report.status == ToolStatus::Skipped {
            // Stopped by a shutdown or a lost lease, not finished: the
            // resumed session runs it again.
            return;
        }
        // The one redaction step: nothing a tool found is stored whole if it is a secret.
        let tool = self.inner.catalog.get(&self.tool.name).cloned();
        redact::report(&mut report, |rule| {
            tool.as_ref().is_some_and(|t| t.quotes_secret(rule))
        });
        if let (ToolTarget::Directory(inventory), Some(tool)) = (&self.target, &tool)
            && report.status != ToolStatus::Skipped
        {
            report.result.left_out = inventory.left_out(|origin| tool.sees(origin));
            let (inventory, mut fingerprinted) = (inventory.clone(), report.clone());
            match tokio::task::spawn_blocking(move || {
                super::fingerprints::read_finding_lines(&mut fingerprinted, &inventory);
                fingerprinted
            })
            .await
            {
                Ok(fingerprinted) => report = fingerprinted,
                Err(err) => tracing::warn!(error = %err, "kept the tool's own fingerprints"),
            }
        }
        self.apply_repo_config(&mut report);
        self.count(&report);
        let kind = EventKind::ToolFinished {
            report: Box::new(report),
        };
        // The report is kept until the store takes it: retried while the
        // store is unavailable (a full disk, a database that went away),
        // backing off to a try every 5 s. A stop (a shutdown, a lost lease)
        // gives up, and the session's next run runs the tool again.
        let mut wait = Duration::from_millis(100);
        loop {
            match self.inner.append(&self.session_id, &kind).await {
                Ok(_) => return,
                Err(EngineError::Unavailable(reason)) => {
                    tracing::warn!(error = %reason, "could not store the tool report; retrying");
                }
                Err(err) => {
                    tracing::error!(error = %err, "could not store the tool report");
                    return;
                }
            }
            tokio::select! {
                () = self.session_stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// The session's config (excludes, severities, suppressions) and
    /// baseline applied to the report, which is then counted again.
    fn apply_repo_config(&self, report: &mut ToolReport) {
        if let Some(rules) = &self.rules {
            rules.apply(report, chrono::Utc::now().date_naive());
        }
        if let Some(baseline) = &self.baseline {
            mark_against_baseline(&mut report.result.findings, |print| baseline.contains(print));
        }
        report.recount();
        // Rule descriptions only for the rules of listed findings.
        let listed: HashSet<&str> = report
            .result
            .findings
            .iter()
            .map(|f| f.rule_id.as_str())
            .collect();
        let rules = std::mem::take(&mut report.result.rules);
        report.result.rules = rules
            .into_iter()
            .filter(|r| listed.contains(r.id.as_str()))
            .collect();
    }

    async fn execute(&self) -> ToolReport {
        let Some(tool) = self.inner.catalog.get(&self.tool.name).cloned() else {
            return self.report(
                Outcome::Skipped,
                0,
                FindingSink::default(),
                Some("the tool is no longer in the catalog".into()),
            );
        };
        if let Availability::Unavailable { reason, install_hint } = tool.availability() {
            return self.report(
                Outcome::Skipped,
                0,
                FindingSink::default(),
                Some(format!("not installed: {reason} ({install_hint})")),
            );
        }
        // Only a directory can lack a tool's files; walking its inventory
        // is work for a blocking thread.
        if let ToolTarget::Directory(inventory) = &self.target
            && let (checked, inventory) = (tool.clone(), inventory.clone())
            && !crate::tools::off_runtime(move || checked.has_work(&inventory))
                .await
                .unwrap_or(true)
        {
            return self.report(
                Outcome::Skipped,
                0,
                FindingSink::default(),
                Some(crate::model::session::NOTHING_TO_ANALYSE.into()),
            );
        }
        if let Err(reason) = self.inner.breakers.allow(&self.tool.name).await {
            return self.report(Outcome::Skipped, 0, FindingSink::default(), Some(reason));
        }
        let start = EventKind::ToolStarted {
            tool: self.tool.name.clone(),
        };
        match self.inner.append(&self.session_id, &start).await {
            Ok(Some(_)) => {}
            // The store refuses a start once a cancel (or the end) is logged.
            Ok(None) => {
                return self.report(
                    Outcome::Skipped,
                    0,
                    FindingSink::default(),
                    Some("cancelled".into()),
                );
            }
            Err(err) => {
                tracing::error!(error = %err, "could not store the tool start");
            }
        }
        let started = Instant::now();
        let deadline = started + self.timeout;
        let ctx = Arc::new(ToolContext {
            target: self.target.clone(),
            deadline,
            cancel: self.session_token.child_token(),
            findings: FindingSink::with_cap(self.inner.config.max_findings_per_report),
            pages: self.pages.clone(),
            workspace: self.inner.workspace.clone(),
            shared: self.shared.clone(),
            capacity: self.capacity.clone(),
        });
        let mut handle = tokio::spawn(tool.run(ctx.clone()));
        // The circuit breaker hears only what the tool did: a target that
        // cannot be reached, a timeout or a cancel says nothing of its health.
        let (outcome, detail, verdict) = tokio::select! {
            // A tool that finished at the same instant as its deadline or a
            // cancel keeps its result.
            biased;
            joined = &mut handle => match joined {
                Ok(Ok(())) => (Outcome::Findings, None, Verdict::Healthy),
                Ok(Err(ToolError::Cancelled)) if self.session_token.is_cancelled() => (Outcome::Skipped, Some("cancelled".to_string()), Verdict::NoSignal),
                Ok(Err(ToolError::Target(reason))) => (Outcome::ToolError, Some(reason), Verdict::NoSignal),
                Ok(Err(err)) => (Outcome::ToolError, Some(err.to_string()), Verdict::ToolError),
                Err(join) => (Outcome::ToolError, Some(panic_message(join)), Verdict::ToolError),
            },
            () = tokio::time::sleep_until(deadline.into()) => {
                (Outcome::TimedOut, Some(format!("timed out after {} ms; stopped", self.timeout.as_millis())), Verdict::NoSignal)
            }
            () = self.session_token.cancelled() => (Outcome::Skipped, Some("cancelled".to_string()), Verdict::NoSignal),
        };
        // Stop the tool for real: its token tells blocking work to stop at the
        // next check, and aborting the task drops its futures (and children).
        ctx.cancel.cancel();
        handle.abort();
        self.inner.breakers.record(&self.tool.name, verdict).await;
        self.report(
            outcome,
            started.elapsed().as_millis() as u64,
            ctx.findings.clone(),
            detail,
        )
    }

    /// The run in the log and the metrics: its outcome, and its duration
    /// when it ran.
    fn count(&self, report: &ToolReport) {
        let metrics = metrics();
        let outcome = report.result.outcome.map_or("unknown", Outcome::as_str);
        tracing::info!(
            outcome,
            duration_ms = report.duration,
            findings = report.findings_count,
            "tool finished"
        );
        let labels = ToolOutcome {
            tool: self.tool.name.clone(),
            outcome: outcome.to_string(),
        };
        metrics.tool_runs.get_or_create(&labels).inc();
        if report.status != ToolStatus::Skipped {
            let tool = ToolLabel {
                tool: self.tool.name.clone(),
            };
            metrics
                .tool_seconds
                .get_or_create(&tool)
                .observe(report.duration as f64 / 1000.0);
        }
    }

    fn report(
        &self,
        outcome: Outcome,
        duration: u64,
        findings: FindingSink,
        detail: Option<String>,
    ) -> ToolReport {
        let mut report = ToolReport::finished(
            &self.tool.name,
            self.tool.category,
            outcome,
            duration,
            findings.take(),
            detail,
        );
        report.omit(findings.take_omitted());
        report.result.metrics = findings.take_metrics();
        let (rules, scanner) = findings.take_about();
        report.result.rules = rules.into_values().collect();
        report.result.scanner = scanner;
        report
    }
}

/// A readable reason for a tool task that panicked or was aborted.
fn panic_message(join: tokio::task::JoinError) -> String {
    if !join.is_panic() {
        return "the tool was stopped".to_string();
    }
    let text = crate::tools::panic_text(join.into_panic().as_ref());
    format!("the tool crashed: {text}")
}
