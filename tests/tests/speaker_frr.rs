//! `ferrolb speaker` (the real binary) on two nodes, each in its own network namespace, peering
//! with a real FRR (zebra + bgpd) in a "router" namespace. The Kubernetes API is the in-process
//! fixture, started from a thread that entered the router namespace (so node namespaces reach
//! it over their veth links, like a control plane behind the router).
//!
//! ```text
//!  node1 10.255.1.2 ──veth── 10.255.1.1 ┐
//!                                       router: FRR AS 65000 (maximum-paths 2) + API fixture
//!  node2 10.255.2.2 ──veth── 10.255.2.1 ┘
//! ```
//!
//! Asserted through FRR's vtysh JSON and the router's kernel table: ECMP with both nodes as
//! next hops, eTP Local following the endpoints, an excluded node withdrawing, a communities
//! change arriving without a session reset, pod CIDR advertisement only when enabled, SIGTERM
//! removing a next hop within 1 s, SIGSTOP removing it after the hold time (3 s), SIGKILL
//! removing it (the kernel closes the TCP connection), and `ferrolb status` inside a node.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferrolb_e2e::cluster::{seed_config, seed_endpoints, seed_node, seed_service};
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::speaker;
use ferrolb_e2e::{ferrolb_bin, router_with_nodes, wait_until, ChildGuard, Netns, ScratchDir};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// The API fixture running on its own thread inside a namespace; stops on drop.
fn config_text(advertisement: &str, pod_cidr_node1: bool) -> String {
    format!(
        r#"peers:
- peer-address: 10.255.1.1
  peer-asn: 65000
  my-asn: 65001
  hold-time: 3s
  advertise-pod-cidr: {pod_cidr_node1}
  node-selectors:
  - match-labels: {{kubernetes.io/hostname: node1}}
- peer-address: 10.255.2.1
  peer-asn: 65000
  my-asn: 65001
  hold-time: 3s
  node-selectors:
  - match-labels: {{kubernetes.io/hostname: node2}}
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28]
{advertisement}"#
    )
}

fn wait_hops(frr: &Frr, prefix: &str, want: &[&str], timeout: Duration, what: &str) -> Duration {
    let t0 = Instant::now();
    let ok = ferrolb_e2e::wait_until_opt(timeout, || (frr.next_hops(prefix) == want).then_some(()));
    if ok.is_none() {
        panic!(
            "{what}: FRR's next hops for {prefix} are {:?}, expected {want:?} within {timeout:?}",
            frr.next_hops(prefix)
        );
    }
    t0.elapsed()
}

fn start_speaker(ns: &Netns, node: &str, api: &str, dir: &ScratchDir) -> ChildGuard {
    speaker::start_speaker(ns, api, node, &[], &dir.join(&format!("{node}.log")))
}

fn neighbor_field(frr: &Frr, addr: &str, field: &str) -> Value {
    frr.neighbor(addr.parse::<IpAddr>().unwrap())
        .and_then(|n| n.get(field).cloned())
        .unwrap_or(Value::Null)
}

