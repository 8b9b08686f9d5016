//! `ferrolb config ...`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use ferrolb_config::{resources, Config, IpFamily};

/// Subcommands of `ferrolb config`.
#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a ConfigMap manifest, the bare `config` text, or MetalLB's metallb.io
    /// custom resources (a multi-document YAML, as `kubectl apply -f` takes).
    Check(CheckArgs),
    /// Turn a legacy ConfigMap (or its bare config text) into the equivalent metallb.io
    /// custom resources, printed as multi-document YAML on stdout.
    Migrate(MigrateArgs),
    /// Print the CustomResourceDefinitions of the metallb.io kinds FerroLB reads
    /// (`manifests/crds.yaml`).
    Crds,
}

/// Flags of `ferrolb config check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// A ConfigMap manifest (YAML), the bare config text, or metallb.io objects.
    pub file: std::path::PathBuf,
}

/// Flags of `ferrolb config migrate`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// A legacy ConfigMap manifest (YAML) or the bare config text.
    pub file: std::path::PathBuf,
    /// Namespace of the objects written (MetalLB's converter uses metallb-system).
    #[arg(short = 'n', long, default_value = ferrolb_config::METALLB_CONFIGMAP_NAMESPACE)]
    pub namespace: String,
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
        ConfigCommand::Crds => {
            print!("{}", resources::crds_yaml());
            Ok(0)
        }
        ConfigCommand::Migrate(args) => {
            let (code, out, err) = migrate(&args.file, &args.namespace)?;
            print!("{out}");
            eprint!("{err}");
            Ok(code)
        }
    }
}

/// Reads and parses a config file as `config check` does: metallb.io objects when the file
/// holds any, else a ConfigMap manifest or the bare config text.
pub fn load(path: &Path) -> anyhow::Result<Result<Config, ferrolb_config::ConfigErrors>> {
    let text = read(path)?;
    Ok(if resources::looks_like_resources(&text) {
        resources::parse_resources(&text)
    } else {
        ferrolb_config::parse_document(&text)
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Checks a file: (exit code, stdout, stderr). Unreadable files are an `Err`.
pub fn check(path: &Path) -> anyhow::Result<(i32, String, String)> {
    match load(path)? {
        Ok(config) => Ok((0, summary(path, &config), String::new())),
        Err(errors) => Ok((1, String::new(), error_list(path, &errors))),
    }
}

/// Every error of a file, one per line, under a count (the `config check` format).
fn error_list(path: &Path, errors: &ferrolb_config::ConfigErrors) -> String {
    let mut err = format!("{}: {} error(s):\n", path.display(), errors.len());
    for e in errors.errors() {
        let _ = writeln!(err, "  {e}");
    }
    err
}

/// Migrates a legacy config file: (exit code, objects as YAML, notes or errors).
pub fn migrate(path: &Path, namespace: &str) -> anyhow::Result<(i32, String, String)> {
    let text = read(path)?;
    if resources::looks_like_resources(&text) {
        let err = format!(
            "{}: already metallb.io custom resources; nothing to migrate\n",
            path.display()
        );
        return Ok((1, String::new(), err));
    }
    match resources::migrate(&text, namespace) {
        Ok(migration) => {
            let mut notes = String::new();
            for note in &migration.notes {
                let _ = writeln!(notes, "note: {note}");
            }
            Ok((0, migration.to_yaml(), notes))
        }
        Err(errors) => Ok((1, String::new(), error_list(path, &errors))),
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
        crate::cmd::temp_file("config-check", name, text)
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
    fn custom_resources_are_checked_with_object_paths() {
        let objects = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: default, namespace: metallb-system}\nspec:\n  addresses: [198.51.100.0/24]\n---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: all, namespace: metallb-system}\n---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: tor, namespace: metallb-system}\nspec: {myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1}\n";
        let (code, out, err) = check(&temp("crs.yaml", objects)).unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("10.255.0.1 port 179: peer AS 65000, my AS 64512 (eBGP)"),
            "{out}"
        );
        assert!(out.contains("default (bgp): 256 IPv4, 0 IPv6"), "{out}");

        let bad = objects
            .replace("[198.51.100.0/24]", "[198.51.100.0/24, 198.51.100.0/33]")
            .replace(
                "peerAddress: 10.255.0.1",
                "peerAddress: 10.255.0.1, peerPort: 20000",
            );
        let (code, out, err) = check(&temp("bad-crs.yaml", &bad)).unwrap();
        assert_eq!(code, 1);
        assert!(out.is_empty());
        assert!(err.contains("2 error(s)"), "{err}");
        assert!(
            err.contains(
                "IPAddressPool/metallb-system/default: spec.addresses[1]: \"198.51.100.0/33\""
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "BGPPeer/metallb-system/tor: spec.peerPort: \"20000\": must be in 1..=16384"
            ),
            "{err}"
        );

        let (code, out, err) = migrate(&temp("again.yaml", objects), "ns").unwrap();
        assert_eq!((code, out.as_str()), (1, ""));
        assert!(err.contains("already metallb.io custom resources"), "{err}");
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
