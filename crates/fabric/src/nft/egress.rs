//! Would the nat postrouting hook source-NAT a connection's first packet? A walk of the rule
//! set with three-valued conditions: what it cannot evaluate (set lookups, xt matches, a mark
//! another statement set) makes the answer "unknown", never "covered".
//!
//! The walk follows the kernel: nat base chains on postrouting in priority order, each rule's
//! conditions in order, `jump`/`goto` with their own conditions, `return` back to the caller,
//! and the first `masquerade`/`snat` ends it.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::conditions::{eval, Tri};
use super::model::{Chain, ChainRule, Condition, Expr};
use crate::snapshot::NatRules;

/// How deep jumps may nest before the walk gives up (nft itself allows 16).
const MAX_DEPTH: usize = 16;
/// How many rule visits the walk may make before it gives up (each unknown condition forks).
const MAX_STEPS: usize = 20_000;

/// The first packet of a connection as it reaches postrouting.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Source address (the pod).
    pub src: IpAddr,
    /// Destination address (after any DNAT).
    pub dst: IpAddr,
    /// The interface it came in on, when known.
    pub iif: Option<String>,
    /// The interface it leaves through, when known.
    pub oif: Option<String>,
    /// Whether the connection was destination-NATed (`ct status dnat`).
    pub dnat: bool,
    /// The node's own addresses (for `fib ... type local`).
    pub local: Vec<IpNet>,
}

/// The answer for one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Coverage {
    /// Every path through the hook ends in one of these rules.
    Covered {
        /// The translating rules.
        rules: Vec<String>,
    },
    /// No path ends in a translation.
    NotCovered {
        /// Why each masquerade/SNAT rule does not apply.
        reasons: Vec<String>,
        /// Commands that reconnect a chain whose masquerade/SNAT rule would apply by its own
        /// conditions but that no nat postrouting hook reaches (a lost jump).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        reconnect: Vec<String>,
    },
    /// Depends on conditions the doctor cannot evaluate.
    Unknown {
        /// The conditions and statements that decide it.
        reasons: Vec<String>,
    },
}

impl Coverage {
    /// `covered`, `not-covered` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            Coverage::Covered { .. } => "covered",
            Coverage::NotCovered { .. } => "not-covered",
            Coverage::Unknown { .. } => "unknown",
        }
    }
}

/// One possible path of the packet: what is known about it at this point.
#[derive(Debug, Clone)]
struct Branch {
    mark: Option<u32>,
    ct_mark: Option<u32>,
    /// Unknown conditions taken one way on this path.
    assumed: Vec<String>,
    /// Rules that returned or accepted on this path.
    trail: Vec<String>,
}

#[derive(Debug, Clone)]
enum End {
    /// Fell off the chain's end or `return`ed.
    Passed,
    Accepted,
    Translated(String),
    Dropped,
    Unknown(String),
}

/// Whether `nat`'s postrouting hook would source-NAT `t`.
pub fn coverage(nat: &NatRules, t: &Traffic) -> Coverage {
    let walk = Walk {
        nat,
        t,
        steps: Cell::new(0),
    };
    let v4 = t.src.is_ipv4();
    let mut bases: Vec<&Chain> = nat
        .chains
        .iter()
        .filter(|c| c.is_nat_postrouting() && c.sees_family(v4))
        .collect();
    bases.sort_by_key(|c| c.base.as_ref().map(|b| b.priority));
    let start = Branch {
        mark: Some(0),
        ct_mark: Some(0),
        assumed: Vec::new(),
        trail: Vec::new(),
    };
    let mut live = vec![start];
    let mut finals = Vec::new();
    for base in bases {
        let mut next = Vec::new();
        for b in live {
            for (b, end) in walk.chain(base, b, 0) {
                match end {
                    End::Passed | End::Accepted => next.push(b),
                    other => finals.push((b, other)),
                }
            }
        }
        live = next;
    }
    finals.extend(live.into_iter().map(|b| (b, End::Passed)));
    walk.verdict(&finals)
}

struct Walk<'a> {
    nat: &'a NatRules,
    t: &'a Traffic,
    steps: Cell<usize>,
}

