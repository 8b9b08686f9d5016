//! The attributes a FerroLB route carries, and their encoding as originated by this speaker.
//!
//! Only what an originator needs is here: ORIGIN (always IGP), AS_PATH (the local AS for eBGP,
//! empty for iBGP; AS4_PATH with AS_TRANS towards a 2-octet peer), NEXT_HOP (IPv4), MED,
//! LOCAL_PREF (iBGP only), COMMUNITIES, EXTENDED COMMUNITIES and LARGE_COMMUNITY. MP_REACH_NLRI is framed per message
//! by the packer (`wire::pack`), because it carries the NLRI inside.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{Community, ExtendedCommunity, LargeCommunity, AS_TRANS};

/// Path attribute flag: optional (RFC 4271 §4.3).
const OPTIONAL: u8 = 0x80;
/// Path attribute flag: transitive.
const TRANSITIVE: u8 = 0x40;
/// Path attribute flag: the length field is two octets.
const EXTENDED_LENGTH: u8 = 0x10;

/// Attribute type codes (IANA "BGP Path Attributes").
pub(crate) mod code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MED: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const COMMUNITIES: u8 = 8;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const LARGE_COMMUNITY: u8 = 32;
}

/// What the user chooses for a route; the AS path and ORIGIN follow from the session.
///
/// Routes whose attributes compare equal are packed into the same UPDATE messages, so share one
/// `Arc<RouteAttributes>` between many prefixes (that also keeps memory flat).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RouteAttributes {
    /// IPv4 next hop for IPv4 routes; `None` = the local address of the session.
    pub next_hop_v4: Option<Ipv4Addr>,
    /// IPv6 next hop for IPv6 routes; `None` = the session's local IPv6 address, else the
    /// global IPv6 address the driver found on the local interface.
    pub next_hop_v6: Option<Ipv6Addr>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF; sent to iBGP peers only (RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// COMMUNITIES (RFC 1997).
    pub communities: Vec<Community>,
    /// LARGE_COMMUNITY (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// EXTENDED COMMUNITIES (RFC 4360), e.g. a link bandwidth
    /// ([`crate::wire::LinkBandwidth`]).
    pub extended_communities: Vec<ExtendedCommunity>,
}

/// Session facts that shape the encoding of originated attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AsContext {
    pub local_as: u32,
    pub ebgp: bool,
    pub four_octet_as: bool,
}

fn put_attr(out: &mut Vec<u8>, flags: u8, code: u8, value: &[u8]) {
    if value.len() > 255 {
        out.push(flags | EXTENDED_LENGTH);
        out.push(code);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.push(flags);
        out.push(code);
        out.push(value.len() as u8);
    }
    out.extend_from_slice(value);
}

/// Encodes the attributes that precede MP_REACH_NLRI (type < 14) and those that follow it,
/// so an IPv6 UPDATE can be `head + MP_REACH(nlri) + tail` in ascending type order.
/// `next_hop_v4` is `Some` for IPv4 messages (classic NEXT_HOP attribute).
pub(crate) fn encode(
    attrs: &RouteAttributes,
    ctx: AsContext,
    next_hop_v4: Option<Ipv4Addr>,
) -> (Vec<u8>, Vec<u8>) {
    let mut head = Vec::with_capacity(64);
    // ORIGIN IGP.
    put_attr(&mut head, TRANSITIVE, code::ORIGIN, &[0]);
    // AS_PATH: one AS_SEQUENCE with the local AS for eBGP, empty for iBGP.
    let mut as4_path = None;
    if ctx.ebgp {
        if ctx.four_octet_as {
            let mut v = vec![2, 1];
            v.extend_from_slice(&ctx.local_as.to_be_bytes());
            put_attr(&mut head, TRANSITIVE, code::AS_PATH, &v);
        } else {
            let two = (if ctx.local_as > 0xFFFF {
                AS_TRANS
            } else {
                ctx.local_as
            }) as u16;
            let mut v = vec![2, 1];
            v.extend_from_slice(&two.to_be_bytes());
            put_attr(&mut head, TRANSITIVE, code::AS_PATH, &v);
            if ctx.local_as > u32::from(u16::MAX) {
                let mut v4 = vec![2, 1];
                v4.extend_from_slice(&ctx.local_as.to_be_bytes());
                as4_path = Some(v4);
            }
        }
    } else {
        put_attr(&mut head, TRANSITIVE, code::AS_PATH, &[]);
    }
    if let Some(nh) = next_hop_v4 {
        put_attr(&mut head, TRANSITIVE, code::NEXT_HOP, &nh.octets());
    }
    if let Some(med) = attrs.med {
        put_attr(&mut head, OPTIONAL, code::MED, &med.to_be_bytes());
    }
    if !ctx.ebgp {
        let lp = attrs.local_pref.unwrap_or(100);
        put_attr(&mut head, TRANSITIVE, code::LOCAL_PREF, &lp.to_be_bytes());
    }
    if !attrs.communities.is_empty() {
        let mut v = Vec::with_capacity(attrs.communities.len() * 4);
        for c in &attrs.communities {
            v.extend_from_slice(&c.0.to_be_bytes());
        }
        put_attr(&mut head, OPTIONAL | TRANSITIVE, code::COMMUNITIES, &v);
    }
    let mut tail = Vec::new();
    if !attrs.extended_communities.is_empty() {
        let v: Vec<u8> = attrs
            .extended_communities
            .iter()
            .flat_map(|c| c.0)
            .collect();
        put_attr(
            &mut tail,
            OPTIONAL | TRANSITIVE,
            code::EXTENDED_COMMUNITIES,
            &v,
        );
    }
    if let Some(v) = as4_path {
        put_attr(&mut tail, OPTIONAL | TRANSITIVE, code::AS4_PATH, &v);
    }
    if !attrs.large_communities.is_empty() {
        let mut v = Vec::with_capacity(attrs.large_communities.len() * 12);
        for c in &attrs.large_communities {
            v.extend_from_slice(&c.global_admin.to_be_bytes());
            v.extend_from_slice(&c.local_data1.to_be_bytes());
            v.extend_from_slice(&c.local_data2.to_be_bytes());
        }
        put_attr(&mut tail, OPTIONAL | TRANSITIVE, code::LARGE_COMMUNITY, &v);
    }
    (head, tail)
}
