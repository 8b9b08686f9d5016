//! `ferrolb speaker` BFD beyond single-hop IPv4, against FRR 8.4 with bfdd (`neighbor X bfd
//! profile flb`, 100 ms x 3 both sides, BGP hold time 9 s):
//!
//! - multi-hop (RFC 5883, UDP 4784): the peer has `ebgp-multihop: true` and sits behind a
//!   forwarding namespace;
//! - IPv6 single-hop (RFC 5881 over IPv6): an fd00:255:: link, an IPv6 peer and a 2001:db8::
//!   pool.
//!
//! Each: the BFD session Up in FRR (and multi-hop as such), the Service's route in the
//! router's kernel table, and a SIGSTOP of the node's speaker removes that route within the
//! detection time (300 ms) + 100 ms, read from `/proc` every 5 ms. The hold time is 9 s, so
//! only BFD explains a removal that fast.

use std::time::{Duration, Instant};

use ferrolb_apiserver::Store;
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::failure_detection::{frr_bfd_up, set_bfd_profile, Failure};
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::route_sampler::{proc_route_present, FirstAbsence};
use ferrolb_e2e::{speaker, veth, wait_until_opt, ChildGuard, Netns, ScratchDir};
use serde_json::{json, Value};

const INTERVAL_MS: u64 = 100;
/// Detection time (100 ms x 3) plus the issue's margin.
const LIMIT: Duration = Duration::from_millis(300 + 100);
const UP: Duration = Duration::from_secs(30);

/// The speaker's ConfigMap: one peer, the profile `fast` at 100 ms x 3, one pool.
fn config(peer: &str, multihop: bool, pool: &str) -> String {
    format!(
        r#"peers:
- peer-address: "{peer}"
  peer-asn: 65000
  my-asn: 65001
  hold-time: 9s
  router-id: 10.255.9.9
  ebgp-multihop: {multihop}
  bfd-profile: fast
bfd-profiles:
- name: fast
  receive-interval: {INTERVAL_MS}
  transmit-interval: {INTERVAL_MS}
  detect-multiplier: 3
address-pools:
- name: default
  protocol: bgp
  addresses: ["{pool}"]
"#
    )
}

/// The ConfigMap, a Service at `ip` with an endpoint on node1, and the Node.
fn seed(store: &Store, config: &str, ip: &str, node_ip: &str) {
    let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
    let endpoint = if ip.contains(':') {
        "fd00:244::9"
    } else {
        "10.244.9.1"
    };
    let objects = [
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"namespace": "ferrolb-system", "name": "config"},
               "data": {"config": config}}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"namespace": "web", "name": "front"},
               "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster",
                        "ports": [{"port": 80, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"namespace": "web", "name": "front-x",
                            "labels": {"kubernetes.io/service-name": "front"}},
               "addressType": family,
               "endpoints": [{"addresses": [endpoint], "nodeName": "node1",
                              "conditions": {"ready": true}}]}),
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1"}},
               "status": {"addresses": [{"type": "InternalIP", "address": node_ip}]}}),
    ];
    for o in objects {
        store.seed(o).expect("seed");
    }
}

/// FRR's view of the BFD peer `peer`.
fn frr_bfd_peer(frr: &Frr, peer: &str) -> Value {
    frr.try_vtysh(&["show bfd peers json"])
        .ok()
        .and_then(|o| serde_json::from_str::<Value>(&o).ok())
        .and_then(|v| {
            v.as_array()?
                .iter()
                .find(|p| p["peer"].as_str() == Some(peer))
                .cloned()
        })
        .unwrap_or_default()
}

/// Waits for BFD Up at 100 ms in FRR, BGP Established and `route` in the router's kernel;
/// then freezes the speaker and returns how long the route took to leave.
fn frozen_speaker_leaves(
    router: &Netns,
    node: &Netns,
    frr: &Frr,
    sp: &ChildGuard,
    peer: &str,
    route: &str,
    log: &dyn Fn() -> String,
) -> Duration {
    let up = wait_until_opt(UP, || {
        (frr_bfd_up(frr, peer, INTERVAL_MS)
            && frr.established(peer.parse().expect("peer address"))
            && proc_route_present(router, route))
        .then_some(())
    });
    assert!(
        up.is_some(),
        "not up: FRR bfd {}, route {}\n{}",
        frr_bfd_peer(frr, peer),
        proc_route_present(router, route),
        log()
    );
    let pids = [sp.pid() as i32];
    let watch = FirstAbsence::start(router, route, Duration::from_secs(15));
    let t0 = Instant::now();
    Failure::Freeze.start(node, &pids);
    let gone = watch.wait();
    Failure::Freeze.end(node, &pids);
    let took = gone.map(|g| g - t0);
    let took = took.unwrap_or_else(|| panic!("route stayed 15 s after SIGSTOP\n{}", log()));
    println!("speaker frozen -> {route} gone from the router's kernel: {took:?}");
    took
}

