//! Conntrack entries through ctnetlink (NETLINK_NETFILTER), with `/proc/net/nf_conntrack` as a
//! fallback when ctnetlink cannot be used.

use std::net::IpAddr;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_netfilter::{
    conntrack::{
        ConntrackAttribute, ConntrackMessage, IPTuple, ProtoInfo, ProtoInfoTCP, ProtoTuple, Status,
        Tuple,
    },
    NetfilterHeader, NetfilterMessage, NetfilterProtoFamily,
};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use crate::caps::{self, Capability};
use crate::snapshot::{Conntrack, ConntrackEntry, CtTuple};

/// Reads the conntrack table: ctnetlink first, then `/proc/net/nf_conntrack`.
pub fn read_conntrack() -> Conntrack {
    match dump_ctnetlink().map_err(with_missing_capability) {
        Ok(entries) => Conntrack {
            source: "ctnetlink".into(),
            available: true,
            entries,
        },
        Err(ct_err) => match std::fs::read_to_string("/proc/net/nf_conntrack") {
            Ok(text) => Conntrack {
                source: format!("/proc/net/nf_conntrack (ctnetlink failed: {ct_err})"),
                available: true,
                entries: parse_proc(&text),
            },
            Err(proc_err) => Conntrack {
                source: format!(
                    "unavailable: ctnetlink failed ({ct_err}); /proc/net/nf_conntrack: {proc_err}"
                ),
                available: false,
                entries: Vec::new(),
            },
        },
    }
}

/// ctnetlink refuses a process without CAP_NET_ADMIN with a bare EPERM: name the capability
/// when this process lacks it.
fn with_missing_capability(err: String) -> String {
    match caps::require(
        "reading conntrack through ctnetlink",
        &[Capability::NetAdmin],
    ) {
        Ok(()) => err,
        Err(missing) => format!("{err}; {missing}"),
    }
}

const TCP_STATES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];

fn dump_ctnetlink() -> Result<Vec<ConntrackEntry>, String> {
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| e.to_string())?;
    socket.bind_auto().map_err(|e| format!("bind: {e}"))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| format!("connect: {e}"))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut request = NetlinkMessage::new(
        header,
        NetlinkPayload::from(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, 0),
            ConntrackMessage::Get(vec![]),
        )),
    );
    request.finalize();
    let mut buf = vec![0u8; request.buffer_len()];
    request.serialize(&mut buf);
    socket.send(&buf, 0).map_err(|e| format!("send: {e}"))?;

    let mut entries = Vec::new();
    let mut rx = vec![0u8; 1 << 16];
    // Bounded: a dump ends with NLMSG_DONE; 1M datagrams is far beyond any real table.
    for _ in 0..1_000_000 {
        let n = socket
            .recv(&mut &mut rx[..], 0)
            .map_err(|e| format!("recv: {e}"))?;
        let mut offset = 0;
        while offset < n {
            let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&rx[offset..n])
                .map_err(|e| format!("decode: {e}"))?;
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(entries),
                NetlinkPayload::Error(err) => return Err(format!("kernel: {err}")),
                NetlinkPayload::InnerMessage(inner) => {
                    if let netlink_packet_netfilter::NetfilterMessageInner::Conntrack(
                        ConntrackMessage::New(attrs),
                    ) = inner.inner
                    {
                        if let Some(e) = entry_from_attributes(&attrs) {
                            entries.push(e);
                        }
                    }
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            offset += (len + 3) & !3;
        }
    }
    Ok(entries)
}

