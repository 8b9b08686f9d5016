//! Property tests: encode/decode round trips of generated messages, packing, and decoding of
//! arbitrary bytes never panics.

use ferrolb_bgp::wire::*;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn v4net() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0u8..=32).prop_map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
}

fn v6net() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
}

fn segment(
    kinds: Vec<SegmentKind>,
    asn: impl Strategy<Value = u32> + Clone,
) -> impl Strategy<Value = AsSegment> {
    (
        proptest::sample::select(kinds),
        proptest::collection::vec(asn, 1..10),
    )
        .prop_map(|(kind, asns)| AsSegment { kind, asns })
}

/// AS paths with confederation segments only at the front (as they appear in practice).
fn as_path(asn: impl Strategy<Value = u32> + Clone + 'static) -> impl Strategy<Value = AsPath> {
    (
        proptest::collection::vec(
            segment(
                vec![SegmentKind::ConfedSequence, SegmentKind::ConfedSet],
                asn.clone(),
            ),
            0..2,
        ),
        proptest::collection::vec(
            segment(vec![SegmentKind::Sequence, SegmentKind::Set], asn),
            0..4,
        ),
    )
        .prop_map(|(mut c, s)| {
            c.extend(s);
            AsPath { segments: c }
        })
}

fn next_hop_v6() -> impl Strategy<Value = NextHop> {
    // Host addresses only (not :: or ff00::/8): other next hops make the UPDATE
    // treat-as-withdraw (RFC 4271 §6.3).
    (1u128..0xff << 120, proptest::option::of(any::<u128>())).prop_map(|(g, l)| NextHop::V6 {
        global: Ipv6Addr::from(g),
        link_local: l.map(Ipv6Addr::from),
    })
}

fn raw_attribute() -> impl Strategy<Value = RawAttribute> {
    // Unknown optional attributes, with any other flag bits (partial, extended length, low bits).
    (
        0u8..0x80,
        100u8..=250,
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(f, t, value)| RawAttribute {
            flags: 0x80 | f,
            type_code: t,
            value,
        })
}

prop_compose! {
    fn attributes(asn_max: u32)(
        origin in proptest::sample::select(vec![Origin::Igp, Origin::Egp, Origin::Incomplete]),
        as_path in as_path(1..=asn_max),
        // 1.0.0.0 - 223.255.255.255: valid host next hops (RFC 4271 §6.3).
        next_hop in 0x0100_0000u32..0xe000_0000,
        med in proptest::option::of(any::<u32>()),
        local_pref in proptest::option::of(any::<u32>()),
        atomic_aggregate in any::<bool>(),
        aggregator in proptest::option::of((1..=asn_max, any::<u32>())),
        communities in proptest::collection::vec(any::<u32>(), 0..20),
        extended in proptest::collection::vec(any::<[u8; 8]>(), 0..8),
        large in proptest::collection::vec(any::<(u32, u32, u32)>(), 0..8),
        mp_reach in proptest::option::of((next_hop_v6(), proptest::collection::vec(v6net(), 0..30))),
        mp_unreach in proptest::option::of(proptest::collection::vec(v6net(), 0..30)),
        mut other in proptest::collection::vec(raw_attribute(), 0..3),
    ) -> PathAttributes {
        other.sort_by_key(|a| a.type_code);
        other.dedup_by_key(|a| a.type_code);
        PathAttributes {
            origin: Some(origin),
            as_path: Some(as_path),
            next_hop: Some(Ipv4Addr::from(next_hop)),
            med,
            local_pref,
            atomic_aggregate,
            aggregator: aggregator.map(|(asn, a)| Aggregator { asn, address: Ipv4Addr::from(a) }),
            communities: communities.into_iter().map(Community).collect(),
            extended_communities: extended.into_iter().map(ExtendedCommunity).collect(),
            large_communities: large.into_iter().map(|(a, b, c)| LargeCommunity::new(a, b, c)).collect(),
            mp_reach: mp_reach.map(|(next_hop, nlri)| MpReach {
                family: Family::IPV6_UNICAST,
                next_hop,
                nlri: nlri.into_iter().map(IpNet::V6).collect(),
            }),
            mp_unreach: mp_unreach.map(|w| MpUnreach { family: Family::IPV6_UNICAST, withdrawn: w.into_iter().map(IpNet::V6).collect() }),
            other,
            layout: Default::default(),
        }
    }
}

