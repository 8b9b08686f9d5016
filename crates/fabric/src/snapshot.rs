//! One read-only picture of the node's network: the input of every doctor check.
//!
//! Plain owned structs (serializable for `--json` and for unit tests); the netlink types stay in
//! [`crate::netlink`].

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

/// Everything the doctor looks at, gathered once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// Network interfaces of this namespace.
    pub links: Vec<Link>,
    /// Addresses on those interfaces.
    pub addresses: Vec<Address>,
    /// Routes of all tables, both families.
    pub routes: Vec<Route>,
    /// Policy routing rules.
    pub rules: Vec<Rule>,
    /// Neighbour (ARP/NDP) entries.
    pub neighbours: Vec<Neighbour>,
    /// Forwarding and reverse-path sysctls.
    pub sysctls: Sysctls,
    /// Conntrack entries and how they were read.
    pub conntrack: Conntrack,
    /// NAT rules from nftables.
    pub nat: NatRules,
    /// Route lookups for each VIP the user named.
    pub vip_lookups: Vec<VipLookup>,
    /// Interfaces in other network namespaces that hang off an interface of this one
    /// (macvlan children of a container, veth peers), read through their namespace ids.
    pub foreign_links: Vec<ForeignLink>,
    /// Things that could not be read (each a sentence); the checks that need them say so.
    pub gaps: Vec<String>,
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Link kind (`veth`, `macvlan`, `bridge`...), `None` for physical devices and loopback.
    pub kind: Option<String>,
    /// Administratively up (IFF_UP).
    pub admin_up: bool,
    /// Carrier present (IFF_LOWER_UP).
    pub lower_up: bool,
    /// Operational state as the kernel names it (`up`, `down`, `lowerlayerdown`, `unknown`).
    pub oper_state: String,
    /// The parent interface index (IFLA_LINK) for macvlan/vlan children, when in this namespace.
    pub parent: Option<u32>,
    /// macvlan mode (`bridge`, `private`, `vepa`, `passthru`, `source`) for macvlan links.
    pub macvlan_mode: Option<String>,
}

impl Link {
    /// Whether the link can carry traffic: administratively up and with carrier.
    pub fn is_up(&self) -> bool {
        self.admin_up && self.lower_up
    }
}

/// An address on an interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// Interface index.
    pub index: u32,
    /// The address with its prefix length.
    pub net: IpNet,
}

/// A nexthop of a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextHop {
    /// The gateway, when the route has one.
    pub gateway: Option<IpAddr>,
    /// The output interface index.
    pub oif: Option<u32>,
    /// Flags such as `linkdown`, `dead`, `onlink`.
    pub flags: Vec<String>,
}

/// A route of any table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// Destination prefix (`0.0.0.0/0` / `::/0` for default routes).
    pub dst: IpNet,
    /// Routing table id.
    pub table: u32,
    /// Route type (`unicast`, `local`, `broadcast`, `blackhole`...).
    pub kind: String,
    /// Protocol number (`rtm_protocol`): 2 kernel, 3 boot, 4 static, 16 dhcp, ...
    pub protocol: u8,
    /// Scope (`universe`, `link`, `host`).
    pub scope: String,
    /// Metric (RTA_PRIORITY); `None` when the kernel reports none (IPv4 metric 0).
    pub metric: Option<u32>,
    /// Preferred source address.
    pub prefsrc: Option<IpAddr>,
    /// The nexthops: one for a plain route, several for ECMP.
    pub nexthops: Vec<NextHop>,
}

impl Route {
    /// Whether this is a default route.
    pub fn is_default(&self) -> bool {
        self.dst.prefix_len() == 0
    }

    /// The metric with the kernel's default of 0.
    pub fn metric_or_zero(&self) -> u32 {
        self.metric.unwrap_or(0)
    }

    /// Whether every nexthop is flagged `linkdown` or `dead`.
    pub fn all_nexthops_down(&self) -> bool {
        !self.nexthops.is_empty()
            && self
                .nexthops
                .iter()
                .all(|nh| nh.flags.iter().any(|f| f == "linkdown" || f == "dead"))
    }
}

