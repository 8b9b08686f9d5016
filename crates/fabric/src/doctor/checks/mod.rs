//! One module per check. Each is a pure function of the snapshot (and the inputs).

pub mod default_route;
pub mod egress_nat;
pub mod forwarding;
pub mod rp_filter;
pub mod vip;

use std::net::IpAddr;

use crate::snapshot::{Link, Route, Snapshot};

/// The main routing table id.
pub(crate) const MAIN_TABLE: u32 = 254;

pub(crate) fn link(snap: &Snapshot, index: u32) -> Option<&Link> {
    snap.links.iter().find(|l| l.index == index)
}

pub(crate) fn link_name(snap: &Snapshot, index: u32) -> String {
    link(snap, index)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| format!("if{index}"))
}

/// Unicast default routes of the main table for one family.
pub(crate) fn main_defaults(snap: &Snapshot, v4: bool) -> Vec<&Route> {
    snap.routes
        .iter()
        .filter(|r| {
            r.table == MAIN_TABLE
                && r.is_default()
                && r.kind == "unicast"
                && r.dst.addr().is_ipv4() == v4
        })
        .collect()
}

/// The main-table default route the kernel uses: the lowest metric among those whose
/// nexthops are not all down.
pub(crate) fn preferred_default<'a>(routes: &[&'a Route]) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| !r.all_nexthops_down())
        .min_by_key(|r| r.metric_or_zero())
        .copied()
}

/// Longest-prefix match in the main table (unicast routes), for evidence.
pub(crate) fn main_route_to(snap: &Snapshot, dst: IpAddr) -> Option<&Route> {
    snap.routes
        .iter()
        .filter(|r| r.table == MAIN_TABLE && r.kind == "unicast" && r.dst.contains(&dst))
        .max_by_key(|r| (r.dst.prefix_len(), std::cmp::Reverse(r.metric_or_zero())))
}

/// Whether `addr` is an address of this node.
pub(crate) fn is_local_address(snap: &Snapshot, addr: IpAddr) -> bool {
    snap.addresses.iter().any(|a| a.net.addr() == addr)
}
