//! Decoding the Path Attributes field with the RFC 7606 error handling in one place: each
//! attribute is decoded by its own function returning `Result<_, AttrError>`, and
//! [`PathAttributes::decode`] applies the outcome (attribute discard, treat-as-withdraw or
//! session reset, RFC 7606 §2) once.

use super::{
    mp, Aggregator, AsPath, Community, ExtendedCommunity, LargeCommunity, MpReach, MpUnreach,
    NextHop, Origin, PathAttributes, RawAttribute, SegmentKind, FLAG_EXTENDED_LENGTH,
    FLAG_OPTIONAL, FLAG_TRANSITIVE,
};
use crate::wire::error::{AttributeError, DecodeError};
use crate::wire::iana::{AttributeType, AS_TRANS};
use crate::wire::notification::UpdateErrorSubcode;
use crate::wire::reader::Reader;
use crate::wire::DecodeContext;
use std::net::{IpAddr, Ipv4Addr};

/// Result of decoding the attribute list.
pub(crate) struct DecodedAttributes {
    pub attrs: PathAttributes,
    /// Errors handled by attribute discard.
    pub discarded: Vec<AttributeError>,
    /// Errors that make the UPDATE treat-as-withdraw.
    pub withdraw: Vec<AttributeError>,
}

/// The RFC 7606 §2 approach for one malformed attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Approach {
    /// Remove the attribute, keep the routes.
    Discard,
    /// Handle every route of the UPDATE as withdrawn.
    Withdraw,
    /// Send the NOTIFICATION and reset the session; `attach` puts the attribute in its data.
    Reset { attach: bool },
}

/// One malformed attribute: how to handle it, the UPDATE error subcode that names it and why.
#[derive(Debug)]
struct AttrError {
    approach: Approach,
    subcode: UpdateErrorSubcode,
    reason: String,
}

impl AttrError {
    fn new(approach: Approach, subcode: UpdateErrorSubcode, reason: impl Into<String>) -> Self {
        Self {
            approach,
            subcode,
            reason: reason.into(),
        }
    }
    fn discard(subcode: UpdateErrorSubcode, reason: impl Into<String>) -> Self {
        Self::new(Approach::Discard, subcode, reason)
    }
    fn withdraw(subcode: UpdateErrorSubcode, reason: impl Into<String>) -> Self {
        Self::new(Approach::Withdraw, subcode, reason)
    }
    fn reset(subcode: UpdateErrorSubcode, reason: impl Into<String>) -> Self {
        Self::new(Approach::Reset { attach: true }, subcode, reason)
    }
}

/// One attribute as framed on the wire.
struct RawEntry<'a> {
    flags: u8,
    type_code: u8,
    value: &'a [u8],
    /// Header and value, for NOTIFICATION data.
    whole: &'a [u8],
}

/// Reads the next attribute; `Err` when its header or value overruns the attribute list
/// (RFC 7606 §4), with the type code when it could be read.
fn next_entry<'a>(buf: &'a [u8], r: &mut Reader<'a>) -> Result<RawEntry<'a>, (u8, String)> {
    let start = buf.len() - r.remaining();
    let flags = r
        .u8()
        .ok_or((0, "truncated attribute header".to_string()))?;
    let type_code = r
        .u8()
        .ok_or((0, "truncated attribute header".to_string()))?;
    let len = if flags & FLAG_EXTENDED_LENGTH != 0 {
        r.u16().map(usize::from)
    } else {
        r.u8().map(usize::from)
    }
    .ok_or((
        type_code,
        format!("truncated length of attribute {type_code}"),
    ))?;
    let value = r.take(len).ok_or((
        type_code,
        format!("attribute {type_code} length {len} overruns the attribute list"),
    ))?;
    Ok(RawEntry {
        flags,
        type_code,
        value,
        whole: &buf[start..buf.len() - r.remaining()],
    })
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

/// Whether `addr` can be a next hop (RFC 4271 §6.3: a valid host address): not in
/// 0.0.0.0/8 ("this network"), 224.0.0.0/4 (multicast) or 240.0.0.0/4 (reserved, with the
/// limited broadcast address); for IPv6 not unspecified or multicast. Loopback addresses
/// are accepted (two speakers on one host peer over them).
pub(crate) fn valid_next_hop(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let first = a.octets()[0];
            first != 0 && first < 224
        }
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    }
}

