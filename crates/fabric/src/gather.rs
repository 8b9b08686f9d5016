//! Gathers a [`Snapshot`] of this network namespace (read-only).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::snapshot::Snapshot;
use crate::{conntrack, netlink, nft, sysctl, Error};

/// What to gather besides the always-read tables.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    /// VIPs to look up with RTM_GETROUTE.
    pub vips: Vec<IpAddr>,
    /// Root of the sysctl tree (normally `/proc/sys`).
    pub sysctl_root: PathBuf,
    /// Read conntrack entries.
    pub conntrack: bool,
    /// Read nftables NAT rules.
    pub nftables: bool,
}

impl Default for GatherOptions {
    fn default() -> Self {
        GatherOptions {
            vips: Vec::new(),
            sysctl_root: PathBuf::from("/proc/sys"),
            conntrack: true,
            nftables: true,
        }
    }
}

/// Reads links, addresses, routes (all tables), rules, neighbours, sysctls, conntrack entries
/// and NAT rules. Fails only when rtnetlink itself cannot be used; everything else that cannot
/// be read is recorded in [`Snapshot::gaps`].
pub async fn gather(options: &GatherOptions) -> Result<Snapshot, Error> {
    let handle = netlink::connect()?;
    let mut snap = Snapshot {
        links: netlink::dump_links(&handle).await?,
        addresses: netlink::dump_addresses(&handle).await?,
        routes: netlink::dump_routes(&handle).await?,
        ..Snapshot::default()
    };
    match netlink::dump_rules(&handle).await {
        Ok(r) => snap.rules = r,
        Err(e) => snap.gaps.push(format!("rules: {e}")),
    }
    match netlink::dump_neighbours(&handle).await {
        Ok(n) => snap.neighbours = n,
        Err(e) => snap.gaps.push(format!("neighbours: {e}")),
    }
    match netlink::dump_foreign_links(&handle).await {
        Ok(f) => snap.foreign_links = f,
        Err(e) => snap
            .gaps
            .push(format!("interfaces in other namespaces: {e}")),
    }
    for vip in &options.vips {
        snap.vip_lookups
            .push(netlink::lookup_route(&handle, *vip).await);
    }
    let names: Vec<String> = snap.links.iter().map(|l| l.name.clone()).collect();
    snap.sysctls = sysctl::read_sysctls(&options.sysctl_root, &names);
    if snap.sysctls.ipv4_forward.is_none() {
        snap.gaps.push(format!(
            "sysctls: cannot read {}/net/ipv4/ip_forward",
            options.sysctl_root.display()
        ));
    }
    if options.conntrack {
        snap.conntrack = tokio::task::spawn_blocking(conntrack::read_conntrack)
            .await
            .unwrap_or_else(|e| crate::snapshot::Conntrack {
                source: format!("unavailable: {e}"),
                available: false,
                entries: Vec::new(),
            });
        if !snap.conntrack.available {
            snap.gaps
                .push(format!("conntrack: {}", snap.conntrack.source));
        } else if snap.conntrack.source != "ctnetlink" {
            snap.gaps
                .push(format!("conntrack read from {}", snap.conntrack.source));
        }
    }
    if options.nftables {
        snap.nat = tokio::task::spawn_blocking(nft::read_nat_rules)
            .await
            .unwrap_or_default();
        if !snap.nat.available {
            snap.gaps.push(format!("nftables: {}", snap.nat.source));
        }
    }
    Ok(snap)
}
