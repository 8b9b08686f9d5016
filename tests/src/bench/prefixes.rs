//! The benchmark's IPv4 /32s: consecutive addresses from ranges the project may use inside
//! namespaces, skipping 10.255.0.0/18 where the test links live.
//!
//! Order: 10.244.0.0/16 (pods, 65,536), then 10.255.64.0/18 (16,384), then 10.255.128.0/17
//! (32,768): 114,688 in all. They exist only as NLRI between two namespaces.

use std::net::Ipv4Addr;

const RANGES: [(Ipv4Addr, u32); 3] = [
    (Ipv4Addr::new(10, 244, 0, 0), 1 << 16),
    (Ipv4Addr::new(10, 255, 64, 0), 1 << 14),
    (Ipv4Addr::new(10, 255, 128, 0), 1 << 15),
];

/// How many /32s the pool holds.
pub const CAPACITY: usize = (1 << 16) + (1 << 14) + (1 << 15);

/// The first `n` /32s of the pool (at most [`CAPACITY`]).
pub fn host_routes(n: usize) -> Vec<Ipv4Addr> {
    RANGES
        .iter()
        .flat_map(|(base, len)| (0..*len).map(move |i| Ipv4Addr::from(u32::from(*base) + i)))
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_consecutive_and_skips_the_link_range() {
        let all = host_routes(CAPACITY + 10);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0], Ipv4Addr::new(10, 244, 0, 0));
        assert_eq!(all[65_535], Ipv4Addr::new(10, 244, 255, 255));
        assert_eq!(all[65_536], Ipv4Addr::new(10, 255, 64, 0));
        assert_eq!(all[CAPACITY - 1], Ipv4Addr::new(10, 255, 255, 255));
        assert!(all
            .iter()
            .all(|a| !(a.octets()[0] == 10 && a.octets()[1] == 255 && a.octets()[2] < 64)));
    }
}