/// AS4_PATH / AS4_AGGREGATOR from a 2-octet speaker, merged after the list (RFC 6793 §4.2.3).
#[derive(Default)]
struct As4Parts {
    path: Option<AsPath>,
    aggregator: Option<Aggregator>,
}

impl As4Parts {
    fn merge(self, a: &mut PathAttributes) {
        let aggregator_is_trans = a.aggregator.is_none_or(|g| g.asn == AS_TRANS);
        if let (Some(g4), true) = (self.aggregator, aggregator_is_trans) {
            if a.aggregator.is_some() {
                a.aggregator = Some(g4);
            }
        }
        if let (Some(p4), Some(p), true) = (&self.path, &a.as_path, aggregator_is_trans) {
            a.as_path = Some(p.merge_as4(p4));
        }
    }
}

/// State while decoding one attribute list.
struct Decoder<'c> {
    ctx: &'c DecodeContext,
    classic_nlri: bool,
    out: DecodedAttributes,
    seen: [bool; 256],
    as4: As4Parts,
}

impl PathAttributes {
    /// Decodes the Path Attributes field of an UPDATE. `classic_nlri` says whether the UPDATE's
    /// NLRI field is non-empty (NEXT_HOP is mandatory then). Errors that require a session
    /// reset are returned as [`DecodeError`]; the others are in the result.
    pub(crate) fn decode(
        buf: &[u8],
        ctx: &DecodeContext,
        classic_nlri: bool,
    ) -> Result<DecodedAttributes, DecodeError> {
        let mut d = Decoder {
            ctx,
            classic_nlri,
            out: DecodedAttributes {
                attrs: PathAttributes::default(),
                discarded: Vec::new(),
                withdraw: Vec::new(),
            },
            seen: [false; 256],
            as4: As4Parts::default(),
        };
        let mut r = Reader::new(buf);
        while !r.is_empty() {
            let entry = match next_entry(buf, &mut r) {
                Ok(entry) => entry,
                Err((type_code, reason)) => {
                    // RFC 7606 §4: treat-as-withdraw; the NLRI field is found through the
                    // Total Path Attribute Length, so nothing after this point is read.
                    let e = AttrError::withdraw(UpdateErrorSubcode::MalformedAttributeList, reason);
                    d.apply(AttributeType::from(type_code), e, &[])?;
                    break;
                }
            };
            let t = AttributeType::from(entry.type_code);
            match d.decode_one(t, &entry) {
                Ok(()) => d.out.attrs.layout.0.push((entry.type_code, entry.flags)),
                Err(e) => d.apply(t, e, entry.whole)?,
            }
        }
        if !ctx.four_octet_as {
            std::mem::take(&mut d.as4).merge(&mut d.out.attrs);
        }
        d.check_mandatory();
        Ok(d.out)
    }
}

