//! Masquerade/SNAT rules and destination-address matches from nftables, read with
//! `nft -j list ruleset` (iptables-nft rules appear there too). Read-only.

mod conditions;
pub mod egress;
pub mod model;
mod parse;

use serde_json::Value;

pub use model::{BaseChain, Chain, ChainRule, Condition, Expr, Op, Test};

use crate::snapshot::NatRules;

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

/// Parses the JSON of `nft -j list ruleset`: every chain with its rules, and the destination
/// addresses any rule matches.
pub fn parse_ruleset(v: &Value) -> NatRules {
    let mut out = NatRules {
        available: true,
        ..NatRules::default()
    };
    let Some(items) = v.get("nftables").and_then(Value::as_array) else {
        return out;
    };
    let mut sets = parse::Sets::default();
    for item in items {
        if let Some(chain) = item.get("chain") {
            out.chains.push(parse::chain(chain));
        } else if let Some(set) = item.get("set") {
            sets.add(set);
        }
    }
    for item in items {
        let Some(rule) = item.get("rule") else {
            continue;
        };
        let Some(exprs) = rule.get("expr").and_then(Value::as_array) else {
            continue;
        };
        let key = |k: &str| rule.get(k).and_then(Value::as_str).unwrap_or_default();
        let ctx = parse::RuleContext {
            sets: &sets,
            family: key("family"),
            table: key("table"),
        };
        let parsed = ChainRule {
            handle: rule.get("handle").and_then(Value::as_u64),
            exprs: exprs.iter().filter_map(|e| parse::expr(e, &ctx)).collect(),
        };
        for c in parsed.conditions() {
            if let Test::Daddr(m) = &c.test {
                if !m.negated {
                    out.daddr_matches.extend(m.nets.iter().copied());
                }
            }
        }
        let (family, table, chain) = (key("family"), key("table"), key("chain"));
        match out
            .chains
            .iter_mut()
            .find(|c| c.family == family && c.table == table && c.name == chain)
        {
            Some(c) => c.rules.push(parsed),
            None => out.chains.push(Chain {
                family: family.into(),
                table: table.into(),
                name: chain.into(),
                base: None,
                rules: vec![parsed],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn sample() -> NatRules {
        let v: Value = serde_json::from_str(include_str!("sample.json")).unwrap();
        parse_ruleset(&v)
    }

    #[test]
    fn finds_chains_rules_and_their_conditions() {
        let r = sample();
        let post = r
            .chains
            .iter()
            .find(|c| c.name == "postrouting")
            .expect("postrouting chain");
        assert!(post.is_nat_postrouting());
        let translations: Vec<_> = post.rules.iter().filter_map(|r| r.translation()).collect();
        assert_eq!(translations, ["masquerade", "snat to 10.255.1.2"]);
        let masq = &post.rules[0];
        let tests: Vec<_> = masq.conditions().map(|c| &c.test).collect();
        assert!(matches!(tests[0], Test::Saddr(m) if !m.negated));
        assert!(matches!(tests[1], Test::Daddr(m) if m.negated && m.nets.len() == 2));
        assert!(matches!(tests[2], Test::Ifname { out: true, names, .. } if names == &["eth0"]));
        assert!(masq.describe(post).contains("oifname == eth0"));
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
            assert!(parse_ruleset(&v).chains.is_empty());
        }
    }
}
