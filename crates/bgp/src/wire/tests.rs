//! Unit tests for message-level decode/encode.

use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn ctx4() -> DecodeContext {
    DecodeContext::new(true, false)
}

fn sample_attrs() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![65001])),
        med: Some(10),
        communities: vec![Community::new(65001, 100), Community::NO_EXPORT],
        large_communities: vec![LargeCommunity::new(65001, 1, 2)],
        ..Default::default()
    }
}

#[test]
fn keepalive_round_trip() {
    let bytes = Message::Keepalive.encode(&ctx4()).unwrap();
    assert_eq!(bytes.len(), 19);
    assert_eq!(
        Message::decode(&bytes, &ctx4()).unwrap(),
        Message::Keepalive
    );
}

#[test]
fn update_round_trip() {
    let u = Update {
        withdrawn: vec!["10.9.0.0/16".parse().unwrap()],
        attributes: PathAttributes {
            next_hop: Some(Ipv4Addr::new(10, 255, 0, 2)),
            ..sample_attrs()
        },
        nlri: vec!["198.51.100.1/32".parse().unwrap()],
        verdict: UpdateVerdict::Ok,
    };
    let m = Message::Update(u);
    let bytes = m.encode(&ctx4()).unwrap();
    let d = Message::decode(&bytes, &ctx4()).unwrap();
    assert_eq!(d, m);
    assert_eq!(d.encode(&ctx4()).unwrap(), bytes);
}

#[test]
fn end_of_rib_markers() {
    let v4 = end_of_rib(Family::IPV4_UNICAST, &ctx4());
    assert_eq!(v4.len(), 23);
    let Message::Update(u) = Message::decode(&v4, &ctx4()).unwrap() else {
        panic!()
    };
    assert_eq!(u.end_of_rib_family(), Some(Family::IPV4_UNICAST));
    let v6 = end_of_rib(Family::IPV6_UNICAST, &ctx4());
    let Message::Update(u) = Message::decode(&v6, &ctx4()).unwrap() else {
        panic!()
    };
    assert_eq!(u.end_of_rib_family(), Some(Family::IPV6_UNICAST));
}

#[test]
fn pack_v4_fills_messages() {
    let prefixes: Vec<ipnet::IpNet> = (0..2000u32)
        .map(|i| {
            ipnet::IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap())
        })
        .collect();
    let msgs = pack_announce(
        &sample_attrs(),
        NextHop::V4(Ipv4Addr::new(10, 255, 0, 2)),
        &prefixes,
        &ctx4(),
    )
    .unwrap();
    assert!(
        msgs.len() >= 2 && msgs.len() <= 3,
        "{} messages",
        msgs.len()
    );
    let mut got = Vec::new();
    for m in &msgs {
        assert!(m.len() <= 4096);
        let Message::Update(u) = Message::decode(m, &ctx4()).unwrap() else {
            panic!()
        };
        assert_eq!(u.verdict, UpdateVerdict::Ok);
        assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(10, 255, 0, 2)));
        assert_eq!(u.attributes.communities, sample_attrs().communities);
        got.extend(u.announced());
    }
    assert_eq!(got, prefixes);
    // first message is full: adding one more /32 would exceed 4096
    assert!(msgs[0].len() + 5 > 4096);
}

#[test]
fn pack_v6_and_withdraw() {
    let prefixes: Vec<ipnet::IpNet> = (0..1000u128)
        .map(|i| {
            ipnet::IpNet::V6(
                ipnet::Ipv6Net::new(Ipv6Addr::from((0x2001_0db8u128 << 96) + i), 128).unwrap(),
            )
        })
        .collect();
    let nh = NextHop::V6 {
        global: "fd00:255::2".parse().unwrap(),
        link_local: Some("fe80::1".parse().unwrap()),
    };
    let msgs = pack_announce(&sample_attrs(), nh, &prefixes, &ctx4()).unwrap();
    let mut got = Vec::new();
    for m in &msgs {
        assert!(m.len() <= 4096);
        let Message::Update(u) = Message::decode(m, &ctx4()).unwrap() else {
            panic!()
        };
        assert_eq!(u.verdict, UpdateVerdict::Ok);
        assert_eq!(u.attributes.mp_reach.as_ref().unwrap().next_hop, nh);
        got.extend(u.announced());
    }
    assert_eq!(got, prefixes);
    let w = pack_withdraw(&prefixes, &ctx4()).unwrap();
    let mut gone = Vec::new();
    for m in &w {
        let Message::Update(u) = Message::decode(m, &ctx4()).unwrap() else {
            panic!()
        };
        gone.extend(u.withdrawn_prefixes());
    }
    assert_eq!(gone, prefixes);
    assert!(pack_announce(
        &sample_attrs(),
        nh,
        &["10.0.0.0/8".parse().unwrap()],
        &ctx4()
    )
    .is_err());
}

