//! Persistence behind one trait: sessions, their metadata, each session's
//! append-only event log, and accounts (users, API key hashes, the credit
//! ledger). The store assigns sequence numbers and timestamps
//! inside the insert itself, so numbers have no gaps, commit order is sequence
//! order, and times strictly increase within a session. It also enforces "at
//! most one report per (session, tool)", "at most one end per session" and
//! "nothing after the end". Money moves only inside the transactions that
//! record a session's start (the reservation) and its end (the refund), so a
//! crash can never charge or refund a session twice. Uploads are recorded
//! here too; their archives are files named by digest on a single node
//! ([`crate::engine::uploads`]) and rows of a database that nodes share.
//!
//! Two backends keep the same records and the same contract (the checks of
//! `conformance.rs`, which both run):
//! SQLite in the data directory, the default, and PostgreSQL, for nodes that
//! share one database. A database that nodes share is also a
//! [`SharedStore`]: it leases each unfinished session to the one node that
//! runs it, tells every node of every event stored, and keeps the tools'
//! circuit breakers and the uploads' archives for all of them.

#[cfg(test)]
mod conformance;
pub mod postgres;
mod rows;
pub mod sqlite;

use crate::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, RefundDue, SessionListing, SessionMeta, SessionStatus,
    Upload,
};
use async_trait::async_trait;
use std::collections::BTreeMap;

pub use postgres::{PostgresStore, TemporaryDatabase};
pub use sqlite::SqliteStore;

#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or cannot take writes now (a cut
    /// connection, a pool that timed out, a full disk, a shutdown): worth
    /// trying again later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A concurrent writer won a race the database would not order (a
    /// serialization failure, a deadlock, a batch that another write
    /// failed): nothing was stored, and trying again may store it.
    #[error("database conflict: {0}")]
    Conflict(String),
    /// The database refused the request itself (a constraint, a schema it
    /// does not know, a write that panicked): trying again changes nothing.
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unknown session {0}")]
    UnknownSession(String),
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    #[error("unknown API key id `{0}`")]
    UnknownKey(String),
    #[error("insufficient credits: {required} required, {balance} available")]
    InsufficientCredits { required: u64, balance: i64 },
    /// Another session already has this scan id; nothing was stored.
    #[error("the scan id {0} is taken")]
    ScanIdTaken(String),
}

/// A session in a list: its metadata and, once it has ended, its stored
/// listing (a session still running has none; its log is folded instead).
#[derive(Clone, Debug, PartialEq)]
pub struct ListedSession {
    pub meta: SessionMeta,
    pub listing: Option<SessionListing>,
}

/// How a session ends, as the engine decided it; the store adds the balance
/// after the refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    pub status: SessionStatus,
    pub error: Option<String>,
    /// What goes back to the owner: nothing when it names no tool and not
    /// the analysis.
    pub refund: RefundDue,
    /// A `narrative` event will follow the end.
    pub narrative_follows: bool,
}

impl StoreError {
    /// The same error, its message beginning with `what`.
    pub fn within(self, what: &str) -> Self {
        match self {
            StoreError::Unavailable(message) => StoreError::Unavailable(format!("{what}: {message}")),
            StoreError::Conflict(message) => StoreError::Conflict(format!("{what}: {message}")),
            StoreError::Database(message) => StoreError::Database(format!("{what}: {message}")),
            other => other,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        let message = err.to_string();
        match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(message),
            sqlx::Error::Database(db) => match db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                Some(pg) => by_sqlstate(pg.code(), message),
                None => match db.code().and_then(|code| code.parse::<i32>().ok()) {
                    Some(code) => by_sqlite_code(code, message),
                    None => StoreError::Database(message),
                },
            },
            _ => StoreError::Database(message),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        let message = err.to_string();
        match err.sqlite_error() {
            Some(failure) => by_sqlite_code(failure.extended_code, message),
            None => StoreError::Database(message),
        }
    }
}

/// What PostgreSQL's SQLSTATE says of trying again.
fn by_sqlstate(code: &str, message: String) -> StoreError {
    match code {
        // serialization_failure, deadlock_detected
        "40001" | "40P01" => StoreError::Conflict(message),
        // Connection exceptions, insufficient resources (a full disk, too
        // many connections), operator intervention (a shutdown, a
        // cancelled statement), system errors.
        _ if ["08", "53", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class)) =>
        {
            StoreError::Unavailable(message)
        }
        _ => StoreError::Database(message),
    }
}

