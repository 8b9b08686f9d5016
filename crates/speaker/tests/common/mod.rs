//! Shared by the speaker's integration tests.

use ferrolb_bgp::driver::{PeerConfig, Speaker};

/// A collector BGP peer (AS 65000) listening on 127.0.0.1 that accepts a passive session from
/// `peer` (AS 65001), after `tune` adjusted that peer; returns it and its port.
pub async fn collector(peer: &str, tune: impl FnOnce(&mut PeerConfig)) -> (Speaker, u16) {
    let collector = Speaker::new();
    let bound = collector
        .listen("127.0.0.1:0".parse().unwrap())
        .await
        .expect("collector listens");
    let mut config = PeerConfig::new(
        peer.parse().unwrap(),
        65000,
        65001,
        "10.255.255.1".parse().unwrap(),
    );
    config.session.passive = true;
    tune(&mut config);
    collector.add_peer(config).expect("collector peer");
    (collector, bound.port())
}
