//! `ferrolb announce --graceful-restart` against FRR 8.4 (`bgp graceful-restart`, zebra) in
//! network namespaces: the route is sampled in the router's kernel table every 5 ms while the
//! announcer restarts, is killed for good, or withdraws.
//!
//! Topology per test: netns `router` (FRR AS 65000, 10.255.0.1) joined by one veth pair to netns
//! `node` (ferrolb announce AS 65001, 10.255.0.2) announcing 198.51.100.10/32 (LB pool range),
//! and by another to netns `client` (10.255.1.2), which sends a steady UDP flow (200 packets/s)
//! through the router to 198.51.100.10, answered by an echo responder in `node`.
//! Each test prints a `measured:` line with its figure (see docs/graceful-restart.md).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::failure_detection::{frr_bfd_up, set_bfd_profile};
use ferrolb_e2e::netns::Link;
use ferrolb_e2e::peers::{Bird, BirdConfig, BirdNeighbor, Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::route_sampler::{route_present, RouteSampler};
use ferrolb_e2e::udp_flow::{Flow, FlowReport, Responder};
use ferrolb_e2e::{require_binary, require_root, veth, wait_until, wait_until_opt, Netns};
use nix::sys::signal::Signal;
use serde_json::Value;

const FRR_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
/// Name of BIRD's `protocol bgp` towards the node.
const BIRD_PROTOCOL: &str = "ferrolb";
const PREFIX: &str = "198.51.100.10/32";
const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const UDP_PORT: u16 = 7000;
/// Packets per second of the UDP flow.
const FLOW_RATE: u32 = 200;
/// Sampling period of the router's kernel table.
const SAMPLE: Duration = Duration::from_millis(5);
/// Bound for a session to come up and the route to reach the kernel.
const UP: Duration = Duration::from_secs(15);
/// Bound for an announcer to exit after a signal.
const EXIT: Duration = Duration::from_secs(5);
/// A withdrawal must take the route out of the kernel within this.
const FAST_WITHDRAW: Duration = Duration::from_secs(1);

/// The router daemon: FRR 8.4 or BIRD 2 (both install the route in the kernel table).
enum Router {
    Frr(Frr),
    Bird(Bird),
}

/// The router in `router`, an empty `node`, a `client`. Field order = drop order: the daemon
/// stops before the namespaces.
struct Lab {
    daemon: Router,
    node: Netns,
    router: Netns,
    client: Netns,
    peer: IpAddr,
    client_addr: Ipv4Addr,
}

impl Lab {
    /// FRR with `bgp graceful-restart`.
    fn start(test: &str) -> Option<Lab> {
        if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bgpd") {
            return None;
        }
        Some(Lab::build(|router, link| {
            let mut cfg = FrrConfig::new(FRR_AS, link.a_v4)
                .neighbor(FrrNeighbor::new(link.b_v4.into(), NODE_AS));
            cfg.extra_router_lines.push("bgp graceful-restart".into());
            Router::Frr(Frr::start(router, &cfg))
        }))
    }

    /// FRR with `bgp graceful-restart` and BFD (bfdd, profile `flb`: `interval_ms` x 3) on the
    /// node's session.
    fn start_with_bfd(test: &str, interval_ms: u64) -> Option<Lab> {
        if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bfdd") {
            return None;
        }
        Some(Lab::build(|router, link| {
            let mut cfg = FrrConfig::new(FRR_AS, link.a_v4)
                .neighbor(FrrNeighbor::new(link.b_v4.into(), NODE_AS));
            cfg.bfdd = true;
            cfg.extra_router_lines.push("bgp graceful-restart".into());
            let frr = Frr::start(router, &cfg);
            set_bfd_profile(&frr, interval_ms);
            frr.configure_bgp(&[&format!("neighbor {} bfd profile flb", link.b_v4)]);
            Router::Frr(frr)
        }))
    }

    /// BIRD 2 with its defaults (`graceful restart aware`: helper) and a kernel protocol.
    fn start_bird(test: &str) -> Option<Lab> {
        if !require_root(test) || !require_binary("bird") || !require_binary("birdc") {
            return None;
        }
        Some(Lab::build(|router, link| {
            let mut cfg = BirdConfig::new(FRR_AS, link.a_v4);
            cfg.kernel_export_v4 = true;
            let mut n = BirdNeighbor::new(BIRD_PROTOCOL, link.b_v4.into(), NODE_AS);
            n.local_address = Some(link.a_v4.into());
            cfg.neighbors.push(n);
            Router::Bird(Bird::start(router, &cfg))
        }))
    }

    fn build(start: impl FnOnce(&Netns, &Link) -> Router) -> Lab {
        let router = Netns::new("grr");
        let node = Netns::new("grn");
        let client = Netns::new("grc");
        let link = veth(&router, &node, 0);
        let client_link = veth(&router, &client, 1);
        router.sysctl("net.ipv4.ip_forward", "1");
        node.run_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{SERVICE_IP}/32"),
            "dev",
            "lo",
        ]);
        let to_client = "10.255.1.0/24"; // veth index 1
        node.run_ok(&[
            "ip",
            "route",
            "add",
            to_client,
            "via",
            &link.a_v4.to_string(),
        ]);
        let via = client_link.a_v4.to_string();
        client.run_ok(&["ip", "route", "add", "198.51.100.0/24", "via", &via]);
        let daemon = start(&router, &link);
        Lab {
            daemon,
            node,
            router,
            client,
            peer: link.b_v4.into(),
            client_addr: client_link.b_v4,
        }
    }

    /// The FRR daemon (for FRR-only checks).
    fn frr(&self) -> &Frr {
        match &self.daemon {
            Router::Frr(f) => f,
            Router::Bird(_) => panic!("an FRR-only check on BIRD"),
        }
    }

    fn established(&self) -> bool {
        match &self.daemon {
            Router::Frr(f) => f.established(self.peer),
            Router::Bird(b) => b.protocol_state(BIRD_PROTOCOL) == "Established",
        }
    }

    /// The daemon's view of the session and its log, for failure messages.
    fn daemon_state(&self) -> String {
        match &self.daemon {
            Router::Frr(f) => format!(
                "FRR says {:?}\n--- bgpd.log:\n{}",
                f.neighbor_state(self.peer),
                f.dir().read("bgpd.log")
            ),
            Router::Bird(b) => format!(
                "BIRD says {:?}\n--- bird.log:\n{}",
                b.protocol_state(BIRD_PROTOCOL),
                b.dir().read("bird.log")
            ),
        }
    }

    /// Starts `ferrolb announce` towards FRR with `extra` flags and PREFIX, and waits until the
    /// route is in the router's kernel table.
    fn announce(&self, extra: &[&str]) -> Announcer {
        let mut args: Vec<String> = [
            "--local-as",
            &NODE_AS.to_string(),
            "--peer",
            "10.255.0.1",
            "--peer-as",
            &FRR_AS.to_string(),
            "--local-address",
            &self.peer.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(PREFIX.into());
        let mut ann = Announcer::start(&self.node, &args);
        let up = wait_until_opt(UP, || {
            ann.assert_running();
            (self.established() && self.in_kernel()).then_some(())
        });
        if up.is_none() {
            panic!(
                "{PREFIX} not in the router's kernel table within {UP:?}: {}\n--- ferrolb:\n{}",
                self.daemon_state(),
                ann.log(),
            );
        }
        ann
    }

    /// Starts the echo responder in `node` and the client flow to SERVICE_IP.
    fn flow(&self) -> (Responder, Flow) {
        self.flow_at(FLOW_RATE)
    }

    /// As [`Lab::flow`], at `rate` packets/s.
    fn flow_at(&self, rate: u32) -> (Responder, Flow) {
        let service = SocketAddr::from((SERVICE_IP, UDP_PORT));
        let responder = Responder::start(&self.node, service);
        let from = SocketAddr::from((self.client_addr, 0));
        let flow = Flow::start(&self.client, from, service, rate);
        (responder, flow)
    }

    fn in_kernel(&self) -> bool {
        route_present(self.router.name(), PREFIX)
    }

    /// Whether FRR's path for PREFIX is marked stale (None: no path).
    fn stale(&self) -> Option<bool> {
        let route = self.frr().route("ipv4", PREFIX)?;
        let paths = route["paths"].as_array()?;
        Some(paths.iter().any(|p| p["stale"].as_bool() == Some(true)))
    }

    fn neighbor(&self) -> Value {
        self.frr().neighbor(self.peer).unwrap_or(Value::Null)
    }

    /// Signals the announcer and waits for its exit 0.
    fn stop(&self, ann: &mut Announcer, signal: Signal) {
        ann.signal(signal);
        let status = ann.wait_exit(EXIT);
        assert!(
            status.is_some_and(|s| s.success()),
            "announce did not exit 0 within {EXIT:?} after {signal}: {status:?}\n{}",
            ann.log()
        );
    }
}

