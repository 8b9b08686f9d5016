//! The thin tokio driver: UDP sockets, demultiplexing, and one task per session that feeds
//! the [`BfdSession`] state machine and sends what it asks for.
//!
//! Everything runs on a dedicated thread with its own single-threaded runtime, so the timers of
//! BFD do not wait behind the speaker's other work; the thread asks for SCHED_FIFO (granted
//! with CAP_SYS_NICE) so that other processes on a busy node do not delay them either. Receive sockets are shared per family and
//! hop kind: UDP 3784 for single-hop (RFC 5881, only TTL/Hop Limit 255 accepted) and 4784 for
//! multi-hop (RFC 5883). Each session sends from its own socket bound to its local address and
//! a source port in 49152-65535, with TTL/Hop Limit 255.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::config::{BfdConfig, ConfigError, Timers};
use super::fsm::BfdSession;
use super::packet::ControlPacket;
use super::sockopt;
use super::types::{Input, Output, Status};

/// UDP destination port of single-hop Control packets (RFC 5881 §4).
pub const SINGLE_HOP_PORT: u16 = 3784;
/// UDP destination port of multi-hop Control packets (RFC 5883 §5).
pub const MULTI_HOP_PORT: u16 = 4784;
/// First source port (RFC 5881 §4).
const SOURCE_PORT_MIN: u16 = 49152;
const SOURCE_PORTS: u32 = 65536 - SOURCE_PORT_MIN as u32;
/// The TTL / Hop Limit every packet is sent with (RFC 5881 §5).
const SEND_TTL: u32 = 255;

/// Single-hop (directly connected, TTL 255 enforced) or multi-hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hop {
    /// RFC 5881: UDP 3784; only packets with TTL / Hop Limit 255 are accepted.
    Single,
    /// RFC 5883: UDP 4784; any TTL is accepted.
    Multi,
}

impl Hop {
    fn port(self) -> u16 {
        match self {
            Hop::Single => SINGLE_HOP_PORT,
            Hop::Multi => MULTI_HOP_PORT,
        }
    }
}

/// One BFD session to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerSpec {
    /// The peer's address.
    pub peer: IpAddr,
    /// Our address toward it (the source of our packets; same family).
    pub local: IpAddr,
    /// Single- or multi-hop.
    pub hop: Hop,
    /// Multi-hop only: the lowest TTL / Hop Limit accepted from the peer (the optional check of
    /// RFC 5883 §5; MetalLB's and FRR's `minimum-ttl`, 254 there by default). 1 or 0 accepts
    /// every packet. Single-hop always requires 255 (RFC 5881 §5).
    pub min_ttl: u8,
    /// Timers and passive role.
    pub config: BfdConfig,
}

/// Why a session could not be set up or changed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Invalid parameters.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Peer and local address of different families.
    #[error("BFD peer {peer} and local address {local} are of different families")]
    Family {
        /// Peer address.
        peer: IpAddr,
        /// Local address.
        local: IpAddr,
    },
    /// A session to this peer with this hop kind exists already.
    #[error("a BFD session to {peer} ({hop:?}) exists already")]
    Duplicate {
        /// Peer address.
        peer: IpAddr,
        /// Hop kind.
        hop: Hop,
    },
    /// A socket could not be set up.
    #[error("BFD socket {addr}: {source}")]
    Socket {
        /// The address it was to be bound to.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// No free source port in 49152-65535 on the local address.
    #[error("no free BFD source port on {0}")]
    NoSourcePort(IpAddr),
    /// The session task has ended (the [`Bfd`] was dropped).
    #[error("the BFD session task has stopped")]
    Stopped,
    /// The runtime thread could not start.
    #[error("BFD runtime thread: {0}")]
    Runtime(io::Error),
}

/// Sessions known to the receive tasks.
#[derive(Default)]
struct Table {
    by_discr: HashMap<u32, Entry>,
    by_peer: HashMap<(IpAddr, Hop), u32>,
    listeners: HashSet<(bool, Hop)>,
    next_discr: u32,
}

struct Entry {
    peer: IpAddr,
    hop: Hop,
    min_ttl: u8,
    packets: mpsc::Sender<Received>,
}

/// A packet for a session, with the time it was read from the socket.
type Received = (ControlPacket, Instant);

type SharedTable = Arc<Mutex<Table>>;

fn lock(t: &SharedTable) -> MutexGuard<'_, Table> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// The BFD service of one process: owns the runtime thread, the receive sockets and the table
/// of sessions. Cheap to clone; the thread and every session stop when the last clone is
/// dropped.
#[derive(Clone)]
pub struct Bfd {
    inner: Arc<Inner>,
}

