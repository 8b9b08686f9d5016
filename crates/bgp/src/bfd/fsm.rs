//! The BFD session as a pure state machine (RFC 5880 §6.2, §6.8): asynchronous mode, no
//! authentication, no Demand mode, no Echo function.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use super::config::{BfdConfig, ConfigError, Timers};
use super::packet::{ControlPacket, Diag, State};
use super::types::{Counters, Input, Output, Status};

/// The transmit interval floor while the session is not Up (RFC 5880 §6.8.3), µs.
const SLOW_TX_US: u32 = 1_000_000;

/// Poll Sequence progress (RFC 5880 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poll {
    Idle,
    /// Sending P until a Final arrives.
    Active,
    /// Active, and the parameters changed again: poll once more when this one ends.
    ActiveThenAgain,
}

/// One BFD session (RFC 5880 §6.8.1 state variables). Drive it with [`BfdSession::handle`] and
/// call it again with [`Input::Tick`] at [`BfdSession::next_deadline`].
#[derive(Debug, Clone)]
pub struct BfdSession {
    cfg: BfdConfig,
    state: State,
    remote_state: State,
    local_discr: u32,
    remote_discr: u32,
    local_diag: Diag,
    remote_diag: Diag,
    last_down: Option<Diag>,
    /// The last Up -> Down was the peer's AdminDown (not a failure, RFC 5882 §3.2).
    last_down_admin: bool,
    /// `bfd.DesiredMinTxInterval` as advertised (µs).
    desired_min_tx: u32,
    /// `bfd.RequiredMinRxInterval` as advertised (µs).
    required_min_rx: u32,
    /// The Desired Min TX the transmit interval uses: an increase waits for the Final.
    tx_in_effect: u32,
    /// The Required Min RX the detection time uses: a decrease waits for the Final.
    rx_in_effect: u32,
    /// `bfd.RemoteMinRxInterval` (µs), initially 1.
    remote_min_rx: u32,
    remote_min_tx: u32,
    remote_detect_mult: u8,
    /// `bfd.RemoteDemandMode`.
    remote_demand: bool,
    poll: Poll,
    /// A Final is owed to the peer's Poll.
    final_due: bool,
    last_tx: Option<Instant>,
    /// When the last packet was sent, if the session was Up then (for `max_tx_gap`).
    sent_in_up: Option<Instant>,
    /// When the last packet was received, if the session was Up then (for `max_rx_gap`).
    received_in_up: Option<Instant>,
    /// Jitter of the current gap, as the fraction (per mille) of the interval actually waited.
    gap_permille: u32,
    next_tx: Option<Instant>,
    detect_deadline: Option<Instant>,
    /// In AdminDown, transmission stops at this time (§6.8.16).
    admin_tx_until: Option<Instant>,
    /// The session left Up: the packet already scheduled keeps its time (it tells the peer
    /// before the peer's detection time at our old rate runs out); the slow rate starts after.
    keep_next_tx: bool,
    changed_at: Instant,
    rng: u64,
    counters: Counters,
}

impl BfdSession {
    /// A session in Down, transmitting from `now` unless passive. `local_discr` must be unique
    /// on the system; `seed` feeds the transmit jitter (RFC 5880 §6.8.7).
    pub fn new(
        now: Instant,
        cfg: BfdConfig,
        local_discr: NonZeroU32,
        seed: u64,
    ) -> Result<BfdSession, ConfigError> {
        cfg.timers.validate()?;
        let mut s = BfdSession {
            cfg,
            state: State::Down,
            remote_state: State::Down,
            local_discr: local_discr.get(),
            remote_discr: 0,
            local_diag: Diag::NoDiagnostic,
            remote_diag: Diag::NoDiagnostic,
            last_down: None,
            last_down_admin: false,
            desired_min_tx: 0,
            required_min_rx: cfg.timers.rx_us(),
            tx_in_effect: 0,
            rx_in_effect: cfg.timers.rx_us(),
            remote_min_rx: 1,
            remote_min_tx: 0,
            remote_detect_mult: 0,
            remote_demand: false,
            poll: Poll::Idle,
            final_due: false,
            last_tx: None,
            sent_in_up: None,
            received_in_up: None,
            gap_permille: 1000,
            next_tx: None,
            detect_deadline: None,
            admin_tx_until: None,
            keep_next_tx: false,
            changed_at: now,
            // splitmix-style seed: never zero for xorshift.
            rng: seed ^ 0x9e37_79b9_7f4a_7c15 | 1,
            counters: Counters::default(),
        };
        s.set_slow_tx();
        s.next_tx = Some(now);
        Ok(s)
    }

