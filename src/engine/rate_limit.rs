//! The per-key request rate limit: a token bucket for each API key, refilled
//! continuously. Buckets live in this process only; a restart starts every
//! key with a full bucket, which errs on the side of the client.

use super::EngineError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests a key may make: `burst` at once, then `per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    /// Generous enough for dashboards, pollers and a CI fan-out of starts.
    fn default() -> Self {
        RateLimit {
            per_second: 20.0,
            burst: 200,
        }
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the key's bucket, or says how long to wait.
    pub fn take(&self, key_id: &str) -> Result<(), EngineError> {
        self.take_at(key_id, Instant::now())
    }

    fn take_at(&self, key_id: &str, now: Instant) -> Result<(), EngineError> {
        let RateLimit { per_second, burst } = self.limit;
        let mut buckets = self.buckets.lock().unwrap_or_else(|poison| poison.into_inner());
        let bucket = buckets.entry(key_id.to_string()).or_insert(Bucket {
            tokens: f64::from(burst),
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(f64::from(burst));
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        // Whole milliseconds, rounded up: a client that waits this long
        // finds a token (a wait of 0 would invite an immediate retry).
        let millis = ((1.0 - bucket.tokens) / per_second * 1000.0).ceil().max(1.0);
        let retry_after = Duration::from_millis(millis as u64);
        Err(EngineError::RateLimited {
            message: format!(
                "too many requests for this API key (limit: {per_second} per second, bursts of {burst}); retry in {} ms",
                retry_after.as_millis()
            ),
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            limiter.take_at("k", start).unwrap();
        }
        let Err(EngineError::RateLimited { retry_after, .. }) = limiter.take_at("k", start) else {
            panic!("the fourth request at once is refused");
        };
        assert_eq!(retry_after, Duration::from_millis(500));
        limiter.take_at("other", start).unwrap();
        limiter.take_at("k", start + Duration::from_millis(500)).unwrap();
        assert!(limiter.take_at("k", start + Duration::from_millis(600)).is_err());
        // A token 0.1 ms away is still a wait: never "retry in 0 ms".
        let Err(EngineError::RateLimited { retry_after, .. }) =
            limiter.take_at("k", start + Duration::from_micros(999_900))
        else {
            panic!("no token yet");
        };
        assert_eq!(retry_after, Duration::from_millis(1));
        // Idle time refills up to the burst, not beyond.
        let later = start + Duration::from_secs(60);
        for _ in 0..3 {
            limiter.take_at("k", later).unwrap();
        }
        assert!(limiter.take_at("k", later).is_err());
    }
}
