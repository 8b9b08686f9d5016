//! `bfd-profiles[]`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::tree::{index, join, Ctx};
use crate::model::BfdProfile;

const BFD_KEYS: &[&str] = &[
    "name",
    "receive-interval",
    "transmit-interval",
    "detect-multiplier",
    "echo-interval",
    "echo-mode",
    "passive-mode",
    "minimum-ttl",
];

pub(crate) fn profiles(ctx: &mut Ctx, value: &Value) -> Vec<BfdProfile> {
    let items = ctx.list("bfd-profiles", value);
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let path = index("bfd-profiles", i);
        let Some(map) = ctx.object(&path, item, BFD_KEYS) else {
            continue;
        };
        let before = ctx.errors.len();
        let name = match map.get("name") {
            None | Some(Value::Null) => {
                ctx.error(&join(&path, "name"), None, "missing (required)");
                None
            }
            Some(v) => ctx.string(&join(&path, "name"), v),
        };
        if let Some(n) = &name {
            if !names.insert(n.clone()) {
                ctx.error_text(&join(&path, "name"), n, "duplicate BFD profile name");
            }
        }
        let receive = bounded(ctx, &path, map, "receive-interval", 300, 10, 60000);
        let transmit = bounded(ctx, &path, map, "transmit-interval", 300, 10, 60000);
        let multiplier = bounded(ctx, &path, map, "detect-multiplier", 3, 2, 255);
        let echo = bounded(ctx, &path, map, "echo-interval", 50, 10, 60000);
        let min_ttl = bounded(ctx, &path, map, "minimum-ttl", 254, 1, 254);
        let echo_mode = flag(ctx, &path, map, "echo-mode");
        let passive_mode = flag(ctx, &path, map, "passive-mode");
        unimplemented_echo(ctx, &path, map, echo_mode);
        if ctx.errors.len() != before {
            continue;
        }
        if let (Some(name), Some(r), Some(t), Some(m), Some(e), Some(ttl)) =
            (name, receive, transmit, multiplier, echo, min_ttl)
        {
            out.push(BfdProfile {
                name,
                receive_interval_ms: r,
                transmit_interval_ms: t,
                detect_multiplier: m,
                echo_interval_ms: e,
                echo_mode,
                passive_mode,
                minimum_ttl: ttl,
            });
        }
    }
    out
}

fn bounded(
    ctx: &mut Ctx,
    path: &str,
    map: &Map<String, Value>,
    key: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Option<u32> {
    let Some(v) = map.get(key) else {
        return Some(default);
    };
    let p = join(path, key);
    let n = ctx.uint(&p, v, u64::from(u32::MAX))? as u32;
    if !(min..=max).contains(&n) {
        ctx.error(&p, Some(v), format!("must be in {min}..={max}"));
        return None;
    }
    Some(n)
}

fn flag(ctx: &mut Ctx, path: &str, map: &Map<String, Value>, key: &str) -> bool {
    map.get(key)
        .and_then(|v| ctx.boolean(&join(path, key), v))
        .unwrap_or(false)
}

/// Why `echo-mode: true` is an error (the CRD descriptions say the same).
pub(crate) const ECHO_MODE_REJECTED: &str =
    "the BFD Echo function is not implemented by FerroLB; remove it or set false";
/// Why an `echo-interval` has no effect.
pub(crate) const ECHO_UNIMPLEMENTED: &str = "FerroLB does not implement the BFD Echo function";

/// FerroLB's BFD has no Echo function: `echo-mode: true` is an error (the user asks for
/// something that would not happen), an `echo-interval` is a warning (it has no effect).
fn unimplemented_echo(ctx: &mut Ctx, path: &str, map: &Map<String, Value>, echo_mode: bool) {
    if echo_mode {
        ctx.error(
            &join(path, "echo-mode"),
            map.get("echo-mode"),
            ECHO_MODE_REJECTED,
        );
    }
    if let Some(v) = map.get("echo-interval") {
        ctx.warnings.push(format!(
            "{}: {} is ignored: {ECHO_UNIMPLEMENTED}",
            join(path, "echo-interval"),
            super::tree::show(v)
        ));
    }
}
