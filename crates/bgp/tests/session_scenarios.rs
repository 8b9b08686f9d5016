//! Session FSM scenarios with simulated time: every deadline is checked exactly.

use ferrolb_bgp::session::{ConnId, DownReason, Input, Output, Session, SessionConfig, State};
use ferrolb_bgp::wire::{
    pack_announce, pack_withdraw, AsPath, Capability, CeaseSubcode, DecodeContext, Family,
    GracefulRestart, Message, NextHop, Notification, Open, Origin, PathAttributes, RouteRefresh,
    Update,
};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 2);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 255, 0, 1);
const LOCAL_AS: u32 = 65001;
const PEER_AS: u32 = 65000;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn config() -> SessionConfig {
    SessionConfig::new(LOCAL_AS, PEER_AS, LOCAL_ID)
}

fn peer_open_with(asn: u32, hold: u16, id: Ipv4Addr) -> Open {
    Open::new(
        asn,
        hold,
        id,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(asn),
        ],
    )
}

fn bytes(m: Message) -> Vec<u8> {
    m.encode(&DecodeContext::new(true, false)).unwrap()
}

fn peer_open() -> Vec<u8> {
    bytes(Message::Open(peer_open_with(PEER_AS, 90, PEER_ID)))
}

fn keepalive() -> Vec<u8> {
    bytes(Message::Keepalive)
}

/// Messages sent on `conn` in `out`, decoded.
fn sent(out: &[Output], conn: ConnId) -> Vec<Message> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send(c, b) if *c == conn => {
                Some(Message::decode(b, &DecodeContext::new(false, true)).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn connect_id(out: &[Output]) -> ConnId {
    out.iter()
        .find_map(|o| match o {
            Output::Connect(c) => Some(*c),
            _ => None,
        })
        .expect("Connect output")
}

fn notification_sent(out: &[Output]) -> Option<Notification> {
    out.iter().find_map(|o| match o {
        Output::NotificationSent(n) => Some(n.clone()),
        _ => None,
    })
}

/// Brings an outbound session to Established at `t0`; returns the session and connection.
fn established(cfg: SessionConfig, t0: Instant) -> (Session, ConnId) {
    established_with(cfg, &peer_open(), t0)
}

/// [`established`] with the peer's OPEN given as encoded bytes.
fn established_with(cfg: SessionConfig, peer_open: &[u8], t0: Instant) -> (Session, ConnId) {
    let mut s = Session::new(cfg).unwrap();
    let out = s.handle(t0, Input::ManualStart);
    let c = connect_id(&out);
    assert_eq!(s.state(), State::Connect);
    let out = s.handle(t0, Input::TcpConnectionAcknowledged(c));
    let msgs = sent(&out, c);
    assert!(matches!(&msgs[..], [Message::Open(_)]), "{msgs:?}");
    assert_eq!(s.state(), State::OpenSent);
    let out = s.handle(t0, Input::BytesReceived(c, peer_open));
    assert_eq!(sent(&out, c), vec![Message::Keepalive]);
    assert_eq!(s.state(), State::OpenConfirm);
    let out = s.handle(t0, Input::BytesReceived(c, &keepalive()));
    assert!(
        out.iter().any(|o| matches!(o, Output::Established(_))),
        "{out:?}"
    );
    assert!(out.contains(&Output::StateChanged {
        from: State::OpenConfirm,
        to: State::Established
    }));
    (s, c)
}

#[test]
fn outbound_session_establishes_and_negotiates() {
    let t0 = Instant::now();
    let (s, c) = established(config(), t0);
    let n = s.negotiated().unwrap();
    assert_eq!(n.conn, c);
    assert_eq!(n.hold_time, 90);
    assert_eq!(n.keepalive, 30);
    assert!(n.four_octet_as);
    assert!(n.peer_route_refresh);
    assert_eq!(n.families, vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]);
    assert_eq!(n.peer_router_id, PEER_ID);
    assert_eq!(n.max_message_len, 4096);
    assert_eq!(s.counters().messages_in, 2);
    assert_eq!(s.counters().messages_out, 2);
}

#[test]
fn our_open_carries_configured_capabilities() {
    let mut cfg = config();
    cfg.local_as = 4_200_000_001;
    cfg.hold_time = 30;
    cfg.extended_message = true;
    let mut s = Session::new(cfg).unwrap();
    let t = Instant::now();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    let out = s.handle(t, Input::TcpConnectionAcknowledged(c));
    let [Message::Open(o)] = &sent(&out, c)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(o.my_as, 23456, "AS_TRANS for a 4-octet AS");
    assert_eq!(o.four_octet_as(), Some(4_200_000_001));
    assert_eq!(o.hold_time, 30);
    assert_eq!(o.bgp_identifier, LOCAL_ID);
    assert!(o.has(|c| *c == Capability::ExtendedMessage));
    assert!(o.has(|c| *c == Capability::RouteRefresh));
    assert!(o.has(|c| matches!(c, Capability::GracefulRestart(gr) if gr.restart_time == 0 && gr.families.is_empty())));
    assert_eq!(
        o.families(),
        vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
}

#[test]
fn keepalive_schedule_is_exact() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    // The KEEPALIVE sent on entering OpenConfirm at t0 starts the 30 s interval.
    assert_eq!(s.next_deadline(), Some(t0 + secs(30)));
    let out = s.handle(t0 + secs(30), Input::Tick);
    assert_eq!(sent(&out, c), vec![Message::Keepalive]);
    assert_eq!(s.next_deadline(), Some(t0 + secs(60)));
    // Peer keepalive at 45 s moves the hold deadline to 135 s (not the next deadline yet).
    s.handle(t0 + secs(45), Input::BytesReceived(c, &keepalive()));
    assert_eq!(s.next_deadline(), Some(t0 + secs(60)));
    // An UPDATE sent at 50 s restarts the keepalive timer: next at 80 s.
    let upd = bytes(Message::Update(Update::end_of_rib(Family::IPV4_UNICAST)));
    let out = s.handle(t0 + secs(50), Input::SendUpdate(upd.clone()));
    assert_eq!(out, vec![Output::Send(c, upd.clone())]);
    assert_eq!(s.next_deadline(), Some(t0 + secs(80)));
    // A Tick before the deadline sends nothing.
    assert!(sent(&s.handle(t0 + secs(79), Input::Tick), c).is_empty());
    assert_eq!(
        sent(&s.handle(t0 + secs(80), Input::Tick), c),
        vec![Message::Keepalive]
    );
    assert_eq!(s.next_deadline(), Some(t0 + secs(110)));
    assert_eq!(s.counters().updates_out, 1);
    let mut two = upd.clone();
    two.extend_from_slice(&upd);
    s.handle(t0 + secs(81), Input::SendUpdate(two));
    assert_eq!(s.counters().updates_out, 3);
}

#[test]
fn configured_keepalive_and_lower_peer_hold_time() {
    let mut cfg = config();
    cfg.keepalive = Some(5);
    let t0 = Instant::now();
    let mut s = Session::new(cfg).unwrap();
    let c = connect_id(&s.handle(t0, Input::ManualStart));
    s.handle(t0, Input::TcpConnectionAcknowledged(c));
    s.handle(
        t0,
        Input::BytesReceived(
            c,
            &bytes(Message::Open(peer_open_with(PEER_AS, 9, PEER_ID))),
        ),
    );
    let out = s.handle(t0, Input::BytesReceived(c, &keepalive()));
    let n = out
        .iter()
        .find_map(|o| {
            if let Output::Established(n) = o {
                Some(n.clone())
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(
        (n.hold_time, n.keepalive),
        (9, 3),
        "keepalive capped at hold/3"
    );
    assert_eq!(s.next_deadline(), Some(t0 + secs(3)));
}

#[test]
fn hold_timer_expiry_sends_notification_and_restarts_after_idle_hold() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    // Keep sending our keepalives; the peer stays silent.
    let mut t;
    loop {
        let d = s.next_deadline().unwrap();
        assert!(d <= t0 + secs(90), "hold deadline passed without expiry");
        t = d;
        let out = s.handle(t, Input::Tick);
        if let Some(n) = notification_sent(&out) {
            assert_eq!(t, t0 + secs(90), "hold timer expires exactly at 90 s");
            assert_eq!((n.code, n.subcode), (4, 0));
            assert_eq!(n.to_string(), "Hold Timer Expired/Unspecific");
            assert_eq!(sent(&out, c), vec![Message::Notification(n.clone())]);
            assert!(out.contains(&Output::Close(c)));
            assert!(out.contains(&Output::SessionDown {
                reason: DownReason::NotificationSent(n)
            }));
            break;
        }
        assert_eq!(sent(&out, c), vec![Message::Keepalive]);
    }
    assert_eq!(s.state(), State::Idle);
    // Automatic restart after the idle hold time (1 s).
    assert_eq!(s.next_deadline(), Some(t + secs(1)));
    let out = s.handle(t + secs(1), Input::Tick);
    connect_id(&out);
    assert_eq!(s.state(), State::Connect);
}

#[test]
fn hold_timer_restarted_by_peer_messages() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    s.handle(t0 + secs(30), Input::Tick);
    s.handle(t0 + secs(60), Input::Tick);
    s.handle(t0 + secs(89), Input::BytesReceived(c, &keepalive()));
    let out = s.handle(t0 + secs(90), Input::Tick);
    assert_eq!(notification_sent(&out), None);
    assert_eq!(s.state(), State::Established);
    for k in [120, 150, 178] {
        let out = s.handle(t0 + secs(k), Input::Tick);
        assert_eq!(notification_sent(&out), None, "at {k}");
    }
    let out = s.handle(t0 + secs(179), Input::Tick);
    assert!(
        notification_sent(&out).is_some(),
        "expires at 89 + 90 = 179 s"
    );
}

fn open_error(open_bytes: Vec<u8>) -> (Vec<Output>, ConnId) {
    let t = Instant::now();
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let out = s.handle(t, Input::BytesReceived(c, &open_bytes));
    assert!(out.contains(&Output::Close(c)), "{out:?}");
    assert_eq!(s.state(), State::Idle);
    (out, c)
}

#[test]
fn bad_peer_as_is_rejected_with_2_2() {
    let (out, c) = open_error(bytes(Message::Open(peer_open_with(65099, 90, PEER_ID))));
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode), (2, 2));
    assert_eq!(n.to_string(), "OPEN Message Error/Bad Peer AS");
    assert_eq!(sent(&out, c), vec![Message::Notification(n)]);
}

