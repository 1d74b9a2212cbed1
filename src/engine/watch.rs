//! Fan-out of a session's events to any number of watchers.
//!
//! Each event of a session running here is published once: folded (its
//! report completed with times and sequence, the progress after it, the
//! summary when it ends the session) into a [`Published`] that every watcher
//! shares, and kept in a bounded tail of recent events. Transports encode a
//! published event at most once each ([`Published::encoded`]) and hand every
//! watcher the same bytes. A watcher that is up to date reads the tail and
//! never touches the store; one that is behind the tail, or watches a session
//! not running here, reads the log from the store at its own pace and folds
//! it itself, so a slow watcher costs bounded memory and never misses an
//! event. Events reach the tail in sequence order whatever order their
//! writers publish them in: a gap is filled from the store.
//!
//! In a cluster, a session may run on another node. Its watchers here read
//! the store, woken by what the database's event feed hears of it, and
//! every heartbeat besides (which also covers a notification lost while
//! the feed reconnected).

use super::EngineError;
use crate::model::{Event, EventKind, Progress, SessionMeta, SessionState, Summary, Timestamp};
use crate::store::Store;
use bytes::Bytes;
use chrono::Utc;
use futures::Stream;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Events are read from the store, and from the tail, in pages of this many.
const PAGE: u32 = 32;
/// A session's tail keeps at most this many events ...
const TAIL_EVENTS: usize = 1024;
/// ... and about this many bytes of them (the newest is always kept).
const TAIL_BYTES: usize = 32 * 1024 * 1024;

/// An event as every watcher of its session receives it.
#[derive(Debug)]
pub struct Published {
    /// The event, its tool report completed from the fold (times, sequence).
    pub event: Event,
    /// The session's progress after the event.
    pub progress: Progress,
    /// The summary, when the event ends the session.
    pub summary: Option<Summary>,
    encodings: [OnceLock<Bytes>; 2],
}

/// The wire forms a published event is encoded in, once each.
#[derive(Clone, Copy, Debug)]
pub enum Encoding {
    Protobuf = 0,
    ServerSentEvent = 1,
}

impl Published {
    fn new(event: Event, state: &SessionState) -> Published {
        let ends = matches!(event.kind, EventKind::SessionFinished { .. });
        Published {
            event,
            progress: state.progress(),
            summary: ends.then(|| state.summary()),
            encodings: Default::default(),
        }
    }

    /// Folds `event` into a watcher's lean `state` and publishes it.
    fn folded(mut event: Event, state: &mut SessionState) -> Published {
        fold_lean(state, &mut event);
        Published::new(event, state)
    }

    /// Nothing follows the event in its session's log: the end, unless it
    /// announces a narrative, or that narrative.
    pub fn ends_log(&self) -> bool {
        match &self.event.kind {
            EventKind::SessionFinished {
                narrative_follows, ..
            } => !narrative_follows,
            EventKind::Narrative { .. } => true,
            _ => false,
        }
    }

    /// The event in `encoding`: encoded by the first watcher that asks, and
    /// the same bytes for every other.
    pub fn encoded(&self, encoding: Encoding, encode: impl FnOnce(&Published) -> Bytes) -> Bytes {
        self.encodings[encoding as usize]
            .get_or_init(|| encode(self))
            .clone()
    }

    fn approx_bytes(&self) -> usize {
        let report = match &self.event.kind {
            EventKind::ToolFinished { report } => report.approx_bytes(),
            _ => 0,
        };
        // The event, and room for its encodings.
        3 * (std::mem::size_of::<Published>() + report)
    }
}

/// The channels of the sessions running here, and the wake-ups of
/// sessions watched here that run on other nodes.
#[derive(Default)]
pub struct Notifier {
    channels: Mutex<HashMap<String, Arc<Channel>>>,
    /// Set once this node hears of other nodes' events.
    hears_other_nodes: std::sync::atomic::AtomicBool,
    elsewhere: Mutex<Elsewhere>,
}

