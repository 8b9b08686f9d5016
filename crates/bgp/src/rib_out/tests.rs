//! Adj-RIB-Out tests: packing, diffs, withdrawals, End-of-RIB, route refresh, attribute encoding.
//! The messages are parsed back by a small independent reader written for these tests.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Instant;

use ipnet::{IpNet, Ipv4Net};

use super::*;

/// One UPDATE as the tests see it.
#[derive(Debug, Default)]
struct Parsed {
    len: usize,
    withdrawn: Vec<IpNet>,
    nlri: Vec<IpNet>,
    mp_reach: Vec<IpNet>,
    mp_reach_nh: Option<Ipv6Addr>,
    mp_unreach: Vec<IpNet>,
    has_mp_unreach: bool,
    /// (type code, value)
    attrs: Vec<(u8, Vec<u8>)>,
    /// (type code, flags without the extended-length bit), in wire order
    flags: Vec<(u8, u8)>,
}

impl Parsed {
    fn attr(&self, code: u8) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }
    fn is_eor_v4(&self) -> bool {
        self.len == 23
    }
    fn is_eor_v6(&self) -> bool {
        self.has_mp_unreach && self.mp_unreach.is_empty() && self.attrs.len() == 1
    }
}

fn parse_prefixes(mut b: &[u8], v6: bool) -> Vec<IpNet> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let bits = b[0];
        let n = usize::from(bits).div_ceil(8);
        let mut addr = [0u8; 16];
        addr[..n].copy_from_slice(&b[1..1 + n]);
        let p = if v6 {
            IpNet::V6(ipnet::Ipv6Net::new(Ipv6Addr::from(addr), bits).expect("v6 prefix"))
        } else {
            let a = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
            IpNet::V4(Ipv4Net::new(a, bits).expect("v4 prefix"))
        };
        out.push(p);
        b = &b[1 + n..];
    }
    out
}

fn parse_stream(mut b: &[u8]) -> Vec<Parsed> {
    let mut msgs = Vec::new();
    while !b.is_empty() {
        assert_eq!(&b[..16], &[0xff; 16], "marker");
        let len = usize::from(u16::from_be_bytes([b[16], b[17]]));
        assert_eq!(b[18], 2, "type UPDATE");
        let m = &b[19..len];
        let wl = usize::from(u16::from_be_bytes([m[0], m[1]]));
        let mut p = Parsed {
            len,
            withdrawn: parse_prefixes(&m[2..2 + wl], false),
            ..Default::default()
        };
        let al = usize::from(u16::from_be_bytes([m[2 + wl], m[3 + wl]]));
        let mut a = &m[4 + wl..4 + wl + al];
        p.nlri = parse_prefixes(&m[4 + wl + al..], false);
        while !a.is_empty() {
            let flags = a[0];
            let code = a[1];
            let (vl, hl) = if flags & 0x10 != 0 {
                (usize::from(u16::from_be_bytes([a[2], a[3]])), 4)
            } else {
                (usize::from(a[2]), 3)
            };
            let v = &a[hl..hl + vl];
            p.flags.push((code, flags & !0x10));
            match code {
                14 => {
                    assert_eq!(&v[..3], &[0, 2, 1]);
                    let nhl = usize::from(v[3]);
                    assert_eq!(nhl, 16);
                    let mut nh = [0u8; 16];
                    nh.copy_from_slice(&v[4..20]);
                    p.mp_reach_nh = Some(Ipv6Addr::from(nh));
                    p.mp_reach = parse_prefixes(&v[21..], true);
                }
                15 => {
                    assert_eq!(&v[..3], &[0, 2, 1]);
                    p.has_mp_unreach = true;
                    p.mp_unreach = parse_prefixes(&v[3..], true);
                }
                _ => {}
            }
            p.attrs.push((code, v.to_vec()));
            a = &a[hl + vl..];
        }
        msgs.push(p);
        b = &b[len..];
    }
    msgs
}

fn ctx() -> SessionContext {
    SessionContext {
        local_as: 65001,
        ebgp: true,
        four_octet_as: true,
        max_message_size: 4096,
        ipv4_unicast: true,
        ipv6_unicast: true,
        next_hop_v4: Some(Ipv4Addr::new(10, 255, 0, 2)),
        next_hop_v6: Some("fd00:255::2".parse().expect("v6")),
    }
}

