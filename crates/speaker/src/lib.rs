//! FerroLB speaker: which Service IPs this node announces to which peer, and the sessions that do it.
//!
//! - [`policy`]: the pure announce decision with a reason for every Service address;
//! - [`sessions`]: the session manager driving `ferrolb_bgp::driver::Speaker`;
//! - [`watchers`] / [`world`]: what the speaker sees of the cluster;
//! - [`http`]: `/healthz`, `/readyz`, `/metrics`, `/status` ([`report::StatusReport`]).
//!
//! Library entry points: [`start`] (returns a [`Running`] handle) and [`run`] (until a
//! shutdown future completes). The demo runs several speakers in one process this way.

pub mod bfd;
pub mod departure;
pub mod events;
pub mod heap;
pub mod http;
pub mod metrics;
pub mod options;
pub mod policy;
pub mod report;
pub mod reset_lease;
pub mod restart_marker;
pub mod router_id;
pub mod session_state;
pub mod sessions;
pub mod shared;
mod stop;
pub mod watchers;
pub mod weight_log;
pub mod world;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrolb_bgp::driver::Speaker;
use kube::Client;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

pub use options::{ConfigSource, ExtraMetrics, Options, DEFAULT_HTTP_PORT};
pub use report::StatusReport;

use crate::events::EventTracker;
use crate::policy::PolicyInput;
use crate::restart_marker::RestartMarker;
use crate::sessions::{ManagerOptions, SessionManager};
use crate::shared::{SessionInfo, Shared, Snapshot};
use crate::world::World;

/// Errors starting the speaker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The node name is empty.
    #[error("the node name is empty: set NODE_NAME (downward API: spec.nodeName) or --node-name")]
    NoNodeName,
    /// The HTTP server could not listen.
    #[error("cannot listen on {addr} for /healthz, /readyz, /metrics and /status: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running speaker.
pub struct Running {
    http_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    main: tokio::task::JoinHandle<()>,
    http: Option<tokio::task::JoinHandle<()>>,
    session_states: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The bound address of the HTTP server.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The current status document (what `/status` serves).
    pub fn status(&self) -> StatusReport {
        self.shared.report()
    }

    /// The BGP speaker handle (live per-peer status).
    pub fn bgp(&self) -> &Speaker {
        &self.shared.speaker
    }

    /// Stops: a restart or a departure (see [`departure`]): sessions with graceful restart
    /// close without a NOTIFICATION on a restart, Cease/Hard Reset on a departure; the others
    /// get Cease/Administrative Shutdown. Then the watches and the HTTP server end. Returns
    /// when done (a few seconds at most).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.main.await;
        if let Some(h) = self.http {
            let _ = h.await;
        }
        if let Some(h) = self.session_states {
            let _ = h.await;
        }
    }
}

