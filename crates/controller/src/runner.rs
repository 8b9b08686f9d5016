//! The controller's entry points: [`start`] (returns a handle) and [`run`] (until a shutdown
//! future completes). Both run the same tasks: the Lease election, the config source, the
//! HTTP server for metrics and probes, and the reconciler loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config_source;
use crate::health::{self, Readiness};
use crate::leader::{LeaderElector, Leadership};
use crate::metrics::Metrics;
use crate::options::Options;
use crate::reconciler::{ControllerEvent, Reconciler};

/// A leader whose status writes all failed for this many lease durations steps down.
const STEP_DOWN_LEASES: u32 = 2;

/// Errors that stop the controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The metrics/health server could not bind its address.
    #[error("cannot listen on {addr} for metrics and health: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A task of the controller panicked or was cancelled.
    #[error("controller task failed: {0}")]
    Task(String),
}

/// What the controller is doing, as published on [`ControllerHandle::state`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControllerState {
    /// This replica holds the lease (or runs without election).
    pub leader: bool,
    /// This replica writes: leader, and the re-list after becoming leader is done.
    pub writing: bool,
    /// The first list of Services has been processed.
    pub synced: bool,
    /// A valid configuration is in force.
    pub config_loaded: bool,
    /// The latest configuration seen is broken or was rejected (the last good one runs).
    pub config_stale: bool,
    /// Counts the configurations applied so far (a new one may come from another source).
    pub config_generation: u64,
    /// Addresses assigned and available per pool (what the IPAddressPool status shows).
    pub pools: Vec<crate::allocator::PoolCounts>,
}

/// A running controller.
pub struct ControllerHandle {
    metrics_addr: Option<SocketAddr>,
    metrics: Metrics,
    state: watch::Receiver<ControllerState>,
    events: broadcast::Sender<ControllerEvent>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl ControllerHandle {
    /// Address the metrics/health server listens on (useful with port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The controller's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A receiver of the controller's state.
    pub fn state(&self) -> watch::Receiver<ControllerState> {
        self.state.clone()
    }

    /// Allocation outcomes as they happen (for `ferrolb demo` and tests).
    pub fn subscribe(&self) -> broadcast::Receiver<ControllerEvent> {
        self.events.subscribe()
    }

    /// Waits until `pred` holds for the state, or `timeout` passes; returns whether it held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&ControllerState) -> bool,
    ) -> bool {
        let mut state = self.state.clone();
        tokio::time::timeout(
            timeout,
            async move { state.wait_for(|s| pred(s)).await.is_ok() },
        )
        .await
        .unwrap_or(false)
    }

    /// Stops cleanly: the leader releases its Lease so a follower takes over at once.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.shutdown.send_replace(true);
        self.task.await.map_err(|err| Error::Task(err.to_string()))
    }

    /// Stops at once, like a killed process: nothing is released, the Lease expires on its own.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Aborts the wrapped tasks when dropped (also when the owning task is aborted).
struct TaskGuard {
    elector: Option<JoinHandle<()>>,
    /// Tells the elector to stop (and release the Lease); sent only after the reconciler has
    /// stopped, so no write of this replica can follow the release.
    elector_stop: watch::Sender<bool>,
    others: Vec<JoinHandle<()>>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(task) = &self.elector {
            task.abort();
        }
        for task in &self.others {
            task.abort();
        }
    }
}

/// Runs the controller until `shutdown` completes, then stops cleanly (releasing the Lease).
pub async fn run(
    client: Client,
    options: Options,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let handle = start(client, options).await?;
    shutdown.await;
    handle.shutdown().await
}