fn v4_hosts(n: u32, attrs: &Arc<RouteAttributes>) -> AdvertisementSet {
    let base = u32::from(Ipv4Addr::new(10, 200, 0, 0));
    (0..n)
        .map(|i| {
            let p = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base + i), 32).expect("net"));
            (p, Arc::clone(attrs))
        })
        .collect()
}

fn net(s: &str) -> IpNet {
    s.parse().expect("prefix")
}

fn take(rib: &mut RibOut) -> (Vec<Parsed>, UpdateBatch) {
    let mut out = Vec::new();
    let batch = rib.take_updates(&mut out);
    let msgs = parse_stream(&out);
    assert_eq!(msgs.len(), batch.messages);
    (msgs, batch)
}

#[test]
fn nothing_is_sent_while_the_session_is_down() {
    let mut rib = RibOut::new();
    rib.set_desired(Arc::new(v4_hosts(10, &Arc::default())));
    assert!(!rib.has_pending());
    let (msgs, _) = take(&mut rib);
    assert!(msgs.is_empty());
}

#[test]
fn initial_table_is_packed_up_to_4096_and_followed_by_end_of_rib() {
    let mut rib = RibOut::new();
    let attrs = Arc::new(RouteAttributes::default());
    rib.set_desired(Arc::new(v4_hosts(2000, &attrs)));
    rib.session_up(ctx());
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.announced, [2000, 0]);
    assert_eq!(batch.end_of_rib, [true, true]);
    let eor_v4 = &msgs[msgs.len() - 2];
    let eor_v6 = &msgs[msgs.len() - 1];
    assert!(eor_v4.is_eor_v4() && eor_v6.is_eor_v6());
    let data = &msgs[..msgs.len() - 2];
    // ORIGIN(4) + AS_PATH(9) + NEXT_HOP(7) = 20 octets of attributes; 23 + 20 = 43 of overhead;
    // (4096 - 43) / 5 = 810 /32s per message -> 810 + 810 + 380.
    assert_eq!(data.len(), 3);
    assert_eq!(data[0].nlri.len(), 810);
    assert!(data.iter().all(|m| m.len <= 4096));
    let all: Vec<IpNet> = data.iter().flat_map(|m| m.nlri.clone()).collect();
    let want: Vec<IpNet> = v4_hosts(2000, &attrs).iter().map(|(p, _)| *p).collect();
    assert_eq!(all, want);
    assert_eq!(rib.sent_count(), [2000, 0]);
    assert!(!rib.has_pending());
    let (again, _) = take(&mut rib);
    assert!(again.is_empty(), "no change -> no UPDATE");
}

#[test]
fn extended_messages_pack_up_to_65535() {
    let mut rib = RibOut::new();
    rib.set_desired(Arc::new(v4_hosts(20000, &Arc::default())));
    rib.session_up(SessionContext {
        max_message_size: 65535,
        ..ctx()
    });
    let (msgs, _) = take(&mut rib);
    let data: Vec<&Parsed> = msgs.iter().filter(|m| !m.nlri.is_empty()).collect();
    assert_eq!(data.len(), 2);
    assert!(data[0].len > 60000 && data[0].len <= 65535);
}

/// The UPDATEs of a new session's first table: 198.51.100.1/32 with `attrs`.
fn first_table(attrs: RouteAttributes) -> Vec<Parsed> {
    first_table_of("198.51.100.1/32", attrs)
}

/// The UPDATEs of a new session's first table: `prefix` with `attrs`.
fn first_table_of(prefix: &str, attrs: RouteAttributes) -> Vec<Parsed> {
    let mut rib = RibOut::new();
    let mut set = AdvertisementSet::new();
    set.insert(net(prefix), Arc::new(attrs));
    rib.set_desired(Arc::new(set));
    rib.session_up(ctx());
    take(&mut rib).0
}

