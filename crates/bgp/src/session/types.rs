//! Inputs, outputs and status types of the session state machine.

use crate::wire::{
    CeaseSubcode, DecodeContext, Family, GracefulRestart, Notification, Open, UpdateVerdict,
};
use std::net::Ipv4Addr;

/// Identifies one TCP connection of a session. Outbound ids are allocated by the session
/// (see [`Output::Connect`]); inbound ids by the driver with [`ConnId::inbound`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Whether we initiated the connection.
    pub outbound: bool,
    /// Sequence number, unique per direction within a session.
    pub seq: u64,
}

impl ConnId {
    /// An id for an accepted (inbound) connection; `seq` must be unique per session.
    pub fn inbound(seq: u64) -> Self {
        Self {
            outbound: false,
            seq,
        }
    }
}

impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}#{}",
            if self.outbound { "out" } else { "in" },
            self.seq
        )
    }
}

/// RFC 4271 §8.2.2 states. With two connections (collision), the most advanced one counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not started, stopped, or waiting out the idle hold time after an error.
    Idle,
    /// An outbound TCP connection is being opened.
    Connect,
    /// Waiting for the connect-retry timer or an inbound connection.
    Active,
    /// OPEN sent, waiting for the peer's OPEN.
    OpenSent,
    /// OPENs exchanged, waiting for the peer's KEEPALIVE.
    OpenConfirm,
    /// Session up.
    Established,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}

/// An event for [`crate::session::Session::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Start the session (RFC 4271 event 1; event 4 when passive).
    ManualStart,
    /// Stop the session: sends Cease/Administrative Shutdown (6/2) with the RFC 9003 message
    /// on every connection past OPEN, closes them and stays Idle until the next ManualStart.
    ManualStop {
        /// Shutdown communication (UTF-8, truncated to 255 octets); `None` sends none.
        message: Option<String>,
    },
    /// Stop the session like [`Input::ManualStop`], but with Cease/`subcode` and no data: RFC
    /// 4486 gives 3 (Peer De-configured) for a peer removed from the configuration and 6 (Other
    /// Configuration Change) for a reset that applies changed session parameters. RFC 9003
    /// defines a shutdown communication only for 2 and 4, so none is sent.
    ManualStopCease {
        /// The Cease subcode.
        subcode: CeaseSubcode,
    },
    /// Stop the session for a restart (RFC 4724 §4): close every connection without a
    /// NOTIFICATION, so a peer that received our Graceful Restart capability keeps our routes
    /// as stale for the restart time. (RFC 8538 §5 lists Administrative Shutdown among the
    /// causes to send as Hard Reset, so no Cease is sent.) Stays Idle until the next ManualStart.
    ManualStopForRestart,
    /// Stop the session with Cease/Hard Reset (RFC 8538 §3) carrying `cause`, so the peer drops
    /// our routes at once. When the N flag was not exchanged, `cause` itself is sent (a peer
    /// without RFC 8538 flushes on any NOTIFICATION).
    ManualStopHardReset {
        /// The original NOTIFICATION, carried inside the Hard Reset.
        cause: Notification,
    },
    /// Our outbound connection (from [`Output::Connect`]) is up (event 16).
    TcpConnectionAcknowledged(ConnId),
    /// The driver accepted an inbound connection from the peer (event 17).
    TcpConnectionConfirmed(ConnId),
    /// A connection failed or was closed by the peer (event 18).
    TcpConnectionFails(ConnId),
    /// Bytes read from a connection; partial messages are buffered.
    BytesReceived(ConnId, &'a [u8]),
    /// Send one or more encoded UPDATEs (concatenated) on the established connection (dropped
    /// if none); restarts the keepalive timer and counts each message.
    SendUpdate(Vec<u8>),
    /// Ask the peer to resend its routes of a family (ROUTE-REFRESH), if it supports it.
    SendRouteRefresh(Family),
    /// A deadline from [`crate::session::Session::next_deadline`] was reached.
    Tick,
}

