//! (d) Default route problems: none at all, several with the same metric, one through a link
//! that is down, or one whose gateway does not answer ARP/NDP.

use std::collections::BTreeMap;

use super::{link, link_name, main_defaults, preferred_default};
use crate::doctor::{Finding, Severity};
use crate::snapshot::{Route, Snapshot};

fn has_global_address(snap: &Snapshot, v4: bool) -> bool {
    snap.addresses.iter().any(|a| match a.net.addr() {
        std::net::IpAddr::V4(ip) => v4 && !ip.is_loopback() && !ip.is_link_local(),
        std::net::IpAddr::V6(ip) => {
            // Link-local and unique-local (fc00::/7) addresses need no default route.
            !v4 && !ip.is_loopback()
                && (ip.segments()[0] & 0xffc0) != 0xfe80
                && (ip.segments()[0] & 0xfe00) != 0xfc00
        }
    })
}

/// Runs the check for both families.
pub fn check(snap: &Snapshot) -> Vec<Finding> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        if !has_global_address(snap, v4) {
            continue;
        }
        let fam = if v4 { "IPv4" } else { "IPv6" };
        let defaults = main_defaults(snap, v4);
        if defaults.is_empty() {
            out.push(Finding {
                code: "no-default-route",
                // A node without an IPv6 default route is common and usually intended.
                severity: if v4 { Severity::Error } else { Severity::Warning },
                summary: format!("no {fam} default route: traffic to anything off-link has nowhere to go"),
                evidence: vec![format!("main table has no {fam} default route")],
                fix: vec![
                    format!("ip {}route add default via <gateway> dev <uplink>", if v4 { "" } else { "-6 " }),
                    "or run `ferrolb uplinks --uplink name=<uplink>,gateway=<gateway>` to keep one installed".into(),
                ],
            });
            continue;
        }
        same_metric(snap, &defaults, fam, &mut out);
        link_down(snap, &defaults, fam, &mut out);
        gateway_neighbour(snap, &defaults, fam, &mut out);
    }
    out
}

fn same_metric(snap: &Snapshot, defaults: &[&Route], fam: &str, out: &mut Vec<Finding>) {
    let mut by_metric: BTreeMap<u32, Vec<&Route>> = BTreeMap::new();
    for r in defaults {
        by_metric.entry(r.metric_or_zero()).or_default().push(r);
    }
    for (metric, routes) in by_metric {
        if routes.len() < 2 {
            continue;
        }
        out.push(Finding {
            code: "default-routes-same-metric",
            severity: Severity::Warning,
            summary: format!(
                "{} {fam} default routes share metric {metric}: only one is used and the choice is not yours",
                routes.len()
            ),
            evidence: routes
                .iter()
                .map(|r| format!("default route: {}", r.describe(&snap.links)))
                .collect(),
            fix: vec![
                "give each a distinct metric (ip route replace default via <gw> dev <if> metric <n>), or make one ECMP route (nexthop via .. nexthop via ..)".into(),
                "or let `ferrolb uplinks` manage them (one metric per uplink, by priority and health)".into(),
            ],
        });
    }
}

fn link_down(snap: &Snapshot, defaults: &[&Route], fam: &str, out: &mut Vec<Finding>) {
    let all_down = defaults.iter().all(|r| route_down(snap, r));
    for r in defaults.iter().filter(|r| route_down(snap, r)) {
        let names: Vec<String> = r
            .nexthops
            .iter()
            .filter_map(|n| n.oif)
            .map(|i| {
                let state = link(snap, i)
                    .map(|l| {
                        format!(
                            "admin {}, carrier {}, oper {}",
                            if l.admin_up { "up" } else { "down" },
                            if l.lower_up { "yes" } else { "no" },
                            l.oper_state
                        )
                    })
                    .unwrap_or_else(|| "missing".into());
                format!("link {}: {state}", link_name(snap, i))
            })
            .collect();
        let mut evidence = vec![format!("default route: {}", r.describe(&snap.links))];
        evidence.extend(names);
        out.push(Finding {
            code: "default-route-link-down",
            severity: if all_down { Severity::Error } else { Severity::Warning },
            summary: format!(
                "{fam} default route goes through a link that is down{}",
                if all_down { " and no other default route is usable" } else { "" }
            ),
            evidence,
            fix: vec![
                "bring the link up (ip link set <if> up; check cable/peer), or add a default route through a working uplink".into(),
                "or run `ferrolb uplinks` with a fallback uplink: it installs the fallback and restores the route when the link returns".into(),
            ],
        });
    }
}

fn route_down(snap: &Snapshot, r: &Route) -> bool {
    r.all_nexthops_down()
        || r.nexthops.iter().all(|n| {
            n.oif
                .and_then(|i| link(snap, i))
                .is_some_and(|l| !l.is_up())
        })
}

fn gateway_neighbour(snap: &Snapshot, defaults: &[&Route], fam: &str, out: &mut Vec<Finding>) {
    let preferred = preferred_default(defaults);
    for r in defaults.iter().filter(|r| !route_down(snap, r)) {
        let is_preferred = preferred.is_some_and(|p| std::ptr::eq(p, *r));
        for nh in &r.nexthops {
            let (Some(gw), Some(oif)) = (nh.gateway, nh.oif) else {
                continue;
            };
            let entry = snap
                .neighbours
                .iter()
                .find(|n| n.index == oif && n.addr == gw);
            let (severity, what) = match entry {
                Some(n) if n.is_unresolved() => (
                    if is_preferred {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    format!("its neighbour entry is {}", n.state.to_uppercase()),
                ),
                None if is_preferred => (
                    Severity::Warning,
                    "it has no neighbour entry (never resolved)".to_string(),
                ),
                _ => continue,
            };
            let mut evidence = vec![format!("default route: {}", r.describe(&snap.links))];
            match entry {
                Some(n) => evidence.push(format!(
                    "neighbour {} dev {} {}",
                    n.addr,
                    link_name(snap, n.index),
                    n.state.to_uppercase()
                )),
                None => evidence.push(format!(
                    "no neighbour entry for {gw} on {}",
                    link_name(snap, oif)
                )),
            }
            out.push(Finding {
                code: "default-gateway-unresolved",
                severity,
                summary: format!(
                    "{fam} default gateway {gw} on {}: {what}{}",
                    link_name(snap, oif),
                    if is_preferred { "; it is the route in use" } else { "" }
                ),
                evidence,
                fix: vec![
                    format!(
                        "check the gateway: ping -c1 -I {} {gw}; ip neigh show {gw}; fix the address/VLAN or point the default route at a live gateway",
                        link_name(snap, oif)
                    ),
                    "or run `ferrolb uplinks` with a health probe and a fallback uplink".into(),
                ],
            });
        }
    }
}
