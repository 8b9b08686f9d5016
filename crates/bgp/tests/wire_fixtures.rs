//! Messages captured from real FRR 8.4, BIRD 2 and GoBGP 3 sessions on this machine (see
//! tests/fixtures/capture.sh and extract.py): each decodes, and re-encodes byte-identical.

use ferrolb_bgp::wire::{
    AsPath, Capability, CapabilityCode, Community, DecodeContext, Family, LargeCommunity, Message,
    NextHop, Notification, Open, Origin, RouteRefreshSubtype, Update,
};
use ipnet::{IpNet, Ipv4Net};
use std::net::Ipv4Addr;
use std::path::PathBuf;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Parses a fixture: `#` comment lines (one may be `# context: four_octet_as=.. extended_message=..`)
/// and hex lines.
fn load(name: &str) -> (Vec<u8>, DecodeContext) {
    let text = std::fs::read_to_string(fixtures_dir().join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut ctx = DecodeContext::default();
    let mut hex = String::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix("# context:") {
            ctx.four_octet_as = c.contains("four_octet_as=true");
            ctx.extended_message = c.contains("extended_message=true");
        } else if !line.starts_with('#') {
            hex.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    (bytes, ctx)
}

fn all_fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".hex"))
        .collect();
    names.sort();
    names
}