/// What SQLite's result code (primary or extended) says of trying again.
fn by_sqlite_code(code: i32, message: String) -> StoreError {
    use rusqlite::ffi;
    match code & 0xff {
        ffi::SQLITE_BUSY
        | ffi::SQLITE_LOCKED
        | ffi::SQLITE_READONLY
        | ffi::SQLITE_IOERR
        | ffi::SQLITE_FULL
        | ffi::SQLITE_CANTOPEN
        | ffi::SQLITE_NOMEM => StoreError::Unavailable(message),
        _ => StoreError::Database(message),
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// A tool's past runs, for the tool list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolRuns {
    pub runs: u64,
    pub average_ms: u64,
    /// The version of the scanner that ran last, when it said.
    pub version: Option<String>,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new session together with its first event (seq 1), taking
    /// `cost` credits from the owner's balance in the same transaction, or
    /// nothing at all when the balance is short (`InsufficientCredits`) or
    /// another session has its scan id (`ScanIdTaken`).
    async fn create_session(
        &self,
        meta: &SessionMeta,
        first: &EventKind,
        cost: u64,
    ) -> Result<Event, StoreError>;

    /// Appends the session-finished event and, in the same transaction, gives
    /// the owner back `end.refund.credits`. Returns `None` (and moves no
    /// credits) when the session had already ended.
    async fn finish_session(&self, meta: &SessionMeta, end: &SessionEnd)
    -> Result<Option<Event>, StoreError>;

    /// Appends an event with the next sequence number. Returns `None` when the
    /// event would be a second report for the same tool, a second end of the
    /// session, a tool start after a cancel, or anything after its end: those
    /// are dropped, so every report is stored once, no tool starts once a
    /// cancel is logged, and a finished log never grows.
    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, StoreError>;

    /// Up to `limit` events with `seq > after`, in order.
    async fn events_after(&self, session_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError>;

    async fn session(&self, session_id: &str) -> Result<Option<SessionMeta>, StoreError>;

    /// The session with this scan id (`scan-…`), for the legacy Scans API.
    async fn session_by_scan_id(&self, scan_id: &str) -> Result<Option<SessionMeta>, StoreError>;

    /// A user's newest sessions (older than the session `before`, when
    /// given), and how many the user has in all.
    async fn list_sessions(
        &self,
        user_id: &str,
        limit: u32,
        before: Option<&str>,
    ) -> Result<(Vec<ListedSession>, u64), StoreError>;

    /// Stores what a list shows of a session that has ended.
    async fn save_listing(&self, session_id: &str, listing: &SessionListing) -> Result<(), StoreError>;

    /// Sessions without a session-finished event, oldest first.
    async fn unfinished_sessions(&self) -> Result<Vec<SessionMeta>, StoreError>;

    /// Creates a user whose balance starts at `credits` (a grant in the ledger).
    async fn create_user(&self, user_id: &str, name: &str, credits: u64) -> Result<Account, StoreError>;

    async fn user(&self, user_id: &str) -> Result<Option<Account>, StoreError>;

    /// Adds `credits` to a user's balance; returns the new balance.
    async fn grant(&self, user_id: &str, credits: u64, note: &str) -> Result<i64, StoreError>;

    /// How many times each tool ran (completed or failed) and how long it
    /// took on average, by tool id.
    async fn tool_runs(&self) -> Result<BTreeMap<String, ToolRuns>, StoreError>;

    /// A user's newest ledger entries, newest first.
    async fn ledger(&self, user_id: &str, limit: u32) -> Result<Vec<LedgerEntry>, StoreError>;

    async fn add_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError>;

    /// Every key, oldest first.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;

    /// Marks a key revoked (once; revoking again keeps the first time).
    async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, StoreError>;

    /// Records an upload unless it would take its user's uploads past
    /// `quota` bytes in all; whether it was recorded.
    async fn add_upload(&self, upload: &Upload, quota: u64) -> Result<bool, StoreError>;

    async fn upload(&self, upload_id: &str) -> Result<Option<Upload>, StoreError>;

    /// Notes that a session started with the upload now.
    async fn use_upload(&self, upload_id: &str) -> Result<(), StoreError>;

    /// Removes the uploads last used before `unused_since` (milliseconds
    /// since the epoch); the digests no upload refers to any more.
    async fn remove_unused_uploads(&self, unused_since: i64) -> Result<Vec<String>, StoreError>;
}

/// A session leased to a node, as a renewal finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLease {
    pub session_id: String,
    /// A cancel is in the session's log.
    pub cancelled: bool,
}

/// A tool's circuit breaker as a shared database keeps it, so that every
/// node skips the tool alike. Times are the database's clock, in
/// milliseconds since the epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CircuitRecord {
    /// Tool errors in a row.
    pub failures: u32,
    /// Set once the circuit opened: until then the tool is skipped; after,
    /// one trial run may go.
    pub open_until_ms: Option<i64>,
    /// When the trial run under way was let through.
    pub trial_since_ms: Option<i64>,
}

