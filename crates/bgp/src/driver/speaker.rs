//! The [`Speaker`] handle: peers, listeners, desired routes and status.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::rib_out::AdvertisementSet;
use crate::session::{ConfigError, Session};
use crate::wire::{CeaseSubcode, Notification};

use super::adj_rib_in::{AdjRibIn, ReceivedRoute};
use super::config::PeerConfig;
use super::conn;
use super::peer::{PeerCommand, PeerTask, StopReason};
use super::sockopt::{self, SockoptError};
use super::status::PeerStatus;

/// How long a graceful stop may take (NOTIFICATION flush and close) before it is abandoned.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors of the [`Speaker`] handle.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// `add_peer` with an address that is already configured.
    #[error("peer {0} is already configured")]
    DuplicatePeer(IpAddr),
    /// A call naming a peer that is not configured.
    #[error("peer {0} is not configured")]
    UnknownPeer(IpAddr),
    /// The session part of the configuration is invalid.
    #[error("peer {peer}: {source}")]
    InvalidConfig {
        /// The peer.
        peer: IpAddr,
        /// What is wrong.
        #[source]
        source: ConfigError,
    },
    /// A socket could not be set up (listener bind, MD5 key on a listener...).
    #[error(transparent)]
    Socket(#[from] SockoptError),
    /// The speaker was shut down.
    #[error("the speaker has been shut down")]
    ShutDown,
}

struct PeerEntry {
    config: PeerConfig,
    commands: mpsc::UnboundedSender<PeerCommand>,
    status: watch::Receiver<PeerStatus>,
    task: JoinHandle<()>,
    desired: Arc<AdvertisementSet>,
    adj_rib_in: Option<Arc<AdjRibIn>>,
}

