//! `ferrolb config ...`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use ferrolb_config::{Config, IpFamily};

/// Subcommands of `ferrolb config`.
#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a ConfigMap manifest or the bare `config` text.
    Check(CheckArgs),
}

/// Flags of `ferrolb config check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// A ConfigMap manifest (YAML) or the bare config text.
    pub file: std::path::PathBuf,
}

/// Runs `ferrolb config ...`; returns the exit code.
pub async fn run(command: ConfigCommand) -> anyhow::Result<i32> {
    match command {
        ConfigCommand::Check(args) => {
            let (code, out, err) = check(&args.file)?;
            print!("{out}");
            eprint!("{err}");
            Ok(code)
        }
    }
}

/// Reads and parses a config file (ConfigMap manifest or bare text) as `config check` does.
pub fn load(path: &Path) -> anyhow::Result<Result<Config, ferrolb_config::ConfigErrors>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(ferrolb_config::parse_document(&text))
}

/// Checks a file: (exit code, stdout, stderr). Unreadable files are an `Err`.
pub fn check(path: &Path) -> anyhow::Result<(i32, String, String)> {
    match load(path)? {
        Ok(config) => Ok((0, summary(path, &config), String::new())),
        Err(errors) => {
            let mut err = format!("{}: {} error(s):\n", path.display(), errors.len());
            for e in errors.errors() {
                let _ = writeln!(err, "  {e}");
            }
            Ok((1, String::new(), err))
        }
    }
}

/// The summary printed for a valid config.
pub fn summary(path: &Path, config: &Config) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: valid", path.display());
    let _ = writeln!(out, "peers: {}", config.peers.len());
    for p in &config.peers {
        let kind = if p.is_ibgp() { "iBGP" } else { "eBGP" };
        let mut extras = Vec::new();
        if p.password.is_some() {
            extras.push("password".to_string());
        }
        if let Some(s) = &p.password_secret {
            extras.push(format!("password from Secret {}", s.name));
        }
        if !p.node_selectors.is_empty() {
            extras.push(format!("{} node selector(s)", p.node_selectors.len()));
        }
        if p.ebgp_multihop {
            extras.push("ebgp-multihop".into());
        }
        if p.advertise_pod_cidr {
            extras.push("advertise-pod-cidr".into());
        }
        if let Some(b) = &p.bfd_profile {
            extras.push(format!("bfd {b}"));
        }
        let extras = if extras.is_empty() {
            String::new()
        } else {
            format!(", {}", extras.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} port {}: peer AS {}, my AS {} ({kind}), hold {}s, keepalive {}s{extras}",
            p.address,
            p.port,
            p.peer_asn,
            p.my_asn,
            p.hold_time.as_secs_f64(),
            p.keepalive_time.as_secs_f64()
        );
    }
    let _ = writeln!(out, "pools: {}", config.pools.len());
    let (mut v4, mut v6) = (0u128, 0u128);
    for pool in &config.pools {
        let p4 = pool.size(IpFamily::V4);
        let p6 = pool.size(IpFamily::V6);
        v4 = v4.saturating_add(p4);
        v6 = v6.saturating_add(p6);
        let ranges: Vec<String> = pool.ranges.iter().map(ToString::to_string).collect();
        let mut flags = Vec::new();
        if !pool.auto_assign {
            flags.push("auto-assign off");
        }
        if pool.avoid_buggy_ips {
            flags.push("avoid-buggy-ips");
        }
        if pool
            .bgp_advertisements
            .iter()
            .any(|a| a.weight == ferrolb_config::AdvertisementWeight::Endpoints)
        {
            flags.push("weight: endpoints");
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        let _ = writeln!(
            out,
            "  {} ({}): {} IPv4, {} IPv6 address(es){flags}: {}",
            pool.name,
            pool.protocol,
            count(p4),
            count(p6),
            ranges.join(", ")
        );
    }
    let _ = writeln!(out, "addresses: {} IPv4, {} IPv6", count(v4), count(v6));
    if !config.communities.is_empty() {
        let _ = writeln!(out, "community aliases: {}", config.communities.len());
    }
    if !config.bfd_profiles.is_empty() {
        let _ = writeln!(out, "bfd profiles: {}", config.bfd_profiles.len());
    }
    for w in &config.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn count(n: u128) -> String {
    if n == u128::MAX {
        "2^128".into()
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrolb-config-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn valid_configmap_prints_a_summary() {
        let path = temp(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: metallb-system\n  name: config\ndata:\n  config: |\n    peers:\n    - peer-address: 192.168.1.1\n      peer-asn: 65000\n      my-asn: 65001\n    address-pools:\n    - name: default\n      protocol: bgp\n      addresses:\n      - 192.168.254.0/32\n      - 2001:db8::/64\n",
        );
        let (code, out, err) = check(&path).unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("peers: 1"), "{out}");
        assert!(
            out.contains("192.168.1.1 port 179: peer AS 65000, my AS 65001 (eBGP)"),
            "{out}"
        );
        assert!(
            out.contains("default (bgp): 1 IPv4, 18446744073709551616 IPv6"),
            "{out}"
        );
        assert!(
            out.contains("addresses: 1 IPv4, 18446744073709551616 IPv6"),
            "{out}"
        );
    }

    #[test]
    fn weighted_pool_is_flagged_and_a_bad_weight_named() {
        let pool = "address-pools:\n- name: w\n  protocol: bgp\n  addresses: [198.51.100.0/24]\n  \
                    bgp-advertisements:\n  - weight: ";
        let (code, out, err) = check(&temp("w.yaml", &format!("{pool}endpoints\n"))).unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("w (bgp): 256 IPv4, 0 IPv6 address(es) [weight: endpoints]"),
            "{out}"
        );
        let (code, _, err) = check(&temp("w2.yaml", &format!("{pool}pods\n"))).unwrap();
        assert_eq!(code, 1);
        assert!(
            err.contains("address-pools[0].bgp-advertisements[0].weight: \"pods\": the only weight is \"endpoints\""),
            "{err}"
        );
    }

    #[test]
    fn invalid_bare_config_prints_every_error() {
        let path = temp(
            "bad.yaml",
            "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24, 10.0.0.0/33]\n  auto_assign: false\n",
        );
        let (code, out, err) = check(&path).unwrap();
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert!(err.contains("2 error(s)"), "{err}");
        assert!(err.contains("address-pools[0].addresses[1]: \"10.0.0.0/33\": prefix length 33 is longer than 32"), "{err}");
        assert!(
            err.contains("address-pools[0].auto_assign: unknown key; did you mean auto-assign?"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let err = check(Path::new("/nonexistent/ferrolb.yaml")).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot read /nonexistent/ferrolb.yaml"),
            "{err:#}"
        );
    }
}