/// FRR saw our restart time, N and F for IPv4 (RFC 4724, RFC 8538).
fn assert_gr_negotiated(lab: &Lab, restart_time: u64) {
    let n = lab.neighbor();
    let gr = &n["gracefulRestartInfo"];
    assert_eq!(
        n["neighborCapabilities"]["gracefulRestart"].as_str(),
        Some("advertisedAndReceived"),
        "{n}"
    );
    assert_eq!(gr["remoteGrMode"].as_str(), Some("Restart"), "{gr}");
    assert_eq!(
        gr["timers"]["receivedRestartTimer"].as_u64(),
        Some(restart_time),
        "{gr}"
    );
    assert_eq!(gr["nBit"].as_bool(), Some(true), "{gr}");
    assert_eq!(gr["ipv4Unicast"]["fBit"].as_bool(), Some(true), "{gr}");
}

fn describe(r: FlowReport) -> String {
    format!("{} sent at {FLOW_RATE}/s, {} lost", r.sent, r.lost())
}

/// The flow was answered before the change (the path works), so a zero loss means something.
fn assert_flow_ran(r: FlowReport) {
    assert!(
        r.sent > 0 && r.answered > 0,
        "UDP flow never answered: {r:?}"
    );
}

/// SIGTERM with GR then a new announcer at once: the route never leaves the router's kernel table
/// and the UDP flow loses nothing. With FRR, also checks the negotiated capability and the stale
/// mark set on the restart and cleared by the new session's End-of-RIB.
fn restart_keeps_the_route(lab: &Lab, name: &str) {
    let frr = matches!(lab.daemon, Router::Frr(_));
    let gr = ["--graceful-restart", "--restart-time", "30"];
    let mut first = lab.announce(&gr);
    if frr {
        assert_gr_negotiated(lab, 30);
    }
    let (_responder, flow) = lab.flow();
    let sampler = RouteSampler::start(&lab.router, PREFIX, SAMPLE);
    let t0 = Instant::now();
    lab.stop(&mut first, Signal::SIGTERM);
    if frr {
        // FRR is a helper now: the path is kept, marked stale.
        wait_until(Duration::from_secs(5), "FRR marks the path stale", || {
            (lab.stale() == Some(true)).then_some(())
        });
    }
    let _second = lab.announce(&gr);
    if frr {
        // The new session's End-of-RIB clears the stale mark.
        wait_until(
            Duration::from_secs(10),
            "stale mark cleared by End-of-RIB",
            || (lab.stale() == Some(false)).then_some(()),
        );
    }
    let change = t0.elapsed();
    // Keep sampling after the change: BIRD shows no stale mark to wait for, so this window is
    // where a late flush of the stale route would show up.
    std::thread::sleep(Duration::from_millis(if frr { 200 } else { 1000 }));
    let samples = sampler.stop();
    let report = flow.stop();
    println!(
        "measured: {name}: restart with GR: {} samples over {:.2} s (max interval {} ms), absent {}, longest gap {} ms; UDP {}",
        samples.samples.len(),
        change.as_secs_f64(),
        samples.max_interval().as_millis(),
        samples.absent(),
        samples.longest_gap().as_millis(),
        describe(report)
    );
    assert_flow_ran(report);
    assert_eq!(report.lost(), 0, "packets lost during the restart");
    assert_eq!(
        samples.absent(),
        0,
        "the route left the kernel table (longest gap {:?})",
        samples.longest_gap()
    );
    assert!(first.log().contains("restarting"), "{}", first.log());
}

