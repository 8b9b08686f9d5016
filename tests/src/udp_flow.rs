//! A steady UDP flow between two namespaces, at a bounded rate, counting lost packets: a client
//! sends numbered datagrams to an address served by an echo responder and counts the replies.

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// Highest allowed rate (packets per second): traffic stays small.
pub const MAX_RATE: u32 = 1000;
/// Longest a flow or a responder runs.
const MAX_RUN: Duration = Duration::from_secs(120);
/// How long the client still waits for replies after the last packet.
const GRACE: Duration = Duration::from_millis(500);
const READ_TIMEOUT: Duration = Duration::from_millis(50);

/// How long [`udp_socket_in`] retries a bind refused with "address in use": the previous
/// case's socket on the same address may still be held for a moment by a child process of
/// this test between its fork and exec (tests run in parallel and spawn routers).
const BIND_RETRY: Duration = Duration::from_secs(2);

/// A UDP socket bound to `bind` inside `ns` (created from a thread that entered `ns` with
/// setns(2); the socket stays in that namespace). Panics on failure.
pub fn udp_socket_in(ns: &Netns, bind: SocketAddr) -> UdpSocket {
    let path = format!("/var/run/netns/{}", ns.name());
    let made = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace file");
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("setns into the namespace");
        let deadline = Instant::now() + BIND_RETRY;
        loop {
            match UdpSocket::bind(bind) {
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other,
            }
        }
    })
    .join()
    .expect("socket thread");
    let sock = made.unwrap_or_else(|e| panic!("bind UDP {bind} in {}: {e}", ns.name()));
    sock.set_read_timeout(Some(READ_TIMEOUT))
        .expect("read timeout");
    sock
}

/// Echoes every datagram back to its sender (or answers with a tag) until dropped.
#[derive(Debug)]
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Responder {
    /// Starts an echo responder on `bind` inside `ns`.
    pub fn start(ns: &Netns, bind: SocketAddr) -> Responder {
        Responder::serve(ns, bind, None)
    }

    /// Starts a responder on `bind` inside `ns` that answers every datagram with the one
    /// byte `tag` (which of several nodes answered).
    pub fn tagged(ns: &Netns, bind: SocketAddr, tag: u8) -> Responder {
        Responder::serve(ns, bind, Some(tag))
    }

    fn serve(ns: &Netns, bind: SocketAddr, tag: Option<u8>) -> Responder {
        let sock = udp_socket_in(ns, bind);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut buf = [0u8; 64];
            while !flag.load(Ordering::Relaxed) && started.elapsed() < MAX_RUN {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    let reply = match &tag {
                        Some(t) => std::slice::from_ref(t),
                        None => &buf[..n],
                    };
                    let _ = sock.send_to(reply, from);
                }
            }
        });
        Responder {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Packets sent and answered by a [`Flow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowReport {
    /// Datagrams sent.
    pub sent: u32,
    /// Distinct datagrams answered.
    pub answered: u32,
}

impl FlowReport {
    /// Sent but never answered.
    pub fn lost(&self) -> u32 {
        self.sent - self.answered
    }
}

/// A running client flow; [`Flow::stop`] returns the counts.
#[derive(Debug)]
pub struct Flow {
    stop: Arc<AtomicBool>,
    sender: Option<JoinHandle<u32>>,
    receiver: Option<JoinHandle<u32>>,
}

impl Flow {
    /// Sends numbered datagrams from `bind` in `ns` to `target` at `rate` per second (at most
    /// [`MAX_RATE`]).
    pub fn start(ns: &Netns, bind: SocketAddr, target: SocketAddr, rate: u32) -> Flow {
        assert!((1..=MAX_RATE).contains(&rate), "rate {rate}: 1-{MAX_RATE}");
        let sock = udp_socket_in(ns, bind);
        let rx = sock.try_clone().expect("clone the socket");
        let stop = Arc::new(AtomicBool::new(false));
        let every = Duration::from_secs(1) / rate;
        let flag = stop.clone();
        let sender = std::thread::spawn(move || {
            let started = Instant::now();
            let mut seq = 0u32;
            let mut next = started;
            while !flag.load(Ordering::Relaxed) && started.elapsed() < MAX_RUN {
                // A send error (no route for a moment) is a lost packet, not a failure.
                let _ = sock.send_to(&seq.to_be_bytes(), target);
                seq += 1;
                next += every;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            seq
        });
        let flag = stop.clone();
        let receiver = std::thread::spawn(move || {
            let mut seen = HashSet::new();
            let mut stopped_at: Option<Instant> = None;
            let started = Instant::now();
            let mut buf = [0u8; 64];
            while stopped_at.is_none_or(|t| t.elapsed() < GRACE)
                && started.elapsed() < MAX_RUN + GRACE
            {
                if stopped_at.is_none() && flag.load(Ordering::Relaxed) {
                    stopped_at = Some(Instant::now());
                }
                if let Ok((4, _)) = rx.recv_from(&mut buf) {
                    seen.insert(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
                }
            }
            seen.len() as u32
        });
        Flow {
            stop,
            sender: Some(sender),
            receiver: Some(receiver),
        }
    }

    /// Stops sending now without waiting (several flows then end together); [`Flow::stop`]
    /// collects the counts.
    pub fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops sending, waits for late replies, and returns the counts.
    pub fn stop(mut self) -> FlowReport {
        self.stop.store(true, Ordering::Relaxed);
        let sent = self.sender.take().map(|t| t.join().expect("sender thread"));
        let answered = self
            .receiver
            .take()
            .map(|t| t.join().expect("receiver thread"));
        FlowReport {
            sent: sent.unwrap_or(0),
            answered: answered.unwrap_or(0),
        }
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
