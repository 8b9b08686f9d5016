//! When to try a failed status write again: per-Service exponential backoff with jitter and a
//! cap, the server's `Retry-After` honoured, and a global token bucket so that many failing
//! Services together cannot hammer the API server (the scheme of controller-runtime's and
//! kube-runtime's work queues).

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use ferrolb_view::ServiceKey;

/// First retry delay of a Service.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// Longest delay between two attempts for one Service.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// Retries allowed per second over all Services (the bucket refills at this rate).
pub const RETRIES_PER_SECOND: f64 = 10.0;
/// Retries allowed at once after a quiet period.
pub const RETRY_BURST: f64 = 20.0;

/// Per-Service attempt counts and due times, plus the global bucket.
#[derive(Debug)]
pub struct RetryQueue {
    failures: BTreeMap<ServiceKey, u32>,
    due: BTreeMap<ServiceKey, Instant>,
    bucket: TokenBucket,
    jitter: RandomState,
}

impl Default for RetryQueue {
    fn default() -> Self {
        RetryQueue {
            failures: BTreeMap::new(),
            due: BTreeMap::new(),
            bucket: TokenBucket::new(RETRIES_PER_SECOND, RETRY_BURST),
            jitter: RandomState::new(),
        }
    }
}

impl RetryQueue {
    /// Records a failed attempt for `key` and schedules the next one: `BASE_DELAY * 2^n`
    /// (n = earlier failures), capped at `MAX_DELAY`, scaled by a random factor in [0.5, 1], and
    /// never before `retry_after`. Returns the delay chosen.
    pub fn failed(&mut self, key: &ServiceKey, retry_after: Option<Duration>) -> Duration {
        let n = self.failures.entry(key.clone()).or_insert(0);
        let exp = BASE_DELAY
            .saturating_mul(1u32 << (*n).min(16))
            .min(MAX_DELAY);
        *n = n.saturating_add(1);
        let factor = 0.5 + (self.jitter.hash_one((key, *n)) % 1000) as f64 / 2000.0;
        let delay = exp.mul_f64(factor).max(retry_after.unwrap_or_default());
        self.due.insert(key.clone(), Instant::now() + delay);
        delay
    }

    /// Schedules `key` at `at` without counting a failure (e.g. the bucket was empty), or later
    /// if it was already scheduled later (a server's `Retry-After` stays a floor).
    pub fn defer(&mut self, key: &ServiceKey, at: Instant) {
        let due = self.due.entry(key.clone()).or_insert(at);
        *due = (*due).max(at);
    }

    /// The Service's write landed (or no longer matters): its backoff starts over.
    pub fn forget(&mut self, key: &ServiceKey) {
        self.failures.remove(key);
        self.due.remove(key);
    }

    /// When `key` is scheduled later than `now`: until then no write of it may go out, whatever
    /// else (a watch event, a relist) makes the controller look at it; its retry writes it.
    pub fn waiting_until(&self, key: &ServiceKey, now: Instant) -> Option<Instant> {
        self.due.get(key).copied().filter(|at| *at > now)
    }

    /// True when `key` has failed before and waits for a retry.
    pub fn is_backing_off(&self, key: &ServiceKey) -> bool {
        self.failures.contains_key(key)
    }

