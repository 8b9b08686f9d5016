//! The speaker's HTTP server: `/healthz`, `/readyz`, `/metrics` and `/status` (JSON for
//! `ferrolb status`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::shared::Shared;

/// Binds `addr` and serves until `stop` turns true; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(shared);
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "HTTP server failed");
        }
    });
    Ok((bound, task))
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    match shared.not_ready_reason() {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics_text(&shared),
    )
        .into_response()
}

/// The speaker's OpenMetrics text, with any extra families placed before the final `# EOF`.
fn metrics_text(shared: &Shared) -> String {
    shared.refresh_bfd_metrics();
    let mut text = shared.metrics.encode();
    if let Some(extra) = &shared.extra_metrics {
        let eof = text.rfind("# EOF").unwrap_or(text.len());
        text.truncate(eof);
        text.push_str(&(extra.0)());
        text.push_str("# EOF\n");
    }
    text
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.report()).into_response()
}
