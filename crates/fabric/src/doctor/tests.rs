//! The checks on hand-built snapshots (the e2e tests cover the gathering in namespaces).

use std::net::IpAddr;

use ipnet::IpNet;

use super::{diagnose, Inputs, Severity};
use crate::snapshot::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn link(index: u32, name: &str) -> Link {
    Link {
        index,
        name: name.into(),
        kind: Some("veth".into()),
        admin_up: true,
        lower_up: true,
        oper_state: "up".into(),
        parent: None,
        macvlan_mode: None,
    }
}

fn default_via(gw: &str, oif: u32, metric: u32) -> Route {
    Route {
        dst: net("0.0.0.0/0"),
        table: 254,
        kind: "unicast".into(),
        protocol: 3,
        scope: "universe".into(),
        metric: Some(metric),
        prefsrc: None,
        nexthops: vec![NextHop {
            gateway: Some(ip(gw)),
            oif: Some(oif),
            flags: vec![],
        }],
    }
}

/// A node with eth0 10.255.1.2/24 (index 2), eth1 10.255.2.2/24 (index 3), one default route via
/// 10.255.1.1 with a reachable neighbour, rp_filter off.
fn node() -> Snapshot {
    Snapshot {
        links: vec![link(2, "eth0"), link(3, "eth1")],
        addresses: vec![
            Address {
                index: 2,
                net: net("10.255.1.2/24"),
            },
            Address {
                index: 3,
                net: net("10.255.2.2/24"),
            },
        ],
        routes: vec![default_via("10.255.1.1", 2, 0)],
        neighbours: vec![Neighbour {
            index: 2,
            addr: ip("10.255.1.1"),
            state: "reachable".into(),
            lladdr: None,
        }],
        sysctls: Sysctls {
            ipv4_forward: Some(1),
            ipv6_forward: Some(0),
            ipv4_conf: ["all", "default", "eth0", "eth1"]
                .iter()
                .map(|n| InterfaceConf {
                    name: n.to_string(),
                    rp_filter: Some(0),
                    ..Default::default()
                })
                .collect(),
        },
        conntrack: Conntrack {
            source: "ctnetlink".into(),
            available: true,
            entries: vec![],
        },
        nat: NatRules {
            available: true,
            source: "test".into(),
            ..Default::default()
        },
        ..Snapshot::default()
    }
}

fn pod_syn(seen_reply: bool, reply_dst: &str) -> ConntrackEntry {
    ConntrackEntry {
        protocol: "tcp".into(),
        orig: CtTuple {
            src: ip("10.244.1.2"),
            dst: ip("10.255.9.2"),
            sport: Some(40000),
            dport: Some(443),
        },
        reply: CtTuple {
            src: ip("10.255.9.2"),
            dst: ip(reply_dst),
            sport: Some(443),
            dport: Some(40000),
        },
        seen_reply,
        src_nat: reply_dst != "10.244.1.2",
        dst_nat: false,
        tcp_state: Some(
            if seen_reply {
                "ESTABLISHED"
            } else {
                "SYN_SENT"
            }
            .into(),
        ),
    }
}

fn pods() -> Inputs {
    Inputs {
        pod_cidrs: vec![net("10.244.1.0/24")],
        vips: vec![],
    }
}

#[test]
fn clean_node_has_no_findings() {
    let r = diagnose(&node(), &pods());
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn unreplied_unmasqueraded_pod_egress_is_an_error_with_both_fixes() {
    let mut s = node();
    s.conntrack.entries = vec![pod_syn(false, "10.244.1.2")];
    let r = diagnose(&s, &pods());
    let f: Vec<_> = r.with_code("pod-egress-unmasqueraded").collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].summary.contains("10.244.1.0/24"));
    assert!(f[0].fix.iter().any(|x| x.contains("masquerade")));
    assert!(f[0]
        .fix
        .iter()
        .any(|x| x.contains("advertise-pod-cidr: true")));
    assert!(r.has_errors());
}

