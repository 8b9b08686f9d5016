//! `IPAddressPool` v1beta1 with the `BGPAdvertisement`s and `L2Advertisement`s that select it:
//! the legacy `address-pools[]` with their `bgp-advertisements[]`.

use serde_json::{Map, Value};

use super::kinds::{ALLOCATION_FIELDS, BGP_ADV_FIELDS, L2_ADV_FIELDS, POOL_FIELDS};
use super::legacy::{copy_fields, is_set, spec, warn_unimplemented, Legacy};
use super::object::{Object, Objects};
use super::selection::PoolSelection;
use crate::parse::tree::{index, join, Ctx};

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
        service_allocation(ctx, &path, spec);
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

/// `spec.serviceAllocation`: read and reported; the allocator does not restrict pools yet.
fn service_allocation(ctx: &mut Ctx, path: &str, spec: &Map<String, Value>) {
    let Some(value) = spec.get("serviceAllocation") else {
        return;
    };
    let p = join(path, "serviceAllocation");
    let Some(allocation) = ctx.object(&p, value, ALLOCATION_FIELDS) else {
        return;
    };
    if let Some(v) = allocation.get("priority") {
        ctx.uint(&join(&p, "priority"), v, i32::MAX as u64);
    }
    let effect = "the pool is offered to every Service (FerroLB's allocator has no per-pool \
                  Service restriction)";
    for field in ["namespaces", "namespaceSelectors", "serviceSelectors"] {
        warn_unimplemented(ctx, &p, allocation, field, effect);
    }
    warn_unimplemented(
        ctx,
        &p,
        allocation,
        "priority",
        "pools are tried in document order",
    );
}

fn bgp_advertisement<'o, 'a>(
    ctx: &mut Ctx,
    obj: &'o Object<'a>,
    pools: &[Object],
    peers: &[Object],
) -> Option<Advertisement<'o, 'a>> {
    let path = obj.spec_path();
    let spec = spec(ctx, &path, obj.spec, BGP_ADV_FIELDS)?;
    let selection = PoolSelection::read(ctx, &path, spec);
    selection.warn_unknown(ctx, &path, pools);
    let mut entry = copy_fields(
        spec,
        &[
            "aggregationLength",
            "aggregationLengthV6",
            "localPref",
            "communities",
            "nodeSelectors",
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
    if is_set(spec.get("serviceSelectors")) {
        for (field, full) in [("aggregationLength", 32), ("aggregationLengthV6", 128)] {
            if let Some(v) = spec.get(field).filter(|v| v.as_u64() != Some(full)) {
                ctx.error(
                    &join(&path, field),
                    Some(v),
                    format!("only the default {full} can be combined with serviceSelectors"),
                );
            }
        }
    }
    if is_set(spec.get("peers")) {
        entry.insert("peers".into(), peer_addresses(ctx, &path, spec, peers));
    }
    warn_unimplemented(
        ctx,
        &path,
        spec,
        "serviceSelectors",
        "every Service of the selected pools is announced",
    );
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
    let path = obj.spec_path();
    let spec = spec(ctx, &path, obj.spec, L2_ADV_FIELDS)?;
    let selection = PoolSelection::read(ctx, &path, spec);
    selection.warn_unknown(ctx, &path, pools);
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
