//! How a router spreads many distinct UDP flows over the nodes behind one address: each node
//! runs a [`TaggedResponder`] that answers with its own tag, and [`probe_flows`] sends one
//! datagram per source port from a client namespace and records which node answered.
//!
//! Traffic stays inside the caller's namespaces, one datagram in flight at a time and at most
//! [`crate::udp_flow::MAX_RATE`] datagrams per second.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::udp_flow::{udp_socket_in, MAX_RATE};

/// Longest a responder runs.
const MAX_RUN: Duration = Duration::from_secs(600);
/// How long a probe waits for its answer before trying again.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(200);
/// Tries per flow.
const TRIES: u32 = 3;

/// Answers every datagram with its one-byte tag, until dropped.
#[derive(Debug)]
pub struct TaggedResponder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TaggedResponder {
    /// Starts a responder on `bind` inside `ns` answering `tag`.
    pub fn start(ns: &Netns, bind: SocketAddr, tag: u8) -> TaggedResponder {
        let sock = udp_socket_in(ns, bind);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut buf = [0u8; 64];
            while !flag.load(Ordering::Relaxed) && started.elapsed() < MAX_RUN {
                if let Ok((_, from)) = sock.recv_from(&mut buf) {
                    let _ = sock.send_to(&[tag], from);
                }
            }
        });
        TaggedResponder {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TaggedResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One flow per source port in `ports`, from `source` inside `ns` to `target`: the tag of the
/// node that answered each (`None` when none did after [`TRIES`] tries).
pub fn probe_flows(
    ns: &Netns,
    source: Ipv4Addr,
    ports: Range<u16>,
    target: SocketAddr,
) -> Vec<Option<u8>> {
    ns.run_in(move || {
        let every = Duration::from_secs(1) / MAX_RATE;
        let mut next = Instant::now();
        ports
            .map(|port| {
                let sock = UdpSocket::bind(SocketAddrV4::new(source, port)).ok()?;
                sock.set_read_timeout(Some(ANSWER_TIMEOUT)).ok()?;
                let mut buf = [0u8; 8];
                for _ in 0..TRIES {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    next += every;
                    if sock.send_to(b"flow", target).is_err() {
                        continue;
                    }
                    if let Ok((1, _)) = sock.recv_from(&mut buf) {
                        return Some(buf[0]);
                    }
                }
                None
            })
            .collect()
    })
}
