//! (b) Strict reverse-path filtering (rp_filter = 1) on an interface where return traffic
//! arrives asymmetrically: the route back to the senders leaves through another interface
//! (a backup uplink, or ECMP across interfaces), so the kernel drops those packets.

use super::{link_name, main_defaults, preferred_default};
use crate::doctor::{Finding, Severity};
use crate::snapshot::{Route, Snapshot};

/// Runs the check (IPv4: rp_filter has no IPv6 counterpart in the kernel).
pub fn check(snap: &Snapshot) -> Vec<Finding> {
    let defaults = main_defaults(snap, true);
    let Some(preferred) = preferred_default(&defaults) else {
        return Vec::new();
    };
    let preferred_oifs: Vec<u32> = preferred.nexthops.iter().filter_map(|n| n.oif).collect();
    let ecmp_across_interfaces = {
        let mut o = preferred_oifs.clone();
        o.sort_unstable();
        o.dedup();
        o.len() > 1
    };
    let mut out = Vec::new();
    for link in snap.links.iter().filter(|l| l.is_up()) {
        if snap.sysctls.effective_rp_filter(&link.name) != Some(1) {
            continue;
        }
        let via_this: Vec<&&Route> = defaults
            .iter()
            .filter(|r| r.nexthops.iter().any(|n| n.oif == Some(link.index)))
            .collect();
        if via_this.is_empty() {
            continue;
        }
        let reason = if ecmp_across_interfaces && preferred_oifs.contains(&link.index) {
            format!(
                "the default route is ECMP across {}: replies to senders hashed onto another interface fail the reverse-path check on {}",
                preferred_oifs
                    .iter()
                    .map(|i| link_name(snap, *i))
                    .collect::<Vec<_>>()
                    .join(", "),
                link.name
            )
        } else if !preferred_oifs.contains(&link.index) {
            format!(
                "{} is an uplink (it has a default route) but the route back to off-link senders leaves through {}: packets arriving on {} from them are dropped",
                link.name,
                preferred_oifs
                    .iter()
                    .map(|i| link_name(snap, *i))
                    .collect::<Vec<_>>()
                    .join(", "),
                link.name
            )
        } else {
            continue;
        };
        let own = snap
            .sysctls
            .conf(&link.name)
            .and_then(|c| c.rp_filter)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into());
        let all = snap
            .sysctls
            .conf("all")
            .and_then(|c| c.rp_filter)
            .map(|v| v.to_string())
            .unwrap_or_else(|| "?".into());
        let mut evidence = vec![format!(
            "net.ipv4.conf.{}.rp_filter = {own}, net.ipv4.conf.all.rp_filter = {all} (effective = max = 1, strict)",
            link.name
        )];
        for r in &via_this {
            evidence.push(format!("default route: {}", r.describe(&snap.links)));
        }
        if !via_this.iter().any(|r| std::ptr::eq(**r, preferred)) {
            evidence.push(format!(
                "preferred default route: {}",
                preferred.describe(&snap.links)
            ));
        }
        out.push(Finding {
            code: "rp-filter-asymmetric",
            severity: Severity::Error,
            summary: format!("strict rp_filter on {} drops asymmetric return traffic: {reason}", link.name),
            evidence,
            fix: vec![format!(
                "use loose mode: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.{}.rp_filter=2 (persist in /etc/sysctl.d/)",
                link.name
            )],
        });
    }
    out
}