#[test]
fn link_bandwidth_goes_out_as_an_optional_transitive_extended_communities_attribute() {
    let lb = LinkBandwidth::non_transitive(65001, 375_000.0);
    let m = &first_table(RouteAttributes {
        extended_communities: vec![lb.to_extended()],
        large_communities: vec![LargeCommunity::new(65001, 1, 2)],
        ..Default::default()
    })[0];
    assert_eq!(
        m.attr(16),
        Some(&[0x40, 0x04, 0xfd, 0xe9, 0x48, 0xb7, 0x1b, 0x00][..]),
        "non-transitive link bandwidth, AS 65001, 375000.0 bytes/s"
    );
    // The attribute itself is optional transitive (RFC 4360 §2), in ascending type order.
    assert_eq!(
        m.flags,
        vec![(1, 0x40), (2, 0x40), (3, 0x40), (16, 0xc0), (32, 0xc0)]
    );
    // IPv6: after MP_REACH_NLRI (14), still in ascending order.
    let v6 = first_table_of(
        "2001:db8::1/128",
        RouteAttributes {
            extended_communities: vec![lb.to_extended()],
            ..Default::default()
        },
    );
    let m = &v6[0];
    assert_eq!(m.mp_reach, vec![net("2001:db8::1/128")]);
    assert_eq!(m.flags, vec![(1, 0x40), (2, 0x40), (14, 0x80), (16, 0xc0)]);
    assert_eq!(m.attr(16), Some(&lb.to_extended().0[..]));
}

#[test]
fn attributes_for_ebgp_carry_the_local_as_and_no_local_pref() {
    let m = &first_table(RouteAttributes {
        med: Some(77),
        local_pref: Some(300),
        communities: vec![Community::new(65001, 100), Community::NO_EXPORT],
        large_communities: vec![LargeCommunity::new(65001, 1, 2)],
        ..Default::default()
    })[0];
    assert_eq!(m.nlri, vec![net("198.51.100.1/32")]);
    assert_eq!(m.attr(1), Some(&[0u8][..]), "ORIGIN IGP");
    assert_eq!(
        m.attr(2),
        Some(&[2u8, 1, 0, 0, 0xfd, 0xe9][..]),
        "AS_SEQUENCE 65001"
    );
    assert_eq!(
        m.attr(3),
        Some(&[10u8, 255, 0, 2][..]),
        "NEXT_HOP = local address"
    );
    assert_eq!(m.attr(4), Some(&77u32.to_be_bytes()[..]));
    assert_eq!(m.attr(5), None, "no LOCAL_PREF to an eBGP peer");
    assert_eq!(
        m.attr(8),
        Some(&[0xfd, 0xe9, 0, 100, 0xff, 0xff, 0xff, 0x01][..])
    );
    assert_eq!(
        m.attr(32),
        Some(&[0, 0, 0xfd, 0xe9, 0, 0, 0, 1, 0, 0, 0, 2][..])
    );
}

#[test]
fn ibgp_has_an_empty_as_path_and_local_pref() {
    let mut rib = RibOut::new();
    let mut set = AdvertisementSet::new();
    set.insert(
        net("198.51.100.1/32"),
        Arc::new(RouteAttributes {
            local_pref: Some(250),
            ..Default::default()
        }),
    );
    set.insert(net("198.51.100.2/32"), Arc::default());
    rib.set_desired(Arc::new(set));
    rib.session_up(SessionContext {
        ebgp: false,
        ..ctx()
    });
    let (msgs, _) = take(&mut rib);
    let with_lp: Vec<Option<&[u8]>> = msgs[..2].iter().map(|m| m.attr(5)).collect();
    assert!(with_lp.contains(&Some(&250u32.to_be_bytes()[..])));
    assert!(
        with_lp.contains(&Some(&100u32.to_be_bytes()[..])),
        "default 100"
    );
    assert!(msgs[..2].iter().all(|m| m.attr(2) == Some(&[][..])));
}

