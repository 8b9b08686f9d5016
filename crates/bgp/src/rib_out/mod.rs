//! Adj-RIB-Out: desired routes vs what was sent -> the fewest UPDATE messages.
//!
//! The user hands over the full desired [`AdvertisementSet`] of a peer ([`RibOut::set_desired`]);
//! [`RibOut::take_updates`] compares it with what the peer already has and appends the UPDATE
//! messages that close the gap:
//! - withdrawals first, packed (IPv4 in the classic Withdrawn Routes field, IPv6 in MP_UNREACH_NLRI),
//! - then announcements, prefixes with equal attributes packed into one message up to the
//!   negotiated maximum size (4096 octets, 65535 with RFC 8654 extended messages); IPv4 in the
//!   classic NLRI field, IPv6 in MP_REACH_NLRI (RFC 4760),
//! - End-of-RIB (RFC 4724) per family after the first table of a session.
//!
//! A ROUTE-REFRESH from the peer ([`RibOut::route_refresh`]) resends the whole table of a family.
//! The state per prefix is 24 bytes (prefix + interned attribute id); attributes are encoded
//! once per distinct attribute set, so 100k prefixes with one attribute set take a few MiB.

mod attributes;
mod set;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

pub use crate::wire::{Community, ExtendedCommunity, LargeCommunity, LinkBandwidth};
pub use attributes::RouteAttributes;
pub use set::AdvertisementSet;

use crate::wire::attributes::{MpReach, NextHop};
use crate::wire::pack::{
    append_announcements, append_end_of_rib, append_withdrawals, EncodedAttributes,
    MIN_MESSAGE_SIZE,
};
use crate::wire::Family;
use attributes::AsContext;

/// The two address families FerroLB originates (unicast SAFI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    /// IPv4 unicast (AFI 1, SAFI 1).
    Ipv4,
    /// IPv6 unicast (AFI 2, SAFI 1).
    Ipv6,
}

impl AddressFamily {
    /// Both families, IPv4 first.
    pub const ALL: [AddressFamily; 2] = [AddressFamily::Ipv4, AddressFamily::Ipv6];

    /// The family of a prefix.
    pub fn of(prefix: &IpNet) -> Self {
        match prefix {
            IpNet::V4(_) => Self::Ipv4,
            IpNet::V6(_) => Self::Ipv6,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Ipv4 => 0,
            Self::Ipv6 => 1,
        }
    }

    fn wire(self) -> Family {
        match self {
            Self::Ipv4 => Family::IPV4_UNICAST,
            Self::Ipv6 => Family::IPV6_UNICAST,
        }
    }
}

impl std::fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ipv4 => "ipv4-unicast",
            Self::Ipv6 => "ipv6-unicast",
        })
    }
}

/// What an Established session negotiated and where it runs: everything the encoder needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionContext {
    /// Our AS number.
    pub local_as: u32,
    /// Whether the peer is in another AS (AS_PATH gets our AS; no LOCAL_PREF).
    pub ebgp: bool,
    /// Whether both sides negotiated 4-octet AS numbers (RFC 6793).
    pub four_octet_as: bool,
    /// The largest message the peer accepts: 4096, or 65535 with extended messages (RFC 8654).
    pub max_message_size: usize,
    /// Whether IPv4 unicast was negotiated (or implied by the absence of MP capabilities).
    pub ipv4_unicast: bool,
    /// Whether IPv6 unicast was negotiated.
    pub ipv6_unicast: bool,
    /// Default IPv4 next hop (the session's local address when it is IPv4).
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Default IPv6 next hop (the session's local IPv6 address, or a global address of the
    /// local interface when the session runs over IPv4).
    pub next_hop_v6: Option<Ipv6Addr>,
}

impl SessionContext {
    fn negotiated(&self, family: AddressFamily) -> bool {
        match family {
            AddressFamily::Ipv4 => self.ipv4_unicast,
            AddressFamily::Ipv6 => self.ipv6_unicast,
        }
    }

