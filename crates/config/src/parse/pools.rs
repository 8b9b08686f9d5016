//! `address-pools[]` and their `bgp-advertisements[]`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::tree::{index, join, Ctx};
use crate::community::CommunityValue;
use crate::model::{BgpAdvertisement, Config, Pool, Protocol};
use crate::range::{IpFamily, IpRange};

const POOL_KEYS: &[&str] = &[
    "name",
    "protocol",
    "addresses",
    "avoid-buggy-ips",
    "auto-assign",
    "bgp-advertisements",
];
const ADV_KEYS: &[&str] = &[
    "aggregation-length",
    "aggregation-length-v6",
    "localpref",
    "communities",
    "node-selectors",
    "peers",
];

pub(crate) fn pools(
    ctx: &mut Ctx,
    value: &Value,
    aliases: &BTreeMap<String, CommunityValue>,
) -> Vec<Pool> {
    let items = ctx.list("address-pools", value);
    let mut out = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    // Every range seen so far: (range, pool name, path of the range).
    let mut seen: Vec<(IpRange, String, String)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("address-pools", i);
        let Some(pool) = pool(ctx, &path, item, aliases) else {
            continue;
        };
        if let Some(first) = names.get(&pool.name) {
            ctx.error_text(
                &join(&path, "name"),
                &pool.name,
                format!("duplicate pool name (also address-pools[{first}])"),
            );
        } else {
            names.insert(pool.name.clone(), i);
        }
        for (j, range) in pool.ranges.iter().enumerate() {
            let rpath = index(&join(&path, "addresses"), j);
            if let Some((other, other_pool, other_path)) =
                seen.iter().find(|(r, _, _)| r.overlaps(range))
            {
                ctx.error_text(
                    &rpath,
                    &range.to_string(),
                    format!("overlaps {other} of pool {other_pool:?} ({other_path})"),
                );
            }
            seen.push((*range, pool.name.clone(), rpath));
        }
        out.push(pool);
    }
    out
}

fn pool(
    ctx: &mut Ctx,
    path: &str,
    value: &Value,
    aliases: &BTreeMap<String, CommunityValue>,
) -> Option<Pool> {
    let map = ctx.object(path, value, POOL_KEYS)?;
    let before = ctx.errors.len();
    let name = match map.get("name") {
        None | Some(Value::Null) => {
            ctx.error(&join(path, "name"), None, "missing (required)");
            None
        }
        Some(v) => ctx.string(&join(path, "name"), v).and_then(|n| {
            if n.trim().is_empty() {
                ctx.error_text(&join(path, "name"), &n, "pool name must not be empty");
                None
            } else {
                Some(n)
            }
        }),
    };
    let protocol = match map.get("protocol") {
        None | Some(Value::Null) => {
            ctx.error(
                &join(path, "protocol"),
                None,
                "missing (required): bgp or layer2",
            );
            None
        }
        Some(v) => {
            let p = join(path, "protocol");
            ctx.string(&p, v).and_then(|t| match t.as_str() {
                "bgp" => Some(Protocol::Bgp),
                "layer2" => Some(Protocol::Layer2),
                _ => {
                    ctx.error_text(&p, &t, "protocol must be bgp or layer2");
                    None
                }
            })
        }
    };
    let apath = join(path, "addresses");
    let mut ranges = Vec::new();
    match map.get("addresses") {
        None | Some(Value::Null) => {
            ctx.error(
                &apath,
                None,
                "missing (required): at least one CIDR or range",
            );
        }
        Some(v) => {
            let items = ctx.list(&apath, v);
            if items.is_empty() && v.is_array() {
                ctx.error(&apath, None, "at least one CIDR or range is required");
            }
            for (j, item) in items.iter().enumerate() {
                let p = index(&apath, j);
                let Some(text) = ctx.string(&p, item) else {
                    continue;
                };
                match IpRange::parse(&text) {
                    Ok(r) => ranges.push(r),
                    Err(e) => ctx.error_text(&p, &text, e),
                }
            }
        }
    }
    let avoid_buggy_ips = map
        .get("avoid-buggy-ips")
        .and_then(|v| ctx.boolean(&join(path, "avoid-buggy-ips"), v))
        .unwrap_or(false);
    let auto_assign = map
        .get("auto-assign")
        .and_then(|v| ctx.boolean(&join(path, "auto-assign"), v))
        .unwrap_or(true);

    let adv_path = join(path, "bgp-advertisements");
    let mut advertisements = Vec::new();
    if let Some(v) = map.get("bgp-advertisements") {
        let items = ctx.list(&adv_path, v);
        if !items.is_empty() && protocol == Some(Protocol::Layer2) {
            ctx.error(
                &adv_path,
                None,
                "bgp-advertisements are only allowed in a bgp pool (this pool is layer2)",
            );
        }
        for (j, item) in items.iter().enumerate() {
            if let Some(a) = advertisement(ctx, &index(&adv_path, j), item, aliases, &ranges) {
                advertisements.push(a);
            }
        }
        reject_identical_advertisements(ctx, &adv_path, items);
    }
    if protocol == Some(Protocol::Bgp)
        && map
            .get("bgp-advertisements")
            .is_none_or(|v| v.as_array().is_none_or(|a| a.is_empty()))
    {
        advertisements.push(BgpAdvertisement::default());
    }
    if protocol == Some(Protocol::Layer2) {
        ctx.warnings.push(format!(
            "{path}: layer2 pool {:?}: FerroLB allocates its addresses but does not announce them",
            name.as_deref().unwrap_or("")
        ));
    }

    if ctx.errors.len() != before {
        return None;
    }
    Some(Pool {
        name: name?,
        protocol: protocol?,
        ranges,
        avoid_buggy_ips,
        auto_assign,
        bgp_advertisements: advertisements,
    })
}