/// What the session asks the driver to do, or reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open an outbound TCP connection to the peer and report its outcome with this id.
    Connect(ConnId),
    /// Write these bytes to the connection.
    Send(ConnId, Vec<u8>),
    /// Close the connection (after writing everything already sent).
    Close(ConnId),
    /// The session state changed.
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session reached Established with this negotiation result.
    Established(Box<Negotiated>),
    /// An UPDATE was received (prefix counts are in `Session::received_prefixes`).
    UpdateReceived(UpdateSummary),
    /// The peer asked us to resend our routes of a family (ROUTE-REFRESH, normal subtype).
    RouteRefreshRequested(Family),
    /// We sent a NOTIFICATION.
    NotificationSent(Notification),
    /// We received a NOTIFICATION.
    NotificationReceived(Notification),
    /// The Established session went down.
    SessionDown {
        /// Why.
        reason: DownReason,
    },
}

/// Why an Established session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// ManualStop.
    Stopped,
    /// We sent this NOTIFICATION (hold timer expiry, decode error, ...).
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The TCP connection failed or was closed without a NOTIFICATION.
    ConnectionClosed,
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DownReason::Stopped => f.write_str("stopped"),
            DownReason::NotificationSent(n) => write!(f, "sent NOTIFICATION {n}"),
            DownReason::NotificationReceived(n) => write!(f, "received NOTIFICATION {n}"),
            DownReason::ConnectionClosed => f.write_str("connection closed"),
        }
    }
}

/// What one received UPDATE did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSummary {
    /// Prefixes announced.
    pub announced: usize,
    /// Prefixes withdrawn (including treat-as-withdraw).
    pub withdrawn: usize,
    /// Set when the UPDATE is an End-of-RIB marker.
    pub end_of_rib: Option<Family>,
    /// RFC 7606 outcome.
    pub verdict: UpdateVerdict,
    /// The decoded UPDATE itself, when [`SessionConfig::keep_updates`](super::SessionConfig) is set.
    pub update: Option<Box<crate::wire::Update>>,
}

/// The result of capability and hold-time negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The connection that won.
    pub conn: ConnId,
    /// Families both sides support (IPv4 unicast is implied by a peer without
    /// Multiprotocol capabilities, RFC 4760 §8).
    pub families: Vec<Family>,
    /// Both sides have 4-octet AS numbers.
    pub four_octet_as: bool,
    /// Both sides support Extended Message.
    pub extended_message: bool,
    /// Maximum message length in both directions.
    pub max_message_len: usize,
    /// Negotiated hold time (seconds; 0 = none).
    pub hold_time: u16,
    /// Our keepalive interval (seconds; 0 = none).
    pub keepalive: u16,
    /// The peer's BGP identifier.
    pub peer_router_id: Ipv4Addr,
    /// The peer's AS.
    pub peer_as: u32,
    /// The peer supports ROUTE-REFRESH (code 2 or 128).
    pub peer_route_refresh: bool,
    /// The peer supports Enhanced Route Refresh.
    pub peer_enhanced_route_refresh: bool,
    /// The peer's Graceful Restart capability (RFC 4724), if it sent one: its restart time,
    /// R and N flags and per-family forwarding state.
    pub peer_graceful_restart: Option<GracefulRestart>,
    /// Both sides set the N flag (RFC 8538 §2): a NOTIFICATION other than Cease/Hard Reset
    /// keeps Graceful Restart procedures, and Hard Reset ends them.
    pub graceful_notification: bool,
    /// The peer's OPEN, with all its capabilities.
    pub peer_open: Open,
}

impl Negotiated {
    /// Codec context for this session.
    pub fn context(&self) -> DecodeContext {
        DecodeContext::new(self.four_octet_as, self.extended_message)
    }
}

/// Message counters of a session (all connections, all time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// UPDATEs received.
    pub updates_in: u64,
    /// UPDATEs sent.
    pub updates_out: u64,
    /// NOTIFICATIONs received.
    pub notifications_in: u64,
    /// NOTIFICATIONs sent.
    pub notifications_out: u64,
    /// Times the session reached Established.
    pub established_transitions: u64,
}
