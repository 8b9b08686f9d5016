//! `ferrolb announce` against BIRD 2, GoBGP 3 and ExaBGP 4 in network namespaces: the session
//! comes up and IPv4 and IPv6 routes (one IPv4 session carrying both families) arrive with the
//! right attributes, asserted through each peer's own CLI or received-update log.
//!
//! Topology per test: netns `router` (the peer, AS 65000, 10.255.0.1) joined by one veth pair to
//! netns `node` (ferrolb announce, AS 65001, 10.255.0.2 / fd00:255::2).

use std::time::Duration;

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::netns::Link;
use ferrolb_e2e::peers::{
    Bird, BirdConfig, BirdNeighbor, ExaBgp, ExaBgpConfig, GoBgp, GoBgpConfig, GoBgpNeighbor,
};
use ferrolb_e2e::{require_binary, require_root, veth, wait_until_opt, Netns};
use serde_json::Value;

const PEER_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
const UP: Duration = Duration::from_secs(10);

const V4: &str = "198.51.100.1/32";
const V6: &str = "2001:db8::1/128";

/// The announcer flags shared by every test: eBGP to 10.255.0.1, MED, communities, one v4 and
/// one v6 prefix.
fn announce_args(link: &Link) -> Vec<String> {
    [
        "--local-as",
        "65001",
        "--peer",
        &link.a_v4.to_string(),
        "--peer-as",
        "65000",
        "--med",
        "50",
        "--community",
        "65001:100",
        "--large-community",
        "65001:1:2",
        V4,
        V6,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Namespaces + link; None when skipped.
fn lab(test: &str, tag: &str, binary: &str) -> Option<(Netns, Netns, Link)> {
    if !require_root(test) || !require_binary(binary) {
        return None;
    }
    let router = Netns::new(&format!("{tag}r"));
    let node = Netns::new(&format!("{tag}n"));
    let link = veth(&router, &node, 0);
    Some((router, node, link))
}

/// BIRD in `router` with one protocol `flb` for the node (import all, export none).
fn start_bird(router: &Netns, link: &Link) -> Bird {
    let mut cfg = BirdConfig::new(PEER_AS, link.a_v4);
    let mut n = BirdNeighbor::new("flb", link.b_v4.into(), NODE_AS);
    n.local_address = Some(link.a_v4.into());
    cfg.neighbors.push(n);
    Bird::start(router, &cfg)
}

/// Polls `probe` while the announcer is alive; panics with `what`, `peer_view` and the
/// announcer's log on timeout.
fn wait_for<T>(
    ann: &mut Announcer,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
    peer_view: impl Fn() -> String,
) -> T {
    match wait_until_opt(UP, || {
        ann.assert_running();
        probe()
    }) {
        Some(v) => v,
        None => panic!(
            "timed out after {UP:?} waiting for: {what}\n--- peer:\n{}\n--- ferrolb:\n{}",
            peer_view(),
            ann.log()
        ),
    }
}

#[test]
fn bird_receives_v4_and_v6_with_attributes() {
    let Some((router, node, link)) = lab("bird_receives_v4_and_v6_with_attributes", "bird", "bird")
    else {
        return;
    };
    let bird = start_bird(&router, &link);
    let mut ann = Announcer::start(&node, &announce_args(&link));
    let view = || {
        bird.try_birdc(&["show", "protocols", "all", "flb"])
            .unwrap_or_default()
    };
    wait_for(
        &mut ann,
        "BIRD protocol flb Established",
        || (bird.protocol_state("flb") == "Established").then_some(()),
        view,
    );

    let v4 = wait_for(
        &mut ann,
        "BIRD has 198.51.100.1/32",
        || {
            bird.try_birdc(&["show", "route", "all", V4])
                .ok()
                .filter(|r| r.contains(V4))
        },
        view,
    );
    for want in [
        "BGP.origin: IGP",
        "BGP.as_path: 65001",
        "BGP.next_hop: 10.255.0.2",
        "BGP.med: 50",
        "BGP.community: (65001,100)",
        "BGP.large_community: (65001, 1, 2)",
    ] {
        assert!(v4.contains(want), "BIRD's route lacks `{want}`:\n{v4}");
    }
    let v6 = wait_for(
        &mut ann,
        "BIRD has 2001:db8::1/128",
        || {
            bird.try_birdc(&["show", "route", "all", V6])
                .ok()
                .filter(|r| r.contains(V6))
        },
        view,
    );
    for want in [
        "BGP.as_path: 65001",
        "BGP.next_hop: fd00:255::2",
        "BGP.med: 50",
        "BGP.community: (65001,100)",
    ] {
        assert!(v6.contains(want), "BIRD's v6 route lacks `{want}`:\n{v6}");
    }
    let protocols = bird.birdc(&["show", "protocols", "all", "flb"]);
    assert!(
        protocols.contains("1 imported"),
        "one route per family imported:\n{protocols}"
    );
}

/// The attribute of `type_code` in one gobgp adj-in path.
fn gobgp_attr(path: &Value, type_code: u64) -> Value {
    path["attrs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["type"] == type_code)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn gobgp_receives_v4_and_v6_with_attributes() {
    let Some((router, node, link)) = lab(
        "gobgp_receives_v4_and_v6_with_attributes",
        "gobgp",
        "gobgpd",
    ) else {
        return;
    };
    let mut cfg = GoBgpConfig::new(PEER_AS, link.a_v4);
    let mut n = GoBgpNeighbor::new(link.b_v4.into(), NODE_AS);
    n.passive = true;
    cfg.neighbors.push(n);
    let gobgp = GoBgp::start(&router, &cfg);
    let mut ann = Announcer::start(&node, &announce_args(&link));
    let nb = link.b_v4.into();
    let view = || {
        gobgp
            .try_gobgp(&["neighbor", &link.b_v4.to_string()])
            .unwrap_or_else(|e| e)
    };
    wait_for(
        &mut ann,
        "gobgp neighbor established",
        || gobgp.established(nb).then_some(()),
        view,
    );

    let v4 = wait_for(
        &mut ann,
        "gobgp adj-in has 198.51.100.1/32",
        || gobgp.adj_in(nb, "ipv4").get(V4).cloned(),
        view,
    );
    let path = &v4[0];
    assert_eq!(gobgp_attr(path, 1)["value"], 0, "ORIGIN IGP: {path}");
    assert_eq!(
        gobgp_attr(path, 2)["as_paths"][0]["asns"],
        serde_json::json!([65001]),
        "AS_PATH: {path}"
    );
    assert_eq!(
        gobgp_attr(path, 3)["nexthop"],
        "10.255.0.2",
        "NEXT_HOP: {path}"
    );
    assert_eq!(gobgp_attr(path, 4)["metric"], 50, "MED: {path}");
    assert_eq!(
        gobgp_attr(path, 8)["communities"],
        serde_json::json!([65001u64 << 16 | 100]),
        "COMMUNITIES: {path}"
    );
    assert_eq!(
        gobgp_attr(path, 32)["value"],
        serde_json::json!([{"ASN": 65001, "LocalData1": 1, "LocalData2": 2}]),
        "LARGE_COMMUNITY: {path}"
    );

    let v6 = wait_for(
        &mut ann,
        "gobgp adj-in has 2001:db8::1/128",
        || gobgp.adj_in(nb, "ipv6").get(V6).cloned(),
        view,
    );
    let path = &v6[0];
    let mp = gobgp_attr(path, 14).to_string();
    assert!(mp.contains("fd00:255::2"), "MP_REACH next hop: {path}");
    assert_eq!(gobgp_attr(path, 4)["metric"], 50, "MED: {path}");
    assert_eq!(
        gobgp_attr(path, 8)["communities"],
        serde_json::json!([65001u64 << 16 | 100]),
        "COMMUNITIES: {path}"
    );
}

#[test]
fn exabgp_receives_v4_and_v6_with_attributes() {
    let Some((router, node, link)) = lab(
        "exabgp_receives_v4_and_v6_with_attributes",
        "exabgp",
        "exabgp",
    ) else {
        return;
    };
    let exa = ExaBgp::start(
        &router,
        &ExaBgpConfig {
            router_id: link.a_v4,
            local_address: link.a_v4.into(),
            local_as: PEER_AS,
            peer: link.b_v4.into(),
            peer_as: NODE_AS,
            password: None,
            passive: true,
            hold_time: 90,
        },
    );
    let mut ann = Announcer::start(&node, &announce_args(&link));
    let view = || exa.dir().read("exabgp.log");
    wait_for(
        &mut ann,
        "ExaBGP reports the neighbor up",
        || exa.session_up().then_some(()),
        view,
    );
    let routes = wait_for(
        &mut ann,
        "ExaBGP received both prefixes",
        || {
            let a = exa.announced();
            (a.iter().any(|r| r.1 == V4) && a.iter().any(|r| r.1 == V6)).then_some(a)
        },
        view,
    );
    let (family, _, nh, attrs) = routes
        .iter()
        .find(|r| r.1 == V4)
        .cloned()
        .unwrap_or_default();
    assert_eq!(family, "ipv4 unicast");
    assert_eq!(nh, "10.255.0.2");
    assert_eq!(attrs["origin"], "igp", "{attrs}");
    assert_eq!(attrs["as-path"], serde_json::json!([65001]), "{attrs}");
    assert_eq!(attrs["med"], 50, "{attrs}");
    assert_eq!(
        attrs["community"],
        serde_json::json!([[65001, 100]]),
        "{attrs}"
    );
    assert_eq!(
        attrs["large-community"],
        serde_json::json!([[65001, 1, 2]]),
        "{attrs}"
    );
    let v6: Vec<_> = routes.iter().filter(|r| r.1 == V6).collect();
    assert!(v6.iter().all(|r| r.0 == "ipv6 unicast"), "{v6:?}");
    assert!(
        v6.iter().any(|r| r.2 == "fd00:255::2"),
        "global v6 next hop: {v6:?}"
    );
    let attrs = v6[0].3.clone();
    assert_eq!(attrs["med"], 50, "{attrs}");
    assert_eq!(
        attrs["community"],
        serde_json::json!([[65001, 100]]),
        "{attrs}"
    );
}

/// BIRD 2 keeps the Link Bandwidth extended community of `--link-bandwidth` (it has no
/// weighted ECMP: it shows the community and leaves it to filters).
#[test]
fn bird_keeps_the_link_bandwidth_extended_community() {
    let Some((router, node, link)) = lab(
        "bird_keeps_the_link_bandwidth_extended_community",
        "birdlb",
        "bird",
    ) else {
        return;
    };
    let bird = start_bird(&router, &link);
    let mut args = announce_args(&link);
    args.extend(["--link-bandwidth".to_string(), "300Mbit".to_string()]);
    let mut ann = Announcer::start(&node, &args);
    let view = || {
        bird.try_birdc(&["show", "protocols", "all", "flb"])
            .unwrap_or_default()
    };
    let v4 = wait_for(
        &mut ann,
        "BIRD has 198.51.100.1/32 with an extended community",
        || {
            bird.try_birdc(&["show", "route", "all", V4])
                .ok()
                .filter(|r| r.contains("BGP.ext_community"))
        },
        view,
    );
    println!("{v4}");
    // Type 0x4004 (unknown to BIRD), AS 65001, and 37,500,000 bytes/s as an IEEE float
    // (0x4c0f0d18) shown as the integer 1276054808.
    assert!(
        v4.contains("BGP.ext_community: (unknown 0x4004, 65001, 1276054808)"),
        "BIRD's route:\n{v4}"
    );
}
