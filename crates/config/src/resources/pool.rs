//! `IPAddressPool` v1beta1 with the `BGPAdvertisement`s and `L2Advertisement`s that select it:
//! the legacy `address-pools[]` with their `bgp-advertisements[]`.

use serde_json::{Map, Value};

use super::kinds::{ALLOCATION_FIELDS, BGP_ADV_FIELDS, L2_ADV_FIELDS, POOL_FIELDS};
use super::legacy::{copy_fields, is_set, reject_duplicates, spec, warn_unimplemented, Legacy};
use super::object::{Object, Objects};
use super::selection::{label_selectors, PoolSelection};
use crate::model::ServiceAllocation;
use crate::parse::tree::{index, join, Ctx};

/// Why `serviceAllocation.namespaceSelectors` is a warning (the CRD description says the same).
pub(crate) const NAMESPACE_SELECTORS_IGNORED: &str =
    "FerroLB does not read Namespace labels, so these select no namespace; list the \
     namespaces in serviceAllocation.namespaces";

/// An advertisement object read: its legacy entry (BGP only) and the pools it selects.
struct Advertisement<'o, 'a> {
    object: &'o Object<'a>,
    entry: Map<String, Value>,
    pools: PoolSelection,
}

/// Adds every `IPAddressPool`; its protocol is bgp when a `BGPAdvertisement` selects it.
pub(crate) fn add(ctx: &mut Ctx, objects: &Objects, out: &mut Legacy) {
    let bgp: Vec<Advertisement> = objects
        .bgp_advertisements
        .iter()
        .filter_map(|o| bgp_advertisement(ctx, o, &objects.pools, &objects.peers))
        .collect();
    let l2: Vec<Advertisement> = objects
        .l2_advertisements
        .iter()
        .filter_map(|o| l2_advertisement(ctx, o, &objects.pools))
        .collect();
    for obj in &objects.pools {
        let path = obj.spec_path();
        let Some(spec) = spec(ctx, &path, obj.spec, POOL_FIELDS) else {
            continue;
        };
        let mut entry = copy_fields(spec, &["addresses", "autoAssign", "avoidBuggyIPs"]);
        out.allocations.push(service_allocation(ctx, &path, spec));
        let legacy_path = index("address-pools", out.pools.len());
        let selecting: Vec<&Advertisement> = bgp.iter().filter(|a| a.pools.selects(obj)).collect();
        let l2_selecting = l2.iter().find(|a| a.pools.selects(obj));
        let mut advertisements: Vec<Value> = Vec::new();
        for adv in &selecting {
            let value = Value::Object(adv.entry.clone());
            if advertisements.contains(&value) {
                continue;
            }
            out.paths.add(
                index(
                    &join(&legacy_path, "bgp-advertisements"),
                    advertisements.len(),
                ),
                adv.object.spec_path(),
            );
            advertisements.push(value);
        }
        let protocol = if advertisements.is_empty() {
            "layer2"
        } else {
            "bgp"
        };
        announcement_note(ctx, obj, !advertisements.is_empty(), l2_selecting);
        entry.insert("name".into(), Value::String(obj.name.clone()));
        entry.insert("protocol".into(), Value::String(protocol.into()));
        if !advertisements.is_empty() {
            entry.insert("bgp-advertisements".into(), Value::Array(advertisements));
        }
        out.paths.add(
            join(&legacy_path, "name"),
            format!("{}: metadata.name", obj.id()),
        );
        out.paths.add(legacy_path, path);
        out.pools.push(Value::Object(entry));
    }
}

/// Says how the pool's addresses are announced when it is not (only) over BGP.
fn announcement_note(ctx: &mut Ctx, pool: &Object, bgp: bool, l2: Option<&Advertisement>) {
    let id = pool.id();
    let note = match (bgp, l2) {
        (true, None) => return,
        (true, Some(l2)) => format!(
            "{id}: also selected by {}: announced over BGP only (FerroLB does not implement layer2)",
            l2.object.id()
        ),
        (false, Some(l2)) => format!(
            "{id}: selected by {} only: FerroLB allocates its addresses but does not announce \
             them (layer2 is not implemented)",
            l2.object.id()
        ),
        (false, None) => format!(
            "{id}: no BGPAdvertisement or L2Advertisement selects this pool: its addresses are \
             allocated but not announced"
        ),
    };
    ctx.warnings.push(note);
}

