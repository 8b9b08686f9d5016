//! Weighted ECMP for `externalTrafficPolicy: Local` (issue 13): three real `ferrolb speaker`
//! processes, each in a node namespace, announce one Service address to FRR 8.4 (zebra +
//! bgpd, `maximum-paths 8`) with `bgp-advertisements[].weight: endpoints`; FRR weights the
//! kernel next hops by the Link Bandwidth each node attaches; real UDP flows from a client
//! namespace through the router are answered in the node namespaces.
//!
//! ```text
//!  node-a 10.255.1.2 ──veth── 10.255.1.1 ┐
//!  node-b 10.255.2.2 ──veth── 10.255.2.1 ├ router: FRR AS 65000 + API fixture,
//!  node-c 10.255.3.2 ──veth── 10.255.3.1 │         ip_forward, fib_multipath_hash_policy=1
//!  client 10.255.4.2 ──veth── 10.255.4.1 ┘
//! ```
//! Every node has the Service address 198.51.100.1 on `lo` and a responder on UDP 7000 that
//! answers with the node's tag, so each flow's answer says which node the router chose.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferrolb_e2e::cluster::{seed_config, seed_endpoints, seed_node, seed_service};
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::flow_spread::probe_flows;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::route_weights::next_hop_weights;
use ferrolb_e2e::udp_flow::Responder;
use ferrolb_e2e::{ferrolb_bin, speaker, veth, wait_until_opt, ChildGuard, Netns, ScratchDir};
use serde_json::Value;

const SERVICE_IP: &str = "198.51.100.1";
/// An eTP Cluster Service in the same pool.
const CLUSTER_IP: &str = "198.51.100.2";
const PREFIX: &str = "198.51.100.1/32";
const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
const FLOWS: u16 = 4000;
/// First source port of the probed flows.
const FIRST_PORT: u16 = 20000;
/// Bound for one weight change to reach the router's kernel (the issue asks for 200 ms at p99).
/// The issue's latency target (p99 of the weight changes), asserted by the benchmark.
const CHANGE_LIMIT: Duration = Duration::from_millis(200);
/// The CI test's bound: a weight change that takes longer is broken, not slow (speed targets
/// belong to the benchmark; a loaded CI machine must not fail the behaviour test on them).
const CI_CHANGE_LIMIT: Duration = Duration::from_secs(1);
/// Weight changes measured in the CI test; the ignored bench runs the issue's 50.
const CI_CHANGES: usize = 10;
const BENCH_CHANGES: usize = 50;

fn config_text(weighted: bool) -> String {
    let mut c = String::from("peers:\n");
    for (i, node) in NODES.iter().enumerate() {
        c.push_str(&format!(
            "- peer-address: 10.255.{}.1\n  peer-asn: 65000\n  my-asn: 65001\n  \
             node-selectors:\n  - match-labels: {{kubernetes.io/hostname: {node}}}\n",
            i + 1
        ));
    }
    c.push_str(
        "address-pools:\n- name: default\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n",
    );
    if weighted {
        c.push_str("  bgp-advertisements:\n  - weight: endpoints\n");
    }
    c
}

/// `a` endpoints on node-a, `b` on node-b, none on node-c.
fn endpoints(a: usize, b: usize) -> Vec<&'static str> {
    let mut v = vec![NODES[0]; a];
    v.extend(std::iter::repeat_n(NODES[1], b));
    v
}

fn hop(node: usize) -> IpAddr {
    format!("10.255.{}.2", node + 1).parse().unwrap()
}

/// Kernel weights of node-a and node-b when the route has exactly those two next hops.
fn weights_ab(router: &Netns) -> Option<(u32, u32)> {
    let w = next_hop_weights(router.name(), PREFIX)?;
    if w.len() != 2 {
        return None;
    }
    Some((*w.get(&hop(0))?, *w.get(&hop(1))?))
}

