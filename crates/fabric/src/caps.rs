//! Linux capabilities this process holds, so a privileged feature can say which one it lacks
//! instead of failing later with a bare "Operation not permitted".
//!
//! A container started as a non-root user keeps none of the capabilities its manifest adds
//! (Kubernetes sets no ambient capabilities): checking the effective set at the start of a
//! feature turns that into one clear error.

use std::fmt;

use crate::Error;

/// A capability a FerroLB feature needs (number from `linux/capability.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// `CAP_NET_ADMIN` (12): change routes, read conntrack (ctnetlink), read nftables.
    NetAdmin,
    /// `CAP_NET_RAW` (13): raw ICMP sockets for the uplink probes.
    NetRaw,
    /// `CAP_SYS_NICE` (23): SCHED_FIFO for the BFD thread.
    SysNice,
}

impl Capability {
    /// The bit number in the capability sets.
    pub fn bit(self) -> u32 {
        match self {
            Capability::NetAdmin => 12,
            Capability::NetRaw => 13,
            Capability::SysNice => 23,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::NetAdmin => "CAP_NET_ADMIN",
            Capability::NetRaw => "CAP_NET_RAW",
            Capability::SysNice => "CAP_SYS_NICE",
        })
    }
}

/// The effective capability set from a `/proc/<pid>/status` text (its `CapEff:` line, hex).
pub fn parse_effective(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Which of `needed` are not in this process's effective set. When the set cannot be read
/// (no /proc), nothing is reported missing: the feature then fails or works on its own.
pub fn missing(needed: &[Capability]) -> Vec<Capability> {
    let Some(effective) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| parse_effective(&s))
    else {
        return Vec::new();
    };
    missing_from(effective, needed)
}

fn missing_from(effective: u64, needed: &[Capability]) -> Vec<Capability> {
    needed
        .iter()
        .copied()
        .filter(|c| effective & (1u64 << c.bit()) == 0)
        .collect()
}

/// `Ok` when this process holds every capability in `needed`; otherwise
/// [`Error::MissingCapabilities`] naming `feature` and the missing ones.
pub fn require(feature: &str, needed: &[Capability]) -> Result<(), Error> {
    let missing = missing(needed);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::MissingCapabilities {
        feature: feature.to_string(),
        missing: join(&missing),
    })
}

/// The names joined with ", " (e.g. `CAP_NET_ADMIN, CAP_NET_RAW`).
pub fn join(caps: &[Capability]) -> String {
    caps.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_set_from_proc_status() {
        let status = "Name:\tferrolb\nCapInh:\t0000000000000000\nCapPrm:\t0000000000003000\n\
                      CapEff:\t0000000000001000\nCapBnd:\t0000000000003000\n";
        assert_eq!(parse_effective(status), Some(0x1000));
        assert_eq!(parse_effective("Name:\tx\n"), None);
        let both = [Capability::NetAdmin, Capability::NetRaw];
        assert_eq!(missing_from(0x1000, &both), vec![Capability::NetRaw]);
        assert_eq!(missing_from(0x3000, &both), vec![]);
        assert_eq!(missing_from(0, &both), both.to_vec());
        assert_eq!(join(&both), "CAP_NET_ADMIN, CAP_NET_RAW");
    }
}