#[test]
fn unsupported_version_is_rejected_with_2_1() {
    let mut b = peer_open();
    b[19] = 3;
    let (out, _) = open_error(b);
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));
}

#[test]
fn bad_hold_time_is_rejected_with_2_6() {
    let (out, _) = open_error(bytes(Message::Open(peer_open_with(PEER_AS, 2, PEER_ID))));
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode), (2, 6));
}

#[test]
fn zero_router_id_is_rejected_with_2_3() {
    let (out, _) = open_error(bytes(Message::Open(peer_open_with(
        PEER_AS,
        90,
        Ipv4Addr::UNSPECIFIED,
    ))));
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode), (2, 3));
}

#[test]
fn same_router_id_rejected_for_ibgp_only() {
    let mut cfg = SessionConfig::new(PEER_AS, PEER_AS, LOCAL_ID);
    cfg.idle_hold = secs(1);
    let t = Instant::now();
    let mut s = Session::new(cfg).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let out = s.handle(
        t,
        Input::BytesReceived(
            c,
            &bytes(Message::Open(peer_open_with(PEER_AS, 90, LOCAL_ID))),
        ),
    );
    assert_eq!(
        notification_sent(&out).map(|n| (n.code, n.subcode)),
        Some((2, 3))
    );
    // eBGP with the same id is allowed (RFC 6286).
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let out = s.handle(
        t,
        Input::BytesReceived(
            c,
            &bytes(Message::Open(peer_open_with(PEER_AS, 90, LOCAL_ID))),
        ),
    );
    assert_eq!(notification_sent(&out), None);
    assert_eq!(s.state(), State::OpenConfirm);
}

#[test]
fn four_octet_peer_with_as_trans() {
    let mut cfg = config();
    cfg.peer_as = 4_200_000_000;
    let t = Instant::now();
    let mut s = Session::new(cfg).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let open = peer_open_with(4_200_000_000, 90, PEER_ID);
    assert_eq!(open.my_as, 23456);
    s.handle(t, Input::BytesReceived(c, &bytes(Message::Open(open))));
    s.handle(t, Input::BytesReceived(c, &keepalive()));
    assert_eq!(s.negotiated().unwrap().peer_as, 4_200_000_000);
    // The same OPEN without the capability is AS 23456: bad peer AS.
    let mut s = Session::new({
        let mut c = config();
        c.peer_as = 4_200_000_000;
        c
    })
    .unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let mut bare = peer_open_with(4_200_000_000, 90, PEER_ID);
    bare.capabilities
        .retain(|c| !matches!(c, Capability::FourOctetAs(_)));
    let out = s.handle(t, Input::BytesReceived(c, &bytes(Message::Open(bare))));
    assert_eq!(
        notification_sent(&out).map(|n| (n.code, n.subcode)),
        Some((2, 2))
    );
}

