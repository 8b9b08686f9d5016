//! Shared support for the controller's tests: the in-memory API server over HTTP on 127.0.0.1:0,
//! a real kube client, objects to seed, bounded waits, and a tiny HTTP GET for /metrics.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolb_apiserver::{ApiServer, RunningServer};
use ferrolb_controller::config_source::ConfigUpdate;
use ferrolb_controller::health::Readiness;
use ferrolb_controller::leader::Leadership;
use ferrolb_controller::metrics::Metrics;
use ferrolb_controller::reconciler::Reconciler;
use ferrolb_controller::{ConfigSource, ControllerHandle, ControllerState, LeaseOptions, Options};
use k8s_openapi::api::core::v1::Service;
use kube::runtime::watcher::Event;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, watch};

/// Upper bound for every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// A pool config: each (name, addresses) becomes a `bgp` pool.
pub fn config_text(pools: &[(&str, &[&str])]) -> String {
    let mut text = String::from("address-pools:\n");
    for (name, addresses) in pools {
        text.push_str(&format!("- name: {name}\n  protocol: bgp\n  addresses:\n"));
        for a in *addresses {
            text.push_str(&format!("  - {a}\n"));
        }
    }
    text
}

/// The ConfigMap `ferrolb-system/config` with `text` under key `config`.
pub fn config_map(text: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "namespace": "ferrolb-system", "name": "config" },
        "data": { "config": text },
    })
}

/// A `LoadBalancer` Service with one TCP port.
pub fn lb_service(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "namespace": namespace, "name": name },
        "spec": {
            "type": "LoadBalancer",
            "selector": { "app": name },
            "ports": [ { "name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080 } ],
        },
    })
}

/// A `LoadBalancer` Service that already has `ip` in its status.
pub fn lb_service_with_ip(namespace: &str, name: &str, ip: IpAddr) -> Value {
    let mut svc = lb_service(namespace, name);
    svc["status"] = json!({ "loadBalancer": { "ingress": [ { "ip": ip.to_string() } ] } });
    svc
}

/// Names of the Services whose status was patched, in call order (from the server's call log).
pub fn status_writes(server: &RunningServer) -> Vec<String> {
    status_patches(server, None)
}

/// Names of the Services whose status patch was answered `code` (any code for `None`), in order.
pub fn status_patches(server: &RunningServer, code: Option<u16>) -> Vec<String> {
    server
        .calls()
        .log()
        .into_iter()
        .filter(|r| code.is_none_or(|c| r.status == c))
        .filter(|r| {
            r.call.as_ref().is_some_and(|c| {
                c.verb == "patch"
                    && c.resource == "services"
                    && c.subresource.as_deref() == Some("status")
            })
        })
        .filter_map(|r| r.name)
        .collect()
}

/// A reconciler driven by hand: leads with `leadership` (its lease gate is `gate`, if any) and
/// has the pools `pools` in force (applied once it has listed).
pub async fn leading_reconciler(
    server: &RunningServer,
    pools: &[(&str, &[&str])],
    leadership: Leadership,
    gate: Option<watch::Receiver<Leadership>>,
) -> Reconciler {
    let (state, _) = watch::channel(ControllerState::default());
    let (events, _) = broadcast::channel(64);
    let mut reconciler = Reconciler::new(
        client(server),
        "test".into(),
        None,
        Metrics::new(),
        Arc::new(Readiness::default()),
        state,
        events,
    );
    if let Some(gate) = gate {
        reconciler.set_leader_gate(gate);
    }
    reconciler.set_leadership(leadership);
    let config = ferrolb_config::parse_document(&config_text(pools)).expect("config");
    reconciler
        .on_config(ConfigUpdate::Valid {
            config,
            target: None,
        })
        .await;
    reconciler
}

/// Hands `listed` to the reconciler as one full list (what a watcher does after a 410).
pub async fn relist(reconciler: &mut Reconciler, listed: &[Service]) {
    reconciler.on_service_event(Event::Init).await;
    for service in listed {
        reconciler
            .on_service_event(Event::InitApply(service.clone()))
            .await;
    }
    reconciler.on_service_event(Event::InitDone).await;
}

/// Starts the API server with the namespace `ferrolb-system`.
pub async fn api_server() -> RunningServer {
    let server = ApiServer::start("127.0.0.1:0".parse().expect("literal address"))
        .await
        .expect("start the in-memory API server");
    server.store().ensure_namespace("ferrolb-system");
    server.store().ensure_namespace("default");
    server
}

