//! The contract every [`Store`] backend keeps, as checks that take a fresh,
//! empty store of that backend: gap-free sequence numbers in commit order,
//! one report per (session, tool), one end per session, nothing after the
//! end, no tool start after a cancel, credits reserved and refunded exactly
//! once, also when many tasks write to one session or one account at once.
//! A backend's tests run them all with [`store_contract!`], and load a
//! database written by an earlier release with [`loads_whole`].

use super::{SessionEnd, Store, StoreError, ToolRuns};
use crate::model::{
    Category, Event, EventKind, KeyRecord, LedgerKind, Outcome, RefundDue, SessionListing, SessionMeta,
    SessionStatus, ToolReport, Upload, time,
};
use futures::future::join_all;
use std::collections::BTreeMap;

/// One test per check of the contract, each on a fresh store made by the
/// expression given (evaluated in an async test; `None` skips the check,
/// for a backend that is not there to test).
macro_rules! store_contract {
    ($fresh:expr) => {
        $crate::store::conformance::store_contract!(@checks $fresh;
            appends_are_gap_free_strictly_later_and_deduplicated,
            concurrent_reports_and_ends_are_each_stored_once,
            a_reader_following_the_log_while_it_grows_misses_nothing,
            credits_are_reserved_at_start_and_refunded_once_at_the_end,
            racing_starts_take_exactly_the_credits_there_are,
            a_scan_id_belongs_to_one_session,
            sessions_list_newest_first_page_by_page,
            tool_runs_keep_the_average_and_the_last_version_said,
            keys_are_found_listed_and_revoked_once,
            uploads_stay_within_their_owners_quota,
        );
    };
    (@checks $fresh:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let Some(store) = $fresh else { return };
                $crate::store::conformance::$check(&store).await;
            }
        )*
    };
}
pub(crate) use store_contract;

pub(super) fn meta(id: &str, user: &str, created_ms: i64) -> SessionMeta {
    crate::model::session::sample_meta(id, user, created_ms)
}

fn started() -> EventKind {
    EventKind::SessionStarted {
        tools: vec![],
        analysis_cost: 0,
    }
}

/// A clean report of `tool` that took `duration` ms and ran `version`.
pub(super) fn ran(tool: &str, duration: u64, version: Option<&str>) -> EventKind {
    let mut report = ToolReport::finished(tool, Category::Security, Outcome::Clean, duration, vec![], None);
    report.result.scanner = version.map(|version| crate::model::Scanner {
        name: tool.into(),
        version: Some(version.into()),
    });
    EventKind::ToolFinished {
        report: Box::new(report),
    }
}

/// The report of `tool` skipped: not a run.
pub(super) fn skipped(tool: &str) -> EventKind {
    let report = ToolReport::finished(tool, Category::Security, Outcome::Skipped, 0, vec![], None);
    EventKind::ToolFinished {
        report: Box::new(report),
    }
}

fn report(tool: &str) -> EventKind {
    ran(tool, 1, None)
}

fn end() -> EventKind {
    EventKind::SessionFinished {
        status: SessionStatus::Completed,
        error: None,
        refund: None,
        narrative_follows: false,
    }
}

/// Creates free sessions of `user`: (id, created at ms).
async fn create(store: &dyn Store, user: &str, sessions: &[(&str, i64)]) {
    for (id, created_ms) in sessions {
        store
            .create_session(&meta(id, user, *created_ms), &started(), 0)
            .await
            .unwrap();
    }
}

