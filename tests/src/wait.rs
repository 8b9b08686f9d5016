//! Bounded polling.

use std::time::{Duration, Instant};

/// Poll interval of [`wait_until`].
pub const POLL: Duration = Duration::from_millis(50);

/// Polls `probe` every 50 ms until it returns `Some`, for at most `timeout`.
/// Panics with `timed out after ..: <what>` when the time is up.
pub fn wait_until<T>(timeout: Duration, what: &str, probe: impl FnMut() -> Option<T>) -> T {
    match wait_until_opt(timeout, probe) {
        Some(v) => v,
        None => panic!(
            "timed out after {:.1} s waiting for: {what}",
            timeout.as_secs_f64()
        ),
    }
}

/// Like [`wait_until`] but returns `None` when the time is up (for "this must not happen within
/// T" checks). The probe runs at least once, and once more at the deadline.
pub fn wait_until_opt<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}