/// Multi-hop BFD (UDP 4784) to an `ebgp-multihop` peer two hops away, across a forwarding
/// namespace: Up, and a frozen speaker detected by the router within the target.
#[test]
fn speaker_bfd_multihop_across_a_router() {
    let test = "speaker_bfd_multihop_across_a_router";
    if !require_root_and(test, &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd"]) {
        return;
    }
    let dir = ScratchDir::new("speaker-bfd-multihop");
    let router = Netns::new("sbfdm-r");
    let fwd = Netns::new("sbfdm-f");
    let node = Netns::new("sbfdm-n");
    // node 10.255.1.2 -- 10.255.1.1 fwd 10.255.2.1 -- 10.255.2.2 router
    let to_node = veth(&fwd, &node, 1);
    let to_router = veth(&fwd, &router, 2);
    fwd.sysctl("net.ipv4.ip_forward", "1");
    node.run_ok(&[
        "ip",
        "route",
        "add",
        "10.255.2.0/24",
        "via",
        &to_node.a_v4.to_string(),
    ]);
    router.run_ok(&[
        "ip",
        "route",
        "add",
        "10.255.1.0/24",
        "via",
        &to_router.a_v4.to_string(),
    ]);
    let node_ip = to_node.b_v4.to_string();
    let router_ip = to_router.b_v4.to_string();
    let mut n = FrrNeighbor::new(to_node.b_v4.into(), 65001);
    n.ebgp_multihop = Some(2);
    n.extra.push(format!("update-source {router_ip}"));
    let mut cfg = FrrConfig::new(65000, to_router.b_v4).neighbor(n);
    cfg.bfdd = true;
    let frr = Frr::start(&router, &cfg);
    set_bfd_profile(&frr, INTERVAL_MS);
    frr.configure_bgp(&[&format!("neighbor {node_ip} bfd profile flb")]);
    let api = NsApi::start(&router);
    seed(
        &api.store,
        &config(&router_ip, true, "198.51.100.0/28"),
        "198.51.100.1",
        &node_ip,
    );
    let url = format!("http://{router_ip}:{}", api.port);
    let log_path = dir.join("node1.log");
    let sp = speaker::start_speaker(&node, &url, "node1", &[], &log_path);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let took = frozen_speaker_leaves(&router, &node, &frr, &sp, &node_ip, "198.51.100.1/32", &log);
    let view = frr_bfd_peer(&frr, &node_ip);
    println!("FRR's BFD peer: {view}");
    assert_eq!(view["multihop"], true, "{view}");
    assert!(took < LIMIT, "{took:?}\n{}", log());
}

/// IPv6 single-hop BFD: an IPv6 peer on an fd00:255:: link, a 2001:db8:: Service address:
/// Up, and a frozen speaker detected by the router within the target.
#[test]
fn speaker_bfd_ipv6_single_hop() {
    let test = "speaker_bfd_ipv6_single_hop";
    if !require_root_and(test, &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd"]) {
        return;
    }
    let dir = ScratchDir::new("speaker-bfd-v6");
    let router = Netns::new("sbfd6-r");
    let node = Netns::new("sbfd6-n");
    let link = veth(&router, &node, 1);
    let node_ip = link.b_v6.to_string();
    let router_ip = link.a_v6.to_string();
    let mut n = FrrNeighbor::new(link.b_v6.into(), 65001);
    n.ipv4 = false;
    n.ipv6 = true;
    let mut cfg = FrrConfig::new(65000, link.a_v4).neighbor(n);
    cfg.bfdd = true;
    let frr = Frr::start(&router, &cfg);
    set_bfd_profile(&frr, INTERVAL_MS);
    frr.configure_bgp(&[&format!("neighbor {node_ip} bfd profile flb")]);
    let api = NsApi::start(&router);
    seed(
        &api.store,
        &config(&router_ip, false, "2001:db8::/124"),
        "2001:db8::1",
        &node_ip,
    );
    // The API fixture listens on IPv4; the node reaches it over the link's IPv4 addresses.
    let url = format!("http://{}:{}", link.a_v4, api.port);
    let log_path = dir.join("node1.log");
    let sp = speaker::start_speaker(&node, &url, "node1", &[], &log_path);
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let took = frozen_speaker_leaves(&router, &node, &frr, &sp, &node_ip, "2001:db8::1/128", &log);
    let view = frr_bfd_peer(&frr, &node_ip);
    println!("FRR's BFD peer: {view}");
    assert_eq!(view["multihop"], false, "{view}");
    assert!(took < LIMIT, "{took:?}\n{}", log());
}