impl Walk<'_> {
    fn chain(&self, chain: &Chain, b: Branch, depth: usize) -> Vec<(Branch, End)> {
        if depth > MAX_DEPTH {
            let why = format!("jumps nest deeper than {MAX_DEPTH} at chain {}", chain.name);
            return vec![(b, End::Unknown(why))];
        }
        let mut live = vec![b];
        let mut out = Vec::new();
        for rule in &chain.rules {
            self.steps.set(self.steps.get() + live.len());
            if self.steps.get() > MAX_STEPS {
                let why = format!("the rule set has too many paths (over {MAX_STEPS} rule visits)");
                out.extend(live.into_iter().map(|b| (b, End::Unknown(why.clone()))));
                return out;
            }
            let mut next = Vec::new();
            for b in live {
                let (cont, ends) = self.rule(chain, rule, b, depth);
                next.extend(cont);
                out.extend(ends);
            }
            live = next;
        }
        out.extend(live.into_iter().map(|b| (b, End::Passed)));
        out
    }

    /// Runs one rule: the branches that go on to the next rule, and those that ended.
    fn rule(
        &self,
        chain: &Chain,
        rule: &ChainRule,
        b: Branch,
        depth: usize,
    ) -> (Vec<Branch>, Vec<(Branch, End)>) {
        let mut subs = vec![b];
        let mut cont = Vec::new();
        let mut ends = Vec::new();
        for e in &rule.exprs {
            let mut next = Vec::new();
            for mut s in subs {
                match e {
                    Expr::Match(c) => match self.eval(c, &s) {
                        Tri::Yes => next.push(s),
                        Tri::No => cont.push(s),
                        Tri::Maybe => {
                            let why = format!("`{}` (not evaluated)", c.text);
                            let mut not = s.clone();
                            not.assumed.push(why.clone());
                            cont.push(not);
                            s.assumed.push(why);
                            next.push(s);
                        }
                    },
                    Expr::Translate(_) => ends.push((s, End::Translated(rule.describe(chain)))),
                    Expr::Return | Expr::Accept => {
                        s.trail.push(rule.describe(chain));
                        let end = if *e == Expr::Return {
                            End::Passed
                        } else {
                            End::Accepted
                        };
                        ends.push((s, end));
                    }
                    Expr::Drop => {
                        s.trail.push(rule.describe(chain));
                        ends.push((s, End::Dropped));
                    }
                    Expr::SetsMark => {
                        s.mark = None;
                        next.push(s);
                    }
                    Expr::SetsCtMark => {
                        s.ct_mark = None;
                        next.push(s);
                    }
                    Expr::Jump(target) | Expr::Goto(target) => {
                        let goto = matches!(e, Expr::Goto(_));
                        let Some(callee) = self.find(chain, target) else {
                            let why = format!("{}: no chain {target}", rule.describe(chain));
                            ends.push((s, End::Unknown(why)));
                            continue;
                        };
                        for (s, end) in self.chain(callee, s, depth + 1) {
                            match end {
                                End::Passed if !goto => next.push(s),
                                other => ends.push((s, other)),
                            }
                        }
                    }
                    Expr::Opaque(text) => {
                        let why = format!("`{text}` in {}", rule.describe(chain));
                        let mut past = s.clone();
                        past.assumed.push(format!("{why} may let the packet pass"));
                        next.push(past);
                        ends.push((s, End::Unknown(why)));
                    }
                }
            }
            subs = next;
        }
        cont.extend(subs);
        (cont, ends)
    }

    fn find(&self, from: &Chain, name: &str) -> Option<&Chain> {
        self.nat
            .chains
            .iter()
            .find(|c| c.family == from.family && c.table == from.table && c.name == name)
    }

    fn eval(&self, c: &Condition, b: &Branch) -> Tri {
        eval(&c.test, self.t, b.mark, b.ct_mark)
    }

    fn verdict(&self, finals: &[(Branch, End)]) -> Coverage {
        let translated: BTreeSet<String> = finals
            .iter()
            .filter_map(|(_, e)| match e {
                End::Translated(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        let unknown: Vec<&String> = finals
            .iter()
            .filter_map(|(_, e)| match e {
                End::Unknown(why) => Some(why),
                _ => None,
            })
            .collect();
        if !finals.is_empty() && finals.iter().all(|(_, e)| matches!(e, End::Translated(_))) {
            return Coverage::Covered {
                rules: translated.into_iter().collect(),
            };
        }
        if translated.is_empty() && unknown.is_empty() {
            let (reasons, reconnect) = self.why_not(finals);
            return Coverage::NotCovered { reasons, reconnect };
        }
        let mut reasons: BTreeSet<String> = unknown.into_iter().cloned().collect();
        for (b, _) in finals {
            reasons.extend(b.assumed.iter().cloned());
        }
        Coverage::Unknown {
            reasons: reasons.into_iter().collect(),
        }
    }

    /// For each masquerade/SNAT rule of the packet's family, why it does not apply; and the
    /// commands that would reconnect an unreached chain whose rule would apply.
    fn why_not(&self, finals: &[(Branch, End)]) -> (Vec<String>, Vec<String>) {
        let v4 = self.t.src.is_ipv4();
        let reachable = reachable_chains(self.nat, v4);
        let start = Branch {
            mark: Some(0),
            ct_mark: Some(0),
            assumed: Vec::new(),
            trail: Vec::new(),
        };
        let mut out = Vec::new();
        let mut reconnect = Vec::new();
        for (i, chain) in self.nat.chains.iter().enumerate() {
            if !chain.sees_family(v4) {
                continue;
            }
            for rule in chain.rules.iter().filter(|r| r.translation().is_some()) {
                let desc = rule.describe(chain);
                if !reachable.contains(&i) {
                    let applies = rule.conditions().all(|c| self.eval(c, &start) == Tri::Yes);
                    if let Some(cmd) = reconnect_command(self.nat, chain).filter(|_| applies) {
                        if !reconnect.contains(&cmd) {
                            reconnect.push(cmd);
                        }
                    }
                    out.push(format!(
                        "{desc}: chain {} is not reached from a nat postrouting hook (no jump or goto to it from one)",
                        chain.name
                    ));
                } else if let Some(c) = rule.conditions().find(|c| self.eval(c, &start) == Tri::No)
                {
                    out.push(format!(
                        "{desc}: `{}` does not hold for {} -> {}{}",
                        c.text,
                        self.t.src,
                        self.t.dst,
                        self.t
                            .oif
                            .as_ref()
                            .map(|o| format!(" out of {o}"))
                            .unwrap_or_default()
                    ));
                } else {
                    let stops: BTreeSet<&String> =
                        finals.iter().flat_map(|(b, _)| b.trail.iter()).collect();
                    let stops: Vec<&str> = stops.into_iter().map(String::as_str).collect();
                    out.push(format!(
                        "{desc}: not reached, the walk leaves the chain first at: {}",
                        if stops.is_empty() {
                            "a condition of the jump to it".to_string()
                        } else {
                            stops.join("; ")
                        }
                    ));
                }
            }
        }
        if out.is_empty() {
            out.push(format!(
                "no masquerade/SNAT rule in the rule set ({} chains read)",
                self.nat.chains.len()
            ));
        }
        (out, reconnect)
    }
}

/// The command that jumps to `chain` from its table's nat postrouting base chain: iptables-nft
/// for the tables iptables manages (`nat` with `POSTROUTING`), else nft.
fn reconnect_command(nat: &NatRules, chain: &Chain) -> Option<String> {
    let base = nat
        .chains
        .iter()
        .find(|c| c.family == chain.family && c.table == chain.table && c.is_nat_postrouting())?;
    let iptables = match chain.family.as_str() {
        "ip" => "iptables-nft",
        "ip6" => "ip6tables-nft",
        _ => "",
    };
    Some(
        if !iptables.is_empty() && chain.table == "nat" && base.name == "POSTROUTING" {
            format!("{iptables} -t nat -A POSTROUTING -j {}", chain.name)
        } else {
            format!(
                "nft add rule {} {} {} jump {}",
                chain.family, chain.table, base.name, chain.name
            )
        },
    )
}

/// Indexes (into `nat.chains`) of the chains a nat postrouting base chain reaches.
fn reachable_chains(nat: &NatRules, v4: bool) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = (0..nat.chains.len())
        .filter(|&i| nat.chains[i].is_nat_postrouting() && nat.chains[i].sees_family(v4))
        .collect();
    while let Some(i) = todo.pop() {
        if !seen.insert(i) {
            continue;
        }
        let from = &nat.chains[i];
        for e in from.rules.iter().flat_map(|r| r.exprs.iter()) {
            if let Expr::Jump(t) | Expr::Goto(t) = e {
                if let Some(j) = nat
                    .chains
                    .iter()
                    .position(|c| c.family == from.family && c.table == from.table && &c.name == t)
                {
                    todo.push(j);
                }
            }
        }
    }
    seen
}

#[cfg(test)]
#[path = "egress_tests.rs"]
mod tests;