struct ListenerEntry {
    addr: SocketAddr,
    listener: Arc<TcpListener>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Inner {
    peers: HashMap<IpAddr, PeerEntry>,
    listeners: Vec<ListenerEntry>,
    shut_down: bool,
}

/// A BGP speaker: a set of peers, each run by its own tokio task, and optional listeners for
/// inbound connections. Cheap to clone; all clones control the same speaker.
///
/// - [`add_peer`](Self::add_peer) starts a session (connecting unless passive);
/// - [`set_advertisements`](Self::set_advertisements) gives the full desired route set of a
///   peer; only the difference to what the peer has is sent, as packed UPDATEs;
/// - [`watch`](Self::watch) / [`status`](Self::status) report state, uptime, last error and
///   counters;
/// - [`remove_peer`](Self::remove_peer) stops a session gracefully with NOTIFICATION
///   Cease/Peer De-configured (6/3), [`update_peer`](Self::update_peer) resets it with
///   Cease/Other Configuration Change (6/6) (RFC 4486), and [`shutdown`](Self::shutdown) stops
///   every session with Cease/Administrative Shutdown (6/2) and an RFC 9003 message.
///
/// Must be used inside a tokio runtime.
#[derive(Clone, Default)]
pub struct Speaker {
    inner: Arc<Mutex<Inner>>,
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding the lock cannot leave `Inner` inconsistent in a way that matters
    // more than stopping the whole speaker would.
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl Speaker {
    /// A speaker with no peers and no listeners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Listens for inbound BGP connections on `addr` (port 0 picks a free port; the bound
    /// address is returned). Connections from configured peers are handed to their session
    /// (RFC 4271 collision detection decides between two connections); others are closed.
    /// MD5 keys of configured peers are set on the listener.
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr, DriverError> {
        let listener = conn::listener(addr)?;
        let bound = listener.local_addr().map_err(|source| SockoptError::Io {
            option: "getsockname",
            source,
        })?;
        let listener = Arc::new(listener);
        let mut inner = lock(&self.inner);
        if inner.shut_down {
            return Err(DriverError::ShutDown);
        }
        for entry in inner.peers.values() {
            set_listener_key(&listener, bound, &entry.config, true)?;
        }
        let task = tokio::spawn(accept_loop(
            Arc::clone(&listener),
            Arc::downgrade(&self.inner),
        ));
        info!(address = %bound, "listening for BGP connections");
        inner.listeners.push(ListenerEntry {
            addr: bound,
            listener,
            task,
        });
        Ok(bound)
    }

    /// Adds a peer and starts its session. The desired route set starts empty: prefer
    /// [`add_peer_with`](Self::add_peer_with) when the routes are known, so that the first
    /// table and its End-of-RIB go out together.
    pub fn add_peer(&self, config: PeerConfig) -> Result<(), DriverError> {
        self.add_peer_with(config, Arc::new(AdvertisementSet::new()))
    }

    /// Adds a peer with its initial desired route set and starts its session.
    pub fn add_peer_with(
        &self,
        config: PeerConfig,
        desired: Arc<AdvertisementSet>,
    ) -> Result<(), DriverError> {
        let address = normalize(config.address);
        let session = Session::new(config.session_with_jitter()).map_err(|source| {
            DriverError::InvalidConfig {
                peer: address,
                source,
            }
        })?;
        let mut inner = lock(&self.inner);
        if inner.shut_down {
            return Err(DriverError::ShutDown);
        }
        if inner.peers.contains_key(&address) {
            return Err(DriverError::DuplicatePeer(address));
        }
        for l in &inner.listeners {
            set_listener_key(&l.listener, l.addr, &config, true)?;
        }
        let (status_tx, status_rx) = watch::channel(PeerStatus::new(address));
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let mut config = config;
        config.address = address;
        let adj_rib_in = config
            .session
            .keep_updates
            .then(|| Arc::new(AdjRibIn::default()));
        let task = PeerTask::new(
            config.clone(),
            session,
            Arc::clone(&desired),
            status_tx,
            adj_rib_in.clone(),
        );
        let span = tracing::info_span!("peer", peer = %address);
        let handle = tokio::spawn(tracing::Instrument::instrument(task.run(cmd_rx), span));
        info!(peer = %address, peer_as = config.session.peer_as, passive = config.session.passive, "peer added");
        inner.peers.insert(
            address,
            PeerEntry {
                config,
                commands: cmd_tx,
                status: status_rx,
                task: handle,
                desired,
                adj_rib_in,
            },
        );
        Ok(())
    }

    /// The routes `peer` announced to us, with their attributes, sorted by prefix. Empty unless
    /// the peer's session has `keep_updates` set (a collector or looking glass); received routes
    /// are never installed anywhere.
    pub fn received_routes(&self, peer: IpAddr) -> Vec<ReceivedRoute> {
        let inner = lock(&self.inner);
        inner
            .peers
            .get(&normalize(peer))
            .and_then(|entry| entry.adj_rib_in.as_ref())
            .map(|table| table.snapshot())
            .unwrap_or_default()
    }

    /// Removes a peer that is no longer configured: NOTIFICATION Cease/Peer De-configured (6/3,
    /// RFC 4486), flush, close. Where N was exchanged the 6/3 goes inside Cease/Hard Reset
    /// (RFC 8538 §3, §5): a plain 6/3 would leave our routes at the peer as stale for the
    /// restart time. `message` is logged; RFC 9003 defines no shutdown communication for 6/3,
    /// so none is sent. Returns when the peer task has ended (at most a few seconds).
    pub async fn remove_peer(&self, address: IpAddr, message: &str) -> Result<(), DriverError> {
        info!(peer = %normalize(address), reason = message, "removing peer (Cease/Peer De-configured)");
        let cause = Notification::cease(CeaseSubcode::PeerDeconfigured);
        self.remove_with(address, StopReason::HardReset(cause))
            .await
    }

    /// Removes a peer, stopping it with `reason`.
    async fn remove_with(&self, address: IpAddr, reason: StopReason) -> Result<(), DriverError> {
        let address = normalize(address);
        let entry = {
            let mut inner = lock(&self.inner);
            let entry = inner
                .peers
                .remove(&address)
                .ok_or(DriverError::UnknownPeer(address))?;
            for l in &inner.listeners {
                if let Err(e) = set_listener_key(&l.listener, l.addr, &entry.config, false) {
                    warn!(peer = %address, "removing the MD5 key from the listener: {e}");
                }
            }
            entry
        };
        stop_entry(entry, reason).await;
        info!(peer = %address, "peer removed");
        Ok(())
    }

    /// Replaces a peer's configuration and returns whether the session was reset. Nothing
    /// changed: nothing happens. Only timers or the maximum-prefix limit changed
    /// ([`PeerConfig::needs_reset_for`] false): the running session takes them, no reset.
    /// Otherwise the session is stopped gracefully with Cease/Other Configuration Change (6/6,
    /// RFC 4486) and restarted with the new configuration and the same desired routes.
    pub async fn update_peer(&self, config: PeerConfig) -> Result<bool, DriverError> {
        let address = normalize(config.address);
        let invalid = |source| DriverError::InvalidConfig {
            peer: address,
            source,
        };
        config.session.validate().map_err(invalid)?;
        let desired = {
            let mut inner = lock(&self.inner);
            let entry = inner
                .peers
                .get_mut(&address)
                .ok_or(DriverError::UnknownPeer(address))?;
            let mut normalized = config.clone();
            normalized.address = address;
            if entry.config == normalized {
                return Ok(false);
            }
            if !entry.config.needs_reset_for(&normalized) {
                let _ = entry
                    .commands
                    .send(PeerCommand::Retune(normalized.session.clone()));
                entry.config = normalized;
                return Ok(false);
            }
            Arc::clone(&entry.desired)
        };
        info!(peer = %address, "session parameters changed: reset (Cease/Other Configuration Change)");
        self.remove_with(
            address,
            StopReason::Cease(CeaseSubcode::OtherConfigurationChange),
        )
        .await?;
        self.add_peer_with(config, desired)?;
        Ok(true)
    }

    /// Sets the full desired route set of a peer. Only the difference to what the peer has
    /// is sent (packed UPDATEs; withdrawals for routes no longer in the set). Cheap: the set
    /// is shared, not copied; give the same `Arc` to several peers if they get the same routes.
    pub fn set_advertisements(
        &self,
        peer: IpAddr,
        desired: Arc<AdvertisementSet>,
    ) -> Result<(), DriverError> {
        let peer = normalize(peer);
        let mut inner = lock(&self.inner);
        let entry = inner
            .peers
            .get_mut(&peer)
            .ok_or(DriverError::UnknownPeer(peer))?;
        entry.desired = Arc::clone(&desired);
        let _ = entry.commands.send(PeerCommand::SetAdvertisements(desired));
        Ok(())
    }

    /// The desired route set last given for a peer.
    pub fn advertisements(&self, peer: IpAddr) -> Option<Arc<AdvertisementSet>> {
        lock(&self.inner)
            .peers
            .get(&normalize(peer))
            .map(|e| Arc::clone(&e.desired))
    }

    /// A watch of a peer's status; it changes on every state change, message counter change
    /// and error. `None` for an unknown peer. The receiver sees the final status (state Idle)
    /// when the peer is removed.
    pub fn watch(&self, peer: IpAddr) -> Option<watch::Receiver<PeerStatus>> {
        lock(&self.inner)
            .peers
            .get(&normalize(peer))
            .map(|e| e.status.clone())
    }

    /// A snapshot of every peer, ordered by address.
    pub fn status(&self) -> Vec<PeerStatus> {
        let inner = lock(&self.inner);
        let mut all: Vec<PeerStatus> = inner
            .peers
            .values()
            .map(|e| e.status.borrow().clone())
            .collect();
        all.sort_by_key(|s| s.address);
        all
    }

    /// The configurations of all peers, ordered by address.
    pub fn peers(&self) -> Vec<PeerConfig> {
        let inner = lock(&self.inner);
        let mut all: Vec<PeerConfig> = inner.peers.values().map(|e| e.config.clone()).collect();
        all.sort_by_key(|c| c.address);
        all
    }

    /// Stops every session gracefully (6/2 with `message`), closes the listeners, and refuses
    /// further peers. Returns when all peer tasks have ended (bounded by a few seconds).
    pub async fn shutdown(&self, message: &str) {
        let reason = StopReason::Shutdown(Some(message.to_string()));
        self.shutdown_with(|_| reason.clone()).await
    }

    /// Like [`Speaker::shutdown`], for a restart (RFC 4724): every connection is closed without
    /// a NOTIFICATION, so peers that received a non-zero restart time keep our routes as stale
    /// until a new session sends End-of-RIB or the restart time runs out.
    pub async fn shutdown_for_restart(&self) {
        self.shutdown_with(|_| StopReason::Restart).await
    }

    /// A restart where peers differ: the sessions that offered a restart time are closed
    /// without a NOTIFICATION (the peer keeps our routes as stale, RFC 4724 §4.2), the others
    /// get Cease/Administrative Shutdown with `message` as in [`Speaker::shutdown`].
    pub async fn shutdown_for_restart_where_offered(&self, message: &str) {
        let shutdown = StopReason::Shutdown(Some(message.to_string()));
        self.shutdown_with(|config| {
            if config.session.graceful_restart && config.session.restart_time > 0 {
                StopReason::Restart
            } else {
                shutdown.clone()
            }
        })
        .await
    }

    /// Like [`Speaker::shutdown`], but the 6/2 with `message` is sent inside Cease/Hard Reset
    /// (RFC 8538 §3) where the N flag was exchanged, so those peers drop our routes at once
    /// instead of keeping them as stale.
    pub async fn shutdown_hard_reset(&self, message: &str) {
        let reason = StopReason::HardReset(Notification::administrative_shutdown(message));
        self.shutdown_with(|_| reason.clone()).await
    }

    async fn shutdown_with(&self, reason_for: impl Fn(&PeerConfig) -> StopReason) {
        let (peers, listeners) = {
            let mut inner = lock(&self.inner);
            inner.shut_down = true;
            (
                inner.peers.drain().map(|(_, e)| e).collect::<Vec<_>>(),
                std::mem::take(&mut inner.listeners),
            )
        };
        for l in listeners {
            l.task.abort();
        }
        let mut stops = tokio::task::JoinSet::new();
        for entry in peers {
            let reason = reason_for(&entry.config);
            stops.spawn(async move { stop_entry(entry, reason).await });
        }
        while stops.join_next().await.is_some() {}
        info!("speaker shut down");
    }
}

async fn stop_entry(entry: PeerEntry, reason: StopReason) {
    let (done_tx, done_rx) = oneshot::channel();
    let sent = entry
        .commands
        .send(PeerCommand::Stop {
            reason,
            done: done_tx,
        })
        .is_ok();
    if sent && tokio::time::timeout(STOP_TIMEOUT, done_rx).await.is_err() {
        warn!(peer = %entry.config.address, "graceful stop timed out");
    }
    entry.task.abort();
}

/// Sets (or removes) a peer's MD5 key on a listener, and TTL 255 for GTSM peers.
fn set_listener_key(
    listener: &TcpListener,
    listener_addr: SocketAddr,
    config: &PeerConfig,
    add: bool,
) -> Result<(), SockoptError> {
    if listener_addr.is_ipv6() != config.address.is_ipv6() {
        return Ok(()); // IPv6 listeners are IPv6-only
    }
    if add && config.ttl_security {
        // The SYN-ACK leaves with the listener's TTL; a GTSM peer drops it below 254.
        sockopt::set_ttl(listener, listener_addr.is_ipv6(), sockopt::GTSM_SEND_TTL)?;
    }
    let Some(pw) = &config.password else {
        return Ok(());
    };
    sockopt::set_md5_key(
        listener,
        listener_addr.is_ipv6(),
        config.address,
        add.then(|| pw.bytes()),
    )
}

async fn accept_loop(listener: Arc<TcpListener>, inner: Weak<Mutex<Inner>>) {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let ip = normalize(remote.ip());
        let commands = lock(&inner).peers.get(&ip).map(|e| e.commands.clone());
        match commands {
            Some(tx) => {
                let _ = tx.send(PeerCommand::Inbound(stream));
            }
            None => debug!(remote = %remote, "connection from an unconfigured address closed"),
        }
    }
}
