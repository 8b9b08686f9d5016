//! `ferrolb announce --bfd` against FRR 8.4 (zebra + bgpd + bfdd, `neighbor X bfd profile`) in
//! network namespaces: the RFC 5882 coupling, and failure detection measured from the failure
//! to the route leaving the router namespace's kernel table (sampled every 5 ms), beside
//! FRR-to-FRR with the same intervals in the same run.
//!
//! Topology: netns `router` (FRR AS 65000, 10.255.0.1) -- veth -- netns `node` (10.255.0.2,
//! AS 65001): `ferrolb announce` or, for the comparison, a second FRR announcing the same prefix.
//! `FERROLB_BFD_ROUNDS` sets the rounds per measurement (default 5; the docs' table uses 20).

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::netns::Link;
use ferrolb_e2e::peers::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::{require_binary, require_root, veth, wait_until, wait_until_opt, Netns};
use nix::sys::signal::Signal;
use serde_json::Value;

const FRR_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
const PREFIX: &str = "198.51.100.50/32";
/// 198.51.100.50 as /proc/net/route writes it (little-endian hex).
const PREFIX_HEX: &str = "326433C6";
const UP: Duration = Duration::from_secs(30);

struct Lab {
    frr: Frr,
    link: Link,
    node: Netns,
    router: Netns,
}

impl Lab {
    fn start(test: &str, tag: &str, interval_ms: u64) -> Option<Lab> {
        if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bfdd") {
            return None;
        }
        let router = Netns::new(&format!("{tag}r"));
        let node = Netns::new(&format!("{tag}n"));
        let link = veth(&router, &node, 0);
        let mut cfg =
            FrrConfig::new(FRR_AS, link.a_v4).neighbor(FrrNeighbor::new(link.b_v4.into(), NODE_AS));
        cfg.bfdd = true;
        let frr = Frr::start(&router, &cfg);
        set_profile(&frr, interval_ms);
        frr.configure_bgp(&[&format!("neighbor {} bfd profile flb", link.b_v4)]);
        Some(Lab {
            frr,
            link,
            node,
            router,
        })
    }

    fn node_addr(&self) -> IpAddr {
        self.link.b_v4.into()
    }

    fn announce(&self, interval_ms: u64) -> Announcer {
        let i = interval_ms.to_string();
        let args: Vec<String> = [
            "--local-as",
            &NODE_AS.to_string(),
            "--peer",
            &self.link.a_v4.to_string(),
            "--peer-as",
            &FRR_AS.to_string(),
            "--local-address",
            &self.link.b_v4.to_string(),
            "--bfd",
            "--bfd-interval",
            &i,
            "--bfd-multiplier",
            "3",
            PREFIX,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Announcer::start(&self.node, &args)
    }

    /// FRR's bfdd view of our session, when Up with `interval_ms` both ways in effect.
    fn frr_bfd_up(&self, interval_ms: u64) -> bool {
        let want = self.link.b_v4.to_string();
        let Ok(out) = self.frr.try_vtysh(&["show bfd peers json"]) else {
            return false;
        };
        let Ok(v) = serde_json::from_str::<Value>(&out) else {
            return false;
        };
        v.as_array().into_iter().flatten().any(|p| {
            p.get("peer").and_then(Value::as_str) == Some(want.as_str())
                && p.get("status").and_then(Value::as_str) == Some("up")
                && p.get("remote-transmit-interval").and_then(Value::as_u64) == Some(interval_ms)
                && p.get("transmit-interval").and_then(Value::as_u64) == Some(interval_ms)
        })
    }

    /// Waits until BGP is Established, BFD Up at the fast rate, and the route in the kernel.
    fn wait_all_up(&self, interval_ms: u64, log: &dyn Fn() -> String) {
        let ok = wait_until_opt(UP, || {
            (self.frr.established(self.node_addr())
                && self.frr_bfd_up(interval_ms)
                && kernel_has_route(&self.router))
            .then_some(())
        });
        if ok.is_none() {
            panic!(
                "not up: BGP {:?}, BFD {:?}, route {}\n--- node:\n{}\n--- bfdd.log:\n{}",
                self.frr.neighbor_state(self.node_addr()),
                self.frr.try_vtysh(&["show bfd peers"]),
                kernel_has_route(&self.router),
                log(),
                self.frr.dir().read("bfdd.log")
            );
        }
    }
}

