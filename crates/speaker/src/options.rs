//! Options of the speaker: where the configuration comes from, addresses, timers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use ferrolb_view::ConfigSource;

/// Everything [`crate::start`] needs besides the client and the node name.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the configuration comes from.
    pub config_source: ConfigSource,
    /// Address of the HTTP server (`/healthz`, `/readyz`, `/metrics`, `/status`); `None` runs
    /// none. Port 0 picks a free port (see [`crate::Running::http_addr`]).
    pub http_addr: Option<SocketAddr>,
    /// `spec.loadBalancerClass` FerroLB answers to; `None`: only Services without a class.
    pub load_balancer_class: Option<String>,
    /// BGP source address for peers without `source-address` (the demo runs two speakers on
    /// 127.0.0.1 and 127.0.0.2 this way). `None`: chosen by the kernel.
    pub source_address: Option<IpAddr>,
    /// Router id for peers without `router-id`; `None`: the node's IPv4 address on the
    /// interface facing the peer (a route lookup), else its InternalIP.
    pub router_id: Option<Ipv4Addr>,
    /// Namespace of `password-secret`s that name none (the namespace FerroLB runs in).
    pub namespace: String,
    /// Whether to create Events on Services.
    pub events: bool,
    /// How often a config file is looked at again (file source only).
    pub file_poll_interval: Duration,
    /// Connect-retry interval of every session: the quick retries
    /// ([`QUICK_RETRY`](crate::sessions::QUICK_RETRY), doubling) stop at it, then it doubles up
    /// to a minute.
    pub connect_retry: Duration,
    /// This speaker's pod (`POD_NAME` from the downward API): at stop, a DaemonSet owning it
    /// that is deleted or no longer runs a pod on this node makes the stop a departure.
    /// `None`: not checked.
    pub pod_name: Option<String>,
    /// Directory for the restart marker (see [`crate::restart_marker`]); `None`: the speaker
    /// never sets the R flag. Meant to survive the container but not the node (`/run/ferrolb`).
    pub state_dir: Option<PathBuf>,
    /// More metric families for `/metrics`, rendered on every scrape (e.g. the uplink manager
    /// running in the same process).
    pub extra_metrics: Option<ExtraMetrics>,
    /// Whether to write `BGPSessionState` objects (ferrolb.io/v1alpha1) in `namespace`.
    pub session_states: bool,
}

/// Renders OpenMetrics families (no `# EOF`) that `/metrics` appends to the speaker's own.
#[derive(Clone)]
pub struct ExtraMetrics(pub Arc<dyn Fn() -> String + Send + Sync>);

impl std::fmt::Debug for ExtraMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExtraMetrics(..)")
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_source: ConfigSource::default(),
            http_addr: Some(SocketAddr::from(([0, 0, 0, 0], DEFAULT_HTTP_PORT))),
            load_balancer_class: None,
            source_address: None,
            router_id: None,
            namespace: default_namespace(),
            events: true,
            file_poll_interval: Duration::from_secs(2),
            connect_retry: Duration::from_secs(2),
            state_dir: None,
            pod_name: None,
            extra_metrics: None,
            session_states: true,
        }
    }
}

/// Default port of the speaker's HTTP server (MetalLB's speaker uses 7472 for the controller
/// and 7473 for the speaker, FerroLB keeps that split).
pub const DEFAULT_HTTP_PORT: u16 = 7473;

/// `POD_NAMESPACE` from the downward API, else `ferrolb-system`.
pub fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ferrolb_config::CONFIGMAP_NAMESPACE.to_string())
}
