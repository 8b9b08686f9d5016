//! Two `Speaker`s talking BGP to each other over real TCP on loopback (127.0.0.1 and
//! 127.0.0.2, ports chosen by the kernel): session up, routes exchanged and counted in both
//! families, withdrawals, graceful shutdown with 6/2 and its text, MD5 + GTSM, and hold-timer
//! expiry against a peer that stops reading.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ferrolb_bgp::driver::{Direction, Password, PeerConfig, PeerError, PeerStatus, Speaker, State};
use ferrolb_bgp::rib_out::{AdvertisementSet, Community, RouteAttributes};
use ferrolb_bgp::session::SessionConfig;
use ferrolb_bgp::wire::{frame_len, CeaseSubcode, DecodeContext, ErrorCode, Message};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const WAIT: Duration = Duration::from_secs(15);

async fn wait_for(
    rx: &mut watch::Receiver<PeerStatus>,
    what: &str,
    cond: impl FnMut(&PeerStatus) -> bool,
) -> PeerStatus {
    let result = match tokio::time::timeout(WAIT, rx.wait_for(cond)).await {
        Ok(Ok(s)) => Some(s.clone()),
        Ok(Err(_)) => panic!("status channel closed while waiting for {what}"),
        Err(_) => None,
    };
    match result {
        Some(s) => s,
        None => panic!(
            "timed out waiting for {what}; last status: {:?}",
            *rx.borrow()
        ),
    }
}

fn hosts_v4(
    base: [u8; 3],
    n: u8,
    attrs: &Arc<RouteAttributes>,
) -> Vec<(IpNet, Arc<RouteAttributes>)> {
    (0..n)
        .map(|i| {
            let p: IpNet = format!("{}.{}.{}.{i}/32", base[0], base[1], base[2])
                .parse()
                .expect("prefix");
            (p, Arc::clone(attrs))
        })
        .collect()
}

/// A listens passively on 127.0.0.1 for B; B connects from 127.0.0.2.
async fn pair(password: Option<&str>, gtsm: bool) -> (Speaker, Speaker) {
    pair_with(password, gtsm, |_| {}).await
}

