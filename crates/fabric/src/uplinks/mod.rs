//! The uplink manager: keeps the node's default route right across several uplinks.
//!
//! Each uplink is an interface selector (name, glob, PCI id), a gateway (given, or learned from
//! the existing default route, else from the DHCP client's lease), a priority and an ICMP health probe. The healthiest,
//! highest-priority uplink gets the lowest metric; the others stay installed as fallbacks with
//! higher metrics. Netlink link/address/route events trigger a reconcile at once, so a default
//! route deleted by a link flap is back as soon as the link is. Routes are installed with
//! protocol [`ROUTE_PROTOCOL`]; routes with any other protocol are never changed.

pub mod config;
pub mod dhcp;
mod manager;
pub mod metrics;
pub mod plan;
pub mod probe;
pub mod selector;

pub use config::{ManagerConfig, ProbeConfig, Selector, UplinkSpec};
pub use manager::{Status, UplinkManager, UplinkStatus};

/// The `rtm_protocol` number on every route the uplink manager installs (0xf1 = 241, shown by
/// `ip route` as `proto 241`); it only ever changes or deletes routes carrying this number.
pub const ROUTE_PROTOCOL: u8 = 0xf1;
