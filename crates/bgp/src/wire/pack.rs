//! The UPDATE packer: prefixes that share attributes go into as few UPDATE messages as fit the
//! negotiated maximum message size (4096, or 65535 with RFC 8654 Extended Message).
//!
//! ```text
//! UPDATE = header (16 x 0xff marker, length u16, type 2)
//!        + Withdrawn Routes Length u16 + Withdrawn Routes (IPv4 unicast prefixes)
//!        + Total Path Attribute Length u16 + Path Attributes
//!        + NLRI (IPv4 unicast prefixes, to the end of the message)
//! prefix = length in bits u8 + the first ceil(length / 8) octets of the address
//! MP_REACH_NLRI   (14) = AFI u16, SAFI u8, next hop length u8, next hop, reserved u8, NLRI
//! MP_UNREACH_NLRI (15) = AFI u16, SAFI u8, withdrawn NLRI
//! ```
//!
//! IPv4 unicast uses the classic Withdrawn Routes / NLRI fields (NEXT_HOP among the
//! attributes); every other family uses MP_REACH_NLRI / MP_UNREACH_NLRI with a 2-octet
//! attribute length. The `append_*` functions write straight into one output buffer (the
//! Adj-RIB-Out's hot path); [`pack_announce`] and [`pack_withdraw`] wrap them for callers that
//! want one `Vec` per message.

use super::attributes::{MpReach, NextHop, PathAttributes, FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL};
use super::error::EncodeError;
use super::header::{begin_message, finish_message, HEADER_LEN};
use super::iana::{AttributeType, Family, MessageType};
use super::nlri::{encode_prefix, prefix_encoded_len};
use super::DecodeContext;
use ipnet::IpNet;

/// The smallest maximum message size of BGP (RFC 4271 §4.1).
pub(crate) const MIN_MESSAGE_SIZE: usize = 4096;
/// Header + Withdrawn Routes Length + Total Path Attribute Length.
const EMPTY_UPDATE_LEN: usize = HEADER_LEN + 4;
/// Flags, type and 2-octet length of MP_REACH_NLRI / MP_UNREACH_NLRI.
const MP_ATTRIBUTE_HEADER_LEN: usize = 4;
/// AFI and SAFI at the start of MP_UNREACH_NLRI.
const MP_UNREACH_HEAD_LEN: usize = 3;
const MP_FLAGS: u8 = FLAG_OPTIONAL | FLAG_EXTENDED_LENGTH;

fn mp_reach_code() -> u8 {
    AttributeType::MpReachNlri.into()
}

fn mp_unreach_code() -> u8 {
    AttributeType::MpUnreachNlri.into()
}

/// The attributes of one group of announcements, encoded once for every message of the group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncodedAttributes<'a> {
    /// Attributes that precede MP_REACH_NLRI; for IPv4 unicast, all of them (NEXT_HOP included).
    pub head: &'a [u8],
    /// MP_REACH_NLRI's value up to its NLRI (AFI, SAFI, next hop, reserved octet); `None`
    /// sends the prefixes in the classic NLRI field (IPv4 unicast).
    pub mp_reach: Option<&'a [u8]>,
    /// Attributes that follow MP_REACH_NLRI.
    pub tail: &'a [u8],
}

/// Appends the UPDATEs announcing `prefixes` with `attrs`, each at most `max` octets; returns
/// how many messages were written. When even the longest prefix does not fit beside the
/// attributes, nothing is appended and the error says by how much.
pub(crate) fn append_announcements(
    out: &mut Vec<u8>,
    attrs: &EncodedAttributes<'_>,
    prefixes: &[IpNet],
    max: usize,
) -> Result<usize, EncodeError> {
    let mp_len = attrs
        .mp_reach
        .map_or(0, |mp| MP_ATTRIBUTE_HEADER_LEN + mp.len());
    let fixed = EMPTY_UPDATE_LEN + attrs.head.len() + mp_len + attrs.tail.len();
    let room = room_for_prefixes(fixed, prefixes, max)?;
    write_messages(out, prefixes, room, max, |out, chunk| {
        out.extend_from_slice(&[0, 0]); // no Withdrawn Routes
        let attrs_len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(attrs.head);
        match attrs.mp_reach {
            Some(mp) => {
                out.extend_from_slice(&[MP_FLAGS, mp_reach_code(), 0, 0]);
                let body = out.len();
                out.extend_from_slice(mp);
                chunk.iter().for_each(|p| encode_prefix(out, p));
                patch_len(out, body - 2);
                out.extend_from_slice(attrs.tail);
                patch_len(out, attrs_len_at);
            }
            None => {
                out.extend_from_slice(attrs.tail);
                patch_len(out, attrs_len_at);
                chunk.iter().for_each(|p| encode_prefix(out, p));
            }
        }
    })
}

