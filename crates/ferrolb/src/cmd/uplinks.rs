//! `ferrolb uplinks`: keep the node's default route right across several uplinks (a daemon).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ferrolb_fabric::uplinks::{config, metrics, ManagerConfig, UplinkManager};

/// Flags of `ferrolb uplinks`.
#[derive(clap::Args)]
pub struct Args {
    /// An uplink: `name=eth0,gateway=10.255.1.1,priority=10` (repeatable). Keys: name,
    /// interface (name or glob such as `*f0np0`), pci (VENDOR:DEVICE hex), gateway (default:
    /// learned from the existing default route), priority (higher wins), probe (icmp|none).
    #[arg(long = "uplink", value_name = "SPEC")]
    pub uplinks: Vec<String>,
    /// YAML configuration file (instead of or in addition to --uplink flags).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Time between health probes (e.g. 500ms, 2s).
    #[arg(long, value_name = "DURATION")]
    pub probe_interval: Option<String>,
    /// Consecutive failed (or successful) probes that change an uplink's health.
    #[arg(long, value_name = "N")]
    pub probe_count: Option<u32>,
    /// Metric of the preferred default route; fallbacks get higher ones.
    #[arg(long, value_name = "METRIC")]
    pub base_metric: Option<u32>,
    /// Leave the installed routes in place on exit.
    #[arg(long)]
    pub leave_routes: bool,
    /// Directory with DHCP client leases, read for uplinks without a gateway when no default
    /// route shows one (repeatable; replaces the default list: /var/lib/dhcp,
    /// /var/lib/dhclient, /run/systemd/netif/leases, /var/lib/NetworkManager).
    #[arg(long = "dhcp-lease-dir", value_name = "DIR")]
    pub dhcp_lease_dirs: Vec<PathBuf>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9474).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

/// Runs `ferrolb uplinks` until SIGTERM/SIGINT.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    super::logging::init();
    let mut cfg = manager_config(args.config.as_deref(), "--config", &args.uplinks)?;
    if let Some(i) = &args.probe_interval {
        cfg.probe.interval = config::parse_duration("--probe-interval", i)?;
    }
    if let Some(c) = args.probe_count {
        cfg.probe.count = c;
    }
    if let Some(m) = args.base_metric {
        cfg.base_metric = m;
    }
    cfg.leave_routes = args.leave_routes;
    if !args.dhcp_lease_dirs.is_empty() {
        cfg.dhcp_lease_dirs = args.dhcp_lease_dirs.clone();
    }
    let manager = UplinkManager::new(cfg)?;
    if let Some(addr) = args.metrics_addr {
        let status = manager.status();
        tokio::spawn(async move {
            if let Err(e) = metrics::serve(addr, status).await {
                tracing::error!(error = %e, "metrics endpoint failed");
            }
        });
    }
    manager.run(shutdown_signal()).await?;
    Ok(0)
}

/// The uplink manager's configuration from a YAML file (`config`, given by flag `flag`) and
/// `--uplink` specs, added after the file's uplinks. Shared by `ferrolb uplinks` and
/// `ferrolb speaker`.
pub fn manager_config(
    config: Option<&Path>,
    flag: &str,
    uplinks: &[String],
) -> anyhow::Result<ManagerConfig> {
    let mut cfg = match config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {flag} {}", path.display()))?;
            config::parse_yaml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => ManagerConfig::default(),
    };
    for (i, text) in uplinks.iter().enumerate() {
        cfg.uplinks.push(config::parse_uplink_flag(i, text)?);
    }
    Ok(cfg)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}
