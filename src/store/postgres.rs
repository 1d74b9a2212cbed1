//! The store on PostgreSQL, for several nodes sharing one database: the
//! same records as the SQLite store, in the same tables.
//!
//! Appends are made in batches: every append waiting on a node goes in
//! one call of the `livescan_append_many` function (one round trip, one
//! commit). Each locks its session's row, which holds the head of the
//! log (the last sequence number and time, and whether the log holds a
//! cancel or the end), sessions in the order of their ids so that batches
//! never deadlock: sequence numbers are handed
//! out in commit order, so a reader that resumes after `seq` never skips a
//! row that committed late, and the rules on what may follow what are
//! decided on the head, not on a read that a concurrent writer could
//! change. Unique indexes keep one report per tool and one end per session
//! whatever the writers race. Credits move only in the transactions that
//! record a session's start and its end, after the owner's row is locked.
//! Migrations run under an advisory lock, so nodes that start at once
//! apply each of them once.
//!
//! As a [`SharedStore`], it leases each unfinished session to one node (the
//! lease on the session's row, timed by the database's clock), and once an
//! append has committed, the node that made it announces `(session id,
//! seq)` with NOTIFY to every node that LISTENs. It also
//! keeps the tools' circuits, and uploaded archives in chunks for any node
//! to unpack.

use super::rows::{self, AccountRow, EventRow, KeyRow, LedgerRow, ListedRow, Stored, ToolRunsRow, UploadRow};
use super::{
    CircuitRecord, EventFeed, Heard, HeldLease, ListedSession, SessionEnd, SharedStore, Store, StoreError,
    ToolRuns,
};
use crate::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, LedgerKind, Refund, SessionListing, SessionMeta,
    Upload, time,
};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use sqlx::{Connection, Postgres};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Schema migrations, applied in order; `schema_migrations` records which ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_schema.sql"),
    include_str!("../../migrations/postgres/0002_leases.sql"),
    include_str!("../../migrations/postgres/0003_append_function.sql"),
    include_str!("../../migrations/postgres/0004_circuits.sql"),
    include_str!("../../migrations/postgres/0005_upload_archives.sql"),
    include_str!("../../migrations/postgres/0006_announce_after_commit.sql"),
    include_str!("../../migrations/postgres/0007_batched_appends.sql"),
];

/// The size of the chunks an archive is kept in.
const ARCHIVE_CHUNK: usize = 1 << 20;

/// The channel every stored event is announced on, as `<session id> <seq>`.
const EVENTS_CHANNEL: &str = "livescan_events";

/// The most announcements sent in one statement.
const ANNOUNCE_BATCH: usize = 1024;

/// The most appends made in one statement.
const APPEND_BATCH: usize = 256;

/// The database's clock, in milliseconds since the epoch.
const NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// The unfinished sessions leased to the node `$1`, locked in the order
/// of their ids, as batches of appends lock them, so that renewing or
/// releasing leases never deadlocks with a batch.
const HELD_IN_ORDER: &str =
    "SELECT id FROM sessions WHERE lease_node = $1 AND NOT finished ORDER BY id COLLATE \"C\" FOR UPDATE";

/// The advisory lock held while migrating: "livescan" in ASCII.
const MIGRATION_LOCK: i64 = 0x6c69_7665_7363_616e;

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// Events committed here, for [`announce`] to tell every node of.
    announcements: Announcements,
    /// Appends waiting for [`append_batches`] to make them.
    appends: tokio::sync::mpsc::UnboundedSender<QueuedAppend>,
    /// A database made for this store alone, dropped with the last handle.
    _temporary: Option<Arc<TemporaryDatabase>>,
}

type Tx = sqlx::Transaction<'static, Postgres>;

/// Where committed events go to be announced: `(session id, seq)`.
type Announcements = tokio::sync::mpsc::UnboundedSender<(String, u64)>;

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://user:password@host:port/database`),
    /// with at most `pool_size` connections, and brings its schema up to
    /// date. Errors name the database without its password.
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let shown = redacted(url);
        let options: PgConnectOptions = url
            .parse()
            .map_err(|err| StoreError::Database(format!("{shown} is not a PostgreSQL URL: {err}")))?;
        // One connection first, for the reason it fails (a pool says only
        // that it timed out).
        PgConnection::connect_with(&options)
            .await
            .map_err(|err| StoreError::from(err).within(&format!("cannot connect to {shown}")))?
            .close()
            .await?;
        Self::connect_with(options, pool_size, None)
            .await
            .map_err(|err| err.within(&format!("cannot use the database {shown}")))
    }

    /// A database of its own, created on the server `admin_url` connects
    /// to and dropped when the last handle goes: one per test.
    pub async fn temporary(admin_url: &str) -> Result<Self, StoreError> {
        let database = Arc::new(TemporaryDatabase::create(admin_url).await?);
        Self::connect_with(database.options(), 16, Some(database)).await
    }

    /// Connects to the database `options` name and brings its schema up
    /// to date.
    async fn connect_with(
        options: PgConnectOptions,
        pool_size: u32,
        temporary: Option<Arc<TemporaryDatabase>>,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(2))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        migrate(&pool, MIGRATIONS.len()).await?;
        let (announcements, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(announce(pool.clone(), queue));
        let (appends, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(append_batches(pool.clone(), queue, announcements.clone()));
        Ok(PostgresStore {
            pool,
            announcements,
            appends,
            _temporary: temporary,
        })
    }

    /// Tells every node that `event` of `session_id` was committed.
    fn announce(&self, session_id: &str, event: &Event) {
        announce_to(&self.announcements, session_id, event);
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }
}

/// Queues the announcement that `event` of `session_id` was committed.
fn announce_to(announcements: &Announcements, session_id: &str, event: &Event) {
    // Only a store whose last handle is gone stops announcing.
    let _ = announcements.send((session_id.to_string(), event.seq));
}

/// What a batch of committed events needs announced, as `<session id>
/// <seq>`: each session's newest event (a node that hears of it reads every
/// event up to it), and the first event of each new session (which tells
/// workers there is a session to claim).
fn announcements_of(batch: &[(String, u64)]) -> Vec<String> {
    let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
    let mut payloads = Vec::new();
    for (session_id, seq) in batch {
        if *seq == 1 {
            payloads.push(format!("{session_id} 1"));
        }
        let newest = newest.entry(session_id).or_default();
        *newest = (*newest).max(*seq);
    }
    payloads.extend(
        newest
            .into_iter()
            .filter(|&(_, seq)| seq > 1)
            .map(|(session_id, seq)| format!("{session_id} {seq}")),
    );
    payloads
}

