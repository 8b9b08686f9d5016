//! `ferrolb status`: asks the local speaker over its HTTP port and prints a
//! `show bgp summary`-style table (`--services`: each Service IP and why it is or is not
//! announced; `--json`: the speaker's status document for scripts).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use ferrolb_speaker::report::{BfdReport, GracefulRestartReport, PeerReport, ServiceReport};
use ferrolb_speaker::StatusReport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Flags of `ferrolb status`.
#[derive(clap::Args)]
pub struct Args {
    /// The speaker's HTTP address (its --metrics-addr port on this node).
    #[arg(long, default_value = "127.0.0.1:7473")]
    addr: SocketAddr,
    /// Also list each Service IP with whether this node announces it, and why not.
    #[arg(long)]
    services: bool,
    /// Print the status document as JSON (every field, for scripts).
    #[arg(long)]
    json: bool,
    /// Seconds to wait for the speaker (or the API with --cluster).
    #[arg(long, default_value_t = 5)]
    timeout: u64,
    /// Every node's sessions from the Kubernetes API (the speakers' BGPSessionState objects) as
    /// one table, and per Service which nodes announce it to which peers; no shell on nodes needed.
    #[arg(long)]
    cluster: bool,
    /// With --cluster: API server URL (e.g. http://127.0.0.1:8080 for `ferrolb demo --listen`);
    /// default: the in-cluster config or the kubeconfig.
    #[arg(long, value_name = "URL", requires = "cluster")]
    server: Option<String>,
    /// With --cluster: only this namespace (default: all namespaces).
    #[arg(long, short = 'n', requires = "cluster")]
    namespace: Option<String>,
}

/// Runs `ferrolb status`; returns the exit code.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    if args.cluster {
        return run_cluster(&args).await;
    }
    let body = tokio::time::timeout(Duration::from_secs(args.timeout.max(1)), fetch(args.addr, "/status"))
        .await
        .map_err(|_| anyhow::anyhow!("the speaker at {} did not answer within {} s", args.addr, args.timeout))?
        .with_context(|| {
            format!(
                "cannot reach the speaker at {} (is `ferrolb speaker` running on this node? see --addr)",
                args.addr
            )
        })?;
    let report: StatusReport = serde_json::from_slice(&body).with_context(|| {
        format!(
            "the speaker at {} sent a status document this version cannot read",
            args.addr
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    print!("{}", render_summary(&report));
    if args.services {
        println!();
        print!("{}", render_services(&report.services));
    }
    Ok(0)
}

/// `ferrolb status --cluster`.
async fn run_cluster(args: &Args) -> anyhow::Result<i32> {
    let client = super::kube_client(args.server.as_deref()).await?;
    let status = tokio::time::timeout(
        Duration::from_secs(args.timeout.max(1)),
        super::cluster_status::fetch(client, args.namespace.as_deref()),
    )
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "the Kubernetes API did not answer within {} s",
            args.timeout
        )
    })??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", super::cluster_status::render(&status));
    }
    Ok(0)
}

/// `GET path` over HTTP/1.0; returns the body of a 200 answer.
async fn fetch(addr: SocketAddr, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("malformed HTTP answer");
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw[split + 4..].to_vec();
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("{path} answered {status_line:?}");
    }
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        return dechunk(&body);
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            bail!("malformed chunked body");
        };
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("malformed chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            bail!("truncated chunked body");
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
    bail!("too many chunks")
}

fn hms(secs: u64) -> String {
    let (d, rest) = (secs / 86_400, secs % 86_400);
    if d > 0 {
        format!("{d}d{:02}h{:02}m", rest / 3600, (rest % 3600) / 60)
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            rest / 3600,
            (rest % 3600) / 60,
            rest % 60
        )
    }
}

