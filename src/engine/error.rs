//! The one error type every engine call returns. Each variant names its HTTP
//! status and its REST error code; the gRPC adapter maps the same variants to
//! gRPC codes, so both APIs always agree on what went wrong.

pub use crate::model::text::bounded;
use crate::store::StoreError;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad input; `field` is the request field at fault (e.g. `target.url`).
    #[error("{field}: {message}")]
    InvalidArgument {
        field: String,
        message: String,
        details: Value,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("insufficient credits: {required} required, {balance} available")]
    InsufficientCredits { required: u64, balance: i64 },
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// Past a size limit; `limit` names it (e.g. `unpackedBytes`).
    #[error("{message} (limit `{limit}`: {max})")]
    TooLarge {
        limit: String,
        max: u64,
        message: String,
    },
}

/// A client's own input echoed in an error (a field name, an id) is cut to
/// this many characters, and a whole message to [`MAX_MESSAGE_CHARS`]: a
/// multi-megabyte id must not come back in a header or a trailer.
pub const MAX_ECHO_CHARS: usize = 200;
pub const MAX_MESSAGE_CHARS: usize = 1000;

impl EngineError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::invalid_with(field, message, json!({}))
    }

    /// Bad input whose valid alternatives are listed in `details.valid`.
    pub fn invalid_choice(field: &str, message: impl Into<String>, valid: &[&str]) -> Self {
        Self::invalid_with(field, message, json!({ "valid": valid }))
    }

    /// Bad input with more details than the field (`details.field` is added).
    pub fn invalid_with(field: &str, message: impl Into<String>, mut details: Value) -> Self {
        let field = bounded(field, MAX_ECHO_CHARS);
        details["field"] = json!(field);
        EngineError::InvalidArgument {
            field,
            message: bounded(&message.into(), MAX_MESSAGE_CHARS),
            details,
        }
    }

    /// The message as clients are shown it, never longer than [`MAX_MESSAGE_CHARS`].
    pub fn message(&self) -> String {
        bounded(&self.to_string(), MAX_MESSAGE_CHARS)
    }

    /// A valid key whose account has been deleted under it.
    pub fn account_gone() -> Self {
        EngineError::Unauthenticated("the API key's account no longer exists".to_string())
    }

    pub fn session_not_found(id: &str) -> Self {
        EngineError::NotFound(format!("no session with id `{}`", bounded(id, MAX_ECHO_CHARS)))
    }

    /// The machine-readable code in the REST error body.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidArgument { .. } => "invalid_argument",
            EngineError::NotFound(_) => "not_found",
            EngineError::Unauthenticated(_) => "unauthenticated",
            EngineError::InsufficientCredits { .. } => "insufficient_credits",
            EngineError::RateLimited { .. } => "rate_limited",
            EngineError::Unavailable(_) => "unavailable",
            EngineError::Internal(_) => "internal",
            EngineError::TooLarge { .. } => "too_large",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            EngineError::InvalidArgument { .. } => 400,
            EngineError::Unauthenticated(_) => 401,
            EngineError::InsufficientCredits { .. } => 402,
            EngineError::NotFound(_) => 404,
            EngineError::RateLimited { .. } => 429,
            EngineError::Unavailable(_) => 503,
            EngineError::Internal(_) => 500,
            EngineError::TooLarge { .. } => 413,
        }
    }

    /// How long a rate-limited client should wait.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            EngineError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Structured details for the error body (`field`, `valid`, `required`, ...).
    pub fn details(&self) -> Value {
        match self {
            EngineError::InvalidArgument { details, .. } => details.clone(),
            EngineError::InsufficientCredits { required, balance } => {
                json!({ "required": required, "balance": balance })
            }
            EngineError::RateLimited { retry_after, .. } => {
                json!({ "retryAfterMs": retry_after.as_millis() as u64 })
            }
            EngineError::TooLarge { limit, max, .. } => json!({ "limit": limit, "max": max }),
            _ => json!({}),
        }
    }
}

impl From<StoreError> for EngineError {
    /// Every store error an engine call meets passes here, so here it is counted.
    fn from(err: StoreError) -> Self {
        if matches!(
            err,
            StoreError::Unavailable(_)
                | StoreError::Conflict(_)
                | StoreError::Database(_)
                | StoreError::Corrupt(_)
        ) {
            super::metrics::metrics().store_errors.inc();
        }
        match err {
            StoreError::UnknownSession(id) => EngineError::session_not_found(&id),
            StoreError::Unavailable(msg) => EngineError::Unavailable(format!("storage unavailable: {msg}")),
            StoreError::Conflict(msg) => {
                EngineError::Unavailable(format!("storage busy, nothing was stored: {msg}"))
            }
            StoreError::Database(msg) => EngineError::Internal(format!("storage refused the request: {msg}")),
            StoreError::Corrupt(msg) => EngineError::Internal(msg),
            StoreError::InsufficientCredits { required, balance } => {
                EngineError::InsufficientCredits { required, balance }
            }
            // A key whose user or record vanished under it.
            StoreError::UnknownUser(_) | StoreError::UnknownKey(_) => EngineError::account_gone(),
            StoreError::ScanIdTaken(id) => EngineError::Unavailable(format!(
                "no free scan id ({id} was taken); start the session again"
            )),
        }
    }
}