#[test]
fn replied_or_masqueraded_or_in_cluster_traffic_is_fine() {
    for entry in [pod_syn(true, "10.244.1.2"), pod_syn(false, "10.255.1.2")] {
        let mut s = node();
        s.conntrack.entries = vec![entry];
        assert!(diagnose(&s, &pods()).findings.is_empty());
    }
    let mut s = node();
    let mut e = pod_syn(false, "10.244.1.2");
    e.reply.src = ip("10.244.1.9");
    s.conntrack.entries = vec![e];
    assert!(
        diagnose(&s, &pods()).findings.is_empty(),
        "pod-to-pod is not egress"
    );
    // The node's own address on the pod bridge sending IGMP to a multicast group.
    let mut s = node();
    s.addresses.push(Address {
        index: 2,
        net: net("10.244.1.1/24"),
    });
    let mut igmp = pod_syn(false, "10.244.1.1");
    igmp.protocol = "2".into();
    igmp.orig.src = ip("10.244.1.1");
    igmp.orig.dst = ip("224.0.0.22");
    igmp.reply.src = ip("224.0.0.22");
    igmp.tcp_state = None;
    s.conntrack.entries = vec![igmp];
    assert!(
        diagnose(&s, &pods()).findings.is_empty(),
        "the node's own multicast is not pod egress"
    );
    let mut dhcp = pod_syn(false, "10.244.1.2");
    dhcp.protocol = "udp".into();
    dhcp.orig.dst = ip("255.255.255.255");
    dhcp.reply.src = ip("255.255.255.255");
    s.conntrack.entries = vec![dhcp];
    assert!(
        diagnose(&s, &pods()).findings.is_empty(),
        "a pod's broadcast is not egress"
    );
    // Without pod CIDRs the check does not run, and a note says so.
    let r = diagnose(&s, &Inputs::default());
    assert!(r.findings.is_empty());
    assert!(r.notes.iter().any(|n| n.contains("no pod CIDR given")));
}

/// `table ip nat` with one postrouting rule: `ip saddr 10.244.0.0/16 <extra> masquerade`.
fn nat_with_masquerade(extra: &str) -> crate::snapshot::NatRules {
    let json = format!(
        r#"{{"nftables": [
          {{"chain": {{"family": "ip", "table": "nat", "name": "post", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}}},
          {{"rule": {{"family": "ip", "table": "nat", "chain": "post", "handle": 4, "expr": [
            {{"match": {{"op": "==", "left": {{"payload": {{"protocol": "ip", "field": "saddr"}}}}, "right": {{"prefix": {{"addr": "10.244.0.0", "len": 16}}}}}}}},
            {extra}
            {{"masquerade": null}}]}}}}]}}"#
    );
    crate::nft::parse_ruleset(&serde_json::from_str(&json).unwrap())
}

#[test]
fn a_covering_rule_added_later_stays_an_error_and_says_the_entries_may_predate_it() {
    let mut s = node();
    s.conntrack.entries = vec![pod_syn(false, "10.244.1.2")];
    s.nat = nat_with_masquerade("");
    let r = diagnose(&s, &pods());
    let f: Vec<_> = r.with_code("pod-egress-unmasqueraded").collect();
    assert_eq!(f[0].severity, Severity::Error, "{f:#?}");
    assert!(
        f[0].evidence.iter().any(|e| e.contains("may predate it")),
        "{f:#?}"
    );
    assert!(f[0].fix[0].starts_with("flush the stale entries"), "{f:#?}");
    assert_eq!(r.egress_nat[0].coverage.name(), "covered");
    assert!(r.has_errors());
}

#[test]
fn a_rule_for_marked_packets_only_does_not_cover_pod_egress() {
    let mut s = node();
    s.conntrack.entries = vec![pod_syn(false, "10.244.1.2")];
    // kube-proxy's shape: `meta mark & 0x4000 == 0x4000 masquerade`.
    s.nat = nat_with_masquerade(
        r#"{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 16384]}, "right": 16384}},"#,
    );
    let r = diagnose(&s, &pods());
    let f: Vec<_> = r.with_code("pod-egress-unmasqueraded").collect();
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(r.egress_nat[0].coverage.name(), "not-covered", "{r:#?}");
    assert!(
        f[0].evidence
            .iter()
            .any(|e| e.starts_with("not applied:") && e.contains("0x4000")),
        "{f:#?}"
    );
    // A condition it cannot evaluate: unknown, still an error.
    s.nat = nat_with_masquerade(r#"{"xt": {"type": "match", "name": "conntrack"}},"#);
    let r = diagnose(&s, &pods());
    assert_eq!(r.egress_nat[0].coverage.name(), "unknown", "{r:#?}");
    assert!(r.has_errors());
}

#[test]
fn strict_rp_filter_on_the_backup_uplink() {
    let mut s = node();
    s.routes.push(default_via("10.255.2.1", 3, 20));
    s.routes[0].metric = Some(10);
    s.neighbours.push(Neighbour {
        index: 3,
        addr: ip("10.255.2.1"),
        state: "stale".into(),
        lladdr: None,
    });
    s.sysctls.ipv4_conf[0].rp_filter = Some(1);
    let r = diagnose(&s, &Inputs::default());
    let f: Vec<_> = r.with_code("rp-filter-asymmetric").collect();
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].summary.contains("eth1"));
    s.sysctls.ipv4_conf[0].rp_filter = Some(2);
    assert_eq!(
        diagnose(&s, &Inputs::default())
            .with_code("rp-filter-asymmetric")
            .count(),
        0
    );
}

