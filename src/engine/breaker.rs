//! A circuit breaker per tool, across sessions: after `threshold` tool
//! errors in a row the tool's circuit opens and the tool is skipped (and
//! refunded) for `cooldown`; then one run is let through as a trial: success
//! closes the circuit, another error opens it again. Timeouts, skips,
//! cancels and targets that cannot be reached (refused by the address
//! policy, no DNS answer, no connection) say nothing about the tool's
//! health and leave the count alone: one user's bad targets must not switch
//! a tool off for everyone.

use crate::model::{Timestamp, time};
use crate::store::{CircuitRecord, SharedStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    /// The cool-down is over and one trial run is allowed (or under way).
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        }
    }
}

/// A tool's circuit as the tool list shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Circuit {
    pub state: CircuitState,
    /// Tool errors in a row.
    pub failures: u32,
    /// When an open circuit lets a trial through.
    pub retry_at: Option<Timestamp>,
}

impl Circuit {
    /// A tool that has not failed.
    pub const CLOSED: Circuit = Circuit {
        state: CircuitState::Closed,
        failures: 0,
        retry_at: None,
    };

    /// What `record` says at `now_ms`.
    fn of(record: &CircuitRecord, now_ms: i64) -> Circuit {
        let (state, retry_at) = match record.open_until_ms {
            None => (CircuitState::Closed, None),
            Some(until) if until > now_ms => (CircuitState::Open, Some(time::from_millis(until))),
            Some(_) => (CircuitState::HalfOpen, None),
        };
        Circuit {
            state,
            failures: record.failures,
            retry_at,
        }
    }
}

/// How a finished run bears on the tool's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    ToolError,
    NoSignal,
}

/// The tools' circuits. On a single node they live here. In a cluster the
/// database keeps them and each node keeps what it last read (refreshed
/// with every lease renewal, at least once a second): a closed circuit
/// lets a run through without asking the database, anything else is
/// decided under the database's lock, so one trial at a time runs in the
/// whole cluster. A node's healthy run resets a count it has not yet read,
/// so "in a row" is counted within that second.
pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    known: Mutex<HashMap<String, CircuitRecord>>,
    shared: Option<Arc<dyn SharedStore>>,
}