/// The `show bgp summary`-style table.
fn render_summary(r: &StatusReport) -> String {
    let mut out = String::new();
    let config = match (r.config_loaded, &r.config_error) {
        (true, None) => "config loaded".to_string(),
        (true, Some(_)) => {
            "config loaded (latest version REJECTED, the last good one is in force)".to_string()
        }
        (false, _) => "NO config loaded".to_string(),
    };
    out.push_str(&format!(
        "FerroLB speaker on node {}: {config}, {}\n",
        r.node,
        if r.ready { "ready" } else { "not ready" }
    ));
    if let Some(e) = &r.config_error {
        out.push_str(&format!("Config error: {e}\n"));
    }
    let announced = r.services.iter().filter(|s| s.announced).count();
    out.push_str(&format!(
        "Service addresses announced from this node: {announced} of {}\n\n",
        r.services.iter().filter(|s| s.ip.is_some()).count()
    ));
    if r.peers.is_empty() {
        out.push_str("No BGP sessions on this node.\n");
    } else {
        let rows: Vec<[String; 8]> = r.peers.iter().map(peer_row).collect();
        out.push_str(&table(
            &[
                "Neighbor",
                "AS",
                "LocalAS",
                "MsgRcvd",
                "MsgSent",
                "Up/Down",
                "State/PfxRcd",
                "PfxSnt",
            ],
            &rows,
        ));
        out.push_str(&format!("\nTotal number of neighbors {}\n", r.peers.len()));
        for p in &r.peers {
            if let Some(b) = &p.bfd {
                out.push_str(&bfd_line(&p.peer, b));
            }
            if let Some(g) = &p.graceful_restart {
                out.push_str(&graceful_restart_line(&p.peer, g));
            }
        }
        for p in &r.peers {
            if let Some(e) = &p.setup_error {
                out.push_str(&format!("{}: not started: {e}\n", p.peer));
            } else if let Some(e) = &p.last_error {
                out.push_str(&format!("{}: last error: {e}\n", p.peer));
            }
        }
    }
    for s in &r.skipped_peers {
        out.push_str(&format!(
            "{}: no session from this node: {}\n",
            s.peer, s.reason
        ));
    }
    out
}

/// `10.0.0.1: BFD Up (profile fast), tx 100 ms, rx 100 ms, multiplier 3, detect 300 ms, last down: ...`
fn bfd_line(peer: &str, b: &BfdReport) -> String {
    let last = b
        .last_down_reason
        .as_deref()
        .map(|d| format!(", last down: {d}"))
        .unwrap_or_default();
    format!(
        "{peer}: BFD {} (profile {}), tx {} ms, rx {} ms, multiplier {}, detect {} ms{last}\n",
        b.state,
        b.profile,
        b.tx_interval_ms,
        b.rx_interval_ms,
        b.detect_multiplier,
        b.detect_time_ms
    )
}

/// `10.0.0.1: graceful restart negotiated (restart time 120 s, peer's 120 s, N)`
fn graceful_restart_line(peer: &str, g: &GracefulRestartReport) -> String {
    let peer_time = g
        .peer_restart_time
        .map_or("none: the peer is no helper".to_string(), |t| {
            format!("{t} s")
        });
    let state = if g.negotiated {
        "negotiated"
    } else {
        "not in effect"
    };
    let n = if g.notification { ", N" } else { "" };
    format!(
        "{peer}: graceful restart {state} (restart time {} s, peer's {peer_time}{n})\n",
        g.restart_time
    )
}

fn peer_row(p: &PeerReport) -> [String; 8] {
    let established = p.state == "Established";
    [
        p.peer.clone(),
        p.peer_asn.to_string(),
        p.local_asn.to_string(),
        p.messages_in.to_string(),
        p.messages_out.to_string(),
        match p.uptime_seconds {
            Some(s) if established => hms(s),
            _ => "never".into(),
        },
        if established {
            p.prefixes_received.to_string()
        } else {
            p.state.clone()
        },
        p.prefixes_sent.to_string(),
    ]
}

fn render_services(services: &[ServiceReport]) -> String {
    if services.is_empty() {
        return "No LoadBalancer Services.\n".into();
    }
    let rows: Vec<[String; 6]> = services
        .iter()
        .map(|s| {
            [
                s.service.clone(),
                s.ip.clone().unwrap_or_else(|| "<none>".into()),
                s.pool.clone().unwrap_or_else(|| "-".into()),
                if s.announced {
                    "yes".into()
                } else {
                    "no".into()
                },
                weight_cell(s),
                why_cell(s),
            ]
        })
        .collect();
    table(
        &["Service", "IP", "Pool", "Announced", "Weight", "Why"],
        &rows,
    )
}

/// The announced weight (ready local endpoints), `ignored` for eTP Cluster, else `-`.
fn weight_cell(s: &ServiceReport) -> String {
    match (s.weight, &s.weight_ignored) {
        (Some(w), _) => w.to_string(),
        (None, Some(_)) => "ignored".into(),
        (None, None) => "-".into(),
    }
}

fn why_cell(s: &ServiceReport) -> String {
    let mut why = if s.announced {
        format!(
            "{} to {} via {}",
            s.prefixes.join(","),
            s.peers.join(","),
            s.reason
        )
    } else {
        s.reason.clone()
    };
    if let Some(ignored) = &s.weight_ignored {
        why.push_str("; ");
        why.push_str(ignored);
    }
    why
}

