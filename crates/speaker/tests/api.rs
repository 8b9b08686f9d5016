//! The speaker library against the in-process API server (real kube client, real HTTP) and a
//! collector BGP peer on loopback (the ferrolb-bgp driver in passive mode, real TCP with MD5):
//! announcements follow Services and endpoints, a broken ConfigMap keeps the last good config,
//! /status, /metrics and Events tell what happens, stopping sends Cease/Administrative
//! Shutdown, and every API call is covered by manifests/speaker-rbac.yaml (and nothing more).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ferrolb_apiserver::{ApiServer, RunningServer};
mod common;

use ferrolb_bgp::driver::{Password, PeerError, Speaker};
use ferrolb_speaker::{Options, StatusReport};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NODE: &str = "n1";
const SPEAKER_SOURCE: &str = "127.0.0.2";
/// The speaker's pod (owned by the DaemonSet `ferrolb-speaker`).
const POD: &str = "ferrolb-speaker-x7k2p";

async fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the speaker");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let code = raw
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (code, body)
}

fn config_map(port: u16, extra_pool: &str) -> Value {
    let text = format!(
        r#"peers:
- peer-address: 127.0.0.1
  peer-port: {port}
  peer-asn: 65000
  my-asn: 65001
  hold-time: 3s
  password-secret:
    name: bgp-auth
    key: password
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28]
{extra_pool}- name: l2
  protocol: layer2
  addresses: [198.51.100.64/28]
"#
    );
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"namespace": "ferrolb-system", "name": "config"},
           "data": {"config": text}})
}

fn service(name: &str, ip: &str, policy: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": "web", "name": name},
           "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                    "ports": [{"port": 80, "protocol": "TCP"}]},
           "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
}

fn slice(service: &str, node: &str, ready: bool) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"namespace": "web", "name": format!("{service}-abc"),
                        "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.244.2.7"], "nodeName": node,
                          "conditions": {"ready": ready}}]})
}

struct Fixture {
    api: RunningServer,
    collector: Speaker,
    port: u16,
}

impl Fixture {
    async fn new() -> Fixture {
        let api = ApiServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (collector, port) = common::collector(SPEAKER_SOURCE, |peer| {
            peer.session.hold_time = 3;
            // A restart time makes the collector set N (RFC 8538), as FRR does.
            peer.session.restart_time = 60;
            peer.password = Some(Password::new("s3cret").unwrap());
        })
        .await;
        let store = api.store();
        // "s3cret" in base64.
        store
            .seed(json!({"apiVersion": "v1", "kind": "Secret",
                         "metadata": {"namespace": "ferrolb-system", "name": "bgp-auth"},
                         "data": {"password": "czNjcmV0"}}))
            .unwrap();
        store.seed(config_map(port, "")).unwrap();
        // FerroLB's status CRDs as shipped.
        store
            .seed_manifests(ferrolb_speaker::session_state::CRD_MANIFEST)
            .unwrap();
        store
            .seed(json!({"apiVersion": "v1", "kind": "Node",
                         "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
                         "spec": {"podCIDRs": ["10.244.1.0/24"]},
                         "status": {"addresses": [{"type": "InternalIP", "address": "10.255.1.2"}]}}))
            .unwrap();
        // The speaker's DaemonSet and its pod on this node (read at stop: restart or removal).
        let ds = store
            .seed(json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
                         "metadata": {"namespace": "ferrolb-system", "name": "ferrolb-speaker"},
                         "spec": {"selector": {"matchLabels": {"app": "speaker"}},
                                  "template": {"metadata": {"labels": {"app": "speaker"}},
                                               "spec": {"containers": [{"name": "speaker",
                                                                        "image": "ferrolb"}]}}}}))
            .unwrap();
        store
            .seed(json!({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"namespace": "ferrolb-system", "name": POD,
                                      "ownerReferences": [{"apiVersion": "apps/v1",
                                          "kind": "DaemonSet", "name": "ferrolb-speaker",
                                          "uid": ds["metadata"]["uid"], "controller": true}]},
                         "spec": {"nodeName": NODE, "containers": [{"name": "speaker",
                                                                    "image": "ferrolb"}]}}))
            .unwrap();
        Fixture {
            api,
            collector,
            port,
        }
    }

    fn received(&self) -> Option<usize> {
        let peer: IpAddr = SPEAKER_SOURCE.parse().unwrap();
        let st = self
            .collector
            .status()
            .into_iter()
            .find(|s| s.address == peer)?;
        st.is_established()
            .then_some(st.prefixes_received.ipv4 + st.prefixes_received.ipv6)
    }

    async fn wait_received(&self, n: usize, what: &str) {
        wait_for(what, Duration::from_secs(15), || {
            (self.received() == Some(n)).then_some(())
        })
        .await;
    }
}