/// Starts the controller and returns a handle to it.
pub async fn start(client: Client, options: Options) -> Result<ControllerHandle, Error> {
    let metrics = Metrics::new();
    let readiness = Arc::new(Readiness::default());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (state_tx, state_rx) = watch::channel(ControllerState::default());
    let (events_tx, _) = broadcast::channel(1024);

    let mut tasks = Vec::new();
    let metrics_addr = match options.metrics_addr {
        Some(addr) => {
            let mut stop = shutdown_rx.clone();
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let (bound, serve) = health::bind(addr, metrics.clone(), readiness.clone(), stopped)
                .await
                .map_err(|source| Error::Bind { addr, source })?;
            tasks.push(tokio::spawn(async move {
                if let Err(err) = serve.await {
                    warn!(error = %err, "metrics server stopped");
                }
            }));
            info!(addr = %bound, "serving /metrics, /healthz and /readyz");
            Some(bound)
        }
        None => None,
    };

    let identity = options
        .lease
        .as_ref()
        .map(|l| l.identity.clone())
        .unwrap_or_else(|| "ferrolb-controller".to_string());
    let (leader_tx, leader_rx) = watch::channel(Leadership {
        leader: options.lease.is_none(),
        ..Leadership::default()
    });
    let (elector_stop, elector_stop_rx) = watch::channel(false);
    let (step_down_tx, step_down_rx) = watch::channel(0u64);
    let elector = options.lease.clone().map(|lease| {
        let elector =
            LeaderElector::new(client.clone(), lease, leader_tx).with_step_down(step_down_rx);
        // Stopped by the main loop after it stopped writing; releases the Lease if it holds it.
        tokio::spawn(elector.run(elector_stop_rx, true))
    });

    let (config_rx, config_task) = config_source::spawn(
        client.clone(),
        options.config_source.clone(),
        options.file_poll_interval,
        shutdown_rx.clone(),
    );
    tasks.push(config_task);
    match &options.config_source {
        crate::options::ConfigSource::Resources { namespace }
        | crate::options::ConfigSource::Auto { namespace, .. } => {
            tasks.push(tokio::spawn(crate::pool_status::run(
                client.clone(),
                namespace.clone(),
                state_rx.clone(),
                shutdown_rx.clone(),
            )));
        }
        _ => {}
    }
    if let Some(namespace) = &options.session_gc_namespace {
        tasks.push(tokio::spawn(crate::session_gc::run(
            client.clone(),
            namespace.clone(),
            state_rx.clone(),
            shutdown_rx.clone(),
        )));
    }

    let mut reconciler = Reconciler::new(
        client.clone(),
        identity,
        options.load_balancer_class.clone(),
        metrics.clone(),
        readiness,
        state_tx,
        events_tx.clone(),
    );
    if let Some(lease) = &options.lease {
        reconciler.set_leader_gate(leader_rx.clone());
        reconciler.set_step_down(step_down_tx, lease.lease_duration * STEP_DOWN_LEASES);
    }
    let main = main_loop(
        client,
        reconciler,
        config_rx,
        leader_rx,
        shutdown_rx,
        TaskGuard {
            elector,
            elector_stop,
            others: tasks,
        },
    );
    let task = tokio::spawn(main);
    Ok(ControllerHandle {
        metrics_addr,
        metrics,
        state: state_rx,
        events: events_tx,
        shutdown: shutdown_tx,
        task,
    })
}

type ServiceStream =
    futures::stream::BoxStream<'static, Result<watcher::Event<Service>, watcher::Error>>;

fn service_stream(client: &Client) -> ServiceStream {
    let api: Api<Service> = Api::all(client.clone());
    // A list straight from storage (not a possibly older cache): a relist after 410 must not
    // hand back a state older than what this replica already wrote.
    let config = watcher::Config::default().list_semantic(watcher::ListSemantic::MostRecent);
    watcher(api, config)
        .backoff(crate::retry::watch_backoff())
        .boxed()
}

async fn main_loop(
    client: Client,
    mut reconciler: Reconciler,
    mut config_rx: tokio::sync::mpsc::Receiver<config_source::ConfigUpdate>,
    mut leader_rx: watch::Receiver<Leadership>,
    mut shutdown: watch::Receiver<bool>,
    mut tasks: TaskGuard,
) {
    let mut config_open = true;
    let mut leader_open = true;
    let mut services = service_stream(&client);
    reconciler.set_leadership(*leader_rx.borrow_and_update());
    loop {
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            changed = leader_rx.changed(), if leader_open => {
                if changed.is_err() {
                    // No election (a single writer), or the elector stopped (only on shutdown):
                    // leadership stays as it is.
                    leader_open = false;
                    continue;
                }
                let leadership = *leader_rx.borrow_and_update();
                if reconciler.is_new_term(leadership) {
                    // Before writing anything, list again from scratch and register every
                    // address in use: a fresh watcher starts with a full list.
                    services = service_stream(&client);
                }
                reconciler.set_leadership(leadership);
            }
            update = config_rx.recv(), if config_open => {
                match update {
                    Some(update) => reconciler.on_config(update).await,
                    // The config source ended (only on shutdown); keep the last config.
                    None => config_open = false,
                }
            }
            event = services.next() => {
                match event {
                    Some(Ok(event)) => reconciler.on_service_event(event).await,
                    Some(Err(err)) => warn!(error = %err, "watching Services failed; retrying"),
                    None => services = service_stream(&client),
                }
            }
            _ = sleep_until(reconciler.next_retry()) => reconciler.retry_due().await,
        }
    }
    reconciler.set_leadership(Leadership::default());
    // Only now, with no write in flight, may the elector release the Lease.
    tasks.elector_stop.send_replace(true);
    if let Some(task) = tasks.elector.as_mut() {
        let _ = task.await;
    }
    for task in tasks.others.iter_mut() {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    info!("controller stopped");
}

/// Sleeps until `at`; never completes for `None`.
async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
