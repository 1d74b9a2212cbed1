//! Persistence behind one trait: sessions, their metadata, and each session's
//! append-only event log. The store assigns sequence numbers and timestamps
//! inside the insert itself, so numbers have no gaps, commit order is sequence
//! order, and times strictly increase within a session. It also enforces "at
//! most one report per (session, tool)", "at most one end per session" and
//! "nothing after the end".

pub mod sqlite;

use crate::model::{Event, EventKind, SessionMeta};
use async_trait::async_trait;

pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unknown session {0}")]
    UnknownSession(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new session together with its first event (seq 1).
    async fn create_session(&self, meta: &SessionMeta, first: &EventKind) -> Result<Event, StoreError>;

    /// Appends an event with the next sequence number. Returns `None` when the
    /// event would be a second report for the same tool, a second end of the
    /// session, or anything after its end: those are dropped, so every report
    /// is stored once and a finished log never grows.
    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, StoreError>;

    /// Up to `limit` events with `seq > after`, in order.
    async fn events_after(&self, session_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError>;

    async fn session(&self, session_id: &str) -> Result<Option<SessionMeta>, StoreError>;

    /// A user's newest sessions, and how many the user has in all.
    async fn list_sessions(&self, user_id: &str, limit: u32) -> Result<(Vec<SessionMeta>, u64), StoreError>;

    /// Sessions without a session-finished event, oldest first.
    async fn unfinished_sessions(&self) -> Result<Vec<SessionMeta>, StoreError>;
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