    /// `bfd.SessionState`.
    pub fn state(&self) -> State {
        self.state
    }

    /// The earliest time [`Input::Tick`] has work: the next transmission, the detection
    /// timer, or the end of AdminDown transmission.
    pub fn next_deadline(&self) -> Option<Instant> {
        let tx = if self.may_transmit() {
            self.next_tx
        } else {
            None
        };
        [tx, self.detect_deadline, self.admin_tx_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Feeds one input at time `now`; returns what to send and the state changes.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Received(p) => self.receive(now, p, &mut out),
            Input::Tick => {}
            Input::AdminDown => self.admin_down(now, &mut out),
            Input::AdminUp => self.admin_up(now, &mut out),
            Input::SetTimers(t) => self.set_timers(now, t),
        }
        self.expire(now, &mut out);
        self.transmit(now, &mut out);
        out
    }

    /// A snapshot for status output and metrics.
    pub fn status(&self) -> Status {
        Status {
            state: self.state,
            remote_state: self.remote_state,
            local_diag: self.local_diag,
            remote_diag: self.remote_diag,
            last_down: self.last_down,
            last_down_admin: self.last_down_admin,
            local_discr: self.local_discr,
            remote_discr: self.remote_discr,
            tx_interval: us(self.tx_interval_us()),
            detect_time: self.detect_time(),
            remote_min_tx: us(self.remote_min_tx),
            remote_min_rx: us(self.remote_min_rx),
            remote_detect_mult: self.remote_detect_mult,
            polling: self.poll != Poll::Idle,
            changed_at: self.changed_at,
            counters: self.counters,
        }
    }

    /// The session-level reception steps of RFC 5880 §6.8.6 (the packet-level ones are in
    /// [`ControlPacket::decode`]).
    fn receive(&mut self, now: Instant, p: ControlPacket, out: &mut Vec<Output>) {
        self.counters.packets_in += 1;
        if let Some(prev) = self.received_in_up {
            let gap = now.saturating_duration_since(prev);
            self.counters.max_rx_gap = self.counters.max_rx_gap.max(gap);
        }
        let addressed_to_us = p.your_discr == self.local_discr;
        let may_be_new = p.your_discr == 0 && matches!(p.state, State::Down | State::AdminDown);
        if !(addressed_to_us || may_be_new) {
            self.counters.discarded += 1;
            return;
        }
        self.remote_discr = p.my_discr;
        self.remote_state = p.state;
        self.remote_diag = p.diag;
        self.remote_min_rx = p.required_min_rx_us;
        self.remote_min_tx = p.desired_min_tx_us;
        self.remote_detect_mult = p.detect_mult;
        self.remote_demand = p.demand;
        if p.final_ && self.poll != Poll::Idle {
            self.end_poll();
        }
        self.reschedule_tx();
        // "Consider the packet received" for the Detection Time (last step of §6.8.6).
        self.detect_deadline = Some(now + self.detect_time());
        if self.state == State::AdminDown {
            self.received_in_up = None;
            return;
        }
        self.apply_remote_state(now, p.state, out);
        self.received_in_up = (self.state == State::Up).then_some(now);
        if p.poll {
            self.final_due = true;
        }
    }

    /// The state table of RFC 5880 §6.8.6 (and §6.2).
    fn apply_remote_state(&mut self, now: Instant, remote: State, out: &mut Vec<Output>) {
        if remote == State::AdminDown {
            if self.state != State::Down {
                self.go(now, State::Down, Diag::NeighborSignaledSessionDown, out);
            }
            return;
        }
        match (self.state, remote) {
            (State::Down, State::Down) => self.go(now, State::Init, Diag::NoDiagnostic, out),
            (State::Down, State::Init) => self.go(now, State::Up, Diag::NoDiagnostic, out),
            (State::Init, State::Init | State::Up) => {
                self.go(now, State::Up, Diag::NoDiagnostic, out)
            }
            (State::Up, State::Down) => {
                self.go(now, State::Down, Diag::NeighborSignaledSessionDown, out)
            }
            _ => {}
        }
    }