/// Starts the speaker for `node_name`: watches, sessions, HTTP server.
pub async fn start(client: Client, node_name: &str, options: Options) -> Result<Running, Error> {
    let node_name = node_name.trim().to_string();
    if node_name.is_empty() {
        return Err(Error::NoNodeName);
    }
    let speaker = Speaker::new();
    let shared = Arc::new(Shared {
        node: node_name.clone(),
        metrics: metrics::Metrics::new(),
        speaker: speaker.clone(),
        snapshot: Mutex::new(Snapshot {
            not_ready: "starting".into(),
            ..Snapshot::default()
        }),
        extra_metrics: options.extra_metrics.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (http_addr, http) = match options.http_addr {
        Some(addr) => {
            let (bound, task) = http::serve(addr, Arc::clone(&shared), stop_rx.clone())
                .await
                .map_err(|source| Error::Http { addr, source })?;
            info!(address = %bound, "serving /healthz, /readyz, /metrics, /status");
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    let (tx, rx) = mpsc::channel(1024);
    let watch_tasks = watchers::spawn_all(
        &client,
        &node_name,
        &options.config_source,
        options.file_poll_interval,
        tx,
        stop_rx.clone(),
    );
    let events = options
        .events
        .then(|| events::spawn_sender(client.clone(), node_name.clone()));
    let shared_loop = Arc::clone(&shared);
    let (namespace, pod_name) = (options.namespace.clone(), options.pod_name.clone());
    let marker = options.state_dir.as_deref().map(RestartMarker::in_dir);
    let restart_state = marker.as_ref().is_some_and(RestartMarker::take);
    if restart_state {
        info!("a previous speaker left the restart marker: this start is a restart (R flag)");
    }
    let session_states = options.session_states.then(|| {
        let shared = Arc::clone(&shared);
        tokio::spawn(session_state::run(
            client.clone(),
            options.namespace.clone(),
            node_name.clone(),
            move || shared.report(),
            stop_rx.clone(),
        ))
    });
    let manager = SessionManager::new(
        speaker,
        Some(client.clone()),
        ManagerOptions {
            namespace: options.namespace.clone(),
            default_source: options.source_address,
            default_router_id: options.router_id,
            connect_retry: options.connect_retry,
            node: node_name.clone(),
            restart_state,
        },
    );
    info!(node = %node_name, config = %options.config_source, "speaker started");
    let main = tokio::spawn(async move {
        let (world, mut manager) = main_loop(
            node_name.clone(),
            options,
            Arc::clone(&shared_loop),
            manager,
            rx,
            events,
            stop_rx,
        )
        .await;
        let who = stop::Identity {
            node: &node_name,
            namespace: &namespace,
            pod: pod_name.as_deref(),
        };
        stop::stop_sessions(&world, &mut manager, &client, &who, marker).await;
        for t in watch_tasks {
            t.abort();
        }
        info!("speaker stopped");
    });
    Ok(Running {
        http_addr,
        shared,
        stop: stop_tx,
        main,
        http,
        session_states,
    })
}

/// Runs the speaker until `shutdown` completes, then stops it gracefully.
pub async fn run(
    client: Client,
    node_name: &str,
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let running = start(client, node_name, options).await?;
    shutdown.await;
    info!("shutting down");
    running.stop().await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn main_loop(
    node_name: String,
    options: Options,
    shared: Arc<Shared>,
    mut manager: SessionManager,
    mut rx: mpsc::Receiver<Change>,
    events: Option<mpsc::Sender<events::PendingEvent>>,
    mut stop: watch::Receiver<bool>,
) -> (World, SessionManager) {
    let mut world = World::default();
    let mut tracker = EventTracker::default();
    let mut ignored_weights = weight_log::IgnoredWeights::default();
    let mut applied_once = false;
    let mut trim_at: Option<tokio::time::Instant> = None;
    loop {
        let change = tokio::select! {
            c = rx.recv() => c,
            _ = stop.wait_for(|s| *s) => None,
            _ = sleep_until(trim_at) => {
                trim_at = None;
                heap::release_free_memory();
                continue;
            }
        };
        let Some(change) = change else { break };
        let mut changed = world.apply(change);
        // Take everything already queued before computing (bursts cost one pass).
        while let Ok(more) = rx.try_recv() {
            changed |= world.apply(more);
        }
        if changed && trim_at.is_none() {
            trim_at = Some(tokio::time::Instant::now() + TRIM_DELAY);
        }
        shared
            .metrics
            .config_loaded
            .set(i64::from(world.config.is_some()));
        shared.metrics.config_stale.set(i64::from(
            world.config_error.is_some() && world.config.is_some(),
        ));
        if !changed && applied_once {
            publish_config_state(&shared, &world);
            continue;
        }
        if !world.synced.all() {
            let mut s = shared.snapshot.lock().unwrap_or_else(|p| p.into_inner());
            s.not_ready = format!("waiting for the initial lists ({:?})", world.synced);
            continue;
        }
        let node = world
            .policy_node()
            .cloned()
            .unwrap_or_else(|| ferrolb_view::NodeView {
                name: node_name.clone(),
                ..Default::default()
            });
        let config = world.config.clone();
        let generation = world.config_generation;
        world.refresh();
        let desired = policy::desired(
            PolicyInput {
                config: config.as_deref(),
                node: &node,
                load_balancer_class: options.load_balancer_class.as_deref(),
                endpoints: world.endpoints(),
                leaving: world.departure(),
            },
            world.services.values(),
        );
        ignored_weights.update(&desired.decisions);
        let touched = manager
            .apply(&desired, world.policy_node(), generation)
            .await;
        applied_once = config.is_some();
        for address in touched {
            let label = manager
                .sessions()
                .find(|(_, c)| c.address == address)
                .map(|(k, _)| k.to_string())
                .unwrap_or_else(|| address.to_string());
            let rx = manager.speaker().watch(address);
            spawn_metrics_watch(Arc::clone(&shared), label, address, rx);
        }
        if let Some(events) = &events {
            let uid_of =
                |k: &ferrolb_view::ServiceKey| world.services.get(k).and_then(|s| s.uid.clone());
            for e in tracker.changes(&node_name, &desired.decisions, uid_of) {
                if events.try_send(e).is_err() {
                    warn!("event queue full; dropping an Event");
                }
            }
        }
        shared.metrics.announced_services.set(
            desired
                .decisions
                .iter()
                .filter(|d| d.reason.is_announced())
                .count() as i64,
        );
        let sessions = manager
            .sessions()
            .map(|(k, c)| SessionInfo {
                label: k.to_string(),
                address: c.address,
                peer_asn: c.session.peer_as,
                local_asn: c.session.local_as,
                router_id: c.session.router_id.to_string(),
                desired: manager.desired_count(c.address),
                bfd: manager.bfd.live(c.address),
            })
            .collect();
        let setup_errors = manager
            .setup_errors
            .values()
            .map(|e| (e.key.to_string(), e.key.address, e.error.clone()))
            .collect();
        // The session manager holds each peer's routes; /status only needs the decisions.
        let mut desired = desired;
        for plan in &mut desired.peers {
            plan.routes = Default::default();
        }
        {
            let mut s = shared.snapshot.lock().unwrap_or_else(|p| p.into_inner());
            s.sessions = sessions;
            s.setup_errors = setup_errors;
            s.desired = Arc::new(desired);
            s.config_loaded = world.config.is_some();
            s.config_error = world.config_error.clone();
            s.ready = applied_once;
            s.not_ready = if applied_once {
                String::new()
            } else {
                match &world.config_error {
                    Some(e) => format!("no valid configuration: {e}"),
                    None => "no configuration loaded".into(),
                }
            };
        }
    }
    (world, manager)
}

/// How long after a change the heap is trimmed: long enough for the UPDATEs of a burst to be
/// encoded and sent, so their buffers are free by then.
const TRIM_DELAY: Duration = Duration::from_secs(1);

/// Completes at `at`, or never when there is nothing scheduled.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn publish_config_state(shared: &Shared, world: &World) {
    let mut s = shared.snapshot.lock().unwrap_or_else(|p| p.into_inner());
    s.config_loaded = world.config.is_some();
    s.config_error = world.config_error.clone();
}

fn spawn_metrics_watch(
    shared: Arc<Shared>,
    label: String,
    address: std::net::IpAddr,
    rx: Option<watch::Receiver<ferrolb_bgp::driver::PeerStatus>>,
) {
    tokio::spawn(async move {
        // None: a peer held until BFD is Up (graceful restart with BFD); the driver adds it
        // within bfd::START_WAIT.
        let mut rx = match rx {
            Some(rx) => rx,
            None => match added_within(&shared, address, bfd::START_WAIT * 2).await {
                Some(rx) => rx,
                None => return,
            },
        };
        loop {
            loop {
                let status = rx.borrow_and_update().clone();
                shared.metrics.observe(&label, &status);
                if rx.changed().await.is_err() {
                    break;
                }
            }
            // The driver's peer is gone: not Established. A reset (ordered by the reset Lease)
            // and BFD (RFC 5882 coupling) remove and re-add a peer without the loop: follow the
            // new one while the session is still configured.
            shared
                .metrics
                .session_up
                .get_or_create(&metrics::PeerLabels {
                    peer: label.clone(),
                })
                .set(0);
            match resubscribe(&shared, address).await {
                Some(next) => rx = next,
                None => break,
            }
        }
        shared.metrics.forget(&label);
    });
}

/// Waits (at most `limit`) for the driver to have the peer `address`.
async fn added_within(
    shared: &Shared,
    address: std::net::IpAddr,
    limit: Duration,
) -> Option<watch::Receiver<ferrolb_bgp::driver::PeerStatus>> {
    let end = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < end {
        if let Some(rx) = shared.speaker.watch(address) {
            return Some(rx);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Waits for the driver's peer `address` to be added back while the loop still has a session
/// for it (a reset, or a BFD-held peer); None when the session is no longer configured.
async fn resubscribe(
    shared: &Shared,
    address: std::net::IpAddr,
) -> Option<watch::Receiver<ferrolb_bgp::driver::PeerStatus>> {
    loop {
        let configured = shared
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sessions
            .iter()
            .any(|s| s.address == address);
        if !configured {
            return None;
        }
        if let Some(rx) = shared.speaker.watch(address) {
            return Some(rx);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

use crate::world::Change;
