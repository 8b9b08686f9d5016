//! `ferrolb speaker` (the real binary) on two nodes with a `bfd-profile`, against FRR 8.4
//! (zebra + bgpd + bfdd, `neighbor X bfd profile flb` with the same 100 ms × 3) in a router
//! namespace. The Kubernetes API is the in-process fixture inside the router namespace.
//!
//! ```text
//!  node1 10.255.1.2 ──veth── 10.255.1.1 ┐
//!                                       router: FRR AS 65000 (maximum-paths 2, bfdd)
//!  node2 10.255.2.2 ──veth── 10.255.2.1 ┘
//! ```
//!
//! Asserted: both nodes' BFD sessions Up at 100 ms in FRR and the ECMP route in the router's
//! kernel; node2's speaker frozen with SIGSTOP leaves the ECMP group within the detection time
//! (300 ms) + margin, measured by sampling the router's kernel table every 5 ms, while node1
//! keeps its next hop; after SIGCONT node2 comes back (BFD, then BGP, then the route). The BGP
//! hold time is 9 s, so only BFD can explain a removal that fast.

use std::time::{Duration, Instant};

use ferrolb_apiserver::Store;
use ferrolb_e2e::cluster::{seed_config, seed_front_service, seed_node_at};
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::route_weights::next_hops;
use ferrolb_e2e::speaker;
use ferrolb_e2e::{
    ferrolb_bin, router_with_nodes, veth, wait_until_opt, ChildGuard, Netns, ScratchDir,
};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const PREFIX: &str = "198.51.100.1/32";
const NODE1: &str = "10.255.1.2";
const NODE2: &str = "10.255.2.2";
const INTERVAL_MS: u64 = 100;
/// Detection time (100 ms × 3) plus the margin the issue sets.
const LIMIT: Duration = Duration::from_millis(300 + 100);

/// The config; `node1_profile` is node1's peer `bfd-profile` line (may be empty), `ms` the
/// profile's intervals.
fn config(node1_profile: &str, ms: u64) -> String {
    format!(
        r#"peers:
- peer-address: 10.255.1.1
  peer-asn: 65000
  my-asn: 65001
  hold-time: 9s
  {node1_profile}
  node-selectors:
  - match-labels: {{kubernetes.io/hostname: node1}}
- peer-address: 10.255.2.1
  peer-asn: 65000
  my-asn: 65001
  hold-time: 9s
  bfd-profile: fast
  node-selectors:
  - match-labels: {{kubernetes.io/hostname: node2}}
bfd-profiles:
- name: fast
  receive-interval: {ms}
  transmit-interval: {ms}
  detect-multiplier: 3
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28]
"#
    )
}

fn seed(store: &Store) {
    seed_config(store, &config("bfd-profile: fast", INTERVAL_MS));
    seed_front_service(store, "198.51.100.1", "node2");
    seed_node_at(store, "node1", NODE1);
    seed_node_at(store, "node2", NODE2);
}

fn start_speaker(ns: &Netns, node: &str, api: &str, dir: &ScratchDir) -> ChildGuard {
    speaker::start_speaker(ns, api, node, &[], &dir.join(&format!("{node}.log")))
}

/// Next hops of [`PREFIX`] in the router's kernel table (sorted).
fn kernel_hops(router: &Netns) -> Vec<String> {
    next_hops(router.name(), PREFIX)
}

/// FRR's bfdd view of the session with `peer`.
fn frr_bfd_peer(frr: &Frr, peer: &str) -> Option<Value> {
    let out = frr.try_vtysh(&["show bfd peers json"]).ok()?;
    let v: Value = serde_json::from_str(&out).ok()?;
    v.as_array()?
        .iter()
        .find(|p| p["peer"].as_str() == Some(peer))
        .cloned()
}

/// FRR's bfdd has `peer` Up at `INTERVAL_MS` both ways.
fn frr_bfd_up(frr: &Frr, peer: &str) -> bool {
    frr_bfd_peer(frr, peer).is_some_and(|p| {
        p["status"].as_str() == Some("up")
            && p["transmit-interval"].as_u64() == Some(INTERVAL_MS)
            && p["remote-transmit-interval"].as_u64() == Some(INTERVAL_MS)
    })
}

