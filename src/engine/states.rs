//! A bounded cache of folded session states, so a poll reads and folds only
//! the events stored since the previous one instead of the whole log.

use crate::model::SessionState;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Sessions kept folded; the oldest-inserted one leaves first.
const CAPACITY: usize = 128;

#[derive(Default)]
pub struct StateCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    states: HashMap<String, Arc<SessionState>>,
    order: VecDeque<String>,
}

impl StateCache {
    pub fn get(&self, session_id: &str) -> Option<Arc<SessionState>> {
        self.lock().states.get(session_id).cloned()
    }

    /// Keeps `state` unless a newer fold of the same session is already kept.
    pub fn put(&self, state: Arc<SessionState>) {
        let mut entries = self.lock();
        let id = state.meta.session_id.clone();
        match entries.states.get(&id) {
            Some(kept) if kept.cursor >= state.cursor => return,
            Some(_) => {}
            None => entries.order.push_back(id.clone()),
        }
        entries.states.insert(id, state);
        while entries.order.len() > CAPACITY {
            if let Some(oldest) = entries.order.pop_front() {
                entries.states.remove(&oldest);
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
}