/// [`pair`] with both peer configurations adjusted by `configure`.
async fn pair_with(
    password: Option<&str>,
    gtsm: bool,
    configure: impl Fn(&mut PeerConfig),
) -> (Speaker, Speaker) {
    let a = Speaker::new();
    let port = a
        .listen(SocketAddr::new(A, 0))
        .await
        .expect("listen")
        .port();
    let mut a_cfg = PeerConfig::new(B, 65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    a_cfg.session.passive = true;
    a_cfg.session.hold_time = 9;
    let mut b_cfg = PeerConfig::new(A, 65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
    b_cfg.port = port;
    b_cfg.local_address = Some(B);
    b_cfg.session.hold_time = 9;
    b_cfg.session.connect_retry = Duration::from_secs(1);
    for cfg in [&mut a_cfg, &mut b_cfg] {
        cfg.password = password.map(|p| Password::new(p.as_bytes().to_vec()).expect("pw"));
        cfg.ttl_security = gtsm;
        configure(cfg);
    }
    a.add_peer(a_cfg).expect("add B to A");
    let b = Speaker::new();
    b.add_peer(b_cfg).expect("add A to B");
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_speakers_exchange_routes_and_shut_down_gracefully() {
    let (a, b) = pair(None, false).await;
    let mut a_rx = a.watch(B).expect("watch B on A");
    let mut b_rx = b.watch(A).expect("watch A on B");
    wait_for(&mut a_rx, "A established", |s| {
        s.state == State::Established
    })
    .await;
    let up = wait_for(&mut b_rx, "B established", |s| {
        s.state == State::Established
    })
    .await;
    assert!(up.established_since.is_some());

    let attrs = Arc::new(RouteAttributes {
        med: Some(10),
        communities: vec![Community::new(65001, 100)],
        ..Default::default()
    });
    let mut set: AdvertisementSet = (0..4u8)
        .flat_map(|third| hosts_v4([198, 51, third], 250, &attrs))
        .collect();
    for i in 0..10u16 {
        set.insert(
            format!("2001:db8:{i:x}::/48").parse().expect("v6"),
            Arc::clone(&attrs),
        );
    }
    a.set_advertisements(B, Arc::new(set.clone()))
        .expect("set on A");
    let b_set: AdvertisementSet = hosts_v4([198, 51, 100], 5, &Arc::default())
        .into_iter()
        .collect();
    b.set_advertisements(A, Arc::new(b_set)).expect("set on B");

    let got = wait_for(&mut b_rx, "B receives 1000 + 10", |s| {
        s.prefixes_received.ipv4 == 1000 && s.prefixes_received.ipv6 == 10
    })
    .await;
    assert!(got.updates_in >= 3, "{got:?}");
    let sent = wait_for(&mut a_rx, "A receives 5 and counts 1000 + 10 sent", |s| {
        s.prefixes_received.ipv4 == 5 && s.prefixes_sent.ipv4 == 1000 && s.prefixes_sent.ipv6 == 10
    })
    .await;
    assert!(
        sent.updates_out >= 3 && sent.messages_out > sent.updates_out,
        "{sent:?}"
    );

    // Withdraw 800 IPv4 and 5 IPv6 prefixes.
    let smaller: AdvertisementSet = set
        .iter()
        .enumerate()
        .filter(|(i, (p, _))| {
            if p.addr().is_ipv4() {
                *i < 200
            } else {
                *i >= 1005
            }
        })
        .map(|(_, (p, a))| (*p, Arc::clone(a)))
        .collect();
    a.set_advertisements(B, Arc::new(smaller))
        .expect("set smaller");
    wait_for(&mut b_rx, "B sees withdrawals", |s| {
        s.prefixes_received.ipv4 == 200 && s.prefixes_received.ipv6 == 5
    })
    .await;

    a.shutdown("maintenance window 42").await;
    let down = wait_for(&mut b_rx, "B sees Cease/Administrative Shutdown", |s| {
        matches!(
            &s.last_error,
            Some(PeerError::Notification {
                direction: Direction::Received,
                ..
            })
        )
    })
    .await;
    assert_ne!(down.state, State::Established);
    let Some(PeerError::Notification { notification, .. }) = &down.last_error else {
        unreachable!()
    };
    assert_eq!(notification.error_code(), ErrorCode::Cease);
    assert_eq!(
        notification.cease_subcode(),
        Some(CeaseSubcode::AdministrativeShutdown)
    );
    assert_eq!(
        notification.shutdown_message().as_deref(),
        Some("maintenance window 42")
    );
    let text = down
        .last_error
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(text.contains("maintenance window 42"), "{text}");
    let b_after = wait_for(&mut b_rx, "B drops the routes", |s| {
        s.prefixes_received.ipv4 == 0 && s.prefixes_received.ipv6 == 0
    })
    .await;
    assert_eq!(b_after.prefixes_sent.ipv4, 0);
    b.shutdown("test done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_and_gtsm_sessions_come_up() {
    let (a, b) = pair(Some("s3cret"), true).await;
    let mut a_rx = a.watch(B).expect("watch");
    let mut b_rx = b.watch(A).expect("watch");
    wait_for(&mut a_rx, "A established", |s| {
        s.state == State::Established
    })
    .await;
    wait_for(&mut b_rx, "B established", |s| {
        s.state == State::Established
    })
    .await;
    a.shutdown("bye").await;
    b.shutdown("bye").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md5_mismatch_never_establishes() {
    let a = Speaker::new();
    let port = a
        .listen(SocketAddr::new(A, 0))
        .await
        .expect("listen")
        .port();
    let mut a_cfg = PeerConfig::new(B, 65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    a_cfg.session.passive = true;
    a_cfg.password = Some(Password::new(b"right".to_vec()).expect("pw"));
    a.add_peer(a_cfg).expect("add");
    let b = Speaker::new();
    let mut b_cfg = PeerConfig::new(A, 65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
    b_cfg.port = port;
    b_cfg.local_address = Some(B);
    b_cfg.password = Some(Password::new(b"wrong".to_vec()).expect("pw"));
    b_cfg.session.connect_retry = Duration::from_secs(1);
    b.add_peer(b_cfg).expect("add");
    let mut a_rx = a.watch(B).expect("watch");
    let reached = tokio::time::timeout(
        Duration::from_secs(3),
        a_rx.wait_for(|s| s.state >= State::OpenSent),
    )
    .await;
    assert!(reached.is_err(), "a wrong MD5 key must not get past TCP");
    let b_status = &b.status()[0];
    assert!(b_status.state < State::OpenSent, "{b_status:?}");
    a.shutdown("bye").await;
    b.shutdown("bye").await;
}

/// A hand-written peer that completes the OPEN exchange, then neither reads nor writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_timer_expires_when_the_peer_goes_silent() {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(A, 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let speaker = Speaker::new();
    let mut cfg = PeerConfig::new(A, 65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
    cfg.port = port;
    cfg.local_address = Some(B);
    cfg.session.hold_time = 3;
    speaker.add_peer(cfg).expect("add");
    let mut rx = speaker.watch(A).expect("watch");

    let (mut sock, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("speaker connects")
        .expect("accept");
    let mut peer_cfg = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    peer_cfg.hold_time = 3;
    let ctx = DecodeContext::default();
    let mut out = Message::Open(peer_cfg.open()).encode(&ctx).expect("open");
    out.extend(Message::Keepalive.encode(&ctx).expect("keepalive"));
    sock.write_all(&out).await.expect("write");
    // Read the speaker's OPEN and KEEPALIVE, then go silent.
    let mut buf = Vec::new();
    let mut got = 0;
    while got < 2 {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(WAIT, sock.read(&mut chunk))
            .await
            .expect("speaker writes")
            .expect("read");
        assert!(n > 0, "speaker closed early");
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = frame_len(&buf) {
            buf.drain(..len);
            got += 1;
        }
    }
    wait_for(&mut rx, "established", |s| s.state == State::Established).await;
    let started = std::time::Instant::now();
    let down = wait_for(&mut rx, "hold timer expiry", |s| {
        matches!(&s.last_error, Some(PeerError::Notification { direction: Direction::Sent, notification })
            if notification.error_code() == ErrorCode::HoldTimerExpired)
    })
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_ne!(down.state, State::Established);
    speaker.shutdown("bye").await;
    drop(sock);
}

/// A change that needs no new OPEN (the maximum-prefix limit, connect-retry timers) is taken
/// by the running session: no NOTIFICATION, the same session, the new configuration reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_peer_applies_timers_and_max_prefix_without_a_reset() {
    let (a, b) = pair(None, false).await;
    let mut a_rx = a.watch(B).expect("watch");
    let mut b_rx = b.watch(A).expect("watch");
    wait_for(&mut b_rx, "B established", |s| {
        s.state == State::Established
    })
    .await;
    let mut changed = b.peers().pop().expect("one peer");
    changed.session.max_prefixes = Some(5);
    changed.session.max_prefixes_cease = true;
    changed.session.connect_retry = Duration::from_secs(3);
    changed.session.quick_retry = Some(Duration::from_millis(100));
    changed.session.idle_hold = Duration::from_secs(2);
    assert!(
        !b.update_peer(changed.clone()).await.expect("update"),
        "no reset for settings outside the OPEN"
    );
    assert_eq!(b.peers(), [changed.clone()]);
    // The peer task took the command: the session still answers, once.
    let set: AdvertisementSet = hosts_v4([198, 51, 100], 2, &Arc::default())
        .into_iter()
        .collect();
    b.set_advertisements(A, Arc::new(set)).expect("set");
    wait_for(&mut a_rx, "A gets 2", |s| s.prefixes_received.ipv4 == 2).await;
    let status = b_rx.borrow().clone();
    assert_eq!(status.state, State::Established);
    assert_eq!(status.established_count, 1, "{status:?}");
    assert_eq!(status.last_error, None, "{status:?}");
    assert_eq!(a_rx.borrow().last_error, None);

    // The lowered limit is in force: A announces 6 routes to B, which closes with 6/1.
    let six: AdvertisementSet = hosts_v4([198, 51, 101], 6, &Arc::default())
        .into_iter()
        .collect();
    a.set_advertisements(B, Arc::new(six)).expect("set");
    wait_for(&mut a_rx, "A receives Cease/Maximum Number of Prefixes Reached", |s| {
        matches!(&s.last_error, Some(PeerError::Notification { direction: Direction::Received, notification })
            if notification.cease_subcode() == Some(CeaseSubcode::MaximumPrefixesReached))
    })
    .await;
    a.shutdown("bye").await;
    b.shutdown("bye").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_peer_resets_only_when_the_config_changes_and_remove_is_graceful() {
    /// A Cease of `subcode` received by the peer, with no data (RFC 9003 defines a shutdown
    /// communication only for 6/2 and 6/4).
    fn received_cease(s: &PeerStatus, subcode: CeaseSubcode) -> bool {
        matches!(&s.last_error, Some(PeerError::Notification { direction: Direction::Received, notification })
            if notification.cease_subcode() == Some(subcode) && notification.data.is_empty())
    }

    let (a, b) = pair(None, false).await;
    let mut a_rx = a.watch(B).expect("watch");
    let mut b_rx = b.watch(A).expect("watch");
    wait_for(&mut b_rx, "B established", |s| {
        s.state == State::Established
    })
    .await;
    let set: AdvertisementSet = hosts_v4([198, 51, 100], 3, &Arc::default())
        .into_iter()
        .collect();
    b.set_advertisements(A, Arc::new(set)).expect("set");
    wait_for(&mut a_rx, "A gets 3", |s| s.prefixes_received.ipv4 == 3).await;

    let same = b.peers().pop().expect("one peer");
    assert!(
        !b.update_peer(same.clone()).await.expect("update"),
        "unchanged: no reset"
    );
    assert_eq!(b_rx.borrow().established_count, 1);

    let mut changed = same;
    changed.session.hold_time = 6;
    assert!(
        b.update_peer(changed).await.expect("update"),
        "changed: reset"
    );
    wait_for(
        &mut a_rx,
        "A sees Cease/Other Configuration Change (6/6) from the reset",
        |s| received_cease(s, CeaseSubcode::OtherConfigurationChange),
    )
    .await;
    let mut b_rx = b.watch(A).expect("new watch after reset");
    let up = wait_for(&mut b_rx, "B re-established", |s| {
        s.state == State::Established && s.prefixes_sent.ipv4 == 3
    })
    .await;
    assert!(up.established_since.is_some());
    wait_for(&mut a_rx, "A sees 3 routes again", |s| {
        s.state == State::Established && s.prefixes_received.ipv4 == 3
    })
    .await;

    b.remove_peer(A, "peer removed by test")
        .await
        .expect("remove");
    assert!(b.watch(A).is_none());
    let gone = wait_for(
        &mut a_rx,
        "A sees Cease/Peer De-configured (6/3) from the removal",
        |s| received_cease(s, CeaseSubcode::PeerDeconfigured),
    )
    .await;
    assert_eq!(gone.prefixes_received.ipv4, 0);
    assert!(matches!(
        b.remove_peer(A, "again").await,
        Err(ferrolb_bgp::driver::DriverError::UnknownPeer(_))
    ));
    a.shutdown("bye").await;
    b.shutdown("bye").await;
}

/// Counts of the messages read from the speaker on the wire, by type.
#[derive(Debug, Default)]
struct WireCounts {
    total: u64,
    updates: u64,
    keepalives: u64,
    announced: usize,
    end_of_rib: usize,
}

/// The message counters of `PeerStatus` equal what the wire carried: a table large enough for
/// several UPDATEs in one batch counts each UPDATE once (it was 2n-1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_counters_match_the_bytes_on_the_wire() {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(A, 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let speaker = Speaker::new();
    let mut cfg = PeerConfig::new(A, 65002, 65001, Ipv4Addr::new(10, 0, 0, 2));
    cfg.port = port;
    cfg.local_address = Some(B);
    let attrs = Arc::new(RouteAttributes::default());
    let table: AdvertisementSet = (0..12u8)
        .flat_map(|third| hosts_v4([198, 51, third], 250, &attrs))
        .collect();
    speaker.add_peer_with(cfg, Arc::new(table)).expect("add");
    let mut rx = speaker.watch(A).expect("watch");

    let (mut sock, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("speaker connects")
        .expect("accept");
    let peer_cfg = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
    let ctx = DecodeContext::new(true, false);
    let mut out = Message::Open(peer_cfg.open()).encode(&ctx).expect("open");
    out.extend(Message::Keepalive.encode(&ctx).expect("keepalive"));
    sock.write_all(&out).await.expect("write");

    let mut wire = WireCounts::default();
    let mut buf = Vec::new();
    while wire.announced < 3000 || wire.end_of_rib < 2 {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(WAIT, sock.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("speaker stopped writing: {wire:?}"))
            .expect("read");
        assert!(n > 0, "speaker closed early: {wire:?}");
        buf.extend_from_slice(&chunk[..n]);
        while let Some(len) = frame_len(&buf) {
            let frame: Vec<u8> = buf.drain(..len).collect();
            wire.total += 1;
            match Message::decode(&frame, &ctx).expect("decode") {
                Message::Update(u) => {
                    wire.updates += 1;
                    wire.announced += u.announced().len();
                    wire.end_of_rib += usize::from(u.end_of_rib_family().is_some());
                }
                Message::Keepalive => wire.keepalives += 1,
                _ => {}
            }
        }
    }
    assert!(
        wire.updates >= 5,
        "the table needs several UPDATEs: {wire:?}"
    );
    let st = wait_for(&mut rx, "3000 prefixes counted as sent", |s| {
        s.prefixes_sent.ipv4 == 3000
    })
    .await;
    assert_eq!(
        (st.updates_out, st.messages_out),
        (wire.updates, wire.total),
        "{wire:?}"
    );
    assert_eq!((st.messages_in, st.updates_in), (2, 0));
    speaker.shutdown("bye").await;
    drop(sock);
}

/// Both sides offer Graceful Restart with a restart time (N set): B's view of how A left.
async fn graceful_pair_stop(stop: impl AsyncFnOnce(&Speaker), restart_time: u16) -> PeerStatus {
    let (a, b) = pair_with(None, false, |cfg| {
        cfg.session.restart_time = restart_time;
        cfg.session.forwarding_state = true;
    })
    .await;
    let mut b_rx = b.watch(A).expect("watch A on B");
    wait_for(&mut b_rx, "B established", |s| {
        s.state == State::Established
    })
    .await;
    // A stops only once it has read B's initial UPDATEs (End-of-RIB per family): otherwise B may
    // still be writing when A closes, and B reports that broken pipe instead of A's NOTIFICATION.
    let mut a_rx = a.watch(B).expect("watch B on A");
    wait_for(&mut a_rx, "A read B's End-of-RIBs", |s| s.updates_in >= 2).await;
    stop(&a).await;
    let down = wait_for(&mut b_rx, "B sees A leave", |s| {
        s.state != State::Established && s.last_error.is_some()
    })
    .await;
    b.shutdown("test done").await;
    down
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_for_restart_closes_without_notification() {
    let down = graceful_pair_stop(async |a: &Speaker| a.shutdown_for_restart().await, 30).await;
    // The connection just closes (reported as closed or as a transport error), no NOTIFICATION.
    assert!(
        matches!(
            down.last_error,
            Some(PeerError::ConnectionClosed | PeerError::Transport(_))
        ),
        "{down:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_hard_reset_wraps_the_shutdown_when_n_was_exchanged() {
    let down = graceful_pair_stop(async |a: &Speaker| a.shutdown_hard_reset("bye").await, 30).await;
    let Some(PeerError::Notification { notification, .. }) = &down.last_error else {
        panic!("no NOTIFICATION: {down:?}");
    };
    assert_eq!(notification.cease_subcode(), Some(CeaseSubcode::HardReset));
    let cause = notification.hard_reset_cause().expect("a cause inside");
    assert_eq!(
        cause.cease_subcode(),
        Some(CeaseSubcode::AdministrativeShutdown)
    );
    assert_eq!(cause.shutdown_message().as_deref(), Some("bye"));
    // Helper only (no N): the plain 6/2.
    let down = graceful_pair_stop(async |a: &Speaker| a.shutdown_hard_reset("bye").await, 0).await;
    let Some(PeerError::Notification { notification, .. }) = &down.last_error else {
        panic!("no NOTIFICATION: {down:?}");
    };
    assert_eq!(
        notification.cease_subcode(),
        Some(CeaseSubcode::AdministrativeShutdown)
    );
}