#[test]
fn default_route_findings() {
    let mut s = node();
    s.routes.clear();
    assert_eq!(
        diagnose(&s, &Inputs::default())
            .with_code("no-default-route")
            .count(),
        1
    );
    let mut s = node();
    s.routes.push(default_via("10.255.2.1", 3, 0));
    assert_eq!(
        diagnose(&s, &Inputs::default())
            .with_code("default-routes-same-metric")
            .count(),
        1
    );
    let mut s = node();
    s.links[0].lower_up = false;
    let r = diagnose(&s, &Inputs::default());
    assert_eq!(r.with_code("default-route-link-down").count(), 1);
    let mut s = node();
    s.neighbours[0].state = "failed".into();
    let r = diagnose(&s, &Inputs::default());
    assert_eq!(
        r.with_code("default-gateway-unresolved")
            .next()
            .map(|f| f.severity),
        Some(Severity::Error)
    );
}

#[test]
fn ip_forward_off_with_pods() {
    let mut s = node();
    s.sysctls.ipv4_forward = Some(0);
    assert_eq!(diagnose(&s, &pods()).with_code("ip-forward-off").count(), 1);
    assert_eq!(
        diagnose(&s, &Inputs::default())
            .with_code("ip-forward-off")
            .count(),
        0
    );
}

#[test]
fn vip_routed_away_unless_local_or_dnatted() {
    let vip = ip("198.51.100.20");
    let inputs = Inputs {
        pod_cidrs: vec![],
        vips: vec![vip],
    };
    let mut s = node();
    s.vip_lookups.push(VipLookup {
        vip,
        kind: "unicast".into(),
        oif: Some(2),
        gateway: Some(ip("10.255.1.1")),
        table: Some(254),
    });
    assert_eq!(
        diagnose(&s, &inputs).with_code("vip-routed-away").count(),
        1
    );
    s.nat.daddr_matches.push(net("198.51.100.20/32"));
    assert_eq!(
        diagnose(&s, &inputs).findings.len(),
        0,
        "kube-proxy DNATs it before routing"
    );
    let mut s = node();
    s.vip_lookups.push(VipLookup {
        vip,
        kind: "local".into(),
        oif: Some(1),
        gateway: None,
        table: Some(255),
    });
    assert!(diagnose(&s, &inputs).findings.is_empty());
}

#[test]
fn vip_on_a_foreign_macvlan_child_is_a_hairpin() {
    let vip = ip("198.51.100.10");
    let inputs = Inputs {
        pod_cidrs: vec![],
        vips: vec![vip],
    };
    let mut s = node();
    s.vip_lookups.push(VipLookup {
        vip,
        kind: "unicast".into(),
        oif: Some(2),
        gateway: None,
        table: Some(254),
    });
    s.foreign_links.push(ForeignLink {
        nsid: 1,
        name: "mv0".into(),
        kind: Some("macvlan".into()),
        macvlan_mode: Some("bridge".into()),
        parent: 2,
        addresses: vec![net("198.51.100.10/24")],
    });
    let r = diagnose(&s, &inputs);
    let f: Vec<_> = r.with_code("vip-macvlan-hairpin").collect();
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].fix[0].contains("ip link add flb-shim link eth0 type macvlan mode bridge"));
    assert!(f[0].fix[0].contains("ip route add 198.51.100.10/32 dev flb-shim"));
    assert_eq!(r.with_code("vip-routed-away").count(), 0);
}

#[test]
fn strict_rp_filter_under_ecmp_across_interfaces() {
    let mut s = node();
    s.routes[0].nexthops.push(NextHop {
        gateway: Some(ip("10.255.2.1")),
        oif: Some(3),
        flags: vec![],
    });
    s.neighbours.push(Neighbour {
        index: 3,
        addr: ip("10.255.2.1"),
        state: "reachable".into(),
        lladdr: None,
    });
    s.sysctls.ipv4_conf[2].rp_filter = Some(1); // eth0 only
    let r = diagnose(&s, &Inputs::default());
    let f: Vec<_> = r.with_code("rp-filter-asymmetric").collect();
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(f[0].summary.contains("ECMP"), "{}", f[0].summary);
    assert!(f[0].summary.contains("eth0"));
}

#[test]
fn human_output_is_one_line_per_finding_with_indented_details() {
    let mut s = node();
    s.routes.clear();
    let text = diagnose(&s, &Inputs::default()).render_human();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap_or("")
            .starts_with("error   no-default-route: "),
        "{text}"
    );
    assert!(
        lines.next().unwrap_or("").starts_with("    evidence: "),
        "{text}"
    );
    assert!(text.contains("\n    fix: "), "{text}");
}
