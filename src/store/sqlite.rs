//! The embedded default store: one SQLite file (WAL mode) in the data directory.
//!
//! Every append is a single `INSERT ... SELECT` that computes the next sequence
//! number and a strictly later timestamp from the rows already there, so no
//! read-then-write transaction is needed and concurrent appends cannot collide.
//! Writes go through one dedicated connection: they queue in the pool (async,
//! in order) instead of meeting in SQLite's busy handler, which sleeps for
//! milliseconds at a time. Reads use a pool of their own.
//!
//! A write transaction either commits or leaves nothing behind ([`WriteTx`]):
//! after a failed COMMIT (a full disk, say) SQLite may or may not have rolled
//! back, so a connection whose state is not known is closed rather than
//! reused, and the pool opens a fresh one. Nothing is reported as stored
//! unless its COMMIT succeeded.

use super::{ListedSession, SessionEnd, Store, StoreError};
use crate::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, LedgerKind, Refund, SessionListing, SessionMeta, time,
};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_sessions.sql"),
    include_str!("../../migrations/sqlite/0002_accounts.sql"),
    include_str!("../../migrations/sqlite/0003_listings.sql"),
];

#[derive(Clone, Debug)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// An in-memory database lives in its one connection, which must never
    /// be closed; a file's connection can be replaced.
    in_memory: bool,
}

/// One write transaction on the writer connection (`BEGIN IMMEDIATE`). It
/// ends with [`WriteTx::commit`] or [`WriteTx::rollback`]; if it is dropped
/// unfinished (an error on the way, a cancelled future) or its COMMIT or
/// ROLLBACK fails, the connection's state is unknown and it is closed
/// instead of going back to the pool. Closing rolls back what it held.
struct WriteTx {
    conn: Option<PoolConnection<Sqlite>>,
    in_memory: bool,
}

impl WriteTx {
    async fn begin(store: &SqliteStore) -> Result<WriteTx, StoreError> {
        let mut tx = WriteTx {
            conn: Some(store.writer.acquire().await?),
            in_memory: store.in_memory,
        };
        sqlx::query("BEGIN IMMEDIATE").execute(tx.conn()).await?;
        Ok(tx)
    }

    fn conn(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("the connection is held until the transaction ends")
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        sqlx::query("COMMIT").execute(self.conn()).await?;
        self.conn = None;
        Ok(())
    }

    /// Rolls back on purpose (a refused reservation, a duplicate end).
    async fn rollback(mut self) -> Result<(), StoreError> {
        sqlx::query("ROLLBACK").execute(self.conn()).await?;
        self.conn = None;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if self.in_memory {
                // Its database would go with it: roll back in place instead.
                tokio::spawn(async move {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                });
            } else {
                tracing::warn!("a write transaction did not finish; reopening the database connection");
                conn.close_on_drop();
            }
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash (kill -9); only an
            // OS crash can lose the newest transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            reader,
            writer,
            in_memory: false,
        })
    }

    /// A private in-memory database, for one-off in-process scans.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // An in-memory database lives in one connection: keep exactly one, forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        migrate(&pool).await?;
        Ok(SqliteStore {
            reader: pool.clone(),
            writer: pool,
            in_memory: true,
        })
    }
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    {
        let mut conn = pool.acquire().await?;
        let applied: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *conn)
            .await?;
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::raw_sql(&format!("PRAGMA user_version = {}", index + 1))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

fn event_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Event, StoreError> {
    let payload: String = row.try_get("payload")?;
    Ok(Event {
        seq: row.try_get::<i64, _>("seq")? as u64,
        at: time::from_millis(row.try_get("at_ms")?),
        kind: serde_json::from_str(&payload)?,
    })
}

fn account_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Account, StoreError> {
    Ok(Account {
        user_id: row.try_get("id")?,
        name: row.try_get("name")?,
        balance: row.try_get("balance")?,
        created_at: time::from_millis(row.try_get("created_ms")?),
    })
}

fn key_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<KeyRecord, StoreError> {
    let millis = |column: &str| -> Result<Option<i64>, StoreError> { Ok(row.try_get(column)?) };
    Ok(KeyRecord {
        key_id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        hash: row.try_get("hash")?,
        created_at: time::from_millis(row.try_get("created_ms")?),
        expires_at: millis("expires_ms")?.map(time::from_millis),
        revoked_at: millis("revoked_ms")?.map(time::from_millis),
    })
}

