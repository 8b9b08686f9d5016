//! The session state machine proper.

use super::config::{ConfigError, RetuneError, SessionConfig};
use super::jitter::Jitter;
use super::malformed_log::{Handling, Malformed, MalformedLog};
use super::negotiate::{negotiate, validate_open};
use super::received::Received;
use super::types::{ConnId, Counters, DownReason, Input, Negotiated, Output, State, UpdateSummary};
use crate::wire::{
    check_header, CeaseSubcode, DecodeContext, DecodeError, ErrorCode, Family, FsmErrorSubcode,
    Message, MessageType, Notification, RouteRefresh, RouteRefreshSubtype, Update,
    UpdateErrorSubcode, UpdateVerdict,
};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// State of one TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    /// Outbound TCP connect in progress.
    Connecting,
    OpenSent,
    OpenConfirm,
    Established,
}

#[derive(Debug)]
struct Conn {
    id: ConnId,
    state: ConnState,
    /// Unprocessed received bytes.
    buf: Vec<u8>,
    ctx: DecodeContext,
    negotiated: Option<Negotiated>,
    hold_at: Option<Instant>,
    keepalive_at: Option<Instant>,
    hold: Duration,
    keepalive: Duration,
}

impl Conn {
    fn new(id: ConnId, state: ConnState) -> Self {
        Conn {
            id,
            state,
            buf: Vec::new(),
            ctx: DecodeContext::default(),
            negotiated: None,
            hold_at: None,
            keepalive_at: None,
            hold: Duration::ZERO,
            keepalive: Duration::ZERO,
        }
    }
}

/// A BGP session as a pure state machine (RFC 4271 §8): feed it [`Input`]s with the current
/// time, perform the returned [`Output`]s, and call it with [`Input::Tick`] at
/// [`Session::next_deadline`].
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    conns: Vec<Conn>,
    state: State,
    /// Started and not stopped by ManualStop.
    running: bool,
    next_outbound: u64,
    connect_retry_at: Option<Instant>,
    connect_backoff: Duration,
    /// Automatic restart after an error (idle hold timer).
    restart_at: Option<Instant>,
    idle_hold: Duration,
    established_since: Option<Instant>,
    counters: Counters,
    received: Received,
    malformed_log: MalformedLog,
    jitter: Jitter,
}