/// The newest sequence number heard of each session watched here that
/// runs elsewhere; entries nobody watches any more are dropped whenever the
/// map has doubled since the last sweep.
#[derive(Default)]
struct Elsewhere {
    sessions: HashMap<String, watch::Sender<u64>>,
    sweep_at: usize,
}

impl Notifier {
    /// Opens the channel of a session about to run, from its state so far.
    pub fn open(&self, state: &SessionState) {
        lock(&self.channels)
            .entry(state.meta.session_id.clone())
            .or_insert_with(|| Arc::new(Channel::new(state.lean())));
    }

    /// Puts a stored event in its session's tail and wakes the watchers.
    pub async fn publish(&self, store: &dyn Store, event: &Event, session_id: &str) {
        if let Some(channel) = self.channel(session_id) {
            channel.publish(store, event).await;
        }
    }

    /// The newest sequence number published for a session running here.
    pub fn newest(&self, session_id: &str) -> Option<u64> {
        self.channel(session_id).map(|channel| *channel.newest.borrow())
    }

    /// Closes the channel of a session that stopped running here. Its
    /// watchers read what the tail holds, then whatever else from the store.
    pub fn close(&self, session_id: &str) {
        if let Some(channel) = lock(&self.channels).remove(session_id) {
            lock(&channel.tail).closed = true;
            channel.newest.send_modify(|_| {});
        }
    }

    fn channel(&self, session_id: &str) -> Option<Arc<Channel>> {
        lock(&self.channels).get(session_id).cloned()
    }