/// A policy routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Address family (4 or 6).
    pub family: u8,
    /// Rule priority.
    pub priority: u32,
    /// The table it looks up.
    pub table: u32,
    /// Source selector.
    pub src: Option<IpNet>,
    /// Destination selector.
    pub dst: Option<IpNet>,
    /// Firewall mark selector.
    pub fwmark: Option<u32>,
    /// Input interface selector.
    pub iif: Option<String>,
    /// Output interface selector.
    pub oif: Option<String>,
}

/// A neighbour (ARP/NDP) entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    /// Interface index.
    pub index: u32,
    /// The neighbour's IP address.
    pub addr: IpAddr,
    /// State (`reachable`, `stale`, `delay`, `probe`, `incomplete`, `failed`, `permanent`, `noarp`).
    pub state: String,
    /// Link-layer address, as `aa:bb:..`.
    pub lladdr: Option<String>,
}

impl Neighbour {
    /// Whether the entry shows the neighbour did not answer.
    pub fn is_unresolved(&self) -> bool {
        self.state == "failed" || self.state == "incomplete"
    }
}

/// Forwarding and reverse-path sysctls.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sysctls {
    /// `net.ipv4.ip_forward`.
    pub ipv4_forward: Option<u8>,
    /// `net.ipv6.conf.all.forwarding`.
    pub ipv6_forward: Option<u8>,
    /// Per interface (`all`, `default` included) IPv4 settings.
    pub ipv4_conf: Vec<InterfaceConf>,
}

impl Sysctls {
    /// The settings of one `net.ipv4.conf.<name>`.
    pub fn conf(&self, name: &str) -> Option<&InterfaceConf> {
        self.ipv4_conf.iter().find(|c| c.name == name)
    }

    /// Effective rp_filter of an interface: the kernel uses max(all, interface).
    pub fn effective_rp_filter(&self, name: &str) -> Option<u8> {
        let own = self.conf(name).and_then(|c| c.rp_filter)?;
        let all = self.conf("all").and_then(|c| c.rp_filter).unwrap_or(0);
        Some(own.max(all))
    }
}

/// `net.ipv4.conf.<name>.*` values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InterfaceConf {
    /// Interface name, or `all` / `default`.
    pub name: String,
    /// rp_filter: 0 off, 1 strict, 2 loose.
    pub rp_filter: Option<u8>,
    /// accept_local.
    pub accept_local: Option<u8>,
    /// src_valid_mark.
    pub src_valid_mark: Option<u8>,
    /// forwarding (per interface).
    pub forwarding: Option<u8>,
}

/// Conntrack entries and their source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Conntrack {
    /// How the entries were read (`ctnetlink`, `/proc/net/nf_conntrack`), or why they could not be.
    pub source: String,
    /// Whether the entries could be read at all.
    pub available: bool,
    /// The entries.
    pub entries: Vec<ConntrackEntry>,
}

/// One direction of a conntrack entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (TCP/UDP).
    pub sport: Option<u16>,
    /// Destination port (TCP/UDP).
    pub dport: Option<u16>,
}

/// A conntrack entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConntrackEntry {
    /// L4 protocol name (`tcp`, `udp`, `icmp`, ...) or number.
    pub protocol: String,
    /// The original direction.
    pub orig: CtTuple,
    /// The reply direction (as the kernel expects it, after NAT).
    pub reply: CtTuple,
    /// A reply was seen (not UNREPLIED).
    pub seen_reply: bool,
    /// Source NAT applied.
    pub src_nat: bool,
    /// Destination NAT applied.
    pub dst_nat: bool,
    /// TCP state (`SYN_SENT`, `ESTABLISHED`, ...).
    pub tcp_state: Option<String>,
}

impl ConntrackEntry {
    /// The entry in `conntrack -L` style, for evidence.
    pub fn describe(&self) -> String {
        let port = |p: Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
        let mut s = format!(
            "{} {}{} -> {}{}",
            self.protocol,
            self.orig.src,
            port(self.orig.sport),
            self.orig.dst,
            port(self.orig.dport)
        );
        if let Some(state) = &self.tcp_state {
            s.push_str(&format!(" {state}"));
        }
        if !self.seen_reply {
            s.push_str(" [UNREPLIED]");
        }
        s.push_str(&format!(
            " reply expected {}{} -> {}{}",
            self.reply.src,
            port(self.reply.sport),
            self.reply.dst,
            port(self.reply.dport)
        ));
        if self.src_nat {
            s.push_str(" [SNAT]");
        }
        s
    }
}

