//! Shared by the speaker's integration tests.

#![allow(dead_code)]

use std::time::Duration;

use ferrolb_bgp::driver::{PeerConfig, PeerStatus, Speaker};
use tokio::sync::watch;

/// A collector BGP peer (AS 65000) listening on 127.0.0.1 that accepts a passive session from
/// `peer` (AS 65001), after `tune` adjusted that peer; returns it and its port.
pub async fn collector(peer: &str, tune: impl FnOnce(&mut PeerConfig)) -> (Speaker, u16) {
    let collector = Speaker::new();
    let bound = collector
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .expect("collector listens");
    add_peer(&collector, peer, tune);
    (collector, bound.port())
}

/// The same, on a port MetalLB's BGPPeer schema accepts (`peerPort` 1..=16384): tries up to 50
/// ports of 10000..16384 picked from the process id.
pub async fn collector_low_port(peer: &str, tune: impl FnOnce(&mut PeerConfig)) -> (Speaker, u16) {
    let collector = Speaker::new();
    let seed = std::process::id() as usize;
    for i in 0..50 {
        let port = 10_000 + (seed * 7 + i * 131) % 6_000;
        if let Ok(bound) = collector.listen(([127, 0, 0, 1], port as u16).into()).await {
            add_peer(&collector, peer, tune);
            return (collector, bound.port());
        }
    }
    panic!("no free port in 10000..16384 for the collector");
}

fn add_peer(collector: &Speaker, peer: &str, tune: impl FnOnce(&mut PeerConfig)) {
    let mut config = PeerConfig::new(
        peer.parse().unwrap(),
        65000,
        65001,
        "10.255.255.1".parse().unwrap(),
    );
    config.session.passive = true;
    tune(&mut config);
    collector.add_peer(config).expect("collector peer");
}

/// Waits up to 10 s for a session status that satisfies `cond`; panics naming `what` and the last
/// status when none comes.
pub async fn wait_for(
    rx: &mut watch::Receiver<PeerStatus>,
    what: &str,
    cond: impl FnMut(&PeerStatus) -> bool,
) -> PeerStatus {
    let result = match tokio::time::timeout(Duration::from_secs(10), rx.wait_for(cond)).await {
        Ok(Ok(s)) => Some(s.clone()),
        Ok(Err(_)) => panic!("status channel closed while waiting for {what}"),
        Err(_) => None,
    };
    result.unwrap_or_else(|| panic!("timed out waiting for {what}; last: {:?}", *rx.borrow()))
}