prop_compose! {
    fn update(asn_max: u32)(
        withdrawn in proptest::collection::vec(v4net(), 0..50),
        attributes in attributes(asn_max),
        nlri in proptest::collection::vec(v4net(), 0..50),
    ) -> Update {
        Update { withdrawn, attributes, nlri, verdict: UpdateVerdict::Ok }
    }
}

fn capability() -> impl Strategy<Value = Capability> {
    let family = (1u16..=3, 1u8..=3).prop_map(|(a, s)| Family::new(Afi::from(a), Safi::from(s)));
    prop_oneof![
        family.clone().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::RouteRefreshCisco),
        Just(Capability::EnhancedRouteRefresh),
        Just(Capability::ExtendedMessage),
        any::<u32>().prop_map(Capability::FourOctetAs),
        (
            0u8..16,
            0u16..4096,
            proptest::collection::vec((family.clone(), any::<u8>()), 0..3)
        )
            .prop_map(
                |(flags, restart_time, families)| Capability::GracefulRestart(GracefulRestart {
                    flags,
                    restart_time,
                    families
                })
            ),
        proptest::collection::vec((family, 1u8..=3), 1..3).prop_map(|v| Capability::AddPath(
            v.into_iter()
                .map(|(family, send_receive)| AddPathFamily {
                    family,
                    send_receive
                })
                .collect()
        )),
        (150u8..=250, proptest::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn message(asn_max: u32) -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            proptest::collection::vec(capability(), 0..70)
        )
            .prop_map(|(asn, hold, id, caps)| Message::Open(Open::new(
                asn,
                hold,
                Ipv4Addr::from(id),
                caps
            ))),
        update(asn_max).prop_map(Message::Update),
        (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(code, subcode, data)| Message::Notification(Notification {
                code,
                subcode,
                data
            })),
        Just(Message::Keepalive),
        (1u16..=2, 0u8..=3, 1u8..=2).prop_map(|(a, st, s)| Message::RouteRefresh(RouteRefresh {
            family: Family::new(Afi::from(a), Safi::from(s)),
            subtype: RouteRefreshSubtype::from(st),
        })),
    ]
}

/// With 2-octet ASes, an AGGREGATOR that is not AS_TRANS makes the receiver ignore AS4_PATH
/// (RFC 6793 §4.2.3), so such combinations do not survive the trip by design.
fn two_octet_lossless(m: &Message) -> bool {
    let Message::Update(u) = m else { return true };
    let a = &u.attributes;
    let path_4 = a.as_path.as_ref().is_some_and(|p| p.has_four_octet());
    let aggr_plain = a
        .aggregator
        .is_some_and(|g| g.asn <= 0xffff && g.asn != AS_TRANS);
    let path_has_trans = a
        .as_path
        .as_ref()
        .is_some_and(|p| p.segments.iter().any(|s| s.asns.contains(&AS_TRANS)));
    // Confederation segments are never in AS4_PATH: their 4-octet members cannot be carried.
    let confed_4 = a.as_path.as_ref().is_some_and(|p| {
        p.segments.iter().any(|s| {
            matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
                && s.asns.iter().any(|a| *a > 0xffff)
        })
    });
    !(path_has_trans || confed_4 || (path_4 && aggr_plain))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_four_octet(m in message(u32::MAX)) {
        let ctx = DecodeContext::new(true, false);
        let bytes = m.encode(&ctx).unwrap();
        prop_assert_eq!(frame_len(&bytes), Some(bytes.len()));
        let d = Message::decode(&bytes, &ctx).unwrap();
        prop_assert_eq!(&d, &m);
        prop_assert_eq!(d.encode(&ctx).unwrap(), bytes);
    }

    #[test]
    fn round_trip_two_octet_with_as4_path(m in message(u32::MAX).prop_filter("lossy by RFC 6793", two_octet_lossless)) {
        let ctx = DecodeContext::new(false, false);
        let bytes = m.encode(&ctx).unwrap();
        let d = Message::decode(&bytes, &ctx).unwrap();
        prop_assert_eq!(&d, &m);
        prop_assert_eq!(d.encode(&ctx).unwrap(), bytes);
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..4200)) {
        for ctx in [DecodeContext::new(false, false), DecodeContext::new(true, true)] {
            let _ = check_header(&data, &ctx);
            if let Some(n) = frame_len(&data) {
                let _ = Message::decode(&data[..n], &ctx);
            }
            let _ = Message::decode(&data, &ctx);
        }
    }

    #[test]
    fn decode_arbitrary_bodies_never_panics(t in 1u8..=6, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut frame = MARKER.to_vec();
        frame.extend_from_slice(&((body.len() + HEADER_LEN) as u16).to_be_bytes());
        frame.push(t);
        frame.extend_from_slice(&body);
        for ctx in [DecodeContext::new(false, false), DecodeContext::new(true, false)] {
            if let Ok(m) = Message::decode(&frame, &ctx) {
                // Whatever decodes also encodes.
                let _ = m.encode(&ctx);
            }
        }
    }

    #[test]
    fn decode_mutated_updates_never_panics(u in update(u32::MAX), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let ctx = DecodeContext::new(true, false);
        let mut bytes = Message::Update(u).encode(&ctx).unwrap();
        let i = pos.index(bytes.len() - 19) + 19;
        bytes[i] = byte;
        let _ = Message::decode(&bytes, &ctx);
    }

}