/// The nftables rule set as far as NAT is concerned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NatRules {
    /// Whether the ruleset could be read.
    pub available: bool,
    /// How it was read, or why not.
    pub source: String,
    /// Every chain with its rules (the doctor walks the nat postrouting hook through them).
    pub chains: Vec<crate::nft::Chain>,
    /// Addresses that some rule matches as destination (`ip daddr X`), e.g. kube-proxy's
    /// per-LoadBalancer-IP DNAT jumps: such a VIP is handled before routing.
    pub daddr_matches: Vec<IpNet>,
}

/// A comparison in a rule: `ip saddr 10.244.0.0/16` or `ip daddr != 10.244.0.0/16`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddrMatch {
    /// True for `!=`.
    pub negated: bool,
    /// The prefixes compared with (a set or a single prefix).
    pub nets: Vec<IpNet>,
}

impl AddrMatch {
    /// Whether `addr` satisfies the comparison.
    pub fn accepts(&self, addr: IpAddr) -> bool {
        let hit = self.nets.iter().any(|n| n.contains(&addr));
        hit != self.negated
    }
}

/// The kernel's route lookup (RTM_GETROUTE) for a VIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VipLookup {
    /// The VIP.
    pub vip: IpAddr,
    /// The route type of the answer (`local`, `unicast`, `unreachable`...), or `error: ...`.
    pub kind: String,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Gateway of the answer.
    pub gateway: Option<IpAddr>,
    /// Table the answer came from.
    pub table: Option<u32>,
}

/// An interface in another network namespace that refers to an interface of this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignLink {
    /// The other namespace's id as seen from this one.
    pub nsid: i32,
    /// Its name there.
    pub name: String,
    /// Its kind (`macvlan`, `veth`...).
    pub kind: Option<String>,
    /// macvlan mode.
    pub macvlan_mode: Option<String>,
    /// The interface index in this namespace it hangs off (its IFLA_LINK).
    pub parent: u32,
    /// Its addresses in that namespace.
    pub addresses: Vec<IpNet>,
}

/// Protocol number helper: names of common `rtm_protocol` values.
pub fn protocol_name(p: u8) -> String {
    match p {
        0 => "unspec".into(),
        1 => "redirect".into(),
        2 => "kernel".into(),
        3 => "boot".into(),
        4 => "static".into(),
        16 => "dhcp".into(),
        186 => "bgp".into(),
        crate::uplinks::ROUTE_PROTOCOL => "ferrolb".into(),
        other => other.to_string(),
    }
}

impl Route {
    /// The route in `ip route` style, with interface names from `links`.
    pub fn describe(&self, links: &[Link]) -> String {
        let name = |i: u32| {
            links
                .iter()
                .find(|l| l.index == i)
                .map(|l| l.name.clone())
                .unwrap_or_else(|| format!("if{i}"))
        };
        let mut s = String::new();
        if self.kind != "unicast" {
            s.push_str(&self.kind);
            s.push(' ');
        }
        if self.is_default() {
            s.push_str("default");
        } else {
            s.push_str(&self.dst.to_string());
        }
        for nh in &self.nexthops {
            if self.nexthops.len() > 1 {
                s.push_str(" nexthop");
            }
            if let Some(gw) = nh.gateway {
                s.push_str(&format!(" via {gw}"));
            }
            if let Some(oif) = nh.oif {
                s.push_str(&format!(" dev {}", name(oif)));
            }
            for f in &nh.flags {
                s.push(' ');
                s.push_str(f);
            }
        }
        s.push_str(&format!(" proto {}", protocol_name(self.protocol)));
        if self.scope != "universe" {
            s.push_str(&format!(" scope {}", self.scope));
        }
        if let Some(m) = self.metric {
            s.push_str(&format!(" metric {m}"));
        }
        if self.table != 254 {
            s.push_str(&format!(" table {}", self.table));
        }
        s
    }
}
