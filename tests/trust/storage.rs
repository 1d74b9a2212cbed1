//! Storage under stress: a full disk never makes the server acknowledge
//! what it did not store, and it recovers by itself when space returns; a
//! start whose client vanishes mid-request is either not stored or stored
//! and run; the data directory is private to the server's user.

use crate::common::{self, RealServer};
use async_trait::async_trait;
use livescan::engine::{Caller, Engine, EngineConfig, TargetPolicy, accounts};
use livescan::model::{
    Account, Event, EventKind, KeyRecord, LedgerEntry, SessionListing, SessionMeta, StartRequest, Upload,
};
use livescan::store::{ListedSession, SessionEnd, SqliteStore, Store, StoreError};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (with the reason on stderr) where this process may not mount.
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status();
        match mounted {
            Ok(status) if status.success() => Some(SmallDisk { dir }),
            other => {
                eprintln!("SKIPPED: mounting a tmpfs needs root (mount said {other:?})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match filler.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last partial block too.
        while filler.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

async fn try_start(server: &RealServer) -> (u16, Value) {
    let body = json!({
        "target": { "directory": common::fixtures().join("dir-clean") },
        "tools": ["large-files"]
    });
    let response = server
        .client()
        .post(format!("{}/api/sessions", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn balance_matches_ledger(server: &RealServer) {
    let account = common::get_json(&server.client(), &format!("{}/api/account", server.base)).await;
    let ledger: i64 = account["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(account["balance"].as_i64().unwrap(), ledger, "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_never_acknowledged_and_storage_recovers_when_space_returns() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let data_dir = disk.path().join("data");
    let unlimited = ["--rate-limit", "0"];
    let mut server = RealServer::start_with(&data_dir, "127.0.0.1:0", "info", &unlimited);

    let mut acknowledged = Vec::new();
    let first = try_start(&server).await;
    assert_eq!(first.0, 202, "{}", first.1);
    acknowledged.push(first.1["sessionId"].as_str().unwrap().to_string());

    disk.fill();
    // Keep starting until the store refuses: every 202 before that must be
    // stored, every refusal must be a 503 that says why.
    let mut refused = 0;
    for _ in 0..400 {
        let (status, body) = try_start(&server).await;
        match status {
            202 => {
                let id = body["sessionId"].as_str().unwrap().to_string();
                let stored = server
                    .client()
                    .get(format!("{}/api/sessions/{id}", server.base))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    stored.status(),
                    200,
                    "session {id} was acknowledged but not stored"
                );
                acknowledged.push(id);
            }
            503 => {
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                refused += 1;
                if refused == 5 {
                    break;
                }
            }
            other => panic!("a start on a full disk answered {other}: {body}"),
        }
    }
    assert_eq!(refused, 5, "the disk never filled up");

    // Space returns: the store recovers by itself, without a restart.
    disk.free();
    let (status, body) = try_start(&server).await;
    assert_eq!(status, 202, "{body}");
    acknowledged.push(body["sessionId"].as_str().unwrap().to_string());
    for id in &acknowledged {
        let session = common::wait_terminal(&server.client(), &server.base, id).await;
        assert!(
            matches!(session["status"].as_str(), Some("completed" | "partial")),
            "{session}"
        );
    }
    balance_matches_ledger(&server).await;

    // And after a restart every acknowledged session is still there.
    server.kill();
    let server = RealServer::start_with(&data_dir, "127.0.0.1:0", "info", &unlimited);
    for id in &acknowledged {
        let session = common::get_json(&server.client(), &format!("{}/api/sessions/{id}", server.base)).await;
        assert!(
            common::is_terminal(&session["status"]),
            "{id} after restart: {session}"
        );
    }
    balance_matches_ledger(&server).await;
}

/// A store whose `create_session` commits, then takes a while to answer:
/// the window in which a caller that gives up leaves a stored session behind.
struct SlowToAnswer(SqliteStore);

#[async_trait]
impl Store for SlowToAnswer {
    async fn create_session(
        &self,
        meta: &SessionMeta,
        first: &EventKind,
        cost: u64,
    ) -> Result<Event, StoreError> {
        let event = self.0.create_session(meta, first, cost).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(event)
    }
    async fn tool_runs(
        &self,
    ) -> Result<std::collections::BTreeMap<String, livescan::store::ToolRuns>, StoreError> {
        self.0.tool_runs().await
    }
    async fn finish_session(
        &self,
        meta: &SessionMeta,
        end: &SessionEnd,
    ) -> Result<Option<Event>, StoreError> {
        self.0.finish_session(meta, end).await
    }
    async fn append(&self, session_id: &str, kind: &EventKind) -> Result<Option<Event>, StoreError> {
        self.0.append(session_id, kind).await
    }
    async fn events_after(&self, session_id: &str, after: u64, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.0.events_after(session_id, after, limit).await
    }
    async fn session(&self, session_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        self.0.session(session_id).await
    }
    async fn session_by_scan_id(&self, scan_id: &str) -> Result<Option<SessionMeta>, StoreError> {
        self.0.session_by_scan_id(scan_id).await
    }
    async fn list_sessions(
        &self,
        user_id: &str,
        limit: u32,
        before: Option<&str>,
    ) -> Result<(Vec<ListedSession>, u64), StoreError> {
        self.0.list_sessions(user_id, limit, before).await
    }
    async fn save_listing(&self, session_id: &str, listing: &SessionListing) -> Result<(), StoreError> {
        self.0.save_listing(session_id, listing).await
    }
    async fn unfinished_sessions(&self) -> Result<Vec<SessionMeta>, StoreError> {
        self.0.unfinished_sessions().await
    }
    async fn create_user(&self, user_id: &str, name: &str, credits: u64) -> Result<Account, StoreError> {
        self.0.create_user(user_id, name, credits).await
    }
    async fn user(&self, user_id: &str) -> Result<Option<Account>, StoreError> {
        self.0.user(user_id).await
    }
    async fn grant(&self, user_id: &str, credits: u64, note: &str) -> Result<i64, StoreError> {
        self.0.grant(user_id, credits, note).await
    }
    async fn ledger(&self, user_id: &str, limit: u32) -> Result<Vec<LedgerEntry>, StoreError> {
        self.0.ledger(user_id, limit).await
    }
    async fn add_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.0.add_key(key).await
    }
    async fn key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.0.key(key_id).await
    }
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.0.keys().await
    }
    async fn revoke_key(&self, key_id: &str) -> Result<KeyRecord, StoreError> {
        self.0.revoke_key(key_id).await
    }
    async fn add_upload(&self, upload: &Upload, quota: u64) -> Result<bool, StoreError> {
        self.0.add_upload(upload, quota).await
    }
    async fn upload(&self, upload_id: &str) -> Result<Option<Upload>, StoreError> {
        self.0.upload(upload_id).await
    }
    async fn use_upload(&self, upload_id: &str) -> Result<(), StoreError> {
        self.0.use_upload(upload_id).await
    }
    async fn remove_unused_uploads(&self, unused_since: i64) -> Result<Vec<String>, StoreError> {
        self.0.remove_unused_uploads(unused_since).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_caller_gives_up_is_still_launched_once_stored() {
    let data_dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&data_dir.path().join("livescan.sqlite"))
        .await
        .unwrap();
    let (account, _) = accounts::create_account(&sqlite, "impatient", 100, None)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(SlowToAnswer(sqlite));
    let config = EngineConfig::new(
        TargetPolicy {
            scan_roots: vec![common::fixtures().canonicalize().unwrap()],
            allow_private: true,
            excluded: vec![data_dir.path().to_path_buf()],
        },
        livescan::tools::Workspace::scratch(data_dir.path().join("work")),
    );
    let engine = Engine::open(store.clone(), livescan::tools::Catalog::builtin(), config)
        .await
        .unwrap();
    let caller = Caller {
        user_id: account.user_id.clone(),
        key_id: None,
    };
    let request: StartRequest = serde_json::from_value(json!({
        "target": { "directory": common::fixtures().join("dir-clean") },
        "tools": ["large-files"]
    }))
    .unwrap();
    // The caller gives up after the commit but before the answer.
    let gave_up =
        tokio::time::timeout(Duration::from_millis(100), engine.start_session(&caller, request)).await;
    assert!(gave_up.is_err(), "the start answered before the caller gave up");

    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = store.list_sessions(&account.user_id, 10, None).await.unwrap().0;
        if !stored.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stored.len(), 1, "the start was committed");
    let id = stored[0].meta.session_id.clone();
    for _ in 0..250 {
        let state = engine.session(&caller, &id).await.unwrap();
        if state.is_finished() {
            assert_eq!(state.status.as_str(), "completed");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the stored session was never launched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private_to_the_servers_user() {
    let parent = tempfile::tempdir().unwrap();
    // An older release left a world-readable directory and database behind.
    let data_dir = parent.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    {
        let store = SqliteStore::open(&data_dir.join("livescan.sqlite"))
            .await
            .unwrap();
        accounts::ensure_local_user(&store).await.unwrap();
    }
    std::fs::set_permissions(
        data_dir.join("livescan.sqlite"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let server = RealServer::start(&data_dir, "127.0.0.1:0");
    let id = common::start_with(
        &server.client(),
        &server.base,
        json!({ "target": { "directory": common::fixtures().join("dir-clean") }, "tools": ["large-files"] }),
    )
    .await;
    common::wait_terminal(&server.client(), &server.base, &id).await;
    assert_eq!(mode(&data_dir), 0o700);
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
    for name in [
        "livescan.sqlite",
        "livescan.sqlite-wal",
        "livescan.sqlite-shm",
        "local.key",
        "livescan.lock",
    ] {
        assert!(data_dir.join(name).exists(), "{name}");
    }

    // The operator's commands keep it that way.
    let fresh = parent.path().join("fresh");
    let (code, _, err) = common::livescan(&[
        "keys",
        "create",
        "--name",
        "x",
        "--data-dir",
        fresh.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(mode(&fresh), 0o700);
    assert_eq!(mode(&fresh.join("livescan.sqlite")), 0o600);
}
