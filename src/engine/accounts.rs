//! API keys and accounts: making keys, reading the `Authorization` header,
//! checking a key against the store, and the operator's commands (create an
//! account, add or revoke a key, grant credits), which work on the store
//! directly so they can run beside a live server.
//!
//! A key reads `lsk_<id>_<secret>`: the prefix lets secret scanners spot a
//! leaked key, the 12-character id is public (lists, logs, messages) and finds
//! the stored record, and the 40-character secret carries 238 random bits.
//! Only a SHA-256 of the whole key is stored; with that much entropy a slow
//! password hash would add nothing but latency to every request.
//! Verified records are kept for a second ([`KeyCache`]), so a burst of
//! requests costs one store read per key, and a key revoked or expired
//! beside the server stops working within that second.

use super::{Caller, EngineError};
use crate::model::{Account, KeyRecord, KeyState, Timestamp, time};
use crate::store::{Store, StoreError};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "lsk_";
const ID_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The most credits an account may hold: far past any real balance, and so
/// far below the databases' 64-bit sums that no mix of grants, reservations
/// and refunds can overflow one.
pub const MOST_CREDITS: u64 = 1_000_000_000_000_000;

/// The account a server creates for its own machine on first start.
pub const LOCAL_USER: &str = "local";
/// The local account's opening balance: enough that local use never runs out.
pub const LOCAL_OPENING_CREDITS: u64 = 1_000_000;

const BEARER_HINT: &str = "send `Authorization: Bearer <api key>`";

/// A key just made: the only moment the whole key exists outside its owner.
pub struct NewKey {
    pub key: String,
    pub record: KeyRecord,
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn generate_key(user_id: &str, name: &str, expires_at: Option<Timestamp>) -> NewKey {
    let key_id = random_string(ID_ALPHABET, ID_LEN);
    let key = format!(
        "{KEY_PREFIX}{key_id}_{}",
        random_string(SECRET_ALPHABET, SECRET_LEN)
    );
    NewKey {
        record: KeyRecord {
            key_id,
            user_id: user_id.to_string(),
            name: name.to_string(),
            hash: hash_key(&key),
            created_at: time::from_millis(time::now_millis()),
            expires_at,
            revoked_at: None,
        },
        key,
    }
}

/// The public id inside a well-formed key.
fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == ID_LEN
        && id.bytes().all(|b| ID_ALPHABET.contains(&b))
        && secret.len() == SECRET_LEN
        && secret.bytes().all(|b| SECRET_ALPHABET.contains(&b));
    well_formed.then_some(id)
}

/// The key in an `Authorization` header value, or an error that says what
/// is wrong with the header (never echoing the key).
pub fn bearer_key(header: Option<&[u8]>) -> Result<&str, EngineError> {
    let unauthenticated = |message: String| Err(EngineError::Unauthenticated(message));
    let Some(raw) = header else {
        return unauthenticated(format!("no API key: {BEARER_HINT}"));
    };
    let Ok(value) = std::str::from_utf8(raw) else {
        return unauthenticated(format!(
            "the Authorization header is not readable text; {BEARER_HINT}"
        ));
    };
    let value = value.trim();
    let (scheme, key) = value.split_once(' ').unwrap_or((value, ""));
    if value.starts_with(KEY_PREFIX) {
        return unauthenticated(format!(
            "the Authorization header holds a key without its scheme; {BEARER_HINT}"
        ));
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        let scheme = if scheme.is_empty() { "(none)" } else { scheme };
        let scheme: String = scheme.chars().take(20).collect();
        return unauthenticated(format!(
            "the Authorization header uses the `{scheme}` scheme; {BEARER_HINT}"
        ));
    }
    let key = key.trim();
    if key.is_empty() {
        return unauthenticated(format!(
            "the Authorization header has no key after `Bearer`; {BEARER_HINT}"
        ));
    }
    Ok(key)
}

/// Who holds `key`, or why the key is refused.
/// Key records read in the last [`KEY_FRESH_FOR`], by key id.
#[derive(Default)]
pub struct KeyCache {
    records: Mutex<HashMap<String, (KeyRecord, Instant)>>,
}