/// `ferrolb status --json` inside `ns`: the first peer's `bfd` object (null when the speaker
/// does not answer yet).
fn our_bfd(ns: &Netns) -> Value {
    let bin = ferrolb_bin().display().to_string();
    let out = ns.exec(&[&bin, "status", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["peers"][0]["bfd"].clone()
}

/// The value of `metric{peer="peer"}` in the node's /metrics.
fn metric(ns: &Netns, metric: &str, peer: &str) -> Option<f64> {
    let text = ns.http_get(7473, "/metrics");
    let key = format!("{metric}{{peer=\"{peer}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

fn wait_all_up(router: &Netns, frr: &Frr, what: &str, logs: &dyn Fn() -> String) {
    let ok = wait_until_opt(Duration::from_secs(20), || {
        let up = frr_bfd_up(frr, NODE1) && frr_bfd_up(frr, NODE2);
        (up && kernel_hops(router) == [NODE1, NODE2]).then_some(())
    });
    if ok.is_none() {
        panic!(
            "{what}: not up: kernel hops {:?}, FRR bfd {:?}\n{}",
            kernel_hops(router),
            frr.try_vtysh(&["show bfd peers brief"]),
            logs()
        );
    }
}

#[test]
fn speaker_bfd_frozen_node_leaves_ecmp() {
    if !require_root_and(
        "speaker_bfd_frozen_node_leaves_ecmp",
        &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd"],
    ) {
        return;
    }
    let dir = ScratchDir::new("speaker-bfd");
    let (router, [node1, node2]) = router_with_nodes("sbfd");
    let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap())
        .neighbor(FrrNeighbor::new(NODE1.parse().unwrap(), 65001))
        .neighbor(FrrNeighbor::new(NODE2.parse().unwrap(), 65001));
    cfg.maximum_paths = Some(2);
    cfg.bfdd = true;
    let frr = Frr::start(&router, &cfg);
    frr.vtysh(&[
        "configure terminal",
        "bfd",
        "profile flb",
        &format!("receive-interval {INTERVAL_MS}"),
        &format!("transmit-interval {INTERVAL_MS}"),
        "detect-multiplier 3",
    ]);
    frr.configure_bgp(&[
        &format!("neighbor {NODE1} bfd profile flb"),
        &format!("neighbor {NODE2} bfd profile flb"),
    ]);

    let api = NsApi::start(&router);
    seed(&api.store);
    let _sp1 = start_speaker(
        &node1,
        "node1",
        &format!("http://10.255.1.1:{}", api.port),
        &dir,
    );
    let mut sp2 = start_speaker(
        &node2,
        "node2",
        &format!("http://10.255.2.1:{}", api.port),
        &dir,
    );
    let logs = || {
        format!(
            "--- node1:\n{}\n--- node2:\n{}\n--- bfdd.log:\n{}",
            dir.read("node1.log"),
            dir.read("node2.log"),
            frr.dir().read("bfdd.log")
        )
    };
    wait_all_up(&router, &frr, "start", &logs);

    // `ferrolb status` and /metrics on node1 show the BFD session.
    let b = our_bfd(&node1);
    assert_eq!(b["state"], "Up", "{b}");
    assert_eq!(b["profile"], "fast", "{b}");
    assert_eq!(
        (
            &b["tx_interval_ms"],
            &b["rx_interval_ms"],
            &b["detect_multiplier"],
            &b["detect_time_ms"]
        ),
        (&json!(100), &json!(100), &json!(3), &json!(300)),
        "{b}"
    );
    let bin = ferrolb_bin().display().to_string();
    let text = node1.run_ok(&[&bin, "status"]);
    assert!(
        text.contains("10.255.1.1: BFD Up (profile fast), tx 100 ms, rx 100 ms, multiplier 3"),
        "{text}"
    );
    assert_eq!(
        metric(&node1, "ferrolb_bfd_session_up", "10.255.1.1"),
        Some(1.0)
    );
    assert!(metric(&node1, "ferrolb_bfd_control_packet_output", "10.255.1.1") > Some(0.0));
    assert!(metric(&node1, "ferrolb_bfd_control_packet_input", "10.255.1.1") > Some(0.0));
    assert_eq!(
        metric(&node1, "ferrolb_bfd_session_up_events", "10.255.1.1"),
        Some(1.0)
    );
    assert_eq!(
        metric(&node1, "ferrolb_bfd_session_down_events", "10.255.1.1"),
        Some(0.0)
    );

    // node2's speaker freezes: FRR's bfdd detects it, tears BGP down, the path leaves.
    let router_name = router.name().to_string();
    let sampler = router.spawn_in(move || {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            let hops = next_hops(&router_name, PREFIX);
            if hops != [NODE1, NODE2] {
                return Some((Instant::now(), hops));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });
    let t0 = Instant::now();
    sp2.signal(Signal::SIGSTOP);
    let seen = sampler.join().expect("sampler thread");
    sp2.signal(Signal::SIGCONT);
    let Some((at, hops)) = seen else {
        panic!(
            "node2 still in the ECMP group 5 s after SIGSTOP\n{}",
            logs()
        );
    };
    let took = at.saturating_duration_since(t0);
    println!("SIGSTOP of node2's speaker -> its next hop gone from the router's kernel: {took:?}");
    assert_eq!(hops, [NODE1], "node1 must keep its route");
    assert!(
        took <= LIMIT,
        "took {took:?}, more than {LIMIT:?}\n{}",
        logs()
    );

    // SIGCONT: BFD comes Up again, then BGP, then node2 is back in the group.
    wait_all_up(&router, &frr, "after SIGCONT", &logs);
    let b = our_bfd(&node2);
    assert_eq!(b["down_events"], 1, "{b}");
    // On SIGCONT the frozen side finds both its detection time long expired and FRR's Down
    // packets queued in its socket; whichever it handles first names the diagnostic.
    assert!(
        b["last_down_reason"] == "Control Detection Time Expired"
            || b["last_down_reason"] == "Neighbor Signaled Session Down",
        "{b}"
    );
    assert_eq!(
        metric(&node2, "ferrolb_bfd_session_down_events", "10.255.2.1"),
        Some(1.0)
    );
    // The BGP metrics follow the peer BFD removed and added back.
    let bgp_up = wait_until_opt(Duration::from_secs(5), || {
        (metric(&node2, "ferrolb_bgp_session_up", "10.255.2.1") == Some(1.0)).then_some(())
    });
    assert!(
        bgp_up.is_some(),
        "ferrolb_bgp_session_up of node2 after BFD brought it back: {:?}",
        metric(&node2, "ferrolb_bgp_session_up", "10.255.2.1")
    );

    let conns = |frr: &Frr| {
        frr.neighbor(NODE1.parse().unwrap())
            .map(|n| n["connectionsEstablished"].clone())
    };
    // Removing node1's profile stops its BFD with AdminDown (Diag 7), which FRR records. (FRR
    // 8.4's bgpd still resets the BGP session on it, Cease/BFD Down, although RFC 5882 §3.2
    // says AdminDown is not a failure; the session comes back at once, BFD no longer gates it.)
    seed_config(&api.store, &config("", 200));
    let view = wait_until_opt(Duration::from_secs(10), || {
        frr_bfd_peer(&frr, NODE1).filter(|p| p["status"].as_str() != Some("up"))
    })
    .unwrap_or_else(|| panic!("FRR's BFD session with node1 still up\n{}", logs()));
    assert!(
        view["remote-diagnostic"]
            .as_str()
            .unwrap_or("")
            .contains("administratively"),
        "{view}"
    );
    assert!(our_bfd(&node1).is_null(), "node1 still reports BFD");
    assert_eq!(metric(&node1, "ferrolb_bfd_session_up", "10.255.1.1"), None);
    let back = wait_until_opt(Duration::from_secs(10), || {
        (frr.established(NODE1.parse().unwrap()) && kernel_hops(&router) == [NODE1, NODE2])
            .then_some(())
    });
    assert!(back.is_some(), "node1 not back without BFD\n{}", logs());
    seed_config(&api.store, &config("bfd-profile: fast", INTERVAL_MS));
    wait_all_up(&router, &frr, "node1's profile back", &logs);

    // A profile change reaches FRR through a Poll Sequence: no BFD flap, no BGP reset.
    let conns_before = conns(&frr);
    seed_config(&api.store, &config("bfd-profile: fast", 200));
    wait_until_opt(Duration::from_secs(10), || {
        frr_bfd_peer(&frr, NODE1).filter(|p| {
            p["status"].as_str() == Some("up")
                && p["remote-transmit-interval"].as_u64() == Some(200)
        })
    })
    .unwrap_or_else(|| {
        panic!(
            "FRR never saw 200 ms: {:?}\n{}",
            frr_bfd_peer(&frr, NODE1),
            logs()
        )
    });
    assert_eq!(conns(&frr), conns_before, "the BGP session was reset");
    let b = our_bfd(&node1);
    assert_eq!(
        (&b["up_events"], &b["down_events"], &b["tx_interval_ms"]),
        (&json!(1), &json!(0), &json!(200)),
        "{b}"
    );

    seed_config(&api.store, &config("bfd-profile: fast", INTERVAL_MS));
    wait_all_up(&router, &frr, "node1's profile back", &logs);

    // RFC 5882 on the speakers' side: FRR's bfdd freezes (its bgpd runs on and would keep
    // the routes for the 9 s hold time); both speakers' BFD goes Down and they tear their BGP
    // sessions down, so the route leaves the router's kernel. (vtysh waits for every daemon,
    // so only the kernel is asked while bfdd is frozen.)
    let bfdd = nix::unistd::Pid::from_raw(frr.pid("bfdd").expect("bfdd pid"));
    let t0 = Instant::now();
    nix::sys::signal::kill(bfdd, Signal::SIGSTOP).expect("SIGSTOP bfdd");
    let gone = wait_until_opt(Duration::from_secs(5), || {
        kernel_hops(&router).is_empty().then_some(())
    });
    let took = t0.elapsed();
    // While BFD stays Down, BGP is not re-established (the hold time is far away).
    let held = wait_until_opt(Duration::from_secs(2), || {
        (!kernel_hops(&router).is_empty()).then_some(())
    });
    nix::sys::signal::kill(bfdd, Signal::SIGCONT).expect("SIGCONT bfdd");
    assert!(
        gone.is_some(),
        "route still in the kernel 5 s after bfdd froze\n{}",
        logs()
    );
    assert!(
        held.is_none(),
        "BGP came back while BFD was Down\n{}",
        logs()
    );
    println!("bfdd frozen -> speakers' BFD Down -> BGP torn down -> route gone: {took:?}");
    assert!(dir
        .read("node1.log")
        .contains("BFD down: tearing the BGP session down"));
    wait_all_up(&router, &frr, "after bfdd resumed", &logs);
}

/// Not for CI (10 minutes): no BFD flap at 50 ms × 3 (150 ms detection) while the node's two
/// CPUs are kept busy by two spinning processes and the speaker holds 10,000 Services, with a
/// full re-advertisement (communities toggled) every 20 s. Prints the figures.
///
/// ```sh
/// sudo -E cargo test -p ferrolb-e2e --test speaker_bfd -- --ignored --nocapture
/// ```
/// `FERROLB_BFD_SOAK_SECS` (default 600) and `FERROLB_BFD_SOAK_SERVICES` (default 10000);
/// `FERROLB_BFD_SOAK_NO_SYS_NICE=1` runs the speaker without CAP_SYS_NICE;
/// before the hogs start, `FERROLB_BFD_SOAK_RESYNC_SECS` (default 60) of re-advertisements
/// alone measure what a 10k resync does to our packet spacing.
#[test]
#[ignore]
fn speaker_bfd_no_flap_soak() {
    if !require_root_and(
        "speaker_bfd_no_flap_soak",
        &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd"],
    ) {
        return;
    }
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let soak = Duration::from_secs(env("FERROLB_BFD_SOAK_SECS", 600));
    let count = env("FERROLB_BFD_SOAK_SERVICES", 10_000);
    let dir = ScratchDir::new("speaker-bfd-soak");
    let router = Netns::new("sbfs-r");
    let node1 = Netns::new("sbfs-n1");
    veth(&router, &node1, 1);
    let mut neighbor = FrrNeighbor::new(NODE1.parse().unwrap(), 65001);
    neighbor.ipv6 = true;
    let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap()).neighbor(neighbor);
    cfg.bfdd = true;
    let frr = Frr::start(&router, &cfg);
    frr.vtysh(&[
        "configure terminal",
        "bfd",
        "profile flb",
        "receive-interval 50",
        "transmit-interval 50",
        "detect-multiplier 3",
    ]);
    frr.configure_bgp(&[&format!("neighbor {NODE1} bfd profile flb")]);
    // The router stands for another machine, whose CPUs the node's hogs do not load: its
    // bfdd gets SCHED_FIFO like ours, unless FERROLB_BFD_SOAK_FRR_RT=0 (then both BFDs
    // share the loaded cores and a flap may be FRR's miss: see the diagnostics printed).
    if env("FERROLB_BFD_SOAK_FRR_RT", 1) == 1 {
        let pid = frr.pid("bfdd").expect("bfdd pid").to_string();
        let out = std::process::Command::new("chrt")
            .args(["-f", "-a", "-p", "10", &pid])
            .output()
            .expect("chrt");
        assert!(out.status.success(), "chrt: {out:?}");
        println!("router bfdd (pid {pid}) runs with SCHED_FIFO 10");
    }
    let api = NsApi::start(&router);
    seed(&api.store);
    let soak_config = |communities: &str| {
        config("bfd-profile: fast", 50)
            .replace(
                "addresses: [198.51.100.0/28]",
                "addresses: [198.51.100.0/28]\n- name: many\n  protocol: bgp\n  addresses: [198.51.100.128/25, '2001:db8::/112']",
            )
            + communities
    };
    seed_config(&api.store, &soak_config(""));
    let t0 = Instant::now();
    for i in 0..count {
        let name = format!("soak{i}");
        api.store
            .seed(
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"namespace": "soak", "name": format!("{name}-x"),
                                "labels": {"kubernetes.io/service-name": name}},
                   "addressType": "IPv4",
                   "endpoints": [{"addresses": ["10.244.1.9"], "nodeName": "node1",
                                  "conditions": {"ready": true}}]}),
            )
            .unwrap();
        api.store
            .seed(json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"namespace": "soak", "name": name},
                   "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": format!("2001:db8::{i:x}")}]}}}))
            .unwrap();
    }
    println!("seeded {count} Services in {:?}", t0.elapsed());
    let url = format!("http://10.255.1.1:{}", api.port);
    // FERROLB_BFD_SOAK_NO_SYS_NICE=1: the speaker without CAP_SYS_NICE, as the shipped
    // manifest runs it, so its BFD thread keeps the normal scheduling policy.
    let wrapper: &[&str] = if env("FERROLB_BFD_SOAK_NO_SYS_NICE", 0) == 1 {
        &[
            "setpriv",
            "--bounding-set=-sys_nice",
            "--inh-caps=-sys_nice",
        ]
    } else {
        &[]
    };
    let log = dir.join("node1.log");
    let _sp = speaker::start_speaker_under(&node1, wrapper, &url, "node1", &[], &log);
    let up = wait_until_opt(Duration::from_secs(60), || {
        let b = our_bfd(&node1);
        (b["state"] == "Up" && b["tx_interval_ms"] == 50).then_some(())
    });
    assert!(up.is_some(), "BFD not Up at 50 ms: {}", our_bfd(&node1));
    let announced = |ns: &Netns| {
        let bin = ferrolb_bin().display().to_string();
        let v: Value = serde_json::from_slice(&ns.exec(&[&bin, "status", "--json"]).stdout)
            .unwrap_or_default();
        v["services"]
            .as_array()
            .map_or(0, |s| s.iter().filter(|s| s["announced"] == true).count())
    };
    let all = wait_until_opt(Duration::from_secs(120), || {
        (announced(&node1) as u64 > count).then_some(())
    });
    println!(
        "speaker announces {} Service addresses (all: {})",
        announced(&node1),
        all.is_some()
    );

    // Phase 1: the re-advertisements alone (no CPU hog): how far a 10k resync delays our
    // packets (max_tx_gap_ms), so it can be told apart from the hogs' effect.
    let resync_only = Duration::from_secs(env("FERROLB_BFD_SOAK_RESYNC_SECS", 60));
    let mut soak_state = SoakState::default();
    let start = Instant::now();
    while start.elapsed() < resync_only {
        soak_state.second(&node1, &frr, start, &|c| {
            seed_config(&api.store, &soak_config(c))
        });
    }
    let phase1 = our_bfd(&node1);
    println!(
        "phase 1: {} re-advertisements of {count} Services, no CPU hog: max_tx_gap_ms {} \
         max_rx_gap_ms {} down_events {}",
        soak_state.resyncs, phase1["max_tx_gap_ms"], phase1["max_rx_gap_ms"], phase1["down_events"]
    );

    // Phase 2: two CPU hogs in the node namespace (killed by PID when dropped).
    let hogs: Vec<ChildGuard> = (0..2)
        .map(|i| {
            node1.spawn(
                &["sh", "-c", "while :; do :; done"],
                &dir.join(&format!("hog{i}.log")),
            )
        })
        .collect();
    let start = Instant::now();
    while start.elapsed() < soak {
        soak_state.second(&node1, &frr, start, &|c| {
            seed_config(&api.store, &soak_config(c))
        });
    }
    drop(hogs);
    let b = our_bfd(&node1);
    let frr_view = frr_bfd_peer(&frr, NODE1).unwrap_or_default();
    let policy = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .find(|l| l.contains("BFD thread runs with"))
        .map(str::to_string)
        .unwrap_or_default();
    println!("speaker: {policy}");
    println!(
        "soak {soak:?} at 50 ms x 3 with 2 CPU hogs, {count} Services, {} full \
         re-advertisements: ours: state {} up_events {} down_events {} packets in {} out {} \
         max_tx_gap_ms {} max_rx_gap_ms {} tx_gaps_over_peer_detect {}; FRR: status {} \
         diagnostic {:?} remote-diagnostic {:?}; flaps: {:#?}",
        soak_state.resyncs,
        b["state"],
        b["up_events"],
        b["down_events"],
        b["packets_in"],
        b["packets_out"],
        b["max_tx_gap_ms"],
        b["max_rx_gap_ms"],
        b["tx_gaps_over_peer_detect"],
        frr_view["status"],
        frr_view["diagnostic"],
        frr_view["remote-diagnostic"],
        soak_state.flaps
    );
    assert_eq!(b["state"], "Up", "{b}");
    assert_eq!(b["tx_gaps_over_peer_detect"], 0, "we sent late: {b}");
    assert_eq!(b["down_events"], 0, "BFD flapped: {b}");
}

