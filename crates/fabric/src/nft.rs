//! Masquerade/SNAT rules and destination-address matches from nftables, read with
//! `nft -j list ruleset` (iptables-nft rules appear there too). Read-only.

use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::Value;

use crate::snapshot::{AddrMatch, NatRule, NatRules};

/// Runs `nft -j list ruleset` and parses it; says why when it cannot.
pub fn read_nat_rules() -> NatRules {
    match std::process::Command::new("nft")
        .args(["-j", "list", "ruleset"])
        .output()
    {
        Ok(out) if out.status.success() => match serde_json::from_slice::<Value>(&out.stdout) {
            Ok(v) => {
                let mut rules = parse_ruleset(&v);
                rules.source = "nft -j list ruleset".into();
                rules
            }
            Err(e) => unavailable(format!("nft -j list ruleset printed invalid JSON: {e}")),
        },
        Ok(out) => unavailable(format!(
            "nft -j list ruleset failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => unavailable(format!("cannot run nft: {e}")),
    }
}

fn unavailable(reason: String) -> NatRules {
    NatRules {
        available: false,
        source: reason,
        ..NatRules::default()
    }
}

/// Parses the JSON of `nft -j list ruleset`.
pub fn parse_ruleset(v: &Value) -> NatRules {
    let mut out = NatRules {
        available: true,
        ..NatRules::default()
    };
    let Some(items) = v.get("nftables").and_then(Value::as_array) else {
        return out;
    };
    for item in items {
        let Some(rule) = item.get("rule") else {
            continue;
        };
        let Some(exprs) = rule.get("expr").and_then(Value::as_array) else {
            continue;
        };
        let mut saddr = Vec::new();
        let mut daddr = Vec::new();
        let mut other = Vec::new();
        let mut action = None;
        for e in exprs {
            if let Some(m) = e.get("match") {
                match address_match(m) {
                    Some(("saddr", am)) => saddr.push(am),
                    Some((_, am)) => {
                        if !am.negated {
                            out.daddr_matches.extend(am.nets.iter().copied());
                        }
                        daddr.push(am)
                    }
                    None => other.push(describe_match(m)),
                }
            } else if e.get("masquerade").is_some() {
                action = Some("masquerade".to_string());
            } else if let Some(s) = e.get("snat") {
                let to = s
                    .get("addr")
                    .map(|a| a.to_string().trim_matches('"').to_string())
                    .unwrap_or_default();
                action = Some(format!("snat to {to}"));
            } else if let Some(xt) = e.get("xt") {
                // iptables-nft targets that nft cannot translate show up as xt objects.
                let name = xt.get("name").and_then(Value::as_str).unwrap_or("");
                if name == "MASQUERADE" || name == "SNAT" {
                    action = Some(name.to_lowercase());
                }
            }
        }
        if let Some(action) = action {
            let s = |k: &str| {
                rule.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            out.snat.push(NatRule {
                family: s("family"),
                table: s("table"),
                chain: s("chain"),
                handle: rule.get("handle").and_then(Value::as_u64),
                action,
                saddr,
                daddr,
                other_conditions: other,
            });
        }
    }
    out
}

fn describe_match(m: &Value) -> String {
    let left = m.get("left").map(|l| l.to_string()).unwrap_or_default();
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    let right = m.get("right").map(|r| r.to_string()).unwrap_or_default();
    format!("{left} {op} {right}")
}

/// `ip saddr X` / `ip6 daddr != {..}` -> ("saddr"|"daddr", match).
fn address_match(m: &Value) -> Option<(&'static str, AddrMatch)> {
    let payload = m.get("left")?.get("payload")?;
    let proto = payload.get("protocol")?.as_str()?;
    if proto != "ip" && proto != "ip6" {
        return None;
    }
    let field = match payload.get("field")?.as_str()? {
        "saddr" => "saddr",
        "daddr" => "daddr",
        _ => return None,
    };
    let negated = m.get("op").and_then(Value::as_str) == Some("!=");
    let nets = nets_of(m.get("right")?);
    if nets.is_empty() {
        return None;
    }
    Some((field, AddrMatch { negated, nets }))
}

fn nets_of(v: &Value) -> Vec<IpNet> {
    match v {
        Value::String(s) => s
            .parse::<IpAddr>()
            .ok()
            .map(IpNet::from)
            .or_else(|| s.parse::<IpNet>().ok())
            .into_iter()
            .collect(),
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                let addr = p
                    .get("addr")
                    .and_then(Value::as_str)
                    .and_then(|a| a.parse::<IpAddr>().ok());
                let len = p
                    .get("len")
                    .and_then(Value::as_u64)
                    .and_then(|l| u8::try_from(l).ok());
                match (addr, len) {
                    (Some(a), Some(l)) => IpNet::new(a, l).ok().into_iter().collect(),
                    _ => Vec::new(),
                }
            } else if let Some(set) = o.get("set") {
                nets_of(set)
            } else if let Some(Value::Array(r)) = o.get("range") {
                // A range a-b: covered by the prefixes between; approximate by its ends.
                r.iter().flat_map(nets_of).collect()
            } else {
                Vec::new()
            }
        }
        Value::Array(items) => items.iter().flat_map(nets_of).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> NatRules {
        let v: Value = serde_json::from_str(include_str!("nft_sample.json")).unwrap();
        parse_ruleset(&v)
    }

    #[test]
    fn finds_masquerade_and_snat_with_their_conditions() {
        let r = sample();
        assert_eq!(r.snat.len(), 2, "{:#?}", r.snat);
        let masq = &r.snat[0];
        assert_eq!(masq.action, "masquerade");
        assert_eq!(masq.chain, "postrouting");
        let src: IpAddr = "10.255.1.7".parse().unwrap();
        let pod: IpAddr = "10.244.1.2".parse().unwrap();
        let outside: IpAddr = "10.255.9.2".parse().unwrap();
        assert!(masq.covers(src, outside));
        assert!(!masq.covers(src, pod), "daddr != pod range excludes pods");
        assert!(!masq.covers(pod, outside), "saddr is the link range only");
        assert_eq!(masq.other_conditions.len(), 1, "oifname is kept as text");
        assert!(r.snat[1].covers(pod, outside));
        assert_eq!(r.snat[1].action, "snat to 10.255.1.2");
    }

    #[test]
    fn collects_destination_matches_for_dnat_rules() {
        let r = sample();
        let vip: IpAddr = "198.51.100.10".parse().unwrap();
        assert!(r.daddr_matches.iter().any(|n| n.contains(&vip)));
    }

    #[test]
    fn odd_json_gives_no_rules_and_no_panic() {
        for text in [
            "{}",
            "[]",
            "{\"nftables\": 3}",
            "{\"nftables\": [{\"rule\": {\"expr\": 5}}]}",
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert!(parse_ruleset(&v).snat.is_empty());
        }
    }
}
