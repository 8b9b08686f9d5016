//! The task that runs one peer: the session FSM, its connections, timers and Adj-RIB-Out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::rib_out::{AddressFamily, AdvertisementSet, RibOut, SessionContext};
use crate::session::{
    ConnId, DownReason, Input, Negotiated, Output, Session, SessionConfig, State,
};
use crate::wire::{CeaseSubcode, Family, Notification};

use super::adj_rib_in::AdjRibIn;
use super::config::PeerConfig;
use super::conn::{self, ConnEvent, Connection};
use super::sockopt;
use super::status::{Direction, FamilyCounts, GracefulRestartStatus, PeerError, PeerStatus};

/// Commands from the [`Speaker`](super::Speaker) handle.
pub(crate) enum PeerCommand {
    /// Replace the desired set.
    SetAdvertisements(Arc<AdvertisementSet>),
    /// The listener accepted a connection from this peer.
    Inbound(TcpStream),
    /// New timers / maximum-prefix limit for the running session (no new OPEN needed).
    Retune(SessionConfig),
    /// Graceful stop: the Cease of `reason`, flush, close, end.
    Stop {
        reason: StopReason,
        done: oneshot::Sender<()>,
    },
}

/// Why a peer task stops, which decides the Cease it sends (RFC 4486).
#[derive(Debug, Clone)]
pub(crate) enum StopReason {
    /// Cease/Administrative Shutdown (6/2) with an RFC 9003 shutdown communication.
    Shutdown(Option<String>),
    /// Cease/`subcode` without data: Peer De-configured (6/3) or Other Configuration Change (6/6).
    Cease(CeaseSubcode),
    /// No NOTIFICATION: a restart, the peer keeps our routes as stale (RFC 4724).
    Restart,
    /// Cease/Hard Reset with this cause inside (RFC 8538 §3).
    HardReset(Notification),
}

impl StopReason {
    fn input(self) -> Input<'static> {
        match self {
            StopReason::Shutdown(message) => Input::ManualStop { message },
            StopReason::Cease(subcode) => Input::ManualStopCease { subcode },
            StopReason::Restart => Input::ManualStopForRestart,
            StopReason::HardReset(cause) => Input::ManualStopHardReset { cause },
        }
    }
}

/// State of the peer task.
pub(crate) struct PeerTask {
    cfg: PeerConfig,
    session: Session,
    rib: RibOut,
    conns: HashMap<ConnId, Connection>,
    connecting: HashMap<ConnId, JoinHandle<()>>,
    closing: Vec<JoinHandle<()>>,
    events_tx: mpsc::Sender<ConnEvent>,
    events_rx: mpsc::Receiver<ConnEvent>,
    status: watch::Sender<PeerStatus>,
    inbound_seq: u64,
    last_error: Option<PeerError>,
    last_notification_at: Option<Instant>,
    established_since: Option<SystemTime>,
    unsendable: [usize; 2],
    adj_rib_in: Option<Arc<AdjRibIn>>,
}

fn family_of(f: Family) -> Option<AddressFamily> {
    if f == Family::IPV4_UNICAST {
        Some(AddressFamily::Ipv4)
    } else if f == Family::IPV6_UNICAST {
        Some(AddressFamily::Ipv6)
    } else {
        None
    }
}

/// Finds an address of the other family on the interface that holds `local`.
fn sibling_address(local: IpAddr, want_v6: bool) -> Option<IpAddr> {
    let all = sockopt::interface_addresses().ok()?;
    let iface = all.iter().find(|a| a.address == local)?.interface.clone();
    let candidates = all
        .iter()
        .filter(|a| a.interface == iface)
        .map(|a| a.address);
    let mut best: Option<IpAddr> = None;
    for a in candidates {
        let ok = match a {
            IpAddr::V6(v6) if want_v6 => {
                !v6.is_unspecified() && (v6.segments()[0] & 0xffc0) != 0xfe80
            }
            IpAddr::V4(v4) if !want_v6 => !v4.is_unspecified(),
            _ => false,
        };
        if ok && (best.is_none() || best.is_some_and(|b| b.is_loopback() && !a.is_loopback())) {
            best = Some(a);
        }
    }
    best
}