impl Breakers {
    /// Circuits kept in this process alone.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breakers {
            threshold,
            cooldown,
            known: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Circuits kept in the database that a cluster's nodes share.
    pub fn shared(threshold: u32, cooldown: Duration, store: Arc<dyn SharedStore>) -> Self {
        Breakers {
            shared: Some(store),
            ..Self::new(threshold, cooldown)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CircuitRecord>> {
        self.known.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn known(&self, tool: &str) -> CircuitRecord {
        self.lock().get(tool).copied().unwrap_or_default()
    }

    /// Changes `tool`'s circuit where it is kept; what `change` said, or
    /// `None` when the database could not be asked.
    async fn change<R: Send>(
        &self,
        tool: &str,
        mut change: impl FnMut(&mut CircuitRecord, i64) -> R + Send,
    ) -> Option<R> {
        let Some(store) = &self.shared else {
            let mut known = self.lock();
            return Some(change(
                known.entry(tool.to_string()).or_default(),
                time::now_millis(),
            ));
        };
        let mut said = None;
        match store
            .change_circuit(tool, &mut |record, now_ms| said = Some(change(record, now_ms)))
            .await
        {
            Ok(record) => {
                self.lock().insert(tool.to_string(), record);
                said
            }
            Err(err) => {
                tracing::warn!(tool, error = %err, "could not read or change the tool's circuit");
                None
            }
        }
    }

    /// Whether `tool` may run now; `Err` says why not. When the database
    /// cannot say, the tool runs.
    pub async fn allow(&self, tool: &str) -> Result<(), String> {
        if self.shared.is_some() && self.known(tool).open_until_ms.is_none() {
            return Ok(());
        }
        let cooldown = self.cooldown.as_millis() as i64;
        self.change(tool, |record, now_ms| admit(record, now_ms, cooldown))
            .await
            .unwrap_or(Ok(()))
    }

    /// Records how a run that [`allow`](Self::allow) let through ended.
    pub async fn record(&self, tool: &str, verdict: Verdict) {
        let known = self.known(tool);
        // A run that says nothing can only end a trial, and a trial runs
        // only while the circuit is open: judged on that, not on the trial
        // itself, which a refresh read just before it began may not show.
        let changes_nothing = match verdict {
            Verdict::Healthy => known == CircuitRecord::default(),
            Verdict::NoSignal => known.open_until_ms.is_none(),
            Verdict::ToolError => false,
        };
        if self.shared.is_some() && changes_nothing {
            return;
        }
        let (threshold, cooldown) = (self.threshold, self.cooldown.as_millis() as i64);
        let opened = self
            .change(tool, |record, now_ms| {
                settle(record, verdict, now_ms, threshold, cooldown)
            })
            .await;
        if let Some(failures) = opened.flatten() {
            tracing::warn!(
                tool,
                failures,
                cooldown_s = self.cooldown.as_secs(),
                "circuit opened"
            );
        }
    }

    /// Reads the circuits the database holds now (a no-op on a single
    /// node); the database's time.
    pub async fn refresh(&self) -> i64 {
        let Some(store) = &self.shared else {
            return time::now_millis();
        };
        match store.circuits().await {
            Ok((circuits, now_ms)) => {
                *self.lock() = circuits.into_iter().collect();
                now_ms
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not read the tools' circuits");
                time::now_millis()
            }
        }
    }

    /// Each tool's circuit that is not plainly closed, as read now.
    pub async fn circuits(&self) -> HashMap<String, Circuit> {
        let now_ms = self.refresh().await;
        self.lock()
            .iter()
            .map(|(tool, record)| (tool.clone(), Circuit::of(record, now_ms)))
            .collect()
    }
}

/// Lets a run through `record`'s circuit at `now_ms`, as a trial once an
/// open circuit cooled down, or says why not. A trial that never reported
/// (its node stopped) gives way to another after a cool-down.
fn admit(record: &mut CircuitRecord, now_ms: i64, cooldown_ms: i64) -> Result<(), String> {
    let Some(until) = record.open_until_ms else {
        return Ok(());
    };
    if now_ms < until {
        return Err(format!(
            "circuit open after {} tool errors in a row; tried again in {} s",
            record.failures,
            ((until - now_ms) / 1000).max(1)
        ));
    }
    if record
        .trial_since_ms
        .is_some_and(|since| now_ms < since + cooldown_ms)
    {
        return Err("circuit half-open: a trial run of this tool is under way".to_string());
    }
    record.trial_since_ms = Some(now_ms);
    Ok(())
}

/// Counts a finished run into `record`: the errors in a row when it
/// opened the circuit.
fn settle(
    record: &mut CircuitRecord,
    verdict: Verdict,
    now_ms: i64,
    threshold: u32,
    cooldown_ms: i64,
) -> Option<u32> {
    let was_trial = record.trial_since_ms.take().is_some();
    match verdict {
        Verdict::Healthy => *record = CircuitRecord::default(),
        Verdict::ToolError => {
            record.failures += 1;
            if was_trial || record.failures >= threshold {
                record.open_until_ms = Some(now_ms + cooldown_ms);
                return Some(record.failures);
            }
        }
        Verdict::NoSignal => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn circuit(breakers: &Breakers, tool: &str) -> Circuit {
        breakers
            .circuits()
            .await
            .get(tool)
            .copied()
            .unwrap_or(Circuit::CLOSED)
    }

    #[tokio::test]
    async fn opens_after_the_threshold_then_lets_one_trial_through() {
        let breakers = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            breakers.allow("t").await.unwrap();
            breakers.record("t", Verdict::ToolError).await;
        }
        breakers.allow("t").await.unwrap();
        breakers.record("t", Verdict::NoSignal).await;
        assert_eq!(
            circuit(&breakers, "t").await.state,
            CircuitState::Closed,
            "timeouts do not count"
        );
        breakers.allow("t").await.unwrap();
        breakers.record("t", Verdict::ToolError).await;
        let open = circuit(&breakers, "t").await;
        assert_eq!((open.state, open.failures), (CircuitState::Open, 3));
        assert!(open.retry_at.is_some());
        assert!(
            breakers
                .allow("t")
                .await
                .unwrap_err()
                .contains("circuit open after 3")
        );

        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(circuit(&breakers, "t").await.state, CircuitState::HalfOpen);
        breakers.allow("t").await.unwrap();
        assert!(breakers.allow("t").await.is_err(), "one trial at a time");
        breakers.record("t", Verdict::ToolError).await;
        assert_eq!(
            circuit(&breakers, "t").await.state,
            CircuitState::Open,
            "a failed trial reopens"
        );

        tokio::time::sleep(Duration::from_millis(60)).await;
        breakers.allow("t").await.unwrap();
        breakers.record("t", Verdict::Healthy).await;
        assert_eq!(circuit(&breakers, "t").await, Circuit::CLOSED);
        assert_eq!(circuit(&breakers, "other").await, Circuit::CLOSED);
    }

    #[test]
    fn a_trial_that_never_reported_gives_way_after_a_cool_down() {
        let mut record = CircuitRecord {
            failures: 5,
            open_until_ms: Some(1_000),
            trial_since_ms: None,
        };
        assert!(
            admit(&mut record, 999, 100)
                .unwrap_err()
                .contains("after 5 tool errors")
        );
        admit(&mut record, 1_000, 100).unwrap();
        assert_eq!(record.trial_since_ms, Some(1_000));
        assert!(admit(&mut record, 1_099, 100).unwrap_err().contains("half-open"));
        admit(&mut record, 1_100, 100).unwrap();
        assert_eq!(record.trial_since_ms, Some(1_100));
    }
}
