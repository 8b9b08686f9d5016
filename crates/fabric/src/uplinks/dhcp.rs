//! The gateway a DHCP client was given, read from its lease files (read-only).
//!
//! Used when an uplink names no gateway and no default route on its interface shows one, e.g.
//! at start after a link flap removed the DHCP client's route. Two lease formats are read:
//!
//! - ISC dhclient (`/var/lib/dhcp/dhclient*.leases`): blocks `lease { interface "eth0"; ...
//!   option routers 10.0.0.1, 10.0.0.2; ... }`; the last block for the interface wins (the
//!   client appends renewals).
//! - systemd-networkd (`/run/systemd/netif/leases/IFINDEX`) and NetworkManager's internal client
//!   (`/var/lib/NetworkManager/internal-*-IFNAME.lease`): `KEY=value` lines with `ROUTER=`.
//!
//! A lease counts only when the address it leased is configured on the interface right now and
//! its router lies inside that address's subnet, so a stale file, or one written for an
//! interface of another network namespace with the same name or index, is never used.
//!
//! Only IPv4 (DHCPv6 does not hand out routers; IPv6 gateways come from router advertisements,
//! which the kernel installs as routes the manager learns from).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// What one lease says: the address leased and the first router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The leased address (`fixed-address`, `ADDRESS=`).
    pub address: Ipv4Addr,
    /// The first router (`option routers`, `ROUTER=`).
    pub router: Ipv4Addr,
}

impl Lease {
    /// True when the leased address is on the interface (one of `addresses`) and the router
    /// is inside that address's subnet.
    pub fn fits(&self, addresses: &[IpNet]) -> bool {
        addresses.iter().any(|net| match net {
            IpNet::V4(n) => {
                n.addr() == self.address && n.prefix_len() < 32 && n.contains(&self.router)
            }
            IpNet::V6(_) => false,
        })
    }
}

/// Where lease files are looked for by default (directories; missing ones are skipped).
pub fn default_lease_dirs() -> Vec<PathBuf> {
    [
        "/var/lib/dhcp",
        "/var/lib/dhclient",
        "/run/systemd/netif/leases",
        "/var/lib/NetworkManager",
    ]
    .into_iter()
    .map(PathBuf::from)
    .collect()
}

/// The first router of the newest lease for `interface` (name) / `ifindex` found in `dirs`
/// that fits the interface's current `addresses` ([`Lease::fits`]), with the file it came from.
pub fn gateway_from_leases(
    dirs: &[PathBuf],
    interface: &str,
    ifindex: Option<u32>,
    addresses: &[IpNet],
) -> Option<(IpAddr, PathBuf)> {
    let mut best: Option<(std::time::SystemTime, Ipv4Addr, PathBuf)> = None;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten().take(256) {
            let path = entry.path();
            let Some(lease) = lease_in_file(&path, interface, ifindex) else {
                continue;
            };
            if !lease.fits(addresses) {
                continue;
            }
            let router = lease.router;
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            if best.as_ref().is_none_or(|(t, _, _)| modified > *t) {
                best = Some((modified, router, path));
            }
        }
    }
    best.map(|(_, router, path)| (IpAddr::V4(router), path))
}