#[test]
fn messages_split_at_every_byte_are_reassembled() {
    let t0 = Instant::now();
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t0, Input::ManualStart));
    s.handle(t0, Input::TcpConnectionAcknowledged(c));
    let mut stream = peer_open();
    stream.extend(keepalive());
    let mut established = false;
    for b in &stream {
        let out = s.handle(t0, Input::BytesReceived(c, std::slice::from_ref(b)));
        established |= out.iter().any(|o| matches!(o, Output::Established(_)));
    }
    assert!(established);
    assert_eq!(s.state(), State::Established);
}

/// Session with an outbound connection `out_c` that already received the peer's OPEN
/// (OpenConfirm) and an inbound `in_c` in OpenSent; then the OPEN arrives on `in_c`.
fn collision(local_id: Ipv4Addr) -> (Session, ConnId, ConnId, Vec<Output>) {
    let t = Instant::now();
    let mut s = Session::new(SessionConfig::new(LOCAL_AS, PEER_AS, local_id)).unwrap();
    let out_c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(out_c));
    s.handle(t, Input::BytesReceived(out_c, &peer_open()));
    assert_eq!(s.state(), State::OpenConfirm);
    let in_c = ConnId::inbound(1);
    let out = s.handle(t, Input::TcpConnectionConfirmed(in_c));
    assert!(matches!(&sent(&out, in_c)[..], [Message::Open(_)]));
    let out = s.handle(t, Input::BytesReceived(in_c, &peer_open()));
    (s, out_c, in_c, out)
}

#[test]
fn collision_local_higher_id_keeps_outbound() {
    let (mut s, out_c, in_c, out) = collision(Ipv4Addr::new(10, 255, 0, 9)); // > PEER_ID
    let n = notification_sent(&out).unwrap();
    assert_eq!(n.to_string(), "Cease/Connection Collision Resolution");
    assert_eq!(sent(&out, in_c), vec![Message::Notification(n)]);
    assert!(out.contains(&Output::Close(in_c)));
    assert!(!out.contains(&Output::Close(out_c)));
    let out = s.handle(Instant::now(), Input::BytesReceived(out_c, &keepalive()));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Established(n) if n.conn == out_c)));
}

#[test]
fn collision_local_lower_id_keeps_inbound() {
    let (mut s, out_c, in_c, out) = collision(Ipv4Addr::new(10, 255, 0, 0)); // < PEER_ID
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode), (6, 7));
    assert_eq!(sent(&out, out_c), vec![Message::Notification(n)]);
    assert!(out.contains(&Output::Close(out_c)));
    assert_eq!(sent(&out, in_c), vec![Message::Keepalive]);
    let out = s.handle(Instant::now(), Input::BytesReceived(in_c, &keepalive()));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Established(n) if n.conn == in_c)));
    assert_eq!(s.state(), State::Established);
}

#[test]
fn inbound_while_established_is_refused() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let other = ConnId::inbound(7);
    let out = s.handle(t0, Input::TcpConnectionConfirmed(other));
    assert_eq!(out, vec![Output::Close(other)]);
    assert_eq!(s.established_conn(), Some(c));
}

#[test]
fn connect_retry_backs_off_exponentially_with_cap() {
    let mut cfg = config();
    cfg.connect_retry = secs(5);
    cfg.connect_retry_max = secs(60);
    let mut s = Session::new(cfg).unwrap();
    let t0 = Instant::now();
    let mut t = t0;
    let mut c = connect_id(&s.handle(t, Input::ManualStart));
    let mut waits = Vec::new();
    for _ in 0..7 {
        s.handle(t, Input::TcpConnectionFails(c));
        assert_eq!(s.state(), State::Active);
        let d = s.next_deadline().unwrap();
        waits.push((d - t).as_secs());
        t = d;
        let out = s.handle(t, Input::Tick);
        c = connect_id(&out);
        assert_eq!(s.state(), State::Connect);
    }
    assert_eq!(waits, vec![5, 10, 20, 40, 60, 60, 60]);
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// After a start (a reset) a refused connection is retried after 50 ms, then 100, 200 ...
/// up to connect-retry (2 s), from where the ordinary backoff doubles to its cap.
#[test]
fn quick_retry_doubles_up_to_connect_retry_then_backs_off() {
    let mut cfg = config();
    cfg.connect_retry = secs(2);
    cfg.connect_retry_max = secs(8);
    cfg.quick_retry = Some(ms(50));
    let mut s = Session::new(cfg).unwrap();
    let mut t = Instant::now();
    let mut c = connect_id(&s.handle(t, Input::ManualStart));
    let mut waits = Vec::new();
    for _ in 0..10 {
        s.handle(t, Input::TcpConnectionFails(c));
        let d = s.next_deadline().unwrap();
        waits.push((d - t).as_millis());
        t = d;
        c = connect_id(&s.handle(t, Input::Tick));
    }
    assert_eq!(
        waits,
        [50, 100, 200, 400, 800, 1600, 2000, 4000, 8000, 8000]
    );
}

/// A peer that accepts the connection and closes it (a router still clearing the old
/// session) is retried quickly too, but the wait grows: no 50 ms loop.
#[test]
fn quick_retry_grows_when_the_peer_accepts_and_closes() {
    let mut cfg = config();
    cfg.connect_retry = secs(2);
    cfg.quick_retry = Some(ms(50));
    let mut s = Session::new(cfg).unwrap();
    let mut t = Instant::now();
    let mut c = connect_id(&s.handle(t, Input::ManualStart));
    let mut waits = Vec::new();
    for _ in 0..7 {
        s.handle(t, Input::TcpConnectionAcknowledged(c));
        assert_eq!(s.state(), State::OpenSent);
        s.handle(t, Input::TcpConnectionFails(c));
        let d = s.next_deadline().unwrap();
        waits.push((d - t).as_millis());
        t = d;
        c = connect_id(&s.handle(t, Input::Tick));
    }
    assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000]);
}