    /// Detection time expiry (RFC 5880 §6.8.4; §6.8.1 bfd.RemoteDiscr).
    fn expire(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.detect_deadline.is_some_and(|d| now >= d) {
            self.detect_deadline = None;
            self.remote_discr = 0;
            if matches!(self.state, State::Init | State::Up) {
                self.go(now, State::Down, Diag::ControlDetectionTimeExpired, out);
            }
        }
        if self.admin_tx_until.is_some_and(|d| now >= d) {
            self.admin_tx_until = None;
            self.next_tx = None;
        }
    }

    /// Sends the owed Final at once, and the periodic packet when due (RFC 5880 §6.8.7).
    fn transmit(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.final_due {
            self.final_due = false;
            let mut p = self.packet();
            p.poll = false;
            p.final_ = true;
            self.send(now, p, out);
        }
        if !self.may_transmit() || self.next_tx.is_none_or(|t| now < t) {
            return;
        }
        let p = self.packet();
        self.send(now, p, out);
        self.last_tx = Some(now);
        self.gap_permille = self.draw_jitter();
        self.keep_next_tx = false;
        self.reschedule_tx();
    }

    fn send(&mut self, now: Instant, p: ControlPacket, out: &mut Vec<Output>) {
        self.counters.packets_out += 1;
        if let Some(prev) = self.sent_in_up {
            let gap = now.saturating_duration_since(prev);
            self.counters.max_tx_gap = self.counters.max_tx_gap.max(gap);
            let peer_detect =
                u64::from(self.cfg.timers.detect_mult) * u64::from(self.tx_interval_us());
            if gap > Duration::from_micros(peer_detect) {
                self.counters.tx_gaps_over_peer_detect += 1;
            }
        }
        self.sent_in_up = (self.state == State::Up).then_some(now);
        out.push(Output::Send(p));
    }

    /// §6.8.7: no periodic packets in the passive role before the peer's discriminator is
    /// known, nor while the peer's Required Min RX is zero, nor after AdminDown's grace time,
    /// nor while the peer runs Demand mode with both sides Up (except to carry a Poll).
    fn may_transmit(&self) -> bool {
        let passive_wait = self.cfg.passive && self.remote_discr == 0;
        let peer_demand = self.remote_demand
            && self.state == State::Up
            && self.remote_state == State::Up
            && self.poll == Poll::Idle;
        !passive_wait && !peer_demand && self.remote_min_rx != 0 && self.next_tx.is_some()
    }

    /// The next periodic time: the current gap's jitter applied to the interval now in effect.
    fn reschedule_tx(&mut self) {
        if self.keep_next_tx {
            return;
        }
        if let (Some(last), Some(_)) = (self.last_tx, self.next_tx) {
            let gap = u64::from(self.tx_interval_us()) * u64::from(self.gap_permille) / 1000;
            self.next_tx = Some(last + Duration::from_micros(gap));
        }
    }

