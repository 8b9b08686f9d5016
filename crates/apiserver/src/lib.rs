//! A small in-memory Kubernetes API server speaking the real HTTP list/watch/patch protocol.
//!
//! Used as the test fixture for the controller and speaker (through the real `kube` client) and as the
//! embedded API of `ferrolb demo`, where real `kubectl --server http://ADDR:PORT` talks to it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = ferrolb_apiserver::ApiServer::start("127.0.0.1:0".parse()?).await?;
//! println!("kubectl --server {} get svc -A", server.url());
//! // With kube: kube::Client::try_from(kube::Config::new(server.url().parse()?))?
//! server.store().seed(serde_json::json!({
//!     "apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "config", "namespace": "default"}, "data": {"k": "v"}
//! }))?;
//! assert_eq!(server.calls().count("list", "services"), 0);
//! # Ok(()) }
//! ```
//!
//! Modules: [`store`] (objects, resourceVersions, history), [`registry`] (served resources),
//! [`routes`] (paths and verbs), [`handlers`] (HTTP semantics), [`watch`] (watch streams),
//! [`patch`] (merge, strategic and JSON patch), [`apply`] (server-side apply), [`discovery`],
//! [`openapi`], [`table`] (kubectl tables), [`status`] (error bodies), [`calls`] (request log and
//! counters), [`faults`] (fault injection), [`selectors`], [`schema_validation`] (custom resources against their CRD schema), [`convert`] (events.k8s.io views), [`protobuf`] (kubectl create
//! bodies), [`defaults`], [`meta`].

pub mod apply;
pub mod calls;
pub mod convert;
pub mod crd;
pub mod defaults;
pub mod discovery;
pub mod faults;
pub mod handlers;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod routes;
pub mod schema_validation;
pub mod selectors;
pub mod status;
pub mod store;
pub mod table;
pub mod watch;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use calls::{Call, Calls, RequestRecord};
pub use faults::{Fault, Injected};
pub use status::ApiError;
pub use store::{Store, Target};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Server options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Interval between BOOKMARK events on watches that allow them (real servers: about a minute).
    pub bookmark_interval: Duration,
    /// How many events the watch history keeps; a watch resuming from before it gets 410 Gone.
    pub history_limit: usize,
    /// Serve this store instead of a new one (e.g. one already seeded).
    pub store: Option<Store>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bookmark_interval: Duration::from_secs(1),
            history_limit: 10_000,
            store: None,
        }
    }
}

/// Entry point: `ApiServer::start(addr)`.
#[derive(Debug)]
pub struct ApiServer;

impl ApiServer {
    /// Start serving on `addr` (`127.0.0.1:0` picks a free port) with default [`Options`], on the current
    /// tokio runtime.
    pub async fn start(addr: SocketAddr) -> Result<RunningServer, Error> {
        Self::start_with(addr, Options::default()).await
    }

    /// Start serving on `addr` with `options`.
    pub async fn start_with(addr: SocketAddr, options: Options) -> Result<RunningServer, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let store = options
            .store
            .unwrap_or_else(|| Store::new(options.history_limit));
        let calls = Calls::default();
        let app = handlers::App {
            store: store.clone(),
            calls: calls.clone(),
            bookmark_interval: options.bookmark_interval,
        };
        let router = Router::new().fallback(handlers::handle).with_state(app);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "api server stopped with an error");
            }
        });
        tracing::info!(url = %format!("http://{local}"), "in-memory Kubernetes API serving");
        Ok(RunningServer {
            addr: local,
            store,
            calls,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A running server; dropping it stops it (open watches end).
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    store: Store,
    calls: Calls,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`: the base URL for `kube::Config::new` and `kubectl --server`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Direct access to the objects (seed, read, compact the history, expire watches).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The request log and per-call counters (and failure injection).
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Stop accepting, end every watch, and wait for open connections to finish.
    pub async fn shutdown(mut self) {
        self.store.close_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.store.close_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