fn ledger_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<LedgerEntry, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        id: row.try_get("id")?,
        at: time::from_millis(row.try_get("at_ms")?),
        kind: kind.parse().map_err(StoreError::Corrupt)?,
        amount: row.try_get("amount")?,
        balance_after: row.try_get("balance_after")?,
        session_id: row.try_get("session_id")?,
        note: row.try_get("note")?,
    })
}

/// One ledger line, written inside the transaction that moved the credits.
struct LedgerLine<'a> {
    user_id: &'a str,
    kind: LedgerKind,
    amount: i64,
    balance_after: i64,
    session_id: Option<&'a str>,
    note: &'a str,
}

async fn write_ledger(conn: &mut sqlx::SqliteConnection, line: LedgerLine<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ledger (user_id, at_ms, kind, amount, balance_after, session_id, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(line.user_id)
    .bind(time::now_millis())
    .bind(line.kind.as_str())
    .bind(line.amount)
    .bind(line.balance_after)
    .bind(line.session_id)
    .bind(line.note)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `delta` to a user's balance; `None` when the user does not exist or
/// the balance would go below zero.
async fn move_credits(
    conn: &mut sqlx::SqliteConnection,
    user_id: &str,
    delta: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE users SET balance = balance + ?2 WHERE id = ?1 AND balance + ?2 >= 0 RETURNING balance",
    )
    .bind(user_id)
    .bind(delta)
    .fetch_optional(conn)
    .await?)
}

/// Credits as the database stores them (signed 64-bit).
fn db_credits(amount: u64) -> Result<i64, StoreError> {
    i64::try_from(amount).map_err(|_| StoreError::Corrupt(format!("{amount} credits is out of range")))
}

fn meta_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SessionMeta, StoreError> {
    let meta: String = row.try_get("meta")?;
    Ok(serde_json::from_str(&meta)?)
}

/// Inserts the next event of a session, or nothing when it would be a
/// duplicate (a second report for a tool, a second end), a tool start after
/// a cancel, or come after the session's end: a finished session's log
/// never grows.
const APPEND_SQL: &str = "
    INSERT INTO events (session_id, seq, at_ms, kind, tool, payload)
    SELECT ?1, next.seq, next.at_ms, ?3, ?4, ?5
    FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS seq, MAX(?2, COALESCE(MAX(at_ms), 0) + 1) AS at_ms
          FROM events WHERE session_id = ?1) AS next
    WHERE NOT EXISTS (SELECT 1 FROM events WHERE session_id = ?1 AND kind = 'session_finished')
      AND NOT (?3 = 'tool_started'
               AND EXISTS (SELECT 1 FROM events WHERE session_id = ?1 AND kind = 'cancel_requested'))
    ON CONFLICT DO NOTHING
    RETURNING seq, at_ms";

