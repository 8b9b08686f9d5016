//! Path attributes (RFC 4271 §4.3, §5) with RFC 7606 error handling.
//!
//! ```text
//! Each attribute:
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|  flags: 0x80 Optional, 0x40 Transitive,
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+         0x20 Partial, 0x10 Extended Length
//! | Length (1, or 2 with Extended Length) | Value ...
//! ```

mod as_path;
mod community;
mod decode;
mod link_bandwidth;
mod mp;

pub use as_path::{AsPath, AsSegment, SegmentKind};
pub use community::{
    Community, ExtendedCommunity, LargeCommunity, ParseCommunityError, ParseLargeCommunityError,
};
pub use link_bandwidth::{parse_rate, LinkBandwidth, ParseRateError};
pub use mp::{MpReach, MpUnreach, NextHop};

use super::error::EncodeError;
use super::iana::AS_TRANS;
use super::DecodeContext;
use std::net::Ipv4Addr;

/// Attribute flag: optional (else well-known).
pub const FLAG_OPTIONAL: u8 = 0x80;
/// Attribute flag: transitive.
pub const FLAG_TRANSITIVE: u8 = 0x40;
/// Attribute flag: partial (an optional transitive attribute passed on by a speaker that did
/// not recognise it).
pub const FLAG_PARTIAL: u8 = 0x20;
/// Attribute flag: the length field is 2 octets.
pub const FLAG_EXTENDED_LENGTH: u8 = 0x10;

/// ORIGIN values (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// IGP (0), shown as `i`.
    Igp,
    /// EGP (1), shown as `e`.
    Egp,
    /// INCOMPLETE (2), shown as `?`.
    Incomplete,
}

impl Origin {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Origin::Igp,
            1 => Origin::Egp,
            2 => Origin::Incomplete,
            _ => return None,
        })
    }
    fn to_u8(self) -> u8 {
        match self {
            Origin::Igp => 0,
            Origin::Egp => 1,
            Origin::Incomplete => 2,
        }
    }
}

/// AGGREGATOR (RFC 4271 §5.1.7): the AS (2 or 4 octets on the wire, held as 4) and the BGP
/// identifier of the speaker that aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    /// Aggregating AS.
    pub asn: u32,
    /// Aggregating speaker's BGP identifier.
    pub address: Ipv4Addr,
}

/// An attribute kept as received: unknown optional attributes (with their flags, so the
/// partial bit is preserved), ORIGINATOR_ID, CLUSTER_LIST and MP attributes of families that
/// are not decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    /// Flags as received (the extended-length bit is recomputed on encode).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Vec<u8>,
}

/// The path attributes of an UPDATE, typed. `None`/empty means absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathAttributes {
    /// ORIGIN (type 1, well-known mandatory).
    pub origin: Option<Origin>,
    /// AS_PATH (type 2, well-known mandatory), 4-octet ASes. From a 2-octet peer it is
    /// already merged with AS4_PATH (RFC 6793 §4.2.3).
    pub as_path: Option<AsPath>,
    /// NEXT_HOP (type 3, well-known, mandatory with IPv4 NLRI).
    pub next_hop: Option<Ipv4Addr>,
    /// MULTI_EXIT_DISC (type 4, optional non-transitive).
    pub med: Option<u32>,
    /// LOCAL_PREF (type 5, well-known, iBGP only).
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE (type 6, well-known discretionary, no value).
    pub atomic_aggregate: bool,
    /// AGGREGATOR (type 7, optional transitive); merged with AS4_AGGREGATOR from 2-octet peers.
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES (type 8, RFC 1997), in wire order.
    pub communities: Vec<Community>,
    /// EXTENDED COMMUNITIES (type 16, RFC 4360), in wire order.
    pub extended_communities: Vec<ExtendedCommunity>,
    /// LARGE_COMMUNITY (type 32, RFC 8092), in wire order.
    pub large_communities: Vec<LargeCommunity>,
    /// MP_REACH_NLRI (type 14, RFC 4760) for IPv4/IPv6 unicast or multicast.
    pub mp_reach: Option<MpReach>,
    /// MP_UNREACH_NLRI (type 15, RFC 4760) for IPv4/IPv6 unicast or multicast.
    pub mp_unreach: Option<MpUnreach>,
    /// Other attributes, kept raw.
    pub other: Vec<RawAttribute>,
    /// Order and flags seen on the wire, used to re-encode a received UPDATE byte-identically.
    /// Ignored by equality; empty for attributes built in code (then ascending type order).
    pub layout: AttributeLayout,
}

/// Wire order and flags of the attributes of a decoded UPDATE. Compares always equal.
#[derive(Debug, Clone, Default, Eq)]
pub struct AttributeLayout(pub Vec<(u8, u8)>);