impl Session {
    /// A session in Idle; nothing happens until [`Input::ManualStart`].
    pub fn new(cfg: SessionConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Session {
            jitter: Jitter::new(cfg.jitter_seed),
            connect_backoff: cfg.first_retry(),
            idle_hold: cfg.idle_hold,
            cfg,
            conns: Vec::new(),
            state: State::Idle,
            running: false,
            next_outbound: 0,
            connect_retry_at: None,
            restart_at: None,
            established_since: None,
            counters: Counters::default(),
            received: Received::default(),
            malformed_log: MalformedLog::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    /// Applies a configuration that differs only in what a running session can take without
    /// a new OPEN ([`SessionConfig::needs_reset_for`] false): timers from their next start,
    /// the maximum-prefix limit from the next UPDATE. The jitter stream is kept.
    pub fn retune(&mut self, cfg: SessionConfig) -> Result<(), RetuneError> {
        cfg.validate().map_err(RetuneError::Invalid)?;
        if self.cfg.needs_reset_for(&cfg) {
            return Err(RetuneError::NeedsReset);
        }
        self.cfg = cfg;
        Ok(())
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The negotiation result while Established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.established().and_then(|c| c.negotiated.as_ref())
    }

    /// The established connection, if any.
    pub fn established_conn(&self) -> Option<ConnId> {
        self.established().map(|c| c.id)
    }

    /// Message counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// When the session became Established.
    pub fn established_since(&self) -> Option<Instant> {
        self.established_since
    }

    /// Number of prefixes currently received from the peer, per family (routes are counted,
    /// never installed). Routes that are not usable (treat-as-withdraw, an AS_PATH with our
    /// own AS) are not counted. Past the maximum-prefix limit the count is an estimate, see
    /// [`Session::received_is_estimate`].
    pub fn received_prefixes(&self) -> BTreeMap<Family, usize> {
        self.received.counts()
    }

    /// Whether the received count of `family` is an estimate: the peer went over the
    /// maximum-prefix limit and its prefixes are no longer held individually.
    pub fn received_is_estimate(&self, family: Family) -> bool {
        self.received.is_estimate(family)
    }

    /// The earliest time at which [`Input::Tick`] must be delivered.
    pub fn next_deadline(&self) -> Option<Instant> {
        let conn_deadlines = self.conns.iter().flat_map(|c| [c.hold_at, c.keepalive_at]);
        [self.connect_retry_at, self.restart_at]
            .into_iter()
            .chain(conn_deadlines)
            .flatten()
            .min()
    }

    fn established(&self) -> Option<&Conn> {
        self.conns
            .iter()
            .find(|c| c.state == ConnState::Established)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: Instant, input: Input<'_>) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::ManualStart => {
                if !self.running {
                    self.running = true;
                    self.restart_at = None;
                    self.connect_backoff = self.cfg.first_retry();
                    self.idle_hold = self.cfg.idle_hold;
                    self.start(now, &mut out);
                }
            }
            Input::ManualStop { message } => {
                let n = match message {
                    Some(m) => Notification::administrative_shutdown(&m),
                    None => Notification::cease(CeaseSubcode::AdministrativeShutdown),
                };
                self.stop(Some(&n), &mut out)
            }
            Input::ManualStopCease { subcode } => {
                self.stop(Some(&Notification::cease(subcode)), &mut out)
            }
            Input::ManualStopForRestart => self.stop(None, &mut out),
            Input::ManualStopHardReset { cause } => {
                let n = if self.negotiated().is_some_and(|n| n.graceful_notification) {
                    Notification::hard_reset(&cause)
                } else {
                    cause
                };
                self.stop(Some(&n), &mut out)
            }
            Input::TcpConnectionAcknowledged(id) => self.on_connected(now, id, &mut out),
            Input::TcpConnectionConfirmed(id) => self.on_accepted(now, id, &mut out),
            Input::TcpConnectionFails(id) => self.on_conn_failed(now, id, &mut out),
            Input::BytesReceived(id, bytes) => self.on_bytes(now, id, bytes, &mut out),
            Input::SendUpdate(bytes) => {
                if let Some(c) = self
                    .conns
                    .iter_mut()
                    .find(|c| c.state == ConnState::Established)
                {
                    if !c.keepalive.is_zero() {
                        c.keepalive_at = Some(now + self.jitter.apply(c.keepalive));
                    }
                    let n = count_frames(&bytes);
                    self.counters.messages_out += n;
                    self.counters.updates_out += n;
                    out.push(Output::Send(c.id, bytes));
                }
            }
            Input::SendRouteRefresh(family) => {
                let supported = self
                    .negotiated()
                    .is_some_and(|n| n.peer_route_refresh && n.families.contains(&family));
                if let (true, Some(id)) = (supported, self.established_conn()) {
                    self.send(
                        now,
                        id,
                        &Message::RouteRefresh(RouteRefresh::request(family)),
                        &mut out,
                    );
                }
            }
            Input::Tick => self.on_tick(now, &mut out),
        }
        self.refresh_state(&mut out);
        out
    }

    /// The session-level state derived from the connections and timers.
    fn derived_state(&self) -> State {
        let best = self.conns.iter().map(|c| c.state).max_by_key(|s| match s {
            ConnState::Connecting => 0,
            ConnState::OpenSent => 1,
            ConnState::OpenConfirm => 2,
            ConnState::Established => 3,
        });
        match best {
            Some(ConnState::Established) => State::Established,
            Some(ConnState::OpenConfirm) => State::OpenConfirm,
            Some(ConnState::OpenSent) => State::OpenSent,
            Some(ConnState::Connecting) => State::Connect,
            None if self.running && self.restart_at.is_none() => State::Active,
            None => State::Idle,
        }
    }

    fn refresh_state(&mut self, out: &mut Vec<Output>) {
        let to = self.derived_state();
        if to != self.state {
            out.push(Output::StateChanged {
                from: self.state,
                to,
            });
            self.state = to;
        }
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.restart_at = None;
        if self.cfg.passive {
            return; // Active: wait for the peer
        }
        self.connect(now, out);
    }