#[test]
fn four_octet_as_towards_a_two_octet_peer_uses_as_trans_and_as4_path() {
    let mut rib = RibOut::new();
    let mut set = AdvertisementSet::new();
    set.insert(net("198.51.100.0/24"), Arc::default());
    rib.set_desired(Arc::new(set));
    rib.session_up(SessionContext {
        local_as: 4_200_000_001,
        four_octet_as: false,
        ..ctx()
    });
    let (msgs, _) = take(&mut rib);
    let trans = (crate::wire::AS_TRANS as u16).to_be_bytes();
    assert_eq!(msgs[0].attr(2), Some(&[2u8, 1, trans[0], trans[1]][..]));
    let mut as4 = vec![2u8, 1];
    as4.extend_from_slice(&4_200_000_001u32.to_be_bytes());
    assert_eq!(msgs[0].attr(17), Some(as4.as_slice()));
}

#[test]
fn diff_sends_only_changes_and_packs_withdrawals() {
    let mut rib = RibOut::new();
    let a = Arc::new(RouteAttributes::default());
    let full = v4_hosts(1000, &a);
    rib.set_desired(Arc::new(full.clone()));
    rib.session_up(ctx());
    take(&mut rib);

    // Same content in a new Arc and with equal-but-distinct attribute Arcs: nothing to send.
    let copy: AdvertisementSet = full
        .iter()
        .map(|(p, _)| (*p, Arc::new(RouteAttributes::default())))
        .collect();
    rib.set_desired(Arc::new(copy));
    let (msgs, _) = take(&mut rib);
    assert!(msgs.is_empty());

    // Withdraw 699 (they fit one message: 699 x 5 octets), change the MED of one, keep the rest.
    let mut next = AdvertisementSet::new();
    let changed = Arc::new(RouteAttributes {
        med: Some(5),
        ..Default::default()
    });
    for (i, (p, _)) in full.iter().enumerate() {
        if i == 0 {
            next.insert(*p, Arc::clone(&changed));
        } else if i >= 700 {
            next.insert(*p, Arc::clone(&a));
        }
    }
    rib.set_desired(Arc::new(next));
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.withdrawn, [699, 0]);
    assert_eq!(batch.announced, [1, 0]);
    assert_eq!(batch.end_of_rib, [false, false]);
    assert_eq!(msgs.len(), 2, "one packed withdrawal + one announcement");
    assert_eq!(msgs[0].withdrawn.len(), 699);
    assert_eq!(msgs[1].nlri, vec![net("10.200.0.0/32")]);
    assert_eq!(msgs[1].attr(4), Some(&5u32.to_be_bytes()[..]));
    assert_eq!(rib.sent_count(), [301, 0]);

    // Everything withdrawn.
    rib.set_desired(Arc::new(AdvertisementSet::new()));
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.withdrawn, [301, 0]);
    assert_eq!(msgs.len(), 1);
    assert_eq!(rib.sent_count(), [0, 0]);
}

#[test]
fn ipv6_goes_in_mp_reach_and_mp_unreach() {
    let mut rib = RibOut::new();
    let mut set = AdvertisementSet::new();
    set.insert(net("2001:db8::1/128"), Arc::default());
    set.insert(net("2001:db8:1::/48"), Arc::default());
    set.insert(net("198.51.100.7/32"), Arc::default());
    rib.set_desired(Arc::new(set.clone()));
    rib.session_up(ctx());
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.announced, [1, 2]);
    let v6: Vec<&Parsed> = msgs.iter().filter(|m| !m.mp_reach.is_empty()).collect();
    assert_eq!(v6.len(), 1);
    assert_eq!(
        v6[0].mp_reach,
        vec![net("2001:db8::1/128"), net("2001:db8:1::/48")]
    );
    assert_eq!(v6[0].mp_reach_nh, Some("fd00:255::2".parse().expect("v6")));
    assert!(
        v6[0].nlri.is_empty() && v6[0].attr(3).is_none(),
        "no classic NEXT_HOP"
    );

    set.remove(&net("2001:db8:1::/48"));
    rib.set_desired(Arc::new(set));
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.withdrawn, [0, 1]);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].mp_unreach, vec![net("2001:db8:1::/48")]);
}

