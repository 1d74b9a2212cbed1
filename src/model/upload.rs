//! Uploaded archives: what the server keeps of a directory a client sent it
//! to scan. The archive itself is stored once per content digest; each
//! upload is one user's claim on it.

use super::time::{self, Timestamp};
use serde::Serialize;

/// One user's upload of an archive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upload {
    pub upload_id: String,
    #[serde(skip)]
    pub user_id: String,
    /// `sha256:` and the hex digest of the archive's bytes as sent.
    pub digest: String,
    /// The archive's size as sent (compressed, when it was).
    pub bytes: u64,
    /// Regular files in the archive.
    pub files: u64,
    /// The files' total size once unpacked.
    pub unpacked_bytes: u64,
    #[serde(with = "time")]
    pub created_at: Timestamp,
    /// When a session last started with it; uploads unused for the
    /// server's retention time are removed.
    #[serde(with = "time")]
    pub last_used_at: Timestamp,
    /// The text of the archive's root `livescan.toml`, when it has one.
    #[serde(skip)]
    pub config: Option<String>,
}
