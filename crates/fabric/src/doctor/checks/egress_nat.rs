//! (a) Pod-CIDR traffic leaving un-masqueraded toward a non-cluster destination with the
//! replies missing (case 1 of the issue: the upstream NAT gateway has no route back to the
//! pod CIDR).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{is_local_address, link_name, main_route_to};
use crate::doctor::{Finding, Inputs, Severity};
use crate::snapshot::{ConntrackEntry, Snapshot};

/// How many conntrack entries are quoted as evidence per finding.
const MAX_QUOTED: usize = 5;

fn awaiting_reply(e: &ConntrackEntry) -> bool {
    !e.seen_reply || e.tcp_state.as_deref() == Some("SYN_SENT")
}

/// Runs the check.
pub fn check(snap: &Snapshot, inputs: &Inputs) -> Vec<Finding> {
    let pods = &inputs.pod_cidrs;
    if pods.is_empty() || !snap.conntrack.available {
        return Vec::new();
    }
    let in_pods = |a: IpAddr| pods.iter().any(|p| p.contains(&a));
    let mut by_cidr: BTreeMap<IpNet, Vec<&ConntrackEntry>> = BTreeMap::new();
    for e in &snap.conntrack.entries {
        let Some(cidr) = pods.iter().find(|p| p.contains(&e.orig.src)) else {
            continue;
        };
        // The real peer is the reply's source (after any DNAT of a Service address).
        let peer = e.reply.src;
        let leaves_unmasqueraded = !e.src_nat && e.reply.dst == e.orig.src;
        if in_pods(peer) || is_local_address(snap, peer) || !leaves_unmasqueraded {
            continue;
        }
        if awaiting_reply(e) {
            by_cidr.entry(*cidr).or_default().push(e);
        }
    }
    let all_pods: Vec<String> = pods.iter().map(|p| p.to_string()).collect();
    by_cidr
        .into_iter()
        .map(|(cidr, entries)| finding(snap, cidr, &entries, &all_pods))
        .collect()
}

fn finding(
    snap: &Snapshot,
    cidr: IpNet,
    entries: &[&ConntrackEntry],
    all_pods: &[String],
) -> Finding {
    let mut evidence: Vec<String> = entries
        .iter()
        .take(MAX_QUOTED)
        .map(|e| format!("conntrack: {}", e.describe()))
        .collect();
    if entries.len() > MAX_QUOTED {
        evidence.push(format!(
            "... and {} more such entries",
            entries.len() - MAX_QUOTED
        ));
    }
    let first = entries[0];
    let (src, dst) = (first.orig.src, first.reply.src);
    let mut egress = None;
    let mut next_hop = None;
    if let Some(route) = main_route_to(snap, dst) {
        evidence.push(format!("route to {dst}: {}", route.describe(&snap.links)));
        if let Some(nh) = route.nexthops.first() {
            egress = nh.oif.map(|i| link_name(snap, i));
            next_hop = nh.gateway;
        }
    }
    let covering: Vec<String> = snap
        .nat
        .snat
        .iter()
        .filter(|r| r.covers(src, dst))
        .map(|r| r.describe())
        .collect();
    let mut severity = Severity::Error;
    if !snap.nat.available {
        evidence.push(format!("NAT rules not read ({})", snap.nat.source));
    } else if covering.is_empty() {
        evidence.push(format!(
            "no masquerade/SNAT rule in nftables covers {src} -> {dst} ({} NAT rules read)",
            snap.nat.snat.len()
        ));
    } else {
        severity = Severity::Warning;
        for c in covering {
            evidence.push(format!(
                "a rule covers it now (these entries predate it?): {c}"
            ));
        }
    }
    let family = if cidr.addr().is_ipv4() { "ip" } else { "ip6" };
    let oif = egress
        .as_ref()
        .map(|e| format!(" oifname \"{e}\""))
        .unwrap_or_default();
    let node_addr = egress.as_ref().and_then(|name| {
        let idx = snap.links.iter().find(|l| &l.name == name)?.index;
        snap.addresses
            .iter()
            .find(|a| a.index == idx && a.net.addr().is_ipv4() == cidr.addr().is_ipv4())
            .map(|a| a.net.addr())
    });
    let mut fix = vec![
        format!(
            "masquerade on the node: nft add table {family} ferrolb_nat && nft 'add chain {family} ferrolb_nat postrouting {{ type nat hook postrouting priority srcnat; }}' && nft 'add rule {family} ferrolb_nat postrouting {family} saddr {cidr} {family} daddr != {{ {} }}{oif} masquerade'",
            all_pods.join(", ")
        ),
        format!(
            "or announce the pod CIDR to the upstream router: FerroLB setting `advertise-pod-cidr: true` on the peer{}",
            match (next_hop, node_addr) {
                (Some(gw), Some(me)) => format!(
                    " (what it achieves, by hand on the router {gw}: ip route add {cidr} via {me})"
                ),
                (None, Some(me)) => format!(" (by hand on the router: ip route add {cidr} via {me})"),
                _ => String::new(),
            }
        ),
    ];
    fix.push(format!(
        "then flush the stale entries: conntrack -D -s {cidr}"
    ));
    Finding {
        code: "pod-egress-unmasqueraded",
        severity,
        summary: format!(
            "traffic from pod CIDR {cidr} leaves the node un-masqueraded toward {dst} and no replies come back ({} connection{})",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" }
        ),
        evidence,
        fix,
    }
}