fn advertisement(
    ctx: &mut Ctx,
    path: &str,
    value: &Value,
    aliases: &BTreeMap<String, CommunityValue>,
    ranges: &[IpRange],
) -> Option<BgpAdvertisement> {
    let map = ctx.object(path, value, ADV_KEYS)?;
    let before = ctx.errors.len();
    let mut adv = BgpAdvertisement::default();
    for (key, family) in [
        ("aggregation-length", IpFamily::V4),
        ("aggregation-length-v6", IpFamily::V6),
    ] {
        let Some(v) = map.get(key) else {
            continue;
        };
        let p = join(path, key);
        let Some(len) = ctx.uint(&p, v, u64::from(family.bits())) else {
            continue;
        };
        let len = len as u8;
        // As MetalLB v0.12: each address entry's summary CIDRs, checked against the shortest.
        for range in ranges.iter().filter(|r| r.family() == family) {
            let shortest = range.shortest_prefix();
            if shortest > len {
                ctx.error(
                    &p,
                    Some(v),
                    format!(
                        "shorter than /{shortest}, the widest CIDR of {range} in this pool; \
                         aggregation-length must be at least {shortest}"
                    ),
                );
                break;
            }
        }
        match family {
            IpFamily::V4 => adv.aggregation_length = len,
            IpFamily::V6 => adv.aggregation_length_v6 = len,
        }
    }
    if let Some(v) = map.get("localpref") {
        adv.local_pref = ctx
            .uint(&join(path, "localpref"), v, u64::from(u32::MAX))
            .map(|n| n as u32);
    }
    if let Some(v) = map.get("communities") {
        let cpath = join(path, "communities");
        let items = ctx.list(&cpath, v);
        let mut seen: BTreeSet<CommunityValue> = BTreeSet::new();
        for (j, item) in items.iter().enumerate() {
            let p = index(&cpath, j);
            let Some(text) = ctx.string(&p, item) else {
                continue;
            };
            let text = text.trim().to_string();
            let parsed = match aliases.get(&text) {
                Some(c) => Ok(*c),
                None => CommunityValue::parse(&text).map_err(|e| {
                    if text.contains(':') {
                        e
                    } else {
                        "neither a community (a:b or large:a:b:c) nor an alias from bgp-communities"
                            .to_string()
                    }
                }),
            };
            match parsed {
                Ok(c) => {
                    if !seen.insert(c) {
                        ctx.error_text(&p, &text, format!("duplicate community {c}"));
                        continue;
                    }
                    match c {
                        CommunityValue::Standard(s) => adv.communities.push(s),
                        CommunityValue::Large(l) => adv.large_communities.push(l),
                    }
                }
                Err(e) => ctx.error_text(&p, &text, e),
            }
        }
    }
    if let Some(v) = map.get("node-selectors") {
        adv.node_selectors = super::peers::selectors(ctx, &join(path, "node-selectors"), v);
    }
    if let Some(v) = map.get("peers") {
        adv.peers = Some(peer_addresses(ctx, &join(path, "peers"), v));
    }
    if ctx.errors.len() != before {
        return None;
    }
    Some(adv)
}

/// `peers` of an advertisement: addresses of configured peers (checked once peers are known).
fn peer_addresses(ctx: &mut Ctx, path: &str, value: &Value) -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    for (i, item) in ctx.list(path, value).iter().enumerate() {
        let p = index(path, i);
        let Some(text) = ctx.string(&p, item) else {
            continue;
        };
        match text.trim().parse() {
            Ok(ip) => out.push(ip),
            Err(_) => ctx.error_text(&p, &text, "not an IP address (a peer-address of peers)"),
        }
    }
    out
}

/// Every address in an advertisement's `peers` must be a configured peer's address.
pub(crate) fn check_advertisement_peers(ctx: &mut Ctx, config: &Config) {
    for (i, pool) in config.pools.iter().enumerate() {
        for (j, adv) in pool.bgp_advertisements.iter().enumerate() {
            for (k, ip) in adv.peers.iter().flatten().enumerate() {
                if !config
                    .peers
                    .iter()
                    .any(|p| p.address.to_canonical() == ip.to_canonical())
                {
                    ctx.error_text(
                        &format!("address-pools[{i}].bgp-advertisements[{j}].peers[{k}]"),
                        &ip.to_string(),
                        "no peer with this peer-address in peers",
                    );
                }
            }
        }
    }
}

/// Two advertisements written identically (same keys, same values, communities in the same
/// order) are an error, as in MetalLB v0.12, which compares the entries as written.
fn reject_identical_advertisements(ctx: &mut Ctx, path: &str, items: &[Value]) {
    for (j, item) in items.iter().enumerate() {
        if let Some(i) = items[..j].iter().position(|earlier| earlier == item) {
            ctx.error(
                &index(path, j),
                Some(item),
                format!("identical to {}; remove the duplicate", index(path, i)),
            );
        }
    }
}

/// LOCAL_PREF is only sent to iBGP peers; warn when it is set but no peer is iBGP.
pub(crate) fn warn_local_pref(ctx: &mut Ctx, config: &Config) {
    let any_ibgp = config.peers.iter().any(|p| p.is_ibgp());
    if any_ibgp {
        return;
    }
    for (i, pool) in config.pools.iter().enumerate() {
        for (j, adv) in pool.bgp_advertisements.iter().enumerate() {
            if let Some(lp) = adv.local_pref {
                ctx.warnings.push(format!(
                    "address-pools[{i}].bgp-advertisements[{j}].localpref: {lp}: only sent to iBGP \
                     peers (my-asn equal to peer-asn) and no peer is iBGP, so it has no effect"
                ));
            }
        }
    }
}