#[test]
fn frr_restart_within_restart_time_keeps_the_route() {
    if let Some(lab) = Lab::start("frr_restart_within_restart_time_keeps_the_route") {
        restart_keeps_the_route(&lab, "FRR");
    }
}

#[test]
fn bird_restart_within_restart_time_keeps_the_route() {
    if let Some(lab) = Lab::start_bird("bird_restart_within_restart_time_keeps_the_route") {
        restart_keeps_the_route(&lab, "BIRD");
    }
}

/// BIRD 2.0.12 does not set N: SIGINT sends the plain 6/2 and BIRD drops the route at once.
#[test]
fn bird_sigint_with_graceful_restart_withdraws() {
    let Some(lab) = Lab::start_bird("bird_sigint_with_graceful_restart_withdraws") else {
        return;
    };
    let mut ann = lab.announce(&["--graceful-restart", "--restart-time", "30"]);
    let sampler = RouteSampler::start(&lab.router, PREFIX, SAMPLE);
    let t0 = Instant::now();
    lab.stop(&mut ann, Signal::SIGINT);
    wait_until(FAST_WITHDRAW * 3, "route withdrawn", || {
        (!lab.in_kernel()).then_some(())
    });
    let gone = sampler
        .stop()
        .first_absent_after(t0)
        .expect("an absent sample")
        .duration_since(t0);
    println!(
        "measured: BIRD: SIGINT with GR: route gone after {} ms",
        gone.as_millis()
    );
    assert!(gone < FAST_WITHDRAW, "route gone after {gone:?}");
}