    /// From now on, sessions that do not run here are woken by [`Notifier::heard`].
    pub fn hear_other_nodes(&self) {
        self.hears_other_nodes
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Wakes the watchers here of a session that stored event `seq` (on
    /// any node).
    pub fn heard(&self, session_id: &str, seq: u64) {
        if let Some(sender) = lock(&self.elsewhere).sessions.get(session_id) {
            sender.send_modify(|newest| *newest = (*newest).max(seq));
        }
    }

    /// Wakes every watcher of a session running elsewhere, to read the store.
    pub fn heard_all(&self) {
        for sender in lock(&self.elsewhere).sessions.values() {
            sender.send_modify(|_| {});
        }
    }

    /// What wakes a watcher of a session that does not run here: what this
    /// node hears of it, when it hears of other nodes.
    fn wake_ups_from_elsewhere(&self, session_id: &str) -> Option<watch::Receiver<u64>> {
        if !self.hears_other_nodes.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let mut elsewhere = lock(&self.elsewhere);
        if let Some(sender) = elsewhere.sessions.get(session_id) {
            return Some(sender.subscribe());
        }
        if elsewhere.sessions.len() >= elsewhere.sweep_at {
            elsewhere.sessions.retain(|_, sender| sender.receiver_count() > 0);
            elsewhere.sweep_at = (2 * elsewhere.sessions.len()).max(64);
        }
        let (sender, receiver) = watch::channel(0);
        elsewhere.sessions.insert(session_id.to_string(), sender);
        Some(receiver)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// One running session's tail, and the newest sequence number it holds.
struct Channel {
    newest: watch::Sender<u64>,
    tail: Mutex<Tail>,
    /// Held by a publisher that fills a gap from the store.
    filling: tokio::sync::Mutex<()>,
}

struct Tail {
    /// The session folded (lean) up to the newest event in the tail.
    state: SessionState,
    events: VecDeque<Arc<Published>>,
    bytes: usize,
    /// The session stopped running here.
    closed: bool,
    /// The tail could not be kept whole (the store failed while filling a
    /// gap): its watchers read the store.
    broken: bool,
}

/// What a watcher at some cursor finds in a channel.
enum Read {
    Events(Vec<Arc<Published>>),
    /// Behind the tail, or the tail cannot say: read the store.
    Store,
    /// Up to date: wait for the next event.
    Wait,
}

impl Channel {
    fn new(state: SessionState) -> Channel {
        Channel {
            newest: watch::channel(state.cursor).0,
            tail: Mutex::new(Tail {
                state,
                events: VecDeque::new(),
                bytes: 0,
                closed: false,
                broken: false,
            }),
            filling: tokio::sync::Mutex::new(()),
        }
    }

    async fn publish(&self, store: &dyn Store, event: &Event) {
        let next = {
            let mut tail = lock(&self.tail);
            if event.seq <= tail.state.cursor {
                // Already taken from the store by a publisher that filled a gap.
                return;
            }
            if tail.broken {
                // Its watchers read the store; they only need waking.
                None
            } else if event.seq == tail.state.cursor + 1 {
                tail.push(event.clone());
                None
            } else {
                Some(tail.state.cursor)
            }
        };
        if let Some(cursor) = next {
            // Events between the tail and this one were stored by writers
            // that have not published yet (or never will): take them from
            // the store, in order.
            let _filling = self.filling.lock().await;
            if let Err(err) = self.fill(store, cursor, event.seq).await {
                tracing::warn!(error = %err, "a watch tail could not be filled; its watchers read the store");
                lock(&self.tail).broken = true;
            }
        }
        self.newest
            .send_modify(|newest| *newest = (*newest).max(event.seq));
    }

    async fn fill(&self, store: &dyn Store, mut cursor: u64, up_to: u64) -> Result<(), EngineError> {
        let session_id = lock(&self.tail).state.meta.session_id.clone();
        while cursor < up_to {
            let page = store.events_after(&session_id, cursor, PAGE).await?;
            if page.is_empty() {
                break;
            }
            let mut tail = lock(&self.tail);
            for event in page.into_iter().take_while(|e| e.seq <= up_to) {
                cursor = event.seq;
                if event.seq == tail.state.cursor + 1 {
                    tail.push(event);
                }
            }
        }
        Ok(())
    }

    fn after(&self, cursor: u64) -> Read {
        let tail = lock(&self.tail);
        if tail.broken {
            return Read::Store;
        }
        if cursor >= tail.state.cursor {
            return if tail.closed { Read::Store } else { Read::Wait };
        }
        match tail.events.front() {
            Some(first) if first.event.seq <= cursor + 1 => {
                let from = (cursor + 1 - first.event.seq) as usize;
                Read::Events(tail.events.range(from..).take(PAGE as usize).cloned().collect())
            }
            _ => Read::Store,
        }
    }
}

impl Tail {
    fn push(&mut self, event: Event) {
        let published = Arc::new(Published::folded(event, &mut self.state));
        self.bytes += published.approx_bytes();
        self.events.push_back(published);
        while (self.bytes > TAIL_BYTES || self.events.len() > TAIL_EVENTS) && self.events.len() > 1 {
            if let Some(oldest) = self.events.pop_front() {
                self.bytes -= oldest.approx_bytes();
            }
        }
    }
}

/// One item of a watch stream.
#[derive(Clone, Debug)]
pub enum WatchItem {
    /// The whole state; first item when the watch starts without a cursor.
    Snapshot(Arc<SessionState>),
    /// An event, shared by every watcher of the session.
    Event(Arc<Published>),
    /// Nothing happened for a while.
    Heartbeat { seq: u64, at: Timestamp },
}

pub struct WatchParams {
    /// The session folded up to where the watch starts (shared; the
    /// watcher folds on a lean copy of it when it reads the store).
    pub start: Arc<SessionState>,
    /// Whether to send `start` as a snapshot first (a watch without a cursor).
    pub snapshot: bool,
    pub heartbeat: Duration,
    /// The key that opened the stream, checked again every heartbeat:
    /// revoking it ends the stream (`Unauthenticated`).
    pub key_id: Option<String>,
    /// In a cluster, how long after the end of a session running on
    /// another node to wait for the narrative its end announced.
    pub narrative_wait: Option<Duration>,
}

/// Streams a session: a snapshot (or the events after `after`), then every
/// event as it is stored, heartbeats while idle, and the end after the
/// session-finished event, or after the narrative it announces (or after an
/// error). The stream does its work
/// when its reader asks for the next item: nothing is queued per watcher.
pub fn stream(
    store: Arc<dyn Store>,
    notifier: &Notifier,
    stopping: CancellationToken,
    params: WatchParams,
) -> impl Stream<Item = Result<WatchItem, EngineError>> + Send + 'static {
    let watcher = Watcher::new(store, notifier, stopping, params);
    futures::stream::unfold(Some(watcher), |watcher| async move {
        let mut watcher = watcher?;
        match watcher.next().await? {
            Ok(item) => Some((Ok(item), Some(watcher))),
            Err(err) => Some((Err(err), None)),
        }
    })
}

/// Why a waiting watcher woke up.
enum Wake {
    Notified,
    /// Woken by news of events this watcher has already read.
    AlreadyRead,
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

/// The session folded (lean) from the start of its log up to `cursor`.
pub async fn lean_state_at(
    store: &dyn Store,
    meta: SessionMeta,
    cursor: u64,
) -> Result<SessionState, EngineError> {
    let mut state = SessionState::new(meta);
    while state.cursor < cursor {
        let page = store
            .events_after(&state.meta.session_id, state.cursor, 64)
            .await?;
        if page.is_empty() {
            break;
        }
        for mut event in page.into_iter().take_while(|e| e.seq <= cursor) {
            fold_lean(&mut state, &mut event);
        }
    }
    Ok(state)
}

/// Why a stream ends when the server shuts down: the client resumes from
/// its cursor, here or on another server.
fn shutting_down(cursor: u64) -> EngineError {
    EngineError::Unavailable(format!(
        "the server is shutting down; watch again with the cursor {cursor} to resume"
    ))
}

/// One watcher's position in its session and what it has yet to send.
struct Watcher {
    store: Arc<dyn Store>,
    stopping: CancellationToken,
    /// The session's channel, when it runs here.
    channel: Option<Arc<Channel>>,
    notifications: Option<watch::Receiver<u64>>,
    /// The newest sequence number `notifications` told of when last woken.
    told: u64,
    /// Whether the next turn reads: not after a read that reached the end
    /// of the log, nor when the last wake-up told only of events already
    /// read (for a session running on another node, each such read would
    /// cost a query for nothing).
    unread: bool,
    /// The snapshot still to send first, if the watch asked for one.
    snapshot: Option<Arc<SessionState>>,
    meta: SessionMeta,
    cursor: u64,
    /// The watcher's own fold, kept while it reads the store: made at once
    /// for a session not running here, else when it first falls behind the
    /// tail.
    own: Option<SessionState>,
    /// Events read and not yet sent.
    pending: VecDeque<Arc<Published>>,
    heartbeat: Duration,
    key_id: Option<String>,
    key_checked: tokio::time::Instant,
    /// The session has ended (its narrative may still follow).
    finished: bool,
    /// When the session ended, once it has.
    end_at: Option<Timestamp>,
    narrative_wait: Option<Duration>,
    /// Nothing more will be sent.
    ended: bool,
}

impl Watcher {
    fn new(
        store: Arc<dyn Store>,
        notifier: &Notifier,
        stopping: CancellationToken,
        params: WatchParams,
    ) -> Watcher {
        // Take the channel and subscribe before the first read, so no event
        // can slip between that read and the wait.
        let session_id = &params.start.meta.session_id;
        let channel = notifier.channel(session_id);
        let notifications = match &channel {
            Some(channel) => Some(channel.newest.subscribe()),
            None => notifier.wake_ups_from_elsewhere(session_id),
        };
        let own = channel.is_none().then(|| params.start.lean());
        let told = notifications.as_ref().map_or(0, |rx| *rx.borrow());
        Watcher {
            store,
            stopping,
            channel,
            notifications,
            told,
            unread: true,
            meta: params.start.meta.clone(),
            cursor: params.start.cursor,
            own,
            finished: params.start.is_finished(),
            end_at: params.start.completed_at,
            narrative_wait: params.narrative_wait,
            ended: params.start.is_finished() && !params.start.awaits_narrative(),
            snapshot: params.snapshot.then_some(params.start),
            pending: VecDeque::new(),
            heartbeat: params.heartbeat,
            key_id: params.key_id,
            key_checked: tokio::time::Instant::now(),
        }
    }

    /// The next item; `None` once the stream has ended.
    async fn next(&mut self) -> Option<Result<WatchItem, EngineError>> {
        if let Some(snapshot) = self.snapshot.take() {
            return Some(Ok(WatchItem::Snapshot(snapshot)));
        }
        if self.ended {
            return None;
        }
        loop {
            if let Some(published) = self.pending.pop_front() {
                self.cursor = published.event.seq;
                if published.summary.is_some() {
                    self.finished = true;
                    self.end_at = Some(published.event.at);
                }
                self.ended = published.ends_log();
                return Some(Ok(WatchItem::Event(published)));
            }
            if self.stopping.is_cancelled() {
                return Some(Err(shutting_down(self.cursor)));
            }
            if let Err(err) = self.check_key().await {
                return Some(Err(err));
            }
            // Once the session has ended, every turn reads: only a read
            // that finds nothing tells that its stream is over.
            if self.unread || self.finished {
                match self.read().await {
                    Err(err) => return Some(Err(err)),
                    Ok(()) if !self.pending.is_empty() => continue,
                    // The end announced a narrative that nobody is
                    // writing any more (it failed to be stored, or the
                    // node writing it stopped): the log is complete.
                    Ok(()) if self.finished && !self.channel_open() && !self.narrative_may_come() => {
                        return None;
                    }
                    Ok(()) => {}
                }
            }
            let stopping = self.stopping.clone();
            let woke = tokio::select! {
                woke = self.wait() => woke,
                () = stopping.cancelled() => return Some(Err(shutting_down(self.cursor))),
            };
            self.unread = !matches!(woke, Wake::AlreadyRead);
            if let Wake::Idle = woke {
                return Some(Ok(WatchItem::Heartbeat {
                    seq: self.cursor,
                    at: Utc::now(),
                }));
            }
        }
    }

    /// The session's channel is open: it runs here, or its narrative is
    /// being written here.
    fn channel_open(&self) -> bool {
        self.channel.as_ref().is_some_and(|c| !lock(&c.tail).closed)
    }

    /// Whether the narrative the end announced may still come from the
    /// node of the cluster that ran the session: until the end is older
    /// than the narrative's wait.
    fn narrative_may_come(&self) -> bool {
        let (Some(wait), Some(end_at)) = (self.narrative_wait, self.end_at) else {
            return false;
        };
        let due = chrono::Duration::from_std(wait)
            .ok()
            .and_then(|wait| end_at.checked_add_signed(wait));
        self.channel.is_none() && due.is_none_or(|due| Utc::now() < due)
    }

    /// Re-checks the key that opened the stream, at most once a heartbeat.
    async fn check_key(&mut self) -> Result<(), EngineError> {
        if let Some(key_id) = &self.key_id
            && self.key_checked.elapsed() >= self.heartbeat
        {
            super::accounts::still_active(&*self.store, key_id).await?;
            self.key_checked = tokio::time::Instant::now();
        }
        Ok(())
    }

    /// Fills `pending` with the events after the cursor: from the tail when
    /// it holds them, else from the store.
    async fn read(&mut self) -> Result<(), EngineError> {
        match self
            .channel
            .as_ref()
            .map_or(Read::Store, |c| c.after(self.cursor))
        {
            Read::Events(events) => {
                self.own = None;
                self.pending.extend(events);
                self.unread = false;
            }
            Read::Store => {
                let state = match &mut self.own {
                    Some(state) => state,
                    None => self
                        .own
                        .insert(lean_state_at(&*self.store, self.meta.clone(), self.cursor).await?),
                };
                let events = self
                    .store
                    .events_after(&self.meta.session_id, self.cursor, PAGE)
                    .await?;
                // A full page may have more behind it; anything stored
                // after a shorter one is told by the notifications.
                self.unread = events.len() == PAGE as usize;
                self.pending.extend(
                    events
                        .into_iter()
                        .map(|event| Arc::new(Published::folded(event, state))),
                );
            }
            Read::Wait => self.unread = false,
        }
        Ok(())
    }

    async fn wait(&mut self) -> Wake {
        match self.notifications.as_mut() {
            Some(rx) => match tokio::time::timeout(self.heartbeat, rx.changed()).await {
                Ok(_) => {
                    let told = std::mem::replace(&mut self.told, *rx.borrow());
                    // A wake-up that tells of nothing newer (a cut feed, a
                    // closed channel) always reads.
                    if self.told > told && self.told <= self.cursor {
                        Wake::AlreadyRead
                    } else {
                        Wake::Notified
                    }
                }
                Err(_) => Wake::Idle,
            },
            None => {
                // Not running here, and nothing tells of other nodes' events: poll the log.
                tokio::time::sleep(self.heartbeat).await;
                Wake::Idle
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    async fn session_with_events(store: &SqliteStore, tools: usize) -> (SessionState, Vec<Event>) {
        let meta = crate::model::session::sample_meta("s", "u", 0);
        let started = store
            .create_session(
                &meta,
                &EventKind::SessionStarted {
                    tools: vec![],
                    analysis_cost: 0,
                },
                0,
            )
            .await
            .unwrap();
        let mut state = SessionState::new(meta);
        state.apply(&started);
        let mut events = Vec::new();
        for i in 0..tools {
            let tool = EventKind::ToolStarted {
                tool: format!("t{i}"),
            };
            events.push(store.append("s", &tool).await.unwrap().unwrap());
        }
        (state, events)
    }

    fn seqs(read: Read) -> Vec<u64> {
        match read {
            Read::Events(events) => events.iter().map(|p| p.event.seq).collect(),
            Read::Store => panic!("sent to the store"),
            Read::Wait => Vec::new(),
        }
    }

    #[tokio::test]
    async fn events_published_out_of_order_reach_the_tail_in_order_once() {
        let store = SqliteStore::temporary().await.unwrap();
        let (start, events) = session_with_events(&store, 5).await;
        let notifier = Notifier::default();
        notifier.open(&start);
        let channel = notifier.channel("s").unwrap();
        // seq 4 first: 2 and 3 come from the store; then the late writers
        // of 2 and 3 publish, and change nothing.
        notifier.publish(&store, &events[2], "s").await;
        assert_eq!(seqs(channel.after(1)), vec![2, 3, 4]);
        notifier.publish(&store, &events[0], "s").await;
        notifier.publish(&store, &events[1], "s").await;
        notifier.publish(&store, &events[3], "s").await;
        assert_eq!(seqs(channel.after(1)), vec![2, 3, 4, 5]);
        assert_eq!(seqs(channel.after(3)), vec![4, 5]);
        assert!(matches!(channel.after(5), Read::Wait), "up to date");
        assert_eq!(*channel.newest.borrow(), 5);
        notifier.close("s");
        assert!(
            matches!(channel.after(5), Read::Store),
            "closed: the store has the rest"
        );
    }

    #[tokio::test]
    async fn a_broken_tail_still_wakes_its_watchers_and_sends_them_to_the_store() {
        let store = SqliteStore::temporary().await.unwrap();
        let (start, events) = session_with_events(&store, 2).await;
        let channel = Channel::new(start.lean());
        lock(&channel.tail).broken = true;
        let woken = channel.newest.subscribe();
        channel.publish(&store, &events[0]).await;
        assert!(woken.has_changed().unwrap(), "watchers are woken");
        assert_eq!(*channel.newest.borrow(), events[0].seq);
        assert!(matches!(channel.after(1), Read::Store));
    }

    /// A session of one tool whose end (returned) announced a narrative,
    /// and its state before the end.
    async fn ended_with_a_narrative_to_follow() -> (SqliteStore, SessionState, Event) {
        let store = SqliteStore::temporary().await.unwrap();
        let (start, _) = session_with_events(&store, 1).await;
        let end = EventKind::SessionFinished {
            status: crate::model::SessionStatus::Completed,
            error: None,
            refund: None,
            narrative_follows: true,
        };
        let ended = store.append("s", &end).await.unwrap().unwrap();
        (store, start, ended)
    }

    #[tokio::test]
    async fn a_narrative_nobody_writes_any_more_ends_the_stream_at_the_end() {
        use futures::StreamExt;
        // The end announced a narrative, and the server that was to write
        // it stopped: the session runs nowhere, and its stream ends.
        let (store, start, _) = ended_with_a_narrative_to_follow().await;
        let params = WatchParams {
            start: Arc::new(start),
            snapshot: false,
            heartbeat: Duration::from_secs(60),
            key_id: None,
            narrative_wait: None,
        };
        let items = stream(
            Arc::new(store),
            &Notifier::default(),
            CancellationToken::new(),
            params,
        );
        let names: Vec<&str> = tokio::time::timeout(Duration::from_secs(5), items.collect::<Vec<_>>())
            .await
            .expect("the stream ends")
            .into_iter()
            .map(|item| match item.unwrap() {
                WatchItem::Event(published) => published.event.kind.name(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["tool_started", "session_finished"]);
    }

    #[tokio::test]
    async fn in_a_cluster_a_narrative_from_another_node_is_awaited_until_its_wait_is_over() {
        use futures::StreamExt;
        // The end announced a narrative that the node running the session
        // elsewhere never writes (it was killed): the stream waits for it,
        // with heartbeats, then ends.
        let (store, start, ended) = ended_with_a_narrative_to_follow().await;
        let notifier = Notifier::default();
        notifier.hear_other_nodes();
        let params = WatchParams {
            start: Arc::new(start),
            snapshot: false,
            heartbeat: Duration::from_millis(100),
            key_id: None,
            narrative_wait: Some(Duration::from_millis(600)),
        };
        let items = stream(Arc::new(store), &notifier, CancellationToken::new(), params);
        let items: Vec<WatchItem> = tokio::time::timeout(Duration::from_secs(5), items.collect::<Vec<_>>())
            .await
            .expect("the stream ends")
            .into_iter()
            .map(Result::unwrap)
            .collect();
        // Not before the wait was over.
        assert!(Utc::now() >= ended.at + chrono::Duration::milliseconds(600));
        let names: Vec<&str> = items
            .iter()
            .filter_map(|item| match item {
                WatchItem::Event(published) => Some(published.event.kind.name()),
                _ => None,
            })
            .collect();
        assert_eq!(names, ["tool_started", "session_finished"]);
        assert!(
            items
                .iter()
                .any(|item| matches!(item, WatchItem::Heartbeat { .. }))
        );
    }

    #[tokio::test]
    async fn the_tail_stays_bounded_and_sends_those_behind_it_to_the_store() {
        let store = SqliteStore::temporary().await.unwrap();
        let (start, events) = session_with_events(&store, TAIL_EVENTS + 10).await;
        let channel = Channel::new(start.lean());
        for event in &events {
            channel.publish(&store, event).await;
        }
        let tail = lock(&channel.tail);
        assert_eq!(tail.events.len(), TAIL_EVENTS);
        let first = tail.events.front().unwrap().event.seq;
        drop(tail);
        assert!(matches!(channel.after(first - 2), Read::Store));
        assert_eq!(seqs(channel.after(first - 1)).len(), PAGE as usize);
    }
}
