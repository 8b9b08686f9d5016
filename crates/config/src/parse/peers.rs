//! `peers[]`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::{Map, Value};

use super::duration::parse_go_duration;
use super::tree::{index, join, Ctx};
use crate::model::{BfdProfile, Password, Peer, SecretRef, DEFAULT_BGP_PORT, DEFAULT_HOLD_TIME};
use crate::selector::{NodeSelector, SelectorOperator, SelectorRequirement};

const PEER_KEYS: &[&str] = &[
    "peer-address",
    "peer-asn",
    "my-asn",
    "peer-port",
    "source-address",
    "hold-time",
    "keepalive-time",
    "router-id",
    "node-selectors",
    "password",
    "password-secret",
    "bfd-profile",
    "ebgp-multihop",
    "advertise-pod-cidr",
    "max-prefix",
];
const SELECTOR_KEYS: &[&str] = &["match-labels", "match-expressions"];
const EXPRESSION_KEYS: &[&str] = &["key", "operator", "values"];
const SECRET_KEYS: &[&str] = &["name", "namespace", "key"];

pub(crate) fn peers(ctx: &mut Ctx, value: &Value, bfd: &[BfdProfile]) -> Vec<Peer> {
    let items = ctx.list("peers", value);
    let parsed: Vec<(usize, Peer)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| Some((i, peer(ctx, &index("peers", i), v, bfd)?)))
        .collect();
    super::peer_identity::check(ctx, &parsed);
    parsed.into_iter().map(|(_, p)| p).collect()
}

fn peer(ctx: &mut Ctx, path: &str, value: &Value, bfd: &[BfdProfile]) -> Option<Peer> {
    let map = ctx.object(path, value, PEER_KEYS)?;
    let errors_before = ctx.errors.len();

    let address = required(ctx, path, map, "peer-address").and_then(|(p, v)| ip(ctx, &p, v));
    let peer_asn = required(ctx, path, map, "peer-asn").and_then(|(p, v)| asn(ctx, &p, v));
    let my_asn = required(ctx, path, map, "my-asn").and_then(|(p, v)| asn(ctx, &p, v));
    let port = match map.get("peer-port") {
        None => Some(DEFAULT_BGP_PORT),
        Some(v) => ctx
            .uint(&join(path, "peer-port"), v, u64::from(u16::MAX))
            .map(|p| if p == 0 { DEFAULT_BGP_PORT } else { p as u16 }),
    };
    let source_address = map
        .get("source-address")
        .and_then(|v| ip(ctx, &join(path, "source-address"), v));
    let hold_time = match map.get("hold-time") {
        None => Some(DEFAULT_HOLD_TIME),
        Some(v) => duration(ctx, &join(path, "hold-time"), v),
    };
    if let Some(hold) = hold_time {
        if hold != Duration::ZERO && hold < Duration::from_secs(3) {
            ctx.error(
                &join(path, "hold-time"),
                map.get("hold-time"),
                "hold time must be 0 (no keepalives) or at least 3s",
            );
        }
    }
    let keepalive_time = match map.get("keepalive-time") {
        None => hold_time.map(|h| h / 3),
        Some(v) => duration(ctx, &join(path, "keepalive-time"), v),
    };
    if let (Some(hold), Some(keepalive)) = (hold_time, keepalive_time) {
        if keepalive > hold {
            ctx.error(
                &join(path, "keepalive-time"),
                map.get("keepalive-time"),
                format!(
                    "keepalive time must not be longer than the hold time ({}s)",
                    hold.as_secs_f64()
                ),
            );
        }
    }
    let router_id = map.get("router-id").and_then(|v| {
        let p = join(path, "router-id");
        let text = ctx.string(&p, v)?;
        match text.trim().parse::<Ipv4Addr>() {
            Ok(id) => Some(id),
            Err(_) => {
                ctx.error_text(&p, &text, "router ID must be an IPv4 address");
                None
            }
        }
    });
    let node_selectors = map
        .get("node-selectors")
        .map(|v| selectors(ctx, &join(path, "node-selectors"), v))
        .unwrap_or_default();
    let password = map.get("password").and_then(|v| {
        let p = join(path, "password");
        match v {
            Value::String(s) if !s.is_empty() => Some(Password::new(s.clone())),
            Value::String(_) | Value::Null => None,
            Value::Number(n) => Some(Password::new(n.to_string())),
            _ => {
                // Never echo a password: report the path only.
                ctx.error(&p, None, "expected the password as a string");
                None
            }
        }
    });
    let password_secret = map
        .get("password-secret")
        .and_then(|v| secret_ref(ctx, &join(path, "password-secret"), v));
    if password.is_some() && password_secret.is_some() {
        ctx.error(
            &join(path, "password-secret"),
            None,
            "give either password or password-secret, not both",
        );
    }
    let bfd_profile = map.get("bfd-profile").and_then(|v| {
        let p = join(path, "bfd-profile");
        let name = ctx.string(&p, v)?;
        if name.is_empty() {
            return None;
        }
        if !bfd.iter().any(|b| b.name == name) {
            ctx.error_text(&p, &name, "no BFD profile with this name in bfd-profiles");
        }
        Some(name)
    });
    let ebgp_multihop = map
        .get("ebgp-multihop")
        .and_then(|v| ctx.boolean(&join(path, "ebgp-multihop"), v))
        .unwrap_or(false);
    if let (true, Some(a), Some(b)) = (ebgp_multihop, my_asn, peer_asn) {
        if a == b {
            ctx.error(
                &join(path, "ebgp-multihop"),
                map.get("ebgp-multihop"),
                "ebgp-multihop cannot be set for an iBGP peer (my-asn equals peer-asn)",
            );
        }
    }
    let advertise_pod_cidr = map
        .get("advertise-pod-cidr")
        .and_then(|v| ctx.boolean(&join(path, "advertise-pod-cidr"), v))
        .unwrap_or(false);
    let max_prefix = map
        .get("max-prefix")
        .and_then(|v| ctx.uint(&join(path, "max-prefix"), v, u64::from(u32::MAX)))
        .map(|n| n as u32);

    if ctx.errors.len() != errors_before {
        return None;
    }
    Some(Peer {
        address: address?,
        peer_asn: peer_asn?,
        my_asn: my_asn?,
        port: port?,
        source_address,
        hold_time: hold_time?,
        keepalive_time: keepalive_time?,
        router_id,
        node_selectors,
        password,
        password_secret,
        bfd_profile,
        ebgp_multihop,
        advertise_pod_cidr,
        max_prefix,
    })
}