/// What a node hears of the events that any node stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// Event `seq` was committed to a session's log: news of the events
    /// before it may come only as this one (but a session's first event
    /// is always told, as it is what tells workers of a new session).
    Event { session_id: String, seq: u64 },
    /// The feed was cut and is back: what was stored meanwhile was not
    /// heard, so whoever waits for an event must read the logs again.
    Resumed,
}

/// The events stored by every node sharing a database, as they commit.
#[async_trait]
pub trait EventFeed: Send {
    async fn next(&mut self) -> Result<Heard, StoreError>;
}

/// A database that several nodes share. Each unfinished session is run by
/// the node that holds its lease; a lease runs out unless renewed, and
/// then any node may claim the session and resume it from its log. Times
/// are the database's, so the nodes' clocks need not agree.
#[async_trait]
pub trait SharedStore: Store {
    /// Leases up to `limit` unfinished sessions that no lease holds (or
    /// whose lease ran out) to `node` for `lease`, oldest first.
    async fn claim_sessions(
        &self,
        node: &str,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<SessionMeta>, StoreError>;

    /// Leases the unfinished session `session_id` to `node` unless another
    /// node holds it; whether `node` now holds it.
    async fn claim_session(
        &self,
        session_id: &str,
        node: &str,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// Extends `node`'s leases of unfinished sessions by `lease`; the
    /// sessions it still holds.
    async fn renew_leases(
        &self,
        node: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<HeldLease>, StoreError>;

    /// Gives up `node`'s leases, for another node to claim the sessions at once.
    async fn release_leases(&self, node: &str) -> Result<(), StoreError>;

    /// A feed of every event committed from now on, on a connection of its own.
    async fn listen(&self) -> Result<Box<dyn EventFeed>, StoreError>;

    /// Keeps the archive at `path`, whose digest is `digest`, for every
    /// node, unless it is kept already. Call it once an upload that refers
    /// to the archive is recorded: the archive goes with the last of them.
    async fn put_archive(&self, digest: &str, path: &std::path::Path) -> Result<(), StoreError>;

    /// Removes upload `upload_id`, whose archive could not be kept, so
    /// that it no longer counts against its owner's quota.
    async fn remove_upload(&self, upload_id: &str) -> Result<(), StoreError>;

    /// Writes the archive `digest` to the new file `into`, checking it
    /// against its digest; whether it is kept.
    async fn get_archive(&self, digest: &str, into: &std::path::Path) -> Result<bool, StoreError>;

    /// Every tool's stored circuit, and the database's time now.
    async fn circuits(&self) -> Result<(BTreeMap<String, CircuitRecord>, i64), StoreError>;

    /// Changes a tool's circuit while no other node can: `change` gets the
    /// stored record (the default for a tool never recorded) and the
    /// database's time, and what it leaves is stored and returned.
    async fn change_circuit(
        &self,
        tool: &str,
        change: &mut (dyn for<'r> FnMut(&'r mut CircuitRecord, i64) + Send),
    ) -> Result<CircuitRecord, StoreError>;
}

/// Every event of a session after `after`, page by page.
pub async fn events_after(store: &dyn Store, session_id: &str, after: u64) -> Result<Vec<Event>, StoreError> {
    const PAGE: u32 = 1000;
    let mut events: Vec<Event> = Vec::new();
    loop {
        let cursor = events.last().map_or(after, |e| e.seq);
        let page = store.events_after(session_id, cursor, PAGE).await?;
        let done = page.len() < PAGE as usize;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}
