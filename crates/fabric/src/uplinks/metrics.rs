//! A Prometheus text endpoint for the uplink manager's status (plain HTTP/1.0, GET only).

use std::fmt::Write as _;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::warn;

use super::Status;
use crate::Error;

/// Renders the status in the Prometheus text format (the `ferrolb uplinks` endpoint).
pub fn render(status: &Status) -> String {
    render_as(status, false)
}

/// Renders the status as OpenMetrics families, without the final `# EOF`, for a process that
/// serves them beside its own (`ferrolb speaker` running the uplink manager). The samples are
/// the same as [`render`]'s; counters are declared by their family name (no `_total`).
pub fn render_openmetrics(status: &Status) -> String {
    render_as(status, true)
}

fn render_as(status: &Status, openmetrics: bool) -> String {
    let mut out = String::new();
    let declare = |out: &mut String, name: &str, kind: &str, help: &str| {
        let family = match (openmetrics, kind) {
            (true, "counter") => name.trim_end_matches("_total"),
            _ => name,
        };
        let _ = writeln!(out, "# HELP {family} {help}");
        let _ = writeln!(out, "# TYPE {family} {kind}");
    };
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        declare(&mut out, name, kind, help);
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let per = |f: &dyn Fn(&super::UplinkStatus) -> String| -> Vec<(String, String)> {
        status
            .uplinks
            .iter()
            .map(|u| (format!("uplink=\"{}\"", u.name), f(u)))
            .collect()
    };
    family(
        "ferrolb_uplink_preferred",
        "gauge",
        "1 for the uplink whose default route has the lowest metric.",
        status
            .uplinks
            .iter()
            .flat_map(|u| {
                [
                    ("ipv4", &status.preferred_v4),
                    ("ipv6", &status.preferred_v6),
                ]
                .map(|(fam, p)| {
                    (
                        format!("uplink=\"{}\",family=\"{fam}\"", u.name),
                        u8::from(p.as_deref() == Some(u.name.as_str())).to_string(),
                    )
                })
            })
            .collect(),
    );
    family(
        "ferrolb_uplink_healthy",
        "gauge",
        "1 when the gateway answers probes.",
        per(&|u| u8::from(u.healthy).to_string()),
    );
    family(
        "ferrolb_uplink_link_up",
        "gauge",
        "1 when the interface is up with carrier.",
        per(&|u| u8::from(u.link_up).to_string()),
    );
    family(
        "ferrolb_uplink_route_metric",
        "gauge",
        "Metric of the uplink's installed default route (-1: none).",
        per(&|u| {
            u.metric
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-1".into())
        }),
    );
    family(
        "ferrolb_uplink_probes_total",
        "counter",
        "Health probes by result.",
        status
            .uplinks
            .iter()
            .flat_map(|u| {
                [
                    (
                        format!("uplink=\"{}\",result=\"ok\"", u.name),
                        u.probes_ok.to_string(),
                    ),
                    (
                        format!("uplink=\"{}\",result=\"failed\"", u.name),
                        u.probes_failed.to_string(),
                    ),
                ]
            })
            .collect(),
    );
    family(
        "ferrolb_uplink_probe_rtt_seconds",
        "gauge",
        "Round-trip time of the last successful probe.",
        per(&|u| {
            u.last_rtt_ms
                .map(|ms| format!("{}", ms / 1000.0))
                .unwrap_or_else(|| "NaN".into())
        }),
    );
    declare(
        &mut out,
        "ferrolb_uplink_route_changes_total",
        "counter",
        "Default-route changes made.",
    );
    let _ = writeln!(
        out,
        "ferrolb_uplink_route_changes_total {}",
        status.route_changes
    );
    out
}

/// Serves `/metrics` (any path) on `addr` until the task is dropped.
pub async fn serve(addr: SocketAddr, status: watch::Receiver<Status>) -> Result<(), Error> {
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Io {
        what: format!("metrics endpoint on {addr}"),
        source,
    })?;
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "metrics accept failed");
                continue;
            }
        };
        let body = render(&status.borrow());
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buf))
                .await;
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uplinks::UplinkStatus;

    fn status() -> Status {
        Status {
            preferred_v4: Some("dpu".into()),
            preferred_v6: None,
            route_changes: 3,
            uplinks: vec![UplinkStatus {
                name: "dpu".into(),
                healthy: true,
                link_up: true,
                metric: Some(10),
                probes_ok: 7,
                probes_failed: 1,
                last_rtt_ms: Some(0.5),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn prometheus_text_declares_counters_by_sample_name() {
        let text = render(&status());
        assert!(text.contains("# TYPE ferrolb_uplink_probes_total counter\n"));
        assert!(text.contains("ferrolb_uplink_probes_total{uplink=\"dpu\",result=\"failed\"} 1\n"));
        assert!(text.contains("ferrolb_uplink_preferred{uplink=\"dpu\",family=\"ipv4\"} 1\n"));
        assert!(text.contains("ferrolb_uplink_route_changes_total 3\n"));
    }

    #[test]
    fn openmetrics_declares_counter_families_without_total_and_has_no_eof() {
        let text = render_openmetrics(&status());
        assert!(
            text.contains("# TYPE ferrolb_uplink_probes counter\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE ferrolb_uplink_route_changes counter\n"));
        assert!(text.contains("ferrolb_uplink_probes_total{uplink=\"dpu\",result=\"ok\"} 7\n"));
        assert!(text.contains("ferrolb_uplink_route_changes_total 3\n"));
        assert!(text.contains("# TYPE ferrolb_uplink_healthy gauge\n"));
        assert!(!text.contains("# EOF"));
    }
}
