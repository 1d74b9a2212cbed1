//! The global cap on tools running at once, shared fairly between sessions.
//!
//! When a slot frees up it goes to the waiting session that holds the fewest
//! slots right now (oldest waiter first among equals), so a session with a
//! high `maxConcurrent` cannot starve a small one that arrived later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub struct FairSlots {
    state: Mutex<State>,
}

struct State {
    capacity: usize,
    in_use: usize,
    held: HashMap<String, usize>,
    waiting: Vec<Waiter>,
}

struct Waiter {
    session: String,
    grant: oneshot::Sender<Slot>,
}

/// A held slot; dropping it hands the slot to the next waiter.
pub struct Slot {
    slots: Arc<FairSlots>,
    session: String,
}

impl FairSlots {
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(FairSlots {
            state: Mutex::new(State {
                capacity: capacity.max(1),
                in_use: 0,
                held: HashMap::new(),
                waiting: Vec::new(),
            }),
        })
    }

    /// Waits for a slot for `session`. Cancel-safe: a dropped wait gives up its
    /// place, and a slot granted to it is passed on.
    pub async fn acquire(self: &Arc<Self>, session: &str) -> Slot {
        let receiver = {
            let mut state = self.lock();
            if state.in_use < state.capacity && state.waiting.is_empty() {
                state.take(session);
                return Slot {
                    slots: self.clone(),
                    session: session.to_string(),
                };
            }
            let (grant, receiver) = oneshot::channel();
            state.waiting.push(Waiter {
                session: session.to_string(),
                grant,
            });
            receiver
        };
        receiver
            .await
            .expect("a waiter is only dropped after being granted or by its own receiver")
    }

    /// How many slots are taken now.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.lock().in_use
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn release(self: &Arc<Self>, session: &str) {
        let next = {
            let mut state = self.lock();
            state.in_use -= 1;
            if let Some(count) = state.held.get_mut(session) {
                *count -= 1;
                if *count == 0 {
                    state.held.remove(session);
                }
            }
            state.waiting.retain(|w| !w.grant.is_closed());
            let best = (0..state.waiting.len())
                .min_by_key(|&i| (state.held.get(&state.waiting[i].session).copied().unwrap_or(0), i));
            best.map(|i| {
                let waiter = state.waiting.remove(i);
                state.take(&waiter.session);
                waiter
            })
        };
        if let Some(waiter) = next {
            let slot = Slot {
                slots: self.clone(),
                session: waiter.session,
            };
            // If the waiter vanished meanwhile, dropping the returned slot
            // releases it again and it goes to the next one.
            let _ = waiter.grant.send(slot);
        }
    }
}

impl State {
    fn take(&mut self, session: &str) {
        self.in_use += 1;
        *self.held.entry(session.to_string()).or_default() += 1;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release(&self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn freed_slots_go_to_the_session_holding_fewest() {
        let slots = FairSlots::new(2);
        let a1 = slots.acquire("a").await;
        let a2 = slots.acquire("a").await;
        // Session a queues two more, then b queues one.
        let mut waiters = Vec::new();
        for session in ["a", "a", "b"] {
            let shared = slots.clone();
            let (tx, rx) = oneshot::channel();
            tokio::spawn(async move {
                let slot = shared.acquire(session).await;
                let _ = tx.send(session);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(slot);
            });
            waiters.push(rx);
            tokio::task::yield_now().await;
            while slots.lock().waiting.len() < waiters.len() {
                tokio::task::yield_now().await;
            }
        }
        drop(a1);
        // b holds nothing while a holds one, so b gets the slot first.
        let mut b = waiters.pop().unwrap();
        assert_eq!((&mut b).await.unwrap(), "b");
        assert_eq!(slots.in_use(), 2);
        drop(a2);
        assert_eq!(waiters.remove(0).await.unwrap(), "a");
    }

    #[tokio::test]
    async fn abandoned_waits_do_not_leak_slots() {
        let slots = FairSlots::new(1);
        let held = slots.acquire("a").await;
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire("b").await }
        });
        while slots.lock().waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        assert_eq!(slots.in_use(), 0);
        let _again = slots.acquire("c").await;
        assert_eq!(slots.in_use(), 1);
    }
}