/// A router that still has the old session answers the new connection with Cease/Connection
/// Collision Resolution (6/7; FRR 8.4 right after our reset's NOTIFICATION): retried at the
/// quick interval, not after the damped idle hold of an error; another NOTIFICATION before
/// Established still waits the idle hold.
#[test]
fn collision_cease_before_established_is_retried_quickly() {
    let mut cfg = config();
    cfg.connect_retry = secs(2);
    cfg.quick_retry = Some(ms(50));
    for (subcode, wait) in [
        (CeaseSubcode::ConnectionCollisionResolution, ms(50)),
        (CeaseSubcode::ConnectionRejected, ms(50)),
        (CeaseSubcode::AdministrativeShutdown, secs(1)),
    ] {
        let mut s = Session::new(cfg.clone()).unwrap();
        let t0 = Instant::now();
        let c = connect_id(&s.handle(t0, Input::ManualStart));
        s.handle(t0, Input::TcpConnectionAcknowledged(c));
        s.handle(t0, Input::BytesReceived(c, &peer_open()));
        assert_eq!(s.state(), State::OpenConfirm);
        let n = bytes(Message::Notification(Notification::cease(subcode)));
        s.handle(t0, Input::BytesReceived(c, &n));
        assert_eq!(s.next_deadline(), Some(t0 + wait), "{subcode:?}");
        let out = s.handle(t0 + wait, Input::Tick);
        assert_ne!(connect_id(&out), c, "{subcode:?}: a new attempt");
    }
}

/// A connection attempt in progress is given connect-retry, not the quick interval.
#[test]
fn quick_retry_does_not_cut_an_attempt_short() {
    let mut cfg = config();
    cfg.connect_retry = secs(2);
    cfg.quick_retry = Some(ms(50));
    let mut s = Session::new(cfg).unwrap();
    let t0 = Instant::now();
    let c = connect_id(&s.handle(t0, Input::ManualStart));
    assert_eq!(s.next_deadline(), Some(t0 + secs(2)));
    let out = s.handle(t0 + ms(1999), Input::Tick);
    assert!(!out.contains(&Output::Close(c)), "{out:?}");
    let out = s.handle(t0 + secs(2), Input::Tick);
    assert!(out.contains(&Output::Close(c)), "{out:?}");
}

/// `retune` takes timers and the maximum-prefix limit on a live session and refuses what
/// needs a new OPEN.
#[test]
fn retune_applies_settings_outside_the_open_only() {
    let t0 = Instant::now();
    let (mut s, _) = established(config(), t0);
    let mut live = config();
    live.max_prefixes = Some(3);
    live.connect_retry = secs(7);
    live.quick_retry = Some(ms(100));
    assert!(!config().needs_reset_for(&live));
    s.retune(live.clone()).expect("retune");
    assert_eq!(s.config(), &live);
    assert_eq!(s.state(), State::Established);
    for change in [
        |c: &mut SessionConfig| c.hold_time = 30,
        |c: &mut SessionConfig| c.keepalive = Some(5),
        |c: &mut SessionConfig| c.peer_as = 65009,
        |c: &mut SessionConfig| c.router_id = Ipv4Addr::new(10, 9, 9, 9),
        |c: &mut SessionConfig| c.restart_time = 120,
    ] {
        let mut other = live.clone();
        change(&mut other);
        assert!(live.needs_reset_for(&other), "{other:?}");
        assert_eq!(
            s.retune(other),
            Err(ferrolb_bgp::session::RetuneError::NeedsReset)
        );
    }
    let mut bad = live.clone();
    bad.quick_retry = Some(secs(8));
    assert!(matches!(
        s.retune(bad),
        Err(ferrolb_bgp::session::RetuneError::Invalid(_))
    ));
    assert_eq!(s.config(), &live);
}

#[test]
fn hanging_connect_is_abandoned_and_retried() {
    let mut s = Session::new(config()).unwrap();
    let t0 = Instant::now();
    let c1 = connect_id(&s.handle(t0, Input::ManualStart));
    assert_eq!(s.next_deadline(), Some(t0 + secs(5)));
    let out = s.handle(t0 + secs(5), Input::Tick);
    assert!(out.contains(&Output::Close(c1)));
    let c2 = connect_id(&out);
    assert_ne!(c1, c2);
    assert_eq!(s.next_deadline(), Some(t0 + secs(15)));
    // A late success of the abandoned attempt is closed.
    let out = s.handle(t0 + secs(6), Input::TcpConnectionAcknowledged(c1));
    assert_eq!(out, vec![Output::Close(c1)]);
}

#[test]
fn manual_stop_sends_administrative_shutdown_with_message() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let out = s.handle(
        t0 + secs(1),
        Input::ManualStop {
            message: Some("maintenance window".into()),
        },
    );
    let msgs = sent(&out, c);
    let [Message::Notification(n)] = &msgs[..] else {
        panic!("{out:?}")
    };
    assert_eq!((n.code, n.subcode), (6, 2));
    assert_eq!(n.shutdown_message().as_deref(), Some("maintenance window"));
    assert_eq!(
        n.to_string(),
        "Cease/Administrative Shutdown \"maintenance window\""
    );
    assert!(out.contains(&Output::Close(c)));
    assert!(out.contains(&Output::SessionDown {
        reason: DownReason::Stopped
    }));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(
        s.next_deadline(),
        None,
        "no automatic restart after ManualStop"
    );
}

/// RFC 4486 for configuration changes: the Cease carries the subcode and no data (RFC 9003's
/// text is defined only for 6/2 and 6/4); the session stops like a ManualStop.
#[test]
fn manual_stop_cease_sends_the_subcode_without_data() {
    for (subcode, text) in [
        (CeaseSubcode::PeerDeconfigured, "Cease/Peer De-configured"),
        (
            CeaseSubcode::OtherConfigurationChange,
            "Cease/Other Configuration Change",
        ),
    ] {
        let t0 = Instant::now();
        let (mut s, c) = established(config(), t0);
        let out = s.handle(t0 + secs(1), Input::ManualStopCease { subcode });
        let msgs = sent(&out, c);
        let [Message::Notification(n)] = &msgs[..] else {
            panic!("{out:?}")
        };
        assert_eq!((n.code, n.subcode), (6, u8::from(subcode)));
        assert!(n.data.is_empty(), "{n:?}");
        assert_eq!(n.to_string(), text);
        assert!(out.contains(&Output::Close(c)));
        assert_eq!(s.state(), State::Idle);
        assert_eq!(s.next_deadline(), None, "no automatic restart");
    }
}

