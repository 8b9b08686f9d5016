//! `ferrolb speaker`: announces this node's LoadBalancer IPs over BGP (see `ferrolb_speaker`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use anyhow::{bail, Context};
use ferrolb_fabric::uplinks::{metrics, UplinkManager};
use ferrolb_speaker::{ExtraMetrics, Options};
use tokio::sync::watch;

/// Flags of `ferrolb speaker`.
#[derive(clap::Args)]
pub struct Args {
    /// This node's name (Kubernetes: the downward API's spec.nodeName as NODE_NAME).
    #[arg(long, env = "NODE_NAME")]
    node_name: Option<String>,
    #[command(flatten)]
    config: super::ConfigSourceArgs,
    /// Address for /healthz, /readyz, /metrics and /status (`ferrolb status` asks here).
    #[arg(long, default_value = "0.0.0.0:7473")]
    metrics_addr: SocketAddr,
    /// API server URL (e.g. http://127.0.0.1:8080 for `ferrolb demo --listen`); default: the
    /// in-cluster config or the kubeconfig.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// BGP source address for peers that set no `source-address`.
    #[arg(long, value_name = "ADDR")]
    source_address: Option<IpAddr>,
    /// Router id for peers that set no `router-id` (default: this node's IPv4 address on the
    /// interface facing the peer).
    #[arg(long, value_name = "IPV4")]
    router_id: Option<Ipv4Addr>,
    /// Handle Services with this spec.loadBalancerClass (default: only Services without one).
    #[arg(long, value_name = "CLASS")]
    lb_class: Option<String>,
    /// Namespace of password Secrets that name none (default: POD_NAMESPACE, else ferrolb-system).
    #[arg(long, env = "POD_NAMESPACE")]
    namespace: Option<String>,
    /// Do not create Events on Services.
    #[arg(long)]
    no_events: bool,
    /// Connect-retry interval in seconds: a refused connection is retried after 50 ms, doubling
    /// up to this interval, then doubling up to 60; an attempt in progress gets this long.
    #[arg(long, default_value_t = 2)]
    connect_retry: u64,
    /// Also manage the node's default route across uplinks, as `ferrolb uplinks` does: an
    /// uplink spec (repeatable; same syntax as `ferrolb uplinks --uplink`). The uplink metrics
    /// join the speaker's /metrics.
    #[arg(long = "uplink", value_name = "SPEC")]
    uplinks: Vec<String>,
    /// Uplink manager YAML file (same format as `ferrolb uplinks --config`).
    #[arg(long, value_name = "FILE")]
    uplinks_config: Option<PathBuf>,
    /// Leave the uplink manager's routes in place when the speaker exits.
    #[arg(long)]
    uplinks_leave_routes: bool,
    /// Directory for the restart marker: a speaker stopping for a restart leaves it, the next
    /// one takes it and sets the R flag of graceful restart (RFC 4724). Mount a hostPath under
    /// /run (cleared when the node reboots). Without it R is never set.
    #[arg(long, value_name = "DIR", env = "FERROLB_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// This speaker's pod (downward API: metadata.name as POD_NAME). At SIGTERM, a DaemonSet
    /// owning it that is deleted, or that no longer runs a pod on this node (nodeSelector,
    /// node affinity, taints), makes the stop a departure (Cease/Hard Reset), not a restart.
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
}

/// Runs `ferrolb speaker` until SIGTERM or Ctrl-C; returns the exit code.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    super::logging::init();
    let node_name = match args.node_name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => bail!("--node-name: not set; set NODE_NAME from the downward API (spec.nodeName)"),
    };
    let options = options_from(&args)?;
    let client = super::kube_client(args.server.as_deref()).await?;
    // Register for SIGTERM before anything starts, so an early stop is never the default kill.
    let signal = shutdown_signal()?;
    let Some(uplinks) = uplink_manager(&args)? else {
        ferrolb_speaker::run(client, &node_name, options, signal).await?;
        return Ok(0);
    };
    run_with_uplinks(client, &node_name, options, signal, uplinks).await
}

/// The uplink manager when any uplink is configured.
fn uplink_manager(args: &Args) -> anyhow::Result<Option<UplinkManager>> {
    if args.uplinks.is_empty() && args.uplinks_config.is_none() {
        return Ok(None);
    }
    let mut cfg = super::uplinks::manager_config(
        args.uplinks_config.as_deref(),
        "--uplinks-config",
        &args.uplinks,
    )?;
    cfg.leave_routes = args.uplinks_leave_routes;
    Ok(Some(UplinkManager::new(cfg)?))
}

/// Runs the speaker and the uplink manager side by side. On SIGTERM the speaker stops first
/// (its Cease goes out while the routes are still in place), then the manager removes its
/// routes. If the manager fails, the speaker is stopped too and the exit code is 1, so the
/// pod restarts instead of running without default-route management.
async fn run_with_uplinks(
    client: kube::Client,
    node_name: &str,
    mut options: Options,
    signal: impl std::future::Future<Output = ()>,
    uplinks: UplinkManager,
) -> anyhow::Result<i32> {
    let status = uplinks.status();
    options.extra_metrics = Some(ExtraMetrics(Arc::new(move || {
        metrics::render_openmetrics(&status.borrow())
    })));
    // The manager task holds the only sender: its failure (or a panic, which drops the
    // sender) stops the speaker too.
    let (stop_speaker, mut speaker_stopped) = watch::channel(false);
    let (stop_uplinks, mut uplinks_stopped) = watch::channel(false);
    let manager = tokio::spawn(async move {
        let result = uplinks
            .run(async move {
                let _ = uplinks_stopped.wait_for(|s| *s).await;
            })
            .await;
        if let Err(err) = &result {
            tracing::error!(error = %err, "the uplink manager failed; stopping the speaker");
            stop_speaker.send_replace(true);
        }
        result
    });
    let speaker_shutdown = async move {
        tokio::select! {
            _ = signal => {}
            _ = speaker_stopped.wait_for(|s| *s) => {}
        }
    };
    let spoke = ferrolb_speaker::run(client, node_name, options, speaker_shutdown).await;
    stop_uplinks.send_replace(true);
    let managed = manager.await.context("the uplink manager task")?;
    spoke?;
    match managed {
        Ok(()) => Ok(0),
        Err(err) => {
            eprintln!("error: uplink manager: {err}");
            Ok(1)
        }
    }
}

fn options_from(args: &Args) -> anyhow::Result<Options> {
    if args.connect_retry == 0 || args.connect_retry > 60 {
        bail!(
            "--connect-retry: {}: must be 1 to 60 seconds",
            args.connect_retry
        );
    }
    let config_source = args.config.config_source()?;
    let mut options = Options {
        config_source,
        http_addr: Some(args.metrics_addr),
        load_balancer_class: args.lb_class.clone(),
        source_address: args.source_address,
        router_id: args.router_id,
        events: !args.no_events,
        connect_retry: Duration::from_secs(args.connect_retry),
        ..Options::default()
    };
    if let Some(ns) = args
        .namespace
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        options.namespace = ns.to_string();
    }
    options.state_dir = args.state_dir.clone();
    options.pod_name = args
        .pod_name
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Ok(options)
}

/// A future that completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C; the handler is
/// installed now.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    })
}