    fn connect(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.next_outbound += 1;
        let id = ConnId {
            outbound: true,
            seq: self.next_outbound,
        };
        self.conns.push(Conn::new(id, ConnState::Connecting));
        // The attempt itself gets at least `connect_retry`; a quick retry only shortens the
        // wait after a failure.
        let attempt = self.connect_backoff.max(self.cfg.connect_retry);
        self.connect_retry_at = Some(now + self.jitter.apply(attempt));
        out.push(Output::Connect(id));
    }

    /// Doubles the connect-retry wait: quick retries up to `connect_retry`, then up to
    /// `connect_retry_max`.
    fn bump_backoff(&mut self) {
        let cap = if self.connect_backoff < self.cfg.connect_retry {
            self.cfg.connect_retry
        } else {
            self.cfg.connect_retry_max
        };
        self.connect_backoff = (self.connect_backoff * 2)
            .min(cap)
            .max(self.cfg.first_retry());
    }

    /// Stops the session, sending `n` (if any) on every connection past OPEN.
    fn stop(&mut self, n: Option<&Notification>, out: &mut Vec<Output>) {
        self.running = false;
        self.restart_at = None;
        self.connect_retry_at = None;
        let was_established = self.established().is_some();
        for c in std::mem::take(&mut self.conns) {
            if let (Some(n), true) = (n, c.state != ConnState::Connecting) {
                self.push_notification(c.id, n, out);
            }
            out.push(Output::Close(c.id));
        }
        if was_established {
            self.session_down(DownReason::Stopped, out);
        }
    }

    fn on_connected(&mut self, now: Instant, id: ConnId, out: &mut Vec<Output>) {
        let exists = self
            .conns
            .iter()
            .any(|c| c.id == id && c.state == ConnState::Connecting);
        if !exists || !self.running || self.established().is_some() {
            // Stale attempt (retried, stopped, or a session is already up).
            self.conns.retain(|c| c.id != id);
            out.push(Output::Close(id));
            return;
        }
        self.connect_retry_at = None;
        self.open_conn(now, id, out);
    }

    fn on_accepted(&mut self, now: Instant, id: ConnId, out: &mut Vec<Output>) {
        let refuse = !self.running
            || self.restart_at.is_some()
            || self.established().is_some()
            || self
                .conns
                .iter()
                .any(|c| c.id == id || (!c.id.outbound && c.state != ConnState::Connecting));
        if refuse {
            out.push(Output::Close(id));
            return;
        }
        self.conns.push(Conn::new(id, ConnState::Connecting));
        if self.conns.iter().all(|c| !c.id.outbound) {
            self.connect_retry_at = None;
        }
        self.open_conn(now, id, out);
    }

    /// Sends our OPEN on a new connection and enters OpenSent.
    fn open_conn(&mut self, now: Instant, id: ConnId, out: &mut Vec<Output>) {
        let open = Message::Open(self.cfg.open());
        let hold = self.cfg.open_hold_time;
        if let Some(c) = self.conn_mut(id) {
            c.state = ConnState::OpenSent;
            c.hold_at = Some(now + hold);
        }
        self.send(now, id, &open, out);
    }