impl PeerTask {
    pub(crate) fn new(
        cfg: PeerConfig,
        session: Session,
        desired: Arc<AdvertisementSet>,
        status: watch::Sender<PeerStatus>,
        adj_rib_in: Option<Arc<AdjRibIn>>,
    ) -> Self {
        let (events_tx, events_rx) = mpsc::channel(64);
        let mut rib = RibOut::new();
        rib.set_desired(desired);
        Self {
            cfg,
            session,
            rib,
            conns: HashMap::new(),
            connecting: HashMap::new(),
            closing: Vec::new(),
            events_tx,
            events_rx,
            status,
            inbound_seq: 0,
            adj_rib_in,
            last_error: None,
            last_notification_at: None,
            established_since: None,
            unsendable: [0; 2],
        }
    }

    /// Runs until stopped (or until the handle is dropped).
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<PeerCommand>) {
        self.apply(Instant::now(), Input::ManualStart);
        loop {
            self.pump_updates();
            self.publish();
            let deadline = self.session.next_deadline();
            let sleep_to = deadline
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(PeerCommand::SetAdvertisements(set)) => self.rib.set_desired(set),
                    Some(PeerCommand::Inbound(stream)) => self.accept(stream),
                    Some(PeerCommand::Retune(session)) => self.retune(session),
                    Some(PeerCommand::Stop { reason, done }) => {
                        self.stop(reason).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.stop(StopReason::Shutdown(None)).await;
                        return;
                    }
                },
                Some(ev) = self.events_rx.recv() => self.on_event(ev),
                _ = tokio::time::sleep_until(sleep_to), if deadline.is_some() => {
                    self.apply(Instant::now(), Input::Tick);
                }
            }
        }
    }

    fn apply(&mut self, now: Instant, input: Input<'_>) {
        let outputs = self.session.handle(now, input);
        for out in outputs {
            self.on_output(out);
        }
    }

    fn on_output(&mut self, out: Output) {
        match out {
            Output::Connect(id) => self.spawn_connect(id),
            Output::Send(id, bytes) => {
                if let Some(c) = self.conns.get(&id) {
                    c.send(bytes);
                }
            }
            Output::Close(id) => {
                if let Some(task) = self.connecting.remove(&id) {
                    task.abort();
                }
                if let Some(c) = self.conns.remove(&id) {
                    self.closing.retain(|h| !h.is_finished());
                    if let Some(w) = c.close() {
                        self.closing.push(w);
                    }
                }
            }
            Output::StateChanged { from, to } => {
                info!(%from, %to, "session state changed");
            }
            Output::Established(neg) => self.on_established(&neg),
            Output::UpdateReceived(summary) => {
                if let (Some(table), Some(update)) = (&self.adj_rib_in, &summary.update) {
                    table.apply(update);
                }
            }
            Output::RouteRefreshRequested(f) => {
                if let Some(af) = family_of(f) {
                    info!(family = %af, "route refresh requested");
                    self.rib.route_refresh(af);
                }
            }
            Output::NotificationSent(n) => {
                warn!("NOTIFICATION sent: {n}");
                self.last_notification_at = Some(Instant::now());
                self.last_error = Some(PeerError::Notification {
                    direction: Direction::Sent,
                    notification: n,
                });
            }
            Output::NotificationReceived(n) => {
                warn!("NOTIFICATION received: {n}");
                self.last_notification_at = Some(Instant::now());
                self.last_error = Some(PeerError::Notification {
                    direction: Direction::Received,
                    notification: n,
                });
            }
            Output::SessionDown { reason } => {
                info!(%reason, "session down");
                if reason == DownReason::ConnectionClosed && !self.notification_just_seen() {
                    self.last_error = Some(PeerError::ConnectionClosed);
                }
                self.rib.session_down();
                if let Some(table) = &self.adj_rib_in {
                    table.clear();
                }
                self.established_since = None;
                self.unsendable = [0; 2];
            }
        }
    }

    fn notification_just_seen(&self) -> bool {
        self.last_notification_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
    }

    fn on_established(&mut self, neg: &Negotiated) {
        let local = self.conns.get(&neg.conn).map(|c| c.local.ip());
        let (nh4, nh6) = match local {
            Some(IpAddr::V4(v4)) => (
                Some(v4),
                sibling_address(IpAddr::V4(v4), true).and_then(|a| match a {
                    IpAddr::V6(v6) => Some(v6),
                    IpAddr::V4(_) => None,
                }),
            ),
            Some(IpAddr::V6(v6)) => (
                v6.to_ipv4_mapped().or_else(|| {
                    sibling_address(IpAddr::V6(v6), false).and_then(|a| match a {
                        IpAddr::V4(v4) => Some(v4),
                        IpAddr::V6(_) => None,
                    })
                }),
                Some(v6),
            ),
            None => (None, None),
        };
        let ctx = SessionContext {
            local_as: self.cfg.session.local_as,
            ebgp: self.cfg.is_ebgp(),
            four_octet_as: neg.four_octet_as,
            max_message_size: neg.max_message_len,
            ipv4_unicast: neg.families.contains(&Family::IPV4_UNICAST),
            ipv6_unicast: neg.families.contains(&Family::IPV6_UNICAST),
            next_hop_v4: nh4,
            next_hop_v6: nh6,
        };
        let families: Vec<String> = neg.families.iter().map(|f| f.to_string()).collect();
        info!(
            peer_as = neg.peer_as,
            peer_router_id = %neg.peer_router_id,
            hold_time = neg.hold_time,
            families = %families.join(","),
            max_message = neg.max_message_len,
            next_hop_v4 = %nh4.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            next_hop_v6 = %nh6.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            "session established"
        );
        self.established_since = Some(SystemTime::now());
        self.rib.session_up(ctx);
    }

    fn spawn_connect(&mut self, id: ConnId) {
        let cfg = self.cfg.clone();
        let events = self.events_tx.clone();
        let timeout = cfg
            .session
            .connect_retry
            .clamp(Duration::from_secs(1), Duration::from_secs(30));
        debug!(port = cfg.port, conn = %id, "connecting");
        let task = tokio::spawn(async move {
            let result = conn::connect(&cfg, timeout).await;
            let _ = events.send(ConnEvent::Connected(id, result)).await;
        });
        self.connecting.insert(id, task);
    }

    fn retune(&mut self, mut session: SessionConfig) {
        session.jitter_seed = self.session.config().jitter_seed;
        match self.session.retune(session.clone()) {
            Ok(()) => {
                info!("timers / maximum-prefix changed; applied without a reset");
                self.cfg.session = session;
            }
            Err(e) => warn!("settings not applied: {e}"),
        }
    }

    fn accept(&mut self, stream: TcpStream) {
        if let Err(e) = conn::prepare_accepted(&stream, &self.cfg) {
            warn!("inbound connection refused: {e}");
            return;
        }
        self.inbound_seq += 1;
        let id = ConnId::inbound(self.inbound_seq);
        debug!(conn = %id, "inbound connection");
        let c = Connection::start(id, stream, self.events_tx.clone());
        self.conns.insert(id, c);
        self.apply(Instant::now(), Input::TcpConnectionConfirmed(id));
    }

    fn on_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Connected(id, Ok(stream)) => {
                self.connecting.remove(&id);
                let c = Connection::start(id, stream, self.events_tx.clone());
                debug!(conn = %id, local = %c.local, "connected");
                self.conns.insert(id, c);
                self.apply(Instant::now(), Input::TcpConnectionAcknowledged(id));
            }
            ConnEvent::Connected(id, Err(e)) => {
                self.connecting.remove(&id);
                if self.last_error != Some(PeerError::Transport(e.clone())) {
                    info!("connect failed: {e}");
                }
                self.last_error = Some(PeerError::Transport(e));
                self.apply(Instant::now(), Input::TcpConnectionFails(id));
            }
            ConnEvent::Bytes(id, bytes) => {
                if self.conns.contains_key(&id) {
                    self.apply(Instant::now(), Input::BytesReceived(id, &bytes));
                }
            }
            ConnEvent::Failed(id, e) => {
                if self.conns.remove(&id).is_some() {
                    debug!(conn = %id, "connection failed: {e}");
                    let was_up = self.session.established_conn() == Some(id);
                    self.apply(Instant::now(), Input::TcpConnectionFails(id));
                    if was_up && !self.notification_just_seen() {
                        self.last_error = Some(PeerError::Transport(e));
                    }
                }
            }
            ConnEvent::Drained => {}
        }
    }

    /// Feeds the Adj-RIB-Out stream into the established connection: one buffer with every
    /// pending UPDATE, whenever the previous one has been written.
    fn pump_updates(&mut self) {
        if self.session.state() != State::Established || !self.rib.has_pending() {
            return;
        }
        let Some(id) = self.session.established_conn() else {
            return;
        };
        // Wait until everything queued is written: the OPEN/KEEPALIVE exchange leaves before
        // the table is encoded, and each batch carries everything pending at that moment.
        match self.conns.get(&id) {
            Some(c) if c.queued() == 0 => {}
            _ => return,
        }
        let mut buf = Vec::new();
        let batch = self.rib.take_updates(&mut buf);
        if batch.unsendable != self.unsendable {
            for af in AddressFamily::ALL {
                let n = batch.unsendable[af as usize];
                if n > 0 {
                    warn!(
                        family = %af,
                        "{n} prefixes cannot be sent: family not negotiated or no next hop of that family"
                    );
                }
            }
            self.unsendable = batch.unsendable;
        }
        if batch.is_empty() {
            return;
        }
        debug!(
            messages = batch.messages,
            bytes = buf.len(),
            announced_v4 = batch.announced[0],
            announced_v6 = batch.announced[1],
            withdrawn_v4 = batch.withdrawn[0],
            withdrawn_v6 = batch.withdrawn[1],
            "sending updates"
        );
        // One SendUpdate for the whole batch keeps the session's keepalive timer right and
        // gives the writer a single large buffer; the session (the one owner of the message
        // counters) counts every UPDATE in it.
        self.apply(Instant::now(), Input::SendUpdate(buf));
    }

    /// Graceful restart as negotiated on the Established session.
    fn graceful_restart_status(&self) -> Option<GracefulRestartStatus> {
        if self.session.state() != State::Established {
            return None;
        }
        let neg = self.session.negotiated()?;
        let cfg = &self.cfg.session;
        Some(GracefulRestartStatus {
            local_restart_time: if cfg.graceful_restart {
                cfg.restart_time
            } else {
                0
            },
            peer_restart_time: neg.peer_graceful_restart.as_ref().map(|g| g.restart_time),
            notification: neg.graceful_notification,
        })
    }

    fn publish(&self) {
        let counters = self.session.counters();
        let received = self.session.received_prefixes();
        let sent = self.rib.sent_count();
        let new = PeerStatus {
            address: self.cfg.address,
            state: self.session.state(),
            established_since: self.established_since,
            last_error: self.last_error.clone(),
            prefixes_sent: FamilyCounts {
                ipv4: sent[0],
                ipv6: sent[1],
            },
            prefixes_received: FamilyCounts {
                ipv4: received.get(&Family::IPV4_UNICAST).copied().unwrap_or(0),
                ipv6: received.get(&Family::IPV6_UNICAST).copied().unwrap_or(0),
            },
            prefixes_unsendable: FamilyCounts {
                ipv4: self.unsendable[0],
                ipv6: self.unsendable[1],
            },
            messages_in: counters.messages_in,
            messages_out: counters.messages_out,
            updates_in: counters.updates_in,
            updates_out: counters.updates_out,
            established_count: counters.established_transitions,
            graceful_restart: self.graceful_restart_status(),
        };
        self.status.send_if_modified(|s| {
            if *s == new {
                false
            } else {
                *s = new;
                true
            }
        });
    }

    async fn stop(&mut self, reason: StopReason) {
        self.apply(Instant::now(), reason.input());
        for (_, task) in self.connecting.drain() {
            task.abort();
        }
        for (_, c) in self.conns.drain() {
            if let Some(w) = c.close() {
                self.closing.push(w);
            }
        }
        for w in self.closing.drain(..) {
            let _ = w.await;
        }
        self.publish();
    }
}