#[test]
fn passive_session_waits_for_inbound() {
    let mut cfg = config();
    cfg.passive = true;
    let mut s = Session::new(cfg).unwrap();
    let t0 = Instant::now();
    let out = s.handle(t0, Input::ManualStart);
    assert!(!out.iter().any(|o| matches!(o, Output::Connect(_))));
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.next_deadline(), None);
    let c = ConnId::inbound(1);
    s.handle(t0, Input::TcpConnectionConfirmed(c));
    s.handle(t0, Input::BytesReceived(c, &peer_open()));
    s.handle(t0, Input::BytesReceived(c, &keepalive()));
    assert_eq!(s.state(), State::Established);
}

#[test]
fn received_prefixes_are_counted_per_family() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let ctx = s.negotiated().unwrap().context();
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![PEER_AS])),
        ..Default::default()
    };
    let v4: Vec<ipnet::IpNet> = ["198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    let v6: Vec<ipnet::IpNet> = vec!["2001:db8::1/128".parse().unwrap()];
    let mut stream = Vec::new();
    for m in pack_announce(&attrs, NextHop::V4(PEER_ID), &v4, &ctx).unwrap() {
        stream.extend(m);
    }
    let nh = NextHop::V6 {
        global: "fd00:255::1".parse().unwrap(),
        link_local: None,
    };
    for m in pack_announce(&attrs, nh, &v6, &ctx).unwrap() {
        stream.extend(m);
    }
    for m in pack_withdraw(&v4[..1], &ctx).unwrap() {
        stream.extend(m);
    }
    let out = s.handle(t0, Input::BytesReceived(c, &stream));
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::UpdateReceived(_)))
            .count(),
        3
    );
    let counts = s.received_prefixes();
    assert_eq!(counts.get(&Family::IPV4_UNICAST), Some(&2));
    assert_eq!(counts.get(&Family::IPV6_UNICAST), Some(&1));
    assert_eq!(s.counters().updates_in, 3);
}

#[test]
fn route_refresh_is_reported_and_malformed_update_resets() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let rr = bytes(Message::RouteRefresh(RouteRefresh::request(
        Family::IPV6_UNICAST,
    )));
    let out = s.handle(t0, Input::BytesReceived(c, &rr));
    assert_eq!(
        out,
        vec![Output::RouteRefreshRequested(Family::IPV6_UNICAST)]
    );
    let other = Family::new(
        ferrolb_bgp::wire::Afi::Ipv4,
        ferrolb_bgp::wire::Safi::Multicast,
    );
    let rr = bytes(Message::RouteRefresh(RouteRefresh::request(other)));
    assert_eq!(
        s.handle(t0, Input::BytesReceived(c, &rr)),
        vec![],
        "not negotiated: ignored"
    );
    // An UPDATE whose NLRI is malformed: 3/10 and the session goes down.
    let mut bad = bytes(Message::Update(Update::default()));
    bad.extend_from_slice(&[40, 1, 2, 3, 4, 5]);
    let len = bad.len() as u16;
    bad[16..18].copy_from_slice(&len.to_be_bytes());
    let out = s.handle(t0, Input::BytesReceived(c, &bad));
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode), (3, 10));
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn notification_from_peer_is_reported() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let n = Notification::administrative_shutdown("bye");
    let out = s.handle(
        t0,
        Input::BytesReceived(c, &bytes(Message::Notification(n.clone()))),
    );
    assert!(out.contains(&Output::NotificationReceived(n.clone())));
    assert!(out.contains(&Output::SessionDown {
        reason: DownReason::NotificationReceived(n)
    }));
    assert!(out.contains(&Output::Close(c)));
}

#[test]
fn unexpected_message_is_fsm_error() {
    let t = Instant::now();
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let out = s.handle(t, Input::BytesReceived(c, &keepalive()));
    let n = notification_sent(&out).unwrap();
    assert_eq!((n.code, n.subcode), (5, 1));
    assert_eq!(
        n.to_string(),
        "Neighbor Events Error/Receive Unexpected Message in OpenSent State"
    );
}

/// RFC 6608 §4: the FSM error's data is one octet, the type of the unexpected message.
#[test]
fn fsm_errors_carry_the_unexpected_message_type() {
    let t = Instant::now();
    // OpenSent: a KEEPALIVE (type 4) -> 5/1 [4].
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    let n = notification_sent(&s.handle(t, Input::BytesReceived(c, &keepalive()))).unwrap();
    assert_eq!((n.code, n.subcode, n.data), (5, 1, vec![4]));
    // OpenConfirm: an UPDATE (type 2) -> 5/2 [2].
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t, Input::ManualStart));
    s.handle(t, Input::TcpConnectionAcknowledged(c));
    s.handle(t, Input::BytesReceived(c, &peer_open()));
    assert_eq!(s.state(), State::OpenConfirm);
    let update = bytes(Message::Update(Update::default()));
    let n = notification_sent(&s.handle(t, Input::BytesReceived(c, &update))).unwrap();
    assert_eq!((n.code, n.subcode, n.data), (5, 2, vec![2]));
    // Established: an OPEN (type 1) -> 5/3 [1].
    let (mut s, c) = established(config(), t);
    let n = notification_sent(&s.handle(t, Input::BytesReceived(c, &peer_open()))).unwrap();
    assert_eq!((n.code, n.subcode, n.data), (5, 3, vec![1]));
}