/// The lease in one file, if the file is a lease for this interface.
fn lease_in_file(path: &Path, interface: &str, ifindex: Option<u32>) -> Option<Lease> {
    let name = path.file_name()?.to_str()?;
    let is_dhclient = name.starts_with("dhclient") && name.ends_with(".leases");
    let is_networkd = ifindex.is_some_and(|i| name == i.to_string());
    let is_network_manager =
        name.starts_with("internal-") && name.ends_with(&format!("-{interface}.lease"));
    if !(is_dhclient || is_networkd || is_network_manager) {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    if is_dhclient {
        lease_from_dhclient(&text, interface)
    } else {
        lease_from_key_value(&text)
    }
}

/// The last complete `lease { ... }` block for `interface` (ISC dhclient format).
pub fn lease_from_dhclient(text: &str, interface: &str) -> Option<Lease> {
    let mut found = None;
    let mut in_lease = false;
    let (mut lease_interface, mut address, mut router) = (None::<String>, None, None);
    for line in text.lines() {
        let line = line.trim().trim_end_matches(';').trim();
        if line.starts_with("lease") && line.ends_with('{') {
            in_lease = true;
            (lease_interface, address, router) = (None, None, None);
        } else if line == "}" && in_lease {
            in_lease = false;
            if lease_interface.as_deref() == Some(interface) {
                if let (Some(address), Some(router)) = (address, router) {
                    found = Some(Lease { address, router });
                }
            }
        } else if in_lease {
            if let Some(rest) = line.strip_prefix("interface ") {
                lease_interface = Some(rest.trim().trim_matches('"').to_string());
            } else if let Some(rest) = line.strip_prefix("fixed-address ") {
                address = rest.trim().parse().ok();
            } else if let Some(rest) = line.strip_prefix("option routers ") {
                router = rest.split(',').next().and_then(|r| r.trim().parse().ok());
            }
        }
    }
    found
}

/// `ADDRESS=` and `ROUTER=` of a `KEY=value` lease (systemd-networkd, NetworkManager's
/// internal client).
pub fn lease_from_key_value(text: &str) -> Option<Lease> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    Some(Lease {
        address: value("ADDRESS=")?,
        router: value("ROUTER=")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DHCLIENT: &str = r#"
lease {
  interface "eth0";
  fixed-address 10.255.1.50;
  option subnet-mask 255.255.255.0;
  option routers 10.255.1.1;
  renew 4 2026/11/26 10:00:00;
}
lease {
  interface "eth1";
  fixed-address 10.255.2.50;
  option routers 10.255.2.1,10.255.2.2;
}
lease {
  interface "eth0";
  fixed-address 10.255.1.51;
  option routers 10.255.1.254;
}
"#;

    fn lease(address: [u8; 4], router: [u8; 4]) -> Lease {
        Lease {
            address: address.into(),
            router: router.into(),
        }
    }

    #[test]
    fn dhclient_takes_the_last_lease_of_the_interface() {
        assert_eq!(
            lease_from_dhclient(DHCLIENT, "eth0"),
            Some(lease([10, 255, 1, 51], [10, 255, 1, 254]))
        );
        assert_eq!(
            lease_from_dhclient(DHCLIENT, "eth1"),
            Some(lease([10, 255, 2, 50], [10, 255, 2, 1])),
            "the first of several routers"
        );
        assert_eq!(lease_from_dhclient(DHCLIENT, "eth2"), None);
    }

    #[test]
    fn dhclient_lease_without_routers_gives_nothing() {
        let text = "lease {\n  interface \"eth0\";\n  fixed-address 10.255.1.50;\n}\n";
        assert_eq!(lease_from_dhclient(text, "eth0"), None);
    }

    #[test]
    fn networkd_address_and_router_lines() {
        let text = "# This is private data. Do not parse.\nADDRESS=10.255.3.9\nNETMASK=255.255.255.0\nROUTER=10.255.3.1 10.255.3.2\nSERVER_ADDRESS=10.255.3.1\n";
        assert_eq!(
            lease_from_key_value(text),
            Some(lease([10, 255, 3, 9], [10, 255, 3, 1]))
        );
        assert_eq!(lease_from_key_value("ADDRESS=10.255.3.9\n"), None);
    }

    #[test]
    fn a_lease_fits_only_the_interface_that_holds_its_address() {
        let l = lease([10, 255, 3, 9], [10, 255, 3, 1]);
        let on = |s: &str| -> Vec<IpNet> { vec![s.parse().unwrap()] };
        assert!(l.fits(&on("10.255.3.9/24")));
        assert!(!l.fits(&on("10.255.4.9/24")), "another address");
        assert!(!l.fits(&on("10.255.3.9/32")), "router not on-link");
        assert!(!l.fits(&on("10.255.3.9/30")), "router outside the subnet");
        assert!(!l.fits(&[]));
    }

    #[test]
    fn files_are_matched_to_the_interface_and_the_newest_wins() {
        let dir = std::env::temp_dir().join(format!("ferrolb-dhcp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str, age_secs: u64| {
            std::fs::write(dir.join(name), text).unwrap();
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_secs);
            std::fs::File::options()
                .write(true)
                .open(dir.join(name))
                .unwrap()
                .set_modified(when)
                .unwrap();
        };
        write("dhclient.eth0.leases", DHCLIENT, 60);
        write("7", "ADDRESS=10.255.1.51\nROUTER=10.255.1.7\n", 10);
        write("notes.txt", "ADDRESS=10.255.1.51\nROUTER=10.255.1.9\n", 0);
        let dirs = [dir.clone(), dir.join("missing")];
        let eth0: Vec<IpNet> = vec!["10.255.1.51/24".parse().unwrap()];
        assert_eq!(
            gateway_from_leases(&dirs, "eth0", Some(3), &eth0).map(|(g, _)| g),
            Some(IpAddr::V4(Ipv4Addr::new(10, 255, 1, 254)))
        );
        // networkd names the file by ifindex; it is newer than the dhclient file
        write("5", "ADDRESS=10.255.1.51\nROUTER=10.255.1.5\n", 10);
        let (gw, file) = gateway_from_leases(&dirs, "eth0", Some(5), &eth0).unwrap();
        assert_eq!(gw, IpAddr::V4(Ipv4Addr::new(10, 255, 1, 5)));
        assert_eq!(file, dir.join("5"));
        // the same files for an interface that does not hold the leased address: nothing
        let other: Vec<IpNet> = vec!["10.255.8.2/24".parse().unwrap()];
        assert_eq!(gateway_from_leases(&dirs, "eth0", Some(5), &other), None);
        assert_eq!(gateway_from_leases(&dirs, "eth9", Some(9), &eth0), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
