//! The embedded default store: one SQLite file (WAL mode) in the data directory.
//!
//! Every append is a single `INSERT ... SELECT` that computes the next sequence
//! number and a strictly later timestamp from the rows already there, so no
//! read-then-write transaction is needed and concurrent appends cannot collide.
//! Reads use an async pool (sqlx).
//!
//! Writes are group-committed: one thread owns the one write connection
//! (rusqlite, so a batch runs its statements without a thread hop each),
//! and every write waiting when it starts a transaction goes into that
//! transaction, a write of several statements inside a savepoint of its
//! own, so a write that fails or is refused (a short balance) rolls back
//! alone while the others commit together. A burst of writes costs one
//! COMMIT, not one each.
//!
//! A write transaction either commits or leaves nothing behind: after a
//! failed statement that ended the transaction, or a failed COMMIT (a full
//! disk, say), SQLite may or may not have rolled back, so the batch stops,
//! the connection is closed rather than reused, and a fresh one is opened
//! for the next batch. Nothing is reported as stored unless its COMMIT
//! succeeded: every write of a batch that failed gets the error.

use super::rows::{self, AccountRow, EventRow, KeyRow, LedgerRow, ListedRow, Stored, ToolRunsRow, UploadRow};
use super::{ListedSession, SessionEnd, Store, StoreError, ToolRuns};
use crate::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, LedgerKind, Refund, SessionListing, SessionMeta,
    Upload, time,
};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_sessions.sql"),
    include_str!("../../migrations/sqlite/0002_accounts.sql"),
    include_str!("../../migrations/sqlite/0003_listings.sql"),
    include_str!("../../migrations/sqlite/0004_uploads.sql"),
    include_str!("../../migrations/sqlite/0005_upload_config.sql"),
    include_str!("../../migrations/sqlite/0006_one_analysis.sql"),
    include_str!("../../migrations/sqlite/0007_scan_ids.sql"),
    include_str!("../../migrations/sqlite/0008_one_narrative.sql"),
    include_str!("../../migrations/sqlite/0009_tool_runs.sql"),
];

#[derive(Clone, Debug)]
pub struct SqliteStore {
    reader: SqlitePool,
    /// The writer thread's queue.
    writes: mpsc::Sender<Job>,
    /// The directory of a temporary database, removed with the last handle.
    _temporary: Option<Arc<tempfile::TempDir>>,
}

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 256;

/// What a write decided about its part of a batch.
enum Done<T> {
    /// Keep its changes; answer `T` once the batch has committed.
    Keep(T),
    /// Roll its changes back (a duplicate end) and answer `T`.
    Undo(T),
}

/// How many statements a write runs, which decides whether it needs a
/// savepoint of its own to fail alone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Statements {
    /// One statement, which SQLite applies whole or not at all.
    One,
    Several,
}

