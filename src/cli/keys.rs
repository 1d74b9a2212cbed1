//! The operator's account commands (`keys create|list|revoke`, `credits
//! grant|show`) and the local key file: `serve` writes a key for the local
//! account into the data directory on first start (mode 0600), and `scan
//! --server` reads it when no key is given, so local use needs no set-up.
//! These commands open the database directly; SQLite's WAL lets them run
//! while a server uses the same data directory. With `--database-url`
//! they work on the PostgreSQL database a cluster shares instead.

use super::duration::BareNumber;
use anyhow::{Context, Result, anyhow};
use livescan::engine::accounts;
use livescan::model::{KeyState, Timestamp, time};
use livescan::store::{PostgresStore, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The local key's file name inside the data directory.
pub const LOCAL_KEY_FILE: &str = "local.key";
/// The database's file name inside the data directory.
pub const DATABASE_FILE: &str = "livescan.sqlite";

#[derive(clap::Args, Clone)]
pub struct DataDir {
    /// Where the SQLite database and the local key live (created if missing).
    #[arg(long = "data-dir", default_value = "livescan-data", env = "LIVESCAN_DATA_DIR")]
    pub path: PathBuf,
}

impl DataDir {
    pub fn database(&self) -> PathBuf {
        self.path.join(DATABASE_FILE)
    }

    /// Creates the data directory if needed and makes it private to this
    /// user: the directory 0700, the files in it 0600 (an older release left
    /// them world-readable), and this process's umask 077, so the database,
    /// its journal and every file made later are private too.
    pub fn prepare(&self) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        // SAFETY: umask(2) only sets this process's file-creation mask.
        unsafe {
            libc::umask(0o077);
        }
        let path = &self.path;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| format!("cannot create data directory {}", path.display()))?;
        let private = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot make {} private", path.display()))
        };
        private(path, 0o700)?;
        for entry in std::fs::read_dir(path).with_context(|| format!("cannot read {}", path.display()))? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_file() {
                private(&entry.path(), 0o600)?;
            } else if kind.is_dir() {
                private(&entry.path(), 0o700)?;
            }
        }
        Ok(())
    }

    pub async fn open_store(&self) -> Result<SqliteStore> {
        self.prepare()?;
        let database = self.database();
        SqliteStore::open(&database)
            .await
            .with_context(|| format!("cannot open {}", database.display()))
    }

    pub fn local_key_path(&self) -> PathBuf {
        self.path.join(LOCAL_KEY_FILE)
    }
}

/// Where the records are: the data directory's SQLite database, or the
/// PostgreSQL database that `--database-url` names.
#[derive(clap::Args, Clone)]
pub struct Database {
    #[command(flatten)]
    pub data_dir: DataDir,
    /// Keep the records in this PostgreSQL database instead of the data
    /// directory's SQLite file, e.g. `postgres://livescan:PASSWORD@db:5432/livescan`:
    /// how several nodes share one set of sessions and accounts.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Connections each node keeps open to PostgreSQL, besides the one it listens on.
pub const POSTGRES_POOL_SIZE: u32 = 16;

impl Database {
    /// Opens the store these arguments name.
    pub async fn open(&self) -> Result<Arc<dyn Store>> {
        Ok(match self.open_shared().await? {
            Some(shared) => shared as Arc<dyn Store>,
            None => Arc::new(self.data_dir.open_store().await?),
        })
    }

    /// The PostgreSQL store, when `--database-url` names one.
    pub async fn open_shared(&self) -> Result<Option<Arc<PostgresStore>>> {
        let Some(url) = self.database_url.as_deref().filter(|url| !url.is_empty()) else {
            return Ok(None);
        };
        let store = PostgresStore::connect(url, POSTGRES_POOL_SIZE)
            .await
            .map_err(|err| match err {
                livescan::store::StoreError::Unavailable(reason)
                | livescan::store::StoreError::Conflict(reason)
                | livescan::store::StoreError::Database(reason) => anyhow!("--database-url: {reason}"),
                other => anyhow!("--database-url: {other}"),
            })?;
        Ok(Some(Arc::new(store)))
    }

    /// Where the records are, for people (never with a password).
    pub fn describe(&self) -> String {
        match self.database_url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => livescan::store::postgres::redacted(url),
            None => self.data_dir.database().display().to_string(),
        }
    }
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Create an account with its first key (or, with --user, another key for
    /// an account). Prints the key, and nothing else, on stdout.
    Create {
        /// A name for the account (or for the key, with --user).
        #[arg(long)]
        name: String,
        /// Credits to start with (or to add, with --user).
        #[arg(long, default_value_t = 0)]
        credits: u64,
        /// Add the key to this existing account (a user id or one of its key ids).
        #[arg(long)]
        user: Option<String>,
        /// Make the key stop working after this long, e.g. `90d`, `12h`, `30m`.
        #[arg(long, value_parser = parse_expiry)]
        expires_in: Option<Duration>,
        #[command(flatten)]
        database: Database,
    },
    /// List every key with its account and balance (never the keys themselves).
    List {
        #[command(flatten)]
        database: Database,
    },
    /// Revoke a key at once; requests with it get 401 from then on.
    Revoke {
        /// The key's id (as `keys list` shows it) or the whole key.
        key: String,
        #[command(flatten)]
        database: Database,
    },
}

#[derive(clap::Subcommand)]
pub enum CreditsCommand {
    /// Add credits to an account.
    Grant {
        /// A user id, or the id of one of the account's keys.
        user: String,
        /// How many credits to add.
        credits: u64,
        /// Why, for the ledger.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        database: Database,
    },
    /// Show an account's balance and its newest ledger entries.
    Show {
        /// A user id, or the id of one of the account's keys.
        user: String,
        #[command(flatten)]
        database: Database,
    },
}

/// `30s`, `15m`, `12h`, `90d`: a number alone is refused, as it could
/// mean seconds or days.
fn parse_expiry(raw: &str) -> Result<Duration, String> {
    super::duration::parse(raw, BareNumber::Refused)
}

fn fmt_time(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_string(), |t| time::format(&t))
}

