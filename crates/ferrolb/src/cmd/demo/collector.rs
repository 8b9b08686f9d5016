//! The demo's router: a passive BGP peer on 127.0.0.1 built on the ferrolb-bgp driver, keeping
//! what the speakers announce, and printing it the way `show ip bgp` does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ferrolb_bgp::driver::{DriverError, PeerConfig, ReceivedRoute, Speaker, State};
use ferrolb_bgp::wire::{NextHop, Origin, PathAttributes, SegmentKind};
use ipnet::IpNet;

use super::scenario::{CLUSTER_AS, NODES, ROUTER_ADDR, ROUTER_AS};

/// The collector's router id.
const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 255, 255, 1);

/// One path to a prefix, as the router sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The node (speaker) that announced it.
    pub from: IpAddr,
    /// Its next hop.
    pub next_hop: String,
    /// AS path and origin, e.g. `65001 i`.
    pub path: String,
    /// Communities and large communities.
    pub communities: String,
}

/// The router's table: prefix -> paths, one per announcing node.
pub type Table = BTreeMap<IpNet, Vec<Path>>;

/// The built-in collector.
pub struct Collector {
    speaker: Speaker,
    port: u16,
}

impl Collector {
    /// Listens on 127.0.0.1:`port` (0 picks a free one) for the demo's nodes.
    pub async fn start(port: u16) -> Result<Collector, DriverError> {
        let speaker = Speaker::new();
        let bound = speaker.listen(SocketAddr::new(ROUTER_ADDR, port)).await?;
        for node in &NODES {
            let mut peer =
                PeerConfig::new(IpAddr::V4(node.address), ROUTER_AS, CLUSTER_AS, ROUTER_ID);
            peer.session.passive = true;
            peer.session.hold_time = 9;
            peer.session.keep_updates = true;
            speaker.add_peer(peer)?;
        }
        Ok(Collector {
            speaker,
            port: bound.port(),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Nodes whose session is Established.
    pub fn established(&self) -> Vec<IpAddr> {
        self.speaker
            .status()
            .into_iter()
            .filter(|s| s.state == State::Established)
            .map(|s| s.address)
            .collect()
    }

    /// The current table.
    pub fn table(&self) -> Table {
        let mut table = Table::new();
        for node in &NODES {
            let from = IpAddr::V4(node.address);
            for route in self.speaker.received_routes(from) {
                let path = path_of(from, &route);
                table.entry(route.prefix).or_default().push(path);
            }
        }
        table
    }

    /// Stops the collector's sessions.
    pub async fn shutdown(&self) {
        self.speaker.shutdown("demo finished").await;
    }
}

fn path_of(from: IpAddr, route: &ReceivedRoute) -> Path {
    let a = &route.attributes;
    Path {
        from,
        next_hop: next_hop(a).unwrap_or_else(|| from.to_string()),
        path: as_path(a),
        communities: communities(a),
    }
}

fn next_hop(a: &PathAttributes) -> Option<String> {
    if let Some(nh) = a.next_hop {
        return Some(nh.to_string());
    }
    a.mp_reach.as_ref().map(|r| match &r.next_hop {
        NextHop::V4(v4) => v4.to_string(),
        NextHop::V6 { global, .. } => global.to_string(),
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    })
}

fn as_path(a: &PathAttributes) -> String {
    let mut out = String::new();
    if let Some(path) = &a.as_path {
        for seg in &path.segments {
            let asns: Vec<String> = seg.asns.iter().map(u32::to_string).collect();
            match seg.kind {
                SegmentKind::Set => {
                    let _ = write!(out, "{{{}}} ", asns.join(","));
                }
                _ => {
                    let _ = write!(out, "{} ", asns.join(" "));
                }
            }
        }
    }
    out.push(match a.origin {
        Some(Origin::Igp) => 'i',
        Some(Origin::Egp) => 'e',
        _ => '?',
    });
    out
}

fn communities(a: &PathAttributes) -> String {
    a.communities
        .iter()
        .map(|c| c.to_string())
        .chain(a.large_communities.iter().map(|c| c.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders the table like FRR's `show ip bgp`: `*>` the best path, `*=` the other equal-cost
/// paths (ECMP with `maximum-paths`).
pub fn render(table: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "BGP table of the router (AS {ROUTER_AS}, router id {ROUTER_ID})\nStatus codes: * valid, > best, = multipath\n"
    );
    let _ = writeln!(
        out,
        "   {:<20} {:<16} {:<10} Communities",
        "Network", "Next Hop", "Path"
    );
    if table.is_empty() {
        let _ = writeln!(out, "   (no routes)");
    }
    for (prefix, paths) in table {
        let mut sorted = paths.clone();
        sorted.sort_by_key(|p| p.from);
        for (i, p) in sorted.iter().enumerate() {
            let (mark, network) = if i == 0 {
                ("*>", prefix.to_string())
            } else {
                ("*=", String::new())
            };
            let _ = writeln!(
                out,
                "{mark} {network:<20} {:<16} {:<10} {}",
                p.next_hop, p.path, p.communities
            );
        }
    }
    let _ = write!(out, "\nDisplayed {} routes", table.len());
    out
}

/// What changed between two tables, one line per path added or removed.
pub fn diff(old: &Table, new: &Table) -> Vec<String> {
    let mut lines = Vec::new();
    let flat = |t: &Table| -> BTreeMap<(IpNet, IpAddr), Path> {
        t.iter()
            .flat_map(|(p, paths)| paths.iter().map(move |x| ((*p, x.from), x.clone())))
            .collect()
    };
    let (o, n) = (flat(old), flat(new));
    for ((prefix, from), path) in &n {
        match o.get(&(*prefix, *from)) {
            None => lines.push(format!(
                "+ {prefix} via {} (path {}, communities {})",
                path.next_hop,
                path.path,
                if path.communities.is_empty() {
                    "none"
                } else {
                    &path.communities
                }
            )),
            Some(before) if before != path => {
                lines.push(format!("~ {prefix} via {} changed", path.next_hop))
            }
            Some(_) => {}
        }
    }
    for ((prefix, _), path) in &o {
        if !n.contains_key(&(*prefix, path.from)) {
            lines.push(format!("- {prefix} via {} withdrawn", path.next_hop));
        }
    }
    lines
}
