//! Fan-out of a session's events to any number of watchers.
//!
//! Nothing is buffered per watcher: a notification carries only the newest
//! sequence number, and each watcher reads the events after its own cursor
//! from the store at its own pace. A slow watcher therefore costs no memory
//! and never misses an event; it is simply caught up from the log.
//!
//! A watcher's own state is lean: the snapshot it starts with is the shared
//! state (no copy), and the fold it keeps for progress and summaries holds
//! each sent report's counts only, never its findings, so memory does not
//! grow with the number of watchers of a session.

use super::EngineError;
use crate::model::{Event, EventKind, Progress, SessionState, Summary, Timestamp};
use crate::store::Store;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// Events are read from the store in pages of this many.
const PAGE: u32 = 32;

/// Per-session "newest sequence number" channels for sessions running here.
#[derive(Default)]
pub struct Notifier {
    channels: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Notifier {
    pub fn open(&self, session_id: &str, seq: u64) {
        self.lock()
            .entry(session_id.to_string())
            .or_insert_with(|| watch::channel(seq).0);
    }

    pub fn publish(&self, session_id: &str, seq: u64) {
        if let Some(sender) = self.lock().get(session_id) {
            sender.send_if_modified(|current| {
                let newer = seq > *current;
                if newer {
                    *current = seq;
                }
                newer
            });
        }
    }

    /// Drops the channel of a finished session; its watchers see the end in the log.
    pub fn close(&self, session_id: &str) {
        self.lock().remove(session_id);
    }

    fn subscribe(&self, session_id: &str) -> Option<watch::Receiver<u64>> {
        self.lock().get(session_id).map(|sender| sender.subscribe())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.channels.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// One item of a watch stream.
#[derive(Clone, Debug)]
pub enum WatchItem {
    /// The whole state; first item when the watch starts without a cursor.
    Snapshot(Arc<SessionState>),
    /// An event, with tool reports completed from the fold (times, sequence),
    /// the progress after it, and the summary when it ends the session.
    Event {
        event: Box<Event>,
        progress: Progress,
        summary: Option<Summary>,
    },
    /// Nothing happened for a while.
    Heartbeat { seq: u64, at: Timestamp },
}

pub struct WatchParams {
    /// The session folded up to where the watch starts (shared; the
    /// watcher folds on a lean copy of it).
    pub start: Arc<SessionState>,
    /// Whether to send `start` as a snapshot first (a watch without a cursor).
    pub snapshot: bool,
    pub heartbeat: Duration,
    /// The key that opened the stream, checked again every heartbeat:
    /// revoking it ends the stream (`Unauthenticated`).
    pub key_id: Option<String>,
}

/// Streams a session: a snapshot (or the events after `after`), then every
/// event as it is stored, heartbeats while idle, and the end after the
/// session-finished event. The stream holds at most a few items in flight.
pub fn stream(
    store: Arc<dyn Store>,
    notifier: Arc<Notifier>,
    stopping: CancellationToken,
    params: WatchParams,
) -> ReceiverStream<Result<WatchItem, EngineError>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        if let Err(err) = pump(&*store, &notifier, &stopping, params, &tx).await {
            let _ = tx.send(Err(err)).await;
        }
    });
    ReceiverStream::new(rx)
}

/// Why a waiting watcher woke up.
enum Wake {
    Notified,
    Closed,
    Idle,
}

/// Folds `event` into a watcher's lean `state`, and completes the event's
/// report from the fold (times, sequence): the state keeps the report's
/// counts, the event keeps its findings for the watcher to send.
pub fn fold_lean(state: &mut SessionState, event: &mut Event) {
    let EventKind::ToolFinished { report } = &mut event.kind else {
        state.apply(event);
        return;
    };
    let lean = Event {
        seq: event.seq,
        at: event.at,
        kind: EventKind::ToolFinished {
            report: Box::new(report.without_findings()),
        },
    };
    state.apply(&lean);
    if let Some(folded) = state.report(&report.tool_name) {
        report.started_at = folded.started_at;
        report.completed_at = folded.completed_at;
        report.finished_seq = folded.finished_seq;
    }
}

/// Why a stream ends when the server shuts down: the client resumes from
/// its cursor, here or on another server.
fn shutting_down(cursor: u64) -> EngineError {
    EngineError::Unavailable(format!(
        "the server is shutting down; watch again with the cursor {cursor} to resume"
    ))
}

/// Returned by `pump` when the watcher went away.
struct Gone;

impl From<Gone> for EngineError {
    fn from(_: Gone) -> Self {
        EngineError::Unavailable("watcher disconnected".into())
    }
}

async fn send(tx: &mpsc::Sender<Result<WatchItem, EngineError>>, item: WatchItem) -> Result<(), Gone> {
    tx.send(Ok(item)).await.map_err(|_| Gone)
}

async fn pump(
    store: &dyn Store,
    notifier: &Notifier,
    stopping: &CancellationToken,
    params: WatchParams,
    tx: &mpsc::Sender<Result<WatchItem, EngineError>>,
) -> Result<(), EngineError> {
    let session_id = params.start.meta.session_id.clone();
    // Subscribe before the first read of the log below, so no notification
    // can slip between that read and the wait.
    let mut notifications = notifier.subscribe(&session_id);
    if params.snapshot {
        send(tx, WatchItem::Snapshot(params.start.clone())).await?;
    }
    if params.start.is_finished() {
        return Ok(());
    }
    let mut state = params.start.lean();
    drop(params.start);

    let mut key_checked = tokio::time::Instant::now();
    loop {
        if stopping.is_cancelled() {
            return Err(shutting_down(state.cursor));
        }
        if let Some(key_id) = &params.key_id
            && key_checked.elapsed() >= params.heartbeat
        {
            super::accounts::still_active(store, key_id).await?;
            key_checked = tokio::time::Instant::now();
        }
        let page = store.events_after(&session_id, state.cursor, PAGE).await?;
        let got_any = !page.is_empty();
        for mut event in page {
            fold_lean(&mut state, &mut event);
            let ends = matches!(event.kind, EventKind::SessionFinished { .. });
            let summary = ends.then(|| state.summary());
            send(
                tx,
                WatchItem::Event {
                    event: Box::new(event),
                    progress: state.progress(),
                    summary,
                },
            )
            .await?;
            if ends {
                return Ok(());
            }
        }
        if got_any {
            continue;
        }
        let wait = async {
            match notifications.as_mut() {
                Some(rx) => match tokio::time::timeout(params.heartbeat, rx.changed()).await {
                    Ok(Ok(())) => Wake::Notified,
                    // The channel closed: the session finished; the log has its end.
                    Ok(Err(_)) => Wake::Closed,
                    Err(_) => Wake::Idle,
                },
                None => {
                    // Not running in this process (or finished meanwhile): poll the log.
                    tokio::time::sleep(params.heartbeat).await;
                    Wake::Idle
                }
            }
        };
        let woke = tokio::select! {
            woke = wait => woke,
            () = stopping.cancelled() => return Err(shutting_down(state.cursor)),
        };
        match woke {
            Wake::Notified => {}
            Wake::Closed => notifications = None,
            Wake::Idle => {
                send(
                    tx,
                    WatchItem::Heartbeat {
                        seq: state.cursor,
                        at: Utc::now(),
                    },
                )
                .await?
            }
        }
    }
}