/// Appends the UPDATEs withdrawing `prefixes` (all of `family`), each at most `max` octets;
/// returns how many messages were written. Nothing is appended on error.
pub(crate) fn append_withdrawals(
    out: &mut Vec<u8>,
    family: Family,
    prefixes: &[IpNet],
    max: usize,
) -> Result<usize, EncodeError> {
    let classic = family == Family::IPV4_UNICAST;
    let fixed = if classic {
        EMPTY_UPDATE_LEN
    } else {
        EMPTY_UPDATE_LEN + MP_ATTRIBUTE_HEADER_LEN + MP_UNREACH_HEAD_LEN
    };
    let room = room_for_prefixes(fixed, prefixes, max)?;
    write_messages(out, prefixes, room, max, |out, chunk| {
        if classic {
            let len_at = out.len();
            out.extend_from_slice(&[0, 0]);
            chunk.iter().for_each(|p| encode_prefix(out, p));
            patch_len(out, len_at);
            out.extend_from_slice(&[0, 0]); // no path attributes
        } else {
            out.extend_from_slice(&[0, 0]); // no Withdrawn Routes
            let attrs_len_at = out.len();
            out.extend_from_slice(&[0, 0, MP_FLAGS, mp_unreach_code(), 0, 0]);
            put_family(out, family);
            chunk.iter().for_each(|p| encode_prefix(out, p));
            patch_len(out, attrs_len_at + 4);
            patch_len(out, attrs_len_at);
        }
    })
}

/// Appends the End-of-RIB marker of `family` (RFC 4724 §2): an empty UPDATE for IPv4
/// unicast, an UPDATE with an empty MP_UNREACH_NLRI for other families.
pub(crate) fn append_end_of_rib(out: &mut Vec<u8>, family: Family) {
    let start = begin_message(out, MessageType::Update.into());
    if family == Family::IPV4_UNICAST {
        out.extend_from_slice(&[0, 0, 0, 0]);
    } else {
        let attrs_len = (MP_ATTRIBUTE_HEADER_LEN + MP_UNREACH_HEAD_LEN) as u8;
        out.extend_from_slice(&[0, 0, 0, attrs_len, MP_FLAGS, mp_unreach_code(), 0, 3]);
        put_family(out, family);
    }
    let len = (out.len() - start) as u16; // 23 or 30 octets
    out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
}

/// Builds the UPDATE messages announcing `prefixes` with `attrs` and `next_hop`.
///
/// `attrs.next_hop`, `attrs.mp_reach` and `attrs.mp_unreach` are ignored: IPv4 prefixes are
/// sent with NEXT_HOP = `next_hop` (which must be [`NextHop::V4`]), IPv6 prefixes in
/// MP_REACH_NLRI with `next_hop` (which must be [`NextHop::V6`]), placed first among the
/// attributes as FRR sends it. Prefixes of the other family than the next hop are an error
/// ([`EncodeError::NextHopFamily`]). Each message holds as many prefixes as fit
/// `ctx.max_message_len()`.
pub fn pack_announce(
    attrs: &PathAttributes,
    next_hop: NextHop,
    prefixes: &[IpNet],
    ctx: &DecodeContext,
) -> Result<Vec<Vec<u8>>, EncodeError> {
    if let Some(bad) = prefixes.iter().find(|p| {
        !matches!(
            (p, next_hop),
            (IpNet::V4(_), NextHop::V4(_)) | (IpNet::V6(_), NextHop::V6 { .. })
        )
    }) {
        return Err(EncodeError::NextHopFamily {
            prefix: bad.to_string(),
            next_hop: next_hop.to_string(),
        });
    }
    let mut base = attrs.clone();
    base.mp_reach = None;
    base.mp_unreach = None;
    base.layout = Default::default();
    base.next_hop = match next_hop {
        NextHop::V4(a) => Some(a),
        NextHop::V6 { .. } => None,
    };
    let mut attr_bytes = Vec::new();
    base.encode(&mut attr_bytes, ctx)?;
    let mut mp_head = Vec::new();
    let encoded = match next_hop {
        NextHop::V4(_) => EncodedAttributes {
            head: &attr_bytes,
            mp_reach: None,
            tail: &[],
        },
        NextHop::V6 { .. } => {
            MpReach {
                family: Family::IPV6_UNICAST,
                next_hop,
                nlri: Vec::new(),
            }
            .encode_head(&mut mp_head);
            EncodedAttributes {
                head: &[],
                mp_reach: Some(&mp_head),
                tail: &attr_bytes,
            }
        }
    };
    let mut out = Vec::new();
    append_announcements(&mut out, &encoded, prefixes, ctx.max_message_len())?;
    Ok(split_messages(&out))
}