fn decode(name: &str) -> Message {
    let (bytes, ctx) = load(name);
    Message::decode(&bytes, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_round_trips_byte_identical() {
    let names = all_fixtures();
    assert!(names.len() >= 20, "fixtures missing: {names:?}");
    for name in names {
        let (bytes, ctx) = load(&name);
        assert_eq!(
            ferrolb_bgp::wire::frame_len(&bytes),
            Some(bytes.len()),
            "{name}"
        );
        let msg = Message::decode(&bytes, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Message::Update(u) = &msg {
            assert_eq!(u.verdict, ferrolb_bgp::wire::UpdateVerdict::Ok, "{name}");
        }
        let again = msg.encode(&ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            hex(&again),
            hex(&bytes),
            "{name}: re-encoding differs\n{msg:#?}"
        );
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn update(name: &str) -> Update {
    match decode(name) {
        Message::Update(u) => u,
        m => panic!("{name}: not an UPDATE: {m:?}"),
    }
}

fn open(name: &str) -> Open {
    match decode(name) {
        Message::Open(o) => o,
        m => panic!("{name}: not an OPEN: {m:?}"),
    }
}

fn notification(name: &str) -> Notification {
    match decode(name) {
        Message::Notification(n) => n,
        m => panic!("{name}: not a NOTIFICATION: {m:?}"),
    }
}

#[test]
fn frr_open_capabilities() {
    let o = open("frr-open.hex");
    assert_eq!(
        (o.asn(), o.hold_time, o.bgp_identifier),
        (65000, 30, Ipv4Addr::new(10, 255, 71, 1))
    );
    assert_eq!(
        o.families(),
        vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    for cap in [
        Capability::RouteRefresh,
        Capability::RouteRefreshCisco,
        Capability::EnhancedRouteRefresh,
        Capability::ExtendedMessage,
    ] {
        assert!(o.capabilities.contains(&cap), "{cap:?}");
    }
    assert!(o.has(|c| matches!(c, Capability::GracefulRestart(g) if g.restart_time == 120)));
    assert!(o.has(|c| matches!(c, Capability::AddPath(_))));
    // FQDN (73) and LLGR (71) are kept raw.
    assert!(o.has(|c| c.code() == CapabilityCode::Fqdn));
    assert_eq!(
        o.layout.per_parameter.len(),
        o.capabilities.len(),
        "FRR: one parameter per capability"
    );
}

#[test]
fn bird_and_gobgp_opens() {
    let b = open("bird-open.hex");
    assert_eq!(b.asn(), 65001);
    assert!(b.capabilities.contains(&Capability::EnhancedRouteRefresh));
    assert_eq!(
        b.layout.per_parameter,
        vec![b.capabilities.len()],
        "BIRD: one parameter for all"
    );
    let g = open("gobgp-open.hex");
    assert_eq!(g.four_octet_as(), Some(65000));
    assert!(g.has(|c| c.code() == CapabilityCode::ExtendedNextHop));
}

#[test]
fn frr_ibgp_update_with_med_local_pref_and_communities() {
    let u = update("frr-update-4.hex");
    let a = &u.attributes;
    assert_eq!(u.nlri, vec!["198.51.100.0/24".parse::<Ipv4Net>().unwrap()]);
    assert_eq!(a.origin, Some(Origin::Igp));
    assert_eq!(a.as_path, Some(AsPath::empty()));
    assert_eq!((a.med, a.local_pref), (Some(50), Some(100)));
    assert_eq!(
        a.communities,
        vec![Community::new(65000, 100), Community::NO_EXPORT]
    );
    assert_eq!(a.large_communities, vec![LargeCommunity::new(65000, 1, 2)]);
}

#[test]
fn gobgp_update_with_local_pref_and_no_advertise() {
    let a = update("gobgp-update.hex").attributes;
    assert_eq!((a.med, a.local_pref), (Some(30), Some(300)));
    assert_eq!(
        a.communities,
        vec![Community::new(65000, 300), Community::NO_ADVERTISE]
    );
    assert_eq!(a.large_communities, vec![LargeCommunity::new(65000, 3, 4)]);
    let w = update("gobgp-update-3.hex");
    assert_eq!(
        w.withdrawn_prefixes(),
        vec!["198.51.100.64/26".parse::<IpNet>().unwrap()]
    );
}

#[test]
fn ipv6_mp_reach_with_link_local_next_hop() {
    let a = update("bird-update-3.hex").attributes;
    let mp = a.mp_reach.unwrap();
    assert_eq!(mp.family, Family::IPV6_UNICAST);
    let NextHop::V6 {
        global,
        link_local: Some(ll),
    } = mp.next_hop
    else {
        panic!("{:?}", mp.next_hop)
    };
    assert_eq!(
        global,
        "fd00:255:71::2".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert!(ll.segments()[0] == 0xfe80);
    assert_eq!(mp.nlri, vec!["2001:db8:200::/48".parse::<IpNet>().unwrap()]);
}

#[test]
fn end_of_rib_markers_from_frr() {
    assert_eq!(
        update("frr-update-eor-ipv4.hex").end_of_rib_family(),
        Some(Family::IPV4_UNICAST)
    );
    assert_eq!(
        update("frr-update-eor-ipv6.hex").end_of_rib_family(),
        Some(Family::IPV6_UNICAST)
    );
    assert_eq!(
        update("frr-update-9.hex").end_of_rib_family(),
        None,
        "a v6 withdrawal is no EoR"
    );
}

#[test]
fn shutdown_communications() {
    let n = notification("frr-notification.hex");
    assert_eq!(
        n.to_string(),
        "Cease/Administrative Shutdown \"fixture capture: FRR shutdown\""
    );
    let n = notification("bird-notification.hex");
    assert_eq!(
        n.shutdown_message().as_deref(),
        Some("fixture capture: BIRD shutdown")
    );
    assert_eq!(
        notification("frr-notification-2.hex").to_string(),
        "Hold Timer Expired/Unspecific"
    );
    assert_eq!(
        notification("gobgp-notification.hex").to_string(),
        "Cease/Administrative Shutdown"
    );
}

#[test]
fn enhanced_route_refresh_markers_from_bird() {
    let Message::RouteRefresh(b) = decode("bird-route-refresh-borr.hex") else {
        panic!()
    };
    assert_eq!(b.subtype, RouteRefreshSubtype::BeginningOfRefresh);
    let Message::RouteRefresh(e) = decode("bird-route-refresh-eorr.hex") else {
        panic!()
    };
    assert_eq!(e.subtype, RouteRefreshSubtype::EndOfRefresh);
}

/// Our own encoding of the attributes of a captured UPDATE (canonical order, no layout) decodes
/// to the same message: what we send is what FRR sent, modulo attribute order.
#[test]
fn canonical_re_encoding_decodes_equal() {
    for name in all_fixtures().into_iter().filter(|n| n.contains("update")) {
        let (_, ctx) = load(&name);
        let mut u = update(&name);
        u.attributes.layout = Default::default();
        let bytes = Message::Update(u.clone()).encode(&ctx).unwrap();
        assert_eq!(
            Message::decode(&bytes, &ctx).unwrap(),
            Message::Update(u),
            "{name}"
        );
    }
}
