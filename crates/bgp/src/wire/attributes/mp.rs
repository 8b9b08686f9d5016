//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3, §4); IPv6 next hops per RFC 2545.

use super::super::iana::{Afi, Family, Safi};
use super::super::nlri::{decode_prefixes, encode_prefix};
use super::super::reader::Reader;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A next hop as carried in MP_REACH_NLRI (and, for IPv4, the NEXT_HOP attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NextHop {
    /// 4-octet IPv4 next hop.
    V4(Ipv4Addr),
    /// IPv6 global next hop (16 octets), optionally followed by a link-local one (32 octets
    /// in total, RFC 2545 §3).
    V6 {
        /// Global address.
        global: Ipv6Addr,
        /// Link-local address.
        link_local: Option<Ipv6Addr>,
    },
}

impl NextHop {
    /// The (global) address.
    pub fn addr(&self) -> IpAddr {
        match self {
            NextHop::V4(a) => IpAddr::V4(*a),
            NextHop::V6 { global, .. } => IpAddr::V6(*global),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6 {
                link_local: None, ..
            } => 16,
            NextHop::V6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.encoded_len() as u8);
        match self {
            NextHop::V4(a) => out.extend_from_slice(&a.octets()),
            NextHop::V6 { global, link_local } => {
                out.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.extend_from_slice(&ll.octets());
                }
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        Ok(match bytes.len() {
            4 => NextHop::V4(Ipv4Addr::from(r.array::<4>().ok_or("short")?)),
            16 => NextHop::V6 {
                global: Ipv6Addr::from(r.array::<16>().ok_or("short")?),
                link_local: None,
            },
            32 => NextHop::V6 {
                global: Ipv6Addr::from(r.array::<16>().ok_or("short")?),
                link_local: Some(Ipv6Addr::from(r.array::<16>().ok_or("short")?)),
            },
            n => return Err(format!("unsupported next hop length {n}")),
        })
    }
}

impl From<IpAddr> for NextHop {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => NextHop::V4(a),
            IpAddr::V6(a) => NextHop::V6 {
                global: a,
                link_local: None,
            },
        }
    }
}

impl std::fmt::Display for NextHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NextHop::V4(a) => write!(f, "{a}"),
            NextHop::V6 {
                global,
                link_local: None,
            } => write!(f, "{global}"),
            NextHop::V6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global} ({ll})"),
        }
    }
}

/// MP_REACH_NLRI (type 14, optional non-transitive), for unicast/multicast IPv4 and IPv6.
/// Other families are kept as raw attributes.
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Length of Next Hop Network Address (1 octet)            |
/// +---------------------------------------------------------+
/// | Network Address of Next Hop (variable)                  |
/// +---------------------------------------------------------+
/// | Reserved (1 octet)                                      |
/// +---------------------------------------------------------+
/// | Network Layer Reachability Information (variable)       |
/// +---------------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    /// The family.
    pub family: Family,
    /// The next hop.
    pub next_hop: NextHop,
    /// Announced prefixes.
    pub nlri: Vec<IpNet>,
}

/// MP_UNREACH_NLRI (type 15, optional non-transitive). With no prefixes it is the End-of-RIB
/// marker for its family (RFC 4724 §2).
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Withdrawn Routes (variable)                             |
/// +---------------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    /// The family.
    pub family: Family,
    /// Withdrawn prefixes.
    pub withdrawn: Vec<IpNet>,
}

/// Whether the MP attributes of `family` are decoded (else kept raw).
pub(crate) fn supported(family: Family) -> bool {
    matches!(family.afi, Afi::Ipv4 | Afi::Ipv6)
        && matches!(family.safi, Safi::Unicast | Safi::Multicast)
}

pub(crate) fn peek_family(value: &[u8]) -> Option<Family> {
    let mut r = Reader::new(value);
    Some(Family::new(Afi::from(r.u16()?), Safi::from(r.u8()?)))
}

fn check_family(afi: Afi, prefixes: &[IpNet]) -> Result<(), String> {
    if prefixes.iter().all(|p| {
        matches!(
            (afi, p),
            (Afi::Ipv4, IpNet::V4(_)) | (Afi::Ipv6, IpNet::V6(_))
        )
    }) {
        Ok(())
    } else {
        Err("prefix family does not match AFI".into())
    }
}

impl MpReach {
    pub(crate) fn decode(value: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(value);
        let afi = Afi::from(r.u16().ok_or("truncated")?);
        let safi = Safi::from(r.u8().ok_or("truncated")?);
        let nh_len = r.u8().ok_or("truncated")?;
        let nh = r
            .take(usize::from(nh_len))
            .ok_or("next hop overruns attribute")?;
        let next_hop = NextHop::decode(nh)?;
        if afi == Afi::Ipv6 && matches!(next_hop, NextHop::V4(_)) {
            return Err("IPv4 next hop for IPv6 NLRI".into());
        }
        r.u8().ok_or("missing reserved octet")?;
        let nlri = decode_prefixes(r.rest(), afi)?;
        Ok(Self {
            family: Family::new(afi, safi),
            next_hop,
            nlri,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.encode_head(out);
        for p in &self.nlri {
            encode_prefix(out, p);
        }
    }

    /// AFI, SAFI, next hop and reserved octet: everything before the NLRI.
    pub(crate) fn encode_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.family.afi).to_be_bytes());
        out.push(self.family.safi.into());
        self.next_hop.encode(out);
        out.push(0);
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        check_family(self.family.afi, &self.nlri)
    }
}

impl MpUnreach {
    pub(crate) fn decode(value: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(value);
        let afi = Afi::from(r.u16().ok_or("truncated")?);
        let safi = Safi::from(r.u8().ok_or("truncated")?);
        let withdrawn = decode_prefixes(r.rest(), afi)?;
        Ok(Self {
            family: Family::new(afi, safi),
            withdrawn,
        })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.family.afi).to_be_bytes());
        out.push(self.family.safi.into());
        for p in &self.withdrawn {
            encode_prefix(out, p);
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        check_family(self.family.afi, &self.withdrawn)
    }
}