    fn as_context(&self) -> AsContext {
        AsContext {
            local_as: self.local_as,
            ebgp: self.ebgp,
            four_octet_as: self.four_octet_as,
        }
    }
}

/// What one [`RibOut::take_updates`] call produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateBatch {
    /// UPDATE messages appended (End-of-RIB markers included).
    pub messages: usize,
    /// Prefixes announced, per family (index: IPv4 = 0, IPv6 = 1).
    pub announced: [usize; 2],
    /// Prefixes withdrawn, per family.
    pub withdrawn: [usize; 2],
    /// Desired prefixes that cannot be sent: family not negotiated, or no next hop of their
    /// family known. Reported so the caller can log why they are missing.
    pub unsendable: [usize; 2],
    /// End-of-RIB markers sent, per family.
    pub end_of_rib: [bool; 2],
}

impl UpdateBatch {
    /// Whether nothing at all was produced.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }
}

/// One distinct attribute set, with its encodings (made on first use per session).
struct Interned {
    attrs: Arc<RouteAttributes>,
    /// `(head, tail)` per family; see [`attributes::encode`].
    encoded: [Option<(Vec<u8>, Vec<u8>)>; 2],
}

/// The Adj-RIB-Out of one peer. See the module documentation.
pub struct RibOut {
    ctx: Option<SessionContext>,
    desired: Arc<AdvertisementSet>,
    /// What the peer has from us, sorted by prefix; the `u32` indexes `interned`.
    sent: Vec<(IpNet, u32)>,
    interned: Vec<Interned>,
    index: HashMap<Arc<RouteAttributes>, u32>,
    dirty: bool,
    eor_pending: [bool; 2],
    refresh_pending: [bool; 2],
}

impl Default for RibOut {
    fn default() -> Self {
        Self::new()
    }
}

impl RibOut {
    /// An Adj-RIB-Out with nothing desired and the session down.
    pub fn new() -> Self {
        Self {
            ctx: None,
            desired: Arc::new(AdvertisementSet::new()),
            sent: Vec::new(),
            interned: Vec::new(),
            index: HashMap::new(),
            dirty: false,
            eor_pending: [false; 2],
            refresh_pending: [false; 2],
        }
    }

    /// Replaces the desired set. Nothing is encoded until [`take_updates`](Self::take_updates).
    pub fn set_desired(&mut self, desired: Arc<AdvertisementSet>) {
        if !Arc::ptr_eq(&self.desired, &desired) {
            self.desired = desired;
            self.dirty = true;
        }
    }

    /// The desired set.
    pub fn desired(&self) -> &Arc<AdvertisementSet> {
        &self.desired
    }

    /// The session reached Established: the peer has nothing from us yet; the next
    /// [`take_updates`](Self::take_updates) sends the whole table and End-of-RIB per family.
    pub fn session_up(&mut self, ctx: SessionContext) {
        self.sent.clear();
        self.interned.clear();
        self.index.clear();
        self.eor_pending = [ctx.ipv4_unicast, ctx.ipv6_unicast];
        self.refresh_pending = [false; 2];
        self.dirty = true;
        self.ctx = Some(ctx);
    }

    /// The session went down: forget what was sent.
    pub fn session_down(&mut self) {
        self.ctx = None;
        self.sent = Vec::new();
        self.interned.clear();
        self.index.clear();
        self.eor_pending = [false; 2];
        self.refresh_pending = [false; 2];
    }

    /// The peer asked for our routes again (ROUTE-REFRESH, RFC 2918): the next
    /// [`take_updates`](Self::take_updates) re-announces every route of the family.
    pub fn route_refresh(&mut self, family: AddressFamily) {
        if self.ctx.is_some_and(|c| c.negotiated(family)) {
            self.refresh_pending[family.index()] = true;
        }
    }

    /// Whether [`take_updates`](Self::take_updates) may have something to send.
    pub fn has_pending(&self) -> bool {
        self.ctx.is_some()
            && (self.dirty
                || self.eor_pending.iter().any(|b| *b)
                || self.refresh_pending.iter().any(|b| *b))
    }

