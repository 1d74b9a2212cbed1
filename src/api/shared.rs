//! Whole-session encodings made once per (session, cursor) and shared: every
//! poller of a session's full view and every new watcher's snapshot get the
//! same bytes, so a view of a hundred thousand findings is serialised once,
//! not once per reader, and what watchers hold is a reference, not a copy.
//! Each transport keeps its own cache of its own encoding; a cache is
//! bounded in bytes, and a session's newer cursor replaces its older
//! encoding.

use crate::model::SessionState;
use axum::body::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Bytes of encoded views kept at most (the newest one is always kept).
const BUDGET_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
pub struct SharedViews {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Session id -> (cursor, encoded full view).
    views: HashMap<String, (u64, Bytes)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl SharedViews {
    /// `state` as `encode` renders it, encoded once for its cursor.
    pub fn encoded(&self, state: &SessionState, encode: impl FnOnce(&SessionState) -> Bytes) -> Bytes {
        let id = &state.meta.session_id;
        if let Some((cursor, bytes)) = self.lock().views.get(id)
            && *cursor == state.cursor
        {
            return bytes.clone();
        }
        let bytes = encode(state);
        let mut entries = self.lock();
        if let Some((_, old)) = entries.views.insert(id.clone(), (state.cursor, bytes.clone())) {
            entries.bytes -= old.len();
        } else {
            entries.order.push_back(id.clone());
        }
        entries.bytes += bytes.len();
        while entries.bytes > BUDGET_BYTES && entries.order.len() > 1 {
            if let Some(oldest) = entries.order.pop_front()
                && let Some((_, freed)) = entries.views.remove(&oldest)
            {
                entries.bytes -= freed.len();
            }
        }
        bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_encoded_once_per_cursor_and_the_cache_stays_bounded() {
        let views = SharedViews::default();
        let full = |state: &SessionState| Bytes::from(crate::api::rest::views::full(state));
        let mut state = SessionState::new(crate::model::session::sample_meta("s", "u", 0));
        let first = views.encoded(&state, full);
        let again = views.encoded(&state, |_| unreachable!("encoded again"));
        assert_eq!(first.as_ptr(), again.as_ptr(), "the same bytes, shared");
        state.cursor = 1;
        let newer = views.encoded(&state, full);
        assert_ne!(first.as_ptr(), newer.as_ptr(), "a new cursor is encoded anew");
        assert_eq!(views.lock().views.len(), 1);
        let json: serde_json::Value = serde_json::from_slice(&newer).unwrap();
        assert_eq!(json["cursor"], 1);
    }
}
