//! Packing many prefixes that share attributes into as few UPDATE messages as fit the
//! negotiated maximum message size (4096, or 65535 with RFC 8654 Extended Message).
//!
//! IPv4 unicast prefixes go in the classic NLRI / Withdrawn Routes fields (with NEXT_HOP);
//! IPv6 prefixes go in MP_REACH_NLRI / MP_UNREACH_NLRI, placed first among the attributes
//! (as FRR does) with a 2-octet length.

use super::attributes::{
    write_attribute, NextHop, PathAttributes, FLAG_EXTENDED_LENGTH, FLAG_OPTIONAL,
};
use super::error::EncodeError;
use super::header::{begin_message, finish_message, HEADER_LEN};
use super::iana::{Family, MessageType};
use super::nlri::{encode_prefix, prefix_encoded_len};
use super::{DecodeContext, Message};
use crate::wire::update::Update;
use ipnet::IpNet;

/// Builds the UPDATE messages announcing `prefixes` with `attrs` and `next_hop`.
///
/// `attrs.next_hop`, `attrs.mp_reach` and `attrs.mp_unreach` are ignored: IPv4 prefixes are
/// sent with NEXT_HOP = `next_hop` (which must be [`NextHop::V4`]), IPv6 prefixes in
/// MP_REACH_NLRI with `next_hop` (which must be [`NextHop::V6`]). Prefixes of the other family
/// than the next hop are an error ([`EncodeError::NextHopFamily`]). Each message holds as many
/// prefixes as fit `ctx.max_message_len()`.
pub fn pack_announce(
    attrs: &PathAttributes,
    next_hop: NextHop,
    prefixes: &[IpNet],
    ctx: &DecodeContext,
) -> Result<Vec<Vec<u8>>, EncodeError> {
    if prefixes.is_empty() {
        return Ok(Vec::new());
    }
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
    let max = ctx.max_message_len();
    match next_hop {
        NextHop::V4(_) => {
            let fixed = HEADER_LEN + 2 + 2 + attr_bytes.len();
            pack(prefixes, max, fixed, |out, chunk| {
                let start = begin_message(out, MessageType::Update.into());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&(attr_bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(&attr_bytes);
                for p in chunk {
                    encode_prefix(out, p);
                }
                finish_message(out, start, max)
            })
        }
        NextHop::V6 { .. } => {
            let mut head = Vec::new();
            super::attributes::MpReach {
                family: Family::IPV6_UNICAST,
                next_hop,
                nlri: Vec::new(),
            }
            .encode_head(&mut head);
            // MP_REACH header (flags, type, 2-octet length) + head + nlri.
            let fixed = HEADER_LEN + 2 + 2 + 4 + head.len() + attr_bytes.len();
            pack(prefixes, max, fixed, |out, chunk| {
                let start = begin_message(out, MessageType::Update.into());
                out.extend_from_slice(&[0, 0]);
                let alen_at = out.len();
                out.extend_from_slice(&[0, 0]);
                let mut value = head.clone();
                for p in chunk {
                    encode_prefix(&mut value, p);
                }
                write_attribute(out, FLAG_OPTIONAL | FLAG_EXTENDED_LENGTH, 14, &value)?;
                out.extend_from_slice(&attr_bytes);
                let alen = out.len() - alen_at - 2;
                let alen =
                    u16::try_from(alen).map_err(|_| EncodeError::TooLong { len: alen, max })?;
                out[alen_at..alen_at + 2].copy_from_slice(&alen.to_be_bytes());
                finish_message(out, start, max)
            })
        }
    }
}

/// Builds the UPDATE messages withdrawing `prefixes`: IPv4 ones in Withdrawn Routes, IPv6
/// ones in MP_UNREACH_NLRI (separate messages per family).
pub fn pack_withdraw(prefixes: &[IpNet], ctx: &DecodeContext) -> Result<Vec<Vec<u8>>, EncodeError> {
    let max = ctx.max_message_len();
    let v4: Vec<IpNet> = prefixes
        .iter()
        .filter(|p| matches!(p, IpNet::V4(_)))
        .copied()
        .collect();
    let v6: Vec<IpNet> = prefixes
        .iter()
        .filter(|p| matches!(p, IpNet::V6(_)))
        .copied()
        .collect();
    let mut out = pack(&v4, max, HEADER_LEN + 4, |out, chunk| {
        let start = begin_message(out, MessageType::Update.into());
        let len: usize = chunk.iter().map(prefix_encoded_len).sum();
        out.extend_from_slice(&(len as u16).to_be_bytes());
        for p in chunk {
            encode_prefix(out, p);
        }
        out.extend_from_slice(&[0, 0]);
        finish_message(out, start, max)
    })?;
    out.extend(pack(&v6, max, HEADER_LEN + 4 + 4 + 3, |out, chunk| {
        let start = begin_message(out, MessageType::Update.into());
        out.extend_from_slice(&[0, 0]);
        let mut value = vec![0, 2, 1];
        for p in chunk {
            encode_prefix(&mut value, p);
        }
        out.extend_from_slice(&((value.len() + 4) as u16).to_be_bytes());
        write_attribute(out, FLAG_OPTIONAL | FLAG_EXTENDED_LENGTH, 15, &value)?;
        finish_message(out, start, max)
    })?);
    Ok(out)
}

/// The End-of-RIB marker for `family`, encoded.
pub fn end_of_rib(family: Family, ctx: &DecodeContext) -> Vec<u8> {
    // Cannot fail: the marker is at most 30 octets.
    Message::Update(Update::end_of_rib(family))
        .encode(ctx)
        .unwrap_or_default()
}

/// Splits `prefixes` into chunks whose encoding fits `max - fixed` and writes one message per
/// chunk with `write`.
fn pack(
    prefixes: &[IpNet],
    max: usize,
    fixed: usize,
    mut write: impl FnMut(&mut Vec<u8>, &[IpNet]) -> Result<(), EncodeError>,
) -> Result<Vec<Vec<u8>>, EncodeError> {
    let mut msgs = Vec::new();
    if prefixes.is_empty() {
        return Ok(msgs);
    }
    if fixed + 17 > max {
        return Err(EncodeError::TooLong {
            len: fixed + 17,
            max,
        });
    }
    let room = max - fixed;
    let mut start = 0;
    while start < prefixes.len() {
        let mut used = 0;
        let mut end = start;
        while end < prefixes.len() {
            let n = prefix_encoded_len(&prefixes[end]);
            if used + n > room {
                break;
            }
            used += n;
            end += 1;
        }
        let mut out = Vec::with_capacity(fixed + used);
        write(&mut out, &prefixes[start..end])?;
        msgs.push(out);
        start = end;
    }
    Ok(msgs)
}
