//! Dumps and lookups over an rtnetlink handle.

use std::net::IpAddr;

use futures::{Stream, StreamExt, TryStreamExt};
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST};
use netlink_packet_route::{
    address::{AddressAttribute, AddressMessage},
    link::{LinkAttribute, LinkMessage},
    nsid::{NsidAttribute, NsidMessage},
    route::{RouteAddress, RouteAttribute, RouteMessage},
    AddressFamily, RouteNetlinkMessage,
};
use rtnetlink::{Handle, IpVersion};

use super::convert::{
    address_from_message, link_from_message, link_netnsid, link_parent_raw, neighbour_from_message,
    route_from_message, route_kind_name, rule_from_message,
};
use crate::snapshot::{Address, ForeignLink, Link, Neighbour, Route, Rule, VipLookup};
use crate::Error;

async fn collect<T>(
    what: &str,
    stream: impl Stream<Item = Result<T, rtnetlink::Error>>,
) -> Result<Vec<T>, Error> {
    stream
        .try_collect::<Vec<T>>()
        .await
        .map_err(|e| Error::netlink(what, e))
}

/// All links of this namespace.
pub async fn dump_links(handle: &Handle) -> Result<Vec<Link>, Error> {
    let msgs = collect("dump links", handle.link().get().execute()).await?;
    Ok(msgs.iter().map(link_from_message).collect())
}

/// All addresses (both families).
pub async fn dump_addresses(handle: &Handle) -> Result<Vec<Address>, Error> {
    let msgs = collect("dump addresses", handle.address().get().execute()).await?;
    Ok(msgs.iter().filter_map(address_from_message).collect())
}

/// All routes of all tables, both families.
pub async fn dump_routes(handle: &Handle) -> Result<Vec<Route>, Error> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family;
        // Table 0 (RT_TABLE_UNSPEC) with strict checking = all tables.
        msg.header.table = 0;
        let msgs = collect("dump routes", handle.route().get(msg).execute()).await?;
        out.extend(msgs.iter().filter_map(route_from_message));
    }
    Ok(out)
}

/// All policy routing rules, both families.
pub async fn dump_rules(handle: &Handle) -> Result<Vec<Rule>, Error> {
    let mut out = Vec::new();
    for v in [IpVersion::V4, IpVersion::V6] {
        let msgs = collect("dump rules", handle.rule().get(v).execute()).await?;
        out.extend(msgs.iter().map(rule_from_message));
    }
    Ok(out)
}

/// All neighbour entries (both families).
pub async fn dump_neighbours(handle: &Handle) -> Result<Vec<Neighbour>, Error> {
    let msgs = collect("dump neighbours", handle.neighbours().get().execute()).await?;
    Ok(msgs.iter().filter_map(neighbour_from_message).collect())
}

/// The kernel's route lookup for `dst` (like `ip route get`): the answer's type, interface,
/// gateway and table.
pub async fn lookup_route(handle: &Handle, dst: IpAddr) -> VipLookup {
    let mut msg = RouteMessage::default();
    match dst {
        IpAddr::V4(v4) => {
            msg.header.address_family = AddressFamily::Inet;
            msg.header.destination_prefix_length = 32;
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(v4)));
        }
        IpAddr::V6(v6) => {
            msg.header.address_family = AddressFamily::Inet6;
            msg.header.destination_prefix_length = 128;
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet6(v6)));
        }
    }
    let mut stream = handle.route().get(msg).execute();
    match stream.next().await {
        Some(Ok(answer)) => {
            let route = route_from_message(&answer);
            let hop = route.as_ref().and_then(|r| r.nexthops.first().cloned());
            VipLookup {
                vip: dst,
                kind: route_kind_name(&answer.header.kind),
                oif: hop.as_ref().and_then(|h| h.oif),
                gateway: hop.and_then(|h| h.gateway),
                table: route.map(|r| r.table),
            }
        }
        Some(Err(e)) => VipLookup {
            vip: dst,
            kind: match e {
                rtnetlink::Error::NetlinkError(msg) => format!("error: {}", msg.to_io()),
                other => format!("error: {other}"),
            },
            oif: None,
            gateway: None,
            table: None,
        },
        None => VipLookup {
            vip: dst,
            kind: "error: no answer".into(),
            oif: None,
            gateway: None,
            table: None,
        },
    }
}

