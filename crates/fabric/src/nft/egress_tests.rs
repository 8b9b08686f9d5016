//! The walk over rule sets captured with `nft -j list ruleset` from namespaces where the
//! scripts next to them (testdata/) were applied with the real iptables-nft / nft.

use super::*;
use crate::nft::parse_ruleset;

fn rules(json: &str) -> NatRules {
    parse_ruleset(&serde_json::from_str(json).expect("captured JSON"))
}

fn pod_egress(oif: &str) -> Traffic {
    Traffic {
        src: "10.244.1.2".parse().unwrap(),
        dst: "10.255.2.2".parse().unwrap(),
        iif: Some("cni0".into()),
        oif: Some(oif.into()),
        dnat: false,
        local: vec!["10.255.1.2/24".parse().unwrap()],
    }
}

fn reasons(c: &Coverage) -> String {
    format!("{c:#?}")
}

#[test]
fn kube_proxy_iptables_mode_does_not_masquerade_unmarked_pod_egress() {
    let nat = rules(include_str!("testdata/kube-proxy-iptables.json"));
    let c = coverage(&nat, &pod_egress("eth0"));
    let Coverage::NotCovered { reasons, .. } = &c else {
        panic!("{c:#?}");
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("KUBE-POSTROUTING") && r.contains("0x4000")),
        "{}",
        self::reasons(&c)
    );
}

#[test]
fn kube_proxy_nftables_mode_does_not_masquerade_unmarked_pod_egress() {
    let nat = rules(include_str!("testdata/kube-proxy-nftables.json"));
    let c = coverage(&nat, &pod_egress("eth0"));
    let Coverage::NotCovered { reasons, .. } = &c else {
        panic!("{c:#?}");
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("masquerading") && r.contains("meta mark & 0x4000 == 0 return")),
        "{}",
        self::reasons(&c)
    );
}

#[test]
fn flannel_masquerades_pod_egress_and_not_pod_to_pod() {
    for file in [
        include_str!("testdata/flannel.json"),
        include_str!("testdata/kube-proxy-iptables-flannel.json"),
    ] {
        let nat = rules(file);
        let c = coverage(&nat, &pod_egress("eth0"));
        assert!(
            matches!(&c, Coverage::Covered { rules } if rules[0].contains("FLANNEL-POSTRTG")),
            "{c:#?}"
        );
        let mut to_pod = pod_egress("flannel.1");
        to_pod.dst = "10.244.2.5".parse().unwrap();
        assert!(
            matches!(coverage(&nat, &to_pod), Coverage::NotCovered { .. }),
            "pod to pod returns early"
        );
    }
}

#[test]
fn flannel_chain_without_its_jump_is_unreachable() {
    let mut nat = rules(include_str!("testdata/flannel.json"));
    for c in nat.chains.iter_mut().filter(|c| c.name == "POSTROUTING") {
        c.rules.clear();
    }
    let c = coverage(&nat, &pod_egress("eth0"));
    let Coverage::NotCovered { reasons, .. } = &c else {
        panic!("{c:#?}");
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("not reached from a nat postrouting hook")),
        "{c:#?}"
    );
}

#[test]
fn a_masquerade_on_another_interface_does_not_cover() {
    let nat = rules(include_str!("testdata/other-oifname.json"));
    let c = coverage(&nat, &pod_egress("eth0"));
    assert!(
        matches!(&c, Coverage::NotCovered { reasons, .. } if reasons[0].contains("oifname")),
        "{c:#?}"
    );
    assert!(matches!(
        coverage(&nat, &pod_egress("eth1")),
        Coverage::Covered { .. }
    ));
    let mut unknown_oif = pod_egress("eth0");
    unknown_oif.oif = None;
    assert!(
        matches!(coverage(&nat, &unknown_oif), Coverage::Unknown { .. }),
        "an interface the doctor cannot tell gives unknown, never covered"
    );
}

#[test]
fn conditions_it_cannot_evaluate_give_unknown() {
    // iptables' conntrack match (an xt match) before a masquerade.
    let json = r#"{"nftables": [
      {"chain": {"family": "ip", "table": "nat", "name": "POSTROUTING", "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
      {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "handle": 8, "expr": [
        {"xt": {"type": "match", "name": "conntrack"}}, {"xt": {"type": "target", "name": "MASQUERADE"}}]}},
      {"rule": {"family": "ip", "table": "nat", "chain": "POSTROUTING", "handle": 9, "expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@pods"}}, {"masquerade": null}]}}
    ]}"#;
    let c = coverage(&rules(json), &pod_egress("eth0"));
    let Coverage::Unknown { reasons } = &c else {
        panic!("{c:#?}");
    };
    assert!(reasons.iter().any(|r| r.contains("conntrack")), "{c:#?}");
}

#[test]
fn ct_state_fib_and_marks_are_evaluated() {
    let json = r#"{"nftables": [
      {"chain": {"family": "inet", "table": "t", "name": "post", "type": "nat", "hook": "postrouting", "prio": "srcnat", "policy": "accept"}},
      {"chain": {"family": "inet", "table": "t", "name": "masq"}},
      {"rule": {"family": "inet", "table": "t", "chain": "post", "expr": [
        {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}, {"return": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "post", "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "post", "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"accept": null}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "post", "expr": [
        {"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": 0}},
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "cni*"}},
        {"goto": {"target": "masq"}}]}},
      {"rule": {"family": "inet", "table": "t", "chain": "masq", "expr": [{"masquerade": null}]}}
    ]}"#;
    let nat = rules(json);
    assert!(matches!(
        coverage(&nat, &pod_egress("eth0")),
        Coverage::Covered { .. }
    ));
    let mut service = pod_egress("eth0");
    service.dnat = true;
    assert!(matches!(
        coverage(&nat, &service),
        Coverage::NotCovered { .. }
    ));
    let mut to_node = pod_egress("eth0");
    to_node.dst = "10.255.1.2".parse().unwrap();
    assert!(matches!(
        coverage(&nat, &to_node),
        Coverage::NotCovered { .. }
    ));
    let mut other_iif = pod_egress("eth0");
    other_iif.iif = Some("eth9".into());
    assert!(matches!(
        coverage(&nat, &other_iif),
        Coverage::NotCovered { .. }
    ));
}

#[test]
fn named_sets_are_looked_up() {
    let nat = rules(include_str!("testdata/named-set.json"));
    assert!(
        matches!(
            coverage(&nat, &pod_egress("eth0")),
            Coverage::Covered { .. }
        ),
        "pod -> outside: saddr in @pod-cidrs, daddr not in @no-masquerade"
    );
    let mut excluded = pod_egress("eth0");
    excluded.dst = "10.255.3.9".parse().unwrap();
    let c = coverage(&nat, &excluded);
    assert!(
        matches!(&c, Coverage::NotCovered { reasons, .. } if reasons[0].contains("@no-masquerade")),
        "{c:#?}"
    );
}
