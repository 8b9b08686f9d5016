//! The announce policy: a pure function from (config, this node, Services, endpoints) to the
//! set of routes each peer should have from this node, with a reason for every decision.
//!
//! Rules (see `docs/speaker.md`):
//! - only addresses in `status.loadBalancer.ingress` of LoadBalancer Services, from a `bgp` pool;
//!   a `layer2` pool's addresses are allocated by FerroLB but not announced;
//! - `externalTrafficPolicy: Cluster`: announced while the Service has a usable endpoint anywhere;
//!   `Local`: only from nodes with a usable endpoint of their own (usable = ready, or serving and
//!   not terminating);
//! - a node labelled `node.kubernetes.io/exclude-from-external-load-balancers` announces nothing;
//! - a peer's `node-selectors` decide whether this node opens a session to it;
//! - each of the pool's `bgp-advertisements` announces the covering prefix of its aggregation
//!   length with its communities, large communities and LOCAL_PREF (iBGP peers only); when two
//!   advertisements give the same prefix their communities are merged and the highest LOCAL_PREF
//!   wins;
//! - `advertise-pod-cidr: true` on a peer also announces the node's `spec.podCIDRs` to it.

mod reason;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ferrolb_config::{
    BgpAdvertisement, Community, Config, IpFamily, LargeCommunity, Peer, Protocol,
};
use ferrolb_view::{EndpointView, NodeView, ServiceKey, ServiceView, TrafficPolicy};
use ipnet::IpNet;
use serde::Serialize;

pub use reason::Reason;

/// Names a peer within one speaker: its address and port. The address alone identifies the
/// session: the BGP driver keys peers by address (inbound connections and TCP MD5 keys are per
/// address), `ferrolb config check` rejects one address on two ports, and [`desired`] opens
/// at most one session per address on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerKey {
    /// `peer-address`.
    pub address: IpAddr,
    /// `peer-port`.
    pub port: u16,
}

impl PeerKey {
    /// The key of a configured peer; an IPv4-mapped IPv6 address becomes the IPv4 address, as
    /// the driver keys it.
    pub fn of(peer: &Peer) -> Self {
        PeerKey {
            address: peer.address.to_canonical(),
            port: peer.port,
        }
    }
}

impl fmt::Display for PeerKey {
    /// `10.0.0.1` for the default port, `10.0.0.1:1179` / `[fd00::1]:1179` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == ferrolb_config::DEFAULT_BGP_PORT {
            write!(f, "{}", self.address)
        } else {
            match self.address {
                IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
                IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
            }
        }
    }
}

impl Serialize for PeerKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The attributes of one announced prefix (before the session decides AS_PATH and NEXT_HOP).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteAttrs {
    /// LOCAL_PREF (only ever set for iBGP peers).
    pub local_pref: Option<u32>,
    /// Standard communities, sorted and unique.
    pub communities: BTreeSet<Community>,
    /// Large communities, sorted and unique.
    pub large_communities: BTreeSet<LargeCommunity>,
}

impl RouteAttrs {
    fn from_advertisement(adv: &BgpAdvertisement, ibgp: bool) -> Self {
        RouteAttrs {
            local_pref: if ibgp { adv.local_pref } else { None },
            communities: adv.communities.iter().copied().collect(),
            large_communities: adv.large_communities.iter().copied().collect(),
        }
    }

    /// Merges another advertisement of the same prefix: communities are united, the highest
    /// LOCAL_PREF wins.
    fn merge(&mut self, other: RouteAttrs) {
        self.local_pref = match (self.local_pref, other.local_pref) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.communities.extend(other.communities);
        self.large_communities.extend(other.large_communities);
    }
}

/// What this node should send to one peer.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerPlan {
    /// The peer's key.
    pub key: PeerKey,
    /// The configured peer (session parameters).
    pub peer: Peer,
    /// Every route this peer should have from this node.
    pub routes: BTreeMap<IpNet, RouteAttrs>,
    /// The peer's `bfd-profile`, resolved (None: no BFD).
    pub bfd: Option<ferrolb_config::BfdProfile>,
}

/// The policy's decision for one address of one Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The Service.
    #[serde(serialize_with = "ser_display")]
    pub service: ServiceKey,
    /// The address (`None` when the Service has none yet).
    pub ip: Option<IpAddr>,
    /// The pool the address belongs to.
    pub pool: Option<String>,
    /// The reason.
    pub reason: Reason,
    /// Prefixes announced for it (after aggregation).
    pub prefixes: Vec<IpNet>,
    /// Peers it is announced to.
    pub peers: Vec<PeerKey>,
}