async fn request_dump(
    handle: &Handle,
    what: &str,
    message: RouteNetlinkMessage,
) -> Result<Vec<RouteNetlinkMessage>, Error> {
    let mut req = NetlinkMessage::from(message);
    req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut h = handle.clone();
    let mut responses = h.request(req).map_err(|e| Error::netlink(what, e))?;
    let mut out = Vec::new();
    while let Some(msg) = responses.next().await {
        match msg.payload {
            NetlinkPayload::InnerMessage(inner) => out.push(inner),
            NetlinkPayload::Error(err) => return Err(Error::netlink(what, err)),
            _ => {}
        }
    }
    Ok(out)
}

/// Interfaces in other namespaces whose parent (IFLA_LINK) is an interface of this namespace:
/// macvlan children inside containers, veth peers. Read through the namespace ids this
/// namespace knows (RTM_GETNSID) with IFLA_TARGET_NETNSID; read-only.
pub async fn dump_foreign_links(handle: &Handle) -> Result<Vec<ForeignLink>, Error> {
    let nsids: Vec<i32> = request_dump(
        handle,
        "dump namespace ids",
        RouteNetlinkMessage::GetNsId(NsidMessage::default()),
    )
    .await?
    .into_iter()
    .filter_map(|m| match m {
        RouteNetlinkMessage::NewNsId(n) => n.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
            _ => None,
        }),
        _ => None,
    })
    .collect();
    let mut out = Vec::new();
    for nsid in nsids {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfNetnsId(nsid));
        let links = match request_dump(
            handle,
            "dump links of namespace",
            RouteNetlinkMessage::GetLink(msg),
        )
        .await
        {
            Ok(l) => l,
            Err(_) => continue,
        };
        // Our own id as seen from that namespace: a child's IFLA_LINK_NETNSID must equal it.
        let mut idmsg = NsidMessage::default();
        idmsg.attributes.push(NsidAttribute::TargetNsid(nsid));
        let our_id: Option<i32> = request_dump(
            handle,
            "dump namespace ids of namespace",
            RouteNetlinkMessage::GetNsId(idmsg),
        )
        .await
        .unwrap_or_default()
        .iter()
        .find_map(|m| match m {
            RouteNetlinkMessage::NewNsId(n) => n.attributes.iter().find_map(|a| match a {
                NsidAttribute::CurrentNsid(id) if *id >= 0 => Some(*id),
                _ => None,
            }),
            _ => None,
        });
        let mut amsg = AddressMessage::default();
        amsg.attributes.push(AddressAttribute::TargetNetNsId(nsid));
        let addrs: Vec<Address> = request_dump(
            handle,
            "dump addresses of namespace",
            RouteNetlinkMessage::GetAddress(amsg),
        )
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => address_from_message(a),
            _ => None,
        })
        .collect();
        for m in links {
            let RouteNetlinkMessage::NewLink(lm) = m else {
                continue;
            };
            // The parent lives in this namespace when the child's IFLA_LINK_NETNSID is our id
            // as seen from there (when the kernel told us that id).
            let (Some(parent_ns), Some(parent)) = (link_netnsid(&lm), link_parent_raw(&lm)) else {
                continue;
            };
            if our_id.is_some_and(|id| id != parent_ns) {
                continue;
            }
            let link = link_from_message(&lm);
            out.push(ForeignLink {
                nsid,
                name: link.name.clone(),
                kind: link.kind.clone(),
                macvlan_mode: link.macvlan_mode.clone(),
                parent,
                addresses: addrs
                    .iter()
                    .filter(|a| a.index == lm.header.index)
                    .map(|a| a.net)
                    .collect(),
            });
        }
    }
    Ok(out)
}