    fn on_conn_failed(&mut self, now: Instant, id: ConnId, out: &mut Vec<Output>) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let c = self.conns.remove(pos);
        out.push(Output::Close(id));
        if c.state == ConnState::Established {
            self.session_down(DownReason::ConnectionClosed, out);
            self.after_error(now, true);
        } else {
            self.after_failure(now, c.state == ConnState::Connecting);
        }
    }

    /// A connection that never reached Established went away: retry later.
    fn after_failure(&mut self, now: Instant, was_connecting: bool) {
        if !self.running || !self.conns.is_empty() {
            return;
        }
        if !self.cfg.passive {
            self.connect_retry_at = Some(now + self.jitter.apply(self.connect_backoff));
        }
        // Quick retries always grow, so a peer that accepts and closes is not retried at the
        // quick interval forever.
        if was_connecting || self.connect_backoff < self.cfg.connect_retry {
            self.bump_backoff();
        }
    }

    /// The session failed with an error: wait the (damped) idle hold time, then restart.
    fn after_error(&mut self, now: Instant, was_established: bool) {
        if !self.running || !self.conns.is_empty() {
            return;
        }
        self.connect_retry_at = None;
        let stable = was_established
            && self
                .established_since
                .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.idle_hold_max);
        if stable {
            self.idle_hold = self.cfg.idle_hold;
        }
        self.restart_at = Some(now + self.jitter.apply(self.idle_hold));
        if !stable {
            self.idle_hold = (self.idle_hold * 2)
                .min(self.cfg.idle_hold_max)
                .max(self.cfg.idle_hold);
        }
        self.established_since = None;
    }

    fn session_down(&mut self, reason: DownReason, out: &mut Vec<Output>) {
        self.received.clear();
        out.push(Output::SessionDown { reason });
    }

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            self.connect_backoff = self.cfg.first_retry();
            if self.running {
                self.start(now, out);
            }
        }
        if self.connect_retry_at.is_some_and(|t| t <= now) {
            self.connect_retry_at = None;
            // Abandon a hanging outbound attempt and try again with a longer interval.
            let hanging: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|c| c.state == ConnState::Connecting)
                .map(|c| c.id)
                .collect();
            for id in &hanging {
                self.conns.retain(|c| c.id != *id);
                out.push(Output::Close(*id));
            }
            if !hanging.is_empty() {
                self.bump_backoff();
            }
            // Another connection (e.g. an inbound one in OpenSent) is progressing: no retry.
            if self.running && !self.cfg.passive && self.conns.is_empty() {
                self.connect(now, out);
            }
        }
        let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
        for id in ids {
            let Some(c) = self.conn_mut(id) else { continue };
            if c.hold_at.is_some_and(|t| t <= now) {
                self.fail(now, id, Notification::hold_timer_expired(), out);
                continue;
            }
            if c.keepalive_at.is_some_and(|t| t <= now) {
                self.send(now, id, &Message::Keepalive, out);
            }
        }
    }

    /// Sends a message, counts it and restarts the keepalive timer.
    fn send(&mut self, now: Instant, id: ConnId, msg: &Message, out: &mut Vec<Output>) {
        let Some(c) = self.conns.iter_mut().find(|c| c.id == id) else {
            return;
        };
        let bytes = match msg.encode(&c.ctx) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(conn = %id, error = %e, "cannot encode message");
                return;
            }
        };
        if !c.keepalive.is_zero() && matches!(msg, Message::Keepalive | Message::Update(_)) {
            c.keepalive_at = Some(now + self.jitter.apply(c.keepalive));
        }
        self.counters.messages_out += 1;
        out.push(Output::Send(id, bytes));
    }

    fn push_notification(&mut self, id: ConnId, n: &Notification, out: &mut Vec<Output>) {
        let bytes = Message::Notification(n.clone()).encode(&DecodeContext::new(false, true));
        if let Ok(bytes) = bytes {
            self.counters.messages_out += 1;
            self.counters.notifications_out += 1;
            out.push(Output::Send(id, bytes));
            out.push(Output::NotificationSent(n.clone()));
        }
    }

    /// Sends a NOTIFICATION on `id`, closes it and handles the consequences.
    fn fail(&mut self, now: Instant, id: ConnId, n: Notification, out: &mut Vec<Output>) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let c = self.conns.remove(pos);
        self.push_notification(id, &n, out);
        out.push(Output::Close(id));
        if c.state == ConnState::Established {
            self.session_down(DownReason::NotificationSent(n), out);
        }
        self.after_error(now, c.state == ConnState::Established);
    }

    /// Closes `id` with Cease/Connection Collision Resolution without penalising the session.
    fn drop_collision(&mut self, id: ConnId, out: &mut Vec<Output>) {
        if let Some(pos) = self.conns.iter().position(|c| c.id == id) {
            let c = self.conns.remove(pos);
            if c.state != ConnState::Connecting {
                self.push_notification(
                    id,
                    &Notification::cease(CeaseSubcode::ConnectionCollisionResolution),
                    out,
                );
            }
            out.push(Output::Close(id));
        }
    }

    fn on_bytes(&mut self, now: Instant, id: ConnId, bytes: &[u8], out: &mut Vec<Output>) {
        let Some(c) = self.conn_mut(id) else { return };
        if c.state == ConnState::Connecting {
            return;
        }
        c.buf.extend_from_slice(bytes);
        let mut offset = 0;
        loop {
            let Some(c) = self.conn_mut(id) else { return }; // closed while processing
            let ctx = c.ctx;
            let frame = match check_header(&c.buf[offset..], &ctx) {
                Ok(Some(n)) => c.buf[offset..offset + n].to_vec(),
                Ok(None) => break,
                Err(e) => return self.decode_failed(now, id, e, out),
            };
            offset += frame.len();
            self.counters.messages_in += 1;
            match Message::decode(&frame, &ctx) {
                Ok(msg) => self.on_message(now, id, msg, &frame, out),
                Err(e) => return self.decode_failed(now, id, e, out),
            }
        }
        if let Some(c) = self.conn_mut(id) {
            c.buf.drain(..offset);
        }
    }

    fn decode_failed(&mut self, now: Instant, id: ConnId, e: DecodeError, out: &mut Vec<Output>) {
        tracing::warn!(conn = %id, error = %e, "malformed message from peer");
        self.fail(now, id, e.notification().clone(), out);
    }

    /// Closes `id` with a Finite State Machine Error (RFC 4271 §6.6). The data field carries
    /// the type of the unexpected message in one octet (RFC 6608 §4).
    fn fsm_error(
        &mut self,
        now: Instant,
        id: ConnId,
        state: ConnState,
        unexpected: MessageType,
        out: &mut Vec<Output>,
    ) {
        let sub = match state {
            ConnState::OpenSent => FsmErrorSubcode::UnexpectedMessageInOpenSent,
            ConnState::OpenConfirm => FsmErrorSubcode::UnexpectedMessageInOpenConfirm,
            ConnState::Established => FsmErrorSubcode::UnexpectedMessageInEstablished,
            ConnState::Connecting => FsmErrorSubcode::Unspecific,
        };
        self.fail(
            now,
            id,
            Notification::new(
                ErrorCode::FiniteStateMachine,
                sub,
                vec![u8::from(unexpected)],
            ),
            out,
        );
    }

    fn on_message(
        &mut self,
        now: Instant,
        id: ConnId,
        msg: Message,
        frame: &[u8],
        out: &mut Vec<Output>,
    ) {
        let Some(c) = self.conn_mut(id) else { return };
        let state = c.state;
        // Any message from the peer restarts its hold timer (except before its OPEN).
        if state != ConnState::OpenSent && !c.hold.is_zero() {
            c.hold_at = Some(now + c.hold);
        }
        match (state, msg) {
            (_, Message::Notification(n)) => {
                self.counters.notifications_in += 1;
                if let Some(problem) = n.shutdown_communication_error() {
                    // RFC 9003 §4: reported to the operator, the data shown in hex only.
                    tracing::warn!(
                        conn = %id,
                        notification = %n,
                        data = %super::malformed_log::hex(&n.data),
                        "invalid Shutdown Communication: {problem}"
                    );
                }
                out.push(Output::NotificationReceived(n.clone()));
                if let Some(pos) = self.conns.iter().position(|c| c.id == id) {
                    self.conns.remove(pos);
                }
                out.push(Output::Close(id));
                if state == ConnState::Established {
                    self.session_down(DownReason::NotificationReceived(n), out);
                    self.after_error(now, true);
                } else if refused_for_now(&n) {
                    // The peer still has the old session (collision) or refuses for a moment:
                    // no error of ours, retry as after a refused connection (quick retry).
                    self.after_failure(now, false);
                } else {
                    self.after_error(now, false);
                }
            }
            (ConnState::OpenSent, Message::Open(open)) => self.on_open(now, id, open, out),
            (ConnState::OpenConfirm, Message::Keepalive) => self.on_established(now, id, out),
            (ConnState::Established, Message::Keepalive) => {}
            (ConnState::Established, Message::Update(u)) => self.on_update(now, id, u, frame, out),
            (ConnState::Established, Message::RouteRefresh(rr)) => {
                // RFC 2918 §4: a family we did not negotiate is ignored.
                let known = self
                    .negotiated()
                    .is_some_and(|n| n.families.contains(&rr.family));
                if rr.subtype == RouteRefreshSubtype::Normal && known {
                    out.push(Output::RouteRefreshRequested(rr.family));
                }
                // BoRR/EoRR and unknown subtypes: nothing to do (we keep no Adj-RIB-In).
            }
            (state, msg) => self.fsm_error(now, id, state, msg.message_type(), out),
        }
    }

    /// An UPDATE on the Established connection: RFC 7606 outcome, logging, counting.
    fn on_update(
        &mut self,
        now: Instant,
        id: ConnId,
        mut u: Update,
        frame: &[u8],
        out: &mut Vec<Output>,
    ) {
        self.counters.updates_in += 1;
        if !self.cfg.is_ibgp() {
            ebgp_checks(&mut u);
        }
        let reach = u.reach_prefixes();
        let (handling, errors) = match &u.verdict {
            UpdateVerdict::Ok => (None, &[][..]),
            UpdateVerdict::AttributeDiscard(e) => (Some(Handling::AttributeDiscard), &e[..]),
            // RFC 7606 §5.2: an UPDATE that encodes no reachable NLRI and has an error
            // stronger than attribute discard resets the session.
            UpdateVerdict::TreatAsWithdraw(e) if reach.is_empty() => {
                (Some(Handling::SessionReset), &e[..])
            }
            UpdateVerdict::TreatAsWithdraw(e) => (Some(Handling::TreatAsWithdraw), &e[..]),
        };
        if let Some(handling) = handling {
            let m = Malformed {
                conn: id,
                handling,
                errors,
                nlri: &reach,
                message: frame,
            };
            self.malformed_log.log(now, &m);
        }
        if handling == Some(Handling::SessionReset) {
            let subcode = errors
                .first()
                .map_or(UpdateErrorSubcode::Unspecific, |e| e.subcode);
            let n = Notification::new(ErrorCode::UpdateMessage, subcode, Vec::new());
            return self.fail(now, id, n, out);
        }
        let mut withdrawn = u.withdrawn_prefixes();
        let mut announced = u.announced();
        // RFC 4271 §9.1.2: a route whose AS_PATH holds our own AS is not usable; it replaces
        // (implicitly withdraws) any earlier route to the same prefix and is not counted.
        let looped = u
            .attributes
            .as_path
            .as_ref()
            .is_some_and(|p| p.contains(self.cfg.local_as));
        if looped && !announced.is_empty() {
            tracing::debug!(conn = %id, prefixes = announced.len(), "AS_PATH holds our AS: not counted");
            withdrawn.append(&mut announced);
        }
        if self.count_received(now, id, &withdrawn, &announced, out) {
            return; // closed: over the maximum-prefix limit
        }
        let end_of_rib = u.end_of_rib_family();
        let verdict = u.verdict.clone();
        out.push(Output::UpdateReceived(UpdateSummary {
            announced: announced.len(),
            withdrawn: withdrawn.len(),
            end_of_rib,
            verdict,
            update: self.cfg.keep_updates.then(|| Box::new(u)),
        }));
    }

    /// Counts the prefixes and enforces the maximum-prefix limit (RFC 4486 §4 for the Cease);
    /// true when the session was closed.
    fn count_received(
        &mut self,
        now: Instant,
        id: ConnId,
        withdrawn: &[IpNet],
        announced: &[IpNet],
        out: &mut Vec<Output>,
    ) -> bool {
        let limit = self.cfg.max_prefixes;
        for ex in self.received.apply(withdrawn, announced, limit) {
            tracing::warn!(
                conn = %id,
                family = %ex.family,
                received = ex.count,
                limit = ex.limit,
                cease = self.cfg.max_prefixes_cease,
                "peer exceeds the maximum-prefix limit; its prefixes are no longer held \
                 (the count becomes an estimate)"
            );
            if self.cfg.max_prefixes_cease {
                let mut data = Vec::with_capacity(7);
                data.extend_from_slice(&u16::from(ex.family.afi).to_be_bytes());
                data.push(u8::from(ex.family.safi));
                data.extend_from_slice(&ex.limit.to_be_bytes());
                let n =
                    Notification::new(ErrorCode::Cease, CeaseSubcode::MaximumPrefixesReached, data);
                self.fail(now, id, n, out);
                return true;
            }
        }
        false
    }

    fn on_open(
        &mut self,
        now: Instant,
        id: ConnId,
        open: crate::wire::Open,
        out: &mut Vec<Output>,
    ) {
        if let Err(e) = validate_open(&self.cfg, &open) {
            return self.decode_failed(now, id, e, out);
        }
        // Collision detection (RFC 4271 §6.8) against connections in OpenConfirm/Established.
        let other = self
            .conns
            .iter()
            .find(|c| {
                c.id != id && matches!(c.state, ConnState::OpenConfirm | ConnState::Established)
            })
            .map(|c| (c.id, c.state));
        if let Some((other_id, other_state)) = other {
            if other_state == ConnState::Established {
                return self.drop_collision(id, out);
            }
            // Keep the connection initiated by the speaker with the higher BGP identifier.
            let local_wins = u32::from(self.cfg.router_id) > u32::from(open.bgp_identifier);
            let (keep_outbound, this_outbound) = (local_wins, id.outbound);
            if this_outbound == keep_outbound {
                self.drop_collision(other_id, out);
            } else {
                return self.drop_collision(id, out);
            }
        }
        let n = negotiate(&self.cfg, id, &open);
        let Some(c) = self.conn_mut(id) else { return };
        c.ctx = n.context();
        c.hold = Duration::from_secs(u64::from(n.hold_time));
        c.keepalive = Duration::from_secs(u64::from(n.keepalive));
        c.hold_at = (!c.hold.is_zero()).then(|| now + c.hold);
        c.keepalive_at = None;
        c.state = ConnState::OpenConfirm;
        c.negotiated = Some(n);
        self.send(now, id, &Message::Keepalive, out);
    }

    fn on_established(&mut self, now: Instant, id: ConnId, out: &mut Vec<Output>) {
        let Some(c) = self.conn_mut(id) else { return };
        c.state = ConnState::Established;
        let negotiated = c.negotiated.clone();
        // Any other connection loses (collision with an Established session).
        let others: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|c| c.id != id)
            .map(|c| c.id)
            .collect();
        for o in others {
            self.drop_collision(o, out);
        }
        self.connect_retry_at = None;
        self.connect_backoff = self.cfg.first_retry();
        self.established_since = Some(now);
        self.counters.established_transitions += 1;
        self.received.clear();
        self.refresh_state(out);
        if let Some(n) = negotiated {
            out.push(Output::Established(Box::new(n)));
        }
    }
}

