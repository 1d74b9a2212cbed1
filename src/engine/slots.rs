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

use std::collections::{BTreeSet, HashMap, VecDeque};
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

/// The waiters are kept per session, and the sessions that have any in
/// the order they are served, so handing out a slot costs a logarithm of
/// the waiting sessions, never a pass over every waiter: with thousands of
/// tools queued, that pass was most of the server's work.
struct State {
    capacity: usize,
    in_use: usize,
    held: HashMap<String, usize>,
    /// Each session's waiters, oldest first.
    queues: HashMap<String, VecDeque<Waiter>>,
    /// The sessions with waiters, next served first: (weight held, arrival
    /// of its oldest waiter, session).
    order: BTreeSet<(usize, u64, String)>,
    arrivals: u64,
}

struct Waiter {
    arrival: u64,
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
                queues: HashMap::new(),
                order: BTreeSet::new(),
                arrivals: 0,
            }),
        })
    }

    /// Waits for `weight` (at most the whole capacity) for `session`,
    /// behind every waiter served before it.
    /// Cancel-safe: a dropped wait gives up its place, and a slot granted to
    /// it is passed on.
    pub async fn acquire(self: &Arc<Self>, session: &str, weight: usize) -> Slot {
        let (grant, receiver) = oneshot::channel();
        let granted = {
            let mut state = self.lock();
            let weight = weight.clamp(1, state.capacity);
            state.arrivals += 1;
            let waiter = Waiter {
                arrival: state.arrivals,
                weight,
                grant,
            };
            state.change(session, |state| {
                state
                    .queues
                    .entry(session.to_string())
                    .or_default()
                    .push_back(waiter);
            });
            state.grant_waiters()
        };
        self.hand_over(granted);
        receiver
            .await
            .expect("a waiter is only dropped after being granted or by its own receiver")
    }

    /// Nothing waits, and some weight is free.
    pub fn is_idle(&self) -> bool {
        let state = self.lock();
        state.order.is_empty() && state.in_use < state.capacity
    }

    /// How much weight is taken now.
    pub fn in_use(&self) -> usize {
        self.lock().in_use
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn release(self: &Arc<Self>, session: &str, weight: usize) {
        let granted = {
            let mut state = self.lock();
            state.in_use -= weight;
            state.change(session, |state| {
                if let Some(count) = state.held.get_mut(session) {
                    *count -= weight;
                    if *count == 0 {
                        state.held.remove(session);
                    }
                }
            });
            state.grant_waiters()
        };
        self.hand_over(granted);
    }

    fn hand_over(self: &Arc<Self>, granted: Vec<Grant>) {
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
    /// Where `session` stands in the serving order, if it has waiters.
    fn key(&self, session: &str) -> Option<(usize, u64, String)> {
        let oldest = self.queues.get(session)?.front()?;
        let held = self.held.get(session).copied().unwrap_or(0);
        Some((held, oldest.arrival, session.to_string()))
    }

    /// Applies `update` to what `session` holds or waits for, keeping its
    /// place in the serving order right.
    fn change(&mut self, session: &str, update: impl FnOnce(&mut State)) {
        if let Some(key) = self.key(session) {
            self.order.remove(&key);
        }
        update(self);
        match self.key(session) {
            Some(key) => {
                self.order.insert(key);
            }
            None => {
                self.queues.remove(session);
            }
        }
    }

    /// Grants waiters in fairness order while the next one fits.
    fn grant_waiters(&mut self) -> Vec<Grant> {
        let mut granted = Vec::new();
        while let Some((_, _, session)) = self.order.first().cloned() {
            let mut next = None;
            self.change(&session, |state| {
                let queue = state
                    .queues
                    .get_mut(&session)
                    .expect("a session in the order has waiters");
                // Waits that were given up are dropped as they come up.
                while queue.front().is_some_and(|w| w.grant.is_closed()) {
                    queue.pop_front();
                }
                if let Some(waiter) = queue.front()
                    && state.in_use + waiter.weight <= state.capacity
                {
                    let waiter = queue.pop_front().expect("the front exists");
                    state.in_use += waiter.weight;
                    *state.held.entry(session.clone()).or_default() += waiter.weight;
                    next = Some(waiter);
                }
            });
            match next {
                Some(waiter) => granted.push(Grant {
                    to: waiter.grant,
                    session: session.clone(),
                    weight: waiter.weight,
                }),
                // The session's waits were all given up: look again.
                None if self.key(&session).is_none() => {}
                // The next waiter is served first, so nothing behind it
                // may overtake it, even a lighter one that would fit.
                None => break,
            }
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

    fn waiters(slots: &FairSlots) -> usize {
        slots.lock().queues.values().map(VecDeque::len).sum()
    }

    async fn queue(
        slots: &Arc<FairSlots>,
        session: &'static str,
        weight: usize,
    ) -> oneshot::Receiver<&'static str> {
        let shared = slots.clone();
        let (tx, rx) = oneshot::channel();
        let before = waiters(slots);
        tokio::spawn(async move {
            let slot = shared.acquire(session, weight).await;
            let _ = tx.send(session);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(slot);
        });
        while waiters(slots) == before {
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
        while waiters(&slots) == 0 {
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
