//! (c) IP forwarding off on a node that must forward (it routes pod CIDRs or traffic into
//! local veths).

use super::{link, link_name, MAIN_TABLE};
use crate::doctor::{Finding, Inputs, Severity};
use crate::snapshot::Snapshot;

/// Runs the check for both families.
pub fn check(snap: &Snapshot, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        let value = if v4 {
            snap.sysctls.ipv4_forward
        } else {
            snap.sysctls.ipv6_forward
        };
        if value != Some(0) {
            continue;
        }
        let mut reasons = Vec::new();
        for cidr in inputs.pod_cidrs.iter().filter(|c| c.addr().is_ipv4() == v4) {
            reasons.push(format!(
                "pod CIDR {cidr} is given: pod traffic must be forwarded"
            ));
        }
        // Routes into local containers: no gateway, out a veth/bridge, beyond the connected
        // subnet of that interface (e.g. a pod CIDR or per-pod /32 routes).
        for r in snap.routes.iter().filter(|r| {
            r.table == MAIN_TABLE
                && r.kind == "unicast"
                && r.dst.addr().is_ipv4() == v4
                && r.protocol != 2
        }) {
            for nh in &r.nexthops {
                let (None, Some(oif)) = (nh.gateway, nh.oif) else {
                    continue;
                };
                let container_link = link(snap, oif)
                    .and_then(|l| l.kind.as_deref())
                    .is_some_and(|k| k == "veth" || k == "bridge");
                let inside_pods = inputs.pod_cidrs.iter().any(|p| p.contains(&r.dst.addr()));
                if container_link || inside_pods {
                    reasons.push(format!(
                        "route {} points into {} ({})",
                        r.describe(&snap.links),
                        link_name(snap, oif),
                        if inside_pods {
                            "a pod CIDR"
                        } else {
                            "a container interface"
                        }
                    ));
                }
            }
        }
        if reasons.is_empty() {
            continue;
        }
        let (key, cmd) = if v4 {
            ("net.ipv4.ip_forward", "sysctl -w net.ipv4.ip_forward=1")
        } else {
            (
                "net.ipv6.conf.all.forwarding",
                "sysctl -w net.ipv6.conf.all.forwarding=1",
            )
        };
        let mut evidence = vec![format!("{key} = 0")];
        evidence.extend(reasons);
        out.push(Finding {
            code: "ip-forward-off",
            severity: Severity::Error,
            summary: format!(
                "{} forwarding is off but this node must forward",
                if v4 { "IPv4" } else { "IPv6" }
            ),
            evidence,
            fix: vec![format!(
                "{cmd} (persist: echo '{key} = 1' > /etc/sysctl.d/90-ferrolb.conf)"
            )],
        });
    }
    out
}
