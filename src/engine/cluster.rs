//! This node's part in a cluster of nodes sharing one database: which
//! sessions it runs, and what it hears of the others' events.
//!
//! A node that runs tools claims unfinished sessions that no lease holds
//! (new ones, and those of a node that stopped or was cut off), runs them
//! as a single server would, and renews their leases while it does. A
//! renewal also tells it which of them were cancelled (on any node), and
//! which it lost: those it stops at once, without an end, for the node that
//! holds the lease now, and it reads the tools' circuits the cluster
//! shares. Every node listens to the database's event feed and wakes its
//! watchers of sessions running elsewhere.

use super::Inner;
use crate::store::{Heard, SharedStore};
use std::sync::Arc;
use std::time::Duration;

/// How a node takes part in a cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node's name in the leases it holds, unique in the cluster.
    pub node: String,
    /// How long a session stays leased to a node that stopped renewing it:
    /// the longest another node waits before resuming it.
    pub lease: Duration,
    /// Whether this node runs sessions (an API-only node runs none).
    pub runs_tools: bool,
    /// How long after a session's end its watchers here wait for the
    /// narrative the end announced, when another node writes it.
    pub narrative_wait: Duration,
}

impl ClusterConfig {
    /// A node whose sessions' narratives take at most `narrative_timeout`
    /// (the model's time, the same on every node): their watchers on
    /// other nodes wait that long after the end, and a lease more for the
    /// writer to store it.
    pub fn new(lease: Duration, runs_tools: bool, narrative_timeout: Duration) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let host = host.trim();
        ClusterConfig {
            node: format!(
                "{}-{}-{}",
                if host.is_empty() { "node" } else { host },
                std::process::id(),
                super::random_id("n")
                    .trim_start_matches("n-")
                    .get(..6)
                    .unwrap_or_default()
            ),
            lease,
            runs_tools,
            narrative_wait: narrative_timeout + lease,
        }
    }

    /// How often leases are renewed: three times a lease, and at least
    /// once a second, so that a cancel on another node reaches the tools
    /// within a second.
    fn renewal(&self) -> Duration {
        (self.lease / 3).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

/// The cluster as the engine sees it.
pub(super) struct Cluster {
    pub store: Arc<dyn SharedStore>,
    pub config: ClusterConfig,
    /// Woken when a session may be waiting for a node: a new one was
    /// stored, or the feed was cut.
    pub claim: tokio::sync::Notify,
}

/// How often a node that runs tools looks for sessions without a node,
/// besides when it hears of a new one.
const CLAIM_POLL: Duration = Duration::from_secs(1);

impl Inner {
    pub(super) fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// Listens to the feed (failing now if the database cannot be
    /// reached) and starts this node's background work.
    pub(super) async fn join_cluster(self: &Arc<Self>) -> Result<(), super::EngineError> {
        let Some(cluster) = self.cluster() else {
            return Ok(());
        };
        let feed = cluster.store.listen().await?;
        self.notifier.hear_other_nodes();
        tokio::spawn(self.clone().follow_feed(feed));
        if cluster.config.runs_tools {
            tokio::spawn(self.clone().renew_leases());
            tokio::spawn(self.clone().claim_sessions());
        }
        Ok(())
    }

    /// Wakes the watchers of each session an event is heard of; a cut feed
    /// wakes every watcher to read the store, as what was stored meanwhile
    /// was not heard.
    async fn follow_feed(self: Arc<Self>, mut feed: Box<dyn crate::store::EventFeed>) {
        let Some(cluster) = self.cluster() else { return };
        loop {
            let heard = tokio::select! {
                () = self.stopping.cancelled() => return,
                heard = feed.next() => heard,
            };
            match heard {
                Ok(Heard::Event { session_id, seq }) => {
                    self.notifier.heard(&session_id, seq);
                    if seq == 1 {
                        cluster.claim.notify_one();
                    }
                }
                Ok(Heard::Resumed) => {
                    tracing::warn!("the event feed was cut and is back; watchers read the store again");
                    self.notifier.heard_all();
                    cluster.claim.notify_one();
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the event feed failed; trying again in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    // It reconnects without saying so: what was stored
                    // meanwhile was not heard.
                    self.notifier.heard_all();
                    cluster.claim.notify_one();
                }
            }
        }
    }

    /// Renews the leases of the sessions running here, cancels those
    /// cancelled on any node, and stops those whose lease another node
    /// took.
    async fn renew_leases(self: Arc<Self>) {
        let Some(cluster) = self.cluster() else { return };
        let mut every = tokio::time::interval(cluster.config.renewal());
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.stopping.cancelled() => return,
                _ = every.tick() => {}
            }
            // Taken before the renewal: a session launched after it is
            // not judged by a renewal that could not know of it.
            let before: Vec<String> = self.lock_running().keys().cloned().collect();
            let held = match cluster
                .store
                .renew_leases(&cluster.config.node, cluster.config.lease)
                .await
            {
                Ok(held) => held,
                Err(err) => {
                    tracing::warn!(error = %err, "could not renew this node's leases; its sessions keep running");
                    continue;
                }
            };
            self.breakers.refresh().await;
            let held: std::collections::HashMap<&str, bool> = held
                .iter()
                .map(|lease| (lease.session_id.as_str(), lease.cancelled))
                .collect();
            let running = self.lock_running();
            for session_id in &before {
                let Some(session) = running.get(session_id) else {
                    continue;
                };
                match held.get(session_id.as_str()) {
                    Some(true) => session.cancel.cancel(),
                    Some(false) => {}
                    // Taken by another node, or ended: an end is recorded
                    // before its session leaves `running`, so stopping an
                    // ended one changes nothing.
                    None => {
                        if !session.stop.is_cancelled() {
                            tracing::warn!(session = %session_id, "another node holds the session's lease now; stopping it here");
                        }
                        session.stop.cancel();
                    }
                }
            }
        }
    }

    /// Claims sessions that no node runs while this node has room: none of
    /// its tools waits for a slot, and it runs fewer sessions than it has
    /// slots. Looks when it hears of a new session, when one of its own
    /// ends, and every second.
    async fn claim_sessions(self: Arc<Self>) {
        let Some(cluster) = self.cluster() else { return };
        loop {
            let has_room = !self.stopping.is_cancelled()
                && self.slots.is_idle()
                && self.lock_running().len() < self.config.global_concurrency;
            let claimed = if has_room {
                match cluster
                    .store
                    .claim_sessions(&cluster.config.node, cluster.config.lease, 1)
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not look for sessions to run");
                        Vec::new()
                    }
                }
            } else {
                Vec::new()
            };
            let found = !claimed.is_empty();
            for meta in claimed {
                match self.load(meta).await {
                    Ok(state) => {
                        tracing::info!(session = %state.meta.session_id, unfinished = state.unfinished_tools().len(), "claimed session");
                        self.clone().launch(state);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not read a claimed session; its lease will run out")
                    }
                }
            }
            if found {
                continue;
            }
            tokio::select! {
                () = self.stopping.cancelled() => return,
                () = cluster.claim.notified() => {}
                // A session that ended here made room.
                () = self.session_ended.notified() => {}
                () = tokio::time::sleep(CLAIM_POLL) => {}
            }
        }
    }
}