fn required<'a>(
    ctx: &mut Ctx,
    path: &str,
    map: &'a Map<String, Value>,
    key: &str,
) -> Option<(String, &'a Value)> {
    let p = join(path, key);
    match map.get(key) {
        Some(Value::Null) | None => {
            ctx.error(&p, None, "missing (required)");
            None
        }
        Some(v) => Some((p, v)),
    }
}

fn ip(ctx: &mut Ctx, path: &str, value: &Value) -> Option<IpAddr> {
    let text = ctx.string(path, value)?;
    match text.trim().parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            ctx.error_text(path, &text, "not an IP address");
            None
        }
    }
}

fn asn(ctx: &mut Ctx, path: &str, value: &Value) -> Option<u32> {
    let n = ctx.uint(path, value, u64::from(u32::MAX))?;
    if n == 0 {
        ctx.error(path, Some(value), "AS number 0 is reserved");
        return None;
    }
    Some(n as u32)
}

fn duration(ctx: &mut Ctx, path: &str, value: &Value) -> Option<Duration> {
    match value {
        Value::Number(n) => match n.as_u64() {
            Some(secs) => {
                ctx.warnings.push(format!(
                    "{path}: {secs} has no unit; read as {secs}s (MetalLB would reject it)"
                ));
                Some(Duration::from_secs(secs))
            }
            None => {
                ctx.error(path, Some(value), "expected a duration such as 90s");
                None
            }
        },
        Value::String(s) => match parse_go_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                ctx.error_text(path, s, e);
                None
            }
        },
        other => {
            ctx.error(path, Some(other), "expected a duration such as 90s");
            None
        }
    }
}

pub(crate) fn selectors(ctx: &mut Ctx, path: &str, value: &Value) -> Vec<NodeSelector> {
    let items = ctx.list(path, value);
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(path, i);
        let Some(map) = ctx.object(&p, item, SELECTOR_KEYS) else {
            continue;
        };
        let mut sel = NodeSelector::default();
        if let Some(v) = map.get("match-labels") {
            sel.match_labels = labels(ctx, &join(&p, "match-labels"), v);
        }
        if let Some(v) = map.get("match-expressions") {
            let ep = join(&p, "match-expressions");
            for (j, e) in ctx.list(&ep, v).iter().enumerate() {
                if let Some(r) = expression(ctx, &index(&ep, j), e) {
                    sel.match_expressions.push(r);
                }
            }
        }
        out.push(sel);
    }
    out
}

fn labels(ctx: &mut Ctx, path: &str, value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(s) = ctx.string(&join(path, k), v) {
                    out.insert(k.clone(), s);
                }
            }
        }
        Value::Null => {}
        other => ctx.error(path, Some(other), "expected a mapping of label: value"),
    }
    out
}

fn expression(ctx: &mut Ctx, path: &str, value: &Value) -> Option<SelectorRequirement> {
    let map = ctx.object(path, value, EXPRESSION_KEYS)?;
    let key = required(ctx, path, map, "key").and_then(|(p, v)| ctx.string(&p, v));
    let operator = required(ctx, path, map, "operator").and_then(|(p, v)| {
        let text = ctx.string(&p, v)?;
        let op = SelectorOperator::parse(&text);
        if op.is_none() {
            ctx.error_text(
                &p,
                &text,
                "operator must be In, NotIn, Exists or DoesNotExist",
            );
        }
        op
    });
    let values: Vec<String> = match map.get("values") {
        None => Vec::new(),
        Some(v) => {
            let vp = join(path, "values");
            let items = ctx.list(&vp, v);
            items
                .iter()
                .enumerate()
                .filter_map(|(i, x)| ctx.string(&index(&vp, i), x))
                .collect()
        }
    };
    let operator = operator?;
    match operator {
        SelectorOperator::In | SelectorOperator::NotIn if values.is_empty() => {
            ctx.error(
                &join(path, "values"),
                None,
                format!("operator {operator} needs at least one value"),
            );
            return None;
        }
        SelectorOperator::Exists | SelectorOperator::DoesNotExist if !values.is_empty() => {
            ctx.error(
                &join(path, "values"),
                map.get("values"),
                format!("operator {operator} takes no values"),
            );
            return None;
        }
        _ => {}
    }
    Some(SelectorRequirement {
        key: key?,
        operator,
        values,
    })
}

fn secret_ref(ctx: &mut Ctx, path: &str, value: &Value) -> Option<SecretRef> {
    let map = ctx.object(path, value, SECRET_KEYS)?;
    let name = required(ctx, path, map, "name").and_then(|(p, v)| ctx.string(&p, v));
    let key = required(ctx, path, map, "key").and_then(|(p, v)| ctx.string(&p, v));
    let namespace = map
        .get("namespace")
        .and_then(|v| ctx.string(&join(path, "namespace"), v))
        .filter(|s| !s.is_empty());
    Some(SecretRef {
        name: name?,
        namespace,
        key: key?,
    })
}
