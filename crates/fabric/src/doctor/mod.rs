//! `doctor`: pure checks over a [`Snapshot`] that explain return-path problems in words a
//! network engineer recognizes, each with evidence and a concrete fix.

mod checks;
pub mod pod_cidrs;
mod report;

use std::net::IpAddr;

use ipnet::IpNet;

pub use checks::egress_nat::EgressVerdict;
pub use report::{Finding, Report, Severity};

use crate::snapshot::Snapshot;

/// What the user told the doctor about this node.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The node's pod CIDRs (empty: unknown).
    pub pod_cidrs: Vec<IpNet>,
    /// LoadBalancer / virtual IPs that this node should serve.
    pub vips: Vec<IpAddr>,
}

/// Runs every check and returns the report (findings sorted by severity, errors first).
pub fn diagnose(snapshot: &Snapshot, inputs: &Inputs) -> Report {
    let (mut findings, egress_nat) = checks::egress_nat::check(snapshot, inputs);
    findings.extend(checks::rp_filter::check(snapshot));
    findings.extend(checks::forwarding::check(snapshot, inputs));
    findings.extend(checks::default_route::check(snapshot));
    findings.extend(checks::vip::check(snapshot, inputs));
    findings.sort_by_key(|f| f.severity);
    let mut notes = Vec::new();
    if inputs.pod_cidrs.is_empty() {
        notes.push(
            "no pod CIDR given or found (no route through a cni0/flannel/cilium/calico interface, no Node podCIDR): the pod egress (masquerade) check did not run; pass --pod-cidr"
                .to_string(),
        );
    }
    if snapshot.conntrack.available && snapshot.conntrack.entries.is_empty() {
        notes.push(
            "the conntrack table is empty: either no traffic, or no rule in this namespace uses \
             conntrack (the kernel tracks connections only when a rule needs it)"
                .to_string(),
        );
    }
    notes.extend(snapshot.gaps.iter().map(|g| format!("not read: {g}")));
    Report {
        findings,
        notes,
        egress_nat,
    }
}

#[cfg(test)]
mod tests;