/// Announces events committed by this node on [`EVENTS_CHANNEL`], those
/// waiting in one statement ([`announcements_of`] them). Apart
/// from the appends: a transaction that notifies holds a database-wide
/// lock through its commit's flush to disk, which would make appends
/// commit one at a time. PostgreSQL delivers them to every listening node
/// in the order sent. One that is lost (the database gone, or this node
/// killed between a commit and its announcement) is covered by the
/// watchers' fallback read, and by their reading everything again when
/// the feed comes back.
async fn announce(pool: PgPool, mut queue: tokio::sync::mpsc::UnboundedReceiver<(String, u64)>) {
    let mut batch = Vec::with_capacity(ANNOUNCE_BATCH);
    while queue.recv_many(&mut batch, ANNOUNCE_BATCH).await > 0 {
        let sent = sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::TEXT[]) AS payload")
            .bind(EVENTS_CHANNEL)
            .bind(announcements_of(&batch))
            .execute(&pool)
            .await;
        if let Err(err) = sent {
            tracing::warn!(error = %err, events = batch.len(), "could not announce stored events; watchers on other nodes read them at their next heartbeat");
        }
        batch.clear();
    }
}

/// Brings the schema up to version `up_to` (a count of [`MIGRATIONS`]).
async fn migrate(pool: &PgPool, up_to: usize) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
        .execute(&mut *tx)
        .await?;
    let applied: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .fetch_one(&mut *tx)
        .await?;
    if applied as usize > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database's schema is version {applied}, newer than this livescan knows ({})",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().take(up_to).skip(applied as usize) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(index as i64 + 1)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `url` with its password, if any, shown as `***`.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        // Not a URL with a host: show no more than its scheme, which
        // cannot hold a password.
        _ => match url.split_once(':') {
            Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphanumeric()) => format!("`{scheme}:…`"),
            _ => "the given URL".to_string(),
        },
    }
}

/// A database created for one store (or one test's processes) and
/// dropped, connections and all, with the last handle.
#[derive(Debug)]
pub struct TemporaryDatabase {
    admin: PgConnectOptions,
    admin_url: String,
    name: String,
}

impl TemporaryDatabase {
    /// A new, empty database on the server `admin_url` connects to.
    pub async fn create(admin_url: &str) -> Result<TemporaryDatabase, StoreError> {
        let admin: PgConnectOptions = admin_url
            .parse()
            .map_err(|err| StoreError::Database(format!("the database URL is not valid: {err}")))?;
        let name = format!("livescan_tmp_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin).await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(TemporaryDatabase {
            admin,
            admin_url: admin_url.to_string(),
            name,
        })
    }

    /// Its URL: the server's, naming this database.
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&self.admin_url).expect("the URL parsed when the database was made");
        url.set_path(&self.name);
        url.to_string()
    }

    /// How to connect to it.
    fn options(&self) -> PgConnectOptions {
        self.admin.clone().database(&self.name)
    }
}

impl Drop for TemporaryDatabase {
    /// Drops the database from a thread of its own (a drop cannot await),
    /// forcing off the pool's connections, and waits for it.
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the dropping thread panicked".into()));
        if let Err(err) = dropped {
            tracing::warn!(database = %self.name, error = %err, "could not drop a temporary database");
        }
    }
}

/// Whether `err` is a violation of the constraint named `constraint`.
fn violates(err: &sqlx::Error, constraint: &str) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.constraint() == Some(constraint))
}

fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_foreign_key_violation())
}

/// Appends `event` to the session's log on `conn` (in one round trip, by
/// the `livescan_append` function), or nothing when the log's head says it
/// may not follow (after the end, but for the narrative; a tool start after
/// a cancel) or a unique index says it is a second one of its kind.
async fn append_in(
    conn: &mut PgConnection,
    session_id: &str,
    event: &Stored,
) -> Result<Option<Event>, StoreError> {
    let run = event.run();
    let appended: Option<(i64, i64)> =
        sqlx::query_as("SELECT seq, at_ms FROM livescan_append($1, $2, $3, $4, $5, $6, $7)")
            .bind(session_id)
            .bind(event.name)
            .bind(&event.tool)
            .bind(&event.payload)
            .bind(time::now_millis())
            .bind(run.as_ref().map(|run| run.duration_ms))
            .bind(run.and_then(|run| run.version))
            .fetch_optional(&mut *conn)
            .await?;
    match appended {
        None => Ok(None),
        Some((seq, at_ms)) => appended_event(session_id, event, seq, at_ms),
    }
}

/// An append waiting for the next batch, and where its answer goes.
struct QueuedAppend {
    session_id: String,
    event: Stored,
    answer: tokio::sync::oneshot::Sender<Result<Option<Event>, StoreError>>,
}

/// Makes the queued appends, every one waiting in one statement (so a busy
/// node commits once for many events), until every store handle is gone,
/// and announces each once it has committed. One batch at a time: appends
/// that arrive meanwhile make the next one, so batches grow with the load
/// and a lone append costs one round trip, as before.
async fn append_batches(
    pool: PgPool,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<QueuedAppend>,
    announcements: Announcements,
) {
    let mut batch = Vec::with_capacity(APPEND_BATCH);
    while queue.recv_many(&mut batch, APPEND_BATCH).await > 0 {
        // Every batch locks sessions' rows in the order of their ids, so
        // two batches never deadlock; the sort is stable, so each
        // session's appends keep the order they came in.
        batch.sort_by(|a: &QueuedAppend, b| a.session_id.cmp(&b.session_id));
        let answers = match append_many(&pool, &batch).await {
            Ok(answers) => answers,
            Err(err @ StoreError::Unavailable(_)) => vec![Err(err); batch.len()],
            // One append the database refused fails its whole batch:
            // each on its own, for its own answer.
            Err(_) => {
                let mut answers = Vec::with_capacity(batch.len());
                for queued in &batch {
                    answers.push(append_alone(&pool, queued).await);
                }
                answers
            }
        };
        for (queued, answer) in batch.drain(..).zip(answers) {
            if let Ok(Some(event)) = &answer {
                announce_to(&announcements, &queued.session_id, event);
            }
            // A caller that stopped waiting wants no answer.
            let _ = queued.answer.send(answer);
        }
    }
}

/// Makes `batch` in one statement, a transaction of its own: the answer
/// of each append, in the batch's order.
async fn append_many(
    pool: &PgPool,
    batch: &[QueuedAppend],
) -> Result<Vec<Result<Option<Event>, StoreError>>, StoreError> {
    let mut columns = AppendColumns::default();
    for queued in batch {
        columns.push(&queued.session_id, &queued.event);
    }
    let appended: Vec<(i32, i64, i64)> =
        sqlx::query_as("SELECT item, seq, at_ms FROM livescan_append_many($1, $2, $3, $4, $5, $6, $7)")
            .bind(&columns.sessions)
            .bind(&columns.kinds)
            .bind(&columns.tools)
            .bind(&columns.payloads)
            .bind(time::now_millis())
            .bind(&columns.run_ms)
            .bind(&columns.versions)
            .fetch_all(pool)
            .await?;
    let mut answers: Vec<Result<Option<Event>, StoreError>> = (0..batch.len()).map(|_| Ok(None)).collect();
    for (item, seq, at_ms) in appended {
        let index = usize::try_from(item - 1)
            .ok()
            .filter(|&index| index < batch.len())
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the database answered for append {item} of {}",
                    batch.len()
                ))
            })?;
        answers[index] = appended_event(&batch[index].session_id, &batch[index].event, seq, at_ms);
    }
    Ok(answers)
}