#[test]
fn explicit_next_hops_override_the_session_address() {
    let mut rib = RibOut::new();
    let attrs = Arc::new(RouteAttributes {
        next_hop_v4: Some(Ipv4Addr::new(10, 255, 9, 9)),
        next_hop_v6: Some("fd00:255::99".parse().expect("v6")),
        ..Default::default()
    });
    let mut set = AdvertisementSet::new();
    set.insert(net("198.51.100.1/32"), Arc::clone(&attrs));
    set.insert(net("2001:db8::1/128"), attrs);
    rib.set_desired(Arc::new(set));
    rib.session_up(ctx());
    let (msgs, _) = take(&mut rib);
    assert_eq!(msgs[0].attr(3), Some(&[10u8, 255, 9, 9][..]));
    assert_eq!(
        msgs[1].mp_reach_nh,
        Some("fd00:255::99".parse().expect("v6"))
    );
}

#[test]
fn families_not_negotiated_or_without_next_hop_are_unsendable() {
    let mut rib = RibOut::new();
    let mut set = AdvertisementSet::new();
    set.insert(net("198.51.100.1/32"), Arc::default());
    set.insert(net("2001:db8::1/128"), Arc::default());
    rib.set_desired(Arc::new(set));
    rib.session_up(SessionContext {
        ipv6_unicast: false,
        ..ctx()
    });
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.announced, [1, 0]);
    assert_eq!(batch.unsendable, [0, 1]);
    assert_eq!(
        batch.end_of_rib,
        [true, false],
        "EoR only for negotiated families"
    );
    assert_eq!(msgs.len(), 2);

    rib.session_up(SessionContext {
        next_hop_v6: None,
        ..ctx()
    });
    let (_, batch) = take(&mut rib);
    assert_eq!(batch.unsendable, [0, 1], "no IPv6 next hop known");
}

#[test]
fn route_refresh_resends_the_family_without_end_of_rib() {
    let mut rib = RibOut::new();
    let mut set = v4_hosts(100, &Arc::default());
    set.insert(net("2001:db8::1/128"), Arc::default());
    rib.set_desired(Arc::new(set));
    rib.session_up(ctx());
    take(&mut rib);
    rib.route_refresh(AddressFamily::Ipv4);
    assert!(rib.has_pending());
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.announced, [100, 0]);
    assert_eq!(batch.end_of_rib, [false, false]);
    assert_eq!(msgs.len(), 1);
    let (again, _) = take(&mut rib);
    assert!(again.is_empty());
}

#[test]
fn session_reset_sends_the_full_table_again() {
    let mut rib = RibOut::new();
    rib.set_desired(Arc::new(v4_hosts(10, &Arc::default())));
    rib.session_up(ctx());
    take(&mut rib);
    rib.session_down();
    assert_eq!(rib.sent_count(), [0, 0]);
    rib.session_up(ctx());
    let (_, batch) = take(&mut rib);
    assert_eq!(batch.announced, [10, 0]);
    assert_eq!(batch.end_of_rib, [true, true]);
}

#[test]
fn many_attribute_changes_do_not_grow_the_intern_table_forever() {
    let mut rib = RibOut::new();
    rib.session_up(ctx());
    for i in 0..500u32 {
        let attrs = Arc::new(RouteAttributes {
            med: Some(i),
            ..Default::default()
        });
        rib.set_desired(Arc::new(v4_hosts(4, &attrs)));
        take(&mut rib);
    }
    assert!(rib.interned.len() < 200, "{}", rib.interned.len());
}

#[test]
fn hundred_thousand_prefixes_build_fast() {
    let attrs = Arc::new(RouteAttributes::default());
    let set = Arc::new(v4_hosts(100_000, &attrs));
    let mut rib = RibOut::new();
    rib.set_desired(set);
    rib.session_up(ctx());
    let mut out = Vec::new();
    let t = Instant::now();
    let batch = rib.take_updates(&mut out);
    let took = t.elapsed();
    assert_eq!(batch.announced, [100_000, 0]);
    // 124 data messages + 2 EoR.
    assert_eq!(batch.messages, 100_000usize.div_ceil(810) + 2);
    println!(
        "100k /32s: {} bytes in {} messages in {took:?}",
        out.len(),
        batch.messages
    );
    let limit_ms = if cfg!(debug_assertions) { 2000 } else { 100 };
    assert!(took.as_millis() < limit_ms, "{took:?}");
}

