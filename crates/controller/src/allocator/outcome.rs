//! What the allocator decided for one Service, readable by a user.

use std::fmt;
use std::net::IpAddr;

use ferrolb_view::ServiceKey;

/// The decision for one Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The Service has these addresses from this pool (kept or newly assigned).
    Assign {
        /// Pool name.
        pool: String,
        /// Addresses (one per family).
        ips: Vec<IpAddr>,
    },
    /// The Service must have no address (no longer a LoadBalancer); any address was released.
    Clear,
    /// Not FerroLB's business (another loadBalancerClass, not a LoadBalancer).
    Skip(String),
    /// FerroLB should handle it but cannot; the reason is meant for an Event.
    Error(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Assign { pool, ips } => {
                let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
                write!(f, "assigned {} from pool {pool}", ips.join(", "))
            }
            Outcome::Clear => f.write_str("not a LoadBalancer: address released"),
            Outcome::Skip(reason) => write!(f, "skipped: {reason}"),
            Outcome::Error(reason) => f.write_str(reason),
        }
    }
}

/// A config change refused because it would take addresses away from Services using them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.blocking))]
pub struct ConfigRejected {
    /// The Services that block the change, with the address each would lose.
    pub blocking: Vec<(ServiceKey, IpAddr)>,
}

fn describe(blocking: &[(ServiceKey, IpAddr)]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = blocking
        .iter()
        .take(SHOWN)
        .map(|(k, ip)| format!("{k} ({ip})"))
        .collect();
    if blocking.len() > SHOWN {
        parts.push(format!("and {} more", blocking.len() - SHOWN));
    }
    format!(
        "config rejected: it would take addresses away from Services that use them: {}; \
         the previous config stays in force",
        parts.join(", ")
    )
}

/// Why [`crate::allocator::Allocator::assign`] refused to register an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AssignError(pub String);

/// Address accounting of one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// Pool name.
    pub pool: String,
    /// Addresses the pool can hand out (saturating at `u128::MAX`).
    pub total: u128,
    /// Addresses in use (a shared address counts once).
    pub in_use: u128,
}

/// A pool's counts per address family, as MetalLB (>= 0.14) shows them on the IPAddressPool
/// `status` (`assignedIPv4`, `assignedIPv6`, `availableIPv4`, `availableIPv6`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolCounts {
    /// Pool name.
    pub pool: String,
    /// IPv4 addresses in use (a shared address counts once).
    pub assigned_v4: u64,
    /// IPv6 addresses in use.
    pub assigned_v6: u64,
    /// IPv4 addresses still free (saturating at `u64::MAX`).
    pub available_v4: u64,
    /// IPv6 addresses still free (saturating at `u64::MAX`).
    pub available_v6: u64,
}
