//! The validated configuration: peers, pools, community aliases, BFD profiles.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::community::{Community, CommunityValue, LargeCommunity};
use crate::range::{IpFamily, IpRange};
use crate::selector::NodeSelector;

/// BGP's TCP port, the default `peer-port`.
pub const DEFAULT_BGP_PORT: u16 = 179;
/// Default `hold-time` (MetalLB: 90 s).
pub const DEFAULT_HOLD_TIME: Duration = Duration::from_secs(90);

/// A validated configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// BGP peers (`peers`).
    pub peers: Vec<Peer>,
    /// Address pools (`address-pools`), in document order.
    pub pools: Vec<Pool>,
    /// Community aliases (`bgp-communities`).
    pub communities: BTreeMap<String, CommunityValue>,
    /// BFD profiles (`bfd-profiles`).
    pub bfd_profiles: Vec<BfdProfile>,
    /// Things that are accepted but probably not what the user meant.
    pub warnings: Vec<String>,
}

impl Config {
    /// The pool named `name`.
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// The pool that contains `ip` (pools never overlap, so there is at most one).
    pub fn pool_for(&self, ip: IpAddr) -> Option<&Pool> {
        self.pools.iter().find(|p| p.contains(ip))
    }

    /// The BFD profile named `name`.
    pub fn bfd_profile(&self, name: &str) -> Option<&BfdProfile> {
        self.bfd_profiles.iter().find(|p| p.name == name)
    }
}

/// A password given inline; its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Password(secret.into())
    }

    /// The secret itself (for the socket option only; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reference to a password in a Kubernetes Secret (`password-secret`, a FerroLB addition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// Secret name.
    pub name: String,
    /// Secret namespace; `None` means the namespace FerroLB runs in.
    pub namespace: Option<String>,
    /// Key inside the Secret's data.
    pub key: String,
}

/// A BGP peer (`peers[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Peer {
    /// `peer-address`.
    pub address: IpAddr,
    /// `peer-asn`.
    pub peer_asn: u32,
    /// `my-asn`.
    pub my_asn: u32,
    /// `peer-port` (default 179).
    pub port: u16,
    /// `source-address`.
    pub source_address: Option<IpAddr>,
    /// `hold-time` (default 90 s; 0 or at least 3 s).
    pub hold_time: Duration,
    /// `keepalive-time` (default hold time / 3; never above the hold time).
    pub keepalive_time: Duration,
    /// `router-id` (default: chosen by the speaker).
    pub router_id: Option<Ipv4Addr>,
    /// `node-selectors`: the peer is used on nodes matching any selector (all nodes when empty).
    pub node_selectors: Vec<NodeSelector>,
    /// `password` (TCP MD5).
    pub password: Option<Password>,
    /// `password-secret` (FerroLB addition): the password from a Secret.
    pub password_secret: Option<SecretRef>,
    /// `bfd-profile`.
    pub bfd_profile: Option<String>,
    /// `ebgp-multihop`.
    pub ebgp_multihop: bool,
    /// `advertise-pod-cidr` (FerroLB addition): also announce the node's pod CIDRs.
    pub advertise_pod_cidr: bool,
    /// `max-prefix` (FerroLB addition): prefixes per family accepted from the peer before a
    /// warning (maximum-prefix). `None`: the BGP library's default; `Some(0)`: no limit.
    pub max_prefix: Option<u32>,
}

impl Peer {
    /// True for iBGP (`my-asn == peer-asn`).
    pub fn is_ibgp(&self) -> bool {
        self.my_asn == self.peer_asn
    }

    /// True when a node with these labels should open a session to this peer.
    pub fn selects_node(&self, labels: &BTreeMap<String, String>) -> bool {
        self.node_selectors.is_empty() || self.node_selectors.iter().any(|s| s.matches(labels))
    }
}

/// How a pool's addresses are announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Announced over BGP.
    Bgp,
    /// Layer 2 (ARP/NDP); FerroLB allocates these but does not announce them.
    Layer2,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Bgp => "bgp",
            Protocol::Layer2 => "layer2",
        })
    }
}