/// A write waiting for the writer thread: it runs on the write connection
/// (inside a savepoint when it has several statements) and says whether to
/// keep its changes and how to answer its caller once the batch's COMMIT
/// is known.
struct Job {
    statements: Statements,
    run: Run,
}
type Run = Box<dyn FnOnce(&Connection) -> (bool, Answer) + Send>;
type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Opens the write connection with the settings every connection has.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Runs the queued writes, batch after batch, until every store handle is
/// gone. A batch that fails leaves the connection in a state nobody knows
/// (after a failed COMMIT, SQLite may or may not have rolled back), so it
/// is closed, which rolls back whatever it held, and opened again for the
/// next batch.
fn write_batches(path: PathBuf, mut queue: mpsc::Receiver<Job>) {
    let mut conn = None;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = queue.blocking_recv() {
        batch.push(job);
        while batch.len() < MAX_BATCH
            && let Ok(job) = queue.try_recv()
        {
            batch.push(job);
        }
        let mut answers = Vec::with_capacity(batch.len());
        // A write that panics fails its batch, not the writer: every later
        // write would fail with it.
        let committed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_batch(&mut conn, &path, batch.drain(..), &mut answers)
        }))
        .unwrap_or_else(|_| {
            Err(StoreError::Conflict(
                "not stored: another write of its transaction failed".into(),
            ))
        });
        if committed.is_err() && conn.take().is_some() {
            tracing::warn!("a write transaction did not finish; reopening the database connection");
        }
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// One transaction for all of `jobs`. Jobs left unrun after a failure are
/// dropped, and their callers told so.
fn run_batch(
    conn: &mut Option<Connection>,
    path: &Path,
    jobs: impl Iterator<Item = Job>,
    answers: &mut Vec<Answer>,
) -> Result<(), StoreError> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(open_writer(path)?),
    };
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in jobs {
        let savepoint = job.statements == Statements::Several;
        if savepoint {
            conn.execute_batch("SAVEPOINT write")?;
        }
        let (keep, answer) = (job.run)(conn);
        answers.push(answer);
        if conn.is_autocommit() {
            // The failure rolled the whole transaction back (SQLite does on
            // a full disk): nothing of this batch is stored.
            return Err(StoreError::Unavailable(
                "the write transaction was rolled back by a failed write".into(),
            ));
        }
        if savepoint {
            if !keep {
                conn.execute_batch("ROLLBACK TO write")?;
            }
            conn.execute_batch("RELEASE write")?;
        }
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_file(path, None).await
    }

    /// A private database in a temporary file, removed when the last handle
    /// to it goes: for one-off in-process scans.
    pub async fn temporary() -> Result<Self, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("livescan-db-")
            .tempdir()
            .map_err(|e| StoreError::Unavailable(format!("cannot make a temporary database: {e}")))?;
        let path = dir.path().join("livescan.sqlite");
        Self::open_file(&path, Some(Arc::new(dir))).await
    }

    async fn open_file(path: &Path, temporary: Option<Arc<tempfile::TempDir>>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode survives a process crash (kill -9); only an
            // OS crash can lose the newest transactions.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        migrate(&reader).await?;
        let (writes, queue) = mpsc::channel(4 * MAX_BATCH);
        let path = path.to_path_buf();
        let dir = temporary.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                write_batches(path, queue);
                drop(dir);
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the database writer: {e}")))?;
        Ok(SqliteStore {
            reader,
            writes,
            _temporary: temporary,
        })
    }

    /// Runs `work` in the next batch of writes; its answer comes once that
    /// batch has committed (or at once, for a write that undid itself).
    async fn write<T, W>(&self, statements: Statements, work: W) -> Result<T, StoreError>
    where
        T: Send + 'static,
        W: FnOnce(&Connection) -> Result<Done<T>, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let run = Box::new(move |conn: &Connection| {
            // A write that panics is told so, as a refusal; the panic then
            // fails its batch, whose other writes may be tried again.
            let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(conn))) {
                Ok(result) => result,
                Err(panic) => {
                    let _ = reply.send(Err(StoreError::Database("a write failed unexpectedly".into())));
                    std::panic::resume_unwind(panic)
                }
            };
            let keep = matches!(result, Ok(Done::Keep(_)));
            let answer: Answer = Box::new(move |committed| {
                let _ = reply.send(match result {
                    Ok(Done::Keep(value)) => committed.map(|()| value),
                    Ok(Done::Undo(value)) => Ok(value),
                    Err(err) => Err(err),
                });
            });
            (keep, answer)
        });
        self.writes
            .send(Job { statements, run })
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Conflict("not stored: the write transaction it was part of failed".into())
        })?
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

/// One ledger line, written inside the transaction that moved the credits.
struct LedgerLine<'a> {
    user_id: &'a str,
    kind: LedgerKind,
    amount: i64,
    balance_after: i64,
    session_id: Option<&'a str>,
    note: &'a str,
}

fn write_ledger(conn: &Connection, line: LedgerLine<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ledger (user_id, at_ms, kind, amount, balance_after, session_id, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        line.user_id,
        time::now_millis(),
        line.kind.as_str(),
        line.amount,
        line.balance_after,
        line.session_id,
        line.note
    ])?;
    Ok(())
}

