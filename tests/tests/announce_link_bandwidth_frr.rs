//! `ferrolb announce --link-bandwidth` against FRR 8.4 (zebra + bgpd, `maximum-paths`): FRR
//! reads the Link Bandwidth extended community and installs weighted next hops.
//!
//! Topology: netns `router` (FRR, AS 65000) with one veth pair to each of two namespaces `a`
//! (10.255.0.2) and `b` (10.255.1.2), each running `ferrolb announce` (AS 65001) for the same
//! prefix from the LoadBalancer pool 198.51.100.0/24 with different rates.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::peers::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::route_weights::next_hop_weights;
use ferrolb_e2e::{require_binary, require_root, veth, wait_until_opt, Netns};

const FRR_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
const PREFIX: &str = "198.51.100.10/32";
/// Bound for both sessions to come up and the routes to reach the kernel.
const SETTLE: Duration = Duration::from_secs(15);

fn announce(ns: &Netns, router: IpAddr, rate: Option<&str>) -> Announcer {
    let mut args = vec![
        "--local-as".to_string(),
        NODE_AS.to_string(),
        "--peer".into(),
        router.to_string(),
        "--peer-as".into(),
        FRR_AS.to_string(),
    ];
    if let Some(rate) = rate {
        args.extend(["--link-bandwidth".to_string(), rate.to_string()]);
    }
    args.push(PREFIX.into());
    Announcer::start(ns, &args)
}

/// The extended-community strings FRR shows on each path of `PREFIX`, by next hop.
fn extended_communities(frr: &Frr) -> BTreeMap<String, String> {
    let Some(route) = frr.route("ipv4", PREFIX) else {
        return BTreeMap::new();
    };
    let paths = route["paths"].as_array().cloned().unwrap_or_default();
    paths
        .iter()
        .filter_map(|p| {
            let nh = p["nexthops"][0]["ip"].as_str()?.to_string();
            let ext = p["extendedCommunity"]["string"].as_str().unwrap_or("");
            Some((nh, ext.to_string()))
        })
        .collect()
}

/// Runs the scenario with `rates` for nodes a and b; returns FRR's extended communities per
/// next hop and the kernel weights per next hop once both paths are installed.
fn scenario(
    test: &str,
    rates: [Option<&str>; 2],
) -> Option<(BTreeMap<String, String>, BTreeMap<IpAddr, u32>)> {
    if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bgpd") {
        return None;
    }
    let router = Netns::new("lbwr");
    let a = Netns::new("lbwa");
    let b = Netns::new("lbwb");
    let la = veth(&router, &a, 0);
    let lb = veth(&router, &b, 1);
    let mut cfg = FrrConfig::new(FRR_AS, la.a_v4)
        .neighbor(FrrNeighbor::new(la.b_v4.into(), NODE_AS))
        .neighbor(FrrNeighbor::new(lb.b_v4.into(), NODE_AS));
    cfg.maximum_paths = Some(8);
    let frr = Frr::start(&router, &cfg);
    let mut ann_a = announce(&a, la.a_v4.into(), rates[0]);
    let mut ann_b = announce(&b, lb.a_v4.into(), rates[1]);
    let weights = wait_until_opt(SETTLE, || {
        ann_a.assert_running();
        ann_b.assert_running();
        next_hop_weights(router.name(), PREFIX).filter(|w| w.len() == 2)
    });
    let Some(weights) = weights else {
        panic!(
            "no two-path kernel route for {PREFIX} within {SETTLE:?}: {:?}\n--- FRR:\n{}\n--- a:\n{}\n--- b:\n{}",
            next_hop_weights(router.name(), PREFIX),
            frr.vtysh(&[&format!("show bgp ipv4 unicast {PREFIX}")]),
            ann_a.log(),
            ann_b.log()
        );
    };
    // zebra may install the route once per path as the second arrives: let it settle on the
    // weights of both paths' communities (bounded).
    let settled = wait_until_opt(Duration::from_secs(3), || {
        let now = next_hop_weights(router.name(), PREFIX)?;
        let ext = extended_communities(&frr);
        (ext.len() == 2 && now == weights).then_some((ext, now))
    });
    settled.or_else(|| {
        Some((
            extended_communities(&frr),
            next_hop_weights(router.name(), PREFIX)?,
        ))
    })
}

#[test]
fn frr_weights_next_hops_by_link_bandwidth() {
    let Some((ext, weights)) = scenario(
        "frr_weights_next_hops_by_link_bandwidth",
        [Some("300Mbit"), Some("12500000")],
    ) else {
        return;
    };
    println!("FRR extended communities: {ext:?}\nkernel weights: {weights:?}");
    // FRR shows the community as LB:AS:BYTES_PER_SECOND.
    assert!(
        ext.get("10.255.0.2")
            .is_some_and(|e| e.contains("LB:65001:37500000")),
        "{ext:?}"
    );
    assert!(
        ext.get("10.255.1.2")
            .is_some_and(|e| e.contains("LB:65001:12500000")),
        "{ext:?}"
    );
    let wa = weights[&"10.255.0.2".parse::<IpAddr>().unwrap()];
    let wb = weights[&"10.255.1.2".parse::<IpAddr>().unwrap()];
    // 300 Mbit/s : 100 Mbit/s; FRR scales weights to 1-100, so allow its rounding.
    assert!(wa.abs_diff(3 * wb) <= 3, "weights {wa}:{wb}, want 3:1");
}

#[test]
fn frr_without_link_bandwidth_installs_equal_weights() {
    let Some((ext, weights)) = scenario(
        "frr_without_link_bandwidth_installs_equal_weights",
        [None, None],
    ) else {
        return;
    };
    println!("FRR extended communities: {ext:?}\nkernel weights: {weights:?}");
    assert!(ext.values().all(|e| e.is_empty()), "{ext:?}");
    let w: Vec<u32> = weights.values().copied().collect();
    assert_eq!(w[0], w[1], "{weights:?}");
}
