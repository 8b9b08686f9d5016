//! From nft's JSON objects to [`Chain`]s and [`Expr`]s.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use super::model::{BaseChain, Chain, Condition, Expr, Op, Test};
use crate::snapshot::AddrMatch;

/// A `{"chain": {...}}` object.
pub(super) fn chain(c: &Value) -> Chain {
    let s = |k: &str| {
        c.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let base = c.get("hook").and_then(Value::as_str).map(|hook| BaseChain {
        kind: s("type"),
        hook: hook.to_string(),
        priority: c.get("prio").map(priority).unwrap_or(0),
        policy: c
            .get("policy")
            .and_then(Value::as_str)
            .unwrap_or("accept")
            .to_string(),
    });
    Chain {
        family: s("family"),
        table: s("table"),
        name: s("name"),
        base,
        rules: Vec::new(),
    }
}

/// A priority: a number, or a standard name (`srcnat`, `dstnat`, `filter`...).
fn priority(v: &Value) -> i64 {
    if let Some(n) = v.as_i64() {
        return n;
    }
    match v.as_str().unwrap_or_default() {
        "raw" => -300,
        "mangle" => -150,
        "dstnat" => -100,
        "security" => 50,
        "srcnat" => 100,
        _ => 0,
    }
}

/// The named sets of the rule set (`@name` in a rule), keyed by family, table and name, with
/// their elements as nft printed them (`None`: no elements listed).
#[derive(Debug, Default)]
pub(super) struct Sets(HashMap<(String, String, String), Option<Value>>);

impl Sets {
    /// Records a `{"set": {...}}` object.
    pub(super) fn add(&mut self, set: &Value) {
        let s = |k: &str| {
            set.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        self.0.insert(
            (s("family"), s("table"), s("name")),
            set.get("elem").cloned(),
        );
    }
}

/// Where a rule lives, to resolve its `@set` references.
pub(super) struct RuleContext<'a> {
    pub(super) sets: &'a Sets,
    pub(super) family: &'a str,
    pub(super) table: &'a str,
}

impl RuleContext<'_> {
    /// The elements of `@name` in the rule's table; an empty set has none. `None` when the
    /// set is unknown.
    fn set_elements(&self, reference: &str) -> Option<Value> {
        let name = reference.strip_prefix('@')?;
        let key = (
            self.family.to_string(),
            self.table.to_string(),
            name.to_string(),
        );
        let elems = self.sets.0.get(&key)?;
        Some(elems.clone().unwrap_or(Value::Array(Vec::new())))
    }
}

/// One element of a rule's `expr` list; `None` for statements without effect on the walk
/// (counters, logs, comments).
pub(super) fn expr(e: &Value, ctx: &RuleContext) -> Option<Expr> {
    let Value::Object(o) = e else {
        return Some(Expr::Opaque(e.to_string()));
    };
    let (kind, body) = o.iter().next()?;
    Some(match kind.as_str() {
        "match" => Expr::Match(condition(body, ctx)),
        "counter" | "log" | "limit" | "quota" => return None,
        "masquerade" => Expr::Translate("masquerade".into()),
        "snat" => Expr::Translate(format!(
            "snat to {}",
            body.get("addr")
                .map(|a| a.to_string().trim_matches('"').to_string())
                .unwrap_or_default()
        )),
        "jump" | "goto" => {
            let target = body
                .get("target")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if kind == "jump" {
                Expr::Jump(target)
            } else {
                Expr::Goto(target)
            }
        }
        "return" => Expr::Return,
        "accept" => Expr::Accept,
        "drop" | "reject" => Expr::Drop,
        "mangle" => match body.get("key") {
            Some(k) if is_key(k, "meta", "mark") => Expr::SetsMark,
            Some(k) if is_key(k, "ct", "mark") => Expr::SetsCtMark,
            _ => Expr::Opaque(format!("{kind} {body}")),
        },
        "xt" => xt(body),
        _ => Expr::Opaque(format!("{kind} {body}")),
    })
}

/// iptables-nft extensions nft cannot show natively.
fn xt(body: &Value) -> Expr {
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let is_match = body.get("type").and_then(Value::as_str) == Some("match");
    match (is_match, name) {
        (true, "comment") => Expr::Match(Condition {
            test: Test::Always,
            text: "(iptables comment)".into(),
        }),
        (true, other) => Expr::Match(Condition {
            test: Test::Opaque,
            text: format!("iptables match `{other}`"),
        }),
        (false, "MASQUERADE") => Expr::Translate("masquerade".into()),
        (false, "SNAT") => Expr::Translate("snat".into()),
        (false, "MARK") => Expr::SetsMark,
        (false, "CONNMARK") => Expr::SetsCtMark,
        (false, other) => Expr::Opaque(format!("iptables target `{other}`")),
    }
}

fn is_key(v: &Value, family: &str, key: &str) -> bool {
    v.get(family)
        .and_then(|m| m.get("key"))
        .and_then(Value::as_str)
        == Some(key)
}

fn condition(m: &Value, ctx: &RuleContext) -> Condition {
    let text = describe(m);
    let test = test(m, ctx).unwrap_or(Test::Opaque);
    Condition { test, text }
}

