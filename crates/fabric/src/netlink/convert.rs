//! Netlink messages -> snapshot types.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{
        InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
        MacVlanMode, State,
    },
    neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState},
    route::{RouteAddress, RouteAttribute, RouteMessage, RouteNextHopFlags, RouteScope, RouteType},
    rule::{RuleAttribute, RuleMessage},
    AddressFamily,
};

use crate::snapshot::{Address, Link, Neighbour, NextHop, Route, Rule};

/// A link message as a [`Link`].
pub fn link_from_message(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        kind: None,
        admin_up: msg.header.flags.contains(LinkFlags::Up),
        lower_up: msg.header.flags.contains(LinkFlags::LowerUp),
        oper_state: "unknown".into(),
        parent: None,
        macvlan_mode: None,
    };
    let mut link_netns = false;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::OperState(state) => link.oper_state = oper_state_name(state),
            LinkAttribute::Link(parent) => link.parent = Some(*parent),
            LinkAttribute::LinkNetNsId(_) => link_netns = true,
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(kind) => link.kind = Some(kind_name(kind)),
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            for d in data {
                                if let InfoMacVlan::Mode(mode) = d {
                                    link.macvlan_mode = Some(macvlan_mode_name(mode));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // IFLA_LINK names an interface of another namespace when IFLA_LINK_NETNSID is present
    // (veth peers, moved children), or the interface itself for plain devices.
    if link_netns || link.parent == Some(link.index) {
        link.parent = None;
    }
    link
}

/// The parent's namespace id of a link (IFLA_LINK_NETNSID), when it has one.
pub(crate) fn link_netnsid(msg: &LinkMessage) -> Option<i32> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkNetNsId(id) => Some(*id),
        _ => None,
    })
}

/// The raw IFLA_LINK of a link message.
pub(crate) fn link_parent_raw(msg: &LinkMessage) -> Option<u32> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::Link(p) => Some(*p),
        _ => None,
    })
}

