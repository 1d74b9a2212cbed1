//! Domain types and pure functions: findings, tool reports, sessions, the event
//! log's events and the state folded from them, progress and summary arithmetic,
//! accounts (users, key records, the credit ledger), uploads, a repository's
//! `livescan.toml` and the analysis of a session's findings.
//! Serde derives here produce the REST JSON (lowerCamelCase, as the Sessions API reference spells it).

pub mod account;
pub mod finding;
pub mod intelligence;
pub mod redact;
pub mod repo_config;
pub mod sarif;
pub mod session;
pub mod text;
pub mod time;
pub mod upload;

pub use account::{Account, KeyRecord, KeyState, LedgerEntry, LedgerKind};
pub use finding::{BaselineState, Category, Ecosystem, Finding, Origin, Severity, TargetKind, fingerprint};
pub use intelligence::Intelligence;
pub use repo_config::{RepoConfig, Suppression, SuppressionKind};
pub use session::{
    BySeverity, Event, EventKind, Metric, Omitted, Outcome, Progress, RawTarget, Refund, RefundDue, RuleInfo,
    Scanner, SelectedTool, SessionListing, SessionMeta, SessionOptions, SessionState, SessionStatus,
    StartRequest, Summary, Target, ToolReport, ToolResult, ToolStatus,
};
pub use time::Timestamp;
pub use upload::Upload;
