//! Why a Service address is, or is not, announced from this node.

use std::fmt;

use serde::Serialize;

/// The outcome of the announce policy for one Service address on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// Announced to the listed peers.
    Announced {
        /// `Cluster` or `Local`.
        traffic_policy: String,
        /// Usable endpoints on this node (for `Local`) or in the cluster (for `Cluster`).
        endpoints: usize,
    },
    /// The Service is not of type LoadBalancer (its status still lists an address).
    NotLoadBalancer,
    /// The Service asks for another load balancer implementation.
    OtherClass {
        /// `spec.loadBalancerClass`.
        class: String,
    },
    /// The Service has no address in `status.loadBalancer.ingress` yet.
    NoAddress,
    /// The address belongs to no configured pool.
    NoPool,
    /// The address is from a `layer2` pool: allocated, but FerroLB does not announce it.
    Layer2Pool {
        /// The pool's name.
        pool: String,
    },
    /// The node carries `node.kubernetes.io/exclude-from-external-load-balancers`.
    NodeExcluded,
    /// No configured BGP peer selects this node.
    NoPeers,
    /// No BGP advertisement of the pool selects this node (`node-selectors`) and one of its
    /// peers (`peers`).
    NoAdvertisement {
        /// The pool's name.
        pool: String,
    },
    /// `externalTrafficPolicy: Cluster` and not one usable endpoint in the cluster.
    NoReadyEndpoints,
    /// `externalTrafficPolicy: Local` and no usable endpoint on this node.
    NoLocalEndpoints {
        /// Usable endpoints on other nodes.
        elsewhere: usize,
    },
    /// No configuration has been loaded yet.
    NoConfig,
}

impl Reason {
    /// True for [`Reason::Announced`].
    pub fn is_announced(&self) -> bool {
        matches!(self, Reason::Announced { .. })
    }

    /// A short machine-friendly name (`announced`, `layer2-pool`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Announced { .. } => "announced",
            Reason::NotLoadBalancer => "not-load-balancer",
            Reason::OtherClass { .. } => "other-class",
            Reason::NoAddress => "no-address",
            Reason::NoPool => "no-pool",
            Reason::Layer2Pool { .. } => "layer2-pool",
            Reason::NodeExcluded => "node-excluded",
            Reason::NoPeers => "no-peers",
            Reason::NoAdvertisement { .. } => "no-advertisement",
            Reason::NoReadyEndpoints => "no-ready-endpoints",
            Reason::NoLocalEndpoints { .. } => "no-local-endpoints",
            Reason::NoConfig => "no-config",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Announced {
                traffic_policy,
                endpoints,
            } => {
                let where_ = if traffic_policy == "Local" {
                    "on this node"
                } else {
                    "in the cluster"
                };
                write!(
                    f,
                    "announced (externalTrafficPolicy {traffic_policy}, {endpoints} ready endpoint(s) {where_})"
                )
            }
            Reason::NotLoadBalancer => f.write_str("not announced: the Service is not of type LoadBalancer"),
            Reason::OtherClass { class } => write!(
                f,
                "not announced: loadBalancerClass {class:?} belongs to another implementation"
            ),
            Reason::NoAddress => f.write_str("not announced: no address assigned yet"),
            Reason::NoPool => f.write_str("not announced: the address is in no configured pool"),
            Reason::Layer2Pool { pool } => write!(
                f,
                "not announced: pool {pool:?} is a layer2 pool (allocated by FerroLB, not announced over BGP)"
            ),
            Reason::NodeExcluded => f.write_str(
                "not announced: node is labelled node.kubernetes.io/exclude-from-external-load-balancers",
            ),
            Reason::NoPeers => f.write_str("not announced: no BGP peer selects this node"),
            Reason::NoAdvertisement { pool } => write!(
                f,
                "not announced: no BGP advertisement of pool {pool:?} selects this node and one of its peers"
            ),
            Reason::NoReadyEndpoints => {
                f.write_str("not announced: the Service has no ready endpoint in the cluster")
            }
            Reason::NoLocalEndpoints { elsewhere } => write!(
                f,
                "not announced: externalTrafficPolicy Local and no ready endpoint on this node ({elsewhere} on other nodes)"
            ),
            Reason::NoConfig => f.write_str("not announced: no configuration loaded"),
        }
    }
}