fn options() -> Options {
    Options {
        http_addr: Some("127.0.0.1:0".parse().unwrap()),
        source_address: Some(SPEAKER_SOURCE.parse().unwrap()),
        connect_retry: Duration::from_secs(1),
        namespace: "ferrolb-system".into(),
        pod_name: Some(POD.into()),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announces_follows_endpoints_and_shuts_down_cleanly() {
    let f = Fixture::new().await;
    let store = f.api.store();
    store
        .seed(service("front", "198.51.100.1", "Cluster"))
        .unwrap();
    store.seed(slice("front", "n2", true)).unwrap();
    store
        .seed(service("l2svc", "198.51.100.65", "Cluster"))
        .unwrap();
    store.seed(slice("l2svc", "n1", true)).unwrap();

    let client = kube::Client::try_from(kube::Config::new(f.api.url().parse().unwrap())).unwrap();
    let running = ferrolb_speaker::start(client, NODE, options())
        .await
        .unwrap();
    let http = running.http_addr().unwrap();

    // eTP Cluster with a ready endpoint on another node: announced; the layer2 one is not.
    f.wait_received(1, "the collector to receive 198.51.100.1/32")
        .await;
    let (code, body) = http_get(http, "/status").await;
    assert_eq!(code, 200);
    let report: StatusReport = serde_json::from_str(&body).unwrap();
    assert!(report.ready && report.config_loaded);
    assert_eq!(report.peers.len(), 1);
    assert_eq!(report.peers[0].peer, format!("127.0.0.1:{}", f.port));
    assert_eq!(report.peers[0].state, "Established");
    assert_eq!(report.peers[0].router_id, SPEAKER_SOURCE);
    let front = report
        .services
        .iter()
        .find(|s| s.service == "web/front")
        .unwrap();
    assert!(front.announced, "{front:?}");
    assert_eq!(front.prefixes, ["198.51.100.1/32"]);
    let l2 = report
        .services
        .iter()
        .find(|s| s.service == "web/l2svc")
        .unwrap();
    assert!(!l2.announced);
    assert_eq!(l2.reason_code, "layer2-pool");
    assert_eq!(http_get(http, "/readyz").await.0, 200);
    assert_eq!(http_get(http, "/healthz").await.0, 200);

    // The session's BGPSessionState object, with the Service announced on it.
    let object = format!("n1-127.0.0.1-{}", f.port);
    let state = store
        .wait_for(
            "bgpsessionstates.ferrolb.io",
            "ferrolb-system",
            &object,
            Duration::from_secs(10),
            |o| {
                o.is_some_and(|o| {
                    o["status"]["sessionState"] == "Established" && o["status"]["prefixesSent"] == 1
                })
            },
        )
        .await
        .unwrap_or_else(|last| panic!("no Established BGPSessionState {object}: {last:?}"))
        .unwrap();
    let status = &state["status"];
    assert_eq!(status["node"], NODE);
    assert_eq!(status["peer"], format!("127.0.0.1:{}", f.port));
    assert_eq!(
        (status["peerASN"].as_u64(), status["localASN"].as_u64()),
        (Some(65000), Some(65001))
    );
    assert!(
        status["establishedSince"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{status}"
    );
    assert_eq!(
        status["services"],
        json!([{"service": "web/front", "prefixes": ["198.51.100.1/32"]}])
    );
    assert_eq!(state["metadata"]["labels"]["ferrolb.io/node"], NODE);

    // eTP Local with the only endpoint elsewhere: withdrawn; endpoint moves here: announced.
    store
        .seed(service("front", "198.51.100.1", "Local"))
        .unwrap();
    f.wait_received(0, "the withdrawal (eTP Local, endpoint on n2)")
        .await;
    store.seed(slice("front", NODE, true)).unwrap();
    f.wait_received(1, "the announcement (eTP Local, endpoint on n1)")
        .await;
    store.seed(slice("front", NODE, false)).unwrap();
    f.wait_received(0, "the withdrawal (local endpoint not ready)")
        .await;
    store.seed(slice("front", NODE, true)).unwrap();
    f.wait_received(1, "the announcement again").await;

    // A broken ConfigMap keeps the last good configuration (no withdrawal, no reset).
    let established = f.collector.status()[0].established_count;
    let mut broken = config_map(f.port, "");
    broken["data"]["config"] = json!("peers:\n- peer-address: not-an-ip\n");
    store.seed(broken).unwrap();
    let report: StatusReport = wait_for(
        "the config error in /status",
        Duration::from_secs(10),
        || {
            running
                .status()
                .config_error
                .is_some()
                .then(|| running.status())
        },
    )
    .await;
    assert!(report.config_loaded);
    assert!(report.config_error.unwrap().contains("not-an-ip"));
    assert_eq!(f.received(), Some(1));

    // A pool change that only touches attributes sends UPDATEs, the session stays.
    let cm = config_map(f.port, "");
    let text = cm["data"]["config"].as_str().unwrap().replace(
        "  addresses: [198.51.100.0/28]\n",
        "  addresses: [198.51.100.0/28]\n  bgp-advertisements:\n  - communities: [\"64512:100\"]\n",
    );
    let mut with_communities = cm.clone();
    with_communities["data"]["config"] = json!(text);
    // Read before the change: the UPDATE may arrive before the next line runs.
    let updates_before = f.collector.status()[0].updates_in;
    store.seed(with_communities).unwrap();
    wait_for(
        "an UPDATE with the new communities",
        Duration::from_secs(10),
        || (f.collector.status()[0].updates_in > updates_before).then_some(()),
    )
    .await;
    assert_eq!(
        f.collector.status()[0].established_count,
        established,
        "no session reset"
    );
    assert!(running.status().config_error.is_none());

    // Metrics.
    let (code, metrics) = http_get(http, "/metrics").await;
    assert_eq!(code, 200);
    let label = format!("peer=\"127.0.0.1:{}\"", f.port);
    assert!(
        metrics.contains(&format!("ferrolb_bgp_session_up{{{label}}} 1")),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "ferrolb_bgp_announced_prefixes_total{{{label}}} 1"
    )));
    assert!(metrics.contains("ferrolb_bgp_updates_total{"));
    assert!(metrics.contains("ferrolb_config_loaded 1"));

    // Events name the node.
    let events = wait_for("Events on web/front", Duration::from_secs(10), || {
        let evs = store.list_objects("events", Some("web"));
        let announced = evs.iter().any(|e| {
            e["involvedObject"]["name"] == "front"
                && e["reason"] == "Announced"
                && e["message"].as_str().unwrap_or("").contains("node n1")
        });
        let layer2 = evs
            .iter()
            .any(|e| e["involvedObject"]["name"] == "l2svc" && e["reason"] == "NotAnnounced");
        (announced && layer2).then_some(evs)
    })
    .await;
    assert!(events.iter().any(|e| e["reason"] == "Withdrawn"));

    // A hold-time change needs a new OPEN: the reset runs under the peer's reset Lease, which
    // is gone again once the session is back with its route; the metrics follow the new session.
    let established = f.collector.status()[0].established_count;
    let mut hold6 = cm.clone();
    hold6["data"]["config"] = json!(text.replace("hold-time: 3s", "hold-time: 6s"));
    store.seed(hold6).unwrap();
    wait_for(
        "the reset and the route back",
        Duration::from_secs(15),
        || {
            let st = f.collector.status()[0].clone();
            (st.established_count == established + 1 && f.received() == Some(1)).then_some(())
        },
    )
    .await;
    wait_for("the reset Lease released", Duration::from_secs(5), || {
        store
            .list_objects("leases.coordination.k8s.io", Some("ferrolb-system"))
            .is_empty()
            .then_some(())
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, metrics) = http_get(http, "/metrics").await;
        if metrics.contains(&format!("ferrolb_bgp_session_up{{{label}}} 1")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "session_up not 1 after the reset: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A withdrawal reaches the object within the coalescing interval (1 s) and a poll (250 ms).
    store.seed(slice("front", NODE, false)).unwrap();
    f.wait_received(0, "the withdrawal before the status check")
        .await;
    let t_withdrawn = Instant::now();
    store
        .wait_for(
            "bgpsessionstates.ferrolb.io",
            "ferrolb-system",
            &object,
            Duration::from_secs(5),
            |o| {
                o.is_some_and(|o| {
                    o["status"]["services"] == json!([]) && o["status"]["prefixesSent"] == 0
                })
            },
        )
        .await
        .unwrap_or_else(|last| panic!("the withdrawal never reached {object}: {last:?}"));
    assert!(
        t_withdrawn.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t_withdrawn.elapsed()
    );
    // Written on changes only, at most once a second: this test ran a few seconds with many
    // announce changes, keepalives and UPDATEs (counters are not written).
    // (The request log records a call after its answer: wait for the second one to be logged.)
    let writes = wait_for("two logged writes", Duration::from_secs(2), || {
        let writes = f
            .api
            .calls()
            .requests("patch", "bgpsessionstates.ferrolb.io", Some(&object));
        (writes.len() >= 2).then_some(writes)
    })
    .await;
    assert!(
        (2..=8).contains(&writes.len()),
        "{} writes of {object}",
        writes.len()
    );
    for pair in writes.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(990),
            "two writes within a second"
        );
    }

    // Stop: the collector gets Cease/Administrative Shutdown and drops the routes.
    let t0 = Instant::now();
    running.stop().await;
    assert!(
        store
            .get_object("bgpsessionstates.ferrolb.io", "ferrolb-system", &object)
            .is_none(),
        "a stopped speaker deletes its BGPSessionState objects"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t0.elapsed()
    );
    let st = wait_for(
        "the collector to see the NOTIFICATION",
        Duration::from_secs(2),
        || {
            let st = f.collector.status()[0].clone();
            let cease_6_6 = matches!(&st.last_error, Some(PeerError::Notification { notification, .. })
                if (notification.code, notification.subcode) == (6, 6));
            (st.last_error.is_some() && !cease_6_6).then_some(st)
        },
    )
    .await;
    match &st.last_error {
        Some(PeerError::Notification { notification, .. }) => {
            assert_eq!(
                (notification.code, notification.subcode),
                (6, 2),
                "{notification}"
            )
        }
        other => panic!("expected Cease/Administrative Shutdown, got {other:?}"),
    }
    assert_eq!(st.prefixes_received.ipv4, 0);

    rbac_covers_exactly(&f.api);
    f.collector.shutdown("test done").await;
}

/// (verb, group, resource, namespace scope) from manifests/speaker-rbac.yaml.
fn rbac_rules() -> Vec<(String, String, String, Option<String>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../manifests/speaker-rbac.yaml"
    );
    let text = std::fs::read_to_string(path).expect("manifests/speaker-rbac.yaml");
    let mut out = Vec::new();
    for doc in text.split("\n---\n") {
        let v: Value = serde_saphyr::from_str(doc).expect("RBAC YAML parses");
        let kind = v["kind"].as_str().unwrap_or_default();
        let scope = match kind {
            "ClusterRole" => None,
            "Role" => Some(v["metadata"]["namespace"].as_str().unwrap().to_string()),
            _ => continue,
        };
        for rule in v["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        out.push((
                            verb.as_str().unwrap().into(),
                            g.as_str().unwrap().into(),
                            r.as_str().unwrap().into(),
                            scope.clone(),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn rbac_covers_exactly(api: &RunningServer) {
    let rules = rbac_rules();
    let log = api.calls().log();

    let mut used = vec![false; rules.len()];
    for rec in &log {
        let Some(call) = &rec.call else { continue };
        let resource = match &call.subresource {
            Some(s) => format!("{}/{s}", call.resource),
            None => call.resource.clone(),
        };
        // A server-side apply that creates the object (201) is authorized as patch and create.
        let verbs: &[&str] = if call.verb == "patch" && rec.status == 201 {
            &["patch", "create"]
        } else {
            &[call.verb.as_str()]
        };
        for verb_needed in verbs {
            let hit = rules.iter().position(|(verb, group, res, scope)| {
                verb == verb_needed
                    && group == &call.group
                    && res == &resource
                    && scope
                        .as_ref()
                        .is_none_or(|ns| rec.namespace.as_ref() == Some(ns))
            });
            match hit {
                Some(i) => used[i] = true,
                None => panic!(
                    "the speaker called `{call}` (needs {verb_needed}; namespace {:?}, {} {}) but manifests/speaker-rbac.yaml does not allow it",
                    rec.namespace, rec.method, rec.path
                ),
            }
        }
    }
    let unused: Vec<_> = rules
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r)
        .collect();
    assert!(
        unused.is_empty(),
        "RBAC rules the speaker never uses (not least privilege): {unused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_node_withdraws_without_a_reset() {
    let f = Fixture::new().await;
    let store = f.api.store();
    store
        .seed(service("front", "198.51.100.2", "Cluster"))
        .unwrap();
    store.seed(slice("front", NODE, true)).unwrap();
    let client = kube::Client::try_from(kube::Config::new(f.api.url().parse().unwrap())).unwrap();
    let running = ferrolb_speaker::start(client, NODE, options())
        .await
        .unwrap();
    f.wait_received(1, "198.51.100.2/32").await;
    let established = f.collector.status()[0].established_count;

    // The exclusion label withdraws everything without a session reset.
    store
        .seed(json!({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": NODE, "labels": {
                        "node.kubernetes.io/exclude-from-external-load-balancers": "true"}},
                     "spec": {"podCIDRs": ["10.244.1.0/24"]}}))
        .unwrap();
    f.wait_received(0, "the withdrawal from the excluded node")
        .await;
    assert_eq!(f.collector.status()[0].established_count, established);
    let st = running.status();
    assert_eq!(st.services[0].reason_code, "node-excluded");
    running.stop().await;
    f.collector.shutdown("test done").await;
}

/// The speaker's DaemonSet with `template_spec` merged into its pod template's spec.
fn speaker_daemonset(template_spec: Value) -> Value {
    let mut spec = json!({"hostNetwork": true,
                          "containers": [{"name": "speaker", "image": "ferrolb"}]});
    for (k, v) in template_spec.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
           "metadata": {"namespace": "ferrolb-system", "name": "ferrolb-speaker"},
           "spec": {"selector": {"matchLabels": {"app": "speaker"}},
                    "template": {"metadata": {"labels": {"app": "speaker"}}, "spec": spec}}})
}