/// A configured peer this node does not open a session to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedPeer {
    /// The peer.
    pub key: PeerKey,
    /// Why.
    pub reason: String,
}

/// The full outcome of the policy for this node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    /// Sessions this node opens, with their routes, in config order.
    pub peers: Vec<PeerPlan>,
    /// Configured peers this node does not use, and why.
    pub skipped_peers: Vec<SkippedPeer>,
    /// One decision per Service address (and per LoadBalancer Service without one).
    pub decisions: Vec<Decision>,
    /// Pod CIDRs announced (to the peers with `advertise-pod-cidr: true`).
    pub pod_cidrs: Vec<IpNet>,
}

impl Desired {
    /// The plan for a peer.
    pub fn peer(&self, key: &PeerKey) -> Option<&PeerPlan> {
        self.peers.iter().find(|p| &p.key == key)
    }
}

/// Everything the policy reads.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// The configuration (`None` until one is loaded).
    pub config: Option<&'a Config>,
    /// This node.
    pub node: &'a NodeView,
    /// `spec.loadBalancerClass` FerroLB answers to; Services with another class are skipped.
    /// `None`: only Services without a class.
    pub load_balancer_class: Option<&'a str>,
    /// Endpoints per Service (merged over its EndpointSlices).
    pub endpoints: &'a BTreeMap<ServiceKey, Vec<EndpointView>>,
}

/// An endpoint that can take traffic: ready, or serving and not terminating.
pub fn endpoint_usable(e: &EndpointView) -> bool {
    e.ready || (e.serving && !e.terminating)
}

/// Computes what this node announces to which peer, and why, for every Service.
pub fn desired<'s>(
    input: PolicyInput<'_>,
    services: impl IntoIterator<Item = &'s ServiceView>,
) -> Desired {
    let mut out = Desired::default();
    let node = input.node;

    // Sessions: every configured peer whose node-selectors select this node.
    if let Some(config) = input.config {
        for peer in &config.peers {
            let key = PeerKey::of(peer);
            if !peer.selects_node(&node.labels) {
                out.skipped_peers.push(SkippedPeer {
                    key,
                    reason: "its node-selectors do not select this node".into(),
                });
            } else if let Some(first) = out.peers.iter().find(|p| p.key.address == key.address) {
                out.skipped_peers.push(SkippedPeer {
                    key,
                    reason: format!(
                        "another peer entry for the same address ({}) selects this node; a \
                         node has one session per peer address",
                        first.key
                    ),
                });
            } else {
                out.peers.push(PeerPlan {
                    key,
                    peer: peer.clone(),
                    routes: BTreeMap::new(),
                    bfd: peer
                        .bfd_profile
                        .as_deref()
                        .and_then(|name| config.bfd_profile(name))
                        .cloned(),
                });
            }
        }
    }

    // Pod CIDRs, opt-in per peer.
    if !node.excluded {
        let mut any = false;
        for plan in out.peers.iter_mut().filter(|p| p.peer.advertise_pod_cidr) {
            any = true;
            for cidr in &node.pod_cidrs {
                plan.routes.entry(cidr.trunc()).or_default();
            }
        }
        if any {
            out.pod_cidrs = node.pod_cidrs.iter().map(IpNet::trunc).collect();
        }
    }

    for svc in services {
        decide_service(&input, svc, &mut out);
    }
    // Kept until the next pass (for /status): no spare capacity from growing.
    out.decisions.shrink_to_fit();
    out
}

