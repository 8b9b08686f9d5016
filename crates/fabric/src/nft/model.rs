//! The nftables chains and rules as the doctor sees them: each rule a list of conditions and
//! statements in the order nft evaluates them.

use serde::Serialize;

use crate::snapshot::AddrMatch;

/// A chain of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chain {
    /// `ip`, `ip6`, `inet`, ...
    pub family: String,
    /// Table name.
    pub table: String,
    /// Chain name.
    pub name: String,
    /// Set for base chains (attached to a hook); `None` for chains reached only by jump/goto.
    pub base: Option<BaseChain>,
    /// The rules in order.
    pub rules: Vec<ChainRule>,
}

/// The hook of a base chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseChain {
    /// `nat`, `filter`, `route`.
    pub kind: String,
    /// `postrouting`, `prerouting`, ...
    pub hook: String,
    /// Priority (lower runs first).
    pub priority: i64,
    /// `accept` or `drop`.
    pub policy: String,
}

impl Chain {
    /// Whether this is a base chain of type nat on the postrouting hook.
    pub fn is_nat_postrouting(&self) -> bool {
        self.base
            .as_ref()
            .is_some_and(|b| b.kind == "nat" && b.hook == "postrouting")
    }

    /// Whether packets of this IP family pass through the chain's table.
    pub fn sees_family(&self, v4: bool) -> bool {
        match self.family.as_str() {
            "ip" => v4,
            "ip6" => !v4,
            "inet" => true,
            _ => false,
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainRule {
    /// Rule handle.
    pub handle: Option<u64>,
    /// Conditions and statements, in order.
    pub exprs: Vec<Expr>,
}

impl ChainRule {
    /// The source NAT this rule applies (`masquerade`, `snat to X`), if any.
    pub fn translation(&self) -> Option<&str> {
        self.exprs.iter().find_map(|e| match e {
            Expr::Translate(t) => Some(t.as_str()),
            _ => None,
        })
    }

    /// The conditions of the rule.
    pub fn conditions(&self) -> impl Iterator<Item = &Condition> {
        self.exprs.iter().filter_map(|e| match e {
            Expr::Match(c) => Some(c),
            _ => None,
        })
    }

    /// The rule in `nft list ruleset` style (approximate), with its chain and handle.
    pub fn describe(&self, chain: &Chain) -> String {
        let mut parts = vec![format!("{} {} {}:", chain.family, chain.table, chain.name)];
        parts.extend(self.exprs.iter().map(Expr::text));
        if let Some(h) = self.handle {
            parts.push(format!("(handle {h})"));
        }
        parts.join(" ")
    }
}

/// A condition or statement of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A condition: the rest of the rule runs only when it holds.
    Match(Condition),
    /// Source NAT: `masquerade` or `snat to X` (ends the NAT lookup when reached).
    Translate(String),
    /// `jump CHAIN`.
    Jump(String),
    /// `goto CHAIN`.
    Goto(String),
    /// `return`.
    Return,
    /// `accept`.
    Accept,
    /// `drop` / `reject`.
    Drop,
    /// Sets the packet mark (`meta mark set`, iptables `MARK`): later mark tests are unknown.
    SetsMark,
    /// Sets the conntrack mark: later `ct mark` tests are unknown.
    SetsCtMark,
    /// A statement the doctor does not model (it may end the rule set's walk).
    Opaque(String),
}

impl Expr {
    /// Short text for evidence.
    pub fn text(&self) -> String {
        match self {
            Expr::Match(c) => c.text.clone(),
            Expr::Translate(t) => t.clone(),
            Expr::Jump(t) => format!("jump {t}"),
            Expr::Goto(t) => format!("goto {t}"),
            Expr::Return => "return".into(),
            Expr::Accept => "accept".into(),
            Expr::Drop => "drop".into(),
            Expr::SetsMark => "meta mark set ...".into(),
            Expr::SetsCtMark => "ct mark set ...".into(),
            Expr::Opaque(t) => t.clone(),
        }
    }
}

/// A condition with its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    /// What is compared.
    pub test: Test,
    /// The condition as nft prints it (approximately).
    pub text: String,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `==` (or implicit equality).
    Eq,
    /// `!=`.
    Ne,
    /// `in`: flag tests (`ct state new`) and set membership.
    In,
}

impl Op {
    /// From nft's JSON `op`.
    pub fn parse(op: Option<&str>) -> Option<Op> {
        match op.unwrap_or("==") {
            "==" => Some(Op::Eq),
            "!=" => Some(Op::Ne),
            "in" => Some(Op::In),
            _ => None,
        }
    }

    /// Whether a hit (the value is among the compared ones) satisfies the condition.
    pub fn on_hit(self, hit: bool) -> bool {
        match self {
            Op::Eq | Op::In => hit,
            Op::Ne => !hit,
        }
    }
}

/// The conditions the doctor can evaluate against pod egress, and a catch-all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// `ip saddr ...`.
    Saddr(AddrMatch),
    /// `ip daddr ...`.
    Daddr(AddrMatch),
    /// `oifname` (`out` true) / `iifname`; names may end in `*` (iptables `+`).
    Ifname {
        /// Output interface (else input).
        out: bool,
        /// Comparison.
        op: Op,
        /// Names compared with.
        names: Vec<String>,
    },
    /// `meta mark & mask OP values` (`ct` true: `ct mark`).
    Mark {
        /// The conntrack mark (else the packet mark).
        ct: bool,
        /// Mask applied before comparing (`0xffffffff` when none).
        mask: u32,
        /// Comparison.
        op: Op,
        /// Values compared with.
        values: Vec<u32>,
    },
    /// `ct state ...` (`status` false) / `ct status ...` (`status` true).
    CtFlags {
        /// `ct status` (else `ct state`).
        status: bool,
        /// Comparison.
        op: Op,
        /// Flag names compared with.
        flags: Vec<String>,
    },
    /// `fib saddr|daddr type ...`.
    FibType {
        /// Looks up the destination (else the source).
        daddr: bool,
        /// Comparison.
        op: Op,
        /// Address types (`local`, `unicast`, ...).
        types: Vec<String>,
    },
    /// Always holds (iptables' `comment` match).
    Always,
    /// A condition the doctor cannot evaluate (set lookups, xt matches, ports, ...).
    Opaque,
}
