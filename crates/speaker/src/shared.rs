//! State shared between the speaker's loop and its HTTP server.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use ferrolb_bgp::driver::Speaker;

use crate::metrics::Metrics;
use crate::policy::Desired;
use crate::report::{
    GracefulRestartReport, PeerReport, ServiceReport, SkippedPeerReport, StatusReport,
};

/// One session as the loop configured it.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Peer label (`addr` or `addr:port`).
    pub label: String,
    /// Peer address (the driver's key).
    pub address: IpAddr,
    /// Peer AS.
    pub peer_asn: u32,
    /// Local AS.
    pub local_asn: u32,
    /// Router id.
    pub router_id: String,
    /// Prefixes desired.
    pub desired: usize,
    /// The peer's BFD session, when it has a `bfd-profile`.
    pub bfd: Option<crate::bfd::BfdLive>,
}

/// What the loop publishes after each pass.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// A valid configuration is in force.
    pub config_loaded: bool,
    /// Why the last configuration was rejected.
    pub config_error: Option<String>,
    /// Initial lists seen, config loaded and sessions configured.
    pub ready: bool,
    /// Why not ready.
    pub not_ready: String,
    /// Sessions.
    pub sessions: Vec<SessionInfo>,
    /// Peers that should run but could not be set up.
    pub setup_errors: Vec<(String, IpAddr, String)>,
    /// The policy's last output, without the per-peer route sets (the session manager has them).
    pub desired: Arc<Desired>,
}

/// Shared between the loop and the HTTP handlers.
pub struct Shared {
    /// Node name.
    pub node: String,
    /// Metrics.
    pub metrics: Metrics,
    /// The BGP speaker (for live session status).
    pub speaker: Speaker,
    /// The loop's last snapshot.
    pub snapshot: Mutex<Snapshot>,
    /// Families appended to `/metrics` (see [`crate::ExtraMetrics`]).
    pub extra_metrics: Option<crate::ExtraMetrics>,
}

impl Shared {
    /// `None` when ready, else why not.
    pub fn not_ready_reason(&self) -> Option<String> {
        let s = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        (!s.ready).then(|| s.not_ready.clone())
    }

    /// Sets the BFD metrics from the sessions' live status (called at each scrape, so a
    /// removed session's series are gone).
    pub fn refresh_bfd_metrics(&self) {
        let sessions = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sessions
            .clone();
        let live: Vec<_> = sessions
            .iter()
            .filter_map(|s| Some((s.label.clone(), s.bfd.as_ref()?.report())))
            .collect();
        self.metrics.set_bfd(&live);
    }

    /// The status document.
    pub fn report(&self) -> StatusReport {
        let snap = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let live = self.speaker.status();
        let now = SystemTime::now();
        let mut peers: Vec<PeerReport> = snap
            .sessions
            .iter()
            .map(|s| {
                let mut r = PeerReport {
                    peer: s.label.clone(),
                    peer_asn: s.peer_asn,
                    local_asn: s.local_asn,
                    router_id: s.router_id.clone(),
                    state: "Idle".into(),
                    prefixes_desired: s.desired as u64,
                    bfd: s.bfd.as_ref().map(|b| b.report()),
                    ..PeerReport::default()
                };
                if let Some(st) = live.iter().find(|l| l.address == s.address) {
                    r.state = st.state.to_string();
                    r.uptime_seconds = st
                        .established_since
                        .and_then(|t| now.duration_since(t).ok())
                        .map(|d| d.as_secs());
                    r.established_since = st
                        .established_since
                        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .and_then(|d| {
                            k8s_openapi::jiff::Timestamp::from_second(d.as_secs() as i64).ok()
                        })
                        .map(|t| t.to_string());
                    r.last_error = st.last_error.as_ref().map(|e| e.to_string());
                    r.prefixes_sent = (st.prefixes_sent.ipv4 + st.prefixes_sent.ipv6) as u64;
                    r.prefixes_received =
                        (st.prefixes_received.ipv4 + st.prefixes_received.ipv6) as u64;
                    r.messages_in = st.messages_in;
                    r.messages_out = st.messages_out;
                    r.updates_out = st.updates_out;
                    r.graceful_restart = st.graceful_restart.map(|g| GracefulRestartReport {
                        negotiated: g.negotiated(),
                        restart_time: g.local_restart_time,
                        peer_restart_time: g.peer_restart_time,
                        notification: g.notification,
                    });
                }
                r
            })
            .collect();
        for (label, _, error) in &snap.setup_errors {
            peers.push(PeerReport {
                peer: label.clone(),
                state: "Idle".into(),
                setup_error: Some(error.clone()),
                ..PeerReport::default()
            });
        }
        let services = snap
            .desired
            .decisions
            .iter()
            .map(|d| ServiceReport {
                service: d.service.to_string(),
                ip: d.ip.map(|i| i.to_string()),
                pool: d.pool.clone(),
                announced: d.reason.is_announced(),
                reason_code: d.reason.code().into(),
                reason: d.reason.to_string(),
                prefixes: d.prefixes.iter().map(|p| p.to_string()).collect(),
                peers: d.peers.iter().map(|p| p.to_string()).collect(),
                weight: d.weight,
                weight_ignored: d.weight_ignored.clone(),
            })
            .collect();
        StatusReport {
            node: self.node.clone(),
            config_loaded: snap.config_loaded,
            config_error: snap.config_error.clone(),
            ready: snap.ready,
            peers,
            skipped_peers: snap
                .desired
                .skipped_peers
                .iter()
                .map(|s| SkippedPeerReport {
                    peer: s.key.to_string(),
                    reason: s.reason.clone(),
                })
                .collect(),
            services,
        }
    }
}
