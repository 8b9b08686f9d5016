//! `ferrolb controller`: assigns LoadBalancer IPs to Services (see `ferrolb_controller`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use ferrolb_controller::{LeaseOptions, Options};

/// Flags of `ferrolb controller`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: super::ConfigSourceArgs,
    /// Address for /metrics, /healthz and /readyz.
    #[arg(long, default_value = "0.0.0.0:7472")]
    metrics_addr: SocketAddr,
    /// API server URL (e.g. http://127.0.0.1:8080 for `ferrolb demo --listen`); default: the
    /// in-cluster config or the kubeconfig.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// This replica's identity in the Lease (default: POD_NAME, else the host name).
    #[arg(long)]
    identity: Option<String>,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "ferrolb-system")]
    lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "ferrolb-controller")]
    lease_name: String,
    /// Lease duration in seconds: a follower takes over this long after the leader's last renewal.
    #[arg(long, default_value_t = 15)]
    lease_duration: u64,
    /// Seconds between renewals (leader) or looks at the Lease (follower).
    #[arg(long, default_value_t = 2)]
    lease_retry: u64,
    /// Run without leader election (a single replica only: two would both write).
    #[arg(long)]
    no_leader_election: bool,
    /// Also handle Services with this spec.loadBalancerClass (e.g. ferrolb.io/lb); Services
    /// without a class are always handled.
    #[arg(long, value_name = "CLASS")]
    load_balancer_class: Option<String>,
}

/// Runs `ferrolb controller` until SIGTERM or Ctrl-C; returns the exit code.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    super::logging::init();
    let options = options_from(&args)?;
    let client = match &args.server {
        Some(url) => {
            let uri = url
                .parse()
                .with_context(|| format!("--server: {url:?} is not a URL"))?;
            kube::Client::try_from(ferrolb_controller::client_config(kube::Config::new(uri)))
                .context("cannot build a Kubernetes client for --server")?
        }
        None => {
            let config = kube::Config::infer()
                .await
                .context("cannot find a Kubernetes API (in-cluster config or kubeconfig)")?;
            kube::Client::try_from(ferrolb_controller::client_config(config))
                .context("cannot build a Kubernetes client")?
        }
    };
    ferrolb_controller::run(client, options, shutdown_signal()).await?;
    Ok(0)
}

fn options_from(args: &Args) -> anyhow::Result<Options> {
    if args.lease_duration == 0 {
        bail!("--lease-duration: 0: must be at least 1 second");
    }
    if args.lease_retry == 0 || args.lease_retry * 3 > args.lease_duration * 2 {
        bail!(
            "--lease-retry: {}: must be at least 1 and at most two thirds of --lease-duration ({})",
            args.lease_retry,
            args.lease_duration
        );
    }
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(ferrolb_controller::options::default_identity);
    let config_source = args.config.config_source()?;
    let lease = (!args.no_leader_election).then(|| {
        let duration = Duration::from_secs(args.lease_duration);
        LeaseOptions {
            namespace: args.lease_namespace.clone(),
            name: args.lease_name.clone(),
            identity: identity.clone(),
            lease_duration: duration,
            retry_interval: Duration::from_secs(args.lease_retry),
            renew_deadline: duration * 2 / 3,
        }
    });
    let mut options = Options::new(identity);
    options.config_source = config_source;
    options.metrics_addr = Some(args.metrics_addr);
    options.lease = lease;
    options.load_balancer_class = args.load_balancer_class.clone();
    // The speakers write their BGPSessionState objects in the same namespace (POD_NAMESPACE).
    options.session_gc_namespace = Some(args.lease_namespace.clone());
    Ok(options)
}

/// Completes on SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