fn set_profile(frr: &Frr, interval_ms: u64) {
    frr.vtysh(&[
        "configure terminal",
        "bfd",
        "profile flb",
        &format!("receive-interval {interval_ms}"),
        &format!("transmit-interval {interval_ms}"),
        "detect-multiplier 3",
    ]);
}

/// Runs `f` on a thread inside `ns` (setns(2)).
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace file");
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("thread in the namespace")
}

fn route_in(table: &str) -> bool {
    table
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(1) == Some(PREFIX_HEX))
}

fn kernel_has_route(ns: &Netns) -> bool {
    in_netns(ns, || {
        std::fs::read_to_string("/proc/thread-self/net/route").is_ok_and(|t| route_in(&t))
    })
}

/// Starts a sampler in `ns` that reads the kernel's IPv4 table every 5 ms and returns when the
/// prefix is gone (or after `limit`). Join it for the time it left.
fn route_gone_sampler(ns: &Netns, limit: Duration) -> std::thread::JoinHandle<Option<Instant>> {
    let path = format!("/var/run/netns/{}", ns.name());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace file");
        nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let _ = ready_tx.send(());
        let end = Instant::now() + limit;
        while Instant::now() < end {
            let t = std::fs::read_to_string("/proc/thread-self/net/route").unwrap_or_default();
            if !route_in(&t) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("sampler in the namespace");
    handle
}

/// True when the namespace has an established TCP connection on port 179.
fn bgp_tcp_established(ns: &Netns) -> bool {
    let out = ns.run_ok(&[
        "ss",
        "-Htn",
        "state",
        "established",
        "( sport = :179 or dport = :179 )",
    ]);
    !out.trim().is_empty()
}

fn rounds() -> usize {
    std::env::var("FERROLB_BFD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i.min(s.len() - 1)]
}

fn signal_pids(pids: &[i32], sig: Signal) {
    for p in pids {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), sig).expect("signal");
    }
}

/// RFC 5882 on our side: FRR's bfdd freezes (its bgpd keeps running and would keep the
/// session), our BFD detects it and tears the BGP session down, so the route leaves the router's
/// kernel table within the detection time + margin. While BFD stays Down the session is not
/// re-established; once bfdd runs again, BFD, BGP and the route come back.
#[test]
fn announce_bfd_down_tears_bgp_down_and_holds_it() {
    let test = "announce_bfd_down_tears_bgp_down_and_holds_it";
    let Some(lab) = Lab::start(test, "abfdh", 100) else {
        return;
    };
    let ann = lab.announce(100);
    lab.wait_all_up(100, &|| ann.log());
    let bfdd = lab.frr.pid("bfdd").expect("bfdd pid");
    let sampler = route_gone_sampler(&lab.router, Duration::from_secs(5));
    let t0 = Instant::now();
    signal_pids(&[bfdd], Signal::SIGSTOP);
    let gone = sampler.join().expect("sampler");
    let took = gone.map(|g| g - t0);
    // Held down: FRR's bgpd would accept a new session at once; we must not start one. (No
    // vtysh while bfdd is frozen: vtysh waits for every daemon. The router's TCP sockets tell.)
    let reestablished = wait_until_opt(Duration::from_secs(4), || {
        bgp_tcp_established(&lab.router).then_some(())
    });
    signal_pids(&[bfdd], Signal::SIGCONT);
    let took = took.unwrap_or_else(|| {
        panic!(
            "route still in the router's kernel 5 s after bfdd froze\n{}",
            ann.log()
        )
    });
    println!("bfdd frozen -> our BFD Down -> BGP torn down -> route gone: {took:?}");
    assert!(took < Duration::from_millis(400), "{took:?}\n{}", ann.log());
    assert!(
        reestablished.is_none(),
        "BGP re-established while BFD was Down\n{}",
        ann.log()
    );
    let log = ann.log();
    assert!(
        log.contains("BFD down: tearing the BGP session down"),
        "{log}"
    );
    lab.wait_all_up(100, &|| ann.log());
    assert!(ann.log().contains("BFD Up again: BGP session restarted"));
}

