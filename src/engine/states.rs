//! A bounded cache of folded session states, so a poll reads and folds only
//! the events stored since the previous one instead of the whole log. It is
//! bounded in bytes as well as in sessions: one session with a hundred
//! thousand findings weighs what it weighs, not one entry.

use crate::model::SessionState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Sessions kept folded at most; the oldest-inserted one leaves first.
const CAPACITY: usize = 128;
/// Bytes of folded state kept at most (the newest session is always kept).
const BUDGET_BYTES: usize = 256 * 1024 * 1024;

#[derive(Default)]
pub struct StateCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    states: HashMap<String, (Arc<SessionState>, usize)>,
    order: VecDeque<String>,
    bytes: usize,
}

impl StateCache {
    pub fn get(&self, session_id: &str) -> Option<Arc<SessionState>> {
        self.lock().states.get(session_id).map(|(state, _)| state.clone())
    }

    /// Keeps `state` unless a newer fold of the same session is already kept.
    pub fn put(&self, state: Arc<SessionState>) {
        let bytes = state.approx_bytes();
        let mut entries = self.lock();
        let id = state.meta.session_id.clone();
        match entries.states.get(&id) {
            Some((kept, _)) if kept.cursor >= state.cursor => return,
            Some(_) => {}
            None => entries.order.push_back(id.clone()),
        }
        if let Some((_, old)) = entries.states.insert(id, (state, bytes)) {
            entries.bytes -= old;
        }
        entries.bytes += bytes;
        while entries.order.len() > CAPACITY || (entries.bytes > BUDGET_BYTES && entries.order.len() > 1) {
            if let Some(oldest) = entries.order.pop_front()
                && let Some((_, freed)) = entries.states.remove(&oldest)
            {
                entries.bytes -= freed;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Finding, Outcome, Severity, ToolReport};

    fn state(id: &str, cursor: u64) -> Arc<SessionState> {
        let mut state = SessionState::new(crate::model::session::sample_meta(id, "u", 0));
        state.cursor = cursor;
        Arc::new(state)
    }

    #[test]
    fn keeps_the_newest_fold_and_stays_bounded() {
        let cache = StateCache::default();
        cache.put(state("a", 5));
        cache.put(state("a", 3));
        assert_eq!(
            cache.get("a").unwrap().cursor,
            5,
            "an older fold never replaces a newer one"
        );
        cache.put(state("a", 7));
        assert_eq!(cache.get("a").unwrap().cursor, 7);
        for i in 0..CAPACITY {
            cache.put(state(&format!("s{i}"), 1));
        }
        assert!(cache.get("a").is_none(), "the oldest entry left");
        assert!(cache.get(&format!("s{}", CAPACITY - 1)).is_some());
        assert_eq!(cache.lock().states.len(), CAPACITY);
    }

    #[test]
    fn heavy_sessions_are_bounded_in_bytes() {
        let heavy = |id: &str| {
            let message = "m".repeat(1024 * 1024);
            let findings = (0..100)
                .map(|i| Finding::new("r", Severity::Low, message.clone()).fingerprinted(&i.to_string()))
                .collect();
            let mut state = SessionState::new(crate::model::session::sample_meta(id, "u", 0));
            state.reports = vec![Arc::new(ToolReport::finished(
                "t",
                Category::Security,
                Outcome::Findings,
                1,
                findings,
                None,
            ))];
            state.cursor = 1;
            Arc::new(state)
        };
        let cache = StateCache::default();
        for i in 0..4 {
            cache.put(heavy(&format!("h{i}")));
        }
        let entries = cache.lock();
        assert!(entries.bytes <= BUDGET_BYTES, "{} bytes kept", entries.bytes);
        assert_eq!(entries.states.len(), 2, "100 MiB each: two fit");
        assert!(entries.states.contains_key("h3"));
    }
}