fn tuple_from(tuples: &[Tuple]) -> Option<(CtTuple, Option<u8>)> {
    let mut src = None;
    let mut dst = None;
    let mut sport = None;
    let mut dport = None;
    let mut proto = None;
    for t in tuples {
        match t {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => src = Some(*a),
                        IPTuple::DestinationAddress(a) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(ps) => {
                for p in ps {
                    match p {
                        ProtoTuple::Protocol(p) => proto = Some(u8::from(*p)),
                        ProtoTuple::SourcePort(s) => sport = Some(*s),
                        ProtoTuple::DestinationPort(d) => dport = Some(*d),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some((
        CtTuple {
            src: src?,
            dst: dst?,
            sport,
            dport,
        },
        proto,
    ))
}

fn protocol_name(p: Option<u8>) -> String {
    match p {
        Some(6) => "tcp".into(),
        Some(17) => "udp".into(),
        Some(1) => "icmp".into(),
        Some(58) => "icmpv6".into(),
        Some(132) => "sctp".into(),
        Some(n) => n.to_string(),
        None => "unknown".into(),
    }
}

fn entry_from_attributes(attrs: &[ConntrackAttribute]) -> Option<ConntrackEntry> {
    let mut orig = None;
    let mut reply = None;
    let mut status = Status::empty();
    let mut tcp_state = None;
    for a in attrs {
        match a {
            ConntrackAttribute::CtaTupleOrig(t) => orig = tuple_from(t),
            ConntrackAttribute::CtaTupleReply(t) => reply = tuple_from(t),
            ConntrackAttribute::CtaStatus(s) => status = *s,
            ConntrackAttribute::CtaProtoInfo(infos) => {
                for info in infos {
                    if let ProtoInfo::TCP(tcp) = info {
                        for t in tcp {
                            if let ProtoInfoTCP::State(s) = t {
                                tcp_state = Some(
                                    TCP_STATES
                                        .get(usize::from(*s))
                                        .map(|s| s.to_string())
                                        .unwrap_or_else(|| s.to_string()),
                                );
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let (orig, proto) = orig?;
    let (reply, _) = reply?;
    Some(ConntrackEntry {
        protocol: protocol_name(proto),
        orig,
        reply,
        seen_reply: status.contains(Status::SeenReply),
        src_nat: status.contains(Status::SrcNat),
        dst_nat: status.contains(Status::DstNat),
        tcp_state,
    })
}

/// Parses `/proc/net/nf_conntrack` lines (the fallback when ctnetlink is impossible).
pub fn parse_proc(text: &str) -> Vec<ConntrackEntry> {
    text.lines().filter_map(parse_proc_line).collect()
}

fn parse_proc_line(line: &str) -> Option<ConntrackEntry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    // ipv4 2 tcp 6 118 SYN_SENT src=.. dst=.. sport=.. dport=.. [UNREPLIED] src=.. ...
    let protocol = fields.get(2)?.to_string();
    let mut tuples: Vec<CtTuple> = Vec::new();
    let mut cur: (Option<IpAddr>, Option<IpAddr>, Option<u16>, Option<u16>) =
        (None, None, None, None);
    let mut unreplied = false;
    let mut tcp_state = None;
    for f in &fields[3..] {
        if let Some(v) = f.strip_prefix("src=") {
            if cur.0.is_some() {
                tuples.push(CtTuple {
                    src: cur.0?,
                    dst: cur.1?,
                    sport: cur.2,
                    dport: cur.3,
                });
                cur = (None, None, None, None);
            }
            cur.0 = v.parse().ok();
        } else if let Some(v) = f.strip_prefix("dst=") {
            cur.1 = v.parse().ok();
        } else if let Some(v) = f.strip_prefix("sport=") {
            cur.2 = v.parse().ok();
        } else if let Some(v) = f.strip_prefix("dport=") {
            cur.3 = v.parse().ok();
        } else if *f == "[UNREPLIED]" {
            unreplied = true;
        } else if protocol == "tcp" && f.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            tcp_state = Some(f.to_string());
        }
    }
    if let (Some(s), Some(d)) = (cur.0, cur.1) {
        tuples.push(CtTuple {
            src: s,
            dst: d,
            sport: cur.2,
            dport: cur.3,
        });
    }
    let mut it = tuples.into_iter();
    let orig = it.next()?;
    let reply = it.next()?;
    let src_nat = reply.dst != orig.src;
    let dst_nat = reply.src != orig.dst;
    Some(ConntrackEntry {
        protocol,
        orig,
        reply,
        seen_reply: !unreplied,
        src_nat,
        dst_nat,
        tcp_state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_lines_with_and_without_nat() {
        let text = "ipv4     2 tcp      6 118 SYN_SENT src=10.244.1.2 dst=10.255.9.2 sport=40000 dport=443 [UNREPLIED] src=10.255.9.2 dst=10.244.1.2 sport=443 dport=40000 mark=0 zone=0 use=2\n\
ipv4     2 tcp      6 431999 ESTABLISHED src=10.244.1.2 dst=10.255.9.2 sport=40001 dport=443 src=10.255.9.2 dst=10.255.1.2 sport=443 dport=40001 [ASSURED] mark=0 use=1\n";
        let e = parse_proc(text);
        assert_eq!(e.len(), 2);
        assert!(!e[0].seen_reply);
        assert!(!e[0].src_nat);
        assert_eq!(e[0].tcp_state.as_deref(), Some("SYN_SENT"));
        assert_eq!(e[0].orig.dport, Some(443));
        assert!(e[1].seen_reply);
        assert!(e[1].src_nat);
    }

    #[test]
    fn garbage_lines_are_skipped() {
        assert!(parse_proc("nonsense\n\nipv4 2 tcp 6 src=x").is_empty());
    }
}