    /// §6.8.7 jitter: 75-100 % of the interval, or 75-90 % when Detect Mult is 1.
    fn draw_jitter(&mut self) -> u32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let span = if self.cfg.timers.detect_mult == 1 {
            151
        } else {
            251
        };
        750 + (self.rng % span) as u32
    }

    fn tx_interval_us(&self) -> u32 {
        self.tx_in_effect.max(self.remote_min_rx)
    }

    /// §6.8.4: the peer's Detect Mult × max(our Required Min RX, its Desired Min TX).
    fn detect_time(&self) -> Duration {
        let interval = self.rx_in_effect.max(self.remote_min_tx);
        us(interval).saturating_mul(u32::from(self.remote_detect_mult))
    }

    fn packet(&self) -> ControlPacket {
        ControlPacket {
            diag: self.local_diag,
            state: self.state,
            poll: self.poll != Poll::Idle,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.cfg.timers.detect_mult,
            my_discr: self.local_discr,
            your_discr: self.remote_discr,
            desired_min_tx_us: self.desired_min_tx,
            required_min_rx_us: self.required_min_rx,
            required_min_echo_rx_us: 0,
        }
    }

    fn go(&mut self, now: Instant, to: State, diag: Diag, out: &mut Vec<Output>) {
        let from = self.state;
        self.state = to;
        self.local_diag = diag;
        self.changed_at = now;
        if to == State::Up {
            self.counters.up_events += 1;
            self.set_desired_tx(self.cfg.timers.tx_us());
        } else {
            if from == State::Up {
                self.counters.down_events += 1;
                self.last_down = Some(diag);
                self.last_down_admin = self.remote_state == State::AdminDown;
            }
            self.poll = Poll::Idle;
            self.rx_in_effect = self.required_min_rx;
            // The slow rate starts after the packet already scheduled: that packet tells the
            // peer about the change before its detection time (based on our old rate) runs out.
            self.desired_min_tx = self.cfg.timers.tx_us().max(SLOW_TX_US);
            self.tx_in_effect = self.desired_min_tx;
            self.keep_next_tx = from == State::Up && self.next_tx.is_some();
        }
        out.push(Output::StateChanged { from, to, diag });
    }

    /// §6.8.3: at least 1 s while not Up; no Poll is needed outside Up.
    fn set_slow_tx(&mut self) {
        self.desired_min_tx = self.cfg.timers.tx_us().max(SLOW_TX_US);
        self.tx_in_effect = self.desired_min_tx;
        self.reschedule_tx();
    }

    /// §6.8.3: a change while Up starts a Poll Sequence; an increase of the transmit interval
    /// takes effect when it ends, a decrease at once.
    fn set_desired_tx(&mut self, tx: u32) {
        if tx == self.desired_min_tx {
            return;
        }
        self.desired_min_tx = tx;
        if tx < self.tx_in_effect || self.state != State::Up {
            self.tx_in_effect = tx;
            self.reschedule_tx();
        }
        if self.state == State::Up {
            self.start_poll();
        }
    }

    /// §6.8.3: a smaller Required Min RX counts for detection only after the Final.
    fn set_required_rx(&mut self, rx: u32) {
        if rx == self.required_min_rx {
            return;
        }
        self.required_min_rx = rx;
        if rx > self.rx_in_effect || self.state != State::Up {
            self.rx_in_effect = rx;
        }
        if self.state == State::Up {
            self.start_poll();
        }
    }

    fn set_timers(&mut self, now: Instant, t: Timers) {
        if t.validate().is_err() {
            return;
        }
        let mult_changed = t.detect_mult != self.cfg.timers.detect_mult;
        self.cfg.timers = t;
        self.set_required_rx(t.rx_us());
        if self.state == State::Up {
            self.set_desired_tx(t.tx_us());
            if mult_changed {
                self.start_poll();
            }
        } else {
            self.set_slow_tx();
        }
        if self.next_tx.is_none() && self.state != State::AdminDown {
            self.next_tx = Some(now);
        }
    }

    fn start_poll(&mut self) {
        self.poll = match self.poll {
            Poll::Idle => Poll::Active,
            _ => Poll::ActiveThenAgain,
        };
    }

    fn end_poll(&mut self) {
        self.tx_in_effect = self.desired_min_tx;
        self.rx_in_effect = self.required_min_rx;
        self.poll = match self.poll {
            Poll::ActiveThenAgain => Poll::Active,
            _ => Poll::Idle,
        };
    }

    /// §6.8.16: AdminDown with Diag 7; keep sending for one detection time (at least 1 s)
    /// so the peer learns it, then stop.
    fn admin_down(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.state == State::AdminDown {
            return;
        }
        self.go(now, State::AdminDown, Diag::AdministrativelyDown, out);
        self.detect_deadline = None;
        let grace = self.detect_time().max(Duration::from_secs(1));
        self.admin_tx_until = Some(now + grace);
        if self.next_tx.is_none() {
            self.next_tx = Some(now);
        }
    }

    fn admin_up(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.state != State::AdminDown {
            return;
        }
        self.admin_tx_until = None;
        self.go(now, State::Down, Diag::NoDiagnostic, out);
        self.next_tx = Some(now);
    }
}

fn us(v: u32) -> Duration {
    Duration::from_micros(u64::from(v))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