#[test]
fn speaker_two_nodes_with_frr() {
    if !require_root_and(
        "speaker_two_nodes_with_frr",
        &["vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    let dir = ScratchDir::new("speaker-frr");
    let (router, [node1, node2]) = router_with_nodes("spk");
    let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap())
        .neighbor(FrrNeighbor::new("10.255.1.2".parse().unwrap(), 65001))
        .neighbor(FrrNeighbor::new("10.255.2.2".parse().unwrap(), 65001));
    cfg.maximum_paths = Some(2);
    let frr = Frr::start(&router, &cfg);

    let api = NsApi::start(&router);
    let store = &api.store;
    seed_config(store, &config_text("", false));
    seed_node(store, "node1", 1, false);
    seed_node(store, "node2", 2, false);
    seed_service(store, "front", "198.51.100.1", "Cluster");
    seed_endpoints(store, "front", &["node2"]);

    let url1 = format!("http://10.255.1.1:{}", api.port);
    let url2 = format!("http://10.255.2.1:{}", api.port);
    let mut sp1 = start_speaker(&node1, "node1", &url1, &dir);
    let mut sp2 = start_speaker(&node2, "node2", &url2, &dir);

    // 1. eTP Cluster: both nodes announce; FRR has two paths and the kernel an ECMP route.
    let both = ["10.255.1.2", "10.255.2.2"];
    wait_hops(
        &frr,
        "198.51.100.1/32",
        &both,
        Duration::from_secs(20),
        "ECMP from both nodes",
    );
    let kernel = wait_until(
        Duration::from_secs(10),
        "the ECMP route in the router's kernel",
        || {
            let out = router.run_ok(&["ip", "-j", "route", "show", "198.51.100.1/32"]);
            let v: Value = serde_json::from_str(&out).ok()?;
            let hops = v[0]["nexthops"].as_array()?.len();
            (hops == 2).then_some(out)
        },
    );
    assert!(
        kernel.contains("10.255.1.2") && kernel.contains("10.255.2.2"),
        "{kernel}"
    );

    // `ferrolb status` inside a node talks to that node's speaker.
    let bin = ferrolb_bin().display().to_string();
    let status = node1.run_ok(&[&bin, "status", "--services"]);
    assert!(
        status.contains("Neighbor") && status.contains("10.255.1.1"),
        "{status}"
    );
    assert!(
        status.contains("web/front") && status.contains("yes"),
        "{status}"
    );
    let json_status: Value =
        serde_json::from_str(&node1.run_ok(&[&bin, "status", "--json"])).unwrap();
    assert_eq!(json_status["peers"][0]["state"], "Established");
    assert_eq!(json_status["peers"][0]["router_id"], "10.255.1.2");
    assert_eq!(json_status["skipped_peers"][0]["peer"], "10.255.2.1");

    // 2. eTP Local follows the endpoints.
    seed_service(store, "local", "198.51.100.2", "Local");
    seed_endpoints(store, "local", &["node1"]);
    wait_hops(
        &frr,
        "198.51.100.2/32",
        &["10.255.1.2"],
        Duration::from_secs(10),
        "eTP Local on node1",
    );
    seed_endpoints(store, "local", &["node2"]);
    wait_hops(
        &frr,
        "198.51.100.2/32",
        &["10.255.2.2"],
        Duration::from_secs(10),
        "eTP Local moved to node2",
    );

    // 3. An excluded node withdraws, and comes back when the label goes.
    seed_node(store, "node2", 2, true);
    wait_hops(
        &frr,
        "198.51.100.1/32",
        &["10.255.1.2"],
        Duration::from_secs(10),
        "node2 excluded",
    );
    wait_hops(
        &frr,
        "198.51.100.2/32",
        &[],
        Duration::from_secs(10),
        "node2 excluded (eTP Local)",
    );
    seed_node(store, "node2", 2, false);
    wait_hops(
        &frr,
        "198.51.100.1/32",
        &both,
        Duration::from_secs(10),
        "node2 back",
    );

    // 4. A communities change reaches FRR as UPDATEs: no session reset.
    let epoch_before = neighbor_field(&frr, "10.255.1.2", "bgpTimerUpEstablishedEpoch");
    let conns_before = neighbor_field(&frr, "10.255.1.2", "connectionsEstablished");
    seed_config(
        store,
        &config_text(
            "  bgp-advertisements:\n  - communities: [\"64512:100\"]\n",
            false,
        ),
    );
    wait_until(
        Duration::from_secs(10),
        "community 64512:100 at FRR",
        || {
            let r = frr.route("ipv4", "198.51.100.1/32")?;
            let all = r["paths"]
                .as_array()?
                .iter()
                .all(|p| p["community"]["string"].as_str() == Some("64512:100"));
            all.then_some(())
        },
    );
    assert_eq!(
        neighbor_field(&frr, "10.255.1.2", "connectionsEstablished"),
        conns_before
    );
    // FRR derives the epoch from "now - uptime": it may wobble by one second, never more.
    let epoch_after = neighbor_field(&frr, "10.255.1.2", "bgpTimerUpEstablishedEpoch");
    let drift = epoch_after.as_i64().unwrap_or(0) - epoch_before.as_i64().unwrap_or(i64::MIN / 2);
    assert!(
        drift.abs() <= 1,
        "the session was reset by a communities change: established since {epoch_before} then {epoch_after}"
    );

    // 5. Pod CIDR: only when enabled (on node1's peer), and only node1's.
    assert!(!frr.prefixes("ipv4").contains(&"10.244.1.0/24".to_string()));
    seed_config(
        store,
        &config_text(
            "  bgp-advertisements:\n  - communities: [\"64512:100\"]\n",
            true,
        ),
    );
    wait_hops(
        &frr,
        "10.244.1.0/24",
        &["10.255.1.2"],
        Duration::from_secs(10),
        "node1's pod CIDR",
    );
    assert!(!frr.prefixes("ipv4").contains(&"10.244.2.0/24".to_string()));
    seed_config(
        store,
        &config_text(
            "  bgp-advertisements:\n  - communities: [\"64512:100\"]\n",
            false,
        ),
    );
    wait_hops(
        &frr,
        "10.244.1.0/24",
        &[],
        Duration::from_secs(10),
        "pod CIDR withdrawn",
    );

    // 6. SIGTERM: Cease/Administrative Shutdown, FRR drops node2's next hop within 1 s.
    let t0 = Instant::now();
    sp2.signal(Signal::SIGTERM);
    wait_hops(
        &frr,
        "198.51.100.1/32",
        &["10.255.1.2"],
        Duration::from_secs(3),
        "SIGTERM on node2",
    );
    let after_term = t0.elapsed();
    assert!(
        after_term < Duration::from_secs(1),
        "next hop removed {after_term:?} after SIGTERM"
    );
    let exited = sp2.wait_timeout(Duration::from_secs(5));
    assert!(
        exited.is_some_and(|s| s.success()),
        "speaker exit after SIGTERM: {exited:?}"
    );
    let last = frr
        .neighbor("10.255.2.2".parse().unwrap())
        .unwrap_or_default();
    let text = last.to_string();
    assert!(
        text.contains("Administrative Shutdown"),
        "FRR's view of node2: {text}"
    );

    // 7. SIGSTOP (a hung node): the next hop goes when the hold time (3 s) expires.
    sp2 = start_speaker(&node2, "node2", &url2, &dir);
    wait_hops(
        &frr,
        "198.51.100.1/32",
        &both,
        Duration::from_secs(15),
        "node2 restarted",
    );
    let t0 = Instant::now();
    sp2.signal(Signal::SIGSTOP);
    let took = wait_hops(
        &frr,
        "198.51.100.1/32",
        &["10.255.1.2"],
        Duration::from_secs(8),
        "SIGSTOP on node2",
    );
    assert!(
        took >= Duration::from_secs(2),
        "removed after {took:?}: before the hold time?"
    );
    let _ = t0;
    sp2.signal(Signal::SIGCONT);
    sp2.signal(Signal::SIGKILL);
    let _ = sp2.wait_timeout(Duration::from_secs(5));

    // 8. SIGKILL: the kernel closes the connection, FRR drops the path at once (at most the
    //    hold time later).
    sp2 = start_speaker(&node2, "node2", &url2, &dir);
    wait_hops(
        &frr,
        "198.51.100.1/32",
        &both,
        Duration::from_secs(15),
        "node2 restarted again",
    );
    sp2.signal(Signal::SIGKILL);
    let took = wait_hops(
        &frr,
        "198.51.100.1/32",
        &["10.255.1.2"],
        Duration::from_secs(5),
        "SIGKILL on node2",
    );
    println!("next hop removed {after_term:?} after SIGTERM, {took:?} after SIGKILL");

    sp1.stop(Duration::from_secs(5));
    sp2.stop(Duration::from_secs(5));
}

/// A config for node1 only: one peer, the router, with `hold`; `second_peer` is appended to
/// `peers` as written.
fn single_peer_config(hold: &str, second_peer: &str) -> String {
    format!(
        "peers:\n- peer-address: 10.255.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  \
         hold-time: {hold}\n{second_peer}address-pools:\n- name: default\n  protocol: bgp\n  \
         addresses: [198.51.100.0/28]\n"
    )
}

/// Waits until FRR's bgpd log has the NOTIFICATION `code/subcode` received from `addr`. FRR
/// clears the neighbor JSON's last-notification fields when the next session comes up, so the
/// log is the lasting record of a reset.
fn wait_notification_logged(frr: &Frr, addr: &str, code: &str, dir: &ScratchDir) -> String {
    let needle = format!(" {code} ");
    let addr: IpAddr = addr.parse().expect("neighbor address");
    let find = || {
        frr.notifications_logged(addr)
            .into_iter()
            .find(|l| l.contains(&needle))
    };
    ferrolb_e2e::wait_until_opt(Duration::from_secs(15), find).unwrap_or_else(|| {
        panic!(
            "FRR logged no NOTIFICATION {code} from {addr} within 15 s; bgpd log:\n{}\nspeaker log:\n{}",
            frr.dir().read("bgpd.log"),
            dir.read("node1.log")
        )
    })
}

/// RFC 4486 subcodes on config changes, and one peer identity, through the real speaker:
/// a config with the router's address on two ports is rejected (field path in the speaker's
/// status) without touching the session; a hold-time change resets it with Cease/Other
/// Configuration Change (6/6); removing the peer sends Cease/Peer De-configured (6/3).
#[test]
fn speaker_config_changes_send_rfc4486_cease() {
    if !require_root_and(
        "speaker_config_changes_send_rfc4486_cease",
        &["vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    let dir = ScratchDir::new("speaker-cease");
    let (router, [node1]) = router_with_nodes("spk-c");
    let node_addr: IpAddr = "10.255.1.2".parse().unwrap();
    let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap())
        .neighbor(FrrNeighbor::new(node_addr, 65001));
    // bgpd logs each NOTIFICATION received only with this (off in `frr defaults traditional`).
    cfg.extra_router_lines
        .push("bgp log-neighbor-changes".to_string());
    let frr = Frr::start(&router, &cfg);
    let api = NsApi::start(&router);
    let store = &api.store;
    seed_config(store, &single_peer_config("3s", ""));
    seed_node(store, "node1", 1, false);
    let url = format!("http://10.255.1.1:{}", api.port);
    let mut speaker = start_speaker(&node1, "node1", &url, &dir);
    frr.wait_established(node_addr, Duration::from_secs(20));
    let conns = neighbor_field(&frr, "10.255.1.2", "connectionsEstablished");

    // 1. The same address on a second port: rejected with the field path; the session stays.
    let second = "- peer-address: 10.255.1.1\n  peer-port: 1179\n  peer-asn: 65000\n  \
                  my-asn: 65001\n";
    seed_config(store, &single_peer_config("3s", second));
    let bin = ferrolb_bin().display().to_string();
    let error = wait_until(
        Duration::from_secs(10),
        "the speaker reports the rejected config",
        || {
            let out = node1.run_ok(&[&bin, "status", "--json"]);
            let v: Value = serde_json::from_str(&out).ok()?;
            v["config_error"].as_str().map(str::to_string)
        },
    );
    assert!(
        error.contains("peers[1].peer-port") && error.contains("1179"),
        "{error}"
    );
    assert!(frr.established(node_addr));
    assert_eq!(
        neighbor_field(&frr, "10.255.1.2", "connectionsEstablished"),
        conns
    );

    // 2. A session parameter changes: Cease/Other Configuration Change, then up again.
    seed_config(store, &single_peer_config("6s", ""));
    let line = wait_notification_logged(&frr, "10.255.1.2", "6/6", &dir);
    assert!(line.contains("Other Configuration Change"), "{line}");
    wait_until(
        Duration::from_secs(15),
        "the session re-established with the new hold time",
        || {
            let n = frr.neighbor(node_addr)?;
            (n["bgpState"] == "Established" && n["bgpTimerHoldTimeMsecs"] == 6000).then_some(())
        },
    );

    // 3. The peer leaves the config: Cease/Peer De-configured, and the session stays down.
    seed_config(
        store,
        "peers: []\naddress-pools:\n- name: default\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n",
    );
    let line = wait_notification_logged(&frr, "10.255.1.2", "6/3", &dir);
    assert!(line.contains("Peer De-configured"), "{line}");
    let n = frr.neighbor(node_addr).unwrap_or_default();
    assert_ne!(n["bgpState"], "Established", "{n}");
    assert_eq!(n["lastErrorCodeSubcode"], "0603", "{n}");
    assert_eq!(
        n["lastNotificationReason"], "Cease/Peer De-configured",
        "{n}"
    );
    assert!(
        !frr.dir()
            .read("bgpd.log")
            .contains("received from neighbor 10.255.1.2 6/2 "),
        "no Administrative Shutdown on a config change"
    );
    speaker.stop(Duration::from_secs(5));
}

/// The legacy config of `speaker_reads_metallb_objects_like_the_configmap`: one peer per node
/// (node1's with a password Secret), one pool with a community.
const LEGACY_WITH_SECRET: &str = r#"peers:
- peer-address: 10.255.1.1
  peer-asn: 65000
  my-asn: 65001
  hold-time: 3s
  password-secret: {name: bgp-auth, key: password}
  node-selectors:
  - match-labels: {kubernetes.io/hostname: node1}
- peer-address: 10.255.2.1
  peer-asn: 65000
  my-asn: 65001
  hold-time: 3s
  node-selectors:
  - match-labels: {kubernetes.io/hostname: node2}
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28]
  bgp-advertisements:
  - communities: ["64512:100"]
"#;

/// FRR's paths for `prefix`: (next hop, community string), sorted.
fn paths(frr: &Frr, prefix: &str) -> Vec<(String, String)> {
    let Some(route) = frr.route("ipv4", prefix) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = route["paths"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["nexthops"][0]["ip"].as_str().unwrap_or("").to_string(),
                p["community"]["string"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The same announcements from MetalLB's custom resources as from the equivalent ConfigMap,
/// through the real binary with its default `--config-source auto`: the ConfigMap while no
/// IPAddressPool exists; then the objects `ferrolb config migrate` makes of it (BGPPeers with
/// node selectors and a password Secret, an advertisement with a community) take over without a
/// session reset and FRR's paths stay identical; the ConfigMap's deletion changes nothing; an
/// edit of the BGPAdvertisement reaches FRR live.
#[test]
fn speaker_reads_metallb_objects_like_the_configmap() {
    if !require_root_and(
        "speaker_reads_metallb_objects_like_the_configmap",
        &["vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    let dir = ScratchDir::new("speaker-frr-crds");
    let (router, [node1, node2]) = router_with_nodes("spc");
    let mut with_password = FrrNeighbor::new("10.255.1.2".parse().unwrap(), 65001);
    with_password.password = Some("s3cret".into());
    let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap())
        .neighbor(with_password)
        .neighbor(FrrNeighbor::new("10.255.2.2".parse().unwrap(), 65001));
    cfg.maximum_paths = Some(2);
    let frr = Frr::start(&router, &cfg);

    let api = NsApi::start(&router);
    let store = &api.store;
    store
        .seed_manifests(include_str!("../../manifests/crds.yaml"))
        .unwrap();
    store
        .seed(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
                     "metadata": {"namespace": "ferrolb-system", "name": "bgp-auth"},
                     "data": {"password": "czNjcmV0"}}),
        )
        .unwrap();
    seed_config(store, LEGACY_WITH_SECRET);
    seed_node(store, "node1", 1, false);
    seed_node(store, "node2", 2, false);
    seed_service(store, "front", "198.51.100.1", "Cluster");
    seed_endpoints(store, "front", &["node2"]);
    let url1 = format!("http://10.255.1.1:{}", api.port);
    let url2 = format!("http://10.255.2.1:{}", api.port);
    let _sp1 = start_speaker(&node1, "node1", &url1, &dir);
    let _sp2 = start_speaker(&node2, "node2", &url2, &dir);

    // 1. The ConfigMap (no IPAddressPool yet).
    let want = vec![
        ("10.255.1.2".to_string(), "64512:100".to_string()),
        ("10.255.2.2".to_string(), "64512:100".to_string()),
    ];
    wait_until(
        Duration::from_secs(20),
        "both paths with 64512:100 from the ConfigMap",
        || (paths(&frr, "198.51.100.1/32") == want).then_some(()),
    );
    let conns = neighbor_field(&frr, "10.255.1.2", "connectionsEstablished");

    // 2. The equivalent objects: both speakers switch to them, FRR's paths stay the same.
    let migration =
        ferrolb_config::resources::migrate(LEGACY_WITH_SECRET, "ferrolb-system").unwrap();
    for object in migration.objects {
        store.seed(object).unwrap();
    }
    for node in ["node1", "node2"] {
        let log = dir.join(&format!("{node}.log"));
        wait_until(
            Duration::from_secs(10),
            "the switch to the custom resources",
            || {
                std::fs::read_to_string(&log)
                    .ok()?
                    .contains("configuration source: metallb.io custom resources")
                    .then_some(())
            },
        );
    }
    store.remove("configmaps", "ferrolb-system", "config");
    // Unchanged throughout the next second (sampled every 50 ms), and node1's session (with
    // MD5) was not reset.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        assert_eq!(paths(&frr, "198.51.100.1/32"), want);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        neighbor_field(&frr, "10.255.1.2", "connectionsEstablished"),
        conns
    );

    // 3. An edit of the BGPAdvertisement reaches FRR.
    let adverts = store.list_objects("bgpadvertisements.metallb.io", Some("ferrolb-system"));
    assert_eq!(adverts.len(), 1, "{adverts:?}");
    let mut advert = adverts[0].clone();
    advert["spec"]["communities"] = json!(["64512:200"]);
    store.seed(advert).unwrap();
    wait_until(Duration::from_secs(10), "64512:200 on both paths", || {
        paths(&frr, "198.51.100.1/32")
            .iter()
            .all(|(_, c)| c == "64512:200")
            .then_some(())
    });
}
