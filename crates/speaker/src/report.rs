//! The JSON document served on `/status` and read by `ferrolb status`.
//!
//! Field names are a contract for scripts (`ferrolb status --json` prints this document).

use serde::{Deserialize, Serialize};

/// Everything `ferrolb status` shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// This node's name.
    pub node: String,
    /// Whether a valid configuration is in force.
    pub config_loaded: bool,
    /// Errors of the last configuration seen, when it was rejected (the last good one stays).
    pub config_error: Option<String>,
    /// Whether `/readyz` answers 200.
    pub ready: bool,
    /// One entry per session this node runs, ordered by peer address.
    pub peers: Vec<PeerReport>,
    /// Configured peers this node does not open a session to, and why.
    pub skipped_peers: Vec<SkippedPeerReport>,
    /// One entry per Service address (and per LoadBalancer Service without one).
    pub services: Vec<ServiceReport>,
}

/// One BGP session, in the terms of `show bgp summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerReport {
    /// Peer address (`addr` or `addr:port` when the port is not 179).
    pub peer: String,
    /// The peer's AS.
    pub peer_asn: u32,
    /// Our AS towards this peer.
    pub local_asn: u32,
    /// Router id used on the session (empty when none could be chosen).
    pub router_id: String,
    /// RFC 4271 state (`Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`, `Established`).
    pub state: String,
    /// Seconds since Established, when up.
    pub uptime_seconds: Option<u64>,
    /// When the session reached Established (RFC 3339, UTC), when up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_since: Option<String>,
    /// The last error (a decoded NOTIFICATION or a transport error), kept after recovery.
    pub last_error: Option<String>,
    /// Why the session is not running at all (e.g. the password Secret is missing).
    pub setup_error: Option<String>,
    /// Prefixes the peer has from us (all families).
    pub prefixes_sent: u64,
    /// Prefixes received from the peer (counted, never installed).
    pub prefixes_received: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// UPDATE messages sent.
    pub updates_out: u64,
    /// Prefixes desired for this peer.
    pub prefixes_desired: u64,
    /// The BFD session of a peer with a `bfd-profile` (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd: Option<BfdReport>,
    /// Graceful restart on the Established session (absent when not Established).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<GracefulRestartReport>,
}

/// Graceful restart (RFC 4724, RFC 8538) on one Established session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestartReport {
    /// The peer keeps our routes as stale across a speaker restart: we offered a restart
    /// time and the peer sent the capability.
    pub negotiated: bool,
    /// The restart time we offered, seconds (0: not offered).
    pub restart_time: u16,
    /// The peer's restart time, seconds; absent when it sent no Graceful Restart capability.
    pub peer_restart_time: Option<u16>,
    /// Both sides set N (RFC 8538): a Hard Reset ends the peer's helper mode.
    pub notification: bool,
}

/// One BFD session (RFC 5880 terms).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdReport {
    /// The `bfd-profile` in use.
    pub profile: String,
    /// `Up`, `Down`, `Init` or `AdminDown`.
    pub state: String,
    /// The peer's state as it last told us.
    pub remote_state: String,
    /// Negotiated transmit interval (ms, before jitter).
    pub tx_interval_ms: u64,
    /// Negotiated receive interval (ms): max(our Required Min RX, the peer's Desired Min TX).
    pub rx_interval_ms: u64,
    /// Our Detect Mult (from the profile).
    pub detect_multiplier: u8,
    /// Detection time in effect (ms): the peer's Detect Mult × the receive interval.
    pub detect_time_ms: u64,
    /// Why the session last left Up, as RFC 5880 §4.1 diagnostic text.
    pub last_down_reason: Option<String>,
    /// Control packets received.
    pub packets_in: u64,
    /// Control packets sent.
    pub packets_out: u64,
    /// Transitions to Up.
    pub up_events: u64,
    /// Transitions from Up to Down.
    pub down_events: u64,
    /// The longest time between two packets we sent, from one sent while Up (ms).
    #[serde(default)]
    pub max_tx_gap_ms: u64,
    /// The longest time between two packets received, from one received while Up (ms).
    #[serde(default)]
    pub max_rx_gap_ms: u64,
    /// Gaps between our packets longer than the peer's detection time (each let the peer
    /// declare the session down).
    #[serde(default)]
    pub tx_gaps_over_peer_detect: u64,
}

/// A configured peer without a session on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPeerReport {
    /// Peer address.
    pub peer: String,
    /// Why.
    pub reason: String,
}

/// The announce decision for one Service address on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReport {
    /// `namespace/name`.
    pub service: String,
    /// The address (`null` when the Service has none yet).
    pub ip: Option<String>,
    /// Its pool.
    pub pool: Option<String>,
    /// Whether this node announces it.
    pub announced: bool,
    /// Short reason code (`announced`, `no-local-endpoints`, `layer2-pool`, ...).
    pub reason_code: String,
    /// The reason in words.
    pub reason: String,
    /// Announced prefixes (after aggregation).
    pub prefixes: Vec<String>,
    /// Peers it is announced to.
    pub peers: Vec<String>,
    /// With `weight: endpoints` (eTP Local): the ready endpoints on this node announced as the
    /// route's link bandwidth (1 Mbit/s each); `null` without a weight.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Why a configured `weight` is not applied (eTP Cluster); `null` otherwise.
    #[serde(default)]
    pub weight_ignored: Option<String>,
}