/// Makes one append of a batch that failed, in a transaction of its own.
async fn append_alone(pool: &PgPool, queued: &QueuedAppend) -> Result<Option<Event>, StoreError> {
    let mut conn = pool.acquire().await?;
    append_in(&mut conn, &queued.session_id, &queued.event).await
}

/// A batch of appends as the columns `livescan_append_many` takes.
#[derive(Default)]
struct AppendColumns<'a> {
    sessions: Vec<&'a str>,
    kinds: Vec<&'static str>,
    tools: Vec<Option<&'a str>>,
    payloads: Vec<&'a str>,
    run_ms: Vec<Option<i64>>,
    versions: Vec<Option<String>>,
}

impl<'a> AppendColumns<'a> {
    fn push(&mut self, session_id: &'a str, event: &'a Stored) {
        let run = event.run();
        self.sessions.push(session_id);
        self.kinds.push(event.name);
        self.tools.push(event.tool.as_deref());
        self.payloads.push(&event.payload);
        self.run_ms.push(run.as_ref().map(|run| run.duration_ms));
        self.versions.push(run.and_then(|run| run.version));
    }
}

/// The event an append stored as `seq` at `at_ms` (seq -1: its session
/// does not exist).
fn appended_event(
    session_id: &str,
    event: &Stored,
    seq: i64,
    at_ms: i64,
) -> Result<Option<Event>, StoreError> {
    if seq == -1 {
        return Err(StoreError::UnknownSession(session_id.to_string()));
    }
    Ok(Some(Event {
        seq: seq as u64,
        at: time::from_millis(at_ms),
        kind: event.kind.clone(),
    }))
}

/// Adds `delta` to a user's balance, locking the user's row; `None` when
/// the user does not exist or the balance would go below zero.
async fn move_credits(tx: &mut PgConnection, user_id: &str, delta: i64) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE users SET balance = balance + $2 WHERE id = $1 AND balance + $2 >= 0 RETURNING balance",
    )
    .bind(user_id)
    .bind(delta)
    .fetch_optional(&mut *tx)
    .await?)
}

