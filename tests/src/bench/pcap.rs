//! Reads a classic pcap capture (Ethernet, IPv4/IPv6, TCP) and turns each TCP direction's byte
//! stream into BGP messages, each stamped with the capture time of the segment that completed
//! it. Enough for timing a BGP session on a veth in a namespace (no loss expected; a gap is
//! reported).

use std::collections::HashMap;
use std::net::IpAddr;

/// One BGP message seen on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct BgpMessage {
    /// Capture time, seconds since the Unix epoch.
    pub time: f64,
    /// Sender address and port.
    pub src: Endpoint,
    /// Receiver address and port.
    pub dst: Endpoint,
    /// BGP message type (1 OPEN, 2 UPDATE, 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH).
    pub kind: u8,
    /// Message length in bytes.
    pub len: usize,
}

/// Why a capture could not be read.
#[derive(Debug)]
pub enum PcapError {
    /// Not a pcap file we understand.
    Format(String),
    /// A TCP direction has a hole (the capture dropped packets).
    Gap(String),
}

impl std::fmt::Display for PcapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PcapError::Format(m) => write!(f, "pcap format: {m}"),
            PcapError::Gap(m) => write!(f, "capture has a gap: {m}"),
        }
    }
}

impl std::error::Error for PcapError {}

/// An address and a port.
pub type Endpoint = (IpAddr, u16);

#[derive(Default)]
struct Stream {
    next_seq: Option<u32>,
    buf: Vec<u8>,
}

/// Parses the capture `data` (classic pcap, link type Ethernet) into the BGP messages of every
/// TCP stream from or to port `bgp_port`, in capture order.
pub fn bgp_messages(data: &[u8], bgp_port: u16) -> Result<Vec<BgpMessage>, PcapError> {
    if data.len() < 24 {
        return Err(PcapError::Format("shorter than the global header".into()));
    }
    let magic = [data[0], data[1], data[2], data[3]];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => return Err(PcapError::Format(format!("bad magic {magic:02x?}"))),
    };
    let u32_at = |b: &[u8], i: usize| -> u32 {
        let v = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    };
    let linktype = u32_at(data, 20);
    if linktype != 1 {
        return Err(PcapError::Format(format!(
            "link type {linktype}, want 1 (Ethernet)"
        )));
    }
    let mut streams: HashMap<(Endpoint, Endpoint), Stream> = HashMap::new();
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let sec = u32_at(data, off) as f64;
        let frac = u32_at(data, off + 4) as f64;
        let incl = u32_at(data, off + 8) as usize;
        let orig = u32_at(data, off + 12) as usize;
        let time = sec + if nanos { frac / 1e9 } else { frac / 1e6 };
        off += 16;
        if off + incl > data.len() {
            break; // truncated last record (capture stopped mid-write)
        }
        let frame = &data[off..off + incl];
        off += incl;
        if incl < orig {
            return Err(PcapError::Format(format!(
                "frame truncated to {incl} of {orig} bytes: capture with -s 0"
            )));
        }
        let Some((src, dst, seq, payload)) = tcp_payload(frame) else {
            continue;
        };
        if src.1 != bgp_port && dst.1 != bgp_port {
            continue;
        }
        if payload.is_empty() {
            continue;
        }
        let s = streams.entry((src, dst)).or_default();
        let expected = *s.next_seq.get_or_insert(seq);
        let delta = seq.wrapping_sub(expected) as i32;
        let new = if delta > 0 {
            return Err(PcapError::Gap(format!(
                "{src:?} -> {dst:?}: {delta} bytes missing at t={time:.6}"
            )));
        } else if (-delta) as usize >= payload.len() {
            continue; // pure retransmission
        } else {
            &payload[(-delta) as usize..]
        };
        s.next_seq = Some(expected.wrapping_add(new.len() as u32));
        s.buf.extend_from_slice(new);
        let mut used = 0;
        while s.buf.len() - used >= 19 {
            let len = u16::from_be_bytes([s.buf[used + 16], s.buf[used + 17]]) as usize;
            if len < 19 {
                return Err(PcapError::Format(format!(
                    "{src:?} -> {dst:?}: BGP length {len} at t={time:.6}"
                )));
            }
            if s.buf.len() - used < len {
                break;
            }
            out.push(BgpMessage {
                time,
                src,
                dst,
                kind: s.buf[used + 18],
                len,
            });
            used += len;
        }
        s.buf.drain(..used);
    }
    Ok(out)
}

/// (src, dst, tcp seq, payload) of an Ethernet frame carrying TCP over IPv4 or IPv6.
fn tcp_payload(frame: &[u8]) -> Option<(Endpoint, Endpoint, u32, &[u8])> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let ip = frame.get(14..)?;
    let (src, dst, proto, l4) = match ethertype {
        0x0800 => {
            let ihl = ((ip.first()? & 0x0f) as usize) * 4;
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                *ip.get(9)?,
                ip.get(ihl..total.max(ihl).min(ip.len()))?,
            )
        }
        0x86dd => {
            let plen = u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]) as usize;
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            (
                IpAddr::from(src),
                IpAddr::from(dst),
                *ip.get(6)?,
                ip.get(40..(40 + plen).min(ip.len()))?,
            )
        }
        _ => return None,
    };
    if proto != 6 {
        return None;
    }
    let sport = u16::from_be_bytes([*l4.first()?, *l4.get(1)?]);
    let dport = u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]);
    let seq = u32::from_be_bytes(l4.get(4..8)?.try_into().ok()?);
    let doff = ((l4.get(12)? >> 4) as usize) * 4;
    Some(((src, sport), (dst, dport), seq, l4.get(doff..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 20 + payload.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            6,
            0,
            0,
            10,
            255,
            0,
            2,
            10,
            255,
            0,
            1,
        ];
        let mut tcp = vec![0xc3, 0x50, 0, 179];
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0]);
        ip.append(&mut tcp);
        f.append(&mut ip);
        f.extend_from_slice(payload);
        f
    }

    fn pcap(frames: &[(f64, Vec<u8>)]) -> Vec<u8> {
        let mut p = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0,
            0,
        ];
        for (t, f) in frames {
            p.extend_from_slice(&(*t as u32).to_le_bytes());
            p.extend_from_slice(&(((t.fract()) * 1e6).round() as u32).to_le_bytes());
            p.extend_from_slice(&(f.len() as u32).to_le_bytes());
            p.extend_from_slice(&(f.len() as u32).to_le_bytes());
            p.extend_from_slice(f);
        }
        p
    }

    fn msg(kind: u8, len: usize) -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.push(kind);
        m.resize(len, 0);
        m
    }

    #[test]
    fn messages_split_across_segments_and_retransmissions() {
        let mut stream = msg(4, 19);
        stream.extend(msg(2, 100));
        stream.extend(msg(2, 30));
        let p = pcap(&[
            (1.0, frame(1000, &stream[..50])),
            (1.5, frame(1000, &stream[..50])), // retransmission
            (2.0, frame(1050, &stream[50..140])),
            (3.0, frame(1140, &stream[140..])),
        ]);
        let m = bgp_messages(&p, 179).expect("parses");
        let kinds: Vec<(u8, f64)> = m.iter().map(|m| (m.kind, m.time)).collect();
        assert_eq!(kinds, [(4, 1.0), (2, 2.0), (2, 3.0)]);
    }

    #[test]
    fn a_gap_is_an_error() {
        let s = msg(4, 19);
        let p = pcap(&[(1.0, frame(1000, &s[..10])), (2.0, frame(1015, &s[15..]))]);
        assert!(matches!(bgp_messages(&p, 179), Err(PcapError::Gap(_))));
    }
}
