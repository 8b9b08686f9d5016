//! Counting the prefixes a peer announced, with a bounded memory cost.
//!
//! FerroLB never installs received routes; it only counts them. Up to the maximum-prefix
//! limit the count is exact (each prefix is held as a compact key to recognise
//! re-announcements and withdrawals of unknown prefixes). Past the limit the keys are freed
//! and the count becomes an estimate (announcements minus withdrawals, never below zero)
//! until it drops back to zero, so a peer that leaks a full table costs no memory.

use crate::wire::Family;
use ipnet::IpNet;
use std::collections::{BTreeMap, HashSet};

/// A prefix as a compact key: address bits and length.
type PrefixKey = (u128, u8);

fn key(p: &IpNet) -> PrefixKey {
    let bits = match p {
        IpNet::V4(n) => u128::from(u32::from(n.addr())),
        IpNet::V6(n) => u128::from(n.addr()),
    };
    (bits, p.prefix_len())
}

/// The count of one family.
#[derive(Debug, Default)]
struct FamilyCount {
    /// The prefixes held while the count is exact (`None` once over the limit).
    exact: Option<HashSet<PrefixKey>>,
    count: usize,
}

impl FamilyCount {
    fn exact() -> Self {
        FamilyCount {
            exact: Some(HashSet::new()),
            count: 0,
        }
    }

    fn announce(&mut self, p: &IpNet) {
        match &mut self.exact {
            Some(set) => {
                if set.insert(key(p)) {
                    self.count += 1;
                }
            }
            None => self.count += 1,
        }
    }

    fn withdraw(&mut self, p: &IpNet) {
        match &mut self.exact {
            Some(set) => {
                if set.remove(&key(p)) {
                    self.count -= 1;
                    // Give the table's memory back as it empties (at most one rehash each
                    // time it halves), so a withdrawn table does not stay resident.
                    if set.len() < set.capacity() / 4 {
                        set.shrink_to(set.len() * 2);
                    }
                }
            }
            None => {
                self.count = self.count.saturating_sub(1);
                if self.count == 0 {
                    self.exact = Some(HashSet::new());
                }
            }
        }
    }
}

/// Something the caller must act on after an UPDATE was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LimitExceeded {
    /// The family over its limit.
    pub family: Family,
    /// Its count.
    pub count: usize,
    /// The limit.
    pub limit: u32,
}

/// The received prefixes of one session, per family.
#[derive(Debug, Default)]
pub(crate) struct Received {
    families: BTreeMap<Family, FamilyCount>,
}

impl Received {
    /// Applies withdrawals, then announcements (RFC 4271 §9.1). Returns the families that
    /// went over `limit` with this UPDATE.
    pub(crate) fn apply(
        &mut self,
        withdrawn: &[IpNet],
        announced: &[IpNet],
        limit: Option<u32>,
    ) -> Vec<LimitExceeded> {
        for p in withdrawn {
            if let Some(f) = self.families.get_mut(&Family::of(p)) {
                f.withdraw(p);
            }
        }
        let mut exceeded = Vec::new();
        for p in announced {
            let family = Family::of(p);
            let f = self
                .families
                .entry(family)
                .or_insert_with(FamilyCount::exact);
            f.announce(p);
            if let Some(limit) = limit {
                if f.exact.is_some() && f.count > limit as usize {
                    // Free the keys: from here on the count is an estimate.
                    f.exact = None;
                    exceeded.push(LimitExceeded {
                        family,
                        count: f.count,
                        limit,
                    });
                }
            }
        }
        exceeded
    }

    /// Forgets everything (session down or re-established).
    pub(crate) fn clear(&mut self) {
        self.families.clear();
    }

    /// The count per family.
    pub(crate) fn counts(&self) -> BTreeMap<Family, usize> {
        self.families.iter().map(|(f, c)| (*f, c.count)).collect()
    }

    /// Whether the count of `family` is an estimate (it went over the limit).
    pub(crate) fn is_estimate(&self, family: Family) -> bool {
        self.families
            .get(&family)
            .is_some_and(|f| f.exact.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|p| p.parse().expect("prefix")).collect()
    }

    #[test]
    fn exact_below_the_limit() {
        let mut r = Received::default();
        let a = nets(&["10.0.0.0/24", "10.0.1.0/24", "2001:db8::/48"]);
        assert!(r.apply(&[], &a, Some(10)).is_empty());
        // A re-announcement (implicit withdraw) does not count twice; an unknown withdrawal
        // does not count at all.
        r.apply(&nets(&["10.9.9.0/24"]), &nets(&["10.0.0.0/24"]), Some(10));
        assert_eq!(r.counts()[&Family::IPV4_UNICAST], 2);
        assert_eq!(r.counts()[&Family::IPV6_UNICAST], 1);
        assert!(!r.is_estimate(Family::IPV4_UNICAST));
    }

    #[test]
    fn a_withdrawn_table_gives_its_memory_back() {
        let held = |r: &Received| {
            r.families[&Family::IPV4_UNICAST]
                .exact
                .as_ref()
                .map_or(0, HashSet::capacity)
        };
        let mut r = Received::default();
        let table: Vec<IpNet> = (0..100_000u32)
            .map(|i| {
                IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(
                    0x0a00_0000 + i,
                )))
            })
            .collect();
        assert!(r.apply(&[], &table, Some(200_000)).is_empty());
        assert!(held(&r) >= 100_000);
        r.apply(&table[..99_990], &[], Some(200_000));
        assert_eq!(r.counts()[&Family::IPV4_UNICAST], 10);
        assert!(held(&r) <= 64, "capacity {} kept for 10 prefixes", held(&r));
    }

    #[test]
    fn over_the_limit_frees_the_keys_and_estimates_until_empty() {
        let mut r = Received::default();
        let a = nets(&["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]);
        let ex = r.apply(&[], &a, Some(2));
        assert_eq!(
            ex,
            vec![LimitExceeded {
                family: Family::IPV4_UNICAST,
                count: 3,
                limit: 2
            }]
        );
        assert!(r.is_estimate(Family::IPV4_UNICAST));
        // Reported once per crossing.
        assert!(r.apply(&[], &nets(&["10.0.3.0/24"]), Some(2)).is_empty());
        assert_eq!(r.counts()[&Family::IPV4_UNICAST], 4);
        let all = nets(&["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]);
        r.apply(&all, &[], Some(2));
        assert_eq!(r.counts()[&Family::IPV4_UNICAST], 0);
        assert!(
            !r.is_estimate(Family::IPV4_UNICAST),
            "exact again when empty"
        );
    }
}
