//! The opt-in received-route table (`SessionConfig::keep_updates` + `Speaker::received_routes`)
//! over real TCP on loopback: attributes as sent, withdrawals applied, emptied when the session
//! goes down, and nothing kept for peers that did not ask.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolb_bgp::driver::{PeerConfig, Speaker, State};
use ferrolb_bgp::rib_out::{AdvertisementSet, Community, RouteAttributes};
use ipnet::IpNet;

const COLLECTOR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const NODE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

async fn wait(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_keeps_received_routes_with_attributes() {
    let collector = Speaker::new();
    let port = collector
        .listen(SocketAddr::new(COLLECTOR, 0))
        .await
        .expect("listen")
        .port();
    let mut c_cfg = PeerConfig::new(NODE, 65000, 65001, Ipv4Addr::new(10, 0, 0, 1));
    c_cfg.session.passive = true;
    c_cfg.session.keep_updates = true;
    collector.add_peer(c_cfg).expect("collector peer");

    let node = Speaker::new();
    let mut n_cfg = PeerConfig::new(COLLECTOR, 65001, 65000, Ipv4Addr::new(10, 0, 0, 3));
    n_cfg.port = port;
    n_cfg.local_address = Some(NODE);
    n_cfg.session.connect_retry = Duration::from_secs(1);
    node.add_peer(n_cfg).expect("node peer");
    // The node keeps nothing of what it receives: it did not ask.
    let attrs = Arc::new(RouteAttributes {
        med: Some(7),
        communities: vec![Community::new(65000, 100)],
        ..Default::default()
    });
    let a: IpNet = "198.51.100.1/32".parse().expect("prefix");
    let b: IpNet = "198.51.100.2/32".parse().expect("prefix");
    let set: AdvertisementSet = [(a, Arc::clone(&attrs)), (b, Arc::clone(&attrs))]
        .into_iter()
        .collect();
    node.set_advertisements(COLLECTOR, Arc::new(set))
        .expect("set routes");

    wait("two routes at the collector", || {
        collector.received_routes(NODE).len() == 2
    })
    .await;
    let routes = collector.received_routes(NODE);
    assert_eq!(routes[0].prefix, a);
    assert_eq!(routes[1].prefix, b);
    let got = &routes[0].attributes;
    assert_eq!(got.med, Some(7));
    assert_eq!(got.next_hop, Some(Ipv4Addr::new(127, 0, 0, 3)));
    assert_eq!(got.communities.len(), 1);
    let path: Vec<u32> = got
        .as_path
        .as_ref()
        .expect("AS_PATH")
        .segments
        .iter()
        .flat_map(|s| s.asns.iter().copied())
        .collect();
    assert_eq!(path, vec![65001]);
    assert!(node.received_routes(COLLECTOR).is_empty());

    // A withdrawal is applied.
    let only_b: AdvertisementSet = [(b, Arc::clone(&attrs))].into_iter().collect();
    node.set_advertisements(COLLECTOR, Arc::new(only_b))
        .expect("withdraw a");
    wait("the withdrawal of 198.51.100.1/32", || {
        collector.received_routes(NODE).len() == 1
    })
    .await;
    assert_eq!(collector.received_routes(NODE)[0].prefix, b);

    // Session down: the table empties.
    node.shutdown("bye").await;
    wait("the collector to drop the session and its routes", || {
        collector.received_routes(NODE).is_empty()
            && collector
                .status()
                .iter()
                .all(|s| s.state != State::Established)
    })
    .await;
}