/// The soak's once-a-second work: a full re-advertisement every 20 s, and a record of every
/// BFD flap with both sides' diagnostics, to tell which side missed.
#[derive(Default)]
struct SoakState {
    resyncs: u32,
    last_resync: Option<Instant>,
    down_events: u64,
    flaps: Vec<String>,
}

impl SoakState {
    fn second(&mut self, node: &Netns, frr: &Frr, start: Instant, reseed: &dyn Fn(&str)) {
        std::thread::sleep(Duration::from_secs(1));
        if self
            .last_resync
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(20))
        {
            self.last_resync = Some(Instant::now());
            self.resyncs += 1;
            // The communities apply to the second pool (the last one in the text).
            reseed(if self.resyncs % 2 == 1 {
                "  bgp-advertisements:\n  - communities: [\"64512:100\"]\n"
            } else {
                ""
            });
        }
        let ours = our_bfd(node);
        let down = ours["down_events"].as_u64().unwrap_or(0);
        if down > self.down_events {
            self.down_events = down;
            let theirs = frr_bfd_peer(frr, NODE1).unwrap_or_default();
            let flap = format!(
                "at {:?}: ours: last_down_reason {} max_rx_gap_ms {} max_tx_gap_ms {} \
                 tx_gaps_over_peer_detect {}; FRR: diagnostic {} remote-diagnostic {}",
                start.elapsed(),
                ours["last_down_reason"],
                ours["max_rx_gap_ms"],
                ours["max_tx_gap_ms"],
                ours["tx_gaps_over_peer_detect"],
                theirs["diagnostic"],
                theirs["remote-diagnostic"]
            );
            println!("BFD flap {flap}");
            self.flaps.push(flap);
        }
    }
}