#[test]
fn two_octet_peer_gets_as4_path() {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![4_200_000_001, 65001])),
        next_hop: Some(Ipv4Addr::new(10, 255, 0, 2)),
        aggregator: Some(Aggregator {
            asn: 4_200_000_001,
            address: Ipv4Addr::new(1, 1, 1, 1),
        }),
        ..Default::default()
    };
    let u = Update {
        attributes: attrs,
        nlri: vec!["198.51.100.0/24".parse().unwrap()],
        ..Default::default()
    };
    let two = DecodeContext::new(false, false);
    let bytes = Message::Update(u.clone()).encode(&two).unwrap();
    let Message::Update(d) = Message::decode(&bytes, &two).unwrap() else {
        panic!()
    };
    assert_eq!(d, u);
    // AS_PATH on the wire holds AS_TRANS; the AS4_PATH attribute (17) is present.
    assert!(d.attributes.layout.0.iter().any(|(t, _)| *t == 17));
}

fn update_with_raw_attrs(attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = MARKER.to_vec();
    v.extend_from_slice(&[0, 0, 2, 0, 0]);
    v.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    v.extend_from_slice(attrs);
    v.extend_from_slice(nlri);
    let len = v.len() as u16;
    v[16..18].copy_from_slice(&len.to_be_bytes());
    v
}

const ORIGIN: [u8; 4] = [0x40, 1, 1, 0];
const AS_PATH: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 10, 255, 0, 2];
const NLRI: [u8; 4] = [24, 198, 51, 100];

fn decode_update(attrs: &[u8]) -> Result<Update, DecodeError> {
    match Message::decode(&update_with_raw_attrs(attrs, &NLRI), &ctx4())? {
        Message::Update(u) => Ok(u),
        m => panic!("{m:?}"),
    }
}

#[test]
fn missing_mandatory_is_treat_as_withdraw() {
    let u = decode_update(&[&ORIGIN[..], &AS_PATH].concat()).unwrap();
    assert!(
        matches!(u.verdict, UpdateVerdict::TreatAsWithdraw(_)),
        "{:?}",
        u.verdict
    );
    assert!(u.announced().is_empty());
    assert_eq!(
        u.withdrawn_prefixes(),
        vec!["198.51.100.0/24".parse::<ipnet::IpNet>().unwrap()]
    );
}

#[test]
fn bad_origin_is_treat_as_withdraw() {
    let u = decode_update(&[&[0x40, 1, 1, 7][..], &AS_PATH, &NEXT_HOP].concat()).unwrap();
    assert!(matches!(u.verdict, UpdateVerdict::TreatAsWithdraw(_)));
}

#[test]
fn bad_atomic_aggregate_is_discarded() {
    let u = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x40, 6, 1, 0]].concat()).unwrap();
    assert!(matches!(u.verdict, UpdateVerdict::AttributeDiscard(_)));
    assert!(!u.attributes.atomic_aggregate);
    assert_eq!(u.announced().len(), 1);
}

#[test]
fn duplicate_attribute_keeps_first() {
    let u = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x40, 1, 1, 2]].concat()).unwrap();
    assert_eq!(u.attributes.origin, Some(Origin::Igp));
    assert!(matches!(u.verdict, UpdateVerdict::AttributeDiscard(_)));
}

#[test]
fn duplicate_mp_is_reset() {
    let mp = [0x80, 15, 3, 0, 2, 1];
    let err = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &mp, &mp].concat()).unwrap_err();
    assert_eq!(
        (err.notification().code, err.notification().subcode),
        (3, 1)
    );
}

#[test]
fn malformed_mp_reach_is_reset() {
    let mp = [0x80, 14, 5, 0, 2, 1, 3, 0];
    let err = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &mp].concat()).unwrap_err();
    assert_eq!(
        (err.notification().code, err.notification().subcode),
        (3, 9)
    );
}

#[test]
fn unknown_well_known_is_reset_and_unknown_optional_kept() {
    let err =
        decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x40, 99, 1, 5]].concat()).unwrap_err();
    assert_eq!(
        (err.notification().code, err.notification().subcode),
        (3, 2)
    );
    let u = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0xe0, 99, 1, 5]].concat()).unwrap();
    assert_eq!(u.verdict, UpdateVerdict::Ok);
    assert_eq!(
        u.attributes.other,
        vec![RawAttribute {
            flags: 0xe0,
            type_code: 99,
            value: vec![5]
        }]
    );
}

#[test]
fn flags_error_on_well_known_is_treat_as_withdraw() {
    let u = decode_update(&[&[0xc0, 1, 1, 0][..], &AS_PATH, &NEXT_HOP].concat()).unwrap();
    assert!(matches!(u.verdict, UpdateVerdict::TreatAsWithdraw(_)));
}

#[test]
fn bad_nlri_is_reset() {
    let frame = update_with_raw_attrs(
        &[&ORIGIN[..], &AS_PATH, &NEXT_HOP].concat(),
        &[33, 1, 2, 3, 4, 5],
    );
    let err = Message::decode(&frame, &ctx4()).unwrap_err();
    assert_eq!(
        (err.notification().code, err.notification().subcode),
        (3, 10)
    );
}

