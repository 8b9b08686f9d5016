//! How a router spreads many distinct UDP flows over the nodes behind one address: each node
//! runs a [`crate::udp_flow::Responder::tagged`] that answers with its own tag, and
//! [`probe_flows`] sends one datagram per source port from a client namespace and records which
//! node answered.
//!
//! Traffic stays inside the caller's namespaces, one datagram in flight at a time and at most
//! [`crate::udp_flow::MAX_RATE`] datagrams per second.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::udp_flow::MAX_RATE;

/// How long a probe waits for its answer before trying again.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(200);
/// Tries per flow.
const TRIES: u32 = 3;

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