/// Adds `delta` to a user's balance; `None` when the user does not exist or
/// the balance would go below zero.
fn move_credits(conn: &Connection, user_id: &str, delta: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE users SET balance = balance + ?2 WHERE id = ?1 AND balance + ?2 >= 0 RETURNING balance",
        )?
        .query_row(params![user_id, delta], |row| row.get(0))
        .optional()?)
}

/// Inserts the next event of a session, or nothing when it would be a
/// duplicate (a second report for a tool, a second analysis, narrative or
/// end), a tool start after a cancel, or come after the session's end: a
/// finished session's log grows by its narrative at most.
const APPEND_SQL: &str = "
    INSERT INTO events (session_id, seq, at_ms, kind, tool, payload)
    SELECT ?1, next.seq, next.at_ms, ?3, ?4, ?5
    FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS seq, MAX(?2, COALESCE(MAX(at_ms), 0) + 1) AS at_ms
          FROM events WHERE session_id = ?1) AS next
    WHERE (?3 = 'narrative'
           OR NOT EXISTS (SELECT 1 FROM events WHERE session_id = ?1 AND kind = 'session_finished'))
      AND NOT (?3 = 'tool_started'
               AND EXISTS (SELECT 1 FROM events WHERE session_id = ?1 AND kind = 'cancel_requested'))
    ON CONFLICT DO NOTHING
    RETURNING seq, at_ms";