pub async fn keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Create {
            name,
            credits,
            user,
            expires_in,
            database,
        } => {
            let store = database.open().await?;
            let expires_at = expires_in
                .map(|d| time::from_millis(time::now_millis().saturating_add(d.as_millis() as i64)));
            let new = match user {
                None => {
                    accounts::create_account(&*store, &name, credits, expires_at)
                        .await?
                        .1
                }
                Some(user) => {
                    let user_id = accounts::resolve_user(&*store, &user).await?;
                    let new = accounts::add_key(&*store, &user_id, &name, expires_at).await?;
                    if credits > 0 {
                        accounts::grant(&*store, &user_id, credits, "granted with a new key").await?;
                    }
                    new
                }
            };
            eprintln!(
                "created key {} for user {}; it is shown only now, keep it secret",
                new.record.key_id, new.record.user_id
            );
            println!("{}", new.key);
        }
        KeysCommand::List { database } => {
            let store = database.open().await?;
            let now = time::from_millis(time::now_millis());
            println!(
                "{:<14} {:<20} {:<18} {:>10}  {:<9} {:<24} EXPIRES",
                "KEY ID", "NAME", "USER", "BALANCE", "STATE", "CREATED"
            );
            for key in store.keys().await? {
                let balance = store.user(&key.user_id).await?.map_or(0, |u| u.balance);
                let state = match key.state(now) {
                    KeyState::Active => "active",
                    KeyState::Expired(_) => "expired",
                    KeyState::Revoked(_) => "revoked",
                };
                println!(
                    "{:<14} {:<20} {:<18} {:>10}  {:<9} {:<24} {}",
                    key.key_id,
                    key.name,
                    key.user_id,
                    balance,
                    state,
                    time::format(&key.created_at),
                    fmt_time(key.expires_at)
                );
            }
        }
        KeysCommand::Revoke { key, database } => {
            let store = database.open().await?;
            let record = accounts::revoke(&*store, &key).await?;
            println!(
                "revoked key {} ({}) at {}",
                record.key_id,
                record.name,
                fmt_time(record.revoked_at)
            );
        }
    }
    Ok(())
}

pub async fn credits(command: CreditsCommand) -> Result<()> {
    match command {
        CreditsCommand::Grant {
            user,
            credits,
            note,
            database,
        } => {
            let store = database.open().await?;
            let account = accounts::grant(&*store, &user, credits, &note).await?;
            println!(
                "granted {credits} credits to {}; balance {}",
                account.user_id, account.balance
            );
        }
        CreditsCommand::Show { user, database } => {
            let store = database.open().await?;
            let user_id = accounts::resolve_user(&*store, &user).await?;
            let account = store
                .user(&user_id)
                .await?
                .ok_or_else(|| anyhow!("no user `{user_id}`"))?;
            println!(
                "{} ({}): balance {}",
                account.user_id, account.name, account.balance
            );
            for entry in store.ledger(&user_id, 50).await? {
                println!(
                    "{:<24} {:<8} {:>+9} -> {:>9}  {}{}",
                    time::format(&entry.at),
                    entry.kind.as_str(),
                    entry.amount,
                    entry.balance_after,
                    entry.session_id.as_deref().unwrap_or(""),
                    entry.note
                );
            }
        }
    }
    Ok(())
}

/// The local key file, written on a server's first start. Returns its path
/// and whether it was created now.
pub async fn ensure_local_key(store: &dyn Store, data_dir: &DataDir) -> Result<(PathBuf, bool)> {
    let path = data_dir.local_key_path();
    if path.exists() {
        return Ok((path, false));
    }
    let new = accounts::local_key(store).await?;
    write_secret(&path, &new.key)?;
    Ok((path, true))
}

/// Writes `key` to `path` readable by its owner only, whole or not at all.
fn write_secret(path: &Path, key: &str) -> Result<()> {
    use std::io::Write;
    let partial = path.with_extension("key.partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    writeln!(file, "{key}")?;
    file.sync_all()?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The key `scan --server` sends: the one given, else the local key file's.
pub fn client_key(given: Option<String>, data_dir: &DataDir) -> Option<String> {
    given.filter(|k| !k.trim().is_empty()).or_else(|| {
        std::fs::read_to_string(data_dir.local_key_path())
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_needs_its_unit() {
        assert_eq!(parse_expiry("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(parse_expiry("12").unwrap_err().contains("`12` is not a duration"));
    }
}
