//! The set of used addresses as merged runs, so that finding the lowest free address of a pool
//! costs a few tree look-ups however large the pool is (a /64 allocates nothing per address).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferrolb_config::{IpFamily, IpRange};

/// Used addresses per family, stored as disjoint runs `start -> end` (inclusive).
#[derive(Debug, Default, Clone)]
pub(crate) struct UsedSet {
    v4: BTreeMap<u128, u128>,
    v6: BTreeMap<u128, u128>,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl UsedSet {
    fn runs(&self, family: IpFamily) -> &BTreeMap<u128, u128> {
        match family {
            IpFamily::V4 => &self.v4,
            IpFamily::V6 => &self.v6,
        }
    }

    fn runs_mut(&mut self, family: IpFamily) -> &mut BTreeMap<u128, u128> {
        match family {
            IpFamily::V4 => &mut self.v4,
            IpFamily::V6 => &mut self.v6,
        }
    }

    /// The last address of the run containing `value`, when `value` is used.
    pub fn run_end(&self, family: IpFamily, value: u128) -> Option<u128> {
        let (_, end) = self.runs(family).range(..=value).next_back()?;
        (*end >= value).then_some(*end)
    }

    /// Marks `ip` used.
    pub fn insert(&mut self, ip: IpAddr) {
        let family = IpFamily::of(ip);
        let v = to_u128(ip);
        if self.run_end(family, v).is_some() {
            return;
        }
        let runs = self.runs_mut(family);
        let mut start = v;
        let mut end = v;
        // Merge with the run ending just before.
        if let Some((&s, &e)) = runs.range(..v).next_back() {
            if e.checked_add(1) == Some(v) {
                start = s;
            }
        }
        // Merge with the run starting just after.
        if let Some(next) = v.checked_add(1) {
            if let Some(e) = runs.remove(&next) {
                end = e;
            }
        }
        runs.insert(start, end);
    }

    /// Marks `ip` free.
    pub fn remove(&mut self, ip: IpAddr) {
        let family = IpFamily::of(ip);
        let v = to_u128(ip);
        let runs = self.runs_mut(family);
        let Some((&s, &e)) = runs.range(..=v).next_back() else {
            return;
        };
        if e < v {
            return;
        }
        runs.remove(&s);
        if s < v {
            runs.insert(s, v - 1);
        }
        if v < e {
            runs.insert(v + 1, e);
        }
    }

    /// Number of used addresses inside `range` (saturating).
    pub fn count_in(&self, range: &IpRange) -> u128 {
        let (start, end) = (range.start_u128(), range.end_u128());
        let runs = self.runs(range.family());
        // The run that starts before the range may reach into it.
        let before = runs.range(..start).next_back();
        before
            .into_iter()
            .chain(runs.range(start..=end))
            .filter(|(_, e)| **e >= start)
            .map(|(s, e)| (*e).min(end) - (*s).max(start))
            .fold(0u128, |n, width| n.saturating_add(width).saturating_add(1))
    }

    /// Number of runs (for tests and diagnostics).
    #[cfg(test)]
    pub fn run_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn merges_and_splits_runs() {
        let mut u = UsedSet::default();
        for s in ["10.0.0.1", "10.0.0.3", "10.0.0.2"] {
            u.insert(ip(s));
        }
        assert_eq!(u.run_count(), 1);
        assert_eq!(
            u.run_end(IpFamily::V4, to_u128(ip("10.0.0.1"))),
            Some(to_u128(ip("10.0.0.3")))
        );
        u.remove(ip("10.0.0.2"));
        assert_eq!(u.run_count(), 2);
        assert_eq!(u.run_end(IpFamily::V4, to_u128(ip("10.0.0.2"))), None);
        u.remove(ip("10.0.0.9"));
        u.insert(ip("10.0.0.3"));
        assert_eq!(u.run_count(), 2);
        u.insert(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        u.insert(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"));
        assert_eq!(u.run_count(), 3);
        u.remove(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert_eq!(u.run_count(), 3);
    }

    #[test]
    fn counts_used_addresses_inside_a_range() {
        let mut u = UsedSet::default();
        for s in [
            "10.0.0.0",
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.9",
            "10.0.1.0",
            "2001:db8::1",
        ] {
            u.insert(ip(s));
        }
        let count = |r: &str| u.count_in(&IpRange::parse(r).unwrap());
        assert_eq!(count("10.0.0.0/24"), 4);
        assert_eq!(count("10.0.0.1-10.0.0.8"), 2);
        assert_eq!(count("10.0.0.3-10.0.0.8"), 0);
        assert_eq!(count("10.0.0.0/23"), 5);
        assert_eq!(count("2001:db8::/64"), 1);
        assert_eq!(count("::/0"), 1);
    }
}
