//! Hitless configuration changes (issue 11, speaker part B), against real routers in network
//! namespaces:
//!
//! - reconnect after a reset: the ferrolb-bgp driver in a node namespace resets its session to
//!   FRR 8.4 / BIRD 2 twenty times with a hold-time change (Cease/Other Configuration Change,
//!   6/6) and times "NOTIFICATION sent -> Established again", with the fixed connect-retry wait
//!   (before) and with the quick jittered backoff (after);
//! - only changed sessions reset: the real `ferrolb speaker` with two peers on FRR; a ConfigMap
//!   edit changes one peer's hold time, the other peer's maximum-prefix limit and a community:
//!   only the first session resets.
//!
//! ```text
//!  node1 10.255.1.2, 10.255.1.3 ──veth── 10.255.1.1, 10.255.1.4  router (FRR or BIRD, API fixture)
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ferrolb_bgp::driver::{PeerConfig, Speaker, State};
use ferrolb_e2e::cluster::{seed_config, seed_endpoints, seed_node, seed_service};
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::bird::{Bird, BirdConfig, BirdNeighbor};
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::{speaker, veth, wait_until, Netns, ScratchDir};
use serde_json::Value;

const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 255, 1, 1);
const NODE: Ipv4Addr = Ipv4Addr::new(10, 255, 1, 2);
const ROUNDS: usize = 20;
/// The speaker's default `--connect-retry`.
const CONNECT_RETRY: Duration = Duration::from_secs(2);
/// The speaker's quick retry (`ferrolb_speaker::sessions::QUICK_RETRY`).
const QUICK_RETRY: Duration = Duration::from_millis(50);

/// Waits (bounded) until the driver's session to `peer` is Established.
async fn established(speaker: &Speaker, peer: IpAddr, what: &str) {
    let mut rx = speaker.watch(peer).expect("peer configured");
    let up = tokio::time::timeout(
        Duration::from_secs(20),
        rx.wait_for(|s| s.state == State::Established),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(
        up,
        "{what}: not Established within 20 s; last: {:?}",
        *rx.borrow()
    );
}

/// Resets the driver's session from `NODE` to `ROUTER` 2 x `rounds` times by changing the hold
/// time (6/6 each time), alternating a new session without the quick retry (before) and one
/// with it (after), so both see the router in the same conditions. Returns "update_peer called
/// (the NOTIFICATION leaves) -> Established again" of the before and of the after rounds.
fn reset_rounds(node: &Netns, rounds: usize) -> (Vec<Duration>, Vec<Duration>) {
    node.run_in(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let speaker = Speaker::new();
            let peer = IpAddr::V4(ROUTER);
            let mut cfg = PeerConfig::new(peer, 65001, 65000, NODE);
            cfg.local_address = Some(IpAddr::V4(NODE));
            cfg.session.hold_time = 9;
            cfg.session.connect_retry = CONNECT_RETRY;
            speaker.add_peer(cfg.clone()).expect("add peer");
            established(&speaker, peer, "first session").await;
            let (mut before, mut after) = (Vec::new(), Vec::new());
            for round in 0..2 * rounds {
                let quick = round % 2 == 1;
                cfg.session.hold_time = if quick { 9 } else { 10 };
                cfg.session.quick_retry = quick.then_some(QUICK_RETRY);
                let t0 = Instant::now();
                let reset = speaker.update_peer(cfg.clone()).await.expect("update");
                assert!(reset, "a hold-time change resets the session");
                established(&speaker, peer, &format!("round {round}")).await;
                if quick { &mut after } else { &mut before }.push(t0.elapsed());
            }
            speaker.shutdown("test done").await;
            (before, after)
        })
    })
}

/// p50, p99 and max in milliseconds (nearest rank).
fn percentiles(times: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    (rank(0.50), rank(0.99), ms[ms.len() - 1])
}

/// Runs the rounds before (connect-retry only) and after (quick retry), interleaved, prints
/// both and asserts that the quick retry brings the session back well before the fixed wait.
fn measure_reset_reconnect(router_name: &str, node: &Netns) {
    let (before, after) = reset_rounds(node, ROUNDS);
    let (b50, b99, bmax) = percentiles(&before);
    let (a50, a99, amax) = percentiles(&after);
    println!(
        "{router_name}: NOTIFICATION 6/6 sent -> Established again, {ROUNDS} rounds: \
         connect-retry {CONNECT_RETRY:?} only: p50 {b50:.1} ms, p99 {b99:.1} ms, max {bmax:.1} ms; \
         quick retry from {QUICK_RETRY:?}: p50 {a50:.1} ms, p99 {a99:.1} ms, max {amax:.1} ms"
    );
    assert!(
        a99 < 600.0,
        "{router_name}: with the quick retry the session must be back within 600 ms of the \
         reset, p99 was {a99:.1} ms ({after:?})"
    );
}

