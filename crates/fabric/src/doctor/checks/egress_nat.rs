//! (a) Pod-CIDR traffic leaving un-masqueraded toward a non-cluster destination with the
//! replies missing (case 1 of the issue: the upstream NAT gateway has no route back to the
//! pod CIDR). The conntrack entries are the proof; the NAT rule walk ([`egress`]) explains it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::{is_local_address, link_name, main_route_to};
use crate::doctor::{Finding, Inputs, Severity};
use crate::nft::egress::{self, Coverage, Traffic};
use crate::snapshot::{ConntrackEntry, Snapshot};

/// How many conntrack entries are quoted as evidence per finding.
const MAX_QUOTED: usize = 5;

fn awaiting_reply(e: &ConntrackEntry) -> bool {
    !e.seen_reply || e.tcp_state.as_deref() == Some("SYN_SENT")
}

/// Runs the check: a finding per pod CIDR with lost connections, and the NAT verdict behind it.
pub fn check(snap: &Snapshot, inputs: &Inputs) -> (Vec<Finding>, Vec<EgressVerdict>) {
    let pods = &inputs.pod_cidrs;
    if pods.is_empty() || !snap.conntrack.available {
        return (Vec::new(), Vec::new());
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
        // The node's own address on the pod bridge (cni0's 10.244.x.1) sends IGMP/mDNS to
        // multicast groups, pods send DHCP-style broadcasts: never answered, not pod egress.
        let broadcast = matches!(peer, IpAddr::V4(a) if a.is_broadcast());
        let not_egress = is_local_address(snap, e.orig.src) || peer.is_multicast() || broadcast;
        if in_pods(peer) || is_local_address(snap, peer) || not_egress || !leaves_unmasqueraded {
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
        .unzip()
}

/// What the doctor concluded about one pod CIDR's lost connections: the `egress_nat` entries
/// of `ferrolb doctor --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgressVerdict {
    /// The pod CIDR.
    pub cidr: IpNet,
    /// The first lost connection's source (a pod).
    pub src: IpAddr,
    /// Its destination (after any DNAT).
    pub dst: IpAddr,
    /// The interface it leaves through, when known.
    pub oif: Option<String>,
    /// Whether the nat postrouting hook covers it, and why.
    #[serde(flatten)]
    pub coverage: Coverage,
}

fn finding(
    snap: &Snapshot,
    cidr: IpNet,
    entries: &[&ConntrackEntry],
    all_pods: &[String],
) -> (Finding, EgressVerdict) {
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
    let traffic = Traffic {
        src,
        dst,
        iif: main_route_to(snap, src)
            .and_then(|r| r.nexthops.first()?.oif)
            .map(|i| link_name(snap, i)),
        oif: egress
            .clone()
            .filter(|_| !policy_routing(snap, src.is_ipv4())),
        dnat: first.dst_nat,
        local: snap.addresses.iter().map(|a| a.net).collect(),
    };
    let coverage = if snap.nat.available {
        egress::coverage(&snap.nat, &traffic)
    } else {
        Coverage::Unknown {
            reasons: vec![format!("NAT rules not read ({})", snap.nat.source)],
        }
    };
    evidence.extend(nat_evidence(snap, &traffic, &coverage));
    let mut fix = Vec::new();
    if matches!(coverage, Coverage::Covered { .. }) {
        fix.push(format!(
            "flush the stale entries (a rule covers new connections): conntrack -D -s {cidr}"
        ));
    }
    fix.extend(fixes(snap, cidr, egress.as_deref(), next_hop, all_pods));
    if let Coverage::NotCovered { reconnect, .. } = &coverage {
        let at = fix.len() - 1;
        for cmd in reconnect.iter().rev() {
            fix.insert(
                at,
                format!("or reconnect the chain whose rule would masquerade it: {cmd}"),
            );
        }
    }
    let finding = Finding {
        code: "pod-egress-unmasqueraded",
        // The conntrack entries are the proof: replies are not coming back now.
        severity: Severity::Error,
        summary: format!(
            "traffic from pod CIDR {cidr} leaves the node un-masqueraded toward {dst} and no replies come back ({} connection{})",
            entries.len(),
            if entries.len() == 1 { "" } else { "s" }
        ),
        evidence,
        fix,
    };
    let verdict = EgressVerdict {
        cidr,
        src,
        dst,
        oif: traffic.oif,
        coverage,
    };
    (finding, verdict)
}

/// Whether policy routing rules besides the kernel's three (local, main, default) exist: then
/// the main table alone does not tell the output interface.
fn policy_routing(snap: &Snapshot, v4: bool) -> bool {
    let family = if v4 { 4 } else { 6 };
    snap.rules
        .iter()
        .any(|r| r.family == family && ![0, 32766, 32767].contains(&r.priority))
}

/// The evidence lines that say whether (and why not) a NAT rule covers the traffic.
fn nat_evidence(snap: &Snapshot, t: &Traffic, coverage: &Coverage) -> Vec<String> {
    let (src, dst) = (t.src, t.dst);
    let out_of = t
        .oif
        .as_ref()
        .map(|o| format!(" out of {o}"))
        .unwrap_or_default();
    let mut evidence = Vec::new();
    match coverage {
        _ if !snap.nat.available => {
            evidence.push(format!("NAT rules not read ({})", snap.nat.source));
        }
        Coverage::NotCovered { reasons, .. } => {
            evidence.push(format!(
                "no masquerade/SNAT rule applies to {src} -> {dst}{out_of} ({} chains read)",
                snap.nat.chains.len()
            ));
            evidence.extend(reasons.iter().map(|r| format!("not applied: {r}")));
        }
        Coverage::Unknown { reasons } => {
            evidence.push(format!(
                "cannot tell whether a rule masquerades {src} -> {dst}{out_of}; it depends on:"
            ));
            evidence.extend(reasons.iter().map(|r| format!("unknown: {r}")));
        }
        Coverage::Covered { rules } => {
            evidence.extend(rules.iter().map(|r| {
                format!(
                    "a rule covers it now: {r}; these entries may predate it (an error until they are gone or replied)"
                )
            }));
        }
    }
    evidence
}

/// Masquerade on the node, or announce the pod CIDR; then flush.
fn fixes(
    snap: &Snapshot,
    cidr: IpNet,
    egress: Option<&str>,
    next_hop: Option<IpAddr>,
    all_pods: &[String],
) -> Vec<String> {
    let family = if cidr.addr().is_ipv4() { "ip" } else { "ip6" };
    let oif = egress
        .map(|e| format!(" oifname \"{e}\""))
        .unwrap_or_default();
    let node_addr = egress.and_then(|name| {
        let idx = snap.links.iter().find(|l| l.name == name)?.index;
        snap.addresses
            .iter()
            .find(|a| a.index == idx && a.net.addr().is_ipv4() == cidr.addr().is_ipv4())
            .map(|a| a.net.addr())
    });
    vec![
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
        format!("then flush the stale entries: conntrack -D -s {cidr}"),
    ]
}