impl Decoder<'_> {
    /// Applies the RFC 7606 outcome of one malformed attribute.
    fn apply(&mut self, t: AttributeType, e: AttrError, whole: &[u8]) -> Result<(), DecodeError> {
        let error = AttributeError {
            attribute: t,
            subcode: e.subcode,
            reason: e.reason,
        };
        match e.approach {
            Approach::Discard => self.out.discarded.push(error),
            Approach::Withdraw => self.out.withdraw.push(error),
            Approach::Reset { attach } => {
                let data = if attach { whole.to_vec() } else { Vec::new() };
                return Err(DecodeError::update(error.subcode, data, error.to_string()));
            }
        }
        Ok(())
    }

    /// Decodes one attribute into `self.out.attrs` (or the AS4 parts).
    fn decode_one(&mut self, t: AttributeType, e: &RawEntry<'_>) -> Result<(), AttrError> {
        let is_mp = matches!(t, AttributeType::MpReachNlri | AttributeType::MpUnreachNlri);
        let seen = &mut self.seen[usize::from(e.type_code)];
        if std::mem::replace(seen, true) {
            // RFC 7606 §3 g.
            if is_mp {
                return Err(AttrError::new(
                    Approach::Reset { attach: false },
                    UpdateErrorSubcode::MalformedAttributeList,
                    format!("duplicate attribute {}", e.type_code),
                ));
            }
            return Err(AttrError::discard(
                UpdateErrorSubcode::MalformedAttributeList,
                "duplicate attribute, first kept",
            ));
        }
        check_flags(t, e.flags)?;
        let ctx = self.ctx;
        let v = e.value;
        let a = &mut self.out.attrs;
        match t {
            AttributeType::Origin => a.origin = Some(origin(v)?),
            AttributeType::AsPath => a.as_path = Some(as_path(v, ctx.four_octet_as)?),
            AttributeType::NextHop => {
                let nh = next_hop(v)?;
                a.next_hop = Some(nh); // kept as received; the routes are withdrawn
                if self.classic_nlri && !valid_next_hop(IpAddr::V4(nh)) {
                    return Err(AttrError::withdraw(
                        UpdateErrorSubcode::InvalidNextHopAttribute,
                        format!("NEXT_HOP {nh} is not a valid host address"),
                    ));
                }
            }
            AttributeType::MultiExitDisc => a.med = Some(four_octets(v)?),
            AttributeType::LocalPref => a.local_pref = Some(four_octets(v)?),
            AttributeType::AtomicAggregate => a.atomic_aggregate = atomic_aggregate(v)?,
            AttributeType::Aggregator => a.aggregator = Some(aggregator(v, ctx.four_octet_as)?),
            AttributeType::Communities => a.communities = communities(v)?,
            AttributeType::ExtendedCommunities => a.extended_communities = extended(v)?,
            AttributeType::LargeCommunity => a.large_communities = large(v)?,
            AttributeType::MpReachNlri | AttributeType::MpUnreachNlri => {
                return multiprotocol(a, t, e)
            }
            AttributeType::As4Path => self.as4.path = Some(as4_path(v, ctx.four_octet_as)?),
            AttributeType::As4Aggregator => {
                self.as4.aggregator = Some(as4_aggregator(v, ctx.four_octet_as)?)
            }
            AttributeType::OriginatorId if v.len() != 4 => {
                return Err(AttrError::withdraw(
                    UpdateErrorSubcode::AttributeLengthError,
                    format!("ORIGINATOR_ID length {}, expected 4", v.len()),
                ))
            }
            AttributeType::ClusterList if v.is_empty() || !v.len().is_multiple_of(4) => {
                return Err(AttrError::withdraw(
                    UpdateErrorSubcode::AttributeLengthError,
                    format!(
                        "CLUSTER_LIST length {} not a non-zero multiple of 4",
                        v.len()
                    ),
                ))
            }
            _ => a.other.push(raw(e)),
        }
        Ok(())
    }

    /// Missing well-known mandatory attributes (RFC 7606 §3 d) make the UPDATE
    /// treat-as-withdraw, unless that attribute was already reported malformed.
    fn check_mandatory(&mut self) {
        let a = &self.out.attrs;
        let has_nlri = self.classic_nlri || a.mp_reach.as_ref().is_some_and(|m| !m.nlri.is_empty());
        if !has_nlri {
            return;
        }
        let missing = [
            (AttributeType::Origin, a.origin.is_none()),
            (AttributeType::AsPath, a.as_path.is_none()),
            (
                AttributeType::NextHop,
                self.classic_nlri && a.next_hop.is_none(),
            ),
        ];
        for (t, absent) in missing {
            let reported = self.out.withdraw.iter().any(|e| e.attribute == t);
            if absent && !reported {
                self.out.withdraw.push(AttributeError {
                    attribute: t,
                    subcode: UpdateErrorSubcode::MissingWellKnownAttribute,
                    reason: "missing well-known mandatory attribute".into(),
                });
            }
        }
    }
}