#[test]
fn zero_hold_time_means_no_timers() {
    let t0 = Instant::now();
    let mut s = Session::new(config()).unwrap();
    let c = connect_id(&s.handle(t0, Input::ManualStart));
    s.handle(t0, Input::TcpConnectionAcknowledged(c));
    s.handle(
        t0,
        Input::BytesReceived(
            c,
            &bytes(Message::Open(peer_open_with(PEER_AS, 0, PEER_ID))),
        ),
    );
    s.handle(t0, Input::BytesReceived(c, &keepalive()));
    assert_eq!(s.state(), State::Established);
    assert_eq!(s.negotiated().unwrap().hold_time, 0);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn idle_hold_is_damped_on_repeated_errors() {
    let mut s = Session::new(config()).unwrap();
    let mut t = Instant::now();
    let mut c = connect_id(&s.handle(t, Input::ManualStart));
    let mut waits = Vec::new();
    for _ in 0..8 {
        s.handle(t, Input::TcpConnectionAcknowledged(c));
        s.handle(
            t,
            Input::BytesReceived(c, &bytes(Message::Open(peer_open_with(65099, 90, PEER_ID)))),
        );
        assert_eq!(s.state(), State::Idle);
        let d = s.next_deadline().unwrap();
        waits.push((d - t).as_secs());
        t = d;
        c = connect_id(&s.handle(t, Input::Tick));
    }
    assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
}

#[test]
fn invalid_config_is_rejected() {
    let mut cfg = config();
    cfg.hold_time = 2;
    assert_eq!(
        Session::new(cfg).unwrap_err().to_string(),
        "hold-time 2: must be 0 or at least 3 seconds"
    );
    let mut cfg = config();
    cfg.router_id = Ipv4Addr::UNSPECIFIED;
    assert!(Session::new(cfg).is_err());
    let mut cfg = config();
    cfg.connect_retry_max = Duration::MAX;
    assert!(Session::new(cfg)
        .unwrap_err()
        .to_string()
        .starts_with("connect-retry-max"));
    let mut cfg = config();
    cfg.idle_hold = Duration::ZERO;
    assert!(Session::new(cfg).is_err());
}

#[test]
fn no_new_connect_while_an_inbound_connection_progresses() {
    let mut s = Session::new(config()).unwrap();
    let t0 = Instant::now();
    let out_c = connect_id(&s.handle(t0, Input::ManualStart));
    let in_c = ConnId::inbound(1);
    s.handle(t0 + secs(1), Input::TcpConnectionConfirmed(in_c));
    assert_eq!(s.state(), State::OpenSent);
    // The hanging outbound attempt is dropped at its deadline; no new attempt is made.
    let out = s.handle(t0 + secs(5), Input::Tick);
    assert_eq!(out, vec![Output::Close(out_c)]);
    s.handle(t0 + secs(6), Input::BytesReceived(in_c, &peer_open()));
    s.handle(t0 + secs(6), Input::BytesReceived(in_c, &keepalive()));
    assert_eq!(s.established_conn(), Some(in_c));
}

#[test]
fn confed_segment_from_ebgp_peer_is_treat_as_withdraw() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let ctx = s.negotiated().unwrap().context();
    let mut attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![PEER_AS])),
        ..Default::default()
    };
    let p: Vec<ipnet::IpNet> = vec!["198.51.100.1/32".parse().unwrap()];
    let ok = pack_announce(&attrs, NextHop::V4(PEER_ID), &p, &ctx)
        .unwrap()
        .concat();
    s.handle(t0, Input::BytesReceived(c, &ok));
    assert_eq!(s.received_prefixes().get(&Family::IPV4_UNICAST), Some(&1));
    attrs.as_path.as_mut().unwrap().segments.insert(
        0,
        ferrolb_bgp::wire::AsSegment {
            kind: ferrolb_bgp::wire::SegmentKind::ConfedSequence,
            asns: vec![1],
        },
    );
    let bad = pack_announce(&attrs, NextHop::V4(PEER_ID), &p, &ctx)
        .unwrap()
        .concat();
    let out = s.handle(t0, Input::BytesReceived(c, &bad));
    assert!(
        matches!(&out[..], [Output::UpdateReceived(u)] if u.announced == 0 && u.withdrawn == 1),
        "{out:?}"
    );
    assert_eq!(s.received_prefixes().get(&Family::IPV4_UNICAST), Some(&0));
    assert_eq!(s.state(), State::Established);
}

/// An UPDATE message from raw parts (header added).
fn raw_update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend(body);
    m
}

const ORIGIN_IGP: [u8; 4] = [0x40, 1, 1, 0];
/// AS_PATH [65000] in 4-octet encoding.
const PATH_PEER: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe8];
/// NEXT_HOP 10.255.0.1.
const NH_PEER: [u8; 7] = [0x40, 3, 4, 10, 255, 0, 1];
/// NLRI 198.51.100.0/24.
const NLRI_24: [u8; 4] = [24, 198, 51, 100];

fn v4_received(s: &Session) -> usize {
    s.received_prefixes()
        .get(&Family::IPV4_UNICAST)
        .copied()
        .unwrap_or(0)
}

/// RFC 7606 §4 in a session: a COMMUNITIES length overrunning the list withdraws the
/// UPDATE's routes (including one announced before) and keeps the session up.
#[test]
fn overrunning_attribute_withdraws_and_keeps_the_session() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let good = raw_update(
        &[],
        &[&ORIGIN_IGP[..], &PATH_PEER, &NH_PEER].concat(),
        &NLRI_24,
    );
    s.handle(t0, Input::BytesReceived(c, &good));
    assert_eq!(v4_received(&s), 1);
    let communities = [0xc0, 8, 8, 0xfd, 0xe8, 0, 1];
    let attrs = [&ORIGIN_IGP[..], &PATH_PEER, &NH_PEER, &communities].concat();
    let out = s.handle(
        t0,
        Input::BytesReceived(c, &raw_update(&[], &attrs, &NLRI_24)),
    );
    assert_eq!(notification_sent(&out), None);
    assert_eq!(s.state(), State::Established);
    assert_eq!(v4_received(&s), 0);
}

/// RFC 7606 §5.2: a malformed attribute (stronger than discard) in an UPDATE with no
/// reachable NLRI resets the session with the attribute's UPDATE error.
#[test]
fn malformed_attribute_without_nlri_resets_the_session() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    // ORIGIN 7 with only a withdrawn route: 3/6.
    let attrs = [&[0x40, 1, 1, 7][..], &PATH_PEER, &NH_PEER].concat();
    let out = s.handle(
        t0,
        Input::BytesReceived(c, &raw_update(&NLRI_24, &attrs, &[])),
    );
    let n = notification_sent(&out).expect("session reset");
    assert_eq!((n.code, n.subcode), (3, 6));
    assert_ne!(s.state(), State::Established);
    // Overrun with no NLRI at all: 3/1.
    let (mut s, c) = established(config(), t0);
    let attrs = [&ORIGIN_IGP[..], &PATH_PEER, &[0xc0, 8, 8, 0, 0]].concat();
    let out = s.handle(t0, Input::BytesReceived(c, &raw_update(&[], &attrs, &[])));
    let n = notification_sent(&out).expect("session reset");
    assert_eq!((n.code, n.subcode), (3, 1));
    // A discarded attribute alone does not reset: ATOMIC_AGGREGATE with a value.
    let (mut s, c) = established(config(), t0);
    let attrs = [&ORIGIN_IGP[..], &PATH_PEER, &[0x40, 6, 1, 0]].concat();
    let out = s.handle(
        t0,
        Input::BytesReceived(c, &raw_update(&NLRI_24, &attrs, &[])),
    );
    assert_eq!(notification_sent(&out), None);
    assert_eq!(s.state(), State::Established);
}

