//! Address ranges of a pool: CIDRs (`10.0.0.0/24`) and `start-end` ranges, IPv4 and IPv6.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpFamily {
    /// IPv4
    V4,
    /// IPv6
    V6,
}

impl IpFamily {
    /// The family of an address.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// Address width in bits (32 or 128).
    pub fn bits(self) -> u8 {
        match self {
            IpFamily::V4 => 32,
            IpFamily::V6 => 128,
        }
    }

    /// The address with integer value `value` (truncated to the family's width).
    pub fn addr(self, value: u128) -> IpAddr {
        match self {
            IpFamily::V4 => IpAddr::V4(Ipv4Addr::from(value as u32)),
            IpFamily::V6 => IpAddr::V6(Ipv6Addr::from(value)),
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        })
    }
}

/// An address as an integer (IPv4 in the low 32 bits).
pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// An inclusive range of addresses of one family, written as a CIDR or `start-end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpRange {
    family: IpFamily,
    start: u128,
    end: u128,
    /// Prefix length when the range was written as a CIDR.
    prefix: Option<u8>,
}

impl IpRange {
    /// The range `start..=end`; `None` when families differ or `start > end`.
    pub fn new(start: IpAddr, end: IpAddr) -> Option<Self> {
        let family = IpFamily::of(start);
        if family != IpFamily::of(end) || ip_to_u128(start) > ip_to_u128(end) {
            return None;
        }
        Some(IpRange {
            family,
            start: ip_to_u128(start),
            end: ip_to_u128(end),
            prefix: None,
        })
    }

    /// The range covered by `network/prefix` (host bits are cleared, as Go's ParseCIDR does).
    pub fn from_cidr(network: IpAddr, prefix: u8) -> Option<Self> {
        let family = IpFamily::of(network);
        let bits = family.bits();
        if prefix > bits {
            return None;
        }
        let host_bits = u32::from(bits - prefix);
        let host_mask: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let start = ip_to_u128(network) & !host_mask;
        Some(IpRange {
            family,
            start,
            end: start | host_mask,
            prefix: Some(prefix),
        })
    }

    /// Parses a CIDR (`10.0.0.0/24`) or a range (`10.0.0.1-10.0.0.9`, spaces allowed around `-`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some((a, b)) = text.split_once('-') {
            let start = parse_ip(a.trim(), "range start")?;
            let end = parse_ip(b.trim(), "range end")?;
            if IpFamily::of(start) != IpFamily::of(end) {
                return Err(format!(
                    "range boundaries {start} and {end} are not the same address family"
                ));
            }
            return IpRange::new(start, end)
                .ok_or_else(|| format!("range start {start} is after range end {end}"));
        }
        let (addr, len) = text.split_once('/').ok_or_else(|| {
            "expected a CIDR (10.0.0.0/24) or a range (10.0.0.1-10.0.0.9)".to_string()
        })?;
        let network = parse_ip(addr.trim(), "address")?;
        let len = len.trim();
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("prefix length {len:?} is not a number"));
        }
        let bits = IpFamily::of(network).bits();
        let prefix: u32 = len
            .parse()
            .map_err(|_| format!("prefix length {len} is longer than {bits}"))?;
        if prefix > u32::from(bits) {
            return Err(format!("prefix length {prefix} is longer than {bits}"));
        }
        IpRange::from_cidr(network, prefix as u8)
            .ok_or_else(|| format!("prefix length {prefix} is longer than {bits}"))
    }

    /// The family of the range.
    pub fn family(&self) -> IpFamily {
        self.family
    }

    /// First address.
    pub fn start(&self) -> IpAddr {
        self.family.addr(self.start)
    }

    /// Last address.
    pub fn end(&self) -> IpAddr {
        self.family.addr(self.end)
    }

    /// First address as an integer.
    pub fn start_u128(&self) -> u128 {
        self.start
    }

    /// Last address as an integer.
    pub fn end_u128(&self) -> u128 {
        self.end
    }

    /// The prefix length when the range was written as a CIDR.
    pub fn cidr_prefix(&self) -> Option<u8> {
        self.prefix
    }

    /// True when `ip` is inside the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        IpFamily::of(ip) == self.family && (self.start..=self.end).contains(&ip_to_u128(ip))
    }

    /// Number of addresses (saturating at `u128::MAX` for `::/0`).
    pub fn count(&self) -> u128 {
        (self.end - self.start).saturating_add(1)
    }

    /// Number of IPv4 addresses ending in `.0` or `.255` (the "buggy" ones); 0 for IPv6.
    pub fn buggy_count(&self) -> u128 {
        if self.family != IpFamily::V4 {
            return 0;
        }
        // Addresses x in [start, end] with x % 256 == 0 or x % 256 == 255.
        let below = |n: u128| -> u128 {
            // count of x in [0, n) with x%256 in {0,255}
            let full = n / 256;
            let rest = n % 256;
            full * 2 + u128::from(rest > 0) + u128::from(rest > 255)
        };
        below(self.end + 1) - below(self.start)
    }

    /// True when the two ranges share an address.
    pub fn overlaps(&self, other: &IpRange) -> bool {
        self.family == other.family && self.start <= other.end && other.start <= self.end
    }

    /// The CIDRs that exactly cover the range (at most 2 x 128 of them).
    pub fn cidrs(&self) -> Vec<(IpAddr, u8)> {
        let bits = u32::from(self.family.bits());
        let mut out = Vec::new();
        let mut cur = self.start;
        loop {
            // Largest block aligned at `cur` that fits before `end`.
            let mut size_log = if cur == 0 {
                bits
            } else {
                cur.trailing_zeros().min(bits)
            };
            while size_log > 0 {
                let last = if size_log >= 128 {
                    u128::MAX
                } else {
                    cur + ((1u128 << size_log) - 1)
                };
                if last <= self.end {
                    break;
                }
                size_log -= 1;
            }
            out.push((self.family.addr(cur), (bits - size_log) as u8));
            let last = if size_log >= 128 {
                u128::MAX
            } else {
                cur + ((1u128 << size_log) - 1)
            };
            if last >= self.end {
                break;
            }
            cur = last + 1;
        }
        out
    }

    /// The shortest prefix among [`IpRange::cidrs`] (the CIDR's own length for a CIDR): the
    /// widest block of the range's summary. MetalLB v0.12 checks `aggregation-length` against it.
    pub fn shortest_prefix(&self) -> u8 {
        self.cidrs()
            .iter()
            .map(|(_, len)| *len)
            .min()
            .unwrap_or(self.family.bits())
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(prefix) => write!(f, "{}/{}", self.start(), prefix),
            None => write!(f, "{}-{}", self.start(), self.end()),
        }
    }
}