/// The flags check (RFC 7606 §3 c) and unrecognized well-known attributes (RFC 4271 §6.3).
fn check_flags(t: AttributeType, flags: u8) -> Result<(), AttrError> {
    let Some(expected) = expected_flags(t) else {
        if flags & FLAG_OPTIONAL == 0 {
            return Err(AttrError::reset(
                UpdateErrorSubcode::UnrecognizedWellKnownAttribute,
                format!("unrecognized well-known attribute {t:?}"),
            ));
        }
        return Ok(());
    };
    if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) == expected {
        return Ok(());
    }
    let why = format!("flags {flags:#04x} conflict with the attribute's definition");
    let sub = UpdateErrorSubcode::AttributeFlagsError;
    Err(match t {
        AttributeType::MpReachNlri | AttributeType::MpUnreachNlri => AttrError::reset(sub, why),
        AttributeType::As4Path | AttributeType::As4Aggregator => AttrError::discard(sub, why),
        _ => AttrError::withdraw(sub, why),
    })
}

fn raw(e: &RawEntry<'_>) -> RawAttribute {
    RawAttribute {
        flags: e.flags,
        type_code: e.type_code,
        value: e.value.to_vec(),
    }
}

fn origin(v: &[u8]) -> Result<Origin, AttrError> {
    match (v.len(), v.first().copied().and_then(Origin::from_u8)) {
        (1, Some(o)) => Ok(o),
        _ => Err(AttrError::withdraw(
            UpdateErrorSubcode::InvalidOriginAttribute,
            format!("invalid ORIGIN {v:02x?}"),
        )),
    }
}

fn as_path(v: &[u8], four_octet_as: bool) -> Result<AsPath, AttrError> {
    AsPath::decode(v, four_octet_as).map_err(|e| {
        AttrError::withdraw(
            UpdateErrorSubcode::MalformedAsPath,
            format!("malformed AS_PATH: {e}"),
        )
    })
}

/// NEXT_HOP (RFC 7606 §7.3): a wrong length is treat-as-withdraw. (An address that cannot
/// be a host's is checked by the caller, RFC 4271 §6.3.)
fn next_hop(v: &[u8]) -> Result<Ipv4Addr, AttrError> {
    <[u8; 4]>::try_from(v).map(Ipv4Addr::from).map_err(|_| {
        AttrError::withdraw(
            UpdateErrorSubcode::AttributeLengthError,
            format!("NEXT_HOP length {}, expected 4", v.len()),
        )
    })
}

/// MULTI_EXIT_DISC and LOCAL_PREF: exactly 4 octets (RFC 7606 §7.4, §7.5).
fn four_octets(v: &[u8]) -> Result<u32, AttrError> {
    <[u8; 4]>::try_from(v).map(u32::from_be_bytes).map_err(|_| {
        AttrError::withdraw(
            UpdateErrorSubcode::AttributeLengthError,
            format!("length {}, expected 4", v.len()),
        )
    })
}

fn atomic_aggregate(v: &[u8]) -> Result<bool, AttrError> {
    if v.is_empty() {
        return Ok(true);
    }
    Err(AttrError::discard(
        UpdateErrorSubcode::AttributeLengthError,
        format!("length {}, expected 0", v.len()),
    ))
}

fn aggregator(v: &[u8], four_octet_as: bool) -> Result<Aggregator, AttrError> {
    let mut r = Reader::new(v);
    let parsed = match (v.len(), four_octet_as) {
        (8, true) => r.u32().zip(r.array::<4>()),
        (6, false) => r.u16().map(u32::from).zip(r.array::<4>()),
        _ => None,
    };
    parsed
        .map(|(asn, addr)| Aggregator {
            asn,
            address: Ipv4Addr::from(addr),
        })
        .ok_or_else(|| {
            AttrError::discard(
                UpdateErrorSubcode::AttributeLengthError,
                format!("AGGREGATOR length {}", v.len()),
            )
        })
}

/// Splits a value into `size`-octet items; a length that is zero or not a multiple is
/// treat-as-withdraw (RFC 7606 §7.8, §7.14; RFC 8092 §6).
fn items<'v, T>(
    v: &'v [u8],
    size: usize,
    name: &str,
    item: impl Fn(&'v [u8]) -> T,
) -> Result<Vec<T>, AttrError> {
    if v.is_empty() || !v.len().is_multiple_of(size) {
        return Err(AttrError::withdraw(
            UpdateErrorSubcode::OptionalAttributeError,
            format!(
                "{name} length {} not a non-zero multiple of {size}",
                v.len()
            ),
        ));
    }
    Ok(v.chunks_exact(size).map(item).collect())
}