/// NEXT_HOP 0.0.0.0 routes are neither stored nor counted.
#[test]
fn invalid_next_hop_routes_are_not_counted() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.keep_updates = true;
    let (mut s, c) = established(cfg, t0);
    let zero_nh = [0x40, 3, 4, 0, 0, 0, 0];
    let attrs = [&ORIGIN_IGP[..], &PATH_PEER, &zero_nh].concat();
    let out = s.handle(
        t0,
        Input::BytesReceived(c, &raw_update(&[], &attrs, &NLRI_24)),
    );
    assert!(
        matches!(&out[..], [Output::UpdateReceived(u)]
            if u.announced == 0 && u.update.as_ref().is_some_and(|u| u.announced().is_empty())),
        "{out:?}"
    );
    assert_eq!(v4_received(&s), 0);
}

/// Routes whose AS_PATH holds our own AS are not counted and replace an earlier usable
/// route (RFC 4271 §9.1.2).
#[test]
fn own_as_routes_are_not_counted() {
    let t0 = Instant::now();
    let (mut s, c) = established(config(), t0);
    let good = raw_update(
        &[],
        &[&ORIGIN_IGP[..], &PATH_PEER, &NH_PEER].concat(),
        &NLRI_24,
    );
    s.handle(t0, Input::BytesReceived(c, &good));
    assert_eq!(v4_received(&s), 1);
    // AS_PATH [65000 65001]: 65001 is ours.
    let looped_path = [0x40, 2, 10, 2, 2, 0, 0, 0xfd, 0xe8, 0, 0, 0xfd, 0xe9];
    let attrs = [&ORIGIN_IGP[..], &looped_path, &NH_PEER].concat();
    let out = s.handle(
        t0,
        Input::BytesReceived(c, &raw_update(&[], &attrs, &NLRI_24)),
    );
    assert!(
        matches!(&out[..], [Output::UpdateReceived(u)] if u.announced == 0 && u.withdrawn == 1),
        "{out:?}"
    );
    assert_eq!(v4_received(&s), 0);
    assert_eq!(s.state(), State::Established);
}

/// `count` /32 host routes in 10.0.0.0/8, packed into UPDATEs for `s`'s session.
fn host_routes(s: &Session, first: u32, count: u32) -> Vec<u8> {
    let ctx = s.negotiated().unwrap().context();
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![PEER_AS])),
        ..Default::default()
    };
    let p: Vec<ipnet::IpNet> = (first..first + count)
        .map(|i| ipnet::IpNet::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 32).unwrap())
        .collect();
    pack_announce(&attrs, NextHop::V4(PEER_ID), &p, &ctx)
        .unwrap()
        .concat()
}

/// Maximum-prefix: past the limit a warning and an estimated count, the session stays;
/// with `max_prefixes_cease`, Cease 6/1 with AFI/SAFI and the limit (RFC 4486 §4).
#[test]
fn maximum_prefix_warns_or_ceases() {
    let t0 = Instant::now();
    let mut cfg = config();
    cfg.max_prefixes = Some(100);
    let (mut s, c) = established(cfg.clone(), t0);
    s.handle(t0, Input::BytesReceived(c, &host_routes(&s, 0, 100)));
    assert_eq!(v4_received(&s), 100);
    assert!(!s.received_is_estimate(Family::IPV4_UNICAST));
    let out = s.handle(t0, Input::BytesReceived(c, &host_routes(&s, 100, 50)));
    assert_eq!(notification_sent(&out), None);
    assert_eq!(v4_received(&s), 150);
    assert!(s.received_is_estimate(Family::IPV4_UNICAST));
    assert_eq!(s.state(), State::Established);

    cfg.max_prefixes_cease = true;
    let (mut s, c) = established(cfg, t0);
    let out = s.handle(t0, Input::BytesReceived(c, &host_routes(&s, 0, 101)));
    let n = notification_sent(&out).expect("Cease");
    assert_eq!((n.code, n.subcode), (6, 1));
    assert_eq!(n.data, vec![0, 1, 1, 0, 0, 0, 100]);
    assert_ne!(s.state(), State::Established);
}

/// A writer that appends to a shared buffer (log capture).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// RFC 7606 §6: a treat-as-withdraw UPDATE is logged with the error, the affected NLRI and
/// the message in hex; a flood is rate-limited.
#[test]
fn malformed_updates_are_logged_rate_limited() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let t0 = Instant::now();
    let zero_nh = [0x40, 3, 4, 0, 0, 0, 0];
    let msg = raw_update(
        &[],
        &[&ORIGIN_IGP[..], &PATH_PEER, &zero_nh].concat(),
        &NLRI_24,
    );
    tracing::subscriber::with_default(subscriber, || {
        let (mut s, c) = established(config(), t0);
        for _ in 0..25 {
            s.handle(t0, Input::BytesReceived(c, &msg));
        }
        s.handle(t0 + secs(61), Input::BytesReceived(c, &msg));
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("malformed UPDATE"))
        .collect();
    assert_eq!(lines.len(), 11, "{text}");
    let hex: String = msg.iter().map(|b| format!("{b:02x}")).collect();
    assert!(lines[0].contains("treat-as-withdraw"), "{}", lines[0]);
    assert!(lines[0].contains("198.51.100.0/24"), "{}", lines[0]);
    assert!(lines[0].contains("NEXT_HOP 0.0.0.0"), "{}", lines[0]);
    assert!(lines[0].contains(&hex), "{}", lines[0]);
    assert!(lines[10].contains("suppressed_before=15"), "{}", lines[10]);
}

/// RFC 9003 §4: a Shutdown Communication whose length exceeds the data is reported as
/// invalid in the log (the data in hex), not only the code.
#[test]
fn invalid_shutdown_communication_is_logged() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let t0 = Instant::now();
    let n = Notification {
        code: 6,
        subcode: 2,
        data: vec![40, b'b', b'y', b'e'],
    };
    tracing::subscriber::with_default(subscriber, || {
        let (mut s, c) = established(config(), t0);
        s.handle(
            t0,
            Input::BytesReceived(c, &bytes(Message::Notification(n))),
        );
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("invalid Shutdown Communication: length 40 exceeds the 3 octets that follow"),
        "{text}"
    );
    assert!(text.contains("28627965"), "{text}");
}