    /// Prefixes the peer has from us, per family (index: IPv4 = 0, IPv6 = 1).
    pub fn sent_count(&self) -> [usize; 2] {
        let v4 = self.sent.partition_point(|(p, _)| p.addr().is_ipv4());
        [v4, self.sent.len() - v4]
    }

    /// Appends the UPDATE messages (full BGP messages, header included) that bring the peer
    /// from what it has to the desired set, and records them as sent. Does nothing while the
    /// session is down.
    pub fn take_updates(&mut self, out: &mut Vec<u8>) -> UpdateBatch {
        let mut batch = UpdateBatch::default();
        let Some(ctx) = self.ctx else {
            return batch;
        };
        if !self.has_pending() {
            return batch;
        }
        let desired = Arc::clone(&self.desired);
        let old_sent = std::mem::take(&mut self.sent);
        let mut new_sent: Vec<(IpNet, u32)> = Vec::with_capacity(desired.len());
        let mut withdraw: [Vec<IpNet>; 2] = [Vec::new(), Vec::new()];
        // Announcements grouped by (attribute id, family); consecutive prefixes mostly share
        // a group, so the last one is remembered and the map is rarely consulted.
        let mut groups: Vec<((u32, AddressFamily), Vec<IpNet>)> = Vec::new();
        let mut group_index: HashMap<(u32, AddressFamily), usize> = HashMap::new();
        let mut last_group: Option<((u32, AddressFamily), usize)> = None;
        let refresh = self.refresh_pending;

        let mut old = old_sent.iter().peekable();
        let mut last_ptr: *const RouteAttributes = std::ptr::null();
        let mut last_id = 0u32;
        for (prefix, attrs) in desired.iter() {
            let family = AddressFamily::of(prefix);
            // Everything the peer had that sorts before this prefix is no longer desired.
            while let Some((p, _)) = old.peek() {
                if p < prefix {
                    withdraw[AddressFamily::of(p).index()].push(*p);
                    old.next();
                } else {
                    break;
                }
            }
            let previous = match old.peek() {
                Some((p, id)) if p == prefix => {
                    old.next();
                    Some(*id)
                }
                _ => None,
            };
            if !self.sendable(&ctx, family, attrs) {
                batch.unsendable[family.index()] += 1;
                if previous.is_some() {
                    withdraw[family.index()].push(*prefix);
                }
                continue;
            }
            let id = if Arc::as_ptr(attrs) == last_ptr {
                last_id
            } else {
                let id = self.intern(attrs);
                last_ptr = Arc::as_ptr(attrs);
                last_id = id;
                id
            };
            new_sent.push((*prefix, id));
            if previous != Some(id) || refresh[family.index()] {
                let key = (id, family);
                let at = match last_group {
                    Some((k, at)) if k == key => at,
                    _ => {
                        let at = *group_index.entry(key).or_insert_with(|| {
                            groups.push((key, Vec::new()));
                            groups.len() - 1
                        });
                        last_group = Some((key, at));
                        at
                    }
                };
                groups[at].1.push(*prefix);
            }
        }
        for (p, _) in old {
            withdraw[AddressFamily::of(p).index()].push(*p);
        }
        drop(old_sent);

        let max = ctx.max_message_size.clamp(MIN_MESSAGE_SIZE, 65535);
        for family in AddressFamily::ALL {
            let list = &withdraw[family.index()];
            if !list.is_empty() {
                batch.withdrawn[family.index()] += list.len();
                // cannot fail: a prefix takes at most 17 octets of at least 4096
                batch.messages += append_withdrawals(out, family.wire(), list, max).unwrap_or(0);
            }
        }
        groups.sort_unstable_by_key(|((id, f), _)| (*f, *id));
        let mut too_long: Vec<(u32, AddressFamily)> = Vec::new();
        for ((id, family), prefixes) in &groups {
            let (id, family) = (*id, *family);
            let attrs = &self.interned[id as usize].attrs;
            let (nh4, mp_reach) = match family {
                AddressFamily::Ipv4 => (attrs.next_hop_v4.or(ctx.next_hop_v4), None),
                AddressFamily::Ipv6 => {
                    // sendable() made sure there is one
                    let global = attrs
                        .next_hop_v6
                        .or(ctx.next_hop_v6)
                        .unwrap_or(Ipv6Addr::UNSPECIFIED);
                    let mut head = Vec::with_capacity(21);
                    MpReach {
                        family: Family::IPV6_UNICAST,
                        next_hop: NextHop::V6 {
                            global,
                            link_local: None,
                        },
                        nlri: Vec::new(),
                    }
                    .encode_head(&mut head);
                    (None, Some(head))
                }
            };
            let entry = &mut self.interned[id as usize];
            let encoded = entry.encoded[family.index()]
                .get_or_insert_with(|| attributes::encode(&entry.attrs, ctx.as_context(), nh4));
            let attrs = EncodedAttributes {
                head: &encoded.0,
                mp_reach: mp_reach.as_deref(),
                tail: &encoded.1,
            };
            match append_announcements(out, &attrs, prefixes, max) {
                Ok(messages) => {
                    batch.announced[family.index()] += prefixes.len();
                    batch.messages += messages;
                }
                Err(err) => {
                    // only an absurd attribute set (thousands of communities) gets here: the
                    // peer must not keep an older version of these routes
                    tracing::warn!(%family, prefixes = prefixes.len(), %err,
                        "attributes too long for one UPDATE; withdrawing the prefixes instead");
                    batch.unsendable[family.index()] += prefixes.len();
                    batch.messages +=
                        append_withdrawals(out, family.wire(), prefixes, max).unwrap_or(0);
                    too_long.push((id, family));
                }
            }
        }
        if !too_long.is_empty() {
            new_sent.retain(|(p, id)| !too_long.contains(&(*id, AddressFamily::of(p))));
        }
        for family in AddressFamily::ALL {
            if std::mem::take(&mut self.eor_pending[family.index()]) {
                append_end_of_rib(out, family.wire());
                batch.messages += 1;
                batch.end_of_rib[family.index()] = true;
            }
        }
        self.sent = new_sent;
        self.dirty = false;
        self.refresh_pending = [false; 2];
        self.compact_interned();
        batch
    }

