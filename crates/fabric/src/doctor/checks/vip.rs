//! (e) A VIP on a macvlan child that the host cannot reach (macvlan isolates the parent from
//! its children: case 4 of the issue), and (f) a LoadBalancer IP routed out of the node
//! instead of being delivered locally.

use super::{link, link_name};
use crate::doctor::{Finding, Inputs, Severity};
use crate::snapshot::{ForeignLink, Snapshot, VipLookup};

/// Runs the check for every VIP given.
pub fn check(snap: &Snapshot, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for vip in &inputs.vips {
        let Some(lookup) = snap.vip_lookups.iter().find(|l| l.vip == *vip) else {
            continue;
        };
        if lookup.kind == "local" || via_local_macvlan_shim(snap, lookup) {
            continue;
        }
        if let Some(f) = hairpin(snap, lookup) {
            out.push(f);
            continue;
        }
        if let Some(f) = routed_away(snap, lookup) {
            out.push(f);
        }
    }
    out
}

/// The VIP is reached through a macvlan child of this namespace (the shim of the fix): the
/// host reaches the container's VIP, which is served on this node.
fn via_local_macvlan_shim(snap: &Snapshot, lookup: &VipLookup) -> bool {
    lookup.gateway.is_none()
        && lookup
            .oif
            .and_then(|i| link(snap, i))
            .is_some_and(|l| l.kind.as_deref() == Some("macvlan"))
}

fn lookup_text(snap: &Snapshot, l: &VipLookup) -> String {
    let mut s = format!("ip route get {}: {}", l.vip, l.kind);
    if let Some(gw) = l.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(oif) = l.oif {
        s.push_str(&format!(" dev {}", link_name(snap, oif)));
    }
    if let Some(t) = l.table {
        if t != 254 {
            s.push_str(&format!(" table {t}"));
        }
    }
    s
}

fn hairpin(snap: &Snapshot, lookup: &VipLookup) -> Option<Finding> {
    if lookup.gateway.is_some() || lookup.kind != "unicast" {
        return None;
    }
    let oif = lookup.oif?;
    let out_link = link(snap, oif)?;
    let vip = lookup.vip;
    let child: Option<&ForeignLink> = snap.foreign_links.iter().find(|f| {
        f.parent == oif
            && f.kind.as_deref() == Some("macvlan")
            && f.addresses.iter().any(|a| a.addr() == vip)
    });
    let neighbour = snap
        .neighbours
        .iter()
        .find(|n| n.index == oif && n.addr == vip);
    let unresolved = neighbour.is_some_and(|n| n.is_unresolved());
    if child.is_none() && !unresolved {
        return None;
    }
    let parent = &out_link.name;
    let mut evidence = vec![lookup_text(snap, lookup)];
    match child {
        Some(c) => evidence.push(format!(
            "{vip} is on macvlan child {} (mode {}) of {parent} in the namespace with id {}",
            c.name,
            c.macvlan_mode.as_deref().unwrap_or("?"),
            c.nsid
        )),
        None => evidence.push(format!(
            "no local macvlan child of {parent} seen holding {vip}; if it lives on a macvlan child of {parent} (a container on macvlan), this is the hairpin problem"
        )),
    }
    if let Some(n) = neighbour {
        evidence.push(format!(
            "neighbour {vip} dev {parent} {}",
            n.state.to_uppercase()
        ));
    }
    let (shim_net, host_len) = if vip.is_ipv4() {
        ("<free address>/32", 32)
    } else {
        ("<free address>/128", 128)
    };
    let ipv = if vip.is_ipv4() { "" } else { "-6 " };
    Some(Finding {
        code: "vip-macvlan-hairpin",
        severity: if child.is_some() { Severity::Error } else { Severity::Warning },
        summary: format!(
            "the host cannot reach VIP {vip}: macvlan isolates {parent} from its macvlan children, so traffic from the host to a VIP on a child never arrives"
        ),
        evidence,
        fix: vec![format!(
            "add a macvlan shim on the host: ip link add flb-shim link {parent} type macvlan mode bridge && ip addr add {shim_net} dev flb-shim && ip link set flb-shim up && ip {ipv}route add {vip}/{host_len} dev flb-shim"
        )],
    })
}

fn routed_away(snap: &Snapshot, lookup: &VipLookup) -> Option<Finding> {
    let vip = lookup.vip;
    if lookup.kind.starts_with("error") {
        return Some(Finding {
            code: "vip-not-local",
            severity: Severity::Error,
            summary: format!("LoadBalancer IP {vip} has no route here: {}", lookup.kind),
            evidence: vec![lookup_text(snap, lookup)],
            fix: vec![format!("deliver it locally: ip route add local {vip} dev lo (or assign it: ip addr add {vip}/{} dev lo)", if vip.is_ipv4() { 32 } else { 128 })],
        });
    }
    // kube-proxy (iptables/nftables mode) matches the LoadBalancer IP as a destination and
    // DNATs it before routing: then the route does not matter.
    let host_match = snap
        .nat
        .daddr_matches
        .iter()
        .any(|n| n.prefix_len() == n.max_prefix_len() && n.addr() == vip);
    if host_match {
        return None;
    }
    let mut evidence = vec![lookup_text(snap, lookup)];
    if snap.nat.available {
        evidence.push(format!(
            "no nftables rule matches destination {vip} (no DNAT of it before routing)"
        ));
    } else {
        evidence.push(format!("NAT rules not read ({})", snap.nat.source));
    }
    let host_len = if vip.is_ipv4() { 32 } else { 128 };
    Some(Finding {
        code: "vip-routed-away",
        severity: Severity::Error,
        summary: format!(
            "LoadBalancer IP {vip} is routed out of the node{} instead of being delivered locally: packets for it that arrive here are sent away",
            describe_exit(snap, lookup)
        ),
        evidence,
        fix: vec![
            format!("deliver it locally: ip route add local {vip}/{host_len} dev lo (kube-proxy IPVS mode: ip addr add {vip}/{host_len} dev kube-ipvs0)"),
            "or, if this node should not serve it, stop announcing it from here (a Service with externalTrafficPolicy: Local is announced only from nodes with ready endpoints)".into(),
        ],
    })
}

fn describe_exit(snap: &Snapshot, lookup: &VipLookup) -> String {
    let mut s = String::from(" (");
    if let Some(gw) = lookup.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(oif) = lookup.oif {
        s.push_str(&format!(" dev {}", link_name(snap, oif)));
    }
    s.push(')');
    s.replace("( ", "(")
}
