//! Self-test of the interop harness with reference peers only (no FerroLB): FRR announces
//! prefixes to BIRD, GoBGP and ExaBGP, and each receiver's view is read through the same helpers
//! the FerroLB interop tests use. A failure here is a harness or environment problem.

use std::net::IpAddr;
use std::time::Duration;

use ferrolb_e2e::peers::{
    Bird, BirdConfig, BirdNeighbor, ExaBgp, ExaBgpConfig, Frr, FrrConfig, FrrNeighbor, GoBgp,
    GoBgpConfig, GoBgpNeighbor,
};
use ferrolb_e2e::{require_binary, require_root, veth, wait_until, Netns};

const FRR_AS: u32 = 65000;
const PEER_AS: u32 = 65001;

/// FRR in `router` announcing 198.51.100.10/32 (v4) and 2001:db8::10/128 (v6) to one neighbor.
fn frr_origin(router: &Netns, neighbor: IpAddr, v6_neighbor: Option<IpAddr>) -> Frr {
    let mut cfg = FrrConfig::new(FRR_AS, "10.255.0.1".parse().unwrap())
        .neighbor(FrrNeighbor::new(neighbor, PEER_AS));
    if let Some(v6) = v6_neighbor {
        cfg = cfg.neighbor(FrrNeighbor::new(v6, PEER_AS));
    }
    let frr = Frr::start(router, &cfg);
    frr.configure_bgp(&["address-family ipv4 unicast", "network 198.51.100.10/32"]);
    frr.configure_bgp(&["address-family ipv6 unicast", "network 2001:db8::10/128"]);
    frr
}

#[test]
fn harness_frr_to_bird() {
    if !require_root("harness_frr_to_bird") || !require_binary("bird") || !require_binary("vtysh") {
        return;
    }
    let router = Netns::new("hb-r");
    let node = Netns::new("hb-n");
    let link = veth(&router, &node, 0);
    let frr = frr_origin(&router, link.b_v4.into(), None);
    let mut cfg = BirdConfig::new(PEER_AS, link.b_v4);
    let mut n = BirdNeighbor::new("r1", link.a_v4.into(), FRR_AS);
    n.local_address = Some(link.b_v4.into());
    n.ipv6 = false;
    cfg.neighbors.push(n);
    let bird = Bird::start(&node, &cfg);
    frr.wait_established(link.b_v4.into(), Duration::from_secs(10));
    assert_eq!(bird.protocol_state("r1"), "Established");
    let routes = wait_until(Duration::from_secs(5), "BIRD has 198.51.100.10/32", || {
        // birdc exits 1 ("Network not found") until the route is there
        let r = bird
            .try_birdc(&["show", "route", "all", "198.51.100.10/32"])
            .ok()?;
        r.contains("198.51.100.10/32").then_some(r)
    });
    assert!(routes.contains("BGP.as_path: 65000"), "{routes}");
}

#[test]
fn harness_frr_to_gobgp() {
    if !require_root("harness_frr_to_gobgp")
        || !require_binary("gobgpd")
        || !require_binary("vtysh")
    {
        return;
    }
    let router = Netns::new("hg-r");
    let node = Netns::new("hg-n");
    let link = veth(&router, &node, 0);
    let frr = frr_origin(&router, link.b_v4.into(), None);
    let mut cfg = GoBgpConfig::new(PEER_AS, link.b_v4);
    let mut n = GoBgpNeighbor::new(link.a_v4.into(), FRR_AS);
    n.ipv6 = false;
    cfg.neighbors.push(n);
    let gobgp = GoBgp::start(&node, &cfg);
    frr.wait_established(link.b_v4.into(), Duration::from_secs(10));
    wait_until(Duration::from_secs(5), "gobgp established", || {
        gobgp.established(link.a_v4.into()).then_some(())
    });
    let adj = wait_until(
        Duration::from_secs(5),
        "gobgp adj-in has 198.51.100.10/32",
        || {
            let v = gobgp.adj_in(link.a_v4.into(), "ipv4");
            v.get("198.51.100.10/32").is_some().then_some(v)
        },
    );
    println!("{adj}");
}

#[test]
fn harness_frr_to_exabgp() {
    if !require_root("harness_frr_to_exabgp")
        || !require_binary("exabgp")
        || !require_binary("vtysh")
    {
        return;
    }
    let router = Netns::new("he-r");
    let node = Netns::new("he-n");
    let link = veth(&router, &node, 0);
    let frr = frr_origin(&router, link.b_v4.into(), None);
    frr.configure_bgp(&[
        "address-family ipv6 unicast",
        &format!("neighbor {} activate", link.b_v4),
    ]);
    let exa = ExaBgp::start(
        &node,
        &ExaBgpConfig {
            router_id: link.b_v4,
            local_address: link.b_v4.into(),
            local_as: PEER_AS,
            peer: link.a_v4.into(),
            peer_as: FRR_AS,
            password: None,
            passive: true,
            hold_time: 90,
        },
    );
    frr.wait_established(link.b_v4.into(), Duration::from_secs(10));
    wait_until(
        Duration::from_secs(5),
        "exabgp reports the session up",
        || exa.session_up().then_some(()),
    );
    let routes = wait_until(Duration::from_secs(5), "exabgp received v4 and v6", || {
        let a = exa.announced();
        (a.iter().any(|r| r.1 == "198.51.100.10/32") && a.iter().any(|r| r.1 == "2001:db8::10/128"))
            .then_some(a)
    });
    println!("{routes:?}");
}