pub(crate) async fn appends_are_gap_free_strictly_later_and_deduplicated(store: &dyn Store) {
    let first = store
        .create_session(&meta("s1", "u", 1), &started(), 0)
        .await
        .unwrap();
    assert_eq!(first.seq, 1);

    // Many appends at once: sequence numbers 2..=41 with no gaps.
    let starts: Vec<EventKind> = (0..40)
        .map(|i| EventKind::ToolStarted {
            tool: format!("t{i}"),
        })
        .collect();
    for appended in join_all(starts.iter().map(|start| store.append("s1", start))).await {
        appended.unwrap().unwrap();
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
    assert!(store.append("s1", &end()).await.unwrap().is_some());
    assert!(
        store.append("s1", &end()).await.unwrap().is_none(),
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
    create(store, "u", &[("s2", 2)]).await;
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

/// The sequence numbers of `events`, which must be 1..=n.
fn assert_gap_free(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
}

pub(crate) async fn concurrent_reports_and_ends_are_each_stored_once(store: &dyn Store) {
    store.create_user("u", "alice", 10).await.unwrap();
    store
        .create_session(&meta("s1", "u", 1), &started(), 4)
        .await
        .unwrap();
    // Twenty writers race to store the same tool's report, with reports of
    // other tools in between: one of each is stored, none is lost.
    let kinds: Vec<EventKind> = (0..20)
        .flat_map(|i| [report("a"), report(&format!("t{i}"))])
        .collect();
    let appended = join_all(kinds.iter().map(|kind| store.append("s1", kind))).await;
    let stored: Vec<Event> = appended.into_iter().filter_map(|a| a.unwrap()).collect();
    assert_eq!(stored.len(), 21, "one report of a and one of each other tool");
    let events = store.events_after("s1", 0, 1000).await.unwrap();
    assert_gap_free(&events);
    assert_eq!(events.len(), 22);

    // Ten ends race, each refunding 3 credits: one is stored, and refunds once.
    let refunding = SessionEnd {
        status: SessionStatus::Partial,
        error: None,
        refund: RefundDue {
            tools: vec!["a".into()],
            analysis: false,
            credits: 3,
        },
        narrative_follows: false,
    };
    let owner = meta("s1", "u", 1);
    let ends = join_all((0..10).map(|_| store.finish_session(&owner, &refunding))).await;
    let ended: Vec<Event> = ends.into_iter().filter_map(|e| e.unwrap()).collect();
    assert_eq!(ended.len(), 1, "one end");
    assert_eq!(store.user("u").await.unwrap().unwrap().balance, 9, "10 - 4 + 3");
    let events = store.events_after("s1", 0, 1000).await.unwrap();
    assert_gap_free(&events);
    assert_eq!(
        events.last().map(|e| e.seq),
        Some(ended[0].seq),
        "the end is last"
    );
}

pub(crate) async fn a_reader_following_the_log_while_it_grows_misses_nothing(store: &dyn Store) {
    create(store, "u", &[("s1", 1)]).await;
    // A reader that resumes after the last seq it saw, as watchers and
    // `?after=` pollers do, while 200 writers append: were a seq to commit
    // after a higher one, the reader would step past it for good.
    let starts: Vec<EventKind> = (0..200)
        .map(|i| EventKind::ToolStarted {
            tool: format!("t{i}"),
        })
        .collect();
    let written = std::sync::atomic::AtomicBool::new(false);
    let writers = async {
        for appended in join_all(starts.iter().map(|start| store.append("s1", start))).await {
            appended.unwrap().unwrap();
        }
        written.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let reader = async {
        let mut seen: Vec<u64> = Vec::new();
        loop {
            // Read after learning the writers are done, so the last read
            // sees everything.
            let last_round = written.load(std::sync::atomic::Ordering::SeqCst);
            let after = seen.last().copied().unwrap_or(0);
            let events = store.events_after("s1", after, 1000).await.unwrap();
            seen.extend(events.iter().map(|e| e.seq));
            if last_round {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    };
    let ((), seen) = futures::join!(writers, reader);
    assert_eq!(seen, (1..=201).collect::<Vec<_>>());
}

pub(crate) async fn credits_are_reserved_at_start_and_refunded_once_at_the_end(store: &dyn Store) {
    store.create_user("u", "alice", 5).await.unwrap();
    store
        .create_session(&meta("s1", "u", 1), &started(), 3)
        .await
        .unwrap();
    assert_eq!(store.user("u").await.unwrap().unwrap().balance, 2);

    let short = store.create_session(&meta("s2", "u", 2), &started(), 3).await;
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
    let nobody = store.create_session(&meta("s3", "ghost", 3), &started(), 1).await;
    assert!(matches!(nobody, Err(StoreError::UnknownUser(_))), "{nobody:?}");

    let end = SessionEnd {
        status: SessionStatus::Partial,
        error: None,
        refund: RefundDue {
            tools: vec!["a".into(), "b".into()],
            analysis: false,
            credits: 2,
        },
        narrative_follows: false,
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

pub(crate) async fn racing_starts_take_exactly_the_credits_there_are(store: &dyn Store) {
    store.create_user("u", "alice", 10).await.unwrap();
    // Thirty starts at once, each costing 1 of the 10 credits: twenty are
    // refused, each taking nothing and storing nothing.
    let metas: Vec<SessionMeta> = (0..30).map(|i| meta(&format!("s{i}"), "u", i)).collect();
    let first = started();
    let starts = join_all(metas.iter().map(|meta| store.create_session(meta, &first, 1))).await;
    let mut stored = 0;
    for start in starts {
        match start {
            Ok(event) => {
                assert_eq!(event.seq, 1);
                stored += 1;
            }
            Err(StoreError::InsufficientCredits {
                required: 1,
                balance: 0,
            }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(stored, 10);
    assert_eq!(store.user("u").await.unwrap().unwrap().balance, 0);
    let (listed, total) = store.list_sessions("u", 100, None).await.unwrap();
    assert_eq!((listed.len(), total), (10, 10));
    let ledger = store.ledger("u", 100).await.unwrap();
    assert_eq!(
        ledger.iter().filter(|l| l.kind == LedgerKind::Reserve).count(),
        10
    );
    assert_eq!(
        ledger.iter().map(|e| e.amount).sum::<i64>(),
        0,
        "the ledger adds up"
    );
}

pub(crate) async fn a_scan_id_belongs_to_one_session(store: &dyn Store) {
    store.create_user("u", "alice", 5).await.unwrap();
    let first = meta("s1", "u", 1);
    store.create_session(&first, &started(), 1).await.unwrap();
    let second = SessionMeta {
        scan_id: first.scan_id.clone(),
        ..meta("s2", "u", 2)
    };
    let taken = store.create_session(&second, &started(), 1).await;
    assert!(
        matches!(&taken, Err(StoreError::ScanIdTaken(id)) if *id == first.scan_id),
        "{taken:?}"
    );
    assert!(store.session("s2").await.unwrap().is_none(), "nothing stored");
    assert_eq!(store.user("u").await.unwrap().unwrap().balance, 4, "charged once");
    assert_eq!(
        store.session_by_scan_id(&first.scan_id).await.unwrap(),
        Some(first)
    );
    assert_eq!(store.session_by_scan_id("scan-none").await.unwrap(), None);
}

/// The session ids of a list.
fn ids(listed: &[super::ListedSession]) -> Vec<&str> {
    listed.iter().map(|l| l.meta.session_id.as_str()).collect()
}

pub(crate) async fn sessions_list_newest_first_page_by_page(store: &dyn Store) {
    create(store, "u1", &[("a", 1), ("b", 2), ("d", 4)]).await;
    create(store, "u2", &[("c", 3)]).await;
    store.append("a", &end()).await.unwrap();
    let listing = SessionListing {
        status: SessionStatus::Completed,
        progress: crate::model::Progress::default(),
        summary: crate::model::Summary::default(),
        completed_at: Some(time::from_millis(5)),
        last_updated: time::from_millis(5),
        cursor: 2,
    };
    store.save_listing("a", &listing).await.unwrap();

    let (sessions, total) = store.list_sessions("u1", 10, None).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(ids(&sessions), ["d", "b", "a"]);
    assert_eq!(sessions[1].listing, None, "b has not ended");
    assert_eq!(sessions[2].listing, Some(listing));
    assert_eq!(store.session("a").await.unwrap().unwrap(), meta("a", "u1", 1));
    let (page, total) = store.list_sessions("u1", 2, None).await.unwrap();
    assert_eq!((ids(&page), total), (vec!["d", "b"], 3));
    let (older, _) = store.list_sessions("u1", 2, Some("b")).await.unwrap();
    assert_eq!(ids(&older), ["a"]);
    let (none, _) = store.list_sessions("u2", 10, Some("b")).await.unwrap();
    assert!(none.is_empty(), "another user's session is no cursor");
    let unfinished: Vec<String> = (store.unfinished_sessions().await.unwrap().into_iter())
        .map(|m| m.session_id)
        .collect();
    assert_eq!(unfinished, ["b", "c", "d"], "oldest first");
}

pub(crate) async fn tool_runs_keep_the_average_and_the_last_version_said(store: &dyn Store) {
    create(store, "u", &[("s1", 1), ("s2", 2), ("s3", 3)]).await;
    store
        .append("s1", &ran("bandit", 100, Some("1.9.3")))
        .await
        .unwrap();
    store.append("s1", &skipped("eslint")).await.unwrap();
    store
        .append("s2", &ran("bandit", 300, Some("1.9.4")))
        .await
        .unwrap();
    // A report that names no version leaves the last one said.
    store.append("s3", &ran("bandit", 200, None)).await.unwrap();
    let runs = store.tool_runs().await.unwrap();
    assert_eq!(runs.keys().collect::<Vec<_>>(), ["bandit"], "a skip is not a run");
    assert_eq!(
        runs["bandit"],
        ToolRuns {
            runs: 3,
            average_ms: 200,
            version: Some("1.9.4".into())
        }
    );
}

fn key(id: &str, user: &str, created_ms: i64) -> KeyRecord {
    KeyRecord {
        key_id: id.into(),
        user_id: user.into(),
        name: format!("key {id}"),
        hash: format!("{id:0>64}"),
        created_at: time::from_millis(created_ms),
        expires_at: None,
        revoked_at: None,
    }
}

pub(crate) async fn keys_are_found_listed_and_revoked_once(store: &dyn Store) {
    store.create_user("u", "alice", 0).await.unwrap();
    for (id, ms) in [("k2", 2), ("k1", 1)] {
        store.add_key(&key(id, "u", ms)).await.unwrap();
    }
    let ghost = store.add_key(&key("k3", "ghost", 3)).await;
    assert!(matches!(ghost, Err(StoreError::UnknownUser(_))), "{ghost:?}");
    assert_eq!(store.key("k1").await.unwrap(), Some(key("k1", "u", 1)));
    assert_eq!(store.key("k3").await.unwrap(), None);
    let listed: Vec<String> = (store.keys().await.unwrap().into_iter())
        .map(|k| k.key_id)
        .collect();
    assert_eq!(listed, ["k1", "k2"], "oldest first");

    let revoked = store.revoke_key("k1").await.unwrap();
    let first = revoked.revoked_at.expect("revoked");
    let again = store.revoke_key("k1").await.unwrap();
    assert_eq!(
        again.revoked_at,
        Some(first),
        "revoking again keeps the first time"
    );
    assert_eq!(store.key("k2").await.unwrap().unwrap().revoked_at, None);
    let unknown = store.revoke_key("k9").await;
    assert!(matches!(unknown, Err(StoreError::UnknownKey(_))), "{unknown:?}");
}

fn upload(id: &str, user: &str, digest: &str, bytes: u64, last_used_ms: i64) -> Upload {
    Upload {
        upload_id: id.into(),
        user_id: user.into(),
        digest: digest.into(),
        bytes,
        files: 1,
        unpacked_bytes: bytes * 2,
        created_at: time::from_millis(last_used_ms),
        last_used_at: time::from_millis(last_used_ms),
        config: None,
    }
}

pub(crate) async fn uploads_stay_within_their_owners_quota(store: &dyn Store) {
    store.create_user("u", "alice", 0).await.unwrap();
    store.create_user("v", "bob", 0).await.unwrap();
    assert!(
        store
            .add_upload(&upload("u1", "u", "sha256:a", 60, 1), 100)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_upload(&upload("u2", "u", "sha256:b", 50, 2), 100)
            .await
            .unwrap(),
        "past the quota"
    );
    assert!(store.upload("u2").await.unwrap().is_none(), "nothing stored");
    assert!(
        store
            .add_upload(&upload("u3", "u", "sha256:b", 40, 3), 100)
            .await
            .unwrap()
    );
    assert!(
        store
            .add_upload(&upload("v1", "v", "sha256:a", 60, 4), 100)
            .await
            .unwrap(),
        "each user has a quota of their own"
    );
    let ghost = store
        .add_upload(&upload("g1", "ghost", "sha256:c", 1, 5), 100)
        .await;
    assert!(matches!(ghost, Err(StoreError::UnknownUser(_))), "{ghost:?}");
    let stored = store.upload("u1").await.unwrap().unwrap();
    assert_eq!((stored.digest.as_str(), stored.bytes), ("sha256:a", 60));

    // u1 was used just now; u3 and v1 were not since 4 ms: removing them
    // leaves sha256:b with no upload, while u1 still holds sha256:a.
    store.use_upload("u1").await.unwrap();
    let orphaned = store.remove_unused_uploads(10).await.unwrap();
    assert_eq!(orphaned, ["sha256:b"]);
    assert!(store.upload("u3").await.unwrap().is_none());
    assert!(store.upload("u1").await.unwrap().is_some());
}

/// What a database written by an earlier release holds, read straight
/// from its tables: each session's stored metadata and event payloads.
#[derive(Default)]
pub(super) struct Written {
    pub(super) metas: BTreeMap<String, String>,
    pub(super) payloads: BTreeMap<String, Vec<String>>,
}

/// Whether every field of `stored` is in `loaded` with the same value:
/// what was written survives a load and a save, whatever was added since.
fn keeps(stored: &serde_json::Value, loaded: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (stored, loaded) {
        (Value::Object(stored), Value::Object(loaded)) => stored
            .iter()
            .all(|(field, value)| loaded.get(field).is_some_and(|l| keeps(value, l))),
        (Value::Array(stored), Value::Array(loaded)) => {
            stored.len() == loaded.len() && stored.iter().zip(loaded).all(|(s, l)| keeps(s, l))
        }
        _ => stored == loaded,
    }
}

/// Checks that what `written` holds loads whole from `store`, for `user`,
/// whose sessions have all ended: every stored field keeps its value,
/// each log is gap-free and ends with its end, each session has its
/// listing, and the ledger adds up to the balance. The events by kind,
/// and the balance.
pub(super) async fn loads_whole(
    store: &dyn Store,
    user: &str,
    written: &Written,
) -> (Vec<(&'static str, usize)>, i64) {
    let (sessions, total) = store.list_sessions(user, 100, None).await.unwrap();
    assert_eq!(total as usize, written.metas.len());
    let mut kinds = BTreeMap::<&'static str, usize>::new();
    for listed in &sessions {
        let id = &listed.meta.session_id;
        let stored = &written.metas[id];
        let loaded = serde_json::to_value(store.session(id).await.unwrap().unwrap()).unwrap();
        assert!(
            keeps(&serde_json::from_str(stored).unwrap(), &loaded),
            "{id}: {stored}"
        );
        assert!(listed.listing.is_some(), "{id} ended and has its listing");

        let events = super::events_after(store, id, 0).await.unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>(), "{id}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e.kind, EventKind::SessionFinished { .. })),
            "{id} has its end"
        );
        let stored = &written.payloads[id];
        assert_eq!(stored.len(), events.len());
        for (stored, event) in stored.iter().zip(&events) {
            let loaded = serde_json::to_value(&event.kind).unwrap();
            assert!(
                keeps(&serde_json::from_str(stored).unwrap(), &loaded),
                "{id}: {stored}"
            );
            *kinds.entry(event.kind.name()).or_default() += 1;
        }
    }
    let ledger = store.ledger(user, 100).await.unwrap();
    let balance = store.user(user).await.unwrap().unwrap().balance;
    assert_eq!(
        ledger.iter().map(|e| e.amount).sum::<i64>(),
        balance,
        "the ledger adds up"
    );
    (kinds.into_iter().collect(), balance)
}
