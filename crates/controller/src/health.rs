//! The HTTP server for `/metrics`, `/healthz` and `/readyz`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// What `/readyz` reports: ready once a config is loaded and the first sync of Services is done.
#[derive(Debug, Default)]
pub struct Readiness {
    config_loaded: AtomicBool,
    synced: AtomicBool,
}

impl Readiness {
    /// Records whether a valid config has been loaded.
    pub fn set_config_loaded(&self, loaded: bool) {
        self.config_loaded.store(loaded, Ordering::SeqCst);
    }

    /// Records whether the initial list of Services has been processed.
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }

    /// Whether a valid config has been loaded.
    pub fn config_loaded(&self) -> bool {
        self.config_loaded.load(Ordering::SeqCst)
    }

    /// Whether the initial list of Services has been processed.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// Ready: config loaded and synced.
    pub fn ready(&self) -> bool {
        self.config_loaded() && self.synced()
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Arc<Readiness>,
}

/// Binds the server; returns the bound address and the future that serves until `shutdown`.
pub async fn bind(
    addr: SocketAddr,
    metrics: Metrics,
    readiness: Arc<Readiness>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState { metrics, readiness });
    let serve = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    };
    Ok((local, serve))
}

async fn metrics_handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = &state.readiness;
    if readiness.ready() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        let mut missing = Vec::new();
        if !readiness.config_loaded() {
            missing.push("no valid configuration loaded yet");
        }
        if !readiness.synced() {
            missing.push("initial sync of Services not done");
        }
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", missing.join("; ")),
        )
    }
}
