//! Drives a session through a fuzzer-chosen sequence of inputs (connects, failures, ticks with
//! time steps, stops, and received bytes that start from a valid OPEN + KEEPALIVE prefix so
//! the Established state is reached). The session must never panic, and never emit bytes
//! that do not decode.
#![no_main]

use ferrolb_bgp::session::{ConnId, Input, Output, Session, SessionConfig};
use ferrolb_bgp::wire::{Capability, DecodeContext, Family, Message, Open};
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

fn peer_stream() -> Vec<u8> {
    let open = Open::new(
        65000,
        9,
        Ipv4Addr::new(10, 255, 0, 1),
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(65000),
        ],
    );
    let ctx = DecodeContext::new(true, false);
    let mut v = Message::Open(open).encode(&ctx).unwrap();
    v.extend(Message::Keepalive.encode(&ctx).unwrap());
    v
}

fuzz_target!(|data: &[u8]| {
    let mut cfg = SessionConfig::new(65001, 65000, Ipv4Addr::new(10, 255, 0, 2));
    cfg.passive = data.first().is_some_and(|b| b & 1 == 1);
    let Ok(mut s) = Session::new(cfg) else { return };
    let t0 = Instant::now();
    let mut now = t0;
    let mut conns: Vec<ConnId> = Vec::new();
    let prefix = peer_stream();
    let mut i = 1;
    while i < data.len() {
        let op = data[i];
        let arg = data.get(i + 1).copied().unwrap_or(0);
        i += 2;
        let conn = conns
            .get(usize::from(arg) % conns.len().max(1))
            .copied()
            .unwrap_or(ConnId::inbound(u64::from(arg)));
        let out = match op % 9 {
            0 => s.handle(now, Input::ManualStart),
            1 => s.handle(
                now,
                Input::ManualStop {
                    message: Some("fuzz".into()),
                },
            ),
            2 => s.handle(now, Input::TcpConnectionAcknowledged(conn)),
            3 => s.handle(
                now,
                Input::TcpConnectionConfirmed(ConnId::inbound(u64::from(arg))),
            ),
            4 => s.handle(now, Input::TcpConnectionFails(conn)),
            5 => s.handle(now, Input::BytesReceived(conn, &prefix)),
            6 => {
                let n = usize::from(arg).min(data.len() - i.min(data.len()));
                let chunk = &data[i.min(data.len())..i.min(data.len()) + n];
                i += n;
                s.handle(now, Input::BytesReceived(conn, chunk))
            }
            7 => {
                now += Duration::from_millis(u64::from(arg) * 250);
                s.handle(now, Input::Tick)
            }
            _ => {
                if let Some(d) = s.next_deadline() {
                    now = now.max(d);
                }
                s.handle(now, Input::Tick)
            }
        };
        for o in out {
            match o {
                Output::Connect(c) => conns.push(c),
                Output::Send(_, bytes) => {
                    assert!(Message::decode(&bytes, &DecodeContext::new(true, true)).is_ok());
                }
                _ => {}
            }
        }
        if let Some(d) = s.next_deadline() {
            assert!(d >= t0, "deadline in the past of the start");
        }
    }
});