/// SIGTERM with GR and no new process: the route stays (FRR marks it stale) until the restart
/// time runs out, then leaves.
fn flushed_at_restart_time(lab: &Lab, name: &str, secs: u64, bound: Duration) {
    let restart = Duration::from_secs(secs);
    let mut ann = lab.announce(&["--graceful-restart", "--restart-time", &secs.to_string()]);
    let sampler = RouteSampler::start(&lab.router, PREFIX, SAMPLE);
    let t0 = Instant::now();
    lab.stop(&mut ann, Signal::SIGTERM);
    if matches!(lab.daemon, Router::Frr(_)) {
        wait_until(Duration::from_secs(2), "FRR marks the path stale", || {
            (lab.stale() == Some(true)).then_some(())
        });
    }
    wait_until(bound + Duration::from_secs(1), "route flushed", || {
        (!lab.in_kernel()).then_some(())
    });
    let samples = sampler.stop();
    let gone = samples
        .first_absent_after(t0)
        .expect("an absent sample")
        .duration_since(t0);
    println!(
        "measured: {name}: SIGTERM with GR, no new process, restart-time {secs} s: route flushed after {} ms",
        gone.as_millis()
    );
    assert!(
        gone >= restart - Duration::from_millis(100) && gone <= bound,
        "flushed after {gone:?}, restart time {restart:?}, bound {bound:?}"
    );
}

#[test]
fn frr_restart_without_new_process_flushes_at_restart_time() {
    if let Some(lab) = Lab::start("frr_restart_without_new_process_flushes_at_restart_time") {
        flushed_at_restart_time(&lab, "FRR", 3, Duration::from_secs(4));
    }
}

const BIRD_RESTART_SECS: u64 = 4;
/// BIRD 2.0.12 flushes about 3 s after the restart time (measured: docs/graceful-restart.md).
const BIRD_FLUSH_BOUND: Duration = Duration::from_secs(BIRD_RESTART_SECS + 4);

#[test]
fn bird_restart_without_new_process_flushes_at_restart_time() {
    if let Some(lab) = Lab::start_bird("bird_restart_without_new_process_flushes_at_restart_time") {
        flushed_at_restart_time(&lab, "BIRD", BIRD_RESTART_SECS, BIRD_FLUSH_BOUND);
    }
}

/// SIGINT, or SIGTERM with --withdraw-on-exit: Cease/Hard Reset, the route leaves at once.
fn withdraw_is_fast(test: &str, extra: &[&str], signal: Signal) {
    let Some(lab) = Lab::start(test) else {
        return;
    };
    let mut flags = vec!["--graceful-restart", "--restart-time", "30"];
    flags.extend_from_slice(extra);
    let mut ann = lab.announce(&flags);
    let sampler = RouteSampler::start(&lab.router, PREFIX, SAMPLE);
    let t0 = Instant::now();
    ann.signal(signal);
    wait_until(FAST_WITHDRAW * 3, "route withdrawn", || {
        (!lab.in_kernel()).then_some(())
    });
    let samples = sampler.stop();
    let gone = samples
        .first_absent_after(t0)
        .expect("an absent sample")
        .duration_since(t0);
    let n = lab.neighbor();
    println!(
        "measured: FRR: {signal} {extra:?} with GR: route gone after {} ms",
        gone.as_millis()
    );
    assert!(gone < FAST_WITHDRAW, "route gone after {gone:?}");
    assert_eq!(n["lastNotificationHardReset"].as_bool(), Some(true), "{n}");
    assert_eq!(n["lastErrorCodeSubcode"].as_str(), Some("0602"), "{n}");
    assert!(ann.wait_exit(EXIT).is_some_and(|s| s.success()));
}