/// `spec.serviceAllocation`: which Services the pool is for. `namespaceSelectors` need the
/// Namespaces' labels, which FerroLB does not read: a warning says they select nothing.
fn service_allocation(
    ctx: &mut Ctx,
    path: &str,
    spec: &Map<String, Value>,
) -> Option<ServiceAllocation> {
    let value = spec.get("serviceAllocation")?;
    let p = join(path, "serviceAllocation");
    let allocation = ctx.object(&p, value, ALLOCATION_FIELDS)?;
    for field in ["namespaces", "namespaceSelectors", "serviceSelectors"] {
        reject_duplicates(ctx, &p, allocation, field);
    }
    let mut out = ServiceAllocation::default();
    if let Some(v) = allocation.get("priority") {
        out.priority = ctx
            .uint(&join(&p, "priority"), v, i32::MAX as u64)
            .map_or(0, |n| n as u32);
    }
    let names_path = join(&p, "namespaces");
    let names = ctx.list(
        &names_path,
        allocation.get("namespaces").unwrap_or(&Value::Null),
    );
    for (i, name) in names.iter().enumerate() {
        if let Some(name) = ctx.string(&index(&names_path, i), name) {
            out.namespaces.push(name);
        }
    }
    for (field, selectors) in [
        ("namespaceSelectors", &mut out.namespace_selectors),
        ("serviceSelectors", &mut out.service_selectors),
    ] {
        if let Some(v) = allocation.get(field) {
            *selectors = label_selectors(ctx, &join(&p, field), v);
        }
    }
    warn_unimplemented(
        ctx,
        &p,
        allocation,
        "namespaceSelectors",
        NAMESPACE_SELECTORS_IGNORED,
    );
    Some(out)
}

/// What both advertisement kinds share: the spec (with its fields checked), no selector written
/// twice, and the pools selected.
fn read_advertisement<'a>(
    ctx: &mut Ctx,
    obj: &Object<'a>,
    fields: &[&str],
    pools: &[Object],
) -> Option<(String, &'a Map<String, Value>, PoolSelection)> {
    let path = obj.spec_path();
    let spec = spec(ctx, &path, obj.spec, fields)?;
    for field in [
        "ipAddressPoolSelectors",
        "nodeSelectors",
        "serviceSelectors",
    ] {
        reject_duplicates(ctx, &path, spec, field);
    }
    let selection = PoolSelection::read(ctx, &path, spec);
    selection.warn_unknown(ctx, &path, pools);
    Some((path, spec, selection))
}

fn bgp_advertisement<'o, 'a>(
    ctx: &mut Ctx,
    obj: &'o Object<'a>,
    pools: &[Object],
    peers: &[Object],
) -> Option<Advertisement<'o, 'a>> {
    let (path, spec, selection) = read_advertisement(ctx, obj, BGP_ADV_FIELDS, pools)?;
    reject_duplicates(ctx, &path, spec, "peers");
    let mut entry = copy_fields(
        spec,
        &[
            "aggregationLength",
            "aggregationLengthV6",
            "localPref",
            "communities",
            "nodeSelectors",
            "serviceSelectors",
        ],
    );
    if spec.get("localPref").is_some_and(|v| v.as_u64() == Some(0)) {
        // Go's omitempty: 0 is "not set".
        entry.remove("localpref");
    }
    if let Some(v) = spec.get("aggregationLength") {
        if v.as_u64() == Some(0) {
            ctx.error(
                &join(&path, "aggregationLength"),
                Some(v),
                "must be at least 1",
            );
            entry.remove("aggregation-length");
        }
    }
    if is_set(spec.get("peers")) {
        entry.insert("peers".into(), peer_addresses(ctx, &path, spec, peers));
    }
    Some(Advertisement {
        object: obj,
        entry,
        pools: selection,
    })
}

fn l2_advertisement<'o, 'a>(
    ctx: &mut Ctx,
    obj: &'o Object<'a>,
    pools: &[Object],
) -> Option<Advertisement<'o, 'a>> {
    let (_, _, selection) = read_advertisement(ctx, obj, L2_ADV_FIELDS, pools)?;
    Some(Advertisement {
        object: obj,
        entry: Map::new(),
        pools: selection,
    })
}

/// `spec.peers` (BGPPeer names) as the peers' addresses; a name without a BGPPeer (or one
/// without an address) selects nothing, with a warning, as in MetalLB.
fn peer_addresses(ctx: &mut Ctx, path: &str, spec: &Map<String, Value>, peers: &[Object]) -> Value {
    let list_path = join(path, "peers");
    let mut out = Vec::new();
    let items = ctx.list(&list_path, spec.get("peers").unwrap_or(&Value::Null));
    for (i, item) in items.iter().enumerate() {
        let p = index(&list_path, i);
        let Some(name) = ctx.string(&p, item) else {
            continue;
        };
        let address = peers
            .iter()
            .find(|peer| peer.name == name)
            .and_then(|peer| peer.spec.get("peerAddress"))
            .filter(|a| a.is_string());
        match address {
            Some(a) => out.push(a.clone()),
            None => ctx.warnings.push(format!(
                "{p}: no BGPPeer named {name:?}; nothing is announced through this name"
            )),
        }
    }
    Value::Array(out)
}