proptest! {
    /// Link Bandwidth: any extended community that decodes as one encodes back to the same
    /// octets (lossless, even a NaN bandwidth), and whatever is built decodes to itself.
    #[test]
    fn link_bandwidth_round_trip(bytes in any::<[u8; 8]>(), asn in any::<u32>(), bits in any::<u32>()) {
        let c = ExtendedCommunity(bytes);
        if let Some(lb) = LinkBandwidth::from_extended(&c) {
            prop_assert_eq!(lb.to_extended(), c);
            prop_assert!(!lb.to_string().is_empty());
        } else {
            prop_assert!(!(matches!(bytes[0], 0x00 | 0x40) && bytes[1] == 0x04));
        }
        let built = LinkBandwidth::non_transitive(asn, f32::from_bits(bits));
        let back = LinkBandwidth::from_extended(&built.to_extended());
        prop_assert_eq!(back, Some(built));
        prop_assert_eq!(built.bytes_per_second().to_bits(), bits);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn packing_keeps_every_prefix_and_the_size_limit(
        v4 in proptest::collection::vec(v4net(), 0..3000),
        v6 in proptest::collection::vec(v6net(), 0..1500),
        attrs in attributes(u32::MAX),
        extended in any::<bool>(),
    ) {
        let ctx = DecodeContext::new(true, extended);
        let v4: Vec<IpNet> = v4.into_iter().map(IpNet::V4).collect();
        let v6: Vec<IpNet> = v6.into_iter().map(IpNet::V6).collect();
        let mut attrs = attrs;
        attrs.other.clear(); // keep the attribute block small enough for one message
        let nh6 = NextHop::V6 { global: "fd00:255::2".parse().unwrap(), link_local: None };
        for (prefixes, nh) in [(&v4, NextHop::V4(Ipv4Addr::new(10, 255, 0, 2))), (&v6, nh6)] {
            let msgs = pack_announce(&attrs, nh, prefixes, &ctx).unwrap();
            let mut got = Vec::new();
            for m in &msgs {
                prop_assert!(m.len() <= ctx.max_message_len());
                let Message::Update(u) = Message::decode(m, &ctx).unwrap() else { unreachable!() };
                prop_assert_eq!(&u.verdict, &UpdateVerdict::Ok);
                got.extend(u.announced());
            }
            prop_assert_eq!(&got, prefixes);
        }
        let all: Vec<IpNet> = v4.iter().chain(&v6).copied().collect();
        let mut gone = Vec::new();
        for m in pack_withdraw(&all, &ctx).unwrap() {
            prop_assert!(m.len() <= ctx.max_message_len());
            let Message::Update(u) = Message::decode(&m, &ctx).unwrap() else { unreachable!() };
            gone.extend(u.withdrawn_prefixes());
        }
        prop_assert_eq!(gone, all);
    }
}