/// This node with `taints`.
fn tainted_node(taints: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE,
                                                 "kubernetes.io/os": "linux"}},
           "spec": {"podCIDRs": ["10.244.1.0/24"], "taints": taints},
           "status": {"addresses": [{"type": "InternalIP", "address": "10.255.1.2"}]}})
}

/// What the API shows when the speaker stops, and whether that stop is a departure (the
/// reason's words in the Hard Reset's shutdown communication) or a restart.
enum AtStop {
    /// The DaemonSet's pod template, and the Node's taints.
    Cluster(Value, Value),
    /// The DaemonSet deleted.
    DaemonSetDeleted,
}

/// With `graceful-restart`, a stop while the speaker's DaemonSet will run a pod on this node
/// again is a restart (closed without NOTIFICATION: the router keeps the routes as stale);
/// once the DaemonSet is deleted, or its pod template no longer fits the node (nodeSelector,
/// an untolerated NoExecute taint), the stop is a departure: Cease/Hard Reset (6/9), the
/// routes go at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_is_a_departure_when_the_daemonset_will_not_run_here_again() {
    let f = Fixture::new().await;
    let store = f.api.store();
    let mut cm = config_map(f.port, "");
    let text = cm["data"]["config"].as_str().unwrap().replace(
        "  hold-time: 3s\n",
        "  hold-time: 3s\n  graceful-restart: true\n  restart-time: 30\n",
    );
    cm["data"]["config"] = json!(text);
    store.seed(cm).unwrap();
    store
        .seed(service("front", "198.51.100.2", "Cluster"))
        .unwrap();
    store.seed(slice("front", NODE, true)).unwrap();
    let linux = json!({"nodeSelector": {"kubernetes.io/os": "linux"},
                       "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                        "operator": "Exists", "effect": "NoSchedule"}]});
    let storage = json!([{"key": "dedicated", "value": "storage", "effect": "NoExecute"}]);
    let rounds = [
        // The template still selects the node; a taint it tolerates changes nothing.
        (AtStop::Cluster(linux.clone(), json!([])), None),
        (
            AtStop::Cluster(
                linux.clone(),
                json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
            ),
            None,
        ),
        // The operator moves the speakers to labelled nodes: this one is not labelled.
        (
            AtStop::Cluster(
                json!({"nodeSelector": {"ferrolb.io/speaker": "true"}}),
                json!([]),
            ),
            Some("nodeSelector"),
        ),
        // The node dedicated to storage with a NoExecute taint the speaker does not tolerate.
        (AtStop::Cluster(linux, storage), Some("taint")),
        (AtStop::DaemonSetDeleted, Some("DaemonSet was deleted")),
    ];
    let collector_peer: IpAddr = "127.0.0.1".parse().unwrap();
    for (round, (at_stop, departure)) in (1u64..).zip(rounds) {
        match &at_stop {
            AtStop::Cluster(template, taints) => {
                store.seed(speaker_daemonset(template.clone())).unwrap();
                store.seed(tainted_node(taints.clone())).unwrap();
            }
            AtStop::DaemonSetDeleted => {
                let ds = ferrolb_apiserver::registry::find_kind("apps/v1", "DaemonSet").unwrap();
                store
                    .delete(ds, "ferrolb-system", "ferrolb-speaker", None)
                    .unwrap();
            }
        }
        let client =
            kube::Client::try_from(kube::Config::new(f.api.url().parse().unwrap())).unwrap();
        let running = ferrolb_speaker::start(client, NODE, options())
            .await
            .unwrap();
        f.wait_received(1, "198.51.100.2/32").await;
        // Stop only after the collector's End-of-RIBs: a collector still writing could report
        // its own broken pipe instead of our NOTIFICATION.
        let mut ours = running.bgp().watch(collector_peer).unwrap();
        let eor = ours.wait_for(|s| s.updates_in >= 2);
        tokio::time::timeout(Duration::from_secs(10), eor)
            .await
            .expect("the collector's End-of-RIBs")
            .expect("status channel");
        let gr = running.status().peers[0].graceful_restart.clone();
        assert!(
            gr.as_ref().is_some_and(|g| g.negotiated && g.notification),
            "{gr:?}"
        );
        running.stop().await;
        let st = wait_for("the session down", Duration::from_secs(5), || {
            let st = f.collector.status()[0].clone();
            (st.established_count == round && !st.is_established()).then_some(st)
        })
        .await;
        match (&st.last_error, departure) {
            (Some(PeerError::Notification { notification, .. }), Some(reason)) => {
                assert_eq!(
                    (notification.code, notification.subcode),
                    (6, 9),
                    "round {round}: {notification}"
                );
                let said = notification
                    .hard_reset_cause()
                    .and_then(|cause| cause.shutdown_message())
                    .unwrap_or_default();
                assert!(said.contains(reason), "round {round}: {said:?}");
            }
            (Some(PeerError::ConnectionClosed | PeerError::Transport(_)), None) => {}
            (other, _) => panic!("round {round} (departure: {departure:?}): {other:?}"),
        }
    }
    f.collector.shutdown("test done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_session_writes_its_object_at_most_once_a_second() {
    let f = Fixture::new().await;
    let store = f.api.store();
    store
        .seed(service("front", "198.51.100.3", "Cluster"))
        .unwrap();
    store.seed(slice("front", NODE, true)).unwrap();
    let client = kube::Client::try_from(kube::Config::new(f.api.url().parse().unwrap())).unwrap();
    let running = ferrolb_speaker::start(
        client,
        NODE,
        Options {
            connect_retry: Duration::from_millis(100),
            ..options()
        },
    )
    .await
    .unwrap();
    f.wait_received(1, "198.51.100.3/32").await;
    let object = format!("n1-127.0.0.1-{}", f.port);
    let established =
        |o: Option<&Value>| o.is_some_and(|o| o["status"]["sessionState"] == "Established");
    store
        .wait_for(
            "bgpsessionstates.ferrolb.io",
            "ferrolb-system",
            &object,
            Duration::from_secs(5),
            established,
        )
        .await
        .expect("the first Established state");

    // Reset the session from the collector's side 3 times, as soon as it is back up (the
    // speaker's connect-retry backoff grows after that): each flap is Established -> Idle ->
    // Connect/Active -> OpenSent -> OpenConfirm -> Established, 5 state changes in about a second.
    let peer: IpAddr = SPEAKER_SOURCE.parse().unwrap();
    let config = f
        .collector
        .peers()
        .into_iter()
        .find(|p| p.address == peer)
        .unwrap();
    let before = f
        .api
        .calls()
        .requests("patch", "bgpsessionstates.ferrolb.io", Some(&object))
        .len();
    let t0 = Instant::now();
    let flaps = 3;
    for i in 0..flaps {
        wait_for("the session back up", Duration::from_secs(10), || {
            f.collector
                .status()
                .iter()
                .any(|s| s.address == peer && s.is_established())
                .then_some(())
        })
        .await;
        f.collector
            .remove_peer(peer, &format!("flap {i}"))
            .await
            .unwrap();
        f.collector.add_peer(config.clone()).unwrap();
    }
    wait_for(
        "the session back up after the flaps",
        Duration::from_secs(10),
        || {
            f.collector
                .status()
                .iter()
                .any(|s| s.address == peer && s.is_established())
                .then_some(())
        },
    )
    .await;
    let flapping = t0.elapsed();
    // The object ends on the last state: Established since the last reconnection, with the reset
    // (Cease/Peer De-configured) as its last error.
    let since = wait_for(
        "the speaker Established again",
        Duration::from_secs(10),
        || {
            let p = running.status().peers.into_iter().next()?;
            (p.state == "Established").then_some(p.established_since?)
        },
    )
    .await;
    let last = store
        .wait_for(
            "bgpsessionstates.ferrolb.io",
            "ferrolb-system",
            &object,
            Duration::from_secs(5),
            |o| {
                established(o)
                    && o.is_some_and(|o| {
                        o["status"]["establishedSince"] == since.as_str()
                            && o["status"]["lastError"]
                                .as_str()
                                .is_some_and(|e| e.contains("Peer De-configured"))
                    })
            },
        )
        .await
        .unwrap_or_else(|last| {
            panic!(
                "the object did not end Established after flap {}: {last:?}",
                flaps - 1
            )
        })
        .unwrap();
    assert_eq!(last["status"]["prefixesSent"], 1);
    let writes = f
        .api
        .calls()
        .requests("patch", "bgpsessionstates.ferrolb.io", Some(&object));
    let during = writes.len() - before;
    // At most one write per started second (plus the final one), far fewer than the state changes.
    let bound = flapping.as_secs() as usize + 2;
    println!("{flaps} flaps in {flapping:?}: {during} writes of {object} (bound {bound})");
    assert!(during <= bound, "{during} writes in {flapping:?}");
    assert!(
        during < flaps * 5,
        "{during} writes for {flaps} flaps: not coalesced"
    );
    for pair in writes.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(990),
            "two writes within a second"
        );
    }
    running.stop().await;
    f.collector.shutdown("test done").await;
}