/// RFC 4271 §10: with a jitter seed, the connect-retry, keepalive and idle-hold intervals
/// are 0.75-1.0 of their value and differ between sessions (no lock step); the hold timer
/// is not jittered.
#[test]
fn timers_are_jittered_with_a_seed() {
    let t0 = Instant::now();
    let mut retries = Vec::new();
    let mut keepalives = Vec::new();
    let mut idle_holds = Vec::new();
    for seed in 0..8u64 {
        let mut cfg = config();
        cfg.jitter_seed = Some(seed);
        cfg.idle_hold = secs(4);
        let mut s = Session::new(cfg.clone()).unwrap();
        s.handle(t0, Input::ManualStart);
        retries.push(s.next_deadline().unwrap() - t0);

        let (mut s, c) = established(cfg, t0);
        // Hold deadline 90 s exactly, keepalive 22.5..=30 s.
        keepalives.push(s.next_deadline().unwrap() - t0);
        // A NOTIFICATION from the peer: idle hold 3..=4 s before the restart.
        let n = Notification::administrative_shutdown("x");
        s.handle(
            t0,
            Input::BytesReceived(c, &bytes(Message::Notification(n))),
        );
        idle_holds.push(s.next_deadline().unwrap() - t0);
    }
    let within = |v: &[Duration], d: Duration| {
        v.iter().all(|x| *x >= d.mul_f64(0.75) && *x <= d)
            && v.iter().collect::<std::collections::BTreeSet<_>>().len() > 4
    };
    assert!(within(&retries, secs(5)), "{retries:?}");
    assert!(within(&keepalives, secs(30)), "{keepalives:?}");
    assert!(within(&idle_holds, secs(4)), "{idle_holds:?}");
    // Without a seed the intervals are exact.
    let (s, _) = established(config(), t0);
    assert_eq!(s.next_deadline(), Some(t0 + secs(30)));
}

/// A peer OPEN with a Graceful Restart capability (restart time 120, IPv4 with F).
fn peer_open_with_gr(flags: u8) -> Vec<u8> {
    let mut open = peer_open_with(PEER_AS, 90, PEER_ID);
    open.capabilities
        .push(Capability::GracefulRestart(GracefulRestart {
            flags,
            restart_time: 120,
            families: vec![(Family::IPV4_UNICAST, GracefulRestart::FORWARDING_STATE)],
        }));
    bytes(Message::Open(open))
}

fn restarting_config() -> SessionConfig {
    let mut cfg = config();
    cfg.restart_time = 30;
    cfg.forwarding_state = true;
    cfg
}

#[test]
fn graceful_restart_capability_offered_as_restarting_speaker() {
    let helper = config().open();
    assert!(helper
        .capabilities
        .contains(&Capability::GracefulRestart(GracefulRestart::default())));
    let open = restarting_config().open();
    let gr = open
        .capabilities
        .iter()
        .find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        })
        .expect("Graceful Restart capability");
    assert_eq!(gr.restart_time, 30);
    assert!(gr.notification() && !gr.restart_state());
    assert!(gr.forwarding_preserved(Family::IPV4_UNICAST));
    assert!(gr.forwarding_preserved(Family::IPV6_UNICAST));
    let mut restarted = restarting_config();
    restarted.restart_state = true;
    let cap = restarted.graceful_restart_capability();
    assert!(cap.restart_state() && cap.notification());
    let mut bad = restarting_config();
    bad.restart_time = 4096;
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("restart-time 4096"));
    let mut off = restarting_config();
    off.graceful_restart = false;
    assert!(off.validate().is_err());
}

#[test]
fn peer_graceful_restart_is_recorded_and_n_negotiated() {
    let t0 = Instant::now();
    let (s, _) = established_with(restarting_config(), &peer_open_with_gr(0xc), t0);
    let n = s.negotiated().unwrap();
    let gr = n.peer_graceful_restart.as_ref().expect("peer capability");
    assert!(gr.restart_state() && gr.notification());
    assert_eq!(gr.restart_time, 120);
    assert!(gr.forwarding_preserved(Family::IPV4_UNICAST));
    assert!(n.graceful_notification);
    // Without N from the peer, or as helper only, N is not negotiated.
    let (s, _) = established_with(restarting_config(), &peer_open_with_gr(0), t0);
    assert!(!s.negotiated().unwrap().graceful_notification);
    let (s, _) = established_with(config(), &peer_open_with_gr(0x4), t0);
    assert!(!s.negotiated().unwrap().graceful_notification);
    let (s, _) = established(restarting_config(), t0);
    assert_eq!(s.negotiated().unwrap().peer_graceful_restart, None);
}

#[test]
fn stop_for_restart_closes_without_notification() {
    let t0 = Instant::now();
    let (mut s, c) = established_with(restarting_config(), &peer_open_with_gr(0x4), t0);
    let out = s.handle(t0, Input::ManualStopForRestart);
    assert_eq!(notification_sent(&out), None);
    assert!(sent(&out, c).is_empty(), "{out:?}");
    assert!(out.contains(&Output::Close(c)));
    assert!(out.contains(&Output::SessionDown {
        reason: DownReason::Stopped
    }));
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn hard_reset_carries_the_cause_when_n_was_exchanged() {
    let t0 = Instant::now();
    let cause = Notification::administrative_shutdown("bye");
    let (mut s, c) = established_with(restarting_config(), &peer_open_with_gr(0x4), t0);
    let out = s.handle(
        t0,
        Input::ManualStopHardReset {
            cause: cause.clone(),
        },
    );
    let n = notification_sent(&out).expect("NOTIFICATION");
    assert_eq!(n.cease_subcode(), Some(CeaseSubcode::HardReset));
    assert_eq!(n.hard_reset_cause(), Some(cause.clone()));
    assert_eq!(sent(&out, c), vec![Message::Notification(n)]);
    // Peer without N: the cause itself.
    let (mut s, _) = established_with(restarting_config(), &peer_open_with_gr(0), t0);
    let out = s.handle(
        t0,
        Input::ManualStopHardReset {
            cause: cause.clone(),
        },
    );
    assert_eq!(notification_sent(&out), Some(cause));
}