/// Left-aligned columns separated by two spaces (the last column unpadded).
pub(crate) fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == N {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> StatusReport {
        StatusReport {
            node: "n1".into(),
            config_loaded: true,
            ready: true,
            peers: vec![
                PeerReport {
                    peer: "10.255.0.1".into(),
                    peer_asn: 65000,
                    local_asn: 65001,
                    state: "Established".into(),
                    uptime_seconds: Some(3725),
                    prefixes_sent: 3,
                    prefixes_received: 1,
                    messages_in: 12,
                    messages_out: 15,
                    graceful_restart: Some(GracefulRestartReport {
                        negotiated: true,
                        restart_time: 120,
                        peer_restart_time: Some(120),
                        notification: true,
                    }),
                    ..PeerReport::default()
                },
                PeerReport {
                    peer: "10.255.0.9".into(),
                    peer_asn: 65001,
                    local_asn: 65001,
                    state: "Active".into(),
                    last_error: Some(
                        "NOTIFICATION received: Cease/Administrative Shutdown \"maintenance\"".into(),
                    ),
                    ..PeerReport::default()
                },
            ],
            services: vec![
                ServiceReport {
                    service: "web/front".into(),
                    ip: Some("198.51.100.1".into()),
                    pool: Some("default".into()),
                    announced: true,
                    reason_code: "announced".into(),
                    reason: "announced (externalTrafficPolicy Cluster, 2 ready endpoint(s) in the cluster)".into(),
                    prefixes: vec!["198.51.100.1/32".into()],
                    peers: vec!["10.255.0.1".into()],
                    weight_ignored: Some("weight: endpoints is ignored for externalTrafficPolicy Cluster".into()),
                    ..ServiceReport::default()
                },
                ServiceReport {
                    service: "web/weighted".into(),
                    ip: Some("198.51.100.3".into()),
                    pool: Some("default".into()),
                    announced: true,
                    reason_code: "announced".into(),
                    reason: "announced (externalTrafficPolicy Local, 3 ready endpoint(s) on this node)".into(),
                    prefixes: vec!["198.51.100.3/32".into()],
                    peers: vec!["10.255.0.1".into()],
                    weight: Some(3),
                    ..ServiceReport::default()
                },
                ServiceReport {
                    service: "web/local".into(),
                    ip: Some("198.51.100.2".into()),
                    pool: Some("default".into()),
                    announced: false,
                    reason_code: "no-local-endpoints".into(),
                    reason: "not announced: externalTrafficPolicy Local and no ready endpoint on this node (1 on other nodes)".into(),
                    ..ServiceReport::default()
                },
            ],
            ..StatusReport::default()
        }
    }

    #[test]
    fn summary_reads_like_show_bgp_summary() {
        let text = render_summary(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("node n1") && lines[0].contains("ready"));
        let header = lines
            .iter()
            .position(|l| l.starts_with("Neighbor"))
            .unwrap();
        let up: Vec<&str> = lines[header + 1].split_whitespace().collect();
        assert_eq!(
            up,
            [
                "10.255.0.1",
                "65000",
                "65001",
                "12",
                "15",
                "01:02:05",
                "1",
                "3"
            ]
        );
        let down: Vec<&str> = lines[header + 2].split_whitespace().collect();
        assert_eq!(
            down,
            [
                "10.255.0.9",
                "65001",
                "65001",
                "0",
                "0",
                "never",
                "Active",
                "0"
            ]
        );
        assert!(text.contains(
            "10.255.0.9: last error: NOTIFICATION received: Cease/Administrative Shutdown"
        ));
        assert!(text.contains(
            "10.255.0.1: graceful restart negotiated (restart time 120 s, peer's 120 s, N)"
        ));
    }

    #[test]
    fn services_say_why_not() {
        let text = render_services(&report().services);
        assert!(text.lines().nth(1).unwrap().contains("yes"));
        let local = text.lines().nth(3).unwrap();
        assert!(local.contains(" no ") && local.contains("no ready endpoint on this node"));
    }

    #[test]
    fn services_show_the_weight_column() {
        let text = render_services(&report().services);
        let cols = |n: usize| -> Vec<String> {
            text.lines()
                .nth(n)
                .unwrap()
                .split_whitespace()
                .take(5)
                .map(String::from)
                .collect()
        };
        assert_eq!(cols(0), ["Service", "IP", "Pool", "Announced", "Weight"]);
        assert_eq!(cols(1)[4], "ignored");
        assert!(text
            .lines()
            .nth(1)
            .unwrap()
            .contains("ignored for externalTrafficPolicy Cluster"));
        assert_eq!(
            cols(2),
            ["web/weighted", "198.51.100.3", "default", "yes", "3"]
        );
        assert_eq!(cols(3)[4], "-");
        // JSON: new keys beside the old ones.
        let json = serde_json::to_value(&report().services[1]).unwrap();
        assert_eq!(json["weight"], 3);
        assert!(json["weight_ignored"].is_null());
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"zz\r\n").is_err());
    }
}
