//! Ordered resets: two speakers (nodes n1 and n2) against the in-process API server and one
//! collector BGP peer on loopback. A hold-time change in the ConfigMap needs a new OPEN on
//! both nodes; the reset Lease makes them reset one after the other: the collector never has
//! both sessions down at once, and each node's session is back with its route before the
//! other node's goes down.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrolb_apiserver::{ApiServer, RunningServer};
use ferrolb_bgp::driver::{Speaker, State};
use ferrolb_speaker::Options;
use serde_json::{json, Value};

mod common;

const NODES: [(&str, &str); 2] = [("n1", "127.0.0.2"), ("n2", "127.0.0.3")];

fn config(port: u16, hold: &str) -> Value {
    let text = format!(
        "peers:\n- peer-address: 127.0.0.1\n  peer-port: {port}\n  peer-asn: 65000\n  \
         my-asn: 65001\n  hold-time: {hold}\naddress-pools:\n- name: default\n  protocol: bgp\n  \
         addresses: [198.51.100.0/28]\n"
    );
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"namespace": "ferrolb-system", "name": "config"},
           "data": {"config": text}})
}

/// Records every state the collector's session with `peer` goes through, with its time.
fn record_states(collector: &Speaker, peer: IpAddr) -> Arc<Mutex<Vec<(Instant, State, usize)>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut rx = collector.watch(peer).expect("collector peer");
    let out = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let s = rx.borrow_and_update().clone();
            let routes = s.prefixes_received.ipv4;
            out.lock().unwrap().push((Instant::now(), s.state, routes));
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
    log
}

/// The time the session went down and the time it was Established with its route again.
fn down_interval(log: &[(Instant, State, usize)]) -> (Instant, Instant) {
    let down = log
        .iter()
        .position(|(_, s, _)| *s != State::Established)
        .map(|i| log[i].0);
    let Some(down) = down else {
        panic!("the session never went down: {log:?}");
    };
    let up = log
        .iter()
        .find(|(t, s, routes)| *t > down && *s == State::Established && *routes == 1)
        .map(|e| e.0);
    let Some(up) = up else {
        panic!("the session did not come back with its route: {log:?}");
    };
    (down, up)
}

async fn wait_for(what: &str, timeout: Duration, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !probe() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the speaker of node `name` with BGP source address `source` against `api`.
async fn start_node(api: &RunningServer, name: &str, source: &str) -> ferrolb_speaker::Running {
    let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
    let options = Options {
        http_addr: None,
        source_address: Some(source.parse().unwrap()),
        connect_retry: Duration::from_secs(1),
        namespace: "ferrolb-system".into(),
        events: false,
        ..Options::default()
    };
    ferrolb_speaker::start(client, name, options).await.unwrap()
}

/// Waits until the API server holds no reset Lease any more.
async fn wait_lease_released(api: &RunningServer) {
    let store = api.store();
    wait_for("the reset Lease released", Duration::from_secs(5), || {
        store
            .list_objects("leases.coordination.k8s.io", Some("ferrolb-system"))
            .is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_reset_one_after_the_other() {
    let api = ApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (collector, port) = common::collector(NODES[0].1, |_| {}).await;
    let mut second = collector.peers().pop().expect("collector peer");
    second.address = NODES[1].1.parse().unwrap();
    collector.add_peer(second).expect("second collector peer");
    let store = api.store();
    store.seed(config(port, "3s")).unwrap();
    for (name, _) in NODES {
        store
            .seed(json!({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}))
            .unwrap();
    }
    store
        .seed(json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"namespace": "web", "name": "front"},
                     "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster",
                              "ports": [{"port": 80, "protocol": "TCP"}]},
                     "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}}))
        .unwrap();
    store
        .seed(
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"namespace": "web", "name": "front-x",
                                  "labels": {"kubernetes.io/service-name": "front"}},
                     "addressType": "IPv4",
                     "endpoints": [{"addresses": ["10.244.1.7"], "nodeName": "n1",
                                    "conditions": {"ready": true}}]}),
        )
        .unwrap();

    let mut running = Vec::new();
    for (name, source) in NODES {
        running.push(start_node(&api, name, source).await);
    }
    let peers: Vec<IpAddr> = NODES.iter().map(|(_, a)| a.parse().unwrap()).collect();
    wait_for(
        "both sessions up with the route",
        Duration::from_secs(15),
        || {
            let st = collector.status();
            st.len() == 2
                && st
                    .iter()
                    .all(|s| s.is_established() && s.prefixes_received.ipv4 == 1)
        },
    )
    .await;
    let logs: Vec<_> = peers
        .iter()
        .map(|p| record_states(&collector, *p))
        .collect();

    store.seed(config(port, "6s")).unwrap();
    wait_for(
        "both sessions reset once and back",
        Duration::from_secs(20),
        || {
            collector.status().iter().all(|s| {
                s.established_count == 2 && s.is_established() && s.prefixes_received.ipv4 == 1
            })
        },
    )
    .await;
    let mut intervals: Vec<(Instant, Instant)> = logs
        .iter()
        .map(|l| down_interval(&l.lock().unwrap()))
        .collect();
    intervals.sort();
    let (first, second) = (intervals[0], intervals[1]);
    println!(
        "first node down {:?}, second node down {:?} after the first was back",
        first.1 - first.0,
        second.0.saturating_duration_since(first.1)
    );
    assert!(
        second.0 > first.1,
        "the second node reset while the first was down: {intervals:?}"
    );
    wait_lease_released(&api).await;
    for r in running {
        r.stop().await;
    }
    collector.shutdown("test done").await;
}

/// A node that died holding the reset Lease (its record never changes) delays the others by
/// the Lease's `leaseDurationSeconds` only: the waiting node takes it over, resets, and
/// releases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_delays_the_reset_by_its_lease_duration_only() {
    let api = ApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (collector, port) = common::collector(NODES[0].1, |_| {}).await;
    let store = api.store();
    store.seed(config(port, "3s")).unwrap();
    store
        .seed(json!({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}}))
        .unwrap();
    store
        .seed(
            json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"namespace": "ferrolb-system", "name": "ferrolb-reset-127.0.0.1"},
                     "spec": {"holderIdentity": "gone", "leaseDurationSeconds": 2,
                              "renewTime": "2026-01-01T00:00:00.000000Z"}}),
        )
        .unwrap();
    let running = start_node(&api, "n1", NODES[0].1).await;
    wait_for("the session up", Duration::from_secs(15), || {
        collector.status()[0].is_established()
    })
    .await;
    let t0 = Instant::now();
    store.seed(config(port, "6s")).unwrap();
    wait_for("the session reset", Duration::from_secs(15), || {
        collector.status()[0].established_count == 2
    })
    .await;
    let waited = t0.elapsed();
    println!("reset {waited:?} after the change, behind a dead holder's 2 s Lease");
    assert!(
        waited >= Duration::from_secs(2),
        "the node must wait for the Lease's duration: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(6),
        "a dead holder must not block longer than its Lease's duration: {waited:?}"
    );
    wait_lease_released(&api).await;
    running.stop().await;
    collector.shutdown("test done").await;
}