async fn append_with<'e, E: sqlx::SqliteExecutor<'e>>(
    executor: E,
    session_id: &str,
    kind: &EventKind,
) -> Result<Option<Event>, StoreError> {
    let row = sqlx::query(APPEND_SQL)
        .bind(session_id)
        .bind(time::now_millis())
        .bind(kind.name())
        .bind(kind.tool())
        .bind(serde_json::to_string(kind)?)
        .fetch_optional(executor)
        .await?;
    row.map(|row| {
        Ok(Event {
            seq: row.try_get::<i64, _>("seq")? as u64,
            at: time::from_millis(row.try_get("at_ms")?),
            kind: kind.clone(),
        })
    })
    .transpose()
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_session(
        &self,
        meta: &SessionMeta,
        first: &EventKind,
        cost: u64,
    ) -> Result<Event, StoreError> {
        let mut tx = WriteTx::begin(self).await?;
        if cost > 0 {
            let user = meta.user_id.as_str();
            let Some(balance) = move_credits(tx.conn(), user, -db_credits(cost)?).await? else {
                let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM users WHERE id = ?1")
                    .bind(user)
                    .fetch_optional(tx.conn())
                    .await?;
                tx.rollback().await?;
                return Err(match balance {
                    Some(balance) => StoreError::InsufficientCredits {
                        required: cost,
                        balance,
                    },
                    None => StoreError::UnknownUser(user.to_string()),
                });
            };
            let line = LedgerLine {
                user_id: user,
                kind: LedgerKind::Reserve,
                amount: -db_credits(cost)?,
                balance_after: balance,
                session_id: Some(&meta.session_id),
                note: "",
            };
            write_ledger(tx.conn(), line).await?;
        }
        sqlx::query("INSERT INTO sessions (id, user_id, created_ms, meta) VALUES (?1, ?2, ?3, ?4)")
            .bind(&meta.session_id)
            .bind(&meta.user_id)
            .bind(meta.created_at.timestamp_millis())
            .bind(serde_json::to_string(meta)?)
            .execute(tx.conn())
            .await?;
        sqlx::query(
            "INSERT INTO session_counts (user_id, sessions) VALUES (?1, 1)
             ON CONFLICT (user_id) DO UPDATE SET sessions = sessions + 1",
        )
        .bind(&meta.user_id)
        .execute(tx.conn())
        .await?;
        let event = append_with(tx.conn(), &meta.session_id, first)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("session {} already had events", meta.session_id)))?;
        tx.commit().await?;
        Ok(event)
    }

    async fn finish_session(
        &self,
        meta: &SessionMeta,
        end: &SessionEnd,
    ) -> Result<Option<Event>, StoreError> {
        let mut tx = WriteTx::begin(self).await?;
        let user = meta.user_id.as_str();
        let amount = db_credits(end.refund_credits)?;
        let refund = if end.refunded_tools.is_empty() {
            None
        } else {
            let balance = move_credits(tx.conn(), user, amount)
                .await?
                .ok_or_else(|| StoreError::UnknownUser(user.to_string()))?;
            Some(Refund {
                refunded_credits: end.refund_credits,
                tools_refunded: end.refunded_tools.clone(),
                new_balance: balance,
            })
        };
        let kind = EventKind::SessionFinished {
            status: end.status,
            error: end.error.clone(),
            refund: refund.clone(),
        };
        let Some(event) = append_with(tx.conn(), &meta.session_id, &kind).await? else {
            // Already ended (and refunded then): roll the balance back.
            tx.rollback().await?;
            return Ok(None);
        };
        if let Some(refund) = refund.filter(|r| r.refunded_credits > 0) {
            let line = LedgerLine {
                user_id: user,
                kind: LedgerKind::Refund,
                amount,
                balance_after: refund.new_balance,
                session_id: Some(&meta.session_id),
                note: "",
            };
            write_ledger(tx.conn(), line).await?;
        }
        tx.commit().await?;
        Ok(Some(event))
    }

    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, StoreError> {
        append_with(&self.writer, session_id, kind)
            .await
            .map_err(|err| match err {
                StoreError::Database(msg) if msg.contains("FOREIGN KEY") => {
                    StoreError::UnknownSession(session_id.to_string())
                }
                other => other,
            })
    }

    async fn events_after(&self, session_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, payload FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(session_id)
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn session(&self, session_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        let row = sqlx::query("SELECT meta FROM sessions WHERE id = ?1")
            .bind(session_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(meta_from_row).transpose()
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        limit: u32,
        before: Option<&str>,
    ) -> Result<(Vec<ListedSession>, u64), StoreError> {
        let total: Option<i64> = sqlx::query_scalar("SELECT sessions FROM session_counts WHERE user_id = ?1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        let total = total.unwrap_or(0) as u64;
        // Keyset paging: strictly older than `before` in the list's own
        // order, as a range of the (user, time) index, so a page deep in a
        // long list costs what the first one does.
        let (older_than_ms, older_than_row) = match before {
            None => (i64::MAX, i64::MAX),
            Some(before) => {
                let cursor: Option<(i64, i64)> =
                    sqlx::query_as("SELECT created_ms, rowid FROM sessions WHERE id = ?1 AND user_id = ?2")
                        .bind(before)
                        .bind(user_id)
                        .fetch_optional(&self.reader)
                        .await?;
                match cursor {
                    Some(cursor) => cursor,
                    None => return Ok((Vec::new(), total)),
                }
            }
        };
        let rows = sqlx::query(
            "SELECT meta, listing FROM sessions WHERE user_id = ?1
               AND created_ms <= ?3 AND (created_ms < ?3 OR rowid < ?4)
             ORDER BY created_ms DESC, rowid DESC LIMIT ?2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .bind(older_than_ms)
        .bind(older_than_row)
        .fetch_all(&self.reader)
        .await?;
        let listed = rows
            .iter()
            .map(|row| {
                let listing: Option<String> = row.try_get("listing")?;
                Ok(ListedSession {
                    meta: meta_from_row(row)?,
                    listing: listing.map(|json| serde_json::from_str(&json)).transpose()?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((listed, total))
    }

    async fn save_listing(&self, session_id: &str, listing: &SessionListing) -> Result<(), StoreError> {
        let mut tx = WriteTx::begin(self).await?;
        sqlx::query("UPDATE sessions SET listing = ?2 WHERE id = ?1")
            .bind(session_id)
            .bind(serde_json::to_string(listing)?)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unfinished_sessions(&self) -> Result<Vec<SessionMeta>, StoreError> {
        let rows = sqlx::query(
            "SELECT meta FROM sessions s WHERE NOT EXISTS (
                 SELECT 1 FROM events e WHERE e.session_id = s.id AND e.kind = 'session_finished')
             ORDER BY created_ms",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(meta_from_row).collect()
    }

    async fn create_user(&self, user_id: &str, name: &str, credits: u64) -> Result<Account, StoreError> {
        let amount = db_credits(credits)?;
        let now = time::now_millis();
        let mut tx = WriteTx::begin(self).await?;
        sqlx::query("INSERT INTO users (id, name, balance, created_ms) VALUES (?1, ?2, ?3, ?4)")
            .bind(user_id)
            .bind(name)
            .bind(amount)
            .bind(now)
            .execute(tx.conn())
            .await?;
        if amount > 0 {
            let line = LedgerLine {
                user_id,
                kind: LedgerKind::Grant,
                amount,
                balance_after: amount,
                session_id: None,
                note: "opening balance",
            };
            write_ledger(tx.conn(), line).await?;
        }
        tx.commit().await?;
        Ok(Account {
            user_id: user_id.to_string(),
            name: name.to_string(),
            balance: amount,
            created_at: time::from_millis(now),
        })
    }

    async fn user(&self, user_id: &str) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query("SELECT id, name, balance, created_ms FROM users WHERE id = ?1")
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn grant(&self, user_id: &str, credits: u64, note: &str) -> Result<i64, StoreError> {
        let amount = db_credits(credits)?;
        let mut tx = WriteTx::begin(self).await?;
        let Some(balance) = move_credits(tx.conn(), user_id, amount).await? else {
            tx.rollback().await?;
            return Err(StoreError::UnknownUser(user_id.to_string()));
        };
        let line = LedgerLine {
            user_id,
            kind: LedgerKind::Grant,
            amount,
            balance_after: balance,
            session_id: None,
            note,
        };
        write_ledger(tx.conn(), line).await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn ledger(&self, user_id: &str, limit: u32) -> Result<Vec<LedgerEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at_ms, kind, amount, balance_after, session_id, note FROM ledger
             WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(ledger_from_row).collect()
    }

    async fn add_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO api_keys (id, user_id, name, hash, created_ms, expires_ms, revoked_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&key.key_id)
        .bind(&key.user_id)
        .bind(&key.name)
        .bind(&key.hash)
        .bind(key.created_at.timestamp_millis())
        .bind(key.expires_at.map(|t| t.timestamp_millis()))
        .bind(key.revoked_at.map(|t| t.timestamp_millis()))
        .execute(&self.writer)
        .await;
        match result {
            Err(sqlx::Error::Database(err)) if err.is_foreign_key_violation() => {
                Err(StoreError::UnknownUser(key.user_id.clone()))
            }
            other => other.map(drop).map_err(StoreError::from),
        }
    }

    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_id, name, hash, created_ms, expires_ms, revoked_ms FROM api_keys WHERE id = ?1",
        )
        .bind(key_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, hash, created_ms, expires_ms, revoked_ms FROM api_keys
             ORDER BY created_ms, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, StoreError> {
        let row = sqlx::query(
            "UPDATE api_keys SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1
             RETURNING id, user_id, name, hash, created_ms, expires_ms, revoked_ms",
        )
        .bind(key_id)
        .bind(time::now_millis())
        .fetch_optional(&self.writer)
        .await?;
        match row {
            Some(row) => key_from_row(&row),
            None => Err(StoreError::UnknownKey(key_id.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Outcome, ToolReport};

    fn meta(id: &str, user: &str, created_ms: i64) -> SessionMeta {
        crate::model::session::sample_meta(id, user, created_ms)
    }

    fn report(tool: &str) -> EventKind {
        EventKind::ToolFinished {
            report: Box::new(ToolReport::finished(
                tool,
                Category::Security,
                Outcome::Clean,
                1,
                vec![],
                None,
            )),
        }
    }

    #[tokio::test]
    async fn appends_are_gap_free_strictly_later_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).await.unwrap();
        let first = store
            .create_session(
                &meta("s1", "u", 1),
                &EventKind::SessionStarted { tools: vec![] },
                0,
            )
            .await
            .unwrap();
        assert_eq!(first.seq, 1);

        // Many concurrent appends: sequence numbers 2..=41 with no gaps.
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .append(
                        "s1",
                        &EventKind::ToolStarted {
                            tool: format!("t{i}"),
                        },
                    )
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap().unwrap();
        }
        let events = store.events_after("s1", 0, 1000).await.unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=41).collect::<Vec<_>>());
        assert!(
            events.windows(2).all(|w| w[0].at < w[1].at),
            "times strictly increase"
        );

        assert!(store.append("s1", &report("a")).await.unwrap().is_some());
        assert!(
            store.append("s1", &report("a")).await.unwrap().is_none(),
            "second report dropped"
        );
        let end = EventKind::SessionFinished {
            status: crate::model::SessionStatus::Completed,
            error: None,
            refund: None,
        };
        assert!(store.append("s1", &end).await.unwrap().is_some());
        assert!(
            store.append("s1", &end).await.unwrap().is_none(),
            "second end dropped"
        );
        assert!(
            store
                .append("s1", &EventKind::CancelRequested)
                .await
                .unwrap()
                .is_none(),
            "nothing after the end"
        );
        assert_eq!(store.events_after("s1", 40, 10).await.unwrap().len(), 3);

        // After a cancel no tool starts, but the skips are still recorded.
        store
            .create_session(
                &meta("s2", "u", 2),
                &EventKind::SessionStarted { tools: vec![] },
                0,
            )
            .await
            .unwrap();
        let start = EventKind::ToolStarted { tool: "a".into() };
        assert!(store.append("s2", &start).await.unwrap().is_some());
        assert!(
            store
                .append("s2", &EventKind::CancelRequested)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .append("s2", &EventKind::ToolStarted { tool: "b".into() })
                .await
                .unwrap()
                .is_none(),
            "no start after a cancel"
        );
        assert!(store.append("s2", &report("b")).await.unwrap().is_some());

        let unknown = store.append("nope", &EventKind::SessionRunning).await;
        assert!(
            matches!(unknown, Err(StoreError::UnknownSession(_))),
            "{unknown:?}"
        );
    }

    #[tokio::test]
    async fn credits_are_reserved_at_start_and_refunded_once_at_the_end() {
        let store = SqliteStore::in_memory().await.unwrap();
        store.create_user("u", "alice", 5).await.unwrap();
        let started = EventKind::SessionStarted { tools: vec![] };
        store
            .create_session(&meta("s1", "u", 1), &started, 3)
            .await
            .unwrap();
        assert_eq!(store.user("u").await.unwrap().unwrap().balance, 2);

        let short = store.create_session(&meta("s2", "u", 2), &started, 3).await;
        assert!(
            matches!(
                short,
                Err(StoreError::InsufficientCredits {
                    required: 3,
                    balance: 2
                })
            ),
            "{short:?}"
        );
        assert!(store.session("s2").await.unwrap().is_none(), "nothing stored");
        let nobody = store.create_session(&meta("s3", "ghost", 3), &started, 1).await;
        assert!(matches!(nobody, Err(StoreError::UnknownUser(_))), "{nobody:?}");

        let end = SessionEnd {
            status: crate::model::SessionStatus::Partial,
            error: None,
            refunded_tools: vec!["a".into(), "b".into()],
            refund_credits: 2,
        };
        let event = store
            .finish_session(&meta("s1", "u", 1), &end)
            .await
            .unwrap()
            .unwrap();
        let EventKind::SessionFinished { refund, .. } = event.kind else {
            panic!("not an end: {:?}", event.kind)
        };
        assert_eq!(refund.unwrap().new_balance, 4);
        assert!(
            store
                .finish_session(&meta("s1", "u", 1), &end)
                .await
                .unwrap()
                .is_none(),
            "a second end is dropped"
        );
        assert_eq!(
            store.user("u").await.unwrap().unwrap().balance,
            4,
            "refunded once"
        );

        let ledger = store.ledger("u", 10).await.unwrap();
        let amounts: Vec<(LedgerKind, i64, i64)> = ledger
            .iter()
            .map(|e| (e.kind, e.amount, e.balance_after))
            .collect();
        assert_eq!(
            amounts,
            vec![
                (LedgerKind::Refund, 2, 4),
                (LedgerKind::Reserve, -3, 2),
                (LedgerKind::Grant, 5, 5)
            ]
        );
        assert_eq!(ledger.iter().map(|e| e.amount).sum::<i64>(), 4);
    }

    #[tokio::test]
    async fn sessions_survive_reopen_and_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            for (id, user, ms) in [("a", "u1", 1), ("b", "u1", 2), ("c", "u2", 3)] {
                store
                    .create_session(
                        &meta(id, user, ms),
                        &EventKind::SessionStarted { tools: vec![] },
                        0,
                    )
                    .await
                    .unwrap();
            }
            let end = EventKind::SessionFinished {
                status: crate::model::SessionStatus::Completed,
                error: None,
                refund: None,
            };
            store.append("a", &end).await.unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let listing = SessionListing {
            status: crate::model::SessionStatus::Completed,
            progress: crate::model::Progress::default(),
            summary: crate::model::Summary::default(),
            completed_at: Some(time::from_millis(5)),
            last_updated: time::from_millis(5),
            cursor: 2,
        };
        store.save_listing("a", &listing).await.unwrap();
        let (sessions, total) = store.list_sessions("u1", 10, None).await.unwrap();
        assert_eq!(total, 2);
        assert_eq!(
            sessions
                .iter()
                .map(|m| m.meta.session_id.as_str())
                .collect::<Vec<_>>(),
            vec!["b", "a"]
        );
        assert_eq!(sessions[0].listing, None, "b has not ended");
        assert_eq!(sessions[1].listing, Some(listing));
        assert_eq!(store.session("a").await.unwrap().unwrap(), meta("a", "u1", 1));
        let (older, _) = store.list_sessions("u1", 10, Some("b")).await.unwrap();
        assert_eq!(
            older
                .iter()
                .map(|m| m.meta.session_id.as_str())
                .collect::<Vec<_>>(),
            vec!["a"]
        );
        let (none, _) = store.list_sessions("u2", 10, Some("b")).await.unwrap();
        assert!(none.is_empty(), "another user's session is no cursor");
        let unfinished: Vec<_> = store
            .unfinished_sessions()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.session_id)
            .collect();
        assert_eq!(unfinished, vec!["b", "c"]);
    }

    #[tokio::test]
    async fn a_database_of_the_previous_schema_keeps_its_session_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                .unwrap()
                .create_if_missing(true);
            let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
            for sql in &MIGRATIONS[..2] {
                sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            }
            for (id, user) in [("a", "u1"), ("b", "u1"), ("c", "u2")] {
                sqlx::query("INSERT INTO sessions (id, user_id, created_ms, meta) VALUES (?1, ?2, 1, ?3)")
                    .bind(id)
                    .bind(user)
                    .bind(serde_json::to_string(&meta(id, user, 1)).unwrap())
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            sqlx::raw_sql("PRAGMA user_version = 2")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.list_sessions("u1", 10, None).await.unwrap().1, 2);
        assert_eq!(store.list_sessions("u2", 10, None).await.unwrap().1, 1);
        store
            .create_session(
                &meta("d", "u2", 2),
                &EventKind::SessionStarted { tools: vec![] },
                0,
            )
            .await
            .unwrap();
        assert_eq!(store.list_sessions("u2", 10, None).await.unwrap().1, 2);
    }
}
