//! Inputs, outputs and status of the BFD state machine.

use std::time::{Duration, Instant};

use super::config::Timers;
use super::packet::{ControlPacket, Diag, State};

/// What the driver feeds the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A Control packet that passed [`ControlPacket::decode`] and the transport checks (port,
    /// TTL) and was demultiplexed to this session.
    Received(ControlPacket),
    /// Time passed: call at [`super::BfdSession::next_deadline`].
    Tick,
    /// Local administrative down (RFC 5880 §6.8.16).
    AdminDown,
    /// Leave AdminDown: back to Down, the session comes up again with the peer.
    AdminUp,
    /// New intervals or multiplier; while Up this runs a Poll Sequence (§6.8.3).
    SetTimers(Timers),
}

/// What the state machine asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Send this Control packet to the peer now.
    Send(ControlPacket),
    /// `bfd.SessionState` changed.
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// `bfd.LocalDiag` after the change (why it went down).
        diag: Diag,
    },
}

/// Packet and transition counters of one session (the metrics read these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Control packets handed to the session.
    pub packets_in: u64,
    /// Control packets the session asked to send.
    pub packets_out: u64,
    /// Received packets discarded by the session-level checks of RFC 5880 §6.8.6.
    pub discarded: u64,
    /// Transitions to Up.
    pub up_events: u64,
    /// Transitions from Up to Down.
    pub down_events: u64,
    /// The longest time between two packets we sent, counted from a packet sent while Up (so
    /// the gap that let the peer's detection time run out is included).
    pub max_tx_gap: Duration,
    /// The longest time between two packets received, counted from a packet received while
    /// Up (so the gap that let our detection time run out is included).
    pub max_rx_gap: Duration,
    /// Gaps between our packets, from one sent while Up, longer than the detection time the
    /// peer applies to us (our Detect Mult × the transmit interval): each one let the peer
    /// declare the session down, and was our side's miss.
    pub tx_gaps_over_peer_detect: u64,
}

/// A snapshot of one session for status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// `bfd.SessionState`.
    pub state: State,
    /// `bfd.RemoteSessionState`.
    pub remote_state: State,
    /// `bfd.LocalDiag`.
    pub local_diag: Diag,
    /// The peer's last Diag.
    pub remote_diag: Diag,
    /// Why the session last left Up (None: it never went down from Up).
    pub last_down: Option<Diag>,
    /// The last change from Up to Down came from the peer's AdminDown: RFC 5882 §3.2 says
    /// that is not a failure, and a user of BFD must not tear its session down for it.
    pub last_down_admin: bool,
    /// `bfd.LocalDiscr`.
    pub local_discr: u32,
    /// `bfd.RemoteDiscr` (0: unknown).
    pub remote_discr: u32,
    /// Negotiated transmit interval before jitter: max(our TX in effect, the peer's Min RX).
    pub tx_interval: Duration,
    /// Detection time in effect (the peer's Detect Mult × max(our RX in effect, its TX));
    /// zero before the first packet.
    pub detect_time: Duration,
    /// The peer's Desired Min TX.
    pub remote_min_tx: Duration,
    /// The peer's Required Min RX.
    pub remote_min_rx: Duration,
    /// The peer's Detect Mult.
    pub remote_detect_mult: u8,
    /// A Poll Sequence is in progress.
    pub polling: bool,
    /// When the state last changed (or the session started).
    pub changed_at: Instant,
    /// Counters.
    pub counters: Counters,
}
