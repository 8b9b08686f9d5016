//! What a peer is doing, as published by the driver to [`Speaker::watch`](super::Speaker::watch).

use std::net::IpAddr;
use std::time::SystemTime;

use crate::session::State;
use crate::wire::Notification;

/// Which way a NOTIFICATION went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// We sent it.
    Sent,
    /// The peer sent it.
    Received,
}

/// The last error of a peer: a NOTIFICATION (decoded) or a transport error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// A NOTIFICATION sent or received.
    Notification {
        /// Sent or received.
        direction: Direction,
        /// The message; its `Display` gives code, subcode and the RFC 9003 text.
        notification: Notification,
    },
    /// A TCP/socket error (connect refused, reset, socket option failure...).
    Transport(String),
    /// The connection was closed by the peer without a NOTIFICATION.
    ConnectionClosed,
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::Notification {
                direction: Direction::Sent,
                notification,
            } => write!(f, "NOTIFICATION sent: {notification}"),
            PeerError::Notification {
                direction: Direction::Received,
                notification,
            } => write!(f, "NOTIFICATION received: {notification}"),
            PeerError::Transport(e) => write!(f, "transport: {e}"),
            PeerError::ConnectionClosed => f.write_str("connection closed by the peer"),
        }
    }
}

/// Per-family prefix counts (IPv4 unicast, IPv6 unicast).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FamilyCounts {
    /// IPv4 unicast.
    pub ipv4: usize,
    /// IPv6 unicast.
    pub ipv6: usize,
}

/// A snapshot of one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer's address.
    pub address: IpAddr,
    /// The session state (RFC 4271).
    pub state: State,
    /// When the session reached Established (uptime = now - this); `None` when not up.
    pub established_since: Option<SystemTime>,
    /// The last error, kept after the session recovers.
    pub last_error: Option<PeerError>,
    /// Prefixes the peer has from us, per family.
    pub prefixes_sent: FamilyCounts,
    /// Prefixes we hold from the peer (counted, never installed), per family.
    pub prefixes_received: FamilyCounts,
    /// Prefixes of the desired set the session cannot carry (family not negotiated, no next
    /// hop of that family known).
    pub prefixes_unsendable: FamilyCounts,
    /// Messages received (all types).
    pub messages_in: u64,
    /// Messages sent (all types).
    pub messages_out: u64,
    /// UPDATE messages received.
    pub updates_in: u64,
    /// UPDATE messages sent (End-of-RIB included).
    pub updates_out: u64,
    /// Times the session reached Established.
    pub established_count: u64,
    /// Graceful restart on the Established session; `None` when not Established.
    pub graceful_restart: Option<GracefulRestartStatus>,
}

/// Graceful restart (RFC 4724, RFC 8538) as it stands on an Established session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GracefulRestartStatus {
    /// The restart time we offered, seconds (0: helper only, our routes are not kept).
    pub local_restart_time: u16,
    /// The peer's restart time, seconds; `None` when the peer sent no Graceful Restart
    /// capability (it then flushes our routes whenever the session ends).
    pub peer_restart_time: Option<u16>,
    /// Both sides set N (RFC 8538): only Cease/Hard Reset ends the peer's helper mode.
    pub notification: bool,
}

impl GracefulRestartStatus {
    /// The peer keeps our routes as stale across a restart of ours: we offered a restart
    /// time and the peer sent the capability.
    pub fn negotiated(&self) -> bool {
        self.local_restart_time > 0 && self.peer_restart_time.is_some()
    }
}

impl PeerStatus {
    pub(crate) fn new(address: IpAddr) -> Self {
        Self {
            address,
            state: State::Idle,
            established_since: None,
            last_error: None,
            prefixes_sent: FamilyCounts::default(),
            prefixes_received: FamilyCounts::default(),
            prefixes_unsendable: FamilyCounts::default(),
            messages_in: 0,
            messages_out: 0,
            updates_in: 0,
            updates_out: 0,
            established_count: 0,
            graceful_restart: None,
        }
    }

    /// Whether the session is Established.
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }
}
