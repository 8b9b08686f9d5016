//! Packing prefixes into UPDATE messages (RFC 4271 §4.3, RFC 4760 §3-4) up to a maximum size.
//!
//! ```text
//! UPDATE = header (16 x 0xff marker, length u16, type 2)
//!        + Withdrawn Routes Length u16 + Withdrawn Routes (IPv4 prefixes)
//!        + Total Path Attribute Length u16 + Path Attributes
//!        + NLRI (IPv4 prefixes, to the end of the message)
//! prefix = length in bits u8 + the first ceil(length / 8) octets of the address
//! MP_REACH_NLRI   (14) = AFI u16, SAFI u8, next hop length u8, next hop, reserved u8, NLRI
//! MP_UNREACH_NLRI (15) = AFI u16, SAFI u8, withdrawn NLRI
//! ```

use std::net::Ipv6Addr;

use ipnet::IpNet;

use super::attributes::code;
use super::AddressFamily;

/// The BGP header: marker, length, type.
const HEADER_LEN: usize = 19;
/// Header + Withdrawn Routes Length + Total Path Attribute Length.
const EMPTY_UPDATE_LEN: usize = HEADER_LEN + 4;
/// The smallest maximum message size of BGP (RFC 4271 §4.1).
pub(crate) const MIN_MESSAGE_SIZE: usize = 4096;
const TYPE_UPDATE: u8 = 2;
const AFI_IPV6: u16 = 2;
const SAFI_UNICAST: u8 = 1;
/// Optional, extended length: the flags used for MP_REACH / MP_UNREACH.
const OPTIONAL_EXTENDED: u8 = 0x90;

fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&[0, 0, TYPE_UPDATE]);
    start
}

fn finish(out: &mut [u8], start: usize) {
    let len = (out.len() - start) as u16;
    out[start + 16..start + 18].copy_from_slice(&len.to_be_bytes());
}

/// Writes `out.len() - body_start` as a u16 at `at` (a length field whose body ends here).
fn patch_len(out: &mut [u8], at: usize, body_start: usize) {
    let value = (out.len() - body_start) as u16;
    out[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Octets a prefix takes in NLRI encoding.
pub(crate) fn prefix_len_on_wire(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}

fn put_prefix(out: &mut Vec<u8>, prefix: &IpNet) {
    let bits = prefix.prefix_len();
    let octets = usize::from(bits).div_ceil(8);
    out.push(bits);
    match prefix {
        IpNet::V4(p) => out.extend_from_slice(&p.addr().octets()[..octets]),
        IpNet::V6(p) => out.extend_from_slice(&p.addr().octets()[..octets]),
    }
}

/// Appends as many prefixes from `rest` as fit in `room` octets; returns how many.
fn put_prefixes(out: &mut Vec<u8>, rest: &[IpNet], room: usize) -> usize {
    let mut used = 0;
    let mut n = 0;
    for p in rest {
        let len = prefix_len_on_wire(p);
        // At least one prefix per message, so an oversized attribute set still makes progress.
        if used + len > room && n > 0 {
            break;
        }
        put_prefix(out, p);
        used += len;
        n += 1;
    }
    n
}

/// Appends withdrawals of `prefixes` (all of `family`); returns the number of messages.
pub(crate) fn withdrawals(
    out: &mut Vec<u8>,
    family: AddressFamily,
    prefixes: &[IpNet],
    max: usize,
) -> usize {
    let mut rest = prefixes;
    let mut messages = 0;
    while !rest.is_empty() {
        let start = begin(out);
        let n = match family {
            AddressFamily::Ipv4 => {
                let len_at = out.len();
                out.extend_from_slice(&[0, 0]);
                let n = put_prefixes(out, rest, max - EMPTY_UPDATE_LEN);
                patch_len(out, len_at, len_at + 2);
                out.extend_from_slice(&[0, 0]);
                n
            }
            AddressFamily::Ipv6 => {
                out.extend_from_slice(&[0, 0]);
                let attrs_len_at = out.len();
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&[OPTIONAL_EXTENDED, code::MP_UNREACH_NLRI, 0, 0]);
                let attr_body = out.len();
                out.extend_from_slice(&AFI_IPV6.to_be_bytes());
                out.push(SAFI_UNICAST);
                let room = max - (out.len() - start);
                let n = put_prefixes(out, rest, room);
                patch_len(out, attr_body - 2, attr_body);
                patch_len(out, attrs_len_at, attrs_len_at + 2);
                n
            }
        };
        finish(out, start);
        messages += 1;
        rest = &rest[n..];
    }
    messages
}

/// Appends IPv4 announcements sharing one attribute encoding; returns the number of messages.
pub(crate) fn announcements_v4(
    out: &mut Vec<u8>,
    head: &[u8],
    tail: &[u8],
    prefixes: &[IpNet],
    max: usize,
) -> usize {
    let mut rest = prefixes;
    let mut messages = 0;
    let attrs_len = head.len() + tail.len();
    while !rest.is_empty() {
        let start = begin(out);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(attrs_len as u16).to_be_bytes());
        out.extend_from_slice(head);
        out.extend_from_slice(tail);
        let room = max.saturating_sub(out.len() - start);
        let n = put_prefixes(out, rest, room);
        finish(out, start);
        messages += 1;
        rest = &rest[n..];
    }
    messages
}

/// Appends IPv6 announcements (MP_REACH_NLRI with a global next hop) sharing one attribute
/// encoding; returns the number of messages.
pub(crate) fn announcements_v6(
    out: &mut Vec<u8>,
    head: &[u8],
    tail: &[u8],
    next_hop: Ipv6Addr,
    prefixes: &[IpNet],
    max: usize,
) -> usize {
    let mut rest = prefixes;
    let mut messages = 0;
    while !rest.is_empty() {
        let start = begin(out);
        out.extend_from_slice(&[0, 0]);
        let attrs_len_at = out.len();
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(head);
        out.extend_from_slice(&[OPTIONAL_EXTENDED, code::MP_REACH_NLRI, 0, 0]);
        let attr_body = out.len();
        out.extend_from_slice(&AFI_IPV6.to_be_bytes());
        out.push(SAFI_UNICAST);
        out.push(16);
        out.extend_from_slice(&next_hop.octets());
        out.push(0);
        let room = max.saturating_sub(out.len() - start + tail.len());
        let n = put_prefixes(out, rest, room);
        patch_len(out, attr_body - 2, attr_body);
        out.extend_from_slice(tail);
        patch_len(out, attrs_len_at, attrs_len_at + 2);
        finish(out, start);
        messages += 1;
        rest = &rest[n..];
    }
    messages
}

/// Appends the End-of-RIB marker of a family (RFC 4724 §2): an empty UPDATE for IPv4, an
/// UPDATE with an empty MP_UNREACH_NLRI for other families.
pub(crate) fn end_of_rib(out: &mut Vec<u8>, family: AddressFamily) {
    let start = begin(out);
    match family {
        AddressFamily::Ipv4 => out.extend_from_slice(&[0, 0, 0, 0]),
        AddressFamily::Ipv6 => {
            out.extend_from_slice(&[0, 0, 0, 7, OPTIONAL_EXTENDED, code::MP_UNREACH_NLRI, 0, 3]);
            out.extend_from_slice(&AFI_IPV6.to_be_bytes());
            out.push(SAFI_UNICAST);
        }
    }
    finish(out, start);
}
