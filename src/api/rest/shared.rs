//! Full views encoded once per (session, cursor) and shared: every poller
//! of a session's full view and every new SSE watcher's snapshot get the
//! same bytes, so a view of a hundred thousand findings is serialised once,
//! not once per reader, and what watchers hold is a reference, not a copy.
//! The cache is bounded in bytes; a session's newer cursor replaces its
//! older encoding.

use super::views;
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
    /// The full view of `state`, encoded once for its cursor.
    pub fn full(&self, state: &SessionState) -> Bytes {
        let id = &state.meta.session_id;
        if let Some((cursor, bytes)) = self.lock().views.get(id)
            && *cursor == state.cursor
        {
            return bytes.clone();
        }
        let bytes = Bytes::from(views::full(state));
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
        let mut state = SessionState::new(crate::model::session::sample_meta("s", "u", 0));
        let first = views.full(&state);
        let again = views.full(&state);
        assert_eq!(first.as_ptr(), again.as_ptr(), "the same bytes, shared");
        state.cursor = 1;
        let newer = views.full(&state);
        assert_ne!(first.as_ptr(), newer.as_ptr(), "a new cursor is encoded anew");
        assert_eq!(views.lock().views.len(), 1);
        let json: serde_json::Value = serde_json::from_slice(&newer).unwrap();
        assert_eq!(json["cursor"], 1);
    }
}
