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
mod mp;

pub use as_path::{AsPath, AsSegment, SegmentKind};
pub use community::{
    Community, ExtendedCommunity, LargeCommunity, ParseCommunityError, ParseLargeCommunityError,
};
pub use mp::{MpReach, MpUnreach, NextHop};

use super::error::{AttributeError, DecodeError, EncodeError};
use super::iana::{AttributeType, AS_TRANS};
use super::notification::UpdateErrorSubcode;
use super::reader::Reader;
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

/// Expected Optional/Transitive bits of the attributes we decode.
fn expected_flags(t: AttributeType) -> Option<u8> {
    use AttributeType as A;
    Some(match t {
        A::Origin | A::AsPath | A::NextHop | A::LocalPref | A::AtomicAggregate => FLAG_TRANSITIVE,
        A::MultiExitDisc | A::OriginatorId | A::ClusterList | A::MpReachNlri | A::MpUnreachNlri => {
            FLAG_OPTIONAL
        }
        A::Aggregator
        | A::Communities
        | A::ExtendedCommunities
        | A::As4Path
        | A::As4Aggregator
        | A::LargeCommunity => FLAG_OPTIONAL | FLAG_TRANSITIVE,
        A::Unknown(_) => return None,
    })
}

/// Result of decoding the attribute list.
pub(crate) struct DecodedAttributes {
    pub attrs: PathAttributes,
    /// Errors handled by attribute discard.
    pub discarded: Vec<AttributeError>,
    /// Errors that make the UPDATE treat-as-withdraw.
    pub withdraw: Vec<AttributeError>,
}

