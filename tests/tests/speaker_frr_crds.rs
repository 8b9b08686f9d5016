//! MetalLB's custom resources announce exactly what the equivalent ConfigMap announces: the
//! real `ferrolb speaker` on two nodes (each in its own network namespace) peers with a real FRR,
//! first configured with a ConfigMap file, then with the objects `ferrolb config migrate` makes
//! of it (a pool, an advertisement with communities and a node selector, one with communities
//! for every node, peers whose TCP MD5 password is in a basic-auth Secret). FRR's table (prefix,
//! next hop, communities) must be the same both times.
//!
//! ```text
//!  node1 10.255.1.2 ──veth── 10.255.1.1 ┐
//!                                       router: FRR AS 65000 (MD5) + API fixture
//!  node2 10.255.2.2 ──veth── 10.255.2.1 ┘
//! ```

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use ferrolb_apiserver::Store;
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::{
    ferrolb_bin, router_with_nodes, speaker, wait_until, ChildGuard, Netns, ScratchDir,
};
use serde_json::json;

const PASSWORD: &str = "md5-from-a-secret";
/// [`PASSWORD`] in base64, as a Secret's `data` holds it.
const PASSWORD_BASE64: &str = "bWQ1LWZyb20tYS1zZWNyZXQ=";

/// The ConfigMap: node1 adds community 64512:100 (an advertisement for its hostname only);
/// every node sends 64512:200.
const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {namespace: ferrolb-system, name: config}
data:
  config: |
    peers:
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
      password-secret: {name: bgp-auth, key: password}
      node-selectors:
      - match-labels: {kubernetes.io/hostname: node2}
    bgp-communities:
      first-rack: "64512:100"
    address-pools:
    - name: default
      protocol: bgp
      addresses: [198.51.100.0/28]
      bgp-advertisements:
      - communities: [first-rack]
        node-selectors:
        - match-labels: {kubernetes.io/hostname: node1}
      - communities: ["64512:200"]
"#;

const PREFIXES: [&str; 2] = ["198.51.100.1/32", "198.51.100.2/32"];

fn seed(store: &Store) {
    store
        .seed(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
                     "metadata": {"namespace": "ferrolb-system", "name": "bgp-auth"},
                     "data": {"password": PASSWORD_BASE64}}),
        )
        .unwrap();
    for (name, index) in [("node1", 1), ("node2", 2)] {
        store
            .seed(json!({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                         "status": {"addresses": [{"type": "InternalIP",
                                                   "address": format!("10.255.{index}.2")}]}}))
            .unwrap();
    }
    for (i, prefix) in PREFIXES.iter().enumerate() {
        let name = format!("svc{i}");
        let ip = prefix.trim_end_matches("/32");
        ferrolb_e2e::cluster::seed_service(store, &name, ip, "Cluster");
        ferrolb_e2e::cluster::seed_endpoints(store, &name, &["node2"]);
    }
}

/// FRR's view: (prefix, next hop, communities) for every path of the test's prefixes.
fn table(frr: &Frr) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for prefix in PREFIXES {
        let Some(route) = frr.route("ipv4", prefix) else {
            continue;
        };
        for path in route["paths"].as_array().into_iter().flatten() {
            let hop = path["nexthops"][0]["ip"].as_str().unwrap_or("").to_string();
            let communities = path["community"]["string"]
                .as_str()
                .unwrap_or("")
                .to_string();
            out.insert((prefix.to_string(), hop, communities));
        }
    }
    out
}

fn expected() -> BTreeSet<(String, String, String)> {
    PREFIXES
        .iter()
        .flat_map(|p| {
            [
                (
                    p.to_string(),
                    "10.255.1.2".to_string(),
                    "64512:100 64512:200".to_string(),
                ),
                (
                    p.to_string(),
                    "10.255.2.2".to_string(),
                    "64512:200".to_string(),
                ),
            ]
        })
        .collect()
}

fn start(ns: &Netns, node: &str, api: &str, config: &Path, log: &Path) -> ChildGuard {
    let config = config.display().to_string();
    speaker::start_speaker(ns, api, node, &["--config-file", &config], log)
}

#[test]
fn custom_resources_announce_what_the_configmap_announces() {
    if !require_root_and(
        "custom_resources_announce_what_the_configmap_announces",
        &["vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    let dir = ScratchDir::new("speaker-crds");
    let (router, [node1, node2]) = router_with_nodes("crd");
    let neighbor = |addr: &str| {
        let mut n = FrrNeighbor::new(addr.parse().unwrap(), 65001);
        n.password = Some(PASSWORD.into());
        n
    };
    let mut cfg = FrrConfig::new(65000, "10.255.1.1".parse().unwrap())
        .neighbor(neighbor("10.255.1.2"))
        .neighbor(neighbor("10.255.2.2"));
    cfg.maximum_paths = Some(2);
    let frr = Frr::start(&router, &cfg);
    let api = NsApi::start(&router);
    seed(&api.store);
    let url1 = format!("http://10.255.1.1:{}", api.port);
    let url2 = format!("http://10.255.2.1:{}", api.port);

    // The objects, made by the real binary from the ConfigMap.
    let configmap = dir.join("configmap.yaml");
    std::fs::write(&configmap, CONFIGMAP).unwrap();
    let bin = ferrolb_bin().display().to_string();
    let migrated = std::process::Command::new(&bin)
        .args([
            "config",
            "migrate",
            &configmap.display().to_string(),
            "-n",
            "ferrolb-system",
        ])
        .output()
        .unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let objects_text = String::from_utf8(migrated.stdout).unwrap();
    for shape in [
        "kind: BGPPeer",
        "passwordSecret:",
        "nodeSelectors:",
        "kind: Community",
        "- first-rack",
    ] {
        assert!(objects_text.contains(shape), "{shape} in\n{objects_text}");
    }
    assert!(!objects_text.contains("password-secret"), "{objects_text}");
    let objects = dir.join("objects.yaml");
    std::fs::write(&objects, &objects_text).unwrap();

    let mut seen = Vec::new();
    for (round, config) in [("configmap", &configmap), ("objects", &objects)] {
        let log = |node: &str| dir.join(&format!("{round}-{node}.log"));
        let mut sp1 = start(&node1, "node1", &url1, config, &log("node1"));
        let mut sp2 = start(&node2, "node2", &url2, config, &log("node2"));
        let got = wait_until(
            Duration::from_secs(30),
            &format!("{round}: FRR's table with both nodes and their communities"),
            || {
                let t = table(&frr);
                (t == expected()).then_some(t)
            },
        );
        seen.push(got);
        // Graceful stop: the speakers withdraw; FRR is empty before the next round.
        sp1.stop(Duration::from_secs(5));
        sp2.stop(Duration::from_secs(5));
        wait_until(
            Duration::from_secs(15),
            &format!("{round}: FRR empty after the speakers stopped"),
            || table(&frr).is_empty().then_some(()),
        );
        for node in ["node1", "node2"] {
            let text = std::fs::read_to_string(log(node)).unwrap_or_default();
            assert!(
                !text.contains(PASSWORD),
                "{round}/{node}: the password was logged"
            );
        }
    }
    assert_eq!(seen[0], seen[1]);
}