/// A real kube client for the server.
pub fn client(server: &RunningServer) -> kube::Client {
    let uri = server.url().parse().expect("server URL");
    kube::Client::try_from(ferrolb_controller::client_config(kube::Config::new(uri)))
        .expect("kube client")
}

/// Controller options for tests: metrics on 127.0.0.1:0, optional fast lease of `lease_secs`.
pub fn options(identity: &str, lease_secs: Option<u64>) -> Options {
    let mut options = Options::new(identity);
    options.config_source = ConfigSource::default();
    options.metrics_addr = Some("127.0.0.1:0".parse().expect("literal address"));
    options.lease = lease_secs.map(|secs| LeaseOptions::fast(identity, secs));
    options
}

/// Polls `cond` every 20 ms until it returns `Some`, or panics after `WAIT` with `what`.
pub async fn wait_for<T>(what: &str, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = cond() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {WAIT:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ConfigMap with one pool `p` of `cidr`, and a single controller (no election) that
/// writes; the call log starts empty after that.
pub async fn writing_controller(server: &RunningServer, cidr: &str) -> ControllerHandle {
    server
        .store()
        .seed(config_map(&config_text(&[("p", &[cidr])])))
        .expect("seed config");
    let handle = ferrolb_controller::start(client(server), options("ctl-0", None))
        .await
        .expect("start controller");
    wait_writing(&handle).await;
    server.calls().reset();
    handle
}

/// Waits until the controller writes (leader and initial list registered).
pub async fn wait_writing(handle: &ControllerHandle) {
    assert!(
        handle
            .wait_for(WAIT, |s| s.writing && s.config_loaded)
            .await,
        "controller did not start writing within {WAIT:?}: {:?}",
        *handle.state().borrow()
    );
}

/// The addresses in a stored Service's `status.loadBalancer.ingress` (empty when none or gone).
pub fn ingress_ips(server: &RunningServer, namespace: &str, name: &str) -> Vec<IpAddr> {
    server
        .store()
        .get_object("services", namespace, name)
        .and_then(|svc| svc.pointer("/status/loadBalancer/ingress").cloned())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|i| i.get("ip").and_then(Value::as_str))
        .filter_map(|ip| ip.parse().ok())
        .collect()
}

/// Waits until the Service has exactly one ingress address and returns it.
pub async fn wait_ip(server: &RunningServer, namespace: &str, name: &str) -> IpAddr {
    wait_for(&format!("an address on {namespace}/{name}"), || {
        let ips = ingress_ips(server, namespace, name);
        (ips.len() == 1).then(|| ips[0])
    })
    .await
}

/// Events in the store about `kind` `namespace/name` with `reason`, as (type, message).
pub fn events_for(
    server: &RunningServer,
    kind: &str,
    namespace: &str,
    name: &str,
    reason: &str,
) -> Vec<(String, String)> {
    server
        .store()
        .list_objects("events", Some(namespace))
        .into_iter()
        .filter(|e| {
            e.pointer("/involvedObject/kind").and_then(Value::as_str) == Some(kind)
                && e.pointer("/involvedObject/name").and_then(Value::as_str) == Some(name)
                && e.get("reason").and_then(Value::as_str) == Some(reason)
        })
        .map(|e| {
            (
                e.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                e.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// A plain HTTP/1.1 GET on loopback; returns (status code, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics server");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read response");
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("HTTP status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of one metric line (`name{labels}` exactly as printed) in a /metrics body.
pub fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|line| {
        line.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// The `ferrolb` binary: FERROLB_BIN (as scripts/test.sh exports), else the target dir's debug build.
pub fn ferrolb_bin() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    if let Ok(path) = std::env::var("FERROLB_BIN") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    Some(target.join("debug/ferrolb")).filter(|p| p.is_file())
}

/// Whether tests that need the binary must fail instead of skipping (CI=true or FERROLB_E2E_REQUIRED=1).
pub fn e2e_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("FERROLB_E2E_REQUIRED").is_ok_and(|v| v == "1")
}

/// The `holderIdentity` of the Lease `ferrolb-system/ferrolb-controller`, if held.
pub fn lease_holder(server: &RunningServer) -> Option<String> {
    server
        .store()
        .get_object(
            "leases.coordination.k8s.io",
            "ferrolb-system",
            "ferrolb-controller",
        )
        .and_then(|l| {
            l.pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}