/// RFC 5882 §3.2: the router's AdminDown (`shutdown` in its BFD profile) is not a failure: the
/// BGP session and the route stay, on both sides.
#[test]
fn announce_bfd_peer_admin_down_keeps_bgp() {
    let test = "announce_bfd_peer_admin_down_keeps_bgp";
    let Some(lab) = Lab::start(test, "abfda", 300) else {
        return;
    };
    let ann = lab.announce(300);
    lab.wait_all_up(300, &|| ann.log());
    lab.frr
        .vtysh(&["configure terminal", "bfd", "profile flb", "shutdown"]);
    wait_until(Duration::from_secs(5), "we see the AdminDown", || {
        ann.log().contains("remote=AdminDown").then_some(())
    });
    let dropped = wait_until_opt(Duration::from_secs(4), || {
        (!lab.frr.established(lab.node_addr()) || !kernel_has_route(&lab.router)).then_some(())
    });
    assert!(
        dropped.is_none(),
        "BGP or the route went away on AdminDown\n{}",
        ann.log()
    );
    assert!(!ann.log().contains("tearing the BGP session down"));
    lab.frr
        .vtysh(&["configure terminal", "bfd", "profile flb", "no shutdown"]);
    lab.wait_all_up(300, &|| ann.log());
}

/// One failure measurement: freeze `pids` (the node's speaker) until the route leaves the
/// router's kernel table, then thaw and wait until everything is back.
fn measure_freeze(
    lab: &Lab,
    interval_ms: u64,
    pids: &[i32],
    log: &dyn Fn() -> String,
) -> Vec<Duration> {
    let mut took = Vec::new();
    for round in 0..rounds() {
        lab.wait_all_up(interval_ms, log);
        let sampler = route_gone_sampler(&lab.router, Duration::from_secs(10));
        let t0 = Instant::now();
        signal_pids(pids, Signal::SIGSTOP);
        let gone = sampler.join().expect("sampler");
        signal_pids(pids, Signal::SIGCONT);
        let gone = gone.unwrap_or_else(|| panic!("round {round}: route stayed 10 s\n{}", log()));
        took.push(gone - t0);
    }
    took
}

/// The failure-detection table: the node's speaker frozen (SIGSTOP), at 300 ms x 3 and
/// 100 ms x 3, `ferrolb announce --bfd` beside FRR (bgpd + bfdd) on the node, same router, same
/// run. Target: p99 below detection time + 100 ms, and no worse than FRR-to-FRR (+ 50 ms).
#[test]
fn announce_bfd_failure_detection_vs_frr() {
    let test = "announce_bfd_failure_detection_vs_frr";
    let Some(lab) = Lab::start(test, "abfdm", 300) else {
        return;
    };
    let mut rows = Vec::new();
    for interval in [300u64, 100] {
        set_profile(&lab.frr, interval);
        let detect = Duration::from_millis(3 * interval);
        // ferrolb announce on the node.
        let ann = lab.announce(interval);
        let pid = ann.pid() as i32;
        let ours = measure_freeze(&lab, interval, &[pid], &|| ann.log());
        drop(ann);
        // FRR on the node, same prefix, same profile.
        let mut cfg = FrrConfig::new(NODE_AS, lab.link.b_v4)
            .neighbor(FrrNeighbor::new(lab.link.a_v4.into(), FRR_AS));
        cfg.bfdd = true;
        cfg.extra_router_lines.push(format!(
            "address-family ipv4 unicast\n  network {PREFIX}\n exit-address-family"
        ));
        let node_frr = Frr::start(&lab.node, &cfg);
        set_profile(&node_frr, interval);
        node_frr.configure_bgp(&[&format!("neighbor {} bfd profile flb", lab.link.a_v4)]);
        let pids: Vec<i32> = ["zebra", "bgpd", "bfdd"]
            .iter()
            .filter_map(|d| node_frr.pid(d))
            .collect();
        let frr = measure_freeze(&lab, interval, &pids, &|| node_frr.dir().read("bgpd.log"));
        drop(node_frr);
        let (o50, o99) = (percentile(&ours, 0.5), percentile(&ours, 0.99));
        let (f50, f99) = (percentile(&frr, 0.5), percentile(&frr, 0.99));
        println!(
            "speaker frozen, {interval} ms x 3 (detect {} ms), {} rounds: ferrolb p50 {} ms p99 {} ms | FRR-to-FRR p50 {} ms p99 {} ms",
            detect.as_millis(),
            ours.len(),
            o50.as_millis(),
            o99.as_millis(),
            f50.as_millis(),
            f99.as_millis()
        );
        rows.push((interval, o99, f99, detect));
    }
    for (interval, o99, f99, detect) in rows {
        assert!(
            o99 < detect + Duration::from_millis(100),
            "{interval} ms: p99 {o99:?}"
        );
        assert!(
            o99 <= f99 + Duration::from_millis(50),
            "{interval} ms: ours {o99:?} vs FRR {f99:?}"
        );
    }
}
