//! The node's network through netlink: `doctor` findings and the uplink (default route) manager.
//!
//! - [`snapshot`]: one read-only picture of the node's network (links, addresses, routes of all
//!   tables, rules, neighbours, sysctls, conntrack entries, NAT rules), gathered by [`gather`].
//! - [`doctor`]: pure checks over a snapshot that turn it into findings with evidence and a fix.
//! - [`uplinks`]: a daemon that keeps the default route right across several uplinks.

pub mod caps;
pub mod conntrack;
pub mod doctor;
mod error;
pub mod gather;
pub mod netlink;
pub mod nft;
pub mod snapshot;
pub mod sysctl;
pub mod uplinks;

pub use error::Error;
pub use gather::{gather, GatherOptions};
pub use snapshot::Snapshot;
