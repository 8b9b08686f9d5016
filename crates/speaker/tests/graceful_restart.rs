//! Graceful restart in the session manager against a collector BGP peer on loopback (the
//! ferrolb-bgp driver, real TCP): `graceful-restart: true` offers the restart time with N and
//! F; a restart closes without NOTIFICATION (the router keeps the routes as stale), a
//! departure sends Cease/Hard Reset (6/9, the 6/2 inside), and a peer without graceful restart
//! gets today's Cease/Administrative Shutdown (6/2) either way.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

mod common;

use ferrolb_bgp::driver::{Direction, PeerError, PeerStatus, Speaker, State};
use ferrolb_config::parse_config;
use ferrolb_speaker::departure::{Departure, StopMode};
use ferrolb_speaker::policy::{Desired, PeerKey, PeerPlan};
use ferrolb_speaker::sessions::{ManagerOptions, SessionManager};
use tokio::sync::watch;

/// The source address of the manager's sessions (the collector's configured peer).
const NODE: &str = "127.0.0.5";
/// The collector's address.
const COLLECTOR: &str = "127.0.0.1";

fn desired(port: u16, extra: &str) -> Desired {
    let config = parse_config(&format!(
        "peers:\n- peer-address: 127.0.0.1\n  peer-port: {port}\n  peer-asn: 65000\n  \
         my-asn: 65001\n  router-id: 10.255.255.2\n{extra}"
    ))
    .expect("valid config");
    let peer = config.peers[0].clone();
    Desired {
        peers: vec![PeerPlan {
            key: PeerKey {
                address: peer.address,
                port: peer.port,
            },
            peer,
            routes: BTreeMap::new(),
            bfd: None,
        }],
        ..Desired::default()
    }
}

fn manager() -> SessionManager {
    SessionManager::new(
        Speaker::new(),
        None,
        ManagerOptions {
            namespace: "ferrolb-system".into(),
            default_source: Some(NODE.parse().unwrap()),
            default_router_id: None,
            connect_retry: Duration::from_millis(200),
            restart_state: false,
            node: "n1".into(),
        },
    )
}

/// Starts a session with `desired`, waits until the collector sees it Established (the
/// `count`th time), stops it with `mode`, and returns the collector's view of the end.
async fn session_then_stop(
    rx: &mut watch::Receiver<PeerStatus>,
    desired: &Desired,
    count: u64,
    mode: StopMode,
) -> (PeerStatus, PeerStatus) {
    let mut m = manager();
    m.apply(desired, None, 1).await;
    let up = common::wait_for(rx, "the session up", |s| {
        s.state == State::Established && s.established_count == count
    })
    .await;
    // Stop only after the collector's End-of-RIBs (IPv4, IPv6) arrived: a collector still
    // writing when we close could report its broken pipe instead of our NOTIFICATION.
    let mut ours = m.speaker().watch(COLLECTOR.parse().unwrap()).unwrap();
    common::wait_for(&mut ours, "the collector's End-of-RIBs", |s| {
        s.updates_in >= 2
    })
    .await;
    m.shutdown(mode, "test stop").await;
    let down = common::wait_for(rx, "the session down", |s| s.state != State::Established).await;
    (up, down)
}

fn notification(status: &PeerStatus) -> Option<String> {
    match &status.last_error {
        Some(PeerError::Notification {
            direction: Direction::Received,
            notification,
        }) => Some(format!("{}/{}", notification.code, notification.subcode)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_closes_silently_departure_and_removal_hard_reset_without_gr_cease() {
    // The collector offers a restart time too, so N is exchanged (RFC 8538).
    let (collector, port) = common::collector(NODE, |c| c.session.restart_time = 60).await;
    let node: IpAddr = NODE.parse().unwrap();
    let mut rx = collector.watch(node).expect("collector watch");
    let gr = desired(port, "  graceful-restart: true\n  restart-time: 90s\n");

    let (up, down) = session_then_stop(&mut rx, &gr, 1, StopMode::Restart).await;
    let seen = up.graceful_restart.expect("Established");
    assert_eq!(seen.peer_restart_time, Some(90), "our restart time offered");
    assert!(seen.notification, "N exchanged: {seen:?}");
    assert!(
        matches!(
            down.last_error,
            Some(PeerError::ConnectionClosed | PeerError::Transport(_))
        ),
        "a restart closes without NOTIFICATION: {:?}",
        down.last_error
    );

    let departure = StopMode::Depart(Departure::Deleted);
    let (_, down) = session_then_stop(&mut rx, &gr, 2, departure).await;
    assert_eq!(notification(&down).as_deref(), Some("6/9"), "{down:?}");

    // The peer removed from the configuration: 6/3 inside a Hard Reset (a plain 6/3 would
    // leave the routes stale at a router that exchanged N).
    let mut m = manager();
    m.apply(&gr, None, 1).await;
    common::wait_for(&mut rx, "the session up", |s| {
        s.state == State::Established && s.established_count == 3
    })
    .await;
    let mut ours = m.speaker().watch(COLLECTOR.parse().unwrap()).unwrap();
    common::wait_for(&mut ours, "the collector's End-of-RIBs", |s| {
        s.updates_in >= 2
    })
    .await;
    m.apply(&Desired::default(), None, 1).await;
    let down = common::wait_for(&mut rx, "the session down", |s| {
        s.state != State::Established
    })
    .await;
    assert_eq!(notification(&down).as_deref(), Some("6/9"), "{down:?}");

    // Without graceful-restart: no restart time offered, and a restart is today's 6/2.
    let plain = desired(port, "");
    let (up, down) = session_then_stop(&mut rx, &plain, 4, StopMode::Restart).await;
    assert_eq!(
        up.graceful_restart.and_then(|g| g.peer_restart_time),
        Some(0)
    );
    assert_eq!(notification(&down).as_deref(), Some("6/2"), "{down:?}");
    collector.shutdown("test done").await;
}

/// The speaker's own status says whether graceful restart is in effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_whether_graceful_restart_was_negotiated() {
    let (collector, port) = common::collector("127.0.0.6", |_| {}).await;
    for (extra, negotiated) in [("  graceful-restart: true\n", true), ("", false)] {
        let mut m = SessionManager::new(
            Speaker::new(),
            None,
            ManagerOptions {
                namespace: "ferrolb-system".into(),
                default_source: Some("127.0.0.6".parse().unwrap()),
                default_router_id: None,
                connect_retry: Duration::from_millis(200),
                restart_state: false,
                node: "n1".into(),
            },
        );
        m.apply(&desired(port, extra), None, 1).await;
        let mut rx = m.speaker().watch("127.0.0.1".parse().unwrap()).unwrap();
        let up = common::wait_for(&mut rx, "our session up", |s| s.is_established()).await;
        let gr = up.graceful_restart.expect("Established");
        assert_eq!(gr.negotiated(), negotiated, "{extra:?}: {gr:?}");
        assert_eq!(gr.local_restart_time, if negotiated { 120 } else { 0 });
        m.shutdown(StopMode::Depart(Departure::Excluded), "test stop")
            .await;
    }
    collector.shutdown("test done").await;
}