/// One `bgp-advertisements[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpAdvertisement {
    /// `aggregation-length` (default 32).
    pub aggregation_length: u8,
    /// `aggregation-length-v6` (default 128).
    pub aggregation_length_v6: u8,
    /// `localpref` (sent to iBGP peers only).
    pub local_pref: Option<u32>,
    /// Standard communities (`a:b` or aliases).
    pub communities: Vec<Community>,
    /// Large communities (`large:a:b:c`, a FerroLB addition).
    pub large_communities: Vec<LargeCommunity>,
    /// `node-selectors` (FerroLB addition; BGPAdvertisement `nodeSelectors`): only nodes
    /// matching any selector announce (all nodes when empty).
    pub node_selectors: Vec<NodeSelector>,
    /// `peers` (FerroLB addition; BGPAdvertisement `peers`, resolved from BGPPeer names to
    /// addresses): `None` announces to every peer, `Some(list)` only to peers at these
    /// addresses (none when the list is empty).
    pub peers: Option<Vec<IpAddr>>,
}

impl Default for BgpAdvertisement {
    /// MetalLB's default advertisement: every address at full length, no attributes.
    fn default() -> Self {
        BgpAdvertisement {
            aggregation_length: 32,
            aggregation_length_v6: 128,
            local_pref: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            node_selectors: Vec::new(),
            peers: None,
        }
    }
}

impl BgpAdvertisement {
    /// True when a node with these labels announces through this advertisement.
    pub fn selects_node(&self, labels: &BTreeMap<String, String>) -> bool {
        self.node_selectors.is_empty() || self.node_selectors.iter().any(|s| s.matches(labels))
    }

    /// True when this advertisement is sent to the peer at `address`.
    pub fn announces_to(&self, address: IpAddr) -> bool {
        self.peers.as_ref().is_none_or(|peers| {
            peers
                .iter()
                .any(|p| p.to_canonical() == address.to_canonical())
        })
    }

    /// The aggregation length for an address family.
    pub fn aggregation_length_for(&self, family: IpFamily) -> u8 {
        match family {
            IpFamily::V4 => self.aggregation_length,
            IpFamily::V6 => self.aggregation_length_v6,
        }
    }
}

/// An address pool (`address-pools[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// `name` (unique).
    pub name: String,
    /// `protocol`.
    pub protocol: Protocol,
    /// `addresses`, in document order.
    pub ranges: Vec<IpRange>,
    /// `avoid-buggy-ips`: never hand out IPv4 addresses ending in .0 or .255.
    pub avoid_buggy_ips: bool,
    /// `auto-assign` (default true): false means only on request (annotation or requested IP).
    pub auto_assign: bool,
    /// `bgp-advertisements`; one full-length advertisement when none is given (bgp pools).
    pub bgp_advertisements: Vec<BgpAdvertisement>,
}

impl Pool {
    /// True when `ip` is in one of the pool's ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// True when the pool may hand out `ip` (inside and, with avoid-buggy-ips, not .0/.255).
    pub fn can_allocate(&self, ip: IpAddr) -> bool {
        self.contains(ip) && !(self.avoid_buggy_ips && is_buggy(ip))
    }

    /// Number of addresses of `family` the pool can hand out (saturating).
    pub fn size(&self, family: IpFamily) -> u128 {
        self.ranges
            .iter()
            .filter(|r| r.family() == family)
            .map(|r| {
                let n = r.count();
                if self.avoid_buggy_ips {
                    n.saturating_sub(r.buggy_count())
                } else {
                    n
                }
            })
            .fold(0u128, |a, b| a.saturating_add(b))
    }

    /// Number of addresses the pool can hand out, all families (saturating).
    pub fn total_size(&self) -> u128 {
        self.size(IpFamily::V4)
            .saturating_add(self.size(IpFamily::V6))
    }

    /// True when the pool has at least one range of `family`.
    pub fn has_family(&self, family: IpFamily) -> bool {
        self.ranges.iter().any(|r| r.family() == family)
    }
}

/// True for IPv4 addresses ending in .0 or .255.
pub fn is_buggy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
        IpAddr::V6(_) => false,
    }
}

/// A BFD profile (`bfd-profiles[]`); FerroLB parses and validates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdProfile {
    /// `name`.
    pub name: String,
    /// `receive-interval` in ms (default 300; 10..=60000).
    pub receive_interval_ms: u32,
    /// `transmit-interval` in ms (default 300; 10..=60000).
    pub transmit_interval_ms: u32,
    /// `detect-multiplier` (default 3; 2..=255).
    pub detect_multiplier: u32,
    /// `echo-interval` in ms (default 50; 10..=60000).
    pub echo_interval_ms: u32,
    /// `echo-mode`.
    pub echo_mode: bool,
    /// `passive-mode`.
    pub passive_mode: bool,
    /// `minimum-ttl` (default 254; 1..=254).
    pub minimum_ttl: u32,
}