    /// The earliest due time, if any.
    pub fn next_due(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// Removes and returns the Services due at `now`.
    pub fn take_due(&mut self, now: Instant) -> Vec<ServiceKey> {
        let due: Vec<ServiceKey> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &due {
            self.due.remove(key);
        }
        due
    }

    /// Takes a token for a retry; `Err(at)` names when the next one is available.
    pub fn take_token(&mut self, now: Instant) -> Result<(), Instant> {
        self.bucket.take(now)
    }
}

/// A token bucket: `rate` tokens per second, at most `burst` stored.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Takes one token, or tells when one will be there.
    pub fn take(&mut self, now: Instant) -> Result<(), Instant> {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// Shortest pause before a failed watch or list is tried again.
pub const WATCH_MIN_DELAY: Duration = Duration::from_millis(250);
/// Longest pause before a failed watch or list is tried again: a change (a ConfigMap edit) is
/// seen within a few seconds of the API server coming back.
pub const WATCH_MAX_DELAY: Duration = Duration::from_secs(3);

/// Backoff of the watchers (Services, ConfigMap): doubling from [`WATCH_MIN_DELAY`] up to
/// [`WATCH_MAX_DELAY`], each pause scaled by a random factor in [0.5, 1]; starts over one minute
/// after the last failure.
pub fn watch_backoff() -> kube::runtime::utils::ResetTimerBackoff<WatchBackoff> {
    kube::runtime::utils::ResetTimerBackoff::new(WatchBackoff::default(), Duration::from_secs(60))
}

/// The exponential part of [`watch_backoff`].
#[derive(Debug)]
pub struct WatchBackoff {
    attempt: u32,
    jitter: RandomState,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff {
            attempt: 0,
            jitter: RandomState::new(),
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let exp = WATCH_MIN_DELAY
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(WATCH_MAX_DELAY);
        self.attempt = self.attempt.saturating_add(1);
        let factor = 0.5 + (self.jitter.hash_one(self.attempt) % 1000) as f64 / 2000.0;
        Some(exp.mul_f64(factor))
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ServiceKey {
        ServiceKey {
            namespace: "apps".into(),
            name: name.into(),
        }
    }

    #[test]
    fn delays_double_with_jitter_up_to_the_cap() {
        let mut queue = RetryQueue::default();
        let k = key("web");
        let mut previous_max = Duration::ZERO;
        for n in 0..12u32 {
            let delay = queue.failed(&k, None);
            let exp = BASE_DELAY.saturating_mul(1 << n).min(MAX_DELAY);
            assert!(
                delay <= exp && delay >= exp / 2,
                "attempt {n}: {delay:?} vs {exp:?}"
            );
            assert!(exp >= previous_max);
            previous_max = exp;
        }
        assert_eq!(previous_max, MAX_DELAY);
        queue.forget(&k);
        assert!(
            queue.failed(&k, None) <= BASE_DELAY,
            "a success starts over"
        );
    }

    #[test]
    fn watch_backoff_stays_within_a_few_seconds() {
        use kube::runtime::utils::Backoff;
        let mut backoff = WatchBackoff::default();
        let delays: Vec<Duration> = backoff.by_ref().take(20).collect();
        assert!(delays[0] <= WATCH_MIN_DELAY);
        assert!(delays.iter().all(|d| *d <= WATCH_MAX_DELAY));
        assert!(delays[19] >= WATCH_MAX_DELAY / 2);
        backoff.reset();
        assert!(backoff.next().unwrap_or_default() <= WATCH_MIN_DELAY);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut queue = RetryQueue::default();
        let delay = queue.failed(&key("web"), Some(Duration::from_secs(4)));
        assert_eq!(delay, Duration::from_secs(4));
        let at = queue.next_due().expect("scheduled");
        queue.defer(&key("web"), Instant::now());
        assert_eq!(
            queue.next_due(),
            Some(at),
            "a deferral does not bring it forward"
        );
        assert!(queue.take_due(Instant::now()).is_empty());
        let now = Instant::now();
        assert_eq!(queue.waiting_until(&key("web"), now), Some(at));
        assert_eq!(queue.waiting_until(&key("api"), now), None);
        assert_eq!(queue.take_due(at), [key("web")]);
        assert_eq!(
            queue.waiting_until(&key("web"), now),
            None,
            "taken for its retry"
        );
    }

    #[test]
    fn the_bucket_limits_the_rate_over_all_services() {
        let mut bucket = TokenBucket::new(10.0, 20.0);
        let start = Instant::now();
        let burst = (0..100).filter(|_| bucket.take(start).is_ok()).count();
        assert_eq!(burst, 20);
        let next = bucket.take(start).expect_err("empty");
        assert!(next > start && next <= start + Duration::from_millis(100));
        let later = start + Duration::from_secs(1);
        let refilled = (0..100).filter(|_| bucket.take(later).is_ok()).count();
        assert_eq!(refilled, 10);
    }
}