fn parse_ip(text: &str, what: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>()
        .map_err(|_| format!("{what} {text:?} is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_ranges() {
        let r = IpRange::parse("192.168.254.0/32").unwrap();
        assert_eq!(r.count(), 1);
        assert!(r.contains(ip("192.168.254.0")));
        let r = IpRange::parse("10.0.0.1 - 10.0.0.9").unwrap();
        assert_eq!(r.count(), 9);
        assert_eq!(r.to_string(), "10.0.0.1-10.0.0.9");
        let r = IpRange::parse("2001:db8::/64").unwrap();
        assert_eq!(r.count(), 1u128 << 64);
        assert_eq!(IpRange::parse("::/0").unwrap().count(), u128::MAX);
        assert_eq!(
            IpRange::parse("10.1.2.3/24").unwrap().start(),
            ip("10.1.2.0")
        );
    }

    #[test]
    fn rejects_bad_ranges_with_reasons() {
        assert_eq!(
            IpRange::parse("10.0.0.0/33").unwrap_err(),
            "prefix length 33 is longer than 32"
        );
        assert!(IpRange::parse("10.0.0.9-10.0.0.1")
            .unwrap_err()
            .contains("after"));
        assert!(IpRange::parse("10.0.0.1-2001:db8::1")
            .unwrap_err()
            .contains("family"));
        assert!(IpRange::parse("10.0.0.300/24")
            .unwrap_err()
            .contains("not an IP"));
        assert!(IpRange::parse("10.0.0.1").is_err());
    }

    #[test]
    fn buggy_count_and_cidrs() {
        assert_eq!(IpRange::parse("10.0.0.0/24").unwrap().buggy_count(), 2);
        assert_eq!(IpRange::parse("10.0.0.0/23").unwrap().buggy_count(), 4);
        assert_eq!(
            IpRange::parse("10.0.0.1-10.0.0.254").unwrap().buggy_count(),
            0
        );
        assert_eq!(
            IpRange::parse("10.0.0.255-10.0.1.0").unwrap().buggy_count(),
            2
        );
        let r = IpRange::parse("10.0.0.1-10.0.0.6").unwrap();
        let c: Vec<String> = r.cidrs().iter().map(|(a, l)| format!("{a}/{l}")).collect();
        assert_eq!(
            c,
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(r.shortest_prefix(), 31);
        assert_eq!(IpRange::parse("10.0.0.0/24").unwrap().shortest_prefix(), 24);
        // MetalLB's own case: the summary of 10.33.0.1-10.33.0.250 has two /26 blocks.
        let r = IpRange::parse("10.33.0.1-10.33.0.250").unwrap();
        assert_eq!(r.shortest_prefix(), 26);
        assert_eq!(
            IpRange::parse("10.0.0.7-10.0.0.7")
                .unwrap()
                .shortest_prefix(),
            32
        );
        assert_eq!(IpRange::parse("0.0.0.0/0").unwrap().cidrs().len(), 1);
        assert_eq!(IpRange::parse("::/0").unwrap().cidrs().len(), 1);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cidrs_cover_the_range_exactly(a in any::<u32>(), b in any::<u32>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let r = IpRange::new(IpAddr::V4(lo.into()), IpAddr::V4(hi.into())).unwrap();
            prop_assert_eq!(r.count(), u128::from(hi - lo) + 1);
            let mut next = u128::from(lo);
            for (net, len) in r.cidrs() {
                let c = IpRange::from_cidr(net, len).unwrap();
                prop_assert_eq!(c.start_u128(), next, "gap or overlap at {}/{}", net, len);
                next = c.end_u128() + 1;
            }
            prop_assert_eq!(next, u128::from(hi) + 1);
            prop_assert!(r.cidrs().len() <= 62);
            let text = r.to_string();
            prop_assert_eq!(IpRange::parse(&text).unwrap(), r);
        }
    }
}
