//! Benchmarks of `ferrolb speaker` with a real FRR (figures printed, run on demand):
//!
//! ```sh
//! cargo build --release -p ferrolb
//! FERROLB_BIN=$PWD/target/release/ferrolb \
//!   cargo test -p ferrolb-e2e --test speaker_bench -- --ignored --nocapture
//! ```
//!
//! - latency from a Service change to the route in the router's kernel (FRR bgpd + zebra,
//!   `coalesce-time 50`), observed with `ip monitor route` in the router namespace: 200 status
//!   IPs written, then 200 endpoints becoming ready; p50 and p99 (target p99 < 200 ms);
//! - the speaker's RSS idle (one session, no Service) and with 10,000 announced Services
//!   (targets < 10 MiB and < 40 MiB), with where the idle memory is (anonymous/file split and
//!   the largest mappings). `SPEAKER_BENCH_IDLE_ONLY=1` stops after the idle figure.
//!
//! Topology and API fixture as in speaker_frr.rs (one node here).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::process::{rss_breakdown, rss_kib};
use ferrolb_e2e::speaker;
use ferrolb_e2e::{ferrolb_bin, veth, ChildGuard, Netns, ScratchDir};
use serde_json::{json, Value};

fn service(name: &str, ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": "bench", "name": name},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
           "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
}

fn slice(svc: &str, ready: bool) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"namespace": "bench", "name": format!("{svc}-x"),
                        "labels": {"kubernetes.io/service-name": svc}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.244.1.9"], "nodeName": "node1",
                          "conditions": {"ready": ready}}]})
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

fn report(what: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "speaker bench: {what}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        v.len(),
        percentile(&v, 0.50).as_secs_f64() * 1e3,
        percentile(&v, 0.99).as_secs_f64() * 1e3,
        v.last().unwrap().as_secs_f64() * 1e3
    );
}

/// `ip monitor route` in a namespace; lines arrive with the time they were read.
struct RouteMonitor {
    child: std::process::Child,
    rx: mpsc::Receiver<(Instant, String)>,
}