impl PathAttributes {
    /// Decodes the Path Attributes field of an UPDATE. `classic_nlri` says whether the UPDATE's
    /// NLRI field is non-empty (NEXT_HOP is mandatory then).
    pub(crate) fn decode(
        buf: &[u8],
        ctx: &DecodeContext,
        classic_nlri: bool,
    ) -> Result<DecodedAttributes, DecodeError> {
        let mut a = PathAttributes::default();
        let mut discarded = Vec::new();
        let mut withdraw = Vec::new();
        let mut seen = [false; 256];
        let mut as4_path: Option<AsPath> = None;
        let mut as4_aggregator: Option<Aggregator> = None;
        let mut r = Reader::new(buf);
        let list_err = |why: String| {
            DecodeError::update(UpdateErrorSubcode::MalformedAttributeList, Vec::new(), why)
        };
        while !r.is_empty() {
            let start = buf.len() - r.remaining();
            let flags = r
                .u8()
                .ok_or_else(|| list_err("truncated attribute header".into()))?;
            let type_code = r
                .u8()
                .ok_or_else(|| list_err("truncated attribute header".into()))?;
            let len = if flags & FLAG_EXTENDED_LENGTH != 0 {
                r.u16().map(usize::from)
            } else {
                r.u8().map(usize::from)
            }
            .ok_or_else(|| list_err(format!("truncated length of attribute {type_code}")))?;
            let value = r.take(len).ok_or_else(|| {
                list_err(format!(
                    "attribute {type_code} length {len} overruns the attribute list"
                ))
            })?;
            let whole = &buf[start..buf.len() - r.remaining()];
            let t = AttributeType::from(type_code);
            let is_mp = matches!(t, AttributeType::MpReachNlri | AttributeType::MpUnreachNlri);
            let err = |why: String| AttributeError {
                attribute: t,
                reason: why,
            };

            if seen[usize::from(type_code)] {
                if is_mp {
                    return Err(list_err(format!("duplicate attribute {type_code}")));
                }
                discarded.push(err("duplicate attribute, first kept".into()));
                continue;
            }
            seen[usize::from(type_code)] = true;

            // Flags check (RFC 7606 §3 c).
            if let Some(expected) = expected_flags(t) {
                if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) != expected {
                    let why =
                        format!("flags {flags:#04x} conflict with the attribute's definition");
                    match t {
                        AttributeType::MpReachNlri | AttributeType::MpUnreachNlri => {
                            return Err(DecodeError::update(
                                UpdateErrorSubcode::AttributeFlagsError,
                                whole.to_vec(),
                                why,
                            ))
                        }
                        AttributeType::As4Path | AttributeType::As4Aggregator => {
                            discarded.push(err(why))
                        }
                        _ => withdraw.push(err(why)),
                    }
                    continue;
                }
            } else if flags & FLAG_OPTIONAL == 0 {
                return Err(DecodeError::update(
                    UpdateErrorSubcode::UnrecognizedWellKnownAttribute,
                    whole.to_vec(),
                    format!("unrecognized well-known attribute {type_code}"),
                ));
            }

            let mut vr = Reader::new(value);
            let mut stored = true;
            match t {
                AttributeType::Origin => match (
                    value.len(),
                    value.first().copied().and_then(Origin::from_u8),
                ) {
                    (1, Some(o)) => a.origin = Some(o),
                    _ => {
                        withdraw.push(err(format!("invalid ORIGIN {value:02x?}")));
                        stored = false;
                    }
                },
                AttributeType::AsPath => match AsPath::decode(value, ctx.four_octet_as) {
                    Ok(p) => a.as_path = Some(p),
                    Err(e) => {
                        withdraw.push(err(format!("malformed AS_PATH: {e}")));
                        stored = false;
                    }
                },
                AttributeType::NextHop => match vr.array::<4>() {
                    Some(nh) if value.len() == 4 => a.next_hop = Some(Ipv4Addr::from(nh)),
                    _ => {
                        withdraw.push(err(format!("NEXT_HOP length {len}, expected 4")));
                        stored = false;
                    }
                },
                AttributeType::MultiExitDisc | AttributeType::LocalPref => match vr.u32() {
                    Some(v) if value.len() == 4 => {
                        if t == AttributeType::MultiExitDisc {
                            a.med = Some(v)
                        } else {
                            a.local_pref = Some(v)
                        }
                    }
                    _ => {
                        withdraw.push(err(format!("length {len}, expected 4")));
                        stored = false;
                    }
                },
                AttributeType::AtomicAggregate => {
                    if value.is_empty() {
                        a.atomic_aggregate = true;
                    } else {
                        discarded.push(err(format!("length {len}, expected 0")));
                        stored = false;
                    }
                }
                AttributeType::Aggregator => {
                    let parsed = match (value.len(), ctx.four_octet_as) {
                        (8, true) => vr.u32().zip(vr.array::<4>()),
                        (6, false) => vr.u16().map(u32::from).zip(vr.array::<4>()),
                        _ => None,
                    };
                    match parsed {
                        Some((asn, addr)) => {
                            a.aggregator = Some(Aggregator {
                                asn,
                                address: Ipv4Addr::from(addr),
                            })
                        }
                        None => {
                            discarded.push(err(format!("AGGREGATOR length {len}")));
                            stored = false;
                        }
                    }
                }
                AttributeType::Communities => {
                    if value.is_empty() || value.len() % 4 != 0 {
                        withdraw.push(err(format!(
                            "COMMUNITIES length {len} not a non-zero multiple of 4"
                        )));
                        stored = false;
                    } else {
                        a.communities = value
                            .chunks_exact(4)
                            .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                            .collect();
                    }
                }
                AttributeType::ExtendedCommunities => {
                    if value.is_empty() || value.len() % 8 != 0 {
                        withdraw.push(err(format!(
                            "EXTENDED COMMUNITIES length {len} not a non-zero multiple of 8"
                        )));
                        stored = false;
                    } else {
                        a.extended_communities = value
                            .chunks_exact(8)
                            .map(|c| {
                                let mut b = [0u8; 8];
                                b.copy_from_slice(c);
                                ExtendedCommunity(b)
                            })
                            .collect();
                    }
                }
                AttributeType::LargeCommunity => {
                    if value.is_empty() || value.len() % 12 != 0 {
                        withdraw.push(err(format!(
                            "LARGE_COMMUNITY length {len} not a non-zero multiple of 12"
                        )));
                        stored = false;
                    } else {
                        a.large_communities = value
                            .chunks_exact(12)
                            .map(|c| {
                                let w = |i: usize| {
                                    u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]])
                                };
                                LargeCommunity::new(w(0), w(4), w(8))
                            })
                            .collect();
                    }
                }
                AttributeType::MpReachNlri | AttributeType::MpUnreachNlri => {
                    let family = mp::peek_family(value);
                    if family.is_some_and(mp::supported) {
                        let res = if t == AttributeType::MpReachNlri {
                            MpReach::decode(value).and_then(|m| {
                                m.validate()?;
                                a.mp_reach = Some(m);
                                Ok(())
                            })
                        } else {
                            MpUnreach::decode(value).and_then(|m| {
                                m.validate()?;
                                a.mp_unreach = Some(m);
                                Ok(())
                            })
                        };
                        if let Err(e) = res {
                            return Err(DecodeError::update(
                                UpdateErrorSubcode::OptionalAttributeError,
                                whole.to_vec(),
                                format!("malformed {t:?}: {e}"),
                            ));
                        }
                    } else if family.is_none() {
                        return Err(DecodeError::update(
                            UpdateErrorSubcode::OptionalAttributeError,
                            whole.to_vec(),
                            format!("malformed {t:?}: too short"),
                        ));
                    } else {
                        a.other.push(RawAttribute {
                            flags,
                            type_code,
                            value: value.to_vec(),
                        });
                    }
                }
                AttributeType::As4Path => {
                    if ctx.four_octet_as {
                        // RFC 6793 §4.1: a NEW speaker never sends AS4_PATH to a NEW speaker;
                        // discard it.
                        discarded.push(err("AS4_PATH from a 4-octet speaker".into()));
                        stored = false;
                    } else {
                        match AsPath::decode(value, true) {
                            Ok(p)
                                if p.segments.iter().all(|s| {
                                    matches!(s.kind, SegmentKind::Sequence | SegmentKind::Set)
                                }) =>
                            {
                                as4_path = Some(p)
                            }
                            Ok(_) => {
                                discarded.push(err("confederation segment in AS4_PATH".into()));
                                stored = false;
                            }
                            Err(e) => {
                                discarded.push(err(format!("malformed AS4_PATH: {e}")));
                                stored = false;
                            }
                        }
                    }
                }
                AttributeType::As4Aggregator => {
                    match (vr.u32().zip(vr.array::<4>()), value.len()) {
                        (Some((asn, addr)), 8) if !ctx.four_octet_as => {
                            as4_aggregator = Some(Aggregator {
                                asn,
                                address: Ipv4Addr::from(addr),
                            })
                        }
                        _ => {
                            discarded.push(err(format!(
                                "AS4_AGGREGATOR length {len} or from a 4-octet speaker"
                            )));
                            stored = false;
                        }
                    }
                }
                AttributeType::OriginatorId if value.len() != 4 => {
                    withdraw.push(err(format!("ORIGINATOR_ID length {len}, expected 4")));
                    stored = false;
                }
                AttributeType::ClusterList if value.is_empty() || value.len() % 4 != 0 => {
                    withdraw.push(err(format!(
                        "CLUSTER_LIST length {len} not a non-zero multiple of 4"
                    )));
                    stored = false;
                }
                _ => a.other.push(RawAttribute {
                    flags,
                    type_code,
                    value: value.to_vec(),
                }),
            }
            if stored {
                a.layout.0.push((type_code, flags));
            }
        }

        // RFC 6793 §4.2.3: reconstruct the 4-octet path from a 2-octet speaker.
        if !ctx.four_octet_as {
            let aggregator_is_trans = a.aggregator.is_none_or(|g| g.asn == AS_TRANS);
            if let (Some(g4), true) = (as4_aggregator, aggregator_is_trans) {
                if a.aggregator.is_some() {
                    a.aggregator = Some(g4);
                }
            }
            if let (Some(p4), Some(p), true) = (&as4_path, &a.as_path, aggregator_is_trans) {
                a.as_path = Some(p.merge_as4(p4));
            }
        }

        // Missing well-known mandatory attributes (RFC 7606 §3 d).
        let has_nlri = classic_nlri || a.mp_reach.as_ref().is_some_and(|m| !m.nlri.is_empty());
        if has_nlri {
            let missing = |t: AttributeType| AttributeError {
                attribute: t,
                reason: "missing well-known mandatory attribute".into(),
            };
            if a.origin.is_none()
                && !withdraw
                    .iter()
                    .any(|e| e.attribute == AttributeType::Origin)
            {
                withdraw.push(missing(AttributeType::Origin));
            }
            if a.as_path.is_none()
                && !withdraw
                    .iter()
                    .any(|e| e.attribute == AttributeType::AsPath)
            {
                withdraw.push(missing(AttributeType::AsPath));
            }
            if classic_nlri
                && a.next_hop.is_none()
                && !withdraw
                    .iter()
                    .any(|e| e.attribute == AttributeType::NextHop)
            {
                withdraw.push(missing(AttributeType::NextHop));
            }
        }
        Ok(DecodedAttributes {
            attrs: a,
            discarded,
            withdraw,
        })
    }

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