struct Inner {
    rt: tokio::runtime::Handle,
    table: SharedTable,
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl Bfd {
    /// Starts the BFD thread (`ferrolb-bfd`) with its own single-threaded runtime.
    pub fn new() -> Result<Bfd, DriverError> {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ferrolb-bfd".into())
            .spawn(move || {
                match sockopt::set_realtime() {
                    Ok(()) => tracing::info!(
                        priority = sockopt::REALTIME_PRIORITY,
                        "BFD thread runs with SCHED_FIFO"
                    ),
                    Err(e) => tracing::info!(
                        error = %e,
                        "BFD thread runs with the normal scheduling policy (SCHED_FIFO needs \
                         CAP_SYS_NICE)"
                    ),
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(rt.handle().clone()));
                rt.block_on(async move {
                    let _ = stop_rx.await;
                });
            })
            .map_err(DriverError::Runtime)?;
        let rt = handle_rx
            .recv()
            .map_err(|_| DriverError::Runtime(io::Error::other("runtime thread exited")))?
            .map_err(DriverError::Runtime)?;
        Ok(Bfd {
            inner: Arc::new(Inner {
                rt,
                table: Arc::default(),
                stop: Mutex::new(Some(stop_tx)),
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Sets up a session and starts it. Sockets are created by the calling thread (so in its
    /// network namespace). The session runs until its handle is dropped.
    pub fn add_session(&self, spec: PeerSpec) -> Result<SessionHandle, DriverError> {
        spec.config.timers.validate()?;
        if spec.peer.is_ipv4() != spec.local.is_ipv4() {
            return Err(DriverError::Family {
                peer: spec.peer,
                local: spec.local,
            });
        }
        let _rt = self.inner.rt.enter();
        self.ensure_listener(spec.peer.is_ipv6(), spec.hop)?;
        let mut table = lock(&self.inner.table);
        if table.by_peer.contains_key(&(spec.peer, spec.hop)) {
            return Err(DriverError::Duplicate {
                peer: spec.peer,
                hop: spec.hop,
            });
        }
        let discr = allocate_discr(&mut table);
        let socket = bind_source(spec.local, discr.get())?;
        let now = Instant::now();
        let seed = u64::from(discr.get()) ^ clock_seed();
        let machine = BfdSession::new(now, spec.config, discr, seed)?;
        let (packets_tx, packets_rx) = mpsc::channel(64);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (status_tx, status_rx) = watch::channel(machine.status());
        table.by_discr.insert(
            discr.get(),
            Entry {
                peer: spec.peer,
                hop: spec.hop,
                min_ttl: spec.min_ttl,
                packets: packets_tx,
            },
        );
        table.by_peer.insert((spec.peer, spec.hop), discr.get());
        drop(table);
        let task = SessionTask {
            machine,
            socket,
            dest: SocketAddr::new(spec.peer, spec.hop.port()),
            packets: packets_rx,
            commands: cmd_rx,
            status: status_tx,
        };
        let span = tracing::info_span!("bfd", peer = %spec.peer, hop = ?spec.hop);
        self.inner.rt.spawn(task.run().instrument(span));
        Ok(SessionHandle {
            commands: cmd_tx,
            status: status_rx,
            table: self.inner.table.clone(),
            discr: discr.get(),
            key: (spec.peer, spec.hop),
        })
    }

    fn ensure_listener(&self, v6: bool, hop: Hop) -> Result<(), DriverError> {
        let mut table = lock(&self.inner.table);
        if table.listeners.contains(&(v6, hop)) {
            return Ok(());
        }
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        let addr = SocketAddr::new(ip, hop.port());
        let socket = listen_socket(addr).map_err(|source| DriverError::Socket { addr, source })?;
        table.listeners.insert((v6, hop));
        let shared = self.inner.table.clone();
        let span = tracing::info_span!("bfd-listener", %addr);
        self.inner
            .rt
            .spawn(receive_loop(socket, hop, shared).instrument(span));
        Ok(())
    }
}

/// Controls one running session. Dropping it removes the session from the table at once (a
/// new session to the same peer may follow immediately) and ends its task.
pub struct SessionHandle {
    commands: mpsc::Sender<Input>,
    status: watch::Receiver<Status>,
    table: SharedTable,
    discr: u32,
    key: (IpAddr, Hop),
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("peer", &self.key.0)
            .field("hop", &self.key.1)
            .field("local_discr", &self.discr)
            .finish()
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        let mut t = lock(&self.table);
        t.by_discr.remove(&self.discr);
        if t.by_peer.get(&self.key) == Some(&self.discr) {
            t.by_peer.remove(&self.key);
        }
    }
}

impl SessionHandle {
    /// The latest status.
    pub fn status(&self) -> Status {
        *self.status.borrow()
    }

    /// A receiver that sees every status change.
    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Local AdminDown (RFC 5880 §6.8.16) or back.
    pub fn set_admin_down(&self, down: bool) -> Result<(), DriverError> {
        self.command(if down {
            Input::AdminDown
        } else {
            Input::AdminUp
        })
    }

    /// New timers; while Up the change runs a Poll Sequence.
    pub fn set_timers(&self, timers: Timers) -> Result<(), DriverError> {
        timers.validate()?;
        self.command(Input::SetTimers(timers))
    }

    fn command(&self, input: Input) -> Result<(), DriverError> {
        self.commands
            .try_send(input)
            .map_err(|_| DriverError::Stopped)
    }
}

struct SessionTask {
    machine: BfdSession,
    socket: UdpSocket,
    dest: SocketAddr,
    packets: mpsc::Receiver<Received>,
    commands: mpsc::Receiver<Input>,
    status: watch::Sender<Status>,
}

impl SessionTask {
    async fn run(mut self) {
        loop {
            let deadline = self.machine.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            let (at, input) = tokio::select! {
                biased;
                p = self.packets.recv() => match p {
                    Some((p, at)) => (at, Input::Received(p)),
                    None => return,
                },
                c = self.commands.recv() => match c {
                    Some(c) => (Instant::now(), c),
                    None => return,
                },
                () = sleep => {
                    self.take_pending_packets().await;
                    (Instant::now(), Input::Tick)
                }
            };
            self.step(at, input).await;
        }
    }

    /// Before a timer is acted on: packets that arrived before it may still wait in the
    /// socket when the thread woke late. Yielding lets the receive task read them (tokio runs
    /// its I/O driver before a yielded task); they are handled first, with the time they
    /// were read, so a late wake-up does not expire a detection time that a packet restarted.
    async fn take_pending_packets(&mut self) {
        tokio::task::yield_now().await;
        while let Ok((p, at)) = self.packets.try_recv() {
            self.step(at, Input::Received(p)).await;
        }
    }

    async fn step(&mut self, now: Instant, input: Input) {
        for out in self.machine.handle(now, input) {
            match out {
                Output::Send(p) => {
                    if let Err(e) = self.socket.send_to(&p.encode(), self.dest).await {
                        tracing::debug!(error = %e, "BFD send failed");
                    }
                }
                Output::StateChanged { from, to, diag } => {
                    tracing::info!(%from, %to, %diag, "BFD session state changed");
                }
            }
        }
        self.status.send_replace(self.machine.status());
    }
}

/// Receives Control packets on one shared socket and hands each to its session.
async fn receive_loop(socket: UdpSocket, hop: Hop, table: SharedTable) {
    let mut buf = [0u8; 512];
    loop {
        let r = socket
            .async_io(Interest::READABLE, || {
                sockopt::recv_with_ttl(&socket, &mut buf)
            })
            .await;
        let at = Instant::now();
        let received = match r {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "BFD receive failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if hop == Hop::Single && received.ttl != Some(255) {
            tracing::debug!(from = %received.from, ttl = ?received.ttl, "BFD single-hop packet without TTL 255 dropped");
            continue;
        }
        let packet = match ControlPacket::decode(&buf[..received.len.min(buf.len())]) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(from = %received.from, error = %e, "BFD packet discarded");
                continue;
            }
        };
        dispatch(&table, hop, received.from.ip(), received.ttl, (packet, at));
    }
}

/// Selects the session by Your Discriminator, or by source address and hop kind when it is
/// zero (RFC 5880 §6.8.6); the source must be the session's peer either way.
/// The multi-hop TTL check against the session's `min_ttl` is made here.
fn dispatch(table: &SharedTable, hop: Hop, from: IpAddr, ttl: Option<u8>, received: Received) {
    let packet = received.0;
    let from = canonical(from);
    let table = lock(table);
    let discr = if packet.your_discr != 0 {
        Some(packet.your_discr)
    } else {
        table.by_peer.get(&(from, hop)).copied()
    };
    let Some(entry) = discr.and_then(|d| table.by_discr.get(&d)) else {
        tracing::debug!(%from, your_discr = packet.your_discr, "BFD packet for no session");
        return;
    };
    if entry.peer != from || entry.hop != hop {
        tracing::debug!(%from, "BFD packet from another source than the session's peer");
        return;
    }
    if !ttl_accepted(hop, entry.min_ttl, ttl) {
        tracing::debug!(%from, ?ttl, min_ttl = entry.min_ttl, "BFD multi-hop packet below minimum-ttl dropped");
        return;
    }
    if entry.packets.try_send(received).is_err() {
        tracing::debug!(%from, "BFD session queue full; packet dropped");
    }
}

/// Whether a packet received with `ttl` may reach a session: single-hop needs 255 (RFC 5881
/// §5), multi-hop at least `min_ttl` (RFC 5883 §5); an unknown TTL passes only when no
/// minimum is set.
fn ttl_accepted(hop: Hop, min_ttl: u8, ttl: Option<u8>) -> bool {
    match hop {
        Hop::Single => ttl == Some(255),
        Hop::Multi if min_ttl <= 1 => true,
        Hop::Multi => ttl.is_some_and(|t| t >= min_ttl),
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn allocate_discr(table: &mut Table) -> NonZeroU32 {
    if table.next_discr == 0 {
        table.next_discr = (clock_seed() as u32) | 1;
    }
    loop {
        let d = table.next_discr;
        table.next_discr = table.next_discr.wrapping_add(1);
        if let Some(nz) = NonZeroU32::new(d) {
            if !table.by_discr.contains_key(&d) {
                return nz;
            }
        }
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}

fn new_udp(addr: &SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(*addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn listen_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = new_udp(&addr)?;
    sockopt::recv_ttl(&socket, addr.is_ipv6())?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Binds `local` to the first free port of 49152-65535, starting at a per-session offset.
fn bind_source(local: IpAddr, discr: u32) -> Result<UdpSocket, DriverError> {
    let first = discr % SOURCE_PORTS;
    for i in 0..SOURCE_PORTS {
        let port = SOURCE_PORT_MIN + ((first + i) % SOURCE_PORTS) as u16;
        let addr = SocketAddr::new(local, port);
        let socket = new_udp(&addr).map_err(|source| DriverError::Socket { addr, source })?;
        let ttl = if local.is_ipv6() {
            socket.set_unicast_hops_v6(SEND_TTL)
        } else {
            socket.set_ttl_v4(SEND_TTL)
        };
        ttl.map_err(|source| DriverError::Socket { addr, source })?;
        match socket.bind(&addr.into()) {
            Ok(()) => {
                return UdpSocket::from_std(socket.into())
                    .map_err(|source| DriverError::Socket { addr, source })
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            Err(source) => return Err(DriverError::Socket { addr, source }),
        }
    }
    Err(DriverError::NoSourcePort(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_checks_per_hop_kind() {
        // Single-hop: 255 only, whatever min_ttl says.
        assert!(ttl_accepted(Hop::Single, 0, Some(255)));
        assert!(!ttl_accepted(Hop::Single, 0, Some(254)));
        assert!(!ttl_accepted(Hop::Single, 0, None));
        // Multi-hop with minimum-ttl 254 (the MetalLB/FRR default): one router hop passes,
        // two do not.
        assert!(ttl_accepted(Hop::Multi, 254, Some(254)));
        assert!(ttl_accepted(Hop::Multi, 254, Some(255)));
        assert!(!ttl_accepted(Hop::Multi, 254, Some(253)));
        assert!(!ttl_accepted(Hop::Multi, 254, None));
        // No minimum: everything passes.
        assert!(ttl_accepted(Hop::Multi, 1, Some(1)));
        assert!(ttl_accepted(Hop::Multi, 0, None));
    }

    /// The scheduling policy (field 41 of /proc/self/task/TID/stat) of the thread `name`.
    fn thread_policy(name: &str) -> Option<u32> {
        for task in std::fs::read_dir("/proc/self/task").ok()? {
            let dir = task.ok()?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() != name {
                continue;
            }
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // The fields after the command name (which ends with the last ')') start at 3.
            let rest = &stat[stat.rfind(')')? + 2..];
            return rest.split(' ').nth(41 - 3)?.parse().ok();
        }
        None
    }

    #[test]
    fn bfd_thread_is_real_time_when_permitted() {
        let bfd = Bfd::new().unwrap();
        let policy = thread_policy("ferrolb-bfd").expect("the BFD thread");
        // Whether this process may use SCHED_FIFO (CAP_SYS_NICE), tried on a throwaway thread.
        let permitted = std::thread::spawn(|| sockopt::set_realtime().is_ok())
            .join()
            .unwrap();
        if permitted {
            assert_eq!(policy, libc::SCHED_FIFO as u32);
        } else {
            assert_eq!(policy, libc::SCHED_OTHER as u32);
        }
        drop(bfd);
    }
}