/// Builds the UPDATE messages withdrawing `prefixes`: IPv4 ones in Withdrawn Routes, IPv6
/// ones in MP_UNREACH_NLRI (separate messages per family).
pub fn pack_withdraw(prefixes: &[IpNet], ctx: &DecodeContext) -> Result<Vec<Vec<u8>>, EncodeError> {
    let (v4, v6): (Vec<IpNet>, Vec<IpNet>) =
        prefixes.iter().partition(|p| matches!(p, IpNet::V4(_)));
    let max = ctx.max_message_len();
    let mut out = Vec::new();
    append_withdrawals(&mut out, Family::IPV4_UNICAST, &v4, max)?;
    append_withdrawals(&mut out, Family::IPV6_UNICAST, &v6, max)?;
    Ok(split_messages(&out))
}

/// The End-of-RIB marker for `family`, encoded.
pub fn end_of_rib(family: Family, _ctx: &DecodeContext) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 11);
    append_end_of_rib(&mut out, family);
    out
}

/// The room left for prefixes in a message of at most `max` octets whose other parts take
/// `fixed`; an error when the longest of `prefixes` would not fit.
fn room_for_prefixes(fixed: usize, prefixes: &[IpNet], max: usize) -> Result<usize, EncodeError> {
    let longest = prefixes.iter().map(prefix_encoded_len).max().unwrap_or(0);
    if fixed + longest > max {
        return Err(EncodeError::TooLong {
            len: fixed + longest,
            max,
        });
    }
    Ok(max - fixed)
}

/// Writes UPDATEs until every prefix is in one: each message gets as many prefixes as fit
/// `room` and `body` writes everything after the header. Returns the number of messages.
fn write_messages(
    out: &mut Vec<u8>,
    prefixes: &[IpNet],
    room: usize,
    max: usize,
    mut body: impl FnMut(&mut Vec<u8>, &[IpNet]),
) -> Result<usize, EncodeError> {
    let mut rest = prefixes;
    let mut messages = 0;
    while !rest.is_empty() {
        let (chunk, next) = rest.split_at(fitting(rest, room));
        let start = begin_message(out, MessageType::Update.into());
        body(out, chunk);
        finish_message(out, start, max)?;
        messages += 1;
        rest = next;
    }
    Ok(messages)
}

/// How many prefixes from the front of `rest` fit in `room` octets (at least one when the
/// longest prefix fits, as [`room_for_prefixes`] made sure).
fn fitting(rest: &[IpNet], room: usize) -> usize {
    let mut used = 0;
    rest.iter()
        .take_while(|p| {
            used += prefix_encoded_len(p);
            used <= room
        })
        .count()
}

/// Writes the length of the field whose 2-octet length is at `at` and whose body runs from
/// `at + 2` to the end of `out`.
fn patch_len(out: &mut [u8], at: usize) {
    let len = (out.len() - at - 2) as u16; // bounded by `max` <= 65535
    out[at..at + 2].copy_from_slice(&len.to_be_bytes());
}

fn put_family(out: &mut Vec<u8>, family: Family) {
    out.extend_from_slice(&u16::from(family.afi).to_be_bytes());
    out.push(family.safi.into());
}

/// Splits a buffer of whole BGP messages into one `Vec` per message.
fn split_messages(buf: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut rest = buf;
    while rest.len() >= HEADER_LEN {
        let len =
            usize::from(u16::from_be_bytes([rest[16], rest[17]])).clamp(HEADER_LEN, rest.len());
        let (message, next) = rest.split_at(len);
        messages.push(message.to_vec());
        rest = next;
    }
    messages
}