fn is_three_to_one((a, b): (u32, u32)) -> bool {
    // FRR scales link bandwidths to weights 1-100 (75 and 25 here); allow its rounding.
    a.abs_diff(3 * b) <= 3 && b > 0
}

fn is_equal((a, b): (u32, u32)) -> bool {
    a == b
}

/// A condition on the kernel weights of node-a and node-b.
type WeightCheck = fn((u32, u32)) -> bool;

/// Polls the router's kernel route (one `ip` call per millisecond at most, bounded by `limit`) until
/// `want` holds; the time it took.
fn time_until(router: &Netns, limit: Duration, want: WeightCheck) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if weights_ab(router).is_some_and(want) {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// The three nodes, the router and the client, with FRR, the API fixture, three speakers and
/// three responders running. Field order = drop order.
struct Lab {
    _responders: Vec<Responder>,
    _speakers: Vec<ChildGuard>,
    api: NsApi,
    frr: Frr,
    client: Netns,
    nodes: Vec<Netns>,
    router: Netns,
    dir: ScratchDir,
}

impl Lab {
    fn start(weighted: bool) -> Lab {
        let dir = ScratchDir::new("wecmp");
        let router = Netns::new("wecmp-r");
        let nodes: Vec<Netns> = ["wecmp-a", "wecmp-b", "wecmp-c"]
            .iter()
            .map(|t| Netns::new(t))
            .collect();
        let client = Netns::new("wecmp-cl");
        for (i, n) in nodes.iter().enumerate() {
            let index = i as u8 + 1;
            veth(&router, n, index);
            n.run_ok(&[
                "ip",
                "addr",
                "add",
                &format!("{SERVICE_IP}/32"),
                "dev",
                "lo",
            ]);
            let via = format!("10.255.{index}.1");
            n.run_ok(&["ip", "route", "add", "10.255.4.0/24", "via", &via]);
        }
        veth(&router, &client, 4);
        client.run_ok(&["ip", "route", "add", "default", "via", "10.255.4.1"]);
        router.sysctl("net.ipv4.ip_forward", "1");
        router.sysctl("net.ipv4.fib_multipath_hash_policy", "1");

        let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap());
        for i in 0..NODES.len() {
            cfg = cfg.neighbor(FrrNeighbor::new(hop(i), 65001));
        }
        cfg.maximum_paths = Some(8);
        let frr = Frr::start(&router, &cfg);

        let api = NsApi::start(&router);
        seed_config(&api.store, &config_text(weighted));
        for (i, node) in NODES.iter().enumerate() {
            seed_node(&api.store, node, i as u8 + 1, false);
        }
        seed_service(&api.store, "front", SERVICE_IP, "Local");
        seed_endpoints(&api.store, "front", &endpoints(3, 1));
        let speakers = NODES
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let url = format!("http://10.255.{}.1:{}", i + 1, api.port);
                let log = dir.join(&format!("{node}.log"));
                speaker::start_speaker(&nodes[i], &url, node, &[], &log)
            })
            .collect();
        let target: SocketAddr = format!("{SERVICE_IP}:7000").parse().unwrap();
        let responders = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| Responder::tagged(n, target, i as u8))
            .collect();
        Lab {
            _responders: responders,
            _speakers: speakers,
            api,
            frr,
            client,
            nodes,
            router,
            dir,
        }
    }

    /// Waits (bounded) for both eBGP sessions of node-a and node-b and a two-hop route.
    fn wait_two_hops(&self) -> (u32, u32) {
        let got = wait_until_opt(Duration::from_secs(30), || weights_ab(&self.router));
        got.unwrap_or_else(|| {
            panic!(
                "no two-hop kernel route for {PREFIX}: {:?}\n--- FRR:\n{}\n--- node-a:\n{}",
                next_hop_weights(self.router.name(), PREFIX),
                self.frr
                    .vtysh(&[&format!("show bgp ipv4 unicast {PREFIX}")]),
                self.dir.read("node-a.log")
            )
        })
    }

    /// Which node answered each of the [`FLOWS`] flows.
    fn probe(&self) -> Vec<Option<u8>> {
        let target: SocketAddr = format!("{SERVICE_IP}:7000").parse().unwrap();
        probe_flows(
            &self.client,
            "10.255.4.2".parse().unwrap(),
            FIRST_PORT..FIRST_PORT + FLOWS,
            target,
        )
    }

    /// The router's kernel route as `ip route show` prints it (next hops in kernel order).
    fn route_text(&self) -> String {
        let out = self.router.run_ok(&["ip", "route", "show", PREFIX]);
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// `connectionsEstablished` FRR counts per node.
    fn connections(&self) -> Vec<Value> {
        (0..NODES.len())
            .map(|i| {
                self.frr
                    .neighbor(hop(i))
                    .map(|n| n["connectionsEstablished"].clone())
                    .unwrap_or(Value::Null)
            })
            .collect()
    }

    /// UPDATE messages FRR received from each node.
    fn updates_received(&self) -> Vec<u64> {
        (0..NODES.len())
            .map(|i| {
                self.frr
                    .neighbor(hop(i))
                    .and_then(|n| n["messageStats"]["updatesRecv"].as_u64())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// `ferrolb status --json` of node `i`: the entry of `service` (`web/front`).
    fn service_status(&self, i: usize, service: &str) -> Value {
        let bin = ferrolb_bin().display().to_string();
        let out = self.nodes[i].run_ok(&[&bin, "status", "--json"]);
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        v["services"]
            .as_array()
            .and_then(|s| s.iter().find(|e| e["service"] == service).cloned())
            .unwrap_or(Value::Null)
    }
}

/// Answers per node (tags 0, 1, 2) and unanswered flows.
fn shares(answers: &[Option<u8>]) -> ([usize; 3], usize) {
    let mut per = [0usize; 3];
    let mut lost = 0;
    for a in answers {
        match a {
            Some(t) if (*t as usize) < 3 => per[*t as usize] += 1,
            _ => lost += 1,
        }
    }
    (per, lost)
}

fn percent(n: usize) -> f64 {
    n as f64 * 100.0 / f64::from(FLOWS)
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64) * 0.99).ceil() as usize;
    samples[i.clamp(1, samples.len()) - 1]
}

/// Endpoints 3 / 1 / 0: next hops A and B weighted 3:1, C absent, the weights in
/// `ferrolb status`, and real traffic split 3:1. Returns which node answered each flow.
fn check_three_to_one(lab: &Lab) -> Vec<Option<u8>> {
    let first = lab.wait_two_hops();
    let w = wait_until_opt(Duration::from_secs(5), || {
        weights_ab(&lab.router).filter(|w| is_three_to_one(*w))
    })
    .unwrap_or_else(|| panic!("weights {first:?}, want 3:1"));
    let all = next_hop_weights(lab.router.name(), PREFIX).unwrap_or_default();
    assert!(
        !all.contains_key(&hop(2)),
        "node-c has no endpoint: {all:?}"
    );
    let a_status = lab.service_status(0, "web/front");
    assert_eq!(a_status["weight"], 3, "{a_status}");
    assert_eq!(lab.service_status(1, "web/front")["weight"], 1);
    assert_eq!(lab.service_status(2, "web/front")["announced"], false);

    let answers = lab.probe();
    let (per, lost) = shares(&answers);
    println!(
        "3:1 (kernel weights {}:{}): node-a {} ({:.1} %), node-b {} ({:.1} %), node-c {}, unanswered {lost}",
        w.0, w.1, per[0], percent(per[0]), per[1], percent(per[1]), per[2]
    );
    println!(
        "ratio {:.2} (3:1 ±5 % is 2.85-3.15); route: {}",
        per[0] as f64 / per[1].max(1) as f64,
        lab.route_text()
    );
    assert!(lost <= 10, "{lost} of {FLOWS} flows unanswered");
    assert!(
        (percent(per[0]) - 75.0).abs() <= 5.0,
        "node-a share {per:?}"
    );
    assert!(
        (percent(per[1]) - 25.0).abs() <= 5.0,
        "node-b share {per:?}"
    );
    assert_eq!(per[2], 0, "node-c announces nothing");
    answers
}

/// An eTP Cluster Service in the same weighted pool: announced by all three nodes with equal
/// weights; the option shows as ignored in `ferrolb status`.
fn check_cluster_service_ignores_the_weight(lab: &Lab) {
    seed_service(&lab.api.store, "cluster", CLUSTER_IP, "Cluster");
    seed_endpoints(&lab.api.store, "cluster", &endpoints(3, 1));
    let prefix = format!("{CLUSTER_IP}/32");
    let w = wait_until_opt(Duration::from_secs(10), || {
        next_hop_weights(lab.router.name(), &prefix).filter(|w| w.len() == 3)
    })
    .unwrap_or_else(|| panic!("no three-hop route for {prefix}"));
    let weights: Vec<u32> = w.values().copied().collect();
    assert!(weights.iter().all(|x| *x == weights[0]), "{w:?}");
    let status = lab.service_status(0, "web/cluster");
    assert!(status["weight"].is_null(), "{status}");
    assert!(
        status["weight_ignored"]
            .as_str()
            .is_some_and(|t| t.contains("Cluster")),
        "{status}"
    );
    let bin = ferrolb_bin().display().to_string();
    let text = lab.nodes[0].run_ok(&[&bin, "status", "--services"]);
    let row = text.lines().find(|l| l.starts_with("web/cluster"));
    assert!(row.is_some_and(|r| r.contains(" ignored ")), "{text}");
}

/// Alternates node-b between 3 and 1 endpoints `changes` times; returns how long each change
/// took to reach the kernel weights. After the first change (3:1 -> 1:1) the flows are probed
/// again and those that changed node are counted.
fn scale_rounds(lab: &Lab, changes: usize, before: &[Option<u8>]) -> Vec<Duration> {
    let mut took = Vec::with_capacity(changes);
    for round in 0..changes {
        let (b, want, label): (usize, WeightCheck, &str) = if round % 2 == 0 {
            (3, is_equal, "1:1")
        } else {
            (1, is_three_to_one, "3:1")
        };
        let t0 = Instant::now();
        seed_endpoints(&lab.api.store, "front", &endpoints(3, b));
        if time_until(&lab.router, Duration::from_secs(5), want).is_none() {
            panic!(
                "change {round}: weights {:?}, want {label} within 5 s",
                weights_ab(&lab.router)
            );
        }
        took.push(t0.elapsed());
        if round == 0 {
            let after = lab.probe();
            let (per, lost) = shares(&after);
            let moved = before
                .iter()
                .zip(&after)
                .filter(|(x, y)| x.is_some() && y.is_some() && x != y)
                .count();
            println!(
                "1:1 after scaling node-b to 3: node-a {} ({:.1} %), node-b {} ({:.1} %), unanswered {lost}; \
                 {moved} of {FLOWS} flows ({:.1} %) changed node",
                per[0], percent(per[0]), per[1], percent(per[1]), percent(moved)
            );
            println!("route after: {}", lab.route_text());
            assert!((percent(per[0]) - 50.0).abs() <= 5.0, "after 1:1 {per:?}");
            assert!(moved > 0, "no flow moved although the weights changed");
        }
    }
    took
}

/// The weighted scenario with `changes` weight changes (B 1 -> 3 -> 1 ...), whose p99 must be
/// within `limit`; prints the figures and whether the 200 ms target was met.
fn weighted_scenario(test: &str, changes: usize, limit: Duration) {
    if !require_root_and(test, &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"]) {
        return;
    }
    let lab = Lab::start(true);
    let before = check_three_to_one(&lab);
    check_cluster_service_ignores_the_weight(&lab);

    // Scale B from 1 to 3 and back: one UPDATE each, no session reset.
    let conns = lab.connections();
    let updates_before = lab.updates_received();
    let mut took = scale_rounds(&lab, changes, &before);
    assert_eq!(lab.connections(), conns, "a session was reset");
    // Each change is one UPDATE from node-b (its weight) and none from node-a (FRR counts
    // KEEPALIVEs apart); wait briefly for FRR's counters to catch up with the last one.
    let want = [updates_before[0], updates_before[1] + changes as u64];
    let updates = wait_until_opt(Duration::from_secs(2), || {
        let now = lab.updates_received();
        (now[..2] == want).then_some(now)
    });
    assert!(
        updates.is_some(),
        "UPDATEs from node-a/node-b: before {updates_before:?}, after {:?}, want {want:?}",
        lab.updates_received()
    );
    // The ignored option was logged once, not on every pass of the speaker's loop.
    let log = lab.dir.read("node-a.log");
    let warnings = log
        .lines()
        .filter(|l| {
            l.contains("web/cluster") && l.contains("ignored for externalTrafficPolicy Cluster")
        })
        .count();
    assert_eq!(
        warnings, 1,
        "warnings about web/cluster in node-a's log:\n{log}"
    );

    let max = *took.iter().max().unwrap_or(&Duration::ZERO);
    let p = p99(&mut took);
    let all: Vec<u128> = took.iter().map(Duration::as_millis).collect();
    let median = took[took.len() / 2];
    println!("weight change latencies (ms, sorted): {all:?}");
    println!(
        "{changes} weight changes (endpoint update to kernel weights): median {median:?}, p99 {p:?}, max {max:?}; sessions not reset, one UPDATE per change"
    );
    println!(
        "target p99 <= {CHANGE_LIMIT:?}: {}",
        if p <= CHANGE_LIMIT { "met" } else { "NOT met" }
    );
    assert!(p <= limit, "p99 {p:?} over {limit:?}");
}

/// Endpoints 3/1/0 with `weight: endpoints`: kernel weights 3:1, node-c absent, 4,000 flows
/// split within ±5 points of 75 %/25 %; scaling node-b to 3 makes the weights 1:1 (p99 over the
/// CI's changes within 1 s; the 200 ms target is printed here and asserted by the benchmark)
/// with no session reset; the flows that moved are counted.
#[test]
fn speaker_weighted_ecmp_follows_endpoints() {
    weighted_scenario(
        "speaker_weighted_ecmp_follows_endpoints",
        CI_CHANGES,
        CI_CHANGE_LIMIT,
    );
}

/// The issue's full 50 weight changes (run with `--ignored`).
#[test]
#[ignore = "bench: 50 weight changes; the CI test runs 10"]
fn bench_weighted_ecmp_fifty_changes() {
    weighted_scenario(
        "bench_weighted_ecmp_fifty_changes",
        BENCH_CHANGES,
        CHANGE_LIMIT,
    );
}

/// Control: the same scenario without the option gives equal weights and an even split.
#[test]
fn speaker_without_weight_gives_equal_weights() {
    if !require_root_and(
        "speaker_without_weight_gives_equal_weights",
        &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/zebra"],
    ) {
        return;
    }
    let lab = Lab::start(false);
    let w = lab.wait_two_hops();
    assert!(is_equal(w), "weights {w:?} without the option");
    assert!(lab.service_status(0, "web/front")["weight"].is_null());
    let (per, lost) = shares(&lab.probe());
    println!(
        "control, no weight option (kernel weights {}:{}): node-a {} ({:.1} %), node-b {} ({:.1} %), node-c {}, unanswered {lost}",
        w.0, w.1, per[0], percent(per[0]), per[1], percent(per[1]), per[2]
    );
    assert!((percent(per[0]) - 50.0).abs() <= 5.0, "{per:?}");
    assert_eq!(per[2], 0);
}
