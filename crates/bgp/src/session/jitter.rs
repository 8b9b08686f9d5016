//! RFC 4271 §10 jitter: ConnectRetry, keepalive and idle-hold intervals are multiplied by a
//! random factor in 0.75..=1.0, so the speakers of a cluster do not retry in lock step.
//! The session stays deterministic: the randomness comes from a seed in its configuration.

use std::time::Duration;

/// A small pseudo-random generator (SplitMix64) seeded from the configuration; `None`
/// applies no jitter (exact intervals, for simulated-time tests).
#[derive(Debug, Clone)]
pub(crate) struct Jitter(Option<u64>);

impl Jitter {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Jitter(seed)
    }

    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `d` times a factor in 0.75..=1.0.
    pub(crate) fn apply(&mut self, d: Duration) -> Duration {
        let Some(state) = self.0.as_mut() else {
            return d;
        };
        // 53 random bits -> [0, 1).
        let r = (Self::next(state) >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(1.0 - 0.25 * r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_stays_within_three_quarters_and_one() {
        let mut j = Jitter::new(Some(7));
        let d = Duration::from_secs(40);
        let got: Vec<Duration> = (0..1000).map(|_| j.apply(d)).collect();
        assert!(got.iter().all(|g| *g >= Duration::from_secs(30) && *g <= d));
        let below_35 = got.iter().filter(|g| **g < Duration::from_secs(35)).count();
        assert!((300..700).contains(&below_35), "{below_35}");
        assert_eq!(Jitter::new(None).apply(d), d);
    }
}