fn router_and_node(tag: &str) -> (Netns, Netns) {
    let router = Netns::new(&format!("{tag}r"));
    let node = Netns::new(&format!("{tag}n"));
    veth(&router, &node, 1);
    (router, node)
}

#[test]
fn reset_reconnect_time_frr() {
    if !require_root_and("reset_reconnect_time_frr", &["vtysh", "/usr/lib/frr/bgpd"]) {
        return;
    }
    let (router, node) = router_and_node("hl-rf");
    let cfg = FrrConfig::new(65000, ROUTER).neighbor(FrrNeighbor::new(IpAddr::V4(NODE), 65001));
    let _frr = Frr::start(&router, &cfg);
    measure_reset_reconnect("FRR 8.4", &node);
}

#[test]
fn reset_reconnect_time_bird() {
    if !require_root_and("reset_reconnect_time_bird", &["bird", "birdc"]) {
        return;
    }
    let (router, node) = router_and_node("hl-rb");
    let mut neighbor = BirdNeighbor::new("node1", IpAddr::V4(NODE), 65001);
    neighbor.ipv6 = false;
    let mut cfg = BirdConfig::new(65000, ROUTER);
    cfg.neighbors.push(neighbor);
    let _bird = Bird::start(&router, &cfg);
    measure_reset_reconnect("BIRD 2", &node);
}

/// Two peers of one node, both on the router's FRR (two router addresses; the node reaches
/// each from its own source address, so FRR sees two neighbors): peer A with `hold_a`, peer B
/// with `max_prefix_b`, and the pool's advertisement with `community`.
fn two_peer_config(hold_a: &str, max_prefix_b: u32, community: &str) -> String {
    format!(
        r#"peers:
- peer-address: 10.255.1.1
  source-address: 10.255.1.2
  peer-asn: 65000
  my-asn: 65001
  hold-time: {hold_a}
- peer-address: 10.255.1.4
  source-address: 10.255.1.3
  peer-asn: 65000
  my-asn: 65001
  hold-time: 3s
  max-prefix: {max_prefix_b}
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28]
  bgp-advertisements:
  - communities: ["{community}"]
"#
    )
}

fn neighbor_u64(frr: &Frr, addr: IpAddr, field: &str) -> u64 {
    frr.neighbor(addr)
        .and_then(|n| n.get(field).and_then(Value::as_u64))
        .unwrap_or_else(|| panic!("FRR neighbor {addr} has no {field}"))
}