fn append_with(conn: &Connection, session_id: &str, event: Stored) -> Result<Option<Event>, StoreError> {
    let appended = conn
        .prepare_cached(APPEND_SQL)?
        .query_row(
            params![
                session_id,
                time::now_millis(),
                event.name,
                event.tool,
                event.payload
            ],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()?;
    Ok(appended.map(|(seq, at_ms)| Event {
        seq: seq as u64,
        at: time::from_millis(at_ms),
        kind: event.kind,
    }))
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_session(
        &self,
        meta: &SessionMeta,
        first: &EventKind,
        cost: u64,
    ) -> Result<Event, StoreError> {
        let meta = meta.clone();
        let first = Stored::new(first.clone())?;
        let cost = rows::credits(cost)?;
        self.write(Statements::Several, move |conn| {
            let user = meta.user_id.as_str();
            if cost > 0 {
                let Some(balance) = move_credits(conn, user, -cost)? else {
                    let balance: Option<i64> = conn
                        .prepare_cached("SELECT balance FROM users WHERE id = ?1")?
                        .query_row([user], |row| row.get(0))
                        .optional()?;
                    return Err(match balance {
                        Some(balance) => StoreError::InsufficientCredits {
                            required: cost as u64,
                            balance,
                        },
                        None => StoreError::UnknownUser(user.to_string()),
                    });
                };
                let line = LedgerLine {
                    user_id: user,
                    kind: LedgerKind::Reserve,
                    amount: -cost,
                    balance_after: balance,
                    session_id: Some(&meta.session_id),
                    note: "",
                };
                write_ledger(conn, line)?;
            }
            conn.prepare_cached(
                "INSERT INTO sessions (id, user_id, created_ms, meta, scan_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                meta.session_id,
                user,
                meta.created_at.timestamp_millis(),
                rows::encode(&meta)?,
                meta.scan_id
            ])
            .map_err(|err| match &err {
                rusqlite::Error::SqliteFailure(failure, Some(message))
                    if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        && message.contains("sessions.scan_id") =>
                {
                    StoreError::ScanIdTaken(meta.scan_id.clone())
                }
                _ => err.into(),
            })?;
            conn.prepare_cached(
                "INSERT INTO session_counts (user_id, sessions) VALUES (?1, 1)
                 ON CONFLICT (user_id) DO UPDATE SET sessions = sessions + 1",
            )?
            .execute([user])?;
            let event = append_with(conn, &meta.session_id, first)?.ok_or_else(|| {
                StoreError::Corrupt(format!("session {} already had events", meta.session_id))
            })?;
            Ok(Done::Keep(event))
        })
        .await
    }

    async fn finish_session(
        &self,
        meta: &SessionMeta,
        end: &SessionEnd,
    ) -> Result<Option<Event>, StoreError> {
        let user = meta.user_id.clone();
        let session_id = meta.session_id.clone();
        let end = end.clone();
        let amount = rows::credits(end.refund.credits)?;
        self.write(Statements::Several, move |conn| {
            let due = end.refund;
            let refund = if due.tools.is_empty() && !due.analysis {
                None
            } else {
                let balance = move_credits(conn, &user, amount)?
                    .ok_or_else(|| StoreError::UnknownUser(user.clone()))?;
                Some(Refund {
                    refunded_credits: due.credits,
                    tools_refunded: due.tools,
                    analysis_refunded: due.analysis,
                    new_balance: balance,
                })
            };
            let kind = EventKind::SessionFinished {
                status: end.status,
                error: end.error,
                refund: refund.clone(),
                narrative_follows: end.narrative_follows,
            };
            let Some(event) = append_with(conn, &session_id, Stored::new(kind)?)? else {
                // Already ended (and refunded then): roll the balance back.
                return Ok(Done::Undo(None));
            };
            if let Some(refund) = refund.filter(|r| r.refunded_credits > 0) {
                let line = LedgerLine {
                    user_id: &user,
                    kind: LedgerKind::Refund,
                    amount,
                    balance_after: refund.new_balance,
                    session_id: Some(&session_id),
                    note: "",
                };
                write_ledger(conn, line)?;
            }
            Ok(Done::Keep(Some(event)))
        })
        .await
    }

    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, StoreError> {
        let event = Stored::new(kind.clone())?;
        let session_id = session_id.to_string();
        self.write(Statements::One, move |conn| {
            match append_with(conn, &session_id, event) {
                Ok(event) => Ok(Done::Keep(event)),
                Err(StoreError::Database(msg)) if msg.contains("FOREIGN KEY") => {
                    Err(StoreError::UnknownSession(session_id))
                }
                Err(other) => Err(other),
            }
        })
        .await
    }

    async fn events_after(&self, session_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let found: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, at_ms, payload FROM events WHERE session_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(session_id)
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows::all(found)
    }

    async fn session(&self, session_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        let meta: Option<String> = sqlx::query_scalar("SELECT meta FROM sessions WHERE id = ?1")
            .bind(session_id)
            .fetch_optional(&self.reader)
            .await?;
        meta.as_deref().map(rows::meta).transpose()
    }

    async fn session_by_scan_id(&self, scan_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        let meta: Option<String> = sqlx::query_scalar("SELECT meta FROM sessions WHERE scan_id = ?1")
            .bind(scan_id)
            .fetch_optional(&self.reader)
            .await?;
        meta.as_deref().map(rows::meta).transpose()
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
        let listed: Vec<ListedRow> = sqlx::query_as(
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
        Ok((rows::all(listed)?, total))
    }

    async fn save_listing(&self, session_id: &str, listing: &SessionListing) -> Result<(), StoreError> {
        let session_id = session_id.to_string();
        let listing = rows::encode(listing)?;
        self.write(Statements::One, move |conn| {
            conn.prepare_cached("UPDATE sessions SET listing = ?2 WHERE id = ?1")?
                .execute([&session_id, &listing])?;
            Ok(Done::Keep(()))
        })
        .await
    }

    async fn unfinished_sessions(&self) -> Result<Vec<SessionMeta>, StoreError> {
        let metas: Vec<String> = sqlx::query_scalar(
            "SELECT meta FROM sessions s WHERE NOT EXISTS (
                 SELECT 1 FROM events e WHERE e.session_id = s.id AND e.kind = 'session_finished')
             ORDER BY created_ms",
        )
        .fetch_all(&self.reader)
        .await?;
        metas.iter().map(|meta| rows::meta(meta)).collect()
    }

    async fn create_user(&self, user_id: &str, name: &str, credits: u64) -> Result<Account, StoreError> {
        let amount = rows::credits(credits)?;
        let now = time::now_millis();
        let account = Account {
            user_id: user_id.to_string(),
            name: name.to_string(),
            balance: amount,
            created_at: time::from_millis(now),
        };
        self.write(Statements::Several, move |conn| {
            conn.prepare_cached("INSERT INTO users (id, name, balance, created_ms) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![account.user_id, account.name, amount, now])?;
            if amount > 0 {
                let line = LedgerLine {
                    user_id: &account.user_id,
                    kind: LedgerKind::Grant,
                    amount,
                    balance_after: amount,
                    session_id: None,
                    note: "opening balance",
                };
                write_ledger(conn, line)?;
            }
            Ok(Done::Keep(account))
        })
        .await
    }

    async fn user(&self, user_id: &str) -> Result<Option<Account>, StoreError> {
        let found: Option<AccountRow> =
            sqlx::query_as("SELECT id, name, balance, created_ms FROM users WHERE id = ?1")
                .bind(user_id)
                .fetch_optional(&self.reader)
                .await?;
        Ok(found.map(Account::from))
    }

    async fn grant(&self, user_id: &str, credits: u64, note: &str) -> Result<i64, StoreError> {
        let amount = rows::credits(credits)?;
        let (user_id, note) = (user_id.to_string(), note.to_string());
        self.write(Statements::Several, move |conn| {
            let Some(balance) = move_credits(conn, &user_id, amount)? else {
                return Err(StoreError::UnknownUser(user_id));
            };
            let line = LedgerLine {
                user_id: &user_id,
                kind: LedgerKind::Grant,
                amount,
                balance_after: balance,
                session_id: None,
                note: &note,
            };
            write_ledger(conn, line)?;
            Ok(Done::Keep(balance))
        })
        .await
    }

    async fn tool_runs(&self) -> Result<BTreeMap<String, ToolRuns>, StoreError> {
        let found: Vec<ToolRunsRow> = sqlx::query_as("SELECT tool, runs, total_ms, version FROM tool_runs")
            .fetch_all(&self.reader)
            .await?;
        Ok(found.into_iter().map(<(String, ToolRuns)>::from).collect())
    }

    async fn ledger(&self, user_id: &str, limit: u32) -> Result<Vec<LedgerEntry>, StoreError> {
        let found: Vec<LedgerRow> = sqlx::query_as(
            "SELECT id, at_ms, kind, amount, balance_after, session_id, note FROM ledger
             WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows::all(found)
    }

    async fn add_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let key = key.clone();
        self.write(Statements::One, move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO api_keys (id, user_id, name, hash, created_ms, expires_ms, revoked_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    key.key_id,
                    key.user_id,
                    key.name,
                    key.hash,
                    key.created_at.timestamp_millis(),
                    key.expires_at.map(|t| t.timestamp_millis()),
                    key.revoked_at.map(|t| t.timestamp_millis())
                ]);
            match inserted {
                Err(rusqlite::Error::SqliteFailure(err, _))
                    if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    Err(StoreError::UnknownUser(key.user_id))
                }
                other => Ok(Done::Keep(other.map(drop)?)),
            }
        })
        .await
    }

    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let found: Option<KeyRow> = sqlx::query_as(
            "SELECT id, user_id, name, hash, created_ms, expires_ms, revoked_ms FROM api_keys WHERE id = ?1",
        )
        .bind(key_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.map(KeyRecord::from))
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let found: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, user_id, name, hash, created_ms, expires_ms, revoked_ms FROM api_keys
             ORDER BY created_ms, id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(found.into_iter().map(KeyRecord::from).collect())
    }

    async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, StoreError> {
        let id = key_id.to_string();
        let revoked = self
            .write(Statements::One, move |conn| {
                let changed = conn
                    .prepare_cached(
                        "UPDATE api_keys SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                    )?
                    .execute(params![id, time::now_millis()])?;
                Ok(Done::Keep(changed > 0))
            })
            .await?;
        match revoked {
            true => self
                .key(key_id)
                .await?
                .ok_or_else(|| StoreError::UnknownKey(key_id.to_string())),
            false => Err(StoreError::UnknownKey(key_id.to_string())),
        }
    }

    async fn add_upload(&self, upload: &Upload, quota: u64) -> Result<bool, StoreError> {
        let upload = upload.clone();
        self.write(Statements::One, move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO uploads (id, user_id, digest, bytes, files, unpacked_bytes, created_ms, last_used_ms, config)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?10
                     WHERE (SELECT COALESCE(SUM(bytes), 0) FROM uploads WHERE user_id = ?2) + ?4 <= ?9",
                )?
                .execute(params![
                    upload.upload_id,
                    upload.user_id,
                    upload.digest,
                    upload.bytes as i64,
                    upload.files as i64,
                    upload.unpacked_bytes as i64,
                    upload.created_at.timestamp_millis(),
                    upload.last_used_at.timestamp_millis(),
                    quota.min(i64::MAX as u64) as i64,
                    upload.config
                ]);
            match inserted {
                Err(rusqlite::Error::SqliteFailure(err, _))
                    if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    Err(StoreError::UnknownUser(upload.user_id))
                }
                other => Ok(Done::Keep(other? == 1)),
            }
        })
        .await
    }

    async fn upload(&self, upload_id: &str) -> Result<Option<Upload>, StoreError> {
        let found: Option<UploadRow> = sqlx::query_as(
            "SELECT id, user_id, digest, bytes, files, unpacked_bytes, created_ms, last_used_ms, config
             FROM uploads WHERE id = ?1",
        )
        .bind(upload_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.map(Upload::from))
    }

    async fn use_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        let id = upload_id.to_string();
        self.write(Statements::One, move |conn| {
            conn.prepare_cached("UPDATE uploads SET last_used_ms = MAX(last_used_ms, ?2) WHERE id = ?1")?
                .execute(params![id, time::now_millis()])?;
            Ok(Done::Keep(()))
        })
        .await
    }

    async fn remove_unused_uploads(&self, unused_since: i64) -> Result<Vec<String>, StoreError> {
        self.write(Statements::Several, move |conn| {
            let removed: Vec<String> = conn
                .prepare_cached("DELETE FROM uploads WHERE last_used_ms < ?1 RETURNING digest")?
                .query_map([unused_since], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let mut orphaned = Vec::new();
            for digest in removed {
                let in_use: bool = conn
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM uploads WHERE digest = ?1)")?
                    .query_row([&digest], |row| row.get(0))?;
                if !in_use && !orphaned.contains(&digest) {
                    orphaned.push(digest);
                }
            }
            Ok(Done::Keep(orphaned))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{meta, ran, skipped};

    crate::store::conformance::store_contract!(Some(SqliteStore::temporary().await.unwrap()));

    #[tokio::test]
    async fn reports_stored_before_the_tool_runs_table_are_counted_when_it_is_made() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let started = EventKind::SessionStarted {
            tools: vec![],
            analysis_cost: 0,
        };
        {
            // Reports stored before the table existed are counted when it is made.
            let store = SqliteStore::open(&path).await.unwrap();
            store
                .create_session(&meta("s1", "u", 1), &started, 0)
                .await
                .unwrap();
            store
                .append("s1", &ran("bandit", 100, Some("1.9.3")))
                .await
                .unwrap();
            store.append("s1", &ran("secrets", 7, None)).await.unwrap();
            store.append("s1", &skipped("eslint")).await.unwrap();
        }
        {
            let pool = SqlitePool::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::raw_sql("DROP TRIGGER tool_run_finished; DROP TABLE tool_runs; PRAGMA user_version = 8")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let runs = store.tool_runs().await.unwrap();
        assert_eq!(
            runs.keys().collect::<Vec<_>>(),
            ["bandit", "secrets"],
            "a skip is not a run"
        );
        assert_eq!(runs["bandit"].version.as_deref(), Some("1.9.3"));
        assert_eq!(runs["secrets"].version, None);
        // Counting goes on as reports are stored (the contract's check).
        store
            .create_session(&meta("s2", "u", 2), &started, 0)
            .await
            .unwrap();
        store
            .append("s2", &ran("bandit", 300, Some("1.9.4")))
            .await
            .unwrap();
        let bandit = &store.tool_runs().await.unwrap()["bandit"];
        assert_eq!((bandit.runs, bandit.average_ms), (2, 200));
    }

    #[test]
    fn errors_say_whether_trying_again_may_help() {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = Connection::open(dir.path().join("no/such/dir/db.sqlite")).unwrap_err();
        let nowhere = StoreError::from(nowhere);
        assert!(matches!(nowhere, StoreError::Unavailable(_)), "{nowhere:?}");

        let conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .unwrap();
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let twice = StoreError::from(conn.execute("INSERT INTO t VALUES (1)", []).unwrap_err());
        assert!(matches!(twice, StoreError::Database(_)), "{twice:?}");
    }

    #[tokio::test]
    async fn a_write_that_panics_fails_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db.sqlite")).await.unwrap();
        let failed = store
            .write(Statements::One, |_| -> Result<Done<()>, StoreError> {
                panic!("a bug in a write")
            })
            .await;
        assert!(matches!(failed, Err(StoreError::Database(_))), "{failed:?}");
        store.create_user("u", "alice", 3).await.unwrap();
        assert_eq!(store.user("u").await.unwrap().unwrap().balance, 3);
    }

    #[tokio::test]
    async fn sessions_and_their_logs_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let started = EventKind::SessionStarted {
            tools: vec![],
            analysis_cost: 0,
        };
        let written = {
            let store = SqliteStore::open(&path).await.unwrap();
            store.create_user("u1", "alice", 5).await.unwrap();
            store
                .create_session(&meta("a", "u1", 1), &started, 2)
                .await
                .unwrap();
            store.append("a", &ran("bandit", 100, None)).await.unwrap();
            store.events_after("a", 0, 10).await.unwrap()
        };
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.session("a").await.unwrap().unwrap(), meta("a", "u1", 1));
        assert_eq!(store.events_after("a", 0, 10).await.unwrap(), written);
        assert_eq!(store.user("u1").await.unwrap().unwrap().balance, 3);
        let (listed, total) = store.list_sessions("u1", 10, None).await.unwrap();
        assert_eq!((listed.len(), total), (1, 1));
        let next = store
            .append("a", &ran("semgrep", 1, None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.seq, 3, "numbering goes on");
    }

    #[tokio::test]
    async fn a_database_of_the_previous_schema_keeps_its_session_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        {
            let options = SqliteConnectOptions::new()
                .filename(&path)
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
                &EventKind::SessionStarted {
                    tools: vec![],
                    analysis_cost: 0,
                },
                0,
            )
            .await
            .unwrap();
        assert_eq!(store.list_sessions("u2", 10, None).await.unwrap().1, 2);
    }

    #[tokio::test]
    async fn a_database_written_by_the_release_of_2026_12_03_still_loads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let dump = include_str!("../../tests/fixtures/store/release-2026-12-03.sql");
        Connection::open(&path).unwrap().execute_batch(dump).unwrap();
        let raw = Connection::open(&path).unwrap();
        let mut written = crate::store::conformance::Written::default();
        let mut metas = raw.prepare("SELECT id, meta FROM sessions").unwrap();
        for row in metas.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap() {
            let (id, meta): (String, String) = row.unwrap();
            written.metas.insert(id, meta);
        }
        let mut payloads = raw
            .prepare("SELECT session_id, payload FROM events ORDER BY session_id, seq")
            .unwrap();
        for row in payloads
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
        {
            let (id, payload): (String, String) = row.unwrap();
            written.payloads.entry(id).or_default().push(payload);
        }
        let store = SqliteStore::open(&path).await.unwrap();

        let (kinds, balance) = crate::store::conformance::loads_whole(&store, "local", &written).await;
        assert_eq!(
            kinds,
            [
                ("analysis", 3),
                ("cancel_requested", 1),
                ("session_finished", 4),
                ("session_running", 4),
                ("session_started", 4),
                ("tool_finished", 100),
                ("tool_started", 11)
            ]
        );
        assert_eq!(store.ledger("local", 100).await.unwrap().len(), 8);
        assert_eq!(balance, 999_988);
    }
}
