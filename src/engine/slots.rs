//! The global cap on tools running at once, shared fairly between sessions.
//!
//! Capacity is counted in weights, not tools: a native analyzer is 1, a
//! scanner process more (its descriptor says; semgrep and checkov are
//! heavy), so ten semgrep and checkov processes cannot start together on a
//! two-core machine. The default capacity follows the number of cores.
//!
//! When weight frees up it goes to the waiting session that holds the least
//! right now (oldest waiter first among equals), so a session with a high
//! `maxConcurrent` cannot starve a small one that arrived later. That waiter
//! is served first even if a lighter one behind it would fit: a heavy tool
//! is never overtaken forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Capacity per core when none is configured: enough to keep every core
/// busy with native analyzers, or two scanner processes per core.
pub const WEIGHT_PER_CORE: usize = 4;

/// The default capacity for this machine.
pub fn default_capacity() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores * WEIGHT_PER_CORE
}

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
    weight: usize,
    grant: oneshot::Sender<Slot>,
}

/// Weight given to a waiter, to be handed over outside the lock.
struct Grant {
    to: oneshot::Sender<Slot>,
    session: String,
    weight: usize,
}

/// A held slot; dropping it hands its weight to the next waiters.
pub struct Slot {
    slots: Arc<FairSlots>,
    session: String,
    weight: usize,
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

    /// Waits for `weight` (at most the whole capacity) for `session`.
    /// Cancel-safe: a dropped wait gives up its place, and a slot granted to
    /// it is passed on.
    pub async fn acquire(self: &Arc<Self>, session: &str, weight: usize) -> Slot {
        let receiver = {
            let mut state = self.lock();
            let weight = weight.clamp(1, state.capacity);
            if state.in_use + weight <= state.capacity && state.waiting.is_empty() {
                state.take(session, weight);
                return Slot {
                    slots: self.clone(),
                    session: session.to_string(),
                    weight,
                };
            }
            let (grant, receiver) = oneshot::channel();
            state.waiting.push(Waiter {
                session: session.to_string(),
                weight,
                grant,
            });
            receiver
        };
        receiver
            .await
            .expect("a waiter is only dropped after being granted or by its own receiver")
    }

    /// How much weight is taken now.
    pub fn in_use(&self) -> usize {
        self.lock().in_use
    }

    /// How many tools are waiting for a slot.
    pub fn waiting(&self) -> usize {
        self.lock()
            .waiting
            .iter()
            .filter(|w| !w.grant.is_closed())
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn release(self: &Arc<Self>, session: &str, weight: usize) {
        let granted = {
            let mut state = self.lock();
            state.in_use -= weight;
            if let Some(count) = state.held.get_mut(session) {
                *count -= weight;
                if *count == 0 {
                    state.held.remove(session);
                }
            }
            state.grant_waiters()
        };
        for grant in granted {
            // If the waiter vanished meanwhile, dropping the returned slot
            // releases it again and it goes to the next one.
            let _ = grant.to.send(Slot {
                slots: self.clone(),
                session: grant.session,
                weight: grant.weight,
            });
        }
    }
}

impl State {
    fn take(&mut self, session: &str, weight: usize) {
        self.in_use += weight;
        *self.held.entry(session.to_string()).or_default() += weight;
    }

    /// Grants waiters in fairness order while the best one fits.
    fn grant_waiters(&mut self) -> Vec<Grant> {
        let mut granted = Vec::new();
        loop {
            self.waiting.retain(|w| !w.grant.is_closed());
            let best = (0..self.waiting.len())
                .min_by_key(|&i| (self.held.get(&self.waiting[i].session).copied().unwrap_or(0), i));
            let Some(i) = best else { break };
            if self.in_use + self.waiting[i].weight > self.capacity {
                break;
            }
            let waiter = self.waiting.remove(i);
            self.take(&waiter.session, waiter.weight);
            granted.push(Grant {
                to: waiter.grant,
                session: waiter.session,
                weight: waiter.weight,
            });
        }
        granted
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.release(&self.session, self.weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn queue(
        slots: &Arc<FairSlots>,
        session: &'static str,
        weight: usize,
    ) -> oneshot::Receiver<&'static str> {
        let shared = slots.clone();
        let (tx, rx) = oneshot::channel();
        let before = slots.lock().waiting.len();
        tokio::spawn(async move {
            let slot = shared.acquire(session, weight).await;
            let _ = tx.send(session);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(slot);
        });
        while slots.lock().waiting.len() == before {
            tokio::task::yield_now().await;
        }
        rx
    }

    #[tokio::test]
    async fn freed_slots_go_to_the_session_holding_fewest() {
        let slots = FairSlots::new(2);
        let a1 = slots.acquire("a", 1).await;
        let a2 = slots.acquire("a", 1).await;
        // Session a queues two more, then b queues one.
        let mut waiters = Vec::new();
        for session in ["a", "a", "b"] {
            waiters.push(queue(&slots, session, 1).await);
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
    async fn heavy_tools_count_for_more_and_are_not_overtaken() {
        let slots = FairSlots::new(4);
        let light = slots.acquire("a", 1).await;
        let heavy = slots.acquire("a", 3).await;
        assert_eq!(slots.in_use(), 4);
        // A heavy tool of b waits; a light one of c queued after it does not
        // slip past it when only one unit frees up.
        let mut b = queue(&slots, "b", 3).await;
        let mut c = queue(&slots, "c", 1).await;
        drop(light);
        tokio::task::yield_now().await;
        assert!(
            b.try_recv().is_err() && c.try_recv().is_err(),
            "the head waits for its weight"
        );
        drop(heavy);
        assert_eq!((&mut b).await.unwrap(), "b");
        assert_eq!((&mut c).await.unwrap(), "c");
        assert_eq!(slots.in_use(), 4);
        // A weight above the capacity is clamped, not stuck forever.
        let small = FairSlots::new(2);
        let _all = small.acquire("x", 10).await;
        assert_eq!(small.in_use(), 2);
    }

    #[tokio::test]
    async fn abandoned_waits_do_not_leak_slots() {
        let slots = FairSlots::new(1);
        let held = slots.acquire("a", 1).await;
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.acquire("b", 1).await }
        });
        while slots.lock().waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        assert_eq!(slots.in_use(), 0);
        let _again = slots.acquire("c", 1).await;
        assert_eq!(slots.in_use(), 1);
    }
}