/// One ledger line, written inside the transaction that moved the credits.
async fn write_ledger(
    tx: &mut PgConnection,
    user_id: &str,
    kind: LedgerKind,
    amount: i64,
    balance_after: i64,
    session_id: Option<&str>,
    note: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ledger (user_id, at_ms, kind, amount, balance_after, session_id, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(user_id)
    .bind(time::now_millis())
    .bind(kind.as_str())
    .bind(amount)
    .bind(balance_after)
    .bind(session_id)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, user_id, name, hash, created_ms, expires_ms, revoked_ms";

#[async_trait]
impl Store for PostgresStore {
    async fn create_session(
        &self,
        meta: &SessionMeta,
        first: &EventKind,
        cost: u64,
    ) -> Result<Event, StoreError> {
        let first = Stored::new(first.clone())?;
        let cost = rows::credits(cost)?;
        let user = meta.user_id.as_str();
        let mut tx = self.begin().await?;
        if cost > 0 {
            let Some(balance) = move_credits(&mut tx, user, -cost).await? else {
                let balance: Option<i64> = sqlx::query_scalar("SELECT balance FROM users WHERE id = $1")
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
                return Err(match balance {
                    Some(balance) => StoreError::InsufficientCredits {
                        required: cost as u64,
                        balance,
                    },
                    None => StoreError::UnknownUser(user.to_string()),
                });
            };
            let session = Some(meta.session_id.as_str());
            write_ledger(&mut tx, user, LedgerKind::Reserve, -cost, balance, session, "").await?;
        }
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_ms, meta, scan_id) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&meta.session_id)
        .bind(user)
        .bind(meta.created_at.timestamp_millis())
        .bind(rows::encode(meta)?)
        .bind(&meta.scan_id)
        .execute(&mut *tx)
        .await
        .map_err(|err| {
            if violates(&err, "sessions_scan_id_key") {
                StoreError::ScanIdTaken(meta.scan_id.clone())
            } else {
                err.into()
            }
        })?;
        sqlx::query(
            "INSERT INTO session_counts (user_id, sessions) VALUES ($1, 1)
             ON CONFLICT (user_id) DO UPDATE SET sessions = session_counts.sessions + 1",
        )
        .bind(user)
        .execute(&mut *tx)
        .await?;
        let event = append_in(&mut tx, &meta.session_id, &first)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("session {} already had events", meta.session_id)))?;
        tx.commit().await?;
        self.announce(&meta.session_id, &event);
        Ok(event)
    }

    async fn finish_session(
        &self,
        meta: &SessionMeta,
        end: &SessionEnd,
    ) -> Result<Option<Event>, StoreError> {
        let (user, session_id) = (meta.user_id.as_str(), meta.session_id.as_str());
        let amount = rows::credits(end.refund.credits)?;
        let due = &end.refund;
        let mut tx = self.begin().await?;
        let refund = if due.tools.is_empty() && !due.analysis {
            None
        } else {
            let balance = move_credits(&mut tx, user, amount)
                .await?
                .ok_or_else(|| StoreError::UnknownUser(user.to_string()))?;
            Some(Refund {
                refunded_credits: due.credits,
                tools_refunded: due.tools.clone(),
                analysis_refunded: due.analysis,
                new_balance: balance,
            })
        };
        let kind = EventKind::SessionFinished {
            status: end.status,
            error: end.error.clone(),
            refund: refund.clone(),
            narrative_follows: end.narrative_follows,
        };
        let Some(event) = append_in(&mut tx, session_id, &Stored::new(kind)?).await? else {
            // Already ended (and refunded then): the rollback takes the
            // balance back.
            return Ok(None);
        };
        if let Some(refund) = refund.filter(|r| r.refunded_credits > 0) {
            let balance = refund.new_balance;
            write_ledger(
                &mut tx,
                user,
                LedgerKind::Refund,
                amount,
                balance,
                Some(session_id),
                "",
            )
            .await?;
        }
        tx.commit().await?;
        self.announce(session_id, &event);
        Ok(Some(event))
    }

    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let queued = QueuedAppend {
            session_id: session_id.to_string(),
            event: Stored::new(kind.clone())?,
            answer,
        };
        let gone = || StoreError::Unavailable("the store's appender has stopped".to_string());
        self.appends.send(queued).map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    async fn events_after(&self, session_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        let found: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, at_ms, payload FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(session_id)
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows::all(found)
    }

    async fn session(&self, session_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        let meta: Option<String> = sqlx::query_scalar("SELECT meta FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        meta.as_deref().map(rows::meta).transpose()
    }

    async fn session_by_scan_id(&self, scan_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        let meta: Option<String> = sqlx::query_scalar("SELECT meta FROM sessions WHERE scan_id = $1")
            .bind(scan_id)
            .fetch_optional(&self.pool)
            .await?;
        meta.as_deref().map(rows::meta).transpose()
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        limit: u32,
        before: Option<&str>,
    ) -> Result<(Vec<ListedSession>, u64), StoreError> {
        let total: Option<i64> = sqlx::query_scalar("SELECT sessions FROM session_counts WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        let total = total.unwrap_or(0) as u64;
        // Keyset paging over the (user, time, position) index.
        let cursor = match before {
            None => (i64::MAX, i64::MAX),
            Some(before) => {
                let cursor: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT created_ms, position FROM sessions WHERE id = $1 AND user_id = $2",
                )
                .bind(before)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                match cursor {
                    Some(cursor) => cursor,
                    None => return Ok((Vec::new(), total)),
                }
            }
        };
        let listed: Vec<ListedRow> = sqlx::query_as(
            "SELECT meta, listing FROM sessions WHERE user_id = $1 AND (created_ms, position) < ($3, $4)
             ORDER BY created_ms DESC, position DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .bind(cursor.0)
        .bind(cursor.1)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows::all(listed)?, total))
    }

    async fn save_listing(&self, session_id: &str, listing: &SessionListing) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET listing = $2 WHERE id = $1")
            .bind(session_id)
            .bind(rows::encode(listing)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn unfinished_sessions(&self) -> Result<Vec<SessionMeta>, StoreError> {
        let metas: Vec<String> =
            sqlx::query_scalar("SELECT meta FROM sessions WHERE NOT finished ORDER BY created_ms, position")
                .fetch_all(&self.pool)
                .await?;
        metas.iter().map(|meta| rows::meta(meta)).collect()
    }

    async fn create_user(&self, user_id: &str, name: &str, credits: u64) -> Result<Account, StoreError> {
        let amount = rows::credits(credits)?;
        let now = time::now_millis();
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO users (id, name, balance, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(user_id)
            .bind(name)
            .bind(amount)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if amount > 0 {
            write_ledger(
                &mut tx,
                user_id,
                LedgerKind::Grant,
                amount,
                amount,
                None,
                "opening balance",
            )
            .await?;
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
        let found: Option<AccountRow> =
            sqlx::query_as("SELECT id, name, balance, created_ms FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(Account::from))
    }

    async fn grant(&self, user_id: &str, credits: u64, note: &str) -> Result<i64, StoreError> {
        let amount = rows::credits(credits)?;
        let mut tx = self.begin().await?;
        let Some(balance) = move_credits(&mut tx, user_id, amount).await? else {
            return Err(StoreError::UnknownUser(user_id.to_string()));
        };
        write_ledger(&mut tx, user_id, LedgerKind::Grant, amount, balance, None, note).await?;
        tx.commit().await?;
        Ok(balance)
    }

    async fn tool_runs(&self) -> Result<BTreeMap<String, ToolRuns>, StoreError> {
        let found: Vec<ToolRunsRow> = sqlx::query_as("SELECT tool, runs, total_ms, version FROM tool_runs")
            .fetch_all(&self.pool)
            .await?;
        Ok(found.into_iter().map(<(String, ToolRuns)>::from).collect())
    }

    async fn ledger(&self, user_id: &str, limit: u32) -> Result<Vec<LedgerEntry>, StoreError> {
        let found: Vec<LedgerRow> = sqlx::query_as(
            "SELECT id, at_ms, kind, amount, balance_after, session_id, note FROM ledger
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows::all(found)
    }

    async fn add_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&key.key_id)
        .bind(&key.user_id)
        .bind(&key.name)
        .bind(&key.hash)
        .bind(key.created_at.timestamp_millis())
        .bind(key.expires_at.map(|t| t.timestamp_millis()))
        .bind(key.revoked_at.map(|t| t.timestamp_millis()))
        .execute(&self.pool)
        .await
        .map_err(|err| {
            if is_foreign_key_violation(&err) {
                StoreError::UnknownUser(key.user_id.clone())
            } else {
                err.into()
            }
        })?;
        Ok(())
    }

    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let found: Option<KeyRow> =
            sqlx::query_as(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(KeyRecord::from))
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let found: Vec<KeyRow> = sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(found.into_iter().map(KeyRecord::from).collect())
    }

    async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, StoreError> {
        let revoked: Option<KeyRow> = sqlx::query_as(&format!(
            "UPDATE api_keys SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1 RETURNING {KEY_COLUMNS}"
        ))
        .bind(key_id)
        .bind(time::now_millis())
        .fetch_optional(&self.pool)
        .await?;
        revoked
            .map(KeyRecord::from)
            .ok_or_else(|| StoreError::UnknownKey(key_id.to_string()))
    }

    async fn add_upload(&self, upload: &Upload, quota: u64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // The owner's row is locked, so two uploads cannot both fit a
        // quota that has room for one.
        let owner: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1 FOR UPDATE")
            .bind(&upload.user_id)
            .fetch_optional(&mut *tx)
            .await?;
        if owner.is_none() {
            return Err(StoreError::UnknownUser(upload.user_id.clone()));
        }
        let inserted = sqlx::query(
            "INSERT INTO uploads (id, user_id, digest, bytes, files, unpacked_bytes, created_ms, last_used_ms, config)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $10
             WHERE (SELECT COALESCE(SUM(bytes), 0) FROM uploads WHERE user_id = $2) + $4 <= $9",
        )
        .bind(&upload.upload_id)
        .bind(&upload.user_id)
        .bind(&upload.digest)
        .bind(upload.bytes as i64)
        .bind(upload.files as i64)
        .bind(upload.unpacked_bytes as i64)
        .bind(upload.created_at.timestamp_millis())
        .bind(upload.last_used_at.timestamp_millis())
        .bind(quota.min(i64::MAX as u64) as i64)
        .bind(&upload.config)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn upload(&self, upload_id: &str) -> Result<Option<Upload>, StoreError> {
        let found: Option<UploadRow> = sqlx::query_as(
            "SELECT id, user_id, digest, bytes, files, unpacked_bytes, created_ms, last_used_ms, config
             FROM uploads WHERE id = $1",
        )
        .bind(upload_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(Upload::from))
    }

    async fn use_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE uploads SET last_used_ms = GREATEST(last_used_ms, $2) WHERE id = $1")
            .bind(upload_id)
            .bind(time::now_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn remove_unused_uploads(&self, unused_since: i64) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin().await?;
        let removed: Vec<String> =
            sqlx::query_scalar("DELETE FROM uploads WHERE last_used_ms < $1 RETURNING digest")
                .bind(unused_since)
                .fetch_all(&mut *tx)
                .await?;
        let mut orphaned = Vec::new();
        for digest in removed {
            let in_use: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM uploads WHERE digest = $1)")
                .bind(&digest)
                .fetch_one(&mut *tx)
                .await?;
            if !in_use && !orphaned.contains(&digest) {
                orphaned.push(digest);
            }
        }
        // Judged again as it is deleted: an upload of the same archive
        // that committed meanwhile keeps it.
        sqlx::query(
            "DELETE FROM upload_archives AS a WHERE a.digest = ANY($1)
             AND NOT EXISTS (SELECT 1 FROM uploads AS u WHERE u.digest = a.digest)",
        )
        .bind(&orphaned)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(orphaned)
    }
}

#[async_trait]
impl SharedStore for PostgresStore {
    async fn claim_sessions(
        &self,
        node: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<SessionMeta>, StoreError> {
        // SKIP LOCKED: a session another node is claiming (or appending
        // to) this instant is left for the next round.
        let metas: Vec<String> = sqlx::query_scalar(&format!(
            "UPDATE sessions SET lease_node = $1, lease_until_ms = {NOW_MS} + $2
             WHERE id IN (
                 SELECT id FROM sessions
                 WHERE NOT finished AND (lease_until_ms IS NULL OR lease_until_ms < {NOW_MS})
                 ORDER BY created_ms, position LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING meta"
        ))
        .bind(node)
        .bind(lease.as_millis() as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut metas = metas
            .iter()
            .map(|meta| rows::meta(meta))
            .collect::<Result<Vec<_>, _>>()?;
        metas.sort_by_key(|meta| meta.created_at);
        Ok(metas)
    }

    async fn claim_session(&self, session_id: &str, node: &str, lease: Duration) -> Result<bool, StoreError> {
        let claimed = sqlx::query(&format!(
            "UPDATE sessions SET lease_node = $2, lease_until_ms = {NOW_MS} + $3
             WHERE id = $1 AND NOT finished
               AND (lease_node IS NULL OR lease_node = $2 OR lease_until_ms < {NOW_MS})"
        ))
        .bind(session_id)
        .bind(node)
        .bind(lease.as_millis() as i64)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn renew_leases(&self, node: &str, lease: Duration) -> Result<Vec<HeldLease>, StoreError> {
        let held: Vec<(String, bool)> = sqlx::query_as(&format!(
            "UPDATE sessions SET lease_until_ms = {NOW_MS} + $2
             WHERE id IN ({HELD_IN_ORDER})
             RETURNING id, cancelled"
        ))
        .bind(node)
        .bind(lease.as_millis() as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(held
            .into_iter()
            .map(|(session_id, cancelled)| HeldLease {
                session_id,
                cancelled,
            })
            .collect())
    }

    async fn release_leases(&self, node: &str) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE sessions SET lease_node = NULL, lease_until_ms = NULL WHERE id IN ({HELD_IN_ORDER})"
        ))
        .bind(node)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn listen(&self) -> Result<Box<dyn EventFeed>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        Ok(Box::new(PgFeed { listener }))
    }

    async fn put_archive(&self, digest: &str, path: &std::path::Path) -> Result<(), StoreError> {
        use tokio::io::AsyncReadExt;
        let unreadable =
            |err: std::io::Error| StoreError::Unavailable(format!("cannot read the archive: {err}"));
        let mut file = tokio::fs::File::open(path).await.map_err(unreadable)?;
        let bytes = file.metadata().await.map_err(unreadable)?.len();
        let mut tx = self.begin().await?;
        // Waits for a sweep deleting the same archive, then stores it anew.
        let new: Option<i32> = sqlx::query_scalar(&format!(
            "INSERT INTO upload_archives (digest, bytes, stored_ms) VALUES ($1, $2, {NOW_MS})
             ON CONFLICT (digest) DO NOTHING RETURNING 1"
        ))
        .bind(digest)
        .bind(bytes as i64)
        .fetch_optional(&mut *tx)
        .await?;
        if new.is_some() {
            let mut chunk = Vec::with_capacity(ARCHIVE_CHUNK);
            for index in 0.. {
                chunk.clear();
                (&mut file)
                    .take(ARCHIVE_CHUNK as u64)
                    .read_to_end(&mut chunk)
                    .await
                    .map_err(unreadable)?;
                if chunk.is_empty() {
                    break;
                }
                sqlx::query("INSERT INTO upload_archive_chunks (digest, chunk, data) VALUES ($1, $2, $3)")
                    .bind(digest)
                    .bind(index)
                    .bind(&chunk)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = $1")
            .bind(upload_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn get_archive(&self, digest: &str, into: &std::path::Path) -> Result<bool, StoreError> {
        use futures::TryStreamExt;
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncWriteExt;
        let mut tx = self.begin().await?;
        // One snapshot for the archive and its chunks, whatever a sweep does.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let kept: Option<i64> = sqlx::query_scalar("SELECT bytes FROM upload_archives WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(bytes) = kept else { return Ok(false) };
        let unwritable = |err: std::io::Error| {
            StoreError::Unavailable(format!("cannot write the archive to {}: {err}", into.display()))
        };
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(into)
            .await
            .map_err(unwritable)?;
        let mut hash = Sha256::new();
        let mut written = 0u64;
        let mut chunks = sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT data FROM upload_archive_chunks WHERE digest = $1 ORDER BY chunk",
        )
        .bind(digest)
        .fetch(&mut *tx);
        while let Some(chunk) = chunks.try_next().await? {
            hash.update(&chunk);
            written += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(unwritable)?;
        }
        drop(chunks);
        file.sync_all().await.map_err(unwritable)?;
        let read = format!("sha256:{:x}", hash.finalize());
        if written != bytes as u64 || read != digest {
            return Err(StoreError::Corrupt(format!(
                "the stored archive {digest} reads as {written} bytes with digest {read}, not {bytes} bytes"
            )));
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn circuits(&self) -> Result<(BTreeMap<String, CircuitRecord>, i64), StoreError> {
        // One row even when no circuit is stored, for the time.
        let rows: Vec<StoredCircuit> = sqlx::query_as(&format!(
            "SELECT tool, failures, open_until_ms, trial_since_ms, {NOW_MS} AS now_ms
             FROM (SELECT) AS now LEFT JOIN tool_circuits ON true"
        ))
        .fetch_all(&self.pool)
        .await?;
        let now_ms = rows.first().map_or_else(time::now_millis, |row| row.now_ms);
        let circuits = rows
            .into_iter()
            .filter_map(|row| Some((row.tool.clone()?, row.record())))
            .collect();
        Ok((circuits, now_ms))
    }

    async fn change_circuit(
        &self,
        tool: &str,
        change: &mut (dyn for<'r> FnMut(&'r mut CircuitRecord, i64) + Send),
    ) -> Result<CircuitRecord, StoreError> {
        let mut tx = self.begin().await?;
        // The upsert locks the row, and its time is read once the lock is held.
        let stored: StoredCircuit = sqlx::query_as(&format!(
            "INSERT INTO tool_circuits (tool) VALUES ($1)
             ON CONFLICT (tool) DO UPDATE SET tool = EXCLUDED.tool
             RETURNING tool, failures, open_until_ms, trial_since_ms, {NOW_MS} AS now_ms"
        ))
        .bind(tool)
        .fetch_one(&mut *tx)
        .await?;
        let mut record = stored.record();
        change(&mut record, stored.now_ms);
        sqlx::query(
            "UPDATE tool_circuits SET failures = $2, open_until_ms = $3, trial_since_ms = $4 WHERE tool = $1",
        )
        .bind(tool)
        .bind(record.failures as i32)
        .bind(record.open_until_ms)
        .bind(record.trial_since_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}

/// A row of `tool_circuits`, with the database's time.
#[derive(sqlx::FromRow)]
struct StoredCircuit {
    tool: Option<String>,
    failures: Option<i32>,
    open_until_ms: Option<i64>,
    trial_since_ms: Option<i64>,
    now_ms: i64,
}

impl StoredCircuit {
    fn record(&self) -> CircuitRecord {
        CircuitRecord {
            failures: self.failures.unwrap_or(0).max(0) as u32,
            open_until_ms: self.open_until_ms,
            trial_since_ms: self.trial_since_ms,
        }
    }
}

/// LISTEN on a connection of its own; reconnected (and said so) when cut.
struct PgFeed {
    listener: PgListener,
}

#[async_trait]
impl EventFeed for PgFeed {
    async fn next(&mut self) -> Result<Heard, StoreError> {
        loop {
            let Some(notification) = self.listener.try_recv().await? else {
                return Ok(Heard::Resumed);
            };
            let parsed = notification
                .payload()
                .rsplit_once(' ')
                .and_then(|(session, seq)| Some((session, seq.parse::<u64>().ok()?)));
            match parsed {
                Some((session_id, seq)) => {
                    return Ok(Heard::Event {
                        session_id: session_id.to_string(),
                        seq,
                    });
                }
                None => tracing::warn!(
                    payload = notification.payload(),
                    "ignored a malformed event notification"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The server the tests make their databases on.
    fn admin_url() -> String {
        std::env::var("LIVESCAN_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// Where no PostgreSQL answers: says so, past the test harness's
    /// capture so the skip shows in the run's output, and the test is
    /// skipped; but under CI, where that is a failure, it fails.
    fn no_server(err: StoreError) {
        let url = admin_url();
        if std::env::var_os("CI").is_some() {
            panic!("PostgreSQL at {url}: {err}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no PostgreSQL at {url} ({err}); LIVESCAN_TEST_POSTGRES sets the server"
        );
    }

    /// A fresh database of its own for one test, or `None` (see [`no_server`]).
    async fn fresh() -> Option<PostgresStore> {
        PostgresStore::temporary(&admin_url())
            .await
            .map_err(no_server)
            .ok()
    }

    crate::store::conformance::store_contract!(fresh().await);

    #[tokio::test]
    async fn nodes_that_start_at_once_migrate_once() {
        let Ok(database) = TemporaryDatabase::create(&admin_url()).await.map_err(no_server) else {
            return;
        };
        let starts = (0..4).map(|_| PostgresStore::connect_with(database.options(), 4, None));
        let nodes: Vec<PostgresStore> = futures::future::join_all(starts)
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&nodes[0].pool)
            .await
            .unwrap();
        assert_eq!(applied, (1..=MIGRATIONS.len() as i64).collect::<Vec<_>>());
        // Every node works on the one schema.
        nodes[1].create_user("u", "alice", 1).await.unwrap();
        assert_eq!(nodes[3].user("u").await.unwrap().unwrap().balance, 1);
    }

    async fn started_session(store: &PostgresStore, id: &str, created_ms: i64) {
        let meta = crate::store::conformance::meta(id, "u", created_ms);
        let first = EventKind::SessionStarted {
            tools: vec![],
            analysis_cost: 0,
        };
        store.create_session(&meta, &first, 0).await.unwrap();
    }

    #[tokio::test]
    async fn an_archive_is_kept_once_read_back_whole_and_goes_with_its_last_upload() {
        use sha2::{Digest, Sha256};
        let Some(store) = fresh().await else { return };
        let dir = tempfile::tempdir().unwrap();
        // Past two chunks, and not a whole number of them.
        let bytes: Vec<u8> = (0..2 * ARCHIVE_CHUNK + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let path = dir.path().join("archive.tar");
        std::fs::write(&path, &bytes).unwrap();
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));

        assert!(
            !store
                .get_archive(&digest, &dir.path().join("none"))
                .await
                .unwrap()
        );
        store.create_user("u", "alice", 0).await.unwrap();
        let upload = |id: &str, last_used_ms: i64| Upload {
            upload_id: id.into(),
            user_id: "u".into(),
            digest: digest.clone(),
            bytes: bytes.len() as u64,
            files: 1,
            unpacked_bytes: 1,
            created_at: time::from_millis(last_used_ms),
            last_used_at: time::from_millis(last_used_ms),
            config: None,
        };
        for (id, last_used_ms) in [("u1", 1), ("u2", 2)] {
            assert!(
                store
                    .add_upload(&upload(id, last_used_ms), u64::MAX)
                    .await
                    .unwrap()
            );
            store.put_archive(&digest, &path).await.unwrap();
        }
        let chunks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_archive_chunks")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(chunks, 3, "kept once");
        let read = dir.path().join("read.tar");
        assert!(store.get_archive(&digest, &read).await.unwrap());
        assert_eq!(std::fs::read(&read).unwrap(), bytes);

        // A chunk that changed is caught by the digest.
        sqlx::query("UPDATE upload_archive_chunks SET data = '\\x00' WHERE chunk = 1")
            .execute(&store.pool)
            .await
            .unwrap();
        let damaged = store.get_archive(&digest, &dir.path().join("damaged.tar")).await;
        assert!(matches!(damaged, Err(StoreError::Corrupt(_))), "{damaged:?}");

        // u2 keeps the archive while u1 goes; with u2 it goes too.
        store.use_upload("u2").await.unwrap();
        assert!(store.remove_unused_uploads(10).await.unwrap().is_empty());
        assert!(
            store
                .get_archive(&digest, &dir.path().join("kept.tar"))
                .await
                .is_err(),
            "still there, damaged"
        );
        sqlx::query("UPDATE uploads SET last_used_ms = 1")
            .execute(&store.pool)
            .await
            .unwrap();
        assert_eq!(
            store.remove_unused_uploads(10).await.unwrap(),
            std::slice::from_ref(&digest)
        );
        assert!(
            !store
                .get_archive(&digest, &dir.path().join("gone.tar"))
                .await
                .unwrap()
        );
        let chunks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM upload_archive_chunks")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(chunks, 0);
    }

    #[tokio::test]
    async fn a_database_written_by_the_release_of_2026_12_03_still_loads_whole() {
        let Ok(database) = TemporaryDatabase::create(&admin_url()).await.map_err(no_server) else {
            return;
        };
        // The schema as that release made it, then its rows, on a
        // connection of their own: the dump empties its search path.
        let pool = PgPool::connect_with(database.options()).await.unwrap();
        migrate(&pool, 5).await.unwrap();
        pool.close().await;
        let mut raw = PgConnection::connect_with(&database.options()).await.unwrap();
        let rows = include_str!("../../tests/fixtures/store/postgres-release-2026-12-03.sql");
        sqlx::raw_sql(rows).execute(&mut raw).await.unwrap();
        let mut written = crate::store::conformance::Written::default();
        let metas: Vec<(String, String)> = sqlx::query_as("SELECT id, meta FROM public.sessions")
            .fetch_all(&mut raw)
            .await
            .unwrap();
        written.metas.extend(metas);
        let payloads: Vec<(String, String)> =
            sqlx::query_as("SELECT session_id, payload FROM public.events ORDER BY session_id, seq")
                .fetch_all(&mut raw)
                .await
                .unwrap();
        for (id, payload) in payloads {
            written.payloads.entry(id).or_default().push(payload);
        }
        raw.close().await.unwrap();
        let store = PostgresStore::connect(&database.url(), 4).await.unwrap();

        let (kinds, balance) = crate::store::conformance::loads_whole(&store, "local", &written).await;
        assert_eq!(
            kinds,
            [
                ("analysis", 4),
                ("cancel_requested", 1),
                ("session_finished", 5),
                ("session_running", 5),
                ("session_started", 5),
                ("tool_finished", 26),
                ("tool_started", 26)
            ]
        );
        assert_eq!(store.ledger("local", 100).await.unwrap().len(), 8);
        assert_eq!(balance, 999_977);

        // The uploaded archive is still there, whole.
        let upload: String = sqlx::query_scalar("SELECT id FROM uploads")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let upload = store.upload(&upload).await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(
            store
                .get_archive(&upload.digest, &dir.path().join("a.tar"))
                .await
                .unwrap()
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("a.tar")).unwrap().len(),
            upload.bytes
        );
    }

    #[tokio::test]
    async fn errors_say_whether_trying_again_may_help() {
        let Some(store) = fresh().await else { return };
        let refused = sqlx::query("SELECT no_such_column FROM sessions")
            .execute(&store.pool)
            .await
            .unwrap_err();
        let refused = StoreError::from(refused);
        assert!(matches!(refused, StoreError::Database(_)), "{refused:?}");

        // A writer that read the row before another changed it cannot
        // update it: the database gives up on it, and a retry would pass.
        store.create_user("u", "alice", 1).await.unwrap();
        let mut stale = store.pool.begin().await.unwrap();
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *stale)
            .await
            .unwrap();
        sqlx::query("SELECT balance FROM users WHERE id = 'u'")
            .execute(&mut *stale)
            .await
            .unwrap();
        store.grant("u", 1, "meanwhile").await.unwrap();
        let raced = sqlx::query("UPDATE users SET balance = 0 WHERE id = 'u'")
            .execute(&mut *stale)
            .await
            .unwrap_err();
        let raced = StoreError::from(raced);
        assert!(matches!(raced, StoreError::Conflict(_)), "{raced:?}");

        let gone = PostgresStore::connect("postgres://postgres:secret@127.0.0.1:1/test", 2)
            .await
            .unwrap_err();
        assert!(matches!(gone, StoreError::Unavailable(_)), "{gone:?}");
        assert!(
            gone.to_string()
                .contains("cannot connect to postgres://postgres:***@127.0.0.1:1/test"),
            "{gone}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_tools_circuit_changes_under_its_lock_so_one_racer_takes_the_trial() {
        let Some(store) = fresh().await else { return };
        let (none, before) = store.circuits().await.unwrap();
        assert!(none.is_empty());
        assert!(
            (before - time::now_millis()).abs() < 60_000,
            "the database's time"
        );

        let opened = store
            .change_circuit("t", &mut |record, now_ms| {
                record.failures = 5;
                record.open_until_ms = Some(now_ms - 1);
            })
            .await
            .unwrap();
        assert_eq!((opened.failures, opened.trial_since_ms), (5, None));

        let racers = (0..12).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut took = false;
                store
                    .change_circuit("t", &mut |record, now_ms| {
                        took = record.trial_since_ms.is_none();
                        record.trial_since_ms.get_or_insert(now_ms);
                    })
                    .await
                    .unwrap();
                took
            })
        });
        let mut took = 0;
        for racer in racers {
            took += usize::from(racer.await.unwrap());
        }
        assert_eq!(took, 1, "one trial in all");

        let (circuits, now_ms) = store.circuits().await.unwrap();
        let stored = circuits["t"];
        assert_eq!(stored.failures, 5);
        assert!(stored.open_until_ms.unwrap() < now_ms);
        assert!(stored.trial_since_ms.is_some_and(|since| since <= now_ms));
        assert_eq!(circuits.len(), 1);
    }

    #[tokio::test]
    async fn a_session_is_leased_to_one_node_until_its_lease_runs_out() {
        let Some(store) = fresh().await else { return };
        store.create_user("u", "alice", 0).await.unwrap();
        started_session(&store, "s1", 1).await;
        started_session(&store, "s2", 2).await;
        let long = Duration::from_secs(60);

        // Oldest first, each to one node.
        let a = store.claim_sessions("a", long, 1).await.unwrap();
        assert_eq!(
            a.iter().map(|m| m.session_id.as_str()).collect::<Vec<_>>(),
            ["s1"]
        );
        let b = store.claim_sessions("b", long, 10).await.unwrap();
        assert_eq!(
            b.iter().map(|m| m.session_id.as_str()).collect::<Vec<_>>(),
            ["s2"]
        );
        assert!(store.claim_sessions("c", long, 10).await.unwrap().is_empty());
        assert!(!store.claim_session("s1", "b", long).await.unwrap(), "a holds s1");
        assert!(
            store.claim_session("s1", "a", long).await.unwrap(),
            "a claims its own again"
        );

        // A renewal says what the node holds, and whether it was cancelled.
        store
            .append("s1", &EventKind::CancelRequested)
            .await
            .unwrap()
            .unwrap();
        let held = store.renew_leases("a", long).await.unwrap();
        assert_eq!(
            held,
            [HeldLease {
                session_id: "s1".into(),
                cancelled: true
            }]
        );

        // A lease that runs out lets another node claim the session; the
        // first node's renewal no longer finds it.
        store.renew_leases("b", Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let c = store.claim_sessions("c", long, 10).await.unwrap();
        assert_eq!(
            c.iter().map(|m| m.session_id.as_str()).collect::<Vec<_>>(),
            ["s2"]
        );
        assert!(store.renew_leases("b", long).await.unwrap().is_empty());

        // Released leases are claimed at once; ended sessions never.
        store.release_leases("a").await.unwrap();
        let end = SessionEnd {
            status: crate::model::SessionStatus::Completed,
            error: None,
            refund: Default::default(),
            narrative_follows: false,
        };
        let s2 = store.session("s2").await.unwrap().unwrap();
        store.finish_session(&s2, &end).await.unwrap().unwrap();
        let d = store.claim_sessions("d", long, 10).await.unwrap();
        assert_eq!(
            d.iter().map(|m| m.session_id.as_str()).collect::<Vec<_>>(),
            ["s1"]
        );
        assert!(
            store.renew_leases("c", long).await.unwrap().is_empty(),
            "s2 has ended"
        );
    }

    /// Queues `event` for `session_id` straight onto the store's appender,
    /// as `append` does, and gives the answer to come.
    fn queue(
        store: &PostgresStore,
        session_id: &str,
        event: Stored,
    ) -> tokio::sync::oneshot::Receiver<Result<Option<Event>, StoreError>> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let session_id = session_id.to_string();
        store
            .appends
            .send(QueuedAppend {
                session_id,
                event,
                answer,
            })
            .unwrap();
        answered
    }

    #[tokio::test]
    async fn a_batch_answers_each_append_for_itself_even_when_the_database_refuses_one() {
        let Some(store) = fresh().await else { return };
        store.create_user("u", "alice", 0).await.unwrap();
        started_session(&store, "s1", 1).await;
        started_session(&store, "s2", 2).await;
        let ran = |tool| Stored::new(crate::store::conformance::ran(tool, 5, Some("1.0"))).unwrap();
        // A tool name PostgreSQL cannot store (a NUL byte) fails the
        // statement that holds it.
        let mut refused = ran("t");
        refused.tool = Some("bad\0tool".into());
        // Queued without yielding, so the appender takes them as one batch.
        let answers = [
            queue(&store, "s2", ran("t")),
            queue(&store, "s1", ran("t")),
            queue(&store, "s1", ran("t")),
            queue(&store, "missing", ran("t")),
            queue(&store, "s1", refused),
            queue(&store, "s2", ran("u")),
        ];
        let mut answered = Vec::new();
        for answer in answers {
            answered.push(answer.await.unwrap());
        }
        let seq =
            |answer: &Result<Option<Event>, StoreError>| answer.as_ref().unwrap().as_ref().map(|e| e.seq);
        assert_eq!(seq(&answered[0]), Some(2));
        assert_eq!(seq(&answered[1]), Some(2));
        // A second report of a tool is dropped, not an error.
        assert_eq!(seq(&answered[2]), None);
        assert!(matches!(answered[3], Err(StoreError::UnknownSession(ref id)) if id == "missing"));
        assert!(
            matches!(answered[4], Err(StoreError::Database(_))),
            "{:?}",
            answered[4]
        );
        assert_eq!(seq(&answered[5]), Some(3));
        for (session, last) in [("s1", 2), ("s2", 3)] {
            let events = store.events_after(session, 0, 10).await.unwrap();
            assert_eq!(
                events.iter().map(|e| e.seq).collect::<Vec<_>>(),
                (1..=last).collect::<Vec<_>>()
            );
        }
        // Each report stored counts one run; the dropped one does not.
        let runs = store.tool_runs().await.unwrap();
        assert_eq!((runs["t"].runs, runs["u"].runs), (2, 1));
    }

    #[tokio::test]
    async fn the_feed_hears_each_sessions_newest_event_and_each_start() {
        let Some(store) = fresh().await else { return };
        store.create_user("u", "alice", 0).await.unwrap();
        let mut feed = store.listen().await.unwrap();
        started_session(&store, "s1", 1).await;
        let report = crate::store::conformance::ran("t", 1, None);
        store
            .append("s1", &EventKind::SessionRunning)
            .await
            .unwrap()
            .unwrap();
        store.append("s1", &report).await.unwrap().unwrap();
        // A second report is dropped, so it is not announced.
        assert!(store.append("s1", &report).await.unwrap().is_none());
        started_session(&store, "s2", 2).await;
        // Events announced together may be told as the newest of them,
        // but the start of each session is always told.
        let mut heard = Vec::new();
        while !heard.contains(&("s1".to_string(), 3)) || !heard.contains(&("s2".to_string(), 1)) {
            let next = tokio::time::timeout(Duration::from_secs(5), feed.next()).await;
            match next.expect("heard in time").unwrap() {
                Heard::Event { session_id, seq } => heard.push((session_id, seq)),
                Heard::Resumed => panic!("the feed was not cut"),
            }
        }
        let of = |session: &str| {
            heard
                .iter()
                .filter(|(s, _)| s == session)
                .map(|(_, seq)| *seq)
                .collect::<Vec<_>>()
        };
        let s1 = of("s1");
        assert_eq!(s1.first(), Some(&1), "{heard:?}");
        assert!(s1.windows(2).all(|pair| pair[0] < pair[1]), "{heard:?}");
        assert_eq!(of("s2"), [1]);
        // Nothing more: the dropped report was not announced.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), feed.next())
                .await
                .is_err()
        );
    }

    #[test]
    fn a_batch_announces_each_sessions_newest_event_and_every_start() {
        let batch: Vec<(String, u64)> = [("a", 1), ("a", 2), ("b", 5), ("a", 3), ("b", 4), ("c", 1)]
            .into_iter()
            .map(|(session, seq)| (session.to_string(), seq))
            .collect();
        assert_eq!(announcements_of(&batch), ["a 1", "c 1", "a 3", "b 5"]);
    }

    #[test]
    fn a_shown_database_url_never_holds_its_password() {
        assert_eq!(
            redacted("postgres://livescan:s3cret@db.internal:5432/livescan"),
            "postgres://livescan:***@db.internal:5432/livescan"
        );
        assert_eq!(redacted("postgres://db/livescan"), "postgres://db/livescan");
        assert_eq!(redacted("postgres:s3cret@db"), "`postgres:…`");
        assert_eq!(redacted("nonsense s3cret"), "the given URL");
    }
}
