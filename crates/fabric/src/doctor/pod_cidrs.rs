//! The pod CIDRs found on the node itself, so that `ferrolb doctor` without `--pod-cidr` runs
//! the pod egress check: the routes CNI plugins install toward their interfaces.

use ipnet::IpNet;
use serde::Serialize;

use crate::snapshot::{Route, Snapshot};

/// A pod CIDR and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodCidr {
    /// The CIDR.
    pub cidr: IpNet,
    /// Where it came from: `--pod-cidr`, `Node NAME spec.podCIDRs`, `route ... dev cni0 (bridge CNI / flannel)`.
    pub source: String,
}

/// The routing table CNI plugins use.
const MAIN_TABLE: u32 = 254;
/// `rtm_protocol` of routes BIRD installs (Calico's IPAM blocks).
const PROTO_BIRD: u8 = 12;

/// The CNI plugin whose interface this is, when it is one.
fn cni_plugin(ifname: &str) -> Option<&'static str> {
    if ifname == "cni0" || ifname == "cbr0" {
        Some("bridge CNI / flannel")
    } else if ifname.starts_with("flannel") {
        Some("flannel")
    } else if ifname.starts_with("cilium_") || ifname.starts_with("lxc") {
        Some("cilium")
    } else if ifname.starts_with("cali") || ifname == "vxlan.calico" || ifname == "tunl0" {
        Some("calico")
    } else {
        None
    }
}

/// Pod CIDRs from the main table: routes through CNI interfaces (`cni0`, `flannel.*`,
/// `cilium_*`, `cali*`, `vxlan.calico`, `tunl0`) and Calico's blackhole routes for its IPAM
/// blocks. Prefixes inside another one found are left out; link-local ones are ignored.
pub fn from_routes(snap: &Snapshot) -> Vec<PodCidr> {
    let mut found: Vec<PodCidr> = snap
        .routes
        .iter()
        .filter(|r| r.table == MAIN_TABLE && !r.is_default() && !link_local(r.dst))
        .filter_map(|r| source_of(snap, r).map(|source| (r.dst.trunc(), source)))
        .map(|(cidr, source)| PodCidr { cidr, source })
        .collect();
    let all: Vec<IpNet> = found.iter().map(|p| p.cidr).collect();
    found.retain(|p| !all.iter().any(|o| *o != p.cidr && o.contains(&p.cidr)));
    let mut seen = Vec::new();
    found.retain(|p| {
        let new = !seen.contains(&p.cidr);
        seen.push(p.cidr);
        new
    });
    found
}

fn source_of(snap: &Snapshot, r: &Route) -> Option<String> {
    if r.kind == "blackhole" && r.protocol == PROTO_BIRD {
        return Some(format!(
            "route blackhole {} proto bird (calico IPAM block)",
            r.dst
        ));
    }
    if r.kind != "unicast" {
        return None;
    }
    let oif = r.nexthops.first()?.oif?;
    let name = &snap.links.iter().find(|l| l.index == oif)?.name;
    let plugin = cni_plugin(name)?;
    Some(format!("route {} dev {name} ({plugin})", r.dst))
}

fn link_local(n: IpNet) -> bool {
    match n {
        IpNet::V4(v4) => v4.addr().is_link_local() || v4.addr().is_multicast(),
        IpNet::V6(v6) => (v6.addr().segments()[0] & 0xffc0) == 0xfe80 || v6.addr().is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Link, NextHop};

    fn link(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.into(),
            kind: None,
            admin_up: true,
            lower_up: true,
            oper_state: "up".into(),
            parent: None,
            macvlan_mode: None,
        }
    }

    fn route(dst: &str, kind: &str, protocol: u8, oif: Option<u32>) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            table: MAIN_TABLE,
            kind: kind.into(),
            protocol,
            scope: "link".into(),
            metric: None,
            prefsrc: None,
            nexthops: vec![NextHop {
                gateway: None,
                oif,
                flags: vec![],
            }],
        }
    }

    #[test]
    fn finds_flannel_and_calico_pod_cidrs_and_says_where() {
        let snap = Snapshot {
            links: vec![
                link(2, "eth0"),
                link(3, "cni0"),
                link(4, "flannel.1"),
                link(5, "cali12ab"),
            ],
            routes: vec![
                route("10.255.1.0/24", "unicast", 2, Some(2)),
                route("10.244.1.0/24", "unicast", 2, Some(3)),
                route("fe80::/64", "unicast", 2, Some(3)),
                route("10.244.2.0/24", "unicast", 4, Some(4)),
                route("10.244.9.0/26", "blackhole", PROTO_BIRD, None),
                route("10.244.9.3/32", "unicast", 4, Some(5)),
            ],
            ..Snapshot::default()
        };
        let found = from_routes(&snap);
        let cidrs: Vec<String> = found.iter().map(|p| p.cidr.to_string()).collect();
        assert_eq!(cidrs, ["10.244.1.0/24", "10.244.2.0/24", "10.244.9.0/26"]);
        assert!(found[0].source.contains("dev cni0"), "{found:#?}");
        assert!(found[1].source.contains("flannel"), "{found:#?}");
        assert!(found[2].source.contains("calico"), "{found:#?}");
    }
}