#[test]
fn large_withdrawals_are_split_at_the_message_limit() {
    let mut rib = RibOut::new();
    rib.set_desired(Arc::new(v4_hosts(2000, &Arc::default())));
    rib.session_up(ctx());
    take(&mut rib);
    rib.set_desired(Arc::new(AdvertisementSet::new()));
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.withdrawn, [2000, 0]);
    // (4096 - 23) / 5 = 814 per message.
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].withdrawn.len(), 814);
    assert!(msgs.iter().all(|m| m.len <= 4096 && m.nlri.is_empty()));
    let total: usize = msgs.iter().map(|m| m.withdrawn.len()).sum();
    assert_eq!(total, 2000);
}

#[test]
fn every_message_decodes_with_the_wire_codec() {
    use crate::wire::{frame_len, DecodeContext, Message};
    let attrs = Arc::new(RouteAttributes {
        med: Some(10),
        communities: vec![Community::new(65001, 7)],
        large_communities: vec![LargeCommunity::new(65001, 1, 2)],
        ..Default::default()
    });
    let mut set = v4_hosts(3000, &attrs);
    for i in 0..3000u16 {
        let p = IpNet::V6(
            ipnet::Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1), 128).expect("v6"),
        );
        set.insert(p, Arc::clone(&attrs));
    }
    let mut rib = RibOut::new();
    rib.set_desired(Arc::new(set));
    rib.session_up(SessionContext {
        local_as: 4_200_000_001,
        four_octet_as: false,
        ..ctx()
    });
    let mut out = Vec::new();
    rib.take_updates(&mut out);
    rib.set_desired(Arc::new(AdvertisementSet::new()));
    rib.take_updates(&mut out);
    let dctx = DecodeContext::new(false, false);
    let mut rest = out.as_slice();
    let mut n = 0;
    while !rest.is_empty() {
        let len = frame_len(rest).expect("whole frame");
        match Message::decode(&rest[..len], &dctx) {
            Ok(Message::Update(u)) => {
                assert_eq!(u.verdict, crate::wire::UpdateVerdict::Ok, "message {n}");
            }
            other => panic!("message {n} does not decode as UPDATE: {other:?}"),
        }
        rest = &rest[len..];
        n += 1;
    }
    assert!(n > 10);
}

#[test]
fn attributes_too_long_for_one_message_are_withdrawn_not_sent_oversized() {
    // 1,100 communities = 4,400 octets: no 4096-octet UPDATE can carry them
    let huge = Arc::new(RouteAttributes {
        communities: (0..1100u32).map(|i| Community(65000 << 16 | i)).collect(),
        ..Default::default()
    });
    let small = Arc::new(RouteAttributes::default());
    let mut rib = RibOut::new();
    let mut set = v4_hosts(2, &small);
    set.insert(net("198.51.100.7/32"), Arc::clone(&small));
    rib.set_desired(Arc::new(set.clone()));
    rib.session_up(ctx());
    take(&mut rib);
    assert_eq!(rib.sent_count(), [3, 0]);

    // the peer has 198.51.100.7 with small attributes; the new version cannot be sent
    set.insert(net("198.51.100.7/32"), Arc::clone(&huge));
    rib.set_desired(Arc::new(set));
    let (msgs, batch) = take(&mut rib);
    assert!(msgs.iter().all(|m| m.len <= 4096), "no oversized message");
    assert_eq!(batch.unsendable, [1, 0]);
    assert_eq!(batch.announced, [0, 0]);
    let withdrawn: Vec<IpNet> = msgs.iter().flat_map(|m| m.withdrawn.clone()).collect();
    assert_eq!(
        withdrawn,
        [net("198.51.100.7/32")],
        "the old version is withdrawn"
    );
    assert_eq!(rib.sent_count(), [2, 0], "the others stay announced");

    // with RFC 8654 extended messages the same set fits
    rib.session_down();
    rib.session_up(SessionContext {
        max_message_size: 65535,
        ..ctx()
    });
    let (msgs, batch) = take(&mut rib);
    assert_eq!(batch.unsendable, [0, 0]);
    assert!(msgs.iter().any(|m| m.nlri == [net("198.51.100.7/32")]));
    assert_eq!(rib.sent_count(), [3, 0]);
}