/// Number of whole messages in `buf`.
fn count_frames(mut buf: &[u8]) -> u64 {
    let mut n = 0;
    while let Some(len) = crate::wire::frame_len(buf) {
        buf = &buf[len..];
        n += 1;
    }
    n
}

/// RFC 7606 checks that depend on the peer being external: AS_CONFED segments make the UPDATE
/// treat-as-withdraw (§7.2); LOCAL_PREF is ignored (RFC 4271 §5.1.5, RFC 7606 §7.5).
fn ebgp_checks(u: &mut crate::wire::Update) {
    use crate::wire::{AttributeError, AttributeType, SegmentKind};
    u.attributes.local_pref = None;
    let confed = u.attributes.as_path.as_ref().is_some_and(|p| {
        p.segments
            .iter()
            .any(|s| matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet))
    });
    if confed {
        let e = AttributeError {
            attribute: AttributeType::AsPath,
            subcode: crate::wire::UpdateErrorSubcode::MalformedAsPath,
            reason: "AS_CONFED segment from an external peer".into(),
        };
        u.verdict = match std::mem::take(&mut u.verdict) {
            UpdateVerdict::Ok => UpdateVerdict::TreatAsWithdraw(vec![e]),
            UpdateVerdict::AttributeDiscard(mut v) | UpdateVerdict::TreatAsWithdraw(mut v) => {
                v.push(e);
                UpdateVerdict::TreatAsWithdraw(v)
            }
        };
    }
}

/// A NOTIFICATION before Established that says "not now" rather than "wrong": Cease/Connection
/// Rejected (6/5) or Cease/Connection Collision Resolution (6/7, the peer kept its existing
/// session, e.g. one we are closing after a reset). Retried like a refused connection, without
/// the damped idle hold of an error (RFC 4271 §8.2.2 makes damping optional).
fn refused_for_now(n: &Notification) -> bool {
    matches!(
        n.cease_subcode(),
        Some(CeaseSubcode::ConnectionRejected | CeaseSubcode::ConnectionCollisionResolution)
    )
}