    fn sendable(
        &self,
        ctx: &SessionContext,
        family: AddressFamily,
        attrs: &RouteAttributes,
    ) -> bool {
        ctx.negotiated(family)
            && match family {
                AddressFamily::Ipv4 => attrs.next_hop_v4.or(ctx.next_hop_v4).is_some(),
                AddressFamily::Ipv6 => attrs.next_hop_v6.or(ctx.next_hop_v6).is_some(),
            }
    }

    fn intern(&mut self, attrs: &Arc<RouteAttributes>) -> u32 {
        if let Some(id) = self.index.get(attrs) {
            return *id;
        }
        let id = self.interned.len() as u32;
        self.interned.push(Interned {
            attrs: Arc::clone(attrs),
            encoded: [None, None],
        });
        self.index.insert(Arc::clone(attrs), id);
        id
    }

    /// Drops attribute sets no sent prefix uses any more, once they pile up.
    fn compact_interned(&mut self) {
        if self.interned.len() < 64 {
            return;
        }
        let mut used = vec![false; self.interned.len()];
        for (_, id) in &self.sent {
            used[*id as usize] = true;
        }
        let live = used.iter().filter(|u| **u).count();
        if self.interned.len() < 2 * live + 64 {
            return;
        }
        let mut remap = vec![u32::MAX; self.interned.len()];
        let old = std::mem::take(&mut self.interned);
        self.index.clear();
        for (i, entry) in old.into_iter().enumerate() {
            if used[i] {
                remap[i] = self.interned.len() as u32;
                self.index
                    .insert(Arc::clone(&entry.attrs), self.interned.len() as u32);
                self.interned.push(entry);
            }
        }
        for (_, id) in &mut self.sent {
            *id = remap[*id as usize];
        }
    }
}

#[cfg(test)]
mod tests;