fn word(c: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]])
}

fn communities(v: &[u8]) -> Result<Vec<Community>, AttrError> {
    items(v, 4, "COMMUNITIES", |c| Community(word(c, 0)))
}

fn extended(v: &[u8]) -> Result<Vec<ExtendedCommunity>, AttrError> {
    items(v, 8, "EXTENDED COMMUNITIES", |c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        ExtendedCommunity(b)
    })
}

fn large(v: &[u8]) -> Result<Vec<LargeCommunity>, AttrError> {
    items(v, 12, "LARGE_COMMUNITY", |c| {
        LargeCommunity::new(word(c, 0), word(c, 4), word(c, 8))
    })
}

/// MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 7606 §7.11): malformed is a session reset; families
/// we do not decode are kept raw. An MP_REACH_NLRI whose next hop cannot be a host's keeps
/// its prefixes (so they are withdrawn) and makes the UPDATE treat-as-withdraw.
fn multiprotocol(
    a: &mut PathAttributes,
    t: AttributeType,
    e: &RawEntry<'_>,
) -> Result<(), AttrError> {
    let sub = UpdateErrorSubcode::OptionalAttributeError;
    let Some(family) = mp::peek_family(e.value) else {
        return Err(AttrError::reset(sub, format!("malformed {t:?}: too short")));
    };
    if !mp::supported(family) {
        a.other.push(raw(e));
        return Ok(());
    }
    let malformed = |why: String| AttrError::reset(sub, format!("malformed {t:?}: {why}"));
    if t == AttributeType::MpUnreachNlri {
        let m = MpUnreach::decode(e.value).map_err(malformed)?;
        m.validate().map_err(malformed)?;
        a.mp_unreach = Some(m);
        return Ok(());
    }
    let m = MpReach::decode(e.value).map_err(malformed)?;
    m.validate().map_err(malformed)?;
    let bad_next_hop = !m.nlri.is_empty() && !valid_next_hop(m.next_hop.addr());
    let nh: NextHop = m.next_hop;
    a.mp_reach = Some(m);
    if bad_next_hop {
        return Err(AttrError::withdraw(
            UpdateErrorSubcode::InvalidNextHopAttribute,
            format!("MP_REACH_NLRI next hop {nh} is not a valid host address"),
        ));
    }
    Ok(())
}

/// AS4_PATH (RFC 6793 §4.1, RFC 7606 §7.7): discarded when malformed, when it holds
/// confederation segments or when the peer is a 4-octet speaker.
fn as4_path(v: &[u8], four_octet_as: bool) -> Result<AsPath, AttrError> {
    let sub = UpdateErrorSubcode::OptionalAttributeError;
    if four_octet_as {
        return Err(AttrError::discard(sub, "AS4_PATH from a 4-octet speaker"));
    }
    let p = AsPath::decode(v, true)
        .map_err(|e| AttrError::discard(sub, format!("malformed AS4_PATH: {e}")))?;
    let plain = p
        .segments
        .iter()
        .all(|s| matches!(s.kind, SegmentKind::Sequence | SegmentKind::Set));
    if !plain {
        return Err(AttrError::discard(sub, "confederation segment in AS4_PATH"));
    }
    Ok(p)
}

fn as4_aggregator(v: &[u8], four_octet_as: bool) -> Result<Aggregator, AttrError> {
    let mut r = Reader::new(v);
    match (r.u32().zip(r.array::<4>()), v.len()) {
        (Some((asn, addr)), 8) if !four_octet_as => Ok(Aggregator {
            asn,
            address: Ipv4Addr::from(addr),
        }),
        _ => Err(AttrError::discard(
            UpdateErrorSubcode::OptionalAttributeError,
            format!(
                "AS4_AGGREGATOR length {} or from a 4-octet speaker",
                v.len()
            ),
        )),
    }
}