#[test]
fn frr_sigint_with_graceful_restart_hard_resets() {
    withdraw_is_fast(
        "frr_sigint_with_graceful_restart_hard_resets",
        &[],
        Signal::SIGINT,
    );
}

#[test]
fn frr_sigterm_with_withdraw_on_exit_hard_resets() {
    withdraw_is_fast(
        "frr_sigterm_with_withdraw_on_exit_hard_resets",
        &["--withdraw-on-exit"],
        Signal::SIGTERM,
    );
}

/// The control: without --graceful-restart, SIGTERM withdraws as before (6/2, route gone), and a
/// restart leaves a gap until the new session's route is installed.
fn without_graceful_restart(lab: &Lab, name: &str) {
    let frr = matches!(lab.daemon, Router::Frr(_));
    let mut ann = lab.announce(&[]);
    let (_responder, flow) = lab.flow();
    let sampler = RouteSampler::start(&lab.router, PREFIX, SAMPLE);
    let t0 = Instant::now();
    lab.stop(&mut ann, Signal::SIGTERM);
    wait_until(FAST_WITHDRAW * 3, "route withdrawn", || {
        (!lab.in_kernel()).then_some(())
    });
    let n = if frr { lab.neighbor() } else { Value::Null };
    // A new process at once: the route comes back, after a gap.
    let _second = lab.announce(&[]);
    let samples = sampler.stop();
    let report = flow.stop();
    let gone = samples
        .first_absent_after(t0)
        .expect("an absent sample")
        .duration_since(t0);
    println!(
        "measured: {name}: SIGTERM without GR: route gone after {} ms; restart without GR: longest gap {} ms; UDP {}",
        gone.as_millis(),
        samples.longest_gap().as_millis(),
        describe(report)
    );
    assert_flow_ran(report);
    assert!(report.lost() > 0, "the control lost nothing: {report:?}");
    assert!(gone < FAST_WITHDRAW, "route gone after {gone:?}");
    assert!(samples.longest_gap() > Duration::ZERO);
    if frr {
        assert_eq!(n["lastErrorCodeSubcode"].as_str(), Some("0602"), "{n}");
        assert_ne!(n["lastNotificationHardReset"].as_bool(), Some(true), "{n}");
    }
}

#[test]
fn frr_sigterm_without_graceful_restart_withdraws() {
    if let Some(lab) = Lab::start("frr_sigterm_without_graceful_restart_withdraws") {
        without_graceful_restart(&lab, "FRR");
    }
}

#[test]
fn bird_sigterm_without_graceful_restart_withdraws() {
    if let Some(lab) = Lab::start_bird("bird_sigterm_without_graceful_restart_withdraws") {
        without_graceful_restart(&lab, "BIRD");
    }
}

/// BFD interval (ms) of the BFD + graceful restart test, both sides, multiplier 3.
const BFD_MS: u64 = 100;
/// Packets per second of the BFD + graceful restart test's flow.
const BFD_FLOW_RATE: u32 = 1000;
/// After a restart with BFD: the window in which a late flush (FRR acting on a BFD Down of the
/// old or the new BFD session) would still show.
const BFD_SETTLE: Duration = Duration::from_millis(1500);

/// `announce` with BFD and graceful restart.
const BFD_GR_FLAGS: [&str; 6] = [
    "--graceful-restart",
    "--restart-time",
    "30",
    "--bfd",
    "--bfd-interval",
    "100",
];

/// Waits until FRR has BFD Up at [`BFD_MS`] and a fresh (not stale) path from the node.
fn wait_bfd_up(lab: &Lab, what: &str, ann: &Announcer) {
    let node = lab.peer.to_string();
    let up = wait_until_opt(UP, || {
        (frr_bfd_up(lab.frr(), &node, BFD_MS) && lab.stale() == Some(false)).then_some(())
    });
    assert!(
        up.is_some(),
        "{what}: BFD not Up at {BFD_MS} ms or the path stale within {UP:?}: {}\n--- ferrolb:\n{}",
        lab.daemon_state(),
        ann.log()
    );
}

