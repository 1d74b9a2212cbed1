//! Domain types and pure functions: findings, tool reports, sessions, the event
//! log's events and the state folded from them, progress and summary arithmetic.
//! Serde derives here produce the REST JSON (lowerCamelCase, as the Sessions API reference spells it).

pub mod finding;
pub mod session;
pub mod time;

pub use finding::{Category, Finding, Severity, TargetKind, fingerprint};
pub use session::{
    BySeverity, Event, EventKind, Outcome, Progress, RawTarget, Refund, SelectedTool, SessionMeta,
    SessionOptions, SessionState, SessionStatus, StartRequest, Summary, Target, ToolReport, ToolResult,
    ToolStatus,
};
pub use time::Timestamp;
