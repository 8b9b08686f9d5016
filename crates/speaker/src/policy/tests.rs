//! Table-driven tests of the announce policy.

use std::collections::BTreeMap;

use ferrolb_config::{parse_config, Community, Config, LargeCommunity};
use ferrolb_view::{
    endpoints_by_service, EndpointSliceView, EndpointView, NodeView, ServiceKey, ServiceView,
    TrafficPolicy,
};

use super::*;

const CONFIG: &str = r#"
peers:
- peer-address: 10.255.0.1
  peer-asn: 65000
  my-asn: 65001
- peer-address: 10.255.0.9
  peer-asn: 65001
  my-asn: 65001
  node-selectors:
  - match-labels:
      rack: a
- peer-address: 10.255.0.10
  peer-asn: 65000
  my-asn: 65001
  advertise-pod-cidr: true
  node-selectors:
  - match-expressions:
    - key: pods
      operator: In
      values: [announce]
bgp-communities:
  no-export: 65535:65281
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28, "2001:db8::/124"]
- name: l2
  protocol: layer2
  addresses: [198.51.100.64/28]
- name: agg
  protocol: bgp
  addresses: [198.51.100.128/26]
  bgp-advertisements:
  - aggregation-length: 32
    localpref: 200
    communities: [no-export, "64512:7", "large:65001:1:2"]
  - aggregation-length: 26
    communities: ["64512:26"]
"#;

fn config() -> Config {
    parse_config(CONFIG).expect("test config parses")
}

fn node(name: &str, labels: &[(&str, &str)]) -> NodeView {
    NodeView {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        excluded: labels
            .iter()
            .any(|(k, _)| *k == ferrolb_view::EXCLUDE_FROM_LB_LABEL),
        pod_cidrs: vec!["10.244.1.0/24".parse().unwrap()],
        ..NodeView::default()
    }
}

fn svc(name: &str, ip: &str, policy: TrafficPolicy) -> ServiceView {
    let mut s = ServiceView::load_balancer("web", name);
    s.external_traffic_policy = policy;
    if !ip.is_empty() {
        s.ingress_ips = ip.split(',').map(|i| i.parse().unwrap()).collect();
    }
    s
}