impl RouteMonitor {
    fn start(ns: &Netns) -> RouteMonitor {
        let mut child = Command::new("ip")
            .args(["-n", ns.name(), "monitor", "route"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip monitor route");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        RouteMonitor { child, rx }
    }

    /// Waits for a route line about `prefix`: added (`deleted` false) or deleted.
    fn wait(&self, prefix: &str, deleted: bool, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no route event for {prefix} within {timeout:?}"));
            let is_delete = line.starts_with("Deleted");
            let first = line
                .trim_start_matches("Deleted ")
                .split_whitespace()
                .next();
            if first == Some(prefix) && is_delete == deleted {
                return at;
            }
        }
    }
}

impl Drop for RouteMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_speaker(ns: &Netns, url: &str, dir: &ScratchDir, tag: &str) -> ChildGuard {
    let log = dir.join(&format!("speaker-{tag}.log"));
    speaker::start_speaker(ns, url, "node1", &["--no-events"], &log)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (see the module docs)"]
fn speaker_latency_and_memory() {
    if !require_root_and(
        "speaker_latency_and_memory",
        &["vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    println!("speaker bench: binary {}", ferrolb_bin().display());
    let dir = ScratchDir::new("speaker-bench");
    let router = Netns::new("spb-r");
    let node1 = Netns::new("spb-n1");
    veth(&router, &node1, 1);
    let mut n = FrrNeighbor::new("10.255.1.2".parse().unwrap(), 65001);
    n.ipv6 = true;
    let frr = Frr::start(
        &router,
        &FrrConfig::new(65000, "10.255.1.1".parse().unwrap()).neighbor(n),
    );
    let api = NsApi::start(&router);
    let store = &api.store;
    let config = "peers:\n- peer-address: 10.255.1.1\n  peer-asn: 65000\n  my-asn: 65001\n\
                  address-pools:\n- name: default\n  protocol: bgp\n  addresses:\n  \
                  - 198.51.100.0/24\n  - 2001:db8::/112\n";
    store
        .seed(json!({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"namespace": "ferrolb-system", "name": "config"},
                     "data": {"config": config}}))
        .unwrap();
    store
        .seed(json!({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1"}}}))
        .unwrap();
    let url = format!("http://10.255.1.1:{}", api.port);
    let mut sp = start_speaker(&node1, &url, &dir, "a");
    frr.wait_established("10.255.1.2".parse().unwrap(), Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2)); // settle before the idle figure
    let idle = rss_kib(sp.pid() as i32).expect("speaker RSS");
    println!(
        "speaker bench: RSS idle (1 session, 0 Services): {:.1} MiB",
        idle as f64 / 1024.0
    );
    if let Some(split) = rss_breakdown(sp.pid() as i32, 12) {
        println!("speaker bench: idle memory: {split}");
    }
    if std::env::var_os("SPEAKER_BENCH_IDLE_ONLY").is_some() {
        return;
    }

    // Latency 1: status IP written -> route in the router's kernel.
    let monitor = RouteMonitor::start(&router);
    for i in 1..=200 {
        store.seed(slice(&format!("lat{i}"), true)).unwrap();
    }
    let mut status_written = Vec::new();
    for i in 1..=200u32 {
        let ip = format!("198.51.100.{i}");
        let t0 = Instant::now();
        store.seed(service(&format!("lat{i}"), &ip)).unwrap();
        let at = monitor.wait(&ip, false, Duration::from_secs(10));
        status_written.push(at - t0);
    }
    report(
        "status IP written -> route in the router's kernel",
        status_written,
    );

    // Latency 2: endpoint becoming ready -> route.
    for i in 1..=200u32 {
        store.seed(slice(&format!("lat{i}"), false)).unwrap();
        monitor.wait(&format!("198.51.100.{i}"), true, Duration::from_secs(10));
    }
    let mut ready = Vec::new();
    for i in 1..=200u32 {
        let ip = format!("198.51.100.{i}");
        let t0 = Instant::now();
        store.seed(slice(&format!("lat{i}"), true)).unwrap();
        let at = monitor.wait(&ip, false, Duration::from_secs(10));
        ready.push(at - t0);
    }
    report("endpoint ready -> route in the router's kernel", ready);
    drop(monitor);
    sp.stop(Duration::from_secs(5));

    // Memory with 10,000 announced Services (IPv6, 2001:db8::1 .. ::2710), listed at start.
    let count: u32 = std::env::var("FERROLB_BENCH_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let t0 = Instant::now();
    for i in 1..=count {
        let name = format!("mem{i}");
        store.seed(slice(&name, true)).unwrap();
        store
            .seed(service(&name, &format!("2001:db8::{i:x}")))
            .unwrap();
    }
    println!(
        "speaker bench: seeded {count} Services + slices in {:?}",
        t0.elapsed()
    );
    let t0 = Instant::now();
    let sp = start_speaker(&node1, &url, &dir, "b");
    let got = ferrolb_e2e::wait_until_opt(Duration::from_secs(400), || {
        (frr.pfx_rcd("ipv6", "10.255.1.2".parse().unwrap()) == Some(u64::from(count))).then_some(())
    });
    if got.is_none() {
        let bin = ferrolb_bin().display().to_string();
        let status = node1.exec(&[&bin, "status"]);
        panic!(
            "FRR has {:?} IPv6 prefixes, expected {count}\nferrolb status:\n{}\nspeaker log:\n{}",
            frr.pfx_rcd("ipv6", "10.255.1.2".parse().unwrap()),
            String::from_utf8_lossy(&status.stdout),
            dir.read("speaker-b.log")
        );
    }
    println!(
        "speaker bench: start -> {count} IPv6 + 200 IPv4 prefixes at FRR: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(1));
    let full = rss_kib(sp.pid() as i32).expect("speaker RSS");
    println!(
        "speaker bench: RSS with {} announced Services: {:.1} MiB",
        count + 200,
        full as f64 / 1024.0
    );
    if let Some(split) = rss_breakdown(sp.pid() as i32, 6) {
        println!("speaker bench: memory at 10k: {split}");
    }
    drop(sp);
}