fn oper_state_name(state: &State) -> String {
    match state {
        State::Up => "up".into(),
        State::Down => "down".into(),
        State::LowerLayerDown => "lowerlayerdown".into(),
        State::Dormant => "dormant".into(),
        State::NotPresent => "notpresent".into(),
        State::Testing => "testing".into(),
        State::Unknown => "unknown".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn kind_name(kind: &InfoKind) -> String {
    match kind {
        InfoKind::Veth => "veth".into(),
        InfoKind::MacVlan => "macvlan".into(),
        InfoKind::Bridge => "bridge".into(),
        InfoKind::Vlan => "vlan".into(),
        InfoKind::Dummy => "dummy".into(),
        InfoKind::Other(name) => name.clone(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn macvlan_mode_name(mode: &MacVlanMode) -> String {
    match mode {
        MacVlanMode::Private => "private".into(),
        MacVlanMode::Vepa => "vepa".into(),
        MacVlanMode::Bridge => "bridge".into(),
        MacVlanMode::Passthrough => "passthru".into(),
        MacVlanMode::Source => "source".into(),
        MacVlanMode::Other(n) => n.to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// An address message as an [`Address`]; `None` for other families.
pub(crate) fn address_from_message(msg: &AddressMessage) -> Option<Address> {
    // IFA_LOCAL is the interface's own address on point-to-point links; prefer it.
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let addr = local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    let net = IpNet::new(addr, msg.header.prefix_len).ok()?;
    Some(Address {
        index: msg.header.index,
        net,
    })
}

fn route_address(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn nexthop_flags(flags: RouteNextHopFlags) -> Vec<String> {
    let mut out = Vec::new();
    if flags.contains(RouteNextHopFlags::Dead) {
        out.push("dead".to_string());
    }
    if flags.contains(RouteNextHopFlags::Linkdown) {
        out.push("linkdown".to_string());
    }
    if flags.contains(RouteNextHopFlags::Onlink) {
        out.push("onlink".to_string());
    }
    out
}

pub(crate) fn route_kind_name(kind: &RouteType) -> String {
    match kind {
        RouteType::Unicast => "unicast".into(),
        RouteType::Local => "local".into(),
        RouteType::Broadcast => "broadcast".into(),
        RouteType::Anycast => "anycast".into(),
        RouteType::Multicast => "multicast".into(),
        RouteType::BlackHole => "blackhole".into(),
        RouteType::Unreachable => "unreachable".into(),
        RouteType::Prohibit => "prohibit".into(),
        RouteType::Throw => "throw".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

fn scope_name(scope: &RouteScope) -> String {
    match scope {
        RouteScope::Universe => "universe".into(),
        RouteScope::Link => "link".into(),
        RouteScope::Host => "host".into(),
        RouteScope::Site => "site".into(),
        RouteScope::NoWhere => "nowhere".into(),
        RouteScope::Other(n) => n.to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A route message as a [`Route`]; `None` for families other than IPv4/IPv6.
pub fn route_from_message(msg: &RouteMessage) -> Option<Route> {
    let family_zero: IpAddr = match msg.header.address_family {
        AddressFamily::Inet => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let mut dst = family_zero;
    let mut table = u32::from(msg.header.table);
    let mut metric = None;
    let mut prefsrc = None;
    let mut gateway = None;
    let mut oif = None;
    let mut multipath = Vec::new();
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => {
                if let Some(ip) = route_address(a) {
                    dst = ip;
                }
            }
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(p) => metric = Some(*p),
            RouteAttribute::PrefSource(a) => prefsrc = route_address(a),
            RouteAttribute::Gateway(a) => gateway = route_address(a),
            RouteAttribute::Via(via) => {
                gateway = via_address(via);
            }
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::MultiPath(hops) => {
                for hop in hops {
                    let gw = hop.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Gateway(g) => route_address(g),
                        RouteAttribute::Via(v) => via_address(v),
                        _ => None,
                    });
                    multipath.push(NextHop {
                        gateway: gw,
                        oif: Some(hop.interface_index),
                        flags: nexthop_flags(hop.flags),
                    });
                }
            }
            _ => {}
        }
    }
    let dst = IpNet::new(dst, msg.header.destination_prefix_length).ok()?;
    let nexthops = if multipath.is_empty() {
        vec![NextHop {
            gateway,
            oif,
            flags: nexthop_flags(RouteNextHopFlags::from_bits_truncate(
                (msg.header.flags.bits() & 0xff) as u8,
            )),
        }]
    } else {
        multipath
    };
    Some(Route {
        dst,
        table,
        kind: route_kind_name(&msg.header.kind),
        protocol: u8::from(msg.header.protocol),
        scope: scope_name(&msg.header.scope),
        metric,
        prefsrc,
        nexthops,
    })
}

fn via_address(via: &netlink_packet_route::route::RouteVia) -> Option<IpAddr> {
    match via {
        netlink_packet_route::route::RouteVia::Inet(v4) => Some(IpAddr::V4(*v4)),
        netlink_packet_route::route::RouteVia::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A rule message as a [`Rule`].
pub(crate) fn rule_from_message(msg: &RuleMessage) -> Rule {
    let family = match msg.header.family {
        AddressFamily::Inet6 => 6,
        _ => 4,
    };
    let mut rule = Rule {
        family,
        priority: 0,
        table: u32::from(msg.header.table),
        src: None,
        dst: None,
        fwmark: None,
        iif: None,
        oif: None,
    };
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Table(t) => rule.table = *t,
            RuleAttribute::Source(ip) => rule.src = IpNet::new(*ip, msg.header.src_len).ok(),
            RuleAttribute::Destination(ip) => rule.dst = IpNet::new(*ip, msg.header.dst_len).ok(),
            RuleAttribute::FwMark(m) => rule.fwmark = Some(*m),
            RuleAttribute::Iifname(n) => rule.iif = Some(n.clone()),
            RuleAttribute::Oifname(n) => rule.oif = Some(n.clone()),
            _ => {}
        }
    }
    rule
}

/// A neighbour message as a [`Neighbour`].
pub(crate) fn neighbour_from_message(msg: &NeighbourMessage) -> Option<Neighbour> {
    let addr = msg.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
        NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
        _ => None,
    })?;
    let lladdr = msg.attributes.iter().find_map(|a| match a {
        NeighbourAttribute::LinkLayerAddress(bytes) => Some(
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        _ => None,
    });
    let state = match msg.header.state {
        NeighbourState::Incomplete => "incomplete",
        NeighbourState::Reachable => "reachable",
        NeighbourState::Stale => "stale",
        NeighbourState::Delay => "delay",
        NeighbourState::Probe => "probe",
        NeighbourState::Failed => "failed",
        NeighbourState::Noarp => "noarp",
        NeighbourState::Permanent => "permanent",
        _ => "none",
    };
    Some(Neighbour {
        index: msg.header.ifindex,
        addr,
        state: state.to_string(),
        lladdr,
    })
}
