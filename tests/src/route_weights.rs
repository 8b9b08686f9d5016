//! The next hops of a kernel route and their weights, read with `ip -j route show PREFIX`
//! (what zebra installed for a weighted-ECMP route).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use serde_json::Value;

/// Next hop gateway -> weight of `prefix` in namespace `ns`'s main table; `None` when the route
/// is absent or `ip` fails. A single-path route gives one entry with weight 1; a multipath
/// next hop without `weight` has the kernel's default weight 1.
pub fn next_hop_weights(ns: &str, prefix: &str) -> Option<BTreeMap<IpAddr, u32>> {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    let out = Command::new("ip")
        .args(["-n", ns, family, "-j", "route", "show", prefix])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let routes: Value = serde_json::from_slice(&out.stdout).ok()?;
    let route = routes.as_array()?.first()?;
    let gateway = |v: &Value| v["gateway"].as_str().and_then(|g| g.parse::<IpAddr>().ok());
    let weight = |v: &Value| v["weight"].as_u64().map_or(1, |w| w as u32);
    let mut hops = BTreeMap::new();
    match route["nexthops"].as_array() {
        Some(list) => {
            for nh in list {
                hops.insert(gateway(nh)?, weight(nh));
            }
        }
        None => {
            hops.insert(gateway(route)?, 1);
        }
    }
    Some(hops)
}

/// The next hop gateways of `prefix` in namespace `ns`'s main table, sorted as text; empty when
/// the route is absent or `ip` fails.
pub fn next_hops(ns: &str, prefix: &str) -> Vec<String> {
    let mut hops: Vec<String> = next_hop_weights(ns, prefix)
        .unwrap_or_default()
        .keys()
        .map(IpAddr::to_string)
        .collect();
    hops.sort();
    hops
}