fn test(m: &Value, ctx: &RuleContext) -> Option<Test> {
    let op = Op::parse(m.get("op").and_then(Value::as_str))?;
    let left = m.get("left")?;
    let right = m.get("right")?;
    // `meta mark & 0x4000`: the mask is the second operand of `&`.
    let (key, mask) = match left.get("&").and_then(Value::as_array) {
        Some(pair) if pair.len() == 2 => (&pair[0], Some(u32::try_from(pair[1].as_u64()?).ok()?)),
        _ => (left, None),
    };
    if let Some(payload) = key.get("payload") {
        if mask.is_some() {
            return None;
        }
        return match right.as_str().and_then(|r| ctx.set_elements(r)) {
            Some(elements) => address(payload, op, &elements),
            None => address(payload, op, right),
        };
    }
    if is_key(key, "meta", "oifname") || is_key(key, "meta", "iifname") {
        return Some(Test::Ifname {
            out: is_key(key, "meta", "oifname"),
            op,
            names: strings(right)?,
        });
    }
    if is_key(key, "meta", "mark") || is_key(key, "ct", "mark") {
        return Some(Test::Mark {
            ct: key.get("ct").is_some(),
            mask: mask.unwrap_or(u32::MAX),
            op,
            values: numbers(right)?,
        });
    }
    if (is_key(key, "ct", "state") || is_key(key, "ct", "status")) && mask.is_none() {
        return Some(Test::CtFlags {
            status: is_key(key, "ct", "status"),
            op,
            flags: strings(right)?,
        });
    }
    if let Some(fib) = key.get("fib") {
        let flags = strings(fib.get("flags")?)?;
        let result = fib.get("result").and_then(Value::as_str)?;
        let daddr = match flags.as_slice() {
            [f] if f == "daddr" => true,
            [f] if f == "saddr" => false,
            _ => return None,
        };
        if result != "type" || mask.is_some() {
            return None;
        }
        return Some(Test::FibType {
            daddr,
            op,
            types: strings(right)?,
        });
    }
    None
}

/// `ip saddr X` / `ip6 daddr != {..}` (a named set's elements resolved); `None` for other
/// payload fields.
fn address(payload: &Value, op: Op, right: &Value) -> Option<Test> {
    let proto = payload.get("protocol")?.as_str()?;
    if proto != "ip" && proto != "ip6" {
        return None;
    }
    let nets = nets_of(right)?;
    let m = AddrMatch {
        negated: op == Op::Ne,
        nets,
    };
    match payload.get("field")?.as_str()? {
        "saddr" => Some(Test::Saddr(m)),
        "daddr" => Some(Test::Daddr(m)),
        _ => None,
    }
}

/// The prefixes of an address, prefix, set or range; `None` when any part is not one (a named
/// set `@name`, a concatenation), so the condition stays unevaluated.
fn nets_of(v: &Value) -> Option<Vec<IpNet>> {
    match v {
        Value::String(s) => s
            .parse::<IpAddr>()
            .ok()
            .map(IpNet::from)
            .or_else(|| s.parse::<IpNet>().ok())
            .map(|n| vec![n]),
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                let addr = p.get("addr")?.as_str()?.parse::<IpAddr>().ok()?;
                let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
                IpNet::new(addr, len).ok().map(|n| vec![n])
            } else if let Some(set) = o.get("set") {
                nets_of(set)
            } else if let Some(Value::Array(r)) = o.get("range") {
                range(r)
            } else {
                None
            }
        }
        Value::Array(items) => items
            .iter()
            .map(nets_of)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat()),
        _ => None,
    }
}

/// A range `a-b` as the prefixes that cover exactly it (IPv4 only; else unevaluated).
fn range(r: &[Value]) -> Option<Vec<IpNet>> {
    let [a, b] = r else { return None };
    let a: std::net::Ipv4Addr = a.as_str()?.parse().ok()?;
    let b: std::net::Ipv4Addr = b.as_str()?.parse().ok()?;
    Some(ipnet::Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect())
}

/// A string or a list/set of strings.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(String::from)).collect(),
        Value::Object(o) => strings(o.get("set")?),
        _ => None,
    }
}

/// A number or a list/set of numbers (nft may print marks as numbers or `0x..` strings).
fn numbers(v: &Value) -> Option<Vec<u32>> {
    match v {
        Value::Number(n) => Some(vec![u32::try_from(n.as_u64()?).ok()?]),
        Value::String(s) => {
            let s = s.trim();
            let n = match s.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => s.parse().ok()?,
            };
            Some(vec![n])
        }
        Value::Array(items) => items
            .iter()
            .map(numbers)
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat()),
        Value::Object(o) => numbers(o.get("set")?),
        _ => None,
    }
}

/// The condition as text: `meta mark & 0x4000 != 0x4000`, `ip saddr 10.244.0.0/16`.
fn describe(m: &Value) -> String {
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    let left = m.get("left").map(operand).unwrap_or_default();
    let right = m.get("right").map(operand).unwrap_or_default();
    format!("{left} {op} {right}")
}

fn operand(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_u64() {
            Some(x) if x >= 256 => format!("{x:#x}"),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "{{ {} }}",
            items.iter().map(operand).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(o) => {
            if let Some(p) = o.get("payload") {
                let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
                format!("{} {}", s("protocol"), s("field"))
            } else if let Some(pair) = o.get("&").and_then(Value::as_array) {
                pair.iter().map(operand).collect::<Vec<_>>().join(" & ")
            } else if let Some(p) = o.get("prefix") {
                let s = |k: &str| p.get(k).map(operand).unwrap_or_default();
                format!("{}/{}", s("addr"), s("len"))
            } else if let Some(set) = o.get("set") {
                operand(set)
            } else if let Some((k, body)) = o.iter().next() {
                match body.get("key").and_then(Value::as_str) {
                    Some(key) => format!("{k} {key}"),
                    None => format!("{k} {body}"),
                }
            } else {
                String::new()
            }
        }
        other => other.to_string(),
    }
}
