//! Accounts as the store keeps them: users and their credit balance, API key
//! records (never the key itself), and the ledger of grants, reservations and
//! refunds from which every balance can be recomputed.

use super::time::{self, Timestamp};
use serde::Serialize;

/// A user and their current balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub user_id: String,
    pub name: String,
    pub balance: i64,
    #[serde(with = "time")]
    pub created_at: Timestamp,
}

/// An API key as stored: its public id, its owner, and the hash of the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public part of the key (`lsk_<id>_...`), safe to show and log.
    pub key_id: String,
    pub user_id: String,
    pub name: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Whether a key may be used at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Active,
    Expired(Timestamp),
    Revoked(Timestamp),
}

impl KeyRecord {
    pub fn state(&self, now: Timestamp) -> KeyState {
        match (self.revoked_at, self.expires_at) {
            (Some(at), _) => KeyState::Revoked(at),
            (None, Some(at)) if at <= now => KeyState::Expired(at),
            _ => KeyState::Active,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
    /// Credits added by an operator (or the local account's first grant).
    Grant,
    /// The cost of a session's selected tools, taken when it starts.
    Reserve,
    /// Credits returned for tools that failed, timed out or were skipped.
    Refund,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Grant => "grant",
            LedgerKind::Reserve => "reserve",
            LedgerKind::Refund => "refund",
        }
    }
}

impl std::str::FromStr for LedgerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "grant" => Ok(LedgerKind::Grant),
            "reserve" => Ok(LedgerKind::Reserve),
            "refund" => Ok(LedgerKind::Refund),
            other => Err(format!("unknown ledger entry kind `{other}`")),
        }
    }
}

/// One change of a balance. `amount` is signed: reservations are negative.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: i64,
    #[serde(with = "time")]
    pub at: Timestamp,
    pub kind: LedgerKind,
    pub amount: i64,
    pub balance_after: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}
