//! The store's records as rows of either backend read them, and what each
//! row becomes: one encoding and decoding for SQLite and PostgreSQL alike.
//!
//! Events, session metadata and listings are stored as JSON records that
//! carry their version (`recordVersion`; records written before it existed
//! are version 1), apart from the REST and SSE spelling, which today shares
//! the same field names. A change that would read an old record otherwise
//! (a field renamed for the API, say) raises [`RECORD_VERSION`] and adds a
//! step to [`decode`] that brings the older version up to date as it is
//! read; the golden tests load records written by earlier releases. A
//! record of a version newer than this release is refused by name, never
//! misread: in a cluster mid-upgrade, an older node says so.

use super::{ListedSession, StoreError, ToolRuns};
use crate::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, SessionMeta, ToolStatus, Upload, time,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    seq: i64,
    at_ms: i64,
    payload: String,
}

/// The version of the records this release writes.
pub(super) const RECORD_VERSION: u64 = 1;

/// How a record begins: its version (`recordVersion`) comes first.
const VERSION_PREFIX: &str = "{\"recordVersion\":";

/// `value` as a record of this release's version: its JSON object with the
/// version first.
pub(super) fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    let json = serde_json::to_string(value)?;
    let fields = json
        .strip_prefix('{')
        .ok_or_else(|| StoreError::Corrupt(format!("a record must be a JSON object, not {json}")))?;
    let comma = if fields == "}" { "" } else { "," };
    Ok(format!("{VERSION_PREFIX}{RECORD_VERSION}{comma}{fields}"))
}

/// A stored record of any version up to this release's, as this release
/// reads it.
pub(super) fn decode<T: DeserializeOwned>(stored: &str) -> Result<T, StoreError> {
    // [`encode`] writes the version first; a record without it was
    // written before records had versions.
    let version = match stored.strip_prefix(VERSION_PREFIX) {
        None => 1,
        Some(rest) => {
            let digits = &rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())];
            digits.parse().map_err(|_| {
                StoreError::Corrupt(format!("a record whose version is not a number: {stored:.60}"))
            })?
        }
    };
    match version {
        // The fields of a record that the model does not know (its
        // version among them) are left aside.
        RECORD_VERSION => Ok(serde_json::from_str(stored)?),
        // Each step from an older version to the next goes here.
        newer if newer > RECORD_VERSION => Err(StoreError::Corrupt(format!(
            "a record of version {newer}, written by a newer livescan: this one reads versions up to {RECORD_VERSION}; upgrade this node"
        ))),
        unknown => Err(StoreError::Corrupt(format!(
            "a record of version {unknown}, which no livescan writes"
        ))),
    }
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Event, StoreError> {
        Ok(Event {
            seq: row.seq as u64,
            at: time::from_millis(row.at_ms),
            kind: decode(&row.payload)?,
        })
    }
}

/// A session's metadata, as stored.
pub(super) fn meta(stored: &str) -> Result<SessionMeta, StoreError> {
    decode(stored)
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
            listing: row.listing.as_deref().map(decode).transpose()?,
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
            payload: encode(&kind)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{meta, ran};

    #[test]
    fn records_carry_their_version_and_read_back_whole() {
        let kinds = [
            EventKind::SessionRunning,
            EventKind::CancelRequested,
            EventKind::ToolStarted {
                tool: "secrets".into(),
            },
            ran("bandit", 120, Some("1.9.4")),
        ];
        for kind in kinds {
            let stored = encode(&kind).unwrap();
            assert!(stored.starts_with(r#"{"recordVersion":1,"type":"#), "{stored}");
            assert_eq!(decode::<EventKind>(&stored).unwrap(), kind);
        }
        let stored = encode(&meta("s1", "u", 7)).unwrap();
        assert_eq!(decode::<SessionMeta>(&stored).unwrap(), meta("s1", "u", 7));
        assert_eq!(encode(&serde_json::json!({})).unwrap(), r#"{"recordVersion":1}"#);
        assert!(matches!(encode(&[1, 2]), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_record_from_before_versions_is_version_1_and_a_newer_one_is_refused() {
        let unversioned = r#"{"type":"tool_started","tool":"secrets"}"#;
        assert_eq!(
            decode::<EventKind>(unversioned).unwrap(),
            EventKind::ToolStarted {
                tool: "secrets".into()
            }
        );
        let newer = r#"{"recordVersion":2,"type":"tool_started","tool":"secrets"}"#;
        let refused = decode::<EventKind>(newer).unwrap_err().to_string();
        assert!(
            refused.contains("a record of version 2, written by a newer livescan"),
            "{refused}"
        );
        for garbled in [
            r#"{"recordVersion":"one"}"#,
            r#"{"recordVersion":0,"type":"session_running"}"#,
        ] {
            let refused = decode::<EventKind>(garbled);
            assert!(matches!(refused, Err(StoreError::Corrupt(_))), "{refused:?}");
        }
    }
}