#[test]
fn header_errors() {
    let mut k = Message::Keepalive.encode(&ctx4()).unwrap();
    k[18] = 9;
    let err = Message::decode(&k, &ctx4()).unwrap_err();
    assert_eq!(
        err.notification().clone(),
        Notification {
            code: 1,
            subcode: 3,
            data: vec![9]
        }
    );
    let mut k = Message::Keepalive.encode(&ctx4()).unwrap();
    k.push(0);
    k[17] = 20;
    let err = Message::decode(&k, &ctx4()).unwrap_err();
    assert_eq!(
        (err.notification().code, err.notification().subcode),
        (1, 2)
    );
}

#[test]
fn route_refresh_round_trip_and_bad_length() {
    let m = Message::RouteRefresh(RouteRefresh {
        family: Family::IPV6_UNICAST,
        subtype: RouteRefreshSubtype::EndOfRefresh,
    });
    let b = m.encode(&ctx4()).unwrap();
    assert_eq!(b.len(), 23);
    assert_eq!(Message::decode(&b, &ctx4()).unwrap(), m);
    let mut bad = b.clone();
    bad.push(0);
    bad[17] = 24;
    let err = Message::decode(&bad, &ctx4()).unwrap_err();
    assert_eq!(
        (err.notification().code, err.notification().subcode),
        (7, 1)
    );
}

#[test]
fn open_round_trip() {
    let o = Open::new(
        65001,
        90,
        Ipv4Addr::new(10, 255, 0, 2),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(65001),
            Capability::GracefulRestart(GracefulRestart::default()),
        ],
    );
    let m = Message::Open(o);
    let b = m.encode(&DecodeContext::default()).unwrap();
    assert_eq!(Message::decode(&b, &DecodeContext::default()).unwrap(), m);
}

/// RFC 7606 §4: an attribute whose length overruns the Total Path Attribute Length is
/// treat-as-withdraw; the NLRI is still found (it follows the attribute list).
#[test]
fn attribute_length_overrunning_the_list_is_treat_as_withdraw() {
    // COMMUNITIES claiming 8 octets with 4 left.
    let communities = [0xc0, 8, 8, 0xfd, 0xe9, 0, 100];
    let u = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &communities].concat())
        .expect("no session reset");
    let UpdateVerdict::TreatAsWithdraw(errors) = &u.verdict else {
        panic!("{:?}", u.verdict)
    };
    assert_eq!(
        errors[0].subcode,
        UpdateErrorSubcode::MalformedAttributeList
    );
    assert!(u.announced().is_empty());
    assert_eq!(
        u.withdrawn_prefixes(),
        vec!["198.51.100.0/24".parse::<ipnet::IpNet>().unwrap()]
    );
    // Two stray octets after the last attribute (fewer than a minimal attribute header).
    let u = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x40, 5]].concat())
        .expect("no session reset");
    assert!(matches!(u.verdict, UpdateVerdict::TreatAsWithdraw(_)));
    assert_eq!(u.withdrawn_prefixes().len(), 1);
}

/// RFC 4271 §6.3 / RFC 7606 §7.3: a NEXT_HOP that is not a valid host address makes the
/// UPDATE treat-as-withdraw (its routes are neither stored nor counted).
#[test]
fn invalid_next_hop_is_treat_as_withdraw() {
    for nh in [
        [0, 0, 0, 0],
        [0, 1, 2, 3],
        [224, 0, 0, 5],
        [255, 255, 255, 255],
    ] {
        let next_hop = [0x40, 3, 4, nh[0], nh[1], nh[2], nh[3]];
        let u = decode_update(&[&ORIGIN[..], &AS_PATH, &next_hop].concat()).unwrap();
        let UpdateVerdict::TreatAsWithdraw(errors) = &u.verdict else {
            panic!("{nh:?}: {:?}", u.verdict)
        };
        assert_eq!(
            errors[0].subcode,
            UpdateErrorSubcode::InvalidNextHopAttribute
        );
        assert!(u.announced().is_empty(), "{nh:?}");
    }
    let u = decode_update(&[&ORIGIN[..], &AS_PATH, &NEXT_HOP].concat()).unwrap();
    assert_eq!(u.verdict, UpdateVerdict::Ok);
}

/// An IPv6 MP_REACH_NLRI with next hop :: is treat-as-withdraw for its prefixes.
#[test]
fn unspecified_mp_next_hop_is_treat_as_withdraw() {
    let mut mp = vec![0x80, 14, 0, 0, 2, 1, 16];
    mp.extend_from_slice(&[0; 16]);
    mp.extend_from_slice(&[0, 32, 0x20, 0x01, 0x0d, 0xb8]);
    mp[2] = (mp.len() - 3) as u8;
    let attrs = [&ORIGIN[..], &AS_PATH, &mp].concat();
    let bytes = update_with_raw_attrs(&attrs, &[]);
    let Message::Update(u) = Message::decode(&bytes, &ctx4()).unwrap() else {
        panic!()
    };
    assert!(
        matches!(u.verdict, UpdateVerdict::TreatAsWithdraw(_)),
        "{:?}",
        u.verdict
    );
    assert_eq!(
        u.withdrawn_prefixes(),
        vec!["2001:db8::/32".parse::<ipnet::IpNet>().unwrap()]
    );
}