/// The running `first` announcer (BFD and graceful restart) restarted with `signal` and a new
/// process at once, under a 1,000 packets/s flow; returns the new announcer, the flow report
/// and the route's longest absence from the router's kernel table.
fn restart_with_bfd(
    lab: &Lab,
    mut first: Announcer,
    signal: Signal,
) -> (Announcer, FlowReport, Duration) {
    wait_bfd_up(lab, "before the restart", &first);
    let (_responder, flow) = lab.flow_at(BFD_FLOW_RATE);
    let sampler = RouteSampler::start(&lab.router, PREFIX, SAMPLE);
    // The flow is answered before the restart: the path works.
    std::thread::sleep(Duration::from_millis(300));
    first.signal(signal);
    let exited = first.wait_exit(EXIT);
    assert!(
        exited.is_some(),
        "announce still runs {EXIT:?} after {signal}"
    );
    let second = lab.announce(&BFD_GR_FLAGS);
    wait_bfd_up(lab, "after the restart", &second);
    std::thread::sleep(BFD_SETTLE);
    flow.halt();
    let samples = sampler.stop();
    let report = flow.stop();
    assert!(
        frr_bfd_up(lab.frr(), &lab.peer.to_string(), BFD_MS) && lab.established(),
        "BFD or BGP went down after the restart: {}\n--- ferrolb:\n{}",
        lab.daemon_state(),
        second.log()
    );
    println!(
        "measured: FRR bfd {BFD_MS} ms + graceful restart: announce {signal} and a new process: {} sent at {BFD_FLOW_RATE}/s, {} lost, route absent {} samples, longest gap {} ms",
        report.sent,
        report.lost(),
        samples.absent(),
        samples.longest_gap().as_millis()
    );
    assert_flow_ran(report);
    (second, report, samples.longest_gap())
}

/// RFC 5882 §4.3.2 with `announce`: with BFD and graceful restart, a restart (SIGTERM: BGP
/// closed before BFD's AdminDown; SIGKILL: the new process starts BGP once BFD is Up) loses
/// nothing at FRR 8.4, which flushes the stale routes at a BFD Down while the BGP session is up.
#[test]
fn frr_bfd_restart_with_graceful_restart_loses_nothing() {
    let Some(lab) = Lab::start_with_bfd(
        "frr_bfd_restart_with_graceful_restart_loses_nothing",
        BFD_MS,
    ) else {
        return;
    };
    let first = lab.announce(&BFD_GR_FLAGS);
    let (second, report, gap) = restart_with_bfd(&lab, first, Signal::SIGTERM);
    let sigterm = (report, gap);
    let (_third, report, gap) = restart_with_bfd(&lab, second, Signal::SIGKILL);
    for (signal, (report, gap)) in [("SIGTERM", sigterm), ("SIGKILL", (report, gap))] {
        assert_eq!(
            (report.lost(), gap),
            (0, Duration::ZERO),
            "{signal}: packets lost / the route left the router's kernel table"
        );
    }
}

/// `announce --bfd --graceful-restart` toward a router without BFD for it: BGP waits for BFD
/// (`ferrolb_bgp::bfd::START_WAIT`, 5 s), then starts without it and the route arrives.
#[test]
fn frr_without_bfd_gets_the_session_after_the_bfd_wait() {
    let Some(lab) = Lab::start("frr_without_bfd_gets_the_session_after_the_bfd_wait") else {
        return;
    };
    let t0 = Instant::now();
    let ann = lab.announce(&BFD_GR_FLAGS);
    let took = t0.elapsed();
    println!(
        "measured: FRR without BFD: announce --bfd --graceful-restart route in the kernel after {} ms",
        took.as_millis()
    );
    let wait = Duration::from_secs(5);
    assert!(
        took >= wait,
        "BGP came up after {took:?}, before the {wait:?} wait for BFD\n{}",
        ann.log()
    );
    assert!(
        ann.log()
            .contains("BFD not Up: starting the BGP session without it"),
        "{}",
        ann.log()
    );
}