#[derive(Clone, Copy)]
enum Ep {
    Ready(&'static str),
    NotReady(&'static str),
    /// serving, terminating (a pod shutting down)
    Terminating(&'static str),
    /// serving, not ready, not terminating
    ServingOnly(&'static str),
}

fn endpoints(service: &str, eps: &[Ep]) -> BTreeMap<ServiceKey, Vec<EndpointView>> {
    let endpoints = eps
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (node, ready, serving, terminating) = match *e {
                Ep::Ready(n) => (n, true, true, false),
                Ep::NotReady(n) => (n, false, false, false),
                Ep::Terminating(n) => (n, false, true, true),
                Ep::ServingOnly(n) => (n, false, true, false),
            };
            EndpointView {
                addresses: vec![format!("10.244.9.{}", i + 1).parse().unwrap()],
                node_name: Some(node.into()),
                ready,
                serving,
                terminating,
            }
        })
        .collect();
    let slice = EndpointSliceView {
        namespace: "web".into(),
        name: format!("{service}-x"),
        service: Some(ServiceKey::new("web", service)),
        endpoints,
    };
    endpoints_by_service([&slice])
}

fn run(config: Option<&Config>, node: &NodeView, svc: &ServiceView, eps: &[Ep]) -> Desired {
    let endpoints = endpoints(&svc.name, eps);
    desired(
        PolicyInput {
            config,
            node,
            load_balancer_class: None,
            endpoints: &endpoints,
        },
        [svc],
    )
}

fn key(addr: &str) -> PeerKey {
    PeerKey {
        address: addr.parse().unwrap(),
        port: 179,
    }
}

fn net(p: &str) -> IpNet {
    p.parse().unwrap()
}

/// One row: a node, a Service, its endpoints -> the expected reason code for its first address
/// and the prefixes peer 10.255.0.1 gets for it.
struct Case {
    name: &'static str,
    node: NodeView,
    svc: ServiceView,
    eps: Vec<Ep>,
    reason: &'static str,
    prefixes: Vec<&'static str>,
}

#[test]
fn decision_table() {
    use TrafficPolicy::{Cluster, Local};
    let n1 = || node("n1", &[]);
    let cases = vec![
        Case {
            name: "cluster, ready endpoint on another node",
            node: n1(),
            svc: svc("a", "198.51.100.1", Cluster),
            eps: vec![Ep::Ready("n2")],
            reason: "announced",
            prefixes: vec!["198.51.100.1/32"],
        },
        Case {
            name: "cluster, no ready endpoint anywhere",
            node: n1(),
            svc: svc("a", "198.51.100.1", Cluster),
            eps: vec![Ep::NotReady("n1"), Ep::NotReady("n2")],
            reason: "no-ready-endpoints",
            prefixes: vec![],
        },
        Case {
            name: "cluster, no endpoints at all",
            node: n1(),
            svc: svc("a", "198.51.100.1", Cluster),
            eps: vec![],
            reason: "no-ready-endpoints",
            prefixes: vec![],
        },
        Case {
            name: "local, endpoints on other nodes only",
            node: n1(),
            svc: svc("a", "198.51.100.1", Local),
            eps: vec![Ep::Ready("n2"), Ep::Ready("n3")],
            reason: "no-local-endpoints",
            prefixes: vec![],
        },
        Case {
            name: "local, ready local endpoint",
            node: n1(),
            svc: svc("a", "198.51.100.1", Local),
            eps: vec![Ep::Ready("n2"), Ep::Ready("n1")],
            reason: "announced",
            prefixes: vec!["198.51.100.1/32"],
        },
        Case {
            name: "local, only local endpoint is terminating",
            node: n1(),
            svc: svc("a", "198.51.100.1", Local),
            eps: vec![Ep::Terminating("n1"), Ep::Ready("n2")],
            reason: "no-local-endpoints",
            prefixes: vec![],
        },
        Case {
            name: "local, serving (not ready, not terminating) local endpoint counts",
            node: n1(),
            svc: svc("a", "198.51.100.1", Local),
            eps: vec![Ep::ServingOnly("n1")],
            reason: "announced",
            prefixes: vec!["198.51.100.1/32"],
        },
        Case {
            name: "cluster, only terminating endpoints",
            node: n1(),
            svc: svc("a", "198.51.100.1", Cluster),
            eps: vec![Ep::Terminating("n1"), Ep::Terminating("n2")],
            reason: "no-ready-endpoints",
            prefixes: vec![],
        },
        Case {
            name: "excluded node announces nothing",
            node: node("n1", &[(ferrolb_view::EXCLUDE_FROM_LB_LABEL, "")]),
            svc: svc("a", "198.51.100.1", Cluster),
            eps: vec![Ep::Ready("n1")],
            reason: "node-excluded",
            prefixes: vec![],
        },
        Case {
            name: "layer2 pool: allocated, not announced",
            node: n1(),
            svc: svc("a", "198.51.100.65", Cluster),
            eps: vec![Ep::Ready("n1")],
            reason: "layer2-pool",
            prefixes: vec![],
        },
        Case {
            name: "address in no pool",
            node: n1(),
            svc: svc("a", "198.51.100.200", Cluster),
            eps: vec![Ep::Ready("n1")],
            reason: "no-pool",
            prefixes: vec![],
        },
        Case {
            name: "no address yet",
            node: n1(),
            svc: svc("a", "", Cluster),
            eps: vec![Ep::Ready("n1")],
            reason: "no-address",
            prefixes: vec![],
        },
        Case {
            name: "aggregation: host route and covering /26",
            node: n1(),
            svc: svc("a", "198.51.100.130", Cluster),
            eps: vec![Ep::Ready("n1")],
            reason: "announced",
            prefixes: vec!["198.51.100.128/26", "198.51.100.130/32"],
        },
        Case {
            name: "IPv6 address at full length",
            node: n1(),
            svc: svc("a", "2001:db8::5", Cluster),
            eps: vec![Ep::Ready("n1")],
            reason: "announced",
            prefixes: vec!["2001:db8::5/128"],
        },
    ];
    let config = config();
    for case in cases {
        let d = run(Some(&config), &case.node, &case.svc, &case.eps);
        let decision = d
            .decisions
            .first()
            .unwrap_or_else(|| panic!("{}: no decision", case.name));
        assert_eq!(
            decision.reason.code(),
            case.reason,
            "{}: {}",
            case.name,
            decision.reason
        );
        let plan = d
            .peer(&key("10.255.0.1"))
            .expect("peer 10.255.0.1 selects every node");
        let got: Vec<String> = plan.routes.keys().map(|p| p.to_string()).collect();
        assert_eq!(got, case.prefixes, "{}", case.name);
        assert_eq!(
            decision.prefixes.len(),
            case.prefixes.len(),
            "{}",
            case.name
        );
        // A decision that announces lists the peers; one that does not lists none.
        assert_eq!(
            decision.peers.is_empty(),
            case.prefixes.is_empty(),
            "{}",
            case.name
        );
    }
}

#[test]
fn peer_node_selectors_decide_sessions() {
    let config = config();
    let s = svc("a", "198.51.100.1", TrafficPolicy::Cluster);
    let plain = run(Some(&config), &node("n1", &[]), &s, &[Ep::Ready("n1")]);
    let keys: Vec<PeerKey> = plain.peers.iter().map(|p| p.key).collect();
    assert_eq!(keys, [key("10.255.0.1")]);
    assert_eq!(plain.skipped_peers.len(), 2);
    assert!(plain.skipped_peers[0].reason.contains("node-selectors"));

    let rack_a = run(
        Some(&config),
        &node("n1", &[("rack", "a")]),
        &s,
        &[Ep::Ready("n1")],
    );
    let keys: Vec<PeerKey> = rack_a.peers.iter().map(|p| p.key).collect();
    assert_eq!(keys, [key("10.255.0.1"), key("10.255.0.9")]);
    assert_eq!(rack_a.decisions[0].peers, keys);
}

/// One session per peer address on a node: a second entry for the address (here on another
/// port, as a Config built without `ferrolb config check` may have) is skipped with a reason,
/// never planned beside the first (the driver keys sessions by address; two plans flapped it).
#[test]
fn one_session_per_peer_address() {
    let mut config = config();
    let first = config.peers[0].clone();
    let mut other_port = first.clone();
    other_port.port = 1179;
    config.peers.push(other_port);
    // the same address written IPv4-mapped: the same peer for the driver
    let mut mapped = first.clone();
    mapped.address = "::ffff:10.255.0.1".parse().unwrap();
    mapped.peer_asn += 1;
    config.peers.push(mapped);
    let s = svc("a", "198.51.100.1", TrafficPolicy::Cluster);
    let d = run(Some(&config), &node("n1", &[]), &s, &[Ep::Ready("n1")]);
    let planned: Vec<String> = d.peers.iter().map(|p| p.key.to_string()).collect();
    assert_eq!(planned, ["10.255.0.1"]);
    let skipped = d
        .skipped_peers
        .iter()
        .find(|p| p.key.to_string() == "10.255.0.1:1179")
        .expect("the second entry is skipped");
    assert!(
        skipped.reason.contains("same address (10.255.0.1)"),
        "{}",
        skipped.reason
    );
    let same: Vec<String> = d
        .skipped_peers
        .iter()
        .filter(|p| p.reason.contains("same address"))
        .map(|p| p.key.to_string())
        .collect();
    assert_eq!(same, ["10.255.0.1:1179", "10.255.0.1"]);
}

#[test]
fn no_peer_selects_the_node() {
    let mut config = config();
    config.peers.retain(|p| !p.node_selectors.is_empty());
    let d = run(
        Some(&config),
        &node("n1", &[]),
        &svc("a", "198.51.100.1", TrafficPolicy::Cluster),
        &[Ep::Ready("n1")],
    );
    assert!(d.peers.is_empty());
    assert_eq!(d.decisions[0].reason, Reason::NoPeers);
}

#[test]
fn communities_large_communities_and_local_pref_only_for_ibgp() {
    let config = config();
    let d = run(
        Some(&config),
        &node("n1", &[("rack", "a")]),
        &svc("a", "198.51.100.130", TrafficPolicy::Cluster),
        &[Ep::Ready("n2")],
    );
    let ebgp = &d.peer(&key("10.255.0.1")).unwrap().routes;
    let ibgp = &d.peer(&key("10.255.0.9")).unwrap().routes;
    let host = net("198.51.100.130/32");
    let agg = net("198.51.100.128/26");
    let comms: Vec<Community> = ebgp[&host].communities.iter().copied().collect();
    assert_eq!(
        comms,
        [Community::new(64512, 7), Community::new(65535, 65281)]
    );
    let large: Vec<LargeCommunity> = ebgp[&host].large_communities.iter().copied().collect();
    assert_eq!(
        large,
        [LargeCommunity {
            global_admin: 65001,
            local_data1: 1,
            local_data2: 2
        }]
    );
    assert_eq!(
        ebgp[&host].local_pref, None,
        "LOCAL_PREF is never sent to eBGP peers"
    );
    assert_eq!(ibgp[&host].local_pref, Some(200));
    let agg_comms: Vec<Community> = ibgp[&agg].communities.iter().copied().collect();
    assert_eq!(agg_comms, [Community::new(64512, 26)]);
    assert_eq!(ibgp[&agg].local_pref, None);
}

#[test]
fn aggregation_merges_services_into_one_covering_prefix() {
    let config = config();
    let endpoints = {
        let mut m = endpoints("a", &[Ep::Ready("n1")]);
        m.extend(endpoints("b", &[Ep::Ready("n1")]));
        m
    };
    let a = svc("a", "198.51.100.130", TrafficPolicy::Cluster);
    let b = svc("b", "198.51.100.140", TrafficPolicy::Cluster);
    let d = desired(
        PolicyInput {
            config: Some(&config),
            node: &node("n1", &[]),
            load_balancer_class: None,
            endpoints: &endpoints,
        },
        [&a, &b],
    );
    let routes: Vec<String> = d.peers[0].routes.keys().map(|p| p.to_string()).collect();
    assert_eq!(
        routes,
        [
            "198.51.100.128/26",
            "198.51.100.130/32",
            "198.51.100.140/32"
        ]
    );
}

#[test]
fn pod_cidr_only_when_enabled() {
    let config = config();
    let s = svc("a", "198.51.100.1", TrafficPolicy::Cluster);
    let on = run(
        Some(&config),
        &node("n1", &[("pods", "announce")]),
        &s,
        &[Ep::Ready("n1")],
    );
    let pods = net("10.244.1.0/24");
    assert!(on
        .peer(&key("10.255.0.10"))
        .unwrap()
        .routes
        .contains_key(&pods));
    assert!(!on
        .peer(&key("10.255.0.1"))
        .unwrap()
        .routes
        .contains_key(&pods));
    assert_eq!(on.pod_cidrs, [pods]);

    let off = run(Some(&config), &node("n1", &[]), &s, &[Ep::Ready("n1")]);
    assert!(off.peers.iter().all(|p| !p.routes.contains_key(&pods)));
    assert!(off.pod_cidrs.is_empty());

    let excluded = run(
        Some(&config),
        &node(
            "n1",
            &[
                ("pods", "announce"),
                (ferrolb_view::EXCLUDE_FROM_LB_LABEL, "true"),
            ],
        ),
        &s,
        &[Ep::Ready("n1")],
    );
    assert!(excluded.peers.iter().all(|p| p.routes.is_empty()));
}

#[test]
fn without_config_nothing_is_announced() {
    let d = run(
        None,
        &node("n1", &[]),
        &svc("a", "198.51.100.1", TrafficPolicy::Cluster),
        &[Ep::Ready("n1")],
    );
    assert!(d.peers.is_empty());
    assert_eq!(d.decisions[0].reason, Reason::NoConfig);
}

#[test]
fn other_class_and_non_load_balancer_services() {
    let config = config();
    let mut other = svc("a", "198.51.100.1", TrafficPolicy::Cluster);
    other.load_balancer_class = Some("example.com/other".into());
    let d = run(Some(&config), &node("n1", &[]), &other, &[Ep::Ready("n1")]);
    assert_eq!(d.decisions[0].reason.code(), "other-class");
    assert!(d.peers[0].routes.is_empty());

    let mut cluster_ip = svc("a", "198.51.100.1", TrafficPolicy::Cluster);
    cluster_ip.is_load_balancer = false;
    let d = run(
        Some(&config),
        &node("n1", &[]),
        &cluster_ip,
        &[Ep::Ready("n1")],
    );
    assert_eq!(d.decisions[0].reason, Reason::NotLoadBalancer);
    assert!(d.peers[0].routes.is_empty());
}

#[test]
fn dual_stack_service_gets_both_prefixes() {
    let config = config();
    let d = run(
        Some(&config),
        &node("n1", &[]),
        &svc("a", "198.51.100.2,2001:db8::2", TrafficPolicy::Cluster),
        &[Ep::Ready("n1")],
    );
    let routes: Vec<String> = d.peers[0].routes.keys().map(|p| p.to_string()).collect();
    assert_eq!(routes, ["198.51.100.2/32", "2001:db8::2/128"]);
    assert!(d.decisions.iter().all(|x| x.reason.is_announced()));
    assert!(d.decisions[0].reason.to_string().contains("Cluster"));
}

#[test]
fn reasons_read_well() {
    let r = Reason::Layer2Pool { pool: "l2".into() };
    assert!(r.to_string().contains("layer2"));
    let r = Reason::NoLocalEndpoints { elsewhere: 2 };
    assert!(r.to_string().contains("2 on other nodes"));
}

/// An advertisement's `node-selectors` and `peers` (BGPAdvertisement `nodeSelectors` and
/// `peers`): only selected nodes announce, and only to the listed peers.
#[test]
fn advertisement_node_selectors_and_peers() {
    let config = parse_config(
        r#"
peers:
- {peer-address: 10.255.0.1, peer-asn: 65000, my-asn: 65001}
- {peer-address: 10.255.0.2, peer-asn: 65002, my-asn: 65001}
address-pools:
- name: edge
  protocol: bgp
  addresses: [198.51.100.0/28]
  bgp-advertisements:
  - node-selectors:
    - match-labels: {role: edge}
    peers: [10.255.0.2]
    communities: ["64512:1"]
  - aggregation-length: 28
    node-selectors:
    - match-labels: {zone: z1}
"#,
    )
    .expect("config parses");
    let service = svc("web", "198.51.100.3", TrafficPolicy::Cluster);
    let eps = [Ep::Ready("n1")];

    let edge = run(
        Some(&config),
        &node("n1", &[("role", "edge")]),
        &service,
        &eps,
    );
    assert!(edge.peer(&key("10.255.0.1")).unwrap().routes.is_empty());
    let routes = &edge.peer(&key("10.255.0.2")).unwrap().routes;
    assert_eq!(routes.keys().collect::<Vec<_>>(), [&net("198.51.100.3/32")]);
    assert_eq!(edge.decisions[0].peers, [key("10.255.0.2")]);

    let zone = run(
        Some(&config),
        &node("n2", &[("zone", "z1")]),
        &service,
        &eps,
    );
    for peer in ["10.255.0.1", "10.255.0.2"] {
        let routes = &zone.peer(&key(peer)).unwrap().routes;
        assert_eq!(
            routes.keys().collect::<Vec<_>>(),
            [&net("198.51.100.0/28")],
            "{peer}"
        );
    }

    let other = run(Some(&config), &node("n3", &[]), &service, &eps);
    assert_eq!(other.decisions[0].reason.code(), "no-advertisement");
    assert!(other.peers.iter().all(|p| p.routes.is_empty()));
    assert!(other.decisions[0]
        .reason
        .to_string()
        .contains("no BGP advertisement of pool \"edge\" selects this node"));
}
