//! Opening BGP transport connections with the peer's socket options, and the per-connection
//! reader and writer tasks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::session::ConnId;

use super::config::PeerConfig;
use super::sockopt::{self, SockoptError};

/// How long a closing connection may take to flush what was queued (e.g. the final
/// NOTIFICATION) before it is dropped.
pub(crate) const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Read buffer size; one read hands up to this much to the session.
const READ_CHUNK: usize = 64 * 1024;

/// Applies the peer's outbound options to a socket before connect or on an accepted stream.
fn apply_options(
    sock: &(impl std::os::fd::AsFd + std::os::fd::AsRawFd),
    cfg: &PeerConfig,
    v6: bool,
) -> Result<(), SockoptError> {
    if cfg.ttl_security || cfg.is_ebgp() {
        sockopt::set_ttl(sock, v6, cfg.send_ttl())?;
    }
    if cfg.ttl_security {
        sockopt::set_min_ttl(sock, v6, sockopt::GTSM_MIN_TTL)?;
    }
    Ok(())
}

/// Opens an outbound connection to the peer: MD5 key, TTL, GTSM minimum TTL and the source
/// address are set before `connect`.
pub(crate) async fn connect(cfg: &PeerConfig, timeout: Duration) -> Result<TcpStream, String> {
    let target = SocketAddr::new(cfg.address, cfg.port);
    let v6 = target.is_ipv6();
    let sock = if v6 {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .map_err(|e| format!("socket: {e}"))?;
    if let Some(pw) = &cfg.password {
        sockopt::set_md5_key(&sock, v6, cfg.address, Some(pw.bytes()))
            .map_err(|e| e.to_string())?;
    }
    apply_options(&sock, cfg, v6).map_err(|e| e.to_string())?;
    if let Some(local) = cfg.local_address {
        sockopt::bind(&sock, SocketAddr::new(local, 0)).map_err(|e| e.to_string())?;
    }
    let stream = match tokio::time::timeout(timeout, sock.connect(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("connect to {target}: {e}")),
        Err(_) => return Err(format!("connect to {target}: timed out after {timeout:?}")),
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Sets the peer's TTL / GTSM options on an accepted connection.
pub(crate) fn prepare_accepted(stream: &TcpStream, cfg: &PeerConfig) -> Result<(), SockoptError> {
    let v6 = stream
        .local_addr()
        .map(|a| a.is_ipv6())
        .unwrap_or(cfg.address.is_ipv6());
    apply_options(stream, cfg, v6)?;
    let _ = stream.set_nodelay(true);
    Ok(())
}

/// A listening socket with SO_REUSEADDR (IPv6 listeners are IPv6-only, so an IPv4 and an IPv6
/// listener can share a port).
pub(crate) fn listener(addr: SocketAddr) -> Result<TcpListener, SockoptError> {
    let sock = if addr.is_ipv6() {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .map_err(|source| SockoptError::Io {
        option: "socket",
        source,
    })?;
    sockopt::set_reuse_address(&sock)?;
    if addr.is_ipv6() {
        socket2::SockRef::from(&sock)
            .set_only_v6(true)
            .map_err(|source| SockoptError::Io {
                option: "setsockopt(IPV6_V6ONLY)",
                source,
            })?;
    }
    sockopt::bind(&sock, addr)?;
    sock.listen(64).map_err(|source| SockoptError::Io {
        option: "listen",
        source,
    })
}

/// What the connection tasks report to the peer task.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// An outbound connect finished.
    Connected(ConnId, Result<TcpStream, String>),
    /// Bytes read.
    Bytes(ConnId, Vec<u8>),
    /// The peer closed the connection or a read/write failed.
    Failed(ConnId, String),
    /// The writer wrote everything queued so far.
    Drained,
}

/// The driver's side of one established TCP connection.
pub(crate) struct Connection {
    /// Local address (next hop default).
    pub local: SocketAddr,
    writer_tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    /// Bytes queued to the writer and not yet written.
    queued: Arc<AtomicUsize>,
    reader: tokio::task::JoinHandle<()>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl Connection {
    /// Splits the stream into a reader task and a writer task reporting to `events`.
    pub fn start(id: ConnId, stream: TcpStream, events: mpsc::Sender<ConnEvent>) -> Self {
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (rd, wr) = stream.into_split();
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let reader = tokio::spawn(read_loop(id, rd, events.clone()));
        let writer = tokio::spawn(write_loop(id, wr, writer_rx, Arc::clone(&queued), events));
        Self {
            local,
            writer_tx: Some(writer_tx),
            queued,
            reader,
            writer: Some(writer),
        }
    }

    /// Queues bytes for writing.
    pub fn send(&self, bytes: Vec<u8>) {
        if let Some(tx) = &self.writer_tx {
            self.queued.fetch_add(bytes.len(), Ordering::AcqRel);
            let _ = tx.send(bytes);
        }
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Stops reading, lets the writer flush what is queued (bounded by
    /// [`CLOSE_FLUSH_TIMEOUT`]) and close the socket. Returns the writer task to await.
    pub fn close(mut self) -> Option<tokio::task::JoinHandle<()>> {
        self.reader.abort();
        self.writer_tx = None; // the writer ends after the queue is empty
        let writer = self.writer.take()?;
        let abort = writer.abort_handle();
        tokio::spawn(async move {
            tokio::time::sleep(CLOSE_FLUSH_TIMEOUT).await;
            abort.abort();
        });
        Some(writer)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        if let Some(w) = self.writer.take() {
            w.abort();
        }
    }
}

async fn read_loop(id: ConnId, mut rd: OwnedReadHalf, events: mpsc::Sender<ConnEvent>) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) => {
                let _ = events
                    .send(ConnEvent::Failed(
                        id,
                        "connection closed by the peer".into(),
                    ))
                    .await;
                return;
            }
            Ok(n) => {
                if events
                    .send(ConnEvent::Bytes(id, buf[..n].to_vec()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                let _ = events
                    .send(ConnEvent::Failed(id, format!("read: {e}")))
                    .await;
                return;
            }
        }
    }
}

async fn write_loop(
    id: ConnId,
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    events: mpsc::Sender<ConnEvent>,
) {
    while let Some(mut buf) = rx.recv().await {
        // Coalesce everything queued into one write.
        while let Ok(more) = rx.try_recv() {
            buf.extend_from_slice(&more);
        }
        let len = buf.len();
        if let Err(e) = wr.write_all(&buf).await {
            let _ = events
                .send(ConnEvent::Failed(id, format!("write: {e}")))
                .await;
            return;
        }
        drop(buf);
        if queued.fetch_sub(len, Ordering::AcqRel) == len {
            let _ = events.send(ConnEvent::Drained).await;
        }
    }
    // Sender gone: the connection is closing. Send FIN after the last byte.
    let _ = wr.shutdown().await;
}
