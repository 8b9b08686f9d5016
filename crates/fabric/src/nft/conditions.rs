//! Three-valued evaluation of a rule's conditions against the first packet of a connection
//! at postrouting: yes, no, or cannot tell.

use std::net::IpAddr;

use ipnet::IpNet;

use super::egress::Traffic;
use super::model::Test;

/// The answer of one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tri {
    Yes,
    No,
    Maybe,
}

fn tri(b: bool) -> Tri {
    if b {
        Tri::Yes
    } else {
        Tri::No
    }
}

/// The conntrack state flags of a connection's first packet at postrouting.
const CT_STATES: &[&str] = &["new", "established", "related", "invalid", "untracked"];
/// The conntrack status bits the doctor knows for that packet.
const CT_STATUS: &[&str] = &[
    "expected",
    "seen-reply",
    "assured",
    "confirmed",
    "snat",
    "dnat",
    "dying",
];

/// Evaluates `test` for `t` with the packet and conntrack marks known so far.
pub(super) fn eval(test: &Test, t: &Traffic, mark: Option<u32>, ct_mark: Option<u32>) -> Tri {
    match test {
        Test::Saddr(m) | Test::Daddr(m) => {
            let addr = if matches!(test, Test::Saddr(_)) {
                t.src
            } else {
                t.dst
            };
            if m.nets.iter().any(|n| n.addr().is_ipv4() != addr.is_ipv4()) {
                // An ip6 match in an inet table never matches an IPv4 packet (and back).
                return Tri::No;
            }
            tri(m.accepts(addr))
        }
        Test::Ifname { out, op, names } => {
            let Some(name) = (if *out { &t.oif } else { &t.iif }) else {
                return Tri::Maybe;
            };
            tri(op.on_hit(names.iter().any(|p| ifname_matches(p, name))))
        }
        Test::Mark {
            ct,
            mask,
            op,
            values,
        } => match if *ct { ct_mark } else { mark } {
            Some(v) => tri(op.on_hit(values.contains(&(v & mask)))),
            None => Tri::Maybe,
        },
        Test::CtFlags { status, op, flags } => {
            let (known, set): (&[&str], Vec<&str>) = if *status {
                (CT_STATUS, if t.dnat { vec!["dnat"] } else { vec![] })
            } else {
                (CT_STATES, vec!["new"])
            };
            if flags.iter().any(|f| !known.contains(&f.as_str())) {
                return Tri::Maybe;
            }
            tri(op.on_hit(flags.iter().any(|f| set.contains(&f.as_str()))))
        }
        Test::FibType { daddr, op, types } => {
            let addr = if *daddr { t.dst } else { t.src };
            let kind = address_type(addr, &t.local);
            tri(op.on_hit(types.iter().any(|x| x == kind)))
        }
        Test::Always => Tri::Yes,
        Test::Opaque => Tri::Maybe,
    }
}

/// nft's interface name match: exact, or a prefix when the pattern ends in `*`.
fn ifname_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The kernel's address type of `addr` on this node (as `fib ... type` sees it).
fn address_type(addr: IpAddr, local: &[IpNet]) -> &'static str {
    if local.iter().any(|n| n.addr() == addr) {
        return "local";
    }
    if addr.is_multicast() {
        return "multicast";
    }
    let broadcast = match addr {
        IpAddr::V4(a) => {
            a.is_broadcast()
                || local
                    .iter()
                    .any(|n| n.prefix_len() < 31 && n.broadcast() == addr)
        }
        IpAddr::V6(_) => false,
    };
    if broadcast {
        "broadcast"
    } else {
        "unicast"
    }
}
