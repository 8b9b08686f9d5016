//! The session manager against a collector BGP peer on loopback (the ferrolb-bgp driver in
//! passive mode, real TCP): two plans for one peer address never take turns resetting the
//! session.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

mod common;

use ferrolb_bgp::driver::{Speaker, State};
use ferrolb_config::parse_config;
use ferrolb_speaker::departure::StopMode;
use ferrolb_speaker::policy::{Desired, PeerKey, PeerPlan};
use ferrolb_speaker::sessions::{ManagerOptions, SessionManager};

/// The source address of the manager's sessions (the collector's configured peer).
const NODE: &str = "127.0.0.4";

fn plan(peer: ferrolb_config::Peer) -> PeerPlan {
    PeerPlan {
        key: PeerKey {
            address: peer.address,
            port: peer.port,
        },
        peer,
        routes: BTreeMap::new(),
        bfd: None,
    }
}

/// Two entries for 127.0.0.1, one on the collector's port and one on another port (what a
/// Config with one address on two ports gave the manager): the first is used, the second is
/// reported, and re-applying the same plans leaves the one session up (the old manager reset
/// it on every pass, alternating the ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_plans_for_one_address_never_flap_the_session() {
    let (collector, port) = common::collector(NODE, |_| {}).await;
    let node: IpAddr = NODE.parse().unwrap();
    let mut rx = collector.watch(node).expect("collector watch");

    let config = parse_config(&format!(
        "peers:\n- peer-address: 127.0.0.1\n  peer-port: {port}\n  peer-asn: 65000\n  \
         my-asn: 65001\n  router-id: 10.255.255.2\n"
    ))
    .expect("config");
    let first = config.peers[0].clone();
    let mut second = first.clone();
    // Nothing listens there: a refused connection, never traffic off the loopback.
    second.port = 1;
    let desired = Desired {
        peers: vec![plan(first), plan(second)],
        ..Desired::default()
    };

    let mut manager = SessionManager::new(
        Speaker::new(),
        None,
        ManagerOptions {
            namespace: "ferrolb-system".into(),
            default_source: Some(node),
            default_router_id: None,
            connect_retry: Duration::from_millis(200),
            node: "n1".into(),
            restart_state: false,
        },
    );
    let touched = manager.apply(&desired, None, 1).await;
    assert_eq!(touched, [IpAddr::from([127, 0, 0, 1])]);
    common::wait_for(&mut rx, "the collector's session up", |s| {
        s.state == State::Established
    })
    .await;

    for pass in 2..=5 {
        let touched = manager.apply(&desired, None, 1).await;
        assert!(touched.is_empty(), "pass {pass} reset {touched:?}");
    }
    let status = common::wait_for(&mut rx, "the collector's session still up", |s| {
        s.state == State::Established
    })
    .await;
    assert_eq!(status.established_count, 1, "{status:?}");
    assert_eq!(status.last_error, None, "{status:?}");

    let sessions: Vec<String> = manager.sessions().map(|(k, _)| k.to_string()).collect();
    assert_eq!(sessions, [format!("127.0.0.1:{port}")]);
    let errors: Vec<(String, String)> = manager
        .setup_errors
        .values()
        .map(|e| (e.key.to_string(), e.error.clone()))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "127.0.0.1:1");
    assert!(
        errors[0]
            .1
            .contains(&format!("same address (127.0.0.1:{port})")),
        "{errors:?}"
    );
    manager.shutdown(StopMode::Restart, "test done").await;
    collector.shutdown("test done").await;
}