fn decide_service(input: &PolicyInput<'_>, svc: &ServiceView, out: &mut Desired) {
    let key = svc.key();
    let decisions = &mut out.decisions;
    let mut push = |ip: Option<IpAddr>, pool: Option<String>, reason: Reason| {
        decisions.push(Decision {
            service: key.clone(),
            ip,
            pool,
            reason,
            prefixes: Vec::new(),
            peers: Vec::new(),
        })
    };
    // Services FerroLB does not handle at all are left out unless they carry an address.
    if let Some(class) = &svc.load_balancer_class {
        if Some(class.as_str()) != input.load_balancer_class {
            if svc.is_load_balancer {
                push(
                    None,
                    None,
                    Reason::OtherClass {
                        class: class.clone(),
                    },
                );
            }
            return;
        }
    }
    if !svc.is_load_balancer {
        for ip in &svc.ingress_ips {
            push(Some(*ip), None, Reason::NotLoadBalancer);
        }
        return;
    }
    if svc.ingress_ips.is_empty() {
        push(None, None, Reason::NoAddress);
        return;
    }
    let Some(config) = input.config else {
        for ip in &svc.ingress_ips {
            push(Some(*ip), None, Reason::NoConfig);
        }
        return;
    };

    // Endpoint verdict, the same for every address of the Service.
    let endpoints = input.endpoints.get(&key).map(Vec::as_slice).unwrap_or(&[]);
    let usable: Vec<&EndpointView> = endpoints.iter().filter(|e| endpoint_usable(e)).collect();
    let local = usable
        .iter()
        .filter(|e| e.node_name.as_deref() == Some(input.node.name.as_str()))
        .count();
    let endpoint_verdict = match svc.external_traffic_policy {
        TrafficPolicy::Cluster if usable.is_empty() => Err(Reason::NoReadyEndpoints),
        TrafficPolicy::Cluster => Ok(Reason::Announced {
            traffic_policy: "Cluster".into(),
            endpoints: usable.len(),
        }),
        TrafficPolicy::Local if local == 0 => Err(Reason::NoLocalEndpoints {
            elsewhere: usable.len(),
        }),
        TrafficPolicy::Local => Ok(Reason::Announced {
            traffic_policy: "Local".into(),
            endpoints: local,
        }),
    };

    let mut announced = Vec::new();
    for ip in &svc.ingress_ips {
        let ip = *ip;
        let Some(pool) = config.pool_for(ip) else {
            push(Some(ip), None, Reason::NoPool);
            continue;
        };
        let pool_name = Some(pool.name.clone());
        if pool.protocol == Protocol::Layer2 {
            push(
                Some(ip),
                pool_name,
                Reason::Layer2Pool {
                    pool: pool.name.clone(),
                },
            );
            continue;
        }
        if input.node.excluded {
            push(Some(ip), pool_name, Reason::NodeExcluded);
            continue;
        }
        if out.peers.is_empty() {
            push(Some(ip), pool_name, Reason::NoPeers);
            continue;
        }
        let reason = match &endpoint_verdict {
            Err(r) => {
                push(Some(ip), pool_name, r.clone());
                continue;
            }
            Ok(r) => r.clone(),
        };
        let family = if ip.is_ipv4() {
            IpFamily::V4
        } else {
            IpFamily::V6
        };
        let default_adv;
        let advertisements: &[BgpAdvertisement] = if pool.bgp_advertisements.is_empty() {
            default_adv = [BgpAdvertisement::default()];
            &default_adv
        } else {
            &pool.bgp_advertisements
        };
        let (prefixes, peers) = add_routes(
            ip,
            family,
            advertisements,
            &input.node.labels,
            &mut out.peers,
        );
        if peers.is_empty() {
            let pool = pool.name.clone();
            push(Some(ip), pool_name, Reason::NoAdvertisement { pool });
            continue;
        }
        announced.push(Decision {
            service: key.clone(),
            ip: Some(ip),
            pool: pool_name,
            reason,
            prefixes,
            peers,
        });
    }
    out.decisions.extend(announced);
}

/// Adds the routes of `ip` through every advertisement that selects this node, to the peers
/// each one is for; returns the prefixes and the peers that got at least one.
fn add_routes(
    ip: IpAddr,
    family: IpFamily,
    advertisements: &[BgpAdvertisement],
    node_labels: &BTreeMap<String, String>,
    sessions: &mut [PeerPlan],
) -> (Vec<IpNet>, Vec<PeerKey>) {
    let mut prefixes = Vec::new();
    let mut peers = Vec::new();
    for adv in advertisements
        .iter()
        .filter(|a| a.selects_node(node_labels))
    {
        let len = adv.aggregation_length_for(family);
        let prefix = match IpNet::new(ip, len) {
            Ok(p) => p.trunc(),
            // The config parser bounds the length; a full-length route is the safe fallback.
            Err(_) => IpNet::from(ip),
        };
        for plan in sessions
            .iter_mut()
            .filter(|p| adv.announces_to(p.key.address))
        {
            if !prefixes.contains(&prefix) {
                prefixes.push(prefix);
            }
            if !peers.contains(&plan.key) {
                peers.push(plan.key);
            }
            let attrs = RouteAttrs::from_advertisement(adv, plan.peer.is_ibgp());
            match plan.routes.entry(prefix) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(attrs);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().merge(attrs),
            }
        }
    }
    prefixes.sort();
    prefixes.shrink_to_fit();
    // In session order, as before.
    peers.sort_by_key(|k| sessions.iter().position(|p| p.key == *k));
    (prefixes, peers)
}

fn ser_display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
