//! The store's records as rows of either backend read them, and what each
//! row becomes: one decoding for SQLite and PostgreSQL alike.

use super::{ListedSession, StoreError, ToolRuns};
use crate::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, SessionMeta, ToolStatus, Upload, time,
};

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    seq: i64,
    at_ms: i64,
    payload: String,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Event, StoreError> {
        Ok(Event {
            seq: row.seq as u64,
            at: time::from_millis(row.at_ms),
            kind: serde_json::from_str(&row.payload)?,
        })
    }
}

/// A session's metadata, as stored (JSON).
pub(super) fn meta(stored: &str) -> Result<SessionMeta, StoreError> {
    Ok(serde_json::from_str(stored)?)
}

#[derive(sqlx::FromRow)]
pub(super) struct ListedRow {
    meta: String,
    listing: Option<String>,
}

impl TryFrom<ListedRow> for ListedSession {
    type Error = StoreError;

    fn try_from(row: ListedRow) -> Result<ListedSession, StoreError> {
        Ok(ListedSession {
            meta: meta(&row.meta)?,
            listing: row.listing.map(|json| serde_json::from_str(&json)).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: String,
    name: String,
    balance: i64,
    created_ms: i64,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Account {
        Account {
            user_id: row.id,
            name: row.name,
            balance: row.balance,
            created_at: time::from_millis(row.created_ms),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    id: String,
    user_id: String,
    name: String,
    hash: String,
    created_ms: i64,
    expires_ms: Option<i64>,
    revoked_ms: Option<i64>,
}

impl From<KeyRow> for KeyRecord {
    fn from(row: KeyRow) -> KeyRecord {
        KeyRecord {
            key_id: row.id,
            user_id: row.user_id,
            name: row.name,
            hash: row.hash,
            created_at: time::from_millis(row.created_ms),
            expires_at: row.expires_ms.map(time::from_millis),
            revoked_at: row.revoked_ms.map(time::from_millis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UploadRow {
    id: String,
    user_id: String,
    digest: String,
    bytes: i64,
    files: i64,
    unpacked_bytes: i64,
    created_ms: i64,
    last_used_ms: i64,
    config: Option<String>,
}

impl From<UploadRow> for Upload {
    fn from(row: UploadRow) -> Upload {
        Upload {
            upload_id: row.id,
            user_id: row.user_id,
            digest: row.digest,
            bytes: row.bytes as u64,
            files: row.files as u64,
            unpacked_bytes: row.unpacked_bytes as u64,
            created_at: time::from_millis(row.created_ms),
            last_used_at: time::from_millis(row.last_used_ms),
            config: row.config,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct LedgerRow {
    id: i64,
    at_ms: i64,
    kind: String,
    amount: i64,
    balance_after: i64,
    session_id: Option<String>,
    note: String,
}

impl TryFrom<LedgerRow> for LedgerEntry {
    type Error = StoreError;

    fn try_from(row: LedgerRow) -> Result<LedgerEntry, StoreError> {
        Ok(LedgerEntry {
            id: row.id,
            at: time::from_millis(row.at_ms),
            kind: row.kind.parse().map_err(StoreError::Corrupt)?,
            amount: row.amount,
            balance_after: row.balance_after,
            session_id: row.session_id,
            note: row.note,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ToolRunsRow {
    tool: String,
    runs: i64,
    total_ms: i64,
    version: Option<String>,
}

impl From<ToolRunsRow> for (String, ToolRuns) {
    fn from(row: ToolRunsRow) -> (String, ToolRuns) {
        let runs = row.runs.max(1) as u64;
        let total = row.total_ms.max(0) as u64;
        let average_ms = total / runs;
        (
            row.tool,
            ToolRuns {
                runs,
                average_ms,
                version: row.version,
            },
        )
    }
}

/// Converts every row of a query.
pub(super) fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

/// Credits as the databases store them (signed 64-bit).
pub(super) fn credits(amount: u64) -> Result<i64, StoreError> {
    i64::try_from(amount).map_err(|_| StoreError::Corrupt(format!("{amount} credits is out of range")))
}

/// An event as it is stored, encoded before any write starts.
pub(super) struct Stored {
    pub(super) kind: EventKind,
    pub(super) name: &'static str,
    pub(super) tool: Option<String>,
    pub(super) payload: String,
}

/// What a report adds to its tool's past runs.
pub(super) struct ToolRun {
    pub(super) duration_ms: i64,
    pub(super) version: Option<String>,
}

impl Stored {
    pub(super) fn new(kind: EventKind) -> Result<Stored, StoreError> {
        Ok(Stored {
            name: kind.name(),
            tool: kind.tool().map(str::to_string),
            payload: serde_json::to_string(&kind)?,
            kind,
        })
    }

    /// The run this event counts, for a report of a tool that ran
    /// (completed or failed; a skip is no run).
    pub(super) fn run(&self) -> Option<ToolRun> {
        let EventKind::ToolFinished { report } = &self.kind else {
            return None;
        };
        matches!(report.status, ToolStatus::Completed | ToolStatus::Failed).then(|| ToolRun {
            duration_ms: i64::try_from(report.duration).unwrap_or(i64::MAX),
            version: report.result.scanner.as_ref().and_then(|s| s.version.clone()),
        })
    }
}