/// How long a read key record is trusted: a revoked key works at most this long.
pub const KEY_FRESH_FOR: Duration = Duration::from_secs(1);
/// Records kept at most; stale ones go first, and all when every one is fresh.
const KEY_CACHE_CAPACITY: usize = 4096;

impl KeyCache {
    /// The key's record: the one read less than a second ago, else the store's.
    async fn record(&self, store: &dyn Store, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        if let Some((record, read_at)) = self.lock().get(key_id)
            && read_at.elapsed() < KEY_FRESH_FOR
        {
            return Ok(Some(record.clone()));
        }
        let record = store.key(key_id).await?;
        if let Some(record) = &record {
            let mut records = self.lock();
            if records.len() >= KEY_CACHE_CAPACITY {
                records.retain(|_, (_, read_at)| read_at.elapsed() < KEY_FRESH_FOR);
                if records.len() >= KEY_CACHE_CAPACITY {
                    records.clear();
                }
            }
            records.insert(key_id.to_string(), (record.clone(), Instant::now()));
        }
        Ok(record)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (KeyRecord, Instant)>> {
        self.records.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

pub async fn verify(
    store: &dyn Store,
    keys: &KeyCache,
    key: &str,
) -> Result<(Caller, KeyRecord), EngineError> {
    let invalid = || {
        EngineError::Unauthenticated(
            "the API key is not valid: it is unknown or mistyped (`livescan keys list` shows the ids of valid keys)"
                .to_string(),
        )
    };
    let Some(id) = key_id(key) else {
        return Err(EngineError::Unauthenticated(format!(
            "the API key is malformed: livescan keys look like `{KEY_PREFIX}` followed by a {ID_LEN}-character id, `_` and a {SECRET_LEN}-character secret"
        )));
    };
    let record = keys.record(store, id).await?.ok_or_else(invalid)?;
    if !bool::from(hash_key(key).as_bytes().ct_eq(record.hash.as_bytes())) {
        return Err(invalid());
    }
    active(&record)?;
    Ok((
        Caller {
            user_id: record.user_id.clone(),
            key_id: Some(record.key_id.clone()),
        },
        record,
    ))
}

/// Whether the key that opened a long-lived stream may still use it: a
/// key revoked or expired since ends the streams it opened.
pub async fn still_active(store: &dyn Store, key_id: &str) -> Result<(), EngineError> {
    let record = store
        .key(key_id)
        .await?
        .ok_or_else(|| EngineError::Unauthenticated(format!("the API key `{key_id}` no longer exists")))?;
    active(&record)
}

fn active(record: &KeyRecord) -> Result<(), EngineError> {
    let id = &record.key_id;
    match record.state(time::from_millis(time::now_millis())) {
        KeyState::Active => Ok(()),
        KeyState::Revoked(at) => Err(EngineError::Unauthenticated(format!(
            "the API key `{id}` was revoked at {}",
            time::format(&at)
        ))),
        KeyState::Expired(at) => Err(EngineError::Unauthenticated(format!(
            "the API key `{id}` expired at {}",
            time::format(&at)
        ))),
    }
}

fn new_user_id() -> String {
    format!("user-{}", random_string(ID_ALPHABET, 12))
}

/// Creates an account named `name` with `credits` and its first key.
pub async fn create_account(
    store: &dyn Store,
    name: &str,
    credits: u64,
    expires_at: Option<Timestamp>,
) -> Result<(Account, NewKey), EngineError> {
    let name = checked_name(name)?;
    if credits > MOST_CREDITS {
        return Err(EngineError::invalid(
            "credits",
            format!("must be at most {MOST_CREDITS}, the most an account may hold"),
        ));
    }
    let account = store.create_user(&new_user_id(), name, credits).await?;
    let key = add_key(store, &account.user_id, name, expires_at).await?;
    Ok((account, key))
}

/// Adds a key to an existing account.
pub async fn add_key(
    store: &dyn Store,
    user_id: &str,
    name: &str,
    expires_at: Option<Timestamp>,
) -> Result<NewKey, EngineError> {
    let new = generate_key(user_id, checked_name(name)?, expires_at);
    store.add_key(&new.record).await.map_err(unknown_as_invalid)?;
    Ok(new)
}

/// The local account, created with its opening balance on first use (by
/// one of several nodes that start at once on a shared database).
pub async fn ensure_local_user(store: &dyn Store) -> Result<(), EngineError> {
    if store.user(LOCAL_USER).await?.is_some() {
        return Ok(());
    }
    match store
        .create_user(LOCAL_USER, LOCAL_USER, LOCAL_OPENING_CREDITS)
        .await
    {
        Ok(_) => Ok(()),
        // Made meanwhile by another node.
        Err(_) if store.user(LOCAL_USER).await?.is_some() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// A new key for the local account.
pub async fn local_key(store: &dyn Store) -> Result<NewKey, EngineError> {
    ensure_local_user(store).await?;
    add_key(store, LOCAL_USER, "local", None).await
}

/// Revokes a key, named by its id or given whole.
pub async fn revoke(store: &dyn Store, key_or_id: &str) -> Result<KeyRecord, EngineError> {
    let id = key_id(key_or_id).unwrap_or(key_or_id);
    store.revoke_key(id).await.map_err(unknown_as_invalid)
}

/// The user id behind a user id, a key id or a whole key.
pub async fn resolve_user(store: &dyn Store, user_or_key: &str) -> Result<String, EngineError> {
    if let Some(key) = store.key(key_id(user_or_key).unwrap_or(user_or_key)).await? {
        return Ok(key.user_id);
    }
    match store.user(user_or_key).await? {
        Some(user) => Ok(user.user_id),
        None => Err(EngineError::invalid(
            "user",
            format!("no user or key id `{user_or_key}`"),
        )),
    }
}

/// Adds credits to the account named by a user id or by one of its keys.
pub async fn grant(
    store: &dyn Store,
    user_or_key: &str,
    credits: u64,
    note: &str,
) -> Result<Account, EngineError> {
    if credits == 0 {
        return Err(EngineError::invalid("credits", "must be at least 1"));
    }
    let user_id = resolve_user(store, user_or_key).await?;
    let balance = store
        .user(&user_id)
        .await?
        .map_or(0, |account| u64::try_from(account.balance).unwrap_or(0));
    if balance.saturating_add(credits) > MOST_CREDITS {
        return Err(EngineError::invalid(
            "credits",
            format!("would take the balance of {balance} past {MOST_CREDITS}, the most an account may hold"),
        ));
    }
    store
        .grant(&user_id, credits, note)
        .await
        .map_err(unknown_as_invalid)?;
    store
        .user(&user_id)
        .await?
        .ok_or_else(|| EngineError::invalid("user", format!("no user `{user_id}`")))
}

fn checked_name(name: &str) -> Result<&str, EngineError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            "name",
            "must be 1 to 100 printable characters",
        ));
    }
    Ok(name)
}

/// An operator naming a user or key that does not exist made a usage error.
fn unknown_as_invalid(err: StoreError) -> EngineError {
    match err {
        StoreError::UnknownUser(id) => EngineError::invalid("user", format!("no user `{id}`")),
        StoreError::UnknownKey(id) => EngineError::invalid("key", format!("no API key with id `{id}`")),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn message(result: Result<impl std::fmt::Debug, EngineError>) -> String {
        match result {
            Err(EngineError::Unauthenticated(message)) => message,
            other => panic!("expected unauthenticated, got {other:?}"),
        }
    }

    #[test]
    fn keys_are_recognisable_and_unique() {
        let a = generate_key("u", "n", None);
        let b = generate_key("u", "n", None);
        assert_ne!(a.key, b.key);
        assert_eq!(key_id(&a.key), Some(a.record.key_id.as_str()));
        assert_eq!(a.key.len(), KEY_PREFIX.len() + ID_LEN + 1 + SECRET_LEN);
        assert!(!a.record.hash.contains(&a.key) && a.record.hash.len() == 64);
    }

    #[test]
    fn the_header_error_says_what_is_wrong() {
        assert!(message(bearer_key(None)).starts_with("no API key"));
        assert!(message(bearer_key(Some(b"Basic dXNlcjpwYXNz"))).contains("`Basic` scheme"));
        assert!(message(bearer_key(Some(b"lsk_abc_def"))).contains("without its scheme"));
        assert!(message(bearer_key(Some(b"Bearer   "))).contains("no key after"));
        assert!(message(bearer_key(Some(&[0xff, 0xfe]))).contains("not readable"));
        assert_eq!(bearer_key(Some(b"bearer  lsk_x ")).unwrap(), "lsk_x");
    }

    #[tokio::test]
    async fn keys_verify_until_revoked_or_expired() {
        let store = SqliteStore::temporary().await.unwrap();
        let (account, new) = create_account(&store, "alice", 10, None).await.unwrap();
        let (caller, _) = verify(&store, &KeyCache::default(), &new.key).await.unwrap();
        assert_eq!(caller.user_id, account.user_id);

        let mut wrong = new.key.clone();
        wrong.replace_range(wrong.len() - 1.., if wrong.ends_with('a') { "b" } else { "a" });
        assert!(message(verify(&store, &KeyCache::default(), &wrong).await).contains("unknown or mistyped"));
        assert!(message(verify(&store, &KeyCache::default(), "lsk_short").await).contains("malformed"));

        revoke(&store, &new.record.key_id).await.unwrap();
        let revoked = message(verify(&store, &KeyCache::default(), &new.key).await);
        assert!(revoked.contains("was revoked at"), "{revoked}");
        assert!(!revoked.contains(&new.key), "the key is never echoed");

        let past = time::from_millis(time::now_millis() - 1_000);
        let old = add_key(&store, &account.user_id, "old", Some(past))
            .await
            .unwrap();
        assert!(message(verify(&store, &KeyCache::default(), &old.key).await).contains("expired at"));
    }

    #[tokio::test]
    async fn a_cached_key_stops_working_within_a_second_of_its_revocation() {
        let store = SqliteStore::temporary().await.unwrap();
        let (_, new) = create_account(&store, "alice", 10, None).await.unwrap();
        let keys = KeyCache::default();
        verify(&store, &keys, &new.key).await.unwrap();
        // A wrong secret is refused even while the record is cached.
        let mut wrong = new.key.clone();
        wrong.replace_range(wrong.len() - 1.., if wrong.ends_with('a') { "b" } else { "a" });
        assert!(message(verify(&store, &keys, &wrong).await).contains("unknown or mistyped"));
        revoke(&store, &new.record.key_id).await.unwrap();
        tokio::time::sleep(KEY_FRESH_FOR).await;
        let revoked = message(verify(&store, &keys, &new.key).await);
        assert!(revoked.contains("was revoked at"), "{revoked}");
    }

    #[tokio::test]
    async fn operator_mistakes_name_the_field() {
        let store = SqliteStore::temporary().await.unwrap();
        let err = add_key(&store, "user-nobody", "k", None).await.err().unwrap();
        assert_eq!(err.details()["field"], "user");
        let err = revoke(&store, "nope").await.err().unwrap();
        assert_eq!(err.details()["field"], "key");
        let err = grant(&store, "user-nobody", 5, "").await.err().unwrap();
        assert_eq!(err.details()["field"], "user");
        let err = grant(&store, "local", 0, "").await.err().unwrap();
        assert_eq!(err.details()["field"], "credits");
        let err = create_account(&store, " ", 5, None).await.err().unwrap();
        assert_eq!(err.details()["field"], "name");
    }

    #[tokio::test]
    async fn no_account_holds_more_than_the_most_credits() {
        let store = SqliteStore::temporary().await.unwrap();
        let err = create_account(&store, "rich", MOST_CREDITS + 1, None)
            .await
            .err()
            .unwrap();
        assert_eq!(err.details()["field"], "credits");
        let (account, _) = create_account(&store, "rich", MOST_CREDITS - 5, None)
            .await
            .unwrap();
        let err = grant(&store, &account.user_id, 6, "").await.err().unwrap();
        assert_eq!(err.details()["field"], "credits");
        assert!(err.to_string().contains("past 1000000000000000"), "{err}");
        let full = grant(&store, &account.user_id, 5, "").await.unwrap();
        assert_eq!(full.balance, MOST_CREDITS as i64);
        let err = grant(&store, &account.user_id, u64::MAX, "").await.err().unwrap();
        assert_eq!(err.details()["field"], "credits");
        let ledger = store.ledger(&account.user_id, 10).await.unwrap();
        assert_eq!(ledger.len(), 2, "the opening balance and the one grant that fit");
    }
}
