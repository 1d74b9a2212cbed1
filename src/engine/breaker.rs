//! A circuit breaker per tool, across sessions: after `threshold` tool
//! errors in a row the tool's circuit opens and the tool is skipped (and
//! refunded) for `cooldown`; then one run is let through as a trial: success
//! closes the circuit, another error opens it again. Timeouts, skips,
//! cancels and targets that cannot be reached (refused by the address
//! policy, no DNS answer, no connection) say nothing about the tool's
//! health and leave the count alone: one user's bad targets must not switch
//! a tool off for everyone.

use crate::model::{Timestamp, time};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// How a finished run bears on the tool's health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    ToolError,
    NoSignal,
}

#[derive(Default)]
struct Entry {
    failures: u32,
    open_until: Option<Instant>,
    trial_running: bool,
}

pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    tools: Mutex<HashMap<String, Entry>>,
}

impl Breakers {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breakers {
            threshold,
            cooldown,
            tools: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.tools.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Whether `tool` may run now; `Err` says why not.
    pub fn allow(&self, tool: &str) -> Result<(), String> {
        let mut tools = self.lock();
        let entry = tools.entry(tool.to_string()).or_default();
        let Some(until) = entry.open_until else {
            return Ok(());
        };
        let now = Instant::now();
        if now < until {
            return Err(format!(
                "circuit open after {} tool errors in a row; tried again in {} s",
                entry.failures,
                (until - now).as_secs().max(1)
            ));
        }
        if entry.trial_running {
            return Err("circuit half-open: a trial run of this tool is under way".to_string());
        }
        entry.trial_running = true;
        Ok(())
    }

    /// Records how a run that [`allow`](Self::allow) let through ended.
    pub fn record(&self, tool: &str, verdict: Verdict) {
        let mut tools = self.lock();
        let entry = tools.entry(tool.to_string()).or_default();
        let was_trial = std::mem::take(&mut entry.trial_running);
        match verdict {
            Verdict::Healthy => *entry = Entry::default(),
            Verdict::ToolError => {
                entry.failures += 1;
                if was_trial || entry.failures >= self.threshold {
                    entry.open_until = Some(Instant::now() + self.cooldown);
                    tracing::warn!(
                        tool,
                        failures = entry.failures,
                        cooldown_s = self.cooldown.as_secs(),
                        "circuit opened"
                    );
                }
            }
            Verdict::NoSignal => {}
        }
    }

    pub fn circuit(&self, tool: &str) -> Circuit {
        let tools = self.lock();
        let Some(entry) = tools.get(tool) else {
            return Circuit {
                state: CircuitState::Closed,
                failures: 0,
                retry_at: None,
            };
        };
        let now = Instant::now();
        let (state, retry_at) = match entry.open_until {
            None => (CircuitState::Closed, None),
            Some(until) if until > now => {
                let at = time::now_millis() + (until - now).as_millis() as i64;
                (CircuitState::Open, Some(time::from_millis(at)))
            }
            Some(_) => (CircuitState::HalfOpen, None),
        };
        Circuit {
            state,
            failures: entry.failures,
            retry_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_lets_one_trial_through() {
        let breakers = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            breakers.allow("t").unwrap();
            breakers.record("t", Verdict::ToolError);
        }
        breakers.allow("t").unwrap();
        breakers.record("t", Verdict::NoSignal);
        assert_eq!(
            breakers.circuit("t").state,
            CircuitState::Closed,
            "timeouts do not count"
        );
        breakers.allow("t").unwrap();
        breakers.record("t", Verdict::ToolError);
        let open = breakers.circuit("t");
        assert_eq!((open.state, open.failures), (CircuitState::Open, 3));
        assert!(open.retry_at.is_some());
        assert!(breakers.allow("t").unwrap_err().contains("circuit open after 3"));

        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(breakers.circuit("t").state, CircuitState::HalfOpen);
        breakers.allow("t").unwrap();
        assert!(breakers.allow("t").is_err(), "one trial at a time");
        breakers.record("t", Verdict::ToolError);
        assert_eq!(
            breakers.circuit("t").state,
            CircuitState::Open,
            "a failed trial reopens"
        );

        std::thread::sleep(Duration::from_millis(60));
        breakers.allow("t").unwrap();
        breakers.record("t", Verdict::Healthy);
        assert_eq!(
            breakers.circuit("t"),
            Circuit {
                state: CircuitState::Closed,
                failures: 0,
                retry_at: None
            }
        );
        assert_eq!(breakers.circuit("other").state, CircuitState::Closed);
    }
}