/// Communities of every path FRR has for `prefix`, one string per path.
fn path_communities(frr: &Frr, prefix: &str) -> Vec<String> {
    frr.route("ipv4", prefix)
        .and_then(|r| r["paths"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|p| p["community"]["string"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A ConfigMap edit that changes peer A's hold time (a new OPEN), peer B's maximum-prefix
/// limit (no OPEN field) and the advertisement's community (UPDATEs): the real `ferrolb speaker`
/// resets only A's session, with Cease/Other Configuration Change (6/6); B's session stays up
/// (same `connectionsEstablished`, no NOTIFICATION in bgpd's log) and gets the new community
/// by UPDATE. Before the fix the maximum-prefix change reset B as well.
#[test]
fn config_edit_resets_only_the_changed_session() {
    if !require_root_and(
        "config_edit_resets_only_the_changed_session",
        &["vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    let dir = ScratchDir::new("hitless-only");
    let (router, node) = router_and_node("hl-oc");
    router.run_ok(&["ip", "addr", "add", "10.255.1.4/24", "dev", "veth1a"]);
    node.run_ok(&["ip", "addr", "add", "10.255.1.3/24", "dev", "veth1b"]);
    let a: IpAddr = "10.255.1.2".parse().unwrap();
    let b: IpAddr = "10.255.1.3".parse().unwrap();
    let mut cfg = FrrConfig::new(65000, ROUTER)
        .neighbor(FrrNeighbor::new(a, 65001))
        .neighbor(FrrNeighbor::new(b, 65001));
    cfg.maximum_paths = Some(2);
    cfg.extra_router_lines
        .push("bgp log-neighbor-changes".to_string());
    let frr = Frr::start(&router, &cfg);
    let api = NsApi::start(&router);
    let store = &api.store;
    seed_config(store, &two_peer_config("3s", 100, "64512:1"));
    seed_node(store, "node1", 1, false);
    seed_service(store, "front", "198.51.100.1", "Cluster");
    seed_endpoints(store, "front", &["node1"]);
    let url = format!("http://10.255.1.1:{}", api.port);
    let log = dir.join("node1.log");
    let mut speaker = speaker::start_speaker(&node, &url, "node1", &[], &log);
    let prefix = "198.51.100.1/32";
    wait_until(
        Duration::from_secs(20),
        "both sessions up with the route and community 64512:1",
        || (path_communities(&frr, prefix) == ["64512:1", "64512:1"]).then_some(()),
    );
    assert_eq!(frr.next_hops(prefix), ["10.255.1.2", "10.255.1.3"]);
    let conns_a = neighbor_u64(&frr, a, "connectionsEstablished");
    let conns_b = neighbor_u64(&frr, b, "connectionsEstablished");

    seed_config(store, &two_peer_config("6s", 200, "64512:2"));
    wait_until(
        Duration::from_secs(15),
        "A re-established with hold time 6 s and both paths with community 64512:2",
        || {
            let n = frr.neighbor(a)?;
            let a_up = n["bgpState"] == "Established" && n["bgpTimerHoldTimeMsecs"] == 6000;
            (a_up && path_communities(&frr, prefix) == ["64512:2", "64512:2"]).then_some(())
        },
    );
    let a_notes = frr.notifications_logged(a);
    assert_eq!(a_notes.len(), 1, "{a_notes:?}");
    assert!(
        a_notes[0].contains(" 6/6 ") && a_notes[0].contains("Other Configuration Change"),
        "{a_notes:?}"
    );
    assert_eq!(neighbor_u64(&frr, a, "connectionsEstablished"), conns_a + 1);
    assert!(
        frr.notifications_logged(b).is_empty(),
        "B's session must not be reset: {:?}\nspeaker log:\n{}",
        frr.notifications_logged(b),
        dir.read("node1.log")
    );
    assert!(frr.established(b));
    assert_eq!(neighbor_u64(&frr, b, "connectionsEstablished"), conns_b);
    assert_eq!(neighbor_u64(&frr, b, "bgpTimerHoldTimeMsecs"), 3000);
    speaker.stop(Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// Scenario 3 of issue 11: a hold-time change with three nodes, traffic flowing.
//
//  node1 10.255.0.11 ┐
//  node2 10.255.0.12 ┼─ br0 10.255.0.1  router (FRR or BIRD, ECMP into its kernel table;
//  node3 10.255.0.13 ┘                   API fixture)  10.255.1.1 ── client 10.255.1.2
//
// Every node announces both LoadBalancer IPs (eTP Cluster, endpoints on every node) and
// answers UDP on them; the client sends 1,000 packets/s to each; the router's kernel table is
// sampled every 5 ms.

/// The LoadBalancer IPs of the scenario.
const LB_IPS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(198, 51, 100, 1),
    Ipv4Addr::new(198, 51, 100, 2),
];
const UDP_PORT: u16 = 7000;
const FLOW_RATE: u32 = 1000;
const SAMPLE: Duration = Duration::from_millis(5);
const NODE_COUNT: u8 = 3;

fn node_addr(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 255, 0, 10 + i)
}

/// The router daemon of the scenario.
enum RouterDaemon {
    Frr(Frr),
    Bird(Bird),
}

/// The namespaces and processes of scenario 3. Field order is drop order: speakers, flows'
/// peers and daemons stop before the namespaces go.
struct ThreeNodes {
    _speakers: Vec<ferrolb_e2e::ChildGuard>,
    _responders: Vec<ferrolb_e2e::udp_flow::Responder>,
    daemon: RouterDaemon,
    api: NsApi,
    dir: ScratchDir,
    _nodes: Vec<Netns>,
    client: Netns,
    router: Netns,
}

fn scenario_config(hold: &str, graceful_restart: bool) -> String {
    let gr = if graceful_restart {
        "  graceful-restart: true\n  restart-time: 120\n"
    } else {
        ""
    };
    format!(
        "peers:\n- peer-address: 10.255.0.1\n  peer-asn: 65000\n  my-asn: 65001\n  \
         hold-time: {hold}\n{gr}address-pools:\n- name: default\n  protocol: bgp\n  \
         addresses: [198.51.100.0/28]\n"
    )
}

/// Next hops of `prefix` in `ns`'s kernel table.
fn kernel_next_hops(ns: &Netns, prefix: &str) -> usize {
    let out = ns.exec(&["ip", "-j", "route", "show", prefix]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let route = &v[0];
    match route["nexthops"].as_array() {
        Some(hops) => hops.len(),
        None => usize::from(route["gateway"].is_string()),
    }
}

impl ThreeNodes {
    fn build(
        tag: &str,
        graceful_restart: bool,
        start: impl FnOnce(&Netns) -> RouterDaemon,
    ) -> Self {
        let dir = ScratchDir::new(tag);
        let router = Netns::new(&format!("{tag}r"));
        router.run_ok(&["ip", "link", "add", "br0", "type", "bridge"]);
        router.run_ok(&["ip", "addr", "add", "10.255.0.1/24", "dev", "br0"]);
        router.run_ok(&["ip", "link", "set", "br0", "up"]);
        router.sysctl("net.ipv4.ip_forward", "1");
        let mut nodes = Vec::new();
        for i in 1..=NODE_COUNT {
            let node = Netns::new(&format!("{tag}{i}"));
            let port = format!("vn{i}");
            router.run_ok(&[
                "ip",
                "link",
                "add",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                node.name(),
            ]);
            router.run_ok(&["ip", "link", "set", &port, "master", "br0", "up"]);
            node.run_ok(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", node_addr(i)),
                "dev",
                "eth0",
            ]);
            node.run_ok(&["ip", "link", "set", "eth0", "up"]);
            for ip in LB_IPS {
                node.run_ok(&["ip", "addr", "add", &format!("{ip}/32"), "dev", "lo"]);
            }
            node.run_ok(&["ip", "route", "add", "10.255.1.0/24", "via", "10.255.0.1"]);
            let target = node_addr(i).to_string();
            wait_until(Duration::from_secs(10), &format!("ping {target}"), || {
                router
                    .exec(&["ping", "-c1", "-W1", "-q", &target])
                    .status
                    .success()
                    .then_some(())
            });
            nodes.push(node);
        }
        let client = Netns::new(&format!("{tag}c"));
        veth(&router, &client, 1);
        client.run_ok(&["ip", "route", "add", "198.51.100.0/24", "via", "10.255.1.1"]);
        let daemon = start(&router);
        let api = NsApi::start(&router);
        seed_config(&api.store, &scenario_config("9s", graceful_restart));
        let names: Vec<String> = (1..=NODE_COUNT).map(|i| format!("node{i}")).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        for (i, name) in names.iter().enumerate() {
            seed_node(&api.store, name, i as u8 + 1, false);
        }
        for (i, ip) in LB_IPS.iter().enumerate() {
            let service = format!("front{i}");
            seed_service(&api.store, &service, &ip.to_string(), "Cluster");
            seed_endpoints(&api.store, &service, &name_refs);
        }
        let mut responders = Vec::new();
        for node in &nodes {
            for ip in LB_IPS {
                responders.push(ferrolb_e2e::udp_flow::Responder::start(
                    node,
                    std::net::SocketAddr::from((ip, UDP_PORT)),
                ));
            }
        }
        let url = format!("http://10.255.0.1:{}", api.port);
        let speakers = nodes
            .iter()
            .zip(&names)
            .map(|(node, name)| {
                let log = dir.join(&format!("{name}.log"));
                speaker::start_speaker(node, &url, name, &[], &log)
            })
            .collect();
        ThreeNodes {
            _speakers: speakers,
            _responders: responders,
            daemon,
            api,
            dir,
            _nodes: nodes,
            client,
            router,
        }
    }

    /// Waits until both LoadBalancer IPs have a route with all three next hops at the router.
    fn wait_full_ecmp(&self, what: &str) {
        let all = usize::from(NODE_COUNT);
        let ok = ferrolb_e2e::wait_until_opt(Duration::from_secs(30), || {
            LB_IPS
                .iter()
                .all(|ip| kernel_next_hops(&self.router, &format!("{ip}/32")) == all)
                .then_some(())
        });
        if ok.is_none() {
            panic!(
                "{what}: the router has not got {all} next hops for each LoadBalancer IP: {:?}\n\
                 node1 log:\n{}",
                LB_IPS
                    .iter()
                    .map(|ip| kernel_next_hops(&self.router, &format!("{ip}/32")))
                    .collect::<Vec<_>>(),
                self.dir.read("node1.log")
            );
        }
    }

    /// Whether the router has every node's session up with hold time `hold` seconds.
    fn sessions_with_hold(&self, hold: u64) -> bool {
        (1..=NODE_COUNT).all(|i| {
            let addr = IpAddr::V4(node_addr(i));
            match &self.daemon {
                RouterDaemon::Frr(frr) => frr.neighbor(addr).is_some_and(|n| {
                    n["bgpState"] == "Established" && n["bgpTimerHoldTimeMsecs"] == hold * 1000
                }),
                RouterDaemon::Bird(bird) => {
                    let out = bird.birdc(&["show", "protocols", "all", &format!("node{i}")]);
                    out.contains("Established")
                        && out
                            .lines()
                            .find(|l| l.contains("Hold timer:"))
                            .is_some_and(|l| l.trim_end().ends_with(&format!("/{hold}")))
                }
            }
        })
    }
}

/// Seconds since the start of the month of a log line's RFC 3339 timestamp
/// (`2026-12-06T09:22:29.851906Z ...`).
fn log_time(line: &str) -> Option<f64> {
    let stamp = line.split_whitespace().next()?;
    let (date, time) = stamp.trim_end_matches('Z').split_once('T')?;
    let day: f64 = date.rsplit('-').next()?.parse().ok()?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next()?.parse().ok()?;
    Some(day * 86_400.0 + h * 3600.0 + m * 60.0 + sec)
}

/// Each node's (taken, released) times of the reset Lease, from the speakers' logs.
fn lease_intervals(lab: &ThreeNodes) -> Vec<(String, f64, f64)> {
    (1..=NODE_COUNT)
        .map(|i| {
            let name = format!("node{i}");
            let log = lab.dir.read(&format!("{name}.log"));
            let at = |what: &str| {
                let lines: Vec<f64> = log
                    .lines()
                    .filter(|l| l.contains(what))
                    .filter_map(log_time)
                    .collect();
                assert_eq!(lines.len(), 1, "{name}: one '{what}' expected:\n{log}");
                lines[0]
            };
            (
                name.clone(),
                at("reset Lease taken"),
                at("reset Lease released"),
            )
        })
        .collect()
}

/// What one LoadBalancer IP went through during the change.
struct IpFigures {
    ip: Ipv4Addr,
    report: ferrolb_e2e::udp_flow::FlowReport,
    longest_gap: Duration,
    absent: usize,
    resolution: Duration,
}

/// Scenario 3: the hold time goes from 9 s to 6 s in the ConfigMap while traffic flows.
/// Prints the figures per IP and asserts no lost packet and no sample without a route.
fn hold_time_change(router_name: &str, lab: &ThreeNodes, graceful_restart: bool) {
    lab.wait_full_ecmp("before the change");
    assert!(
        ferrolb_e2e::wait_until_opt(Duration::from_secs(20), || lab
            .sessions_with_hold(9)
            .then_some(()))
        .is_some(),
        "sessions up with hold time 9 s"
    );
    let samplers: Vec<_> = LB_IPS
        .iter()
        .map(|ip| {
            ferrolb_e2e::route_sampler::RouteSampler::start(
                &lab.router,
                &format!("{ip}/32"),
                SAMPLE,
            )
        })
        .collect();
    let flows: Vec<_> = LB_IPS
        .iter()
        .map(|ip| {
            ferrolb_e2e::udp_flow::Flow::start(
                &lab.client,
                std::net::SocketAddr::from((Ipv4Addr::new(10, 255, 1, 2), 0)),
                std::net::SocketAddr::from((*ip, UDP_PORT)),
                FLOW_RATE,
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // traffic before the change
    let t0 = Instant::now();
    seed_config(&lab.api.store, &scenario_config("6s", graceful_restart));
    let done = ferrolb_e2e::wait_until_opt(Duration::from_secs(30), || {
        lab.sessions_with_hold(6).then_some(())
    });
    let took = t0.elapsed();
    lab.wait_full_ecmp("after the change");
    std::thread::sleep(Duration::from_millis(500)); // traffic after the change
    let figures: Vec<IpFigures> = LB_IPS
        .iter()
        .zip(flows)
        .zip(samplers)
        .map(|((ip, flow), sampler)| {
            let report = flow.stop();
            let samples = sampler.stop();
            IpFigures {
                ip: *ip,
                report,
                longest_gap: samples.longest_gap(),
                absent: samples.absent(),
                resolution: samples.max_interval(),
            }
        })
        .collect();
    let mode = if graceful_restart {
        "with GR"
    } else {
        "without GR"
    };
    for f in &figures {
        println!(
            "scenario 3, {router_name}, {mode}: {} sent {} answered {} lost {}; longest gap \
             {:?} ({} samples without a route, sampling interval at most {:?}); all three \
             sessions reset and back in {took:?}",
            f.ip,
            f.report.sent,
            f.report.answered,
            f.report.lost(),
            f.longest_gap,
            f.absent,
            f.resolution
        );
    }
    assert!(
        done.is_some(),
        "{router_name} {mode}: not every session came back with hold time 6 s within 30 s"
    );
    let mut held = lease_intervals(lab);
    held.sort_by(|a, b| a.1.total_cmp(&b.1));
    let order: Vec<String> = held
        .iter()
        .map(|(n, from, to)| format!("{n} {:.0} ms", (to - from) * 1000.0))
        .collect();
    println!("scenario 3, {router_name}, {mode}: reset Lease held in turn: {order:?}");
    for pair in held.windows(2) {
        assert!(
            pair[1].1 >= pair[0].2,
            "{router_name} {mode}: {} reset while {} held the Lease: {held:?}",
            pair[1].0,
            pair[0].0
        );
    }
    for f in &figures {
        assert!(
            f.report.sent > FLOW_RATE,
            "{}: the flow ran ({:?})",
            f.ip,
            f.report.sent
        );
        assert_eq!(
            f.report.lost(),
            0,
            "{router_name} {mode}: packets lost to {}",
            f.ip
        );
        assert_eq!(
            f.absent, 0,
            "{router_name} {mode}: {} left the router's table",
            f.ip
        );
    }
}

fn frr_lab(tag: &str, graceful_restart: bool) -> ThreeNodes {
    ThreeNodes::build(tag, graceful_restart, |router| {
        let mut cfg = FrrConfig::new(65000, Ipv4Addr::new(10, 255, 0, 1));
        for i in 1..=NODE_COUNT {
            cfg = cfg.neighbor(FrrNeighbor::new(IpAddr::V4(node_addr(i)), 65001));
        }
        cfg.maximum_paths = Some(u32::from(NODE_COUNT));
        cfg.extra_router_lines
            .push("bgp log-neighbor-changes".to_string());
        if graceful_restart {
            cfg.extra_router_lines
                .push("bgp graceful-restart".to_string());
        }
        RouterDaemon::Frr(Frr::start(router, &cfg))
    })
}

fn bird_lab(tag: &str, graceful_restart: bool) -> ThreeNodes {
    ThreeNodes::build(tag, graceful_restart, |router| {
        let mut cfg = BirdConfig::new(65000, Ipv4Addr::new(10, 255, 0, 1));
        cfg.kernel_export_v4 = true;
        cfg.kernel_merge_paths = true;
        for i in 1..=NODE_COUNT {
            let mut n = BirdNeighbor::new(&format!("node{i}"), IpAddr::V4(node_addr(i)), 65001);
            n.local_address = Some(IpAddr::V4(Ipv4Addr::new(10, 255, 0, 1)));
            n.ipv6 = false;
            cfg.neighbors.push(n);
        }
        RouterDaemon::Bird(Bird::start(router, &cfg))
    })
}

fn frr_required(test: &str) -> bool {
    require_root_and(test, &["vtysh", "/usr/lib/frr/bgpd", "ping"])
}

fn bird_required(test: &str) -> bool {
    require_root_and(test, &["bird", "birdc", "ping"])
}

#[test]
fn scenario3_hold_time_change_frr_without_gr() {
    if !frr_required("scenario3_hold_time_change_frr_without_gr") {
        return;
    }
    let lab = frr_lab("h3f", false);
    hold_time_change("FRR 8.4", &lab, false);
}

#[test]
fn scenario3_hold_time_change_frr_with_gr() {
    if !frr_required("scenario3_hold_time_change_frr_with_gr") {
        return;
    }
    let lab = frr_lab("h3g", true);
    hold_time_change("FRR 8.4", &lab, true);
}

#[test]
fn scenario3_hold_time_change_bird_without_gr() {
    if !bird_required("scenario3_hold_time_change_bird_without_gr") {
        return;
    }
    let lab = bird_lab("h3b", false);
    hold_time_change("BIRD 2", &lab, false);
}

#[test]
fn scenario3_hold_time_change_bird_with_gr() {
    if !bird_required("scenario3_hold_time_change_bird_with_gr") {
        return;
    }
    let lab = bird_lab("h3h", true);
    hold_time_change("BIRD 2", &lab, true);
}
