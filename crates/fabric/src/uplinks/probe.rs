//! ICMP echo probes to an uplink's gateway, sent out of that uplink's interface
//! (SO_BINDTODEVICE), so the answer says whether this uplink's gateway is alive whatever the
//! routing table says. Raw sockets: needs CAP_NET_RAW.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::Error;

/// One prober for one interface and gateway.
pub struct Prober {
    socket: UdpSocket,
    gateway: IpAddr,
    ident: u16,
    seq: u16,
}

impl Prober {
    /// Opens a raw ICMP socket bound to `interface`.
    pub fn new(interface: &str, gateway: IpAddr, ident: u16) -> Result<Self, Error> {
        let io = |what: &str, source| Error::Io {
            what: format!("ICMP probe socket on {interface}: {what}"),
            source,
        };
        let socket = match gateway {
            IpAddr::V4(_) => Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)),
            IpAddr::V6(_) => Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6)),
        }
        .map_err(|e| io("open", e))?;
        socket
            .bind_device(Some(interface.as_bytes()))
            .map_err(|e| io("bind to device", e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| io("non-blocking", e))?;
        // A raw socket reads and writes datagrams like a UDP socket does; tokio's UdpSocket
        // gives async send_to/recv_from on it without any unsafe code.
        let std_socket: std::net::UdpSocket = socket.into();
        let socket = UdpSocket::from_std(std_socket).map_err(|e| io("register", e))?;
        Ok(Prober {
            socket,
            gateway,
            ident,
            seq: 0,
        })
    }

    /// Sends one echo request and waits up to `timeout` for its reply; the round-trip time on
    /// success.
    pub async fn probe(&mut self, timeout: Duration) -> Option<Duration> {
        self.seq = self.seq.wrapping_add(1);
        let request = echo_request(self.gateway.is_ipv4(), self.ident, self.seq);
        let start = Instant::now();
        let target = SocketAddr::new(self.gateway, 0);
        if self.socket.send_to(&request, target).await.is_err() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut buf = [0u8; 1500];
        // Bounded by the deadline; each datagram is checked against id, sequence and source.
        loop {
            let received = tokio::time::timeout_at(deadline, self.socket.recv_from(&mut buf)).await;
            match received {
                Err(_) => return None,
                Ok(Err(_)) => return None,
                Ok(Ok((n, from))) => {
                    if from.ip() == self.gateway
                        && is_echo_reply(self.gateway.is_ipv4(), &buf[..n], self.ident, self.seq)
                    {
                        return Some(start.elapsed());
                    }
                }
            }
        }
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from_be_bytes([chunk[0], 0])
        };
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An ICMP (v4) or ICMPv6 echo request; the kernel fills the ICMPv6 checksum itself.
fn echo_request(v4: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v4 { 8 } else { 128 }, 0, 0, 0];
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"ferrolb-uplinks!");
    if v4 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// Whether `packet` (IPv4: with its IP header; ICMPv6: without) is our echo reply.
fn is_echo_reply(v4: bool, packet: &[u8], ident: u16, seq: u16) -> bool {
    let icmp = if v4 {
        let Some(first) = packet.first() else {
            return false;
        };
        let ihl = usize::from(first & 0x0f) * 4;
        match packet.get(ihl..) {
            Some(rest) => rest,
            None => return false,
        }
    } else {
        packet
    };
    icmp.len() >= 8
        && icmp[0] == if v4 { 0 } else { 129 }
        && icmp[4..6] == ident.to_be_bytes()
        && icmp[6..8] == seq.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum_verifies_and_reply_matching() {
        let req = echo_request(true, 0x1234, 7);
        assert_eq!(checksum(&req), 0, "a packet with its checksum sums to zero");
        let mut reply = vec![0x45u8; 20];
        let mut icmp = req.clone();
        icmp[0] = 0;
        reply.extend_from_slice(&icmp);
        assert!(is_echo_reply(true, &reply, 0x1234, 7));
        assert!(!is_echo_reply(true, &reply, 0x1234, 8));
        assert!(!is_echo_reply(true, &reply[..22], 0x1234, 7));
        assert!(!is_echo_reply(true, &[], 1, 1));
        let mut v6 = echo_request(false, 9, 1);
        v6[0] = 129;
        assert!(is_echo_reply(false, &v6, 9, 1));
    }
}