impl PartialEq for AttributeLayout {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl PathAttributes {
    /// Encodes all attributes (`ctx` decides 2- or 4-octet AS numbers; with 2-octet ones,
    /// AS4_PATH / AS4_AGGREGATOR are added when needed).
    pub fn encode(&self, out: &mut Vec<u8>, ctx: &DecodeContext) -> Result<(), EncodeError> {
        let mut entries = self.entries(ctx, true);
        if !self.layout.0.is_empty() {
            let pos = |t: u8| {
                self.layout
                    .0
                    .iter()
                    .position(|(lt, _)| *lt == t)
                    .unwrap_or(usize::MAX)
            };
            entries.sort_by_key(|e| pos(e.1));
            for e in entries.iter_mut() {
                if let Some((_, f)) = self.layout.0.iter().find(|(t, _)| *t == e.1) {
                    // Keep the received flags (including unused low bits and a gratuitous
                    // extended-length bit); the type-defined bits are what we computed.
                    e.0 = (*f & !(FLAG_OPTIONAL | FLAG_TRANSITIVE))
                        | (e.0 & (FLAG_OPTIONAL | FLAG_TRANSITIVE));
                }
            }
        }
        for (flags, type_code, value) in entries {
            write_attribute(out, flags, type_code, &value)?;
        }
        Ok(())
    }

    /// (flags, type, value) for each present attribute, ascending type order.
    pub(crate) fn entries(&self, ctx: &DecodeContext, include_mp: bool) -> Vec<(u8, u8, Vec<u8>)> {
        let mut v: Vec<(u8, u8, Vec<u8>)> = Vec::new();
        let ot = FLAG_OPTIONAL | FLAG_TRANSITIVE;
        if let Some(o) = self.origin {
            v.push((FLAG_TRANSITIVE, 1, vec![o.to_u8()]));
        }
        let mut as4_path = None;
        if let Some(p) = &self.as_path {
            let mut b = Vec::new();
            p.encode(&mut b, ctx.four_octet_as);
            v.push((FLAG_TRANSITIVE, 2, b));
            let as4 = p.as4_path();
            if !ctx.four_octet_as && as4.has_four_octet() {
                let mut b4 = Vec::new();
                as4.encode(&mut b4, true);
                as4_path = Some(b4);
            }
        }
        if let Some(nh) = self.next_hop {
            v.push((FLAG_TRANSITIVE, 3, nh.octets().to_vec()));
        }
        if let Some(m) = self.med {
            v.push((FLAG_OPTIONAL, 4, m.to_be_bytes().to_vec()));
        }
        if let Some(lp) = self.local_pref {
            v.push((FLAG_TRANSITIVE, 5, lp.to_be_bytes().to_vec()));
        }
        if self.atomic_aggregate {
            v.push((FLAG_TRANSITIVE, 6, Vec::new()));
        }
        let mut as4_aggregator = None;
        if let Some(g) = self.aggregator {
            let mut b = Vec::new();
            if ctx.four_octet_as {
                b.extend_from_slice(&g.asn.to_be_bytes());
            } else {
                let two = u16::try_from(g.asn).unwrap_or(AS_TRANS as u16);
                b.extend_from_slice(&two.to_be_bytes());
                if g.asn > 0xffff {
                    let mut b4 = g.asn.to_be_bytes().to_vec();
                    b4.extend_from_slice(&g.address.octets());
                    as4_aggregator = Some(b4);
                }
            }
            b.extend_from_slice(&g.address.octets());
            v.push((ot, 7, b));
        }
        if !self.communities.is_empty() {
            v.push((
                ot,
                8,
                self.communities
                    .iter()
                    .flat_map(|c| c.0.to_be_bytes())
                    .collect(),
            ));
        }
        if include_mp {
            if let Some(m) = &self.mp_reach {
                let mut b = Vec::new();
                m.encode(&mut b);
                v.push((FLAG_OPTIONAL, 14, b));
            }
            if let Some(m) = &self.mp_unreach {
                let mut b = Vec::new();
                m.encode(&mut b);
                v.push((FLAG_OPTIONAL, 15, b));
            }
        }
        if !self.extended_communities.is_empty() {
            v.push((
                ot,
                16,
                self.extended_communities.iter().flat_map(|c| c.0).collect(),
            ));
        }
        if let Some(b) = as4_path {
            v.push((ot, 17, b));
        }
        if let Some(b) = as4_aggregator {
            v.push((ot, 18, b));
        }
        if !self.large_communities.is_empty() {
            v.push((
                ot,
                32,
                self.large_communities
                    .iter()
                    .flat_map(|c| [c.global_admin, c.local_data1, c.local_data2])
                    .flat_map(u32::to_be_bytes)
                    .collect(),
            ));
        }
        for raw in &self.other {
            v.push((raw.flags, raw.type_code, raw.value.clone()));
        }
        v.sort_by_key(|e| e.1);
        v
    }
}

/// Appends one attribute; the extended-length flag is set when the value needs it.
pub(crate) fn write_attribute(
    out: &mut Vec<u8>,
    flags: u8,
    type_code: u8,
    value: &[u8],
) -> Result<(), EncodeError> {
    let len = value.len();
    if len > 0xffff {
        return Err(EncodeError::FieldOverflow {
            field: "path attribute",
            detail: format!("type {type_code}: {len} octets"),
        });
    }
    if len > 255 || flags & FLAG_EXTENDED_LENGTH != 0 {
        out.push(flags | FLAG_EXTENDED_LENGTH);
        out.push(type_code);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(flags);
        out.push(type_code);
        out.push(len as u8);
    }
    out.extend_from_slice(value);
    Ok(())
}
