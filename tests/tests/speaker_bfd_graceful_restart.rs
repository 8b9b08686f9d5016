//! BFD together with graceful restart (RFC 5882 §4.3.2) on the same peer: a real `ferrolb
//! speaker` (BFD 100 ms x 3 from its `bfd-profile`, `graceful-restart: true`, restart time
//! 120 s, hold time 9 s) behind FRR 8.4 (bfdd, `bgp graceful-restart`) or BIRD 2 (`protocol
//! bfd`, graceful restart helper by default), a client behind the router sending 1,000 UDP
//! packets/s to the Service IP, and the router's kernel table sampled every 5 ms.
//!
//! ```text
//!  node 10.255.1.2 (ferrolb speaker) ── router 10.255.{1,9}.1 (FRR, API fixture) ── client 10.255.9.2
//! ```
//!
//! The four cases: (a) SIGTERM and a new process at once, (b) SIGKILL and a new process at
//! once, (c) the speaker frozen (SIGSTOP), (d) the node's link cut. A restart must lose
//! nothing; a failed node's route must leave the router's kernel within BFD's detection time
//! plus [`FAILURE_MARGIN`]. Each case prints a `measured:` line (docs/bfd.md, "BFD and
//! graceful restart").

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ferrolb_e2e::cluster::{one_peer_config, seed_config, seed_front_service, seed_node_at};
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::failure_detection::{frr_bfd_up, set_bfd_profile, Failure};
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::{Bird, BirdConfig, BirdNeighbor, Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::route_sampler::{proc_route_present, FirstAbsence, RouteSampler};
use ferrolb_e2e::udp_flow::{Flow, Responder};
use ferrolb_e2e::{speaker, veth, wait_until_opt, ChildGuard, Netns, ScratchDir};
use nix::sys::signal::Signal;

const ROUTER_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const PREFIX: &str = "198.51.100.1/32";
const UDP_PORT: u16 = 7000;
const RATE: u32 = 1000;
const CLIENT_LINK: u8 = 9;
/// BFD transmit and receive interval (ms), multiplier 3 on both sides.
const BFD_MS: u64 = 100;
/// The CI bound above the detection time for a failed node's route to leave the kernel (the
/// target, 100 ms, is printed as met or missed).
const FAILURE_MARGIN: Duration = Duration::from_millis(300);
/// How long a failure case watches for the route to leave (it returns at the first absence).
const FAILURE_WATCH: Duration = Duration::from_secs(12);
/// How long a failure case watches where the router is known to keep the route (the check
/// that it is still there); `FERROLB_BFD_GR_KEPT_SECS` sets it (12 s, past the 9 s hold time,
/// shows the route kept as stale after the hold timer: the docs' table).
fn kept_watch() -> Duration {
    std::env::var("FERROLB_BFD_GR_KEPT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs)
}
/// Bound for BGP, BFD and the route to come up.
const UP: Duration = Duration::from_secs(30);
/// Bound for a speaker to exit after SIGTERM.
const EXIT: Duration = Duration::from_secs(5);
/// After a restart: the window in which a late reset (the router acting on a BFD Down) would
/// still show.
const SETTLE: Duration = Duration::from_millis(1500);

/// The router and its neighbor settings under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// FRR: `neighbor X bfd profile flb` (the recommended configuration).
    Frr,
    /// FRR: also `neighbor X bfd check-control-plane-failure`.
    FrrCheckControlPlane,
    /// BIRD: `bfd on` in the bgp protocol.
    BirdOn,
    /// BIRD: `bfd graceful` (a BFD Down starts graceful restart).
    BirdGraceful,
}

impl Setup {
    fn name(self) -> &'static str {
        match self {
            Setup::Frr => "FRR bfd",
            Setup::FrrCheckControlPlane => "FRR bfd + check-control-plane-failure",
            Setup::BirdOn => "BIRD bfd on",
            Setup::BirdGraceful => "BIRD bfd graceful",
        }
    }

    /// What a restart does to the route at this router.
    fn restart(self) -> RestartOutcome {
        match self {
            Setup::Frr | Setup::BirdGraceful => RestartOutcome::Kept,
            // BIRD flushes at any BFD Down: our AdminDown too, also while it helps the restart.
            Setup::BirdOn => RestartOutcome::Flushed,
            // Mostly kept; 4 of 22 restarts lost 0.8-1 s: FRR closed the new session right after
            // it came up ("No AFI/SAFI activated for peer") and flushed. Printed, not asserted.
            Setup::FrrCheckControlPlane => RestartOutcome::NotAsserted,
        }
    }

    /// Whether the router keeps a failed node's route (a BFD Down taken for a restart).
    fn keeps_failed_route(self) -> bool {
        matches!(self, Setup::FrrCheckControlPlane | Setup::BirdGraceful)
    }

    fn start_router(self, ns: &Netns, router: Ipv4Addr, node: Ipv4Addr) -> Router {
        match self {
            Setup::Frr | Setup::FrrCheckControlPlane => {
                let mut neighbor = FrrNeighbor::new(node.into(), NODE_AS);
                neighbor.timers = Some((3, 9));
                let mut cfg = FrrConfig::new(ROUTER_AS, router).neighbor(neighbor);
                cfg.bfdd = true;
                cfg.extra_router_lines.push("bgp graceful-restart".into());
                cfg.extra_router_lines
                    .push("bgp log-neighbor-changes".into());
                let frr = Frr::start(ns, &cfg);
                set_bfd_profile(&frr, BFD_MS);
                let mut lines = vec![format!("neighbor {node} bfd profile flb")];
                if self == Setup::FrrCheckControlPlane {
                    lines.push(format!("neighbor {node} bfd check-control-plane-failure"));
                }
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                frr.configure_bgp(&refs);
                Router::Frr(frr)
            }
            Setup::BirdOn | Setup::BirdGraceful => {
                let mut cfg = BirdConfig::new(ROUTER_AS, router);
                cfg.kernel_export_v4 = true;
                cfg.bfd = Some((BFD_MS as u32, 3));
                let mut n = BirdNeighbor::new(BIRD_PROTOCOL, node.into(), NODE_AS);
                n.local_address = Some(router.into());
                n.ipv6 = false;
                n.hold_time = Some(9);
                n.bfd = Some(if self == Setup::BirdOn {
                    "on"
                } else {
                    "graceful"
                });
                cfg.neighbors.push(n);
                Router::Bird(Bird::start(ns, &cfg))
            }
        }
    }
}

/// What a restart does to the route, as asserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RestartOutcome {
    /// 0 packets lost, the route never left the kernel.
    Kept,
    /// The route left the router's kernel for a while.
    Flushed,
    /// Printed only.
    NotAsserted,
}

/// BIRD's bgp protocol name for the node.
const BIRD_PROTOCOL: &str = "node1";

enum Router {
    Frr(Frr),
    Bird(Bird),
}

impl Router {
    /// BGP Established, BFD Up, and (FRR) the node's path for the Service IP not stale.
    fn up(&self, node: Ipv4Addr) -> bool {
        match self {
            Router::Frr(frr) => {
                frr.established(node.into())
                    && frr_bfd_up(frr, &node.to_string(), BFD_MS)
                    && frr_fresh_path(frr, node)
            }
            Router::Bird(bird) => {
                bird.protocol_state(BIRD_PROTOCOL) == "Established" && bird.bfd_up(node.into())
            }
        }
    }

    fn log(&self) -> String {
        match self {
            Router::Frr(f) => f.dir().read("bgpd.log"),
            Router::Bird(b) => b.dir().read("bird.log"),
        }
    }

    /// The router's log lines about BFD, NOTIFICATIONs and graceful restart, for the report.
    fn bfd_lines(&self, node: Ipv4Addr) -> Vec<String> {
        let node = node.to_string();
        let keys = ["BFD", "NOTIFICATION", "raceful", "Error"];
        self.log()
            .lines()
            .filter(|l| match self {
                Router::Frr(_) => l.contains(&node),
                Router::Bird(_) => l.contains(BIRD_PROTOCOL),
            })
            .filter(|l| keys.iter().any(|k| l.contains(k)))
            .map(str::to_string)
            .collect()
    }

    fn bfd_text(&self) -> String {
        let r = match self {
            Router::Frr(f) => f.try_vtysh(&["show bfd peers brief"]),
            Router::Bird(b) => b.try_birdc(&["show", "bfd", "sessions"]),
        };
        r.unwrap_or_else(|e| e)
    }
}

/// FRR's path from `node` for the Service IP is there and not stale.
fn frr_fresh_path(frr: &Frr, node: Ipv4Addr) -> bool {
    let hop = node.to_string();
    frr.route("ipv4", PREFIX).is_some_and(|route| {
        route["paths"].as_array().into_iter().flatten().any(|p| {
            p["nexthops"][0]["ip"].as_str() == Some(hop.as_str())
                && p["stale"].as_bool() != Some(true)
        })
    })
}

fn config_text(router: Ipv4Addr) -> String {
    let peer = [
        "graceful-restart: true",
        "restart-time: 120s",
        "bfd-profile: fast",
    ];
    one_peer_config(&router.to_string(), &peer, BFD_MS)
}

/// Field order = drop order: the speaker, then the router, the API, the namespaces.
struct Lab {
    speaker: Option<ChildGuard>,
    router_daemon: Router,
    api: NsApi,
    router: Netns,
    node: Netns,
    client: Netns,
    dir: ScratchDir,
    node_addr: Ipv4Addr,
    router_addr: Ipv4Addr,
    starts: u32,
}

/// What one case measured.
#[derive(Debug)]
struct Outcome {
    sent: u32,
    lost: u32,
    gap: Duration,
    /// Failure cases: from the failure to the route's first absence (None: still there).
    gone: Option<Duration>,
}

impl Lab {
    fn start(setup: Setup) -> Lab {
        let dir = ScratchDir::new("spk-bfd-gr");
        let router = Netns::new("sbgr-r");
        let node = Netns::new("sbgr-n");
        let client = Netns::new("sbgr-c");
        router.sysctl("net.ipv4.ip_forward", "1");
        let link = veth(&router, &node, 1);
        let client_link = veth(&router, &client, CLIENT_LINK);
        let via = client_link.a_v4.to_string();
        client.run_ok(&["ip", "route", "add", "198.51.100.0/24", "via", &via]);
        node.run_ok(&["ip", "addr", "add", PREFIX, "dev", "lo"]);
        let to_client = format!("10.255.{CLIENT_LINK}.0/24");
        let via = link.a_v4.to_string();
        node.run_ok(&["ip", "route", "add", &to_client, "via", &via]);
        let router_daemon = setup.start_router(&router, link.a_v4, link.b_v4);
        let api = NsApi::start(&router);
        seed_config(&api.store, &config_text(link.a_v4));
        seed_node_at(&api.store, "node1", &link.b_v4.to_string());
        seed_front_service(&api.store, &SERVICE_IP.to_string(), "node1");
        let mut lab = Lab {
            speaker: None,
            router_daemon,
            api,
            router,
            node,
            client,
            dir,
            node_addr: link.b_v4,
            router_addr: link.a_v4,
            starts: 0,
        };
        lab.start_speaker();
        lab.wait_up("start");
        lab
    }

    fn start_speaker(&mut self) {
        self.starts += 1;
        let url = format!("http://{}:{}", self.router_addr, self.api.port);
        let state = self.dir.join("state").display().to_string();
        let log = self.dir.join(&format!("speaker-{}.log", self.starts));
        let extra = ["--state-dir", state.as_str(), "--no-events"];
        self.speaker = Some(speaker::start_speaker(
            &self.node, &url, "node1", &extra, &log,
        ));
    }

    fn speaker_pid(&self) -> i32 {
        self.speaker.as_ref().expect("a running speaker").pid() as i32
    }

    /// BGP Established, BFD Up at 100 ms, the path fresh (FRR), the route in the kernel.
    fn wait_up(&self, what: &str) {
        let ok = wait_until_opt(UP, || {
            (self.router_daemon.up(self.node_addr) && proc_route_present(&self.router, PREFIX))
                .then_some(())
        });
        if ok.is_none() {
            panic!(
                "{what}: not up within {UP:?}: router BFD {}\n--- speaker log:\n{}\n--- router log:\n{}",
                self.router_daemon.bfd_text(),
                self.speaker_log(),
                self.router_daemon.log()
            );
        }
    }

    fn speaker_log(&self) -> String {
        self.dir.read(&format!("speaker-{}.log", self.starts))
    }

    /// The traffic and the kernel sampler of one case.
    fn traffic(&self) -> (Responder, Flow, RouteSampler) {
        let responder = Responder::start(&self.node, SocketAddr::from((SERVICE_IP, UDP_PORT)));
        let sampler = RouteSampler::start(&self.router, PREFIX, Duration::from_millis(5));
        let from = SocketAddr::from((Ipv4Addr::new(10, 255, CLIENT_LINK, 2), 0));
        let flow = Flow::start(
            &self.client,
            from,
            SocketAddr::from((SERVICE_IP, UDP_PORT)),
            RATE,
        );
        // The flow is answered before the change: the path works.
        std::thread::sleep(Duration::from_millis(300));
        (responder, flow, sampler)
    }

    /// (a) / (b): `signal` to the speaker, a new process at once.
    fn restart(&mut self, signal: Signal) -> Outcome {
        self.wait_up("before the restart");
        let (_responder, flow, sampler) = self.traffic();
        let old = self.speaker.take().expect("a running speaker");
        speaker::signal_speaker(old, signal, EXIT, "node1");
        self.start_speaker();
        self.wait_up("after the restart");
        std::thread::sleep(SETTLE);
        flow.halt();
        let samples = sampler.stop();
        let report = flow.stop();
        Outcome {
            sent: report.sent,
            lost: report.lost(),
            gap: samples.longest_gap(),
            gone: None,
        }
    }

    /// (c) / (d): the node fails; time until its route leaves the router's kernel; restored.
    fn fail(&mut self, failure: Failure, watch_for: Duration) -> Outcome {
        self.wait_up("before the failure");
        let (_responder, flow, sampler) = self.traffic();
        let pid = [self.speaker_pid()];
        let watch = FirstAbsence::start(&self.router, PREFIX, watch_for);
        let t0 = Instant::now();
        failure.start(&self.node, &pid);
        let gone = watch.wait().map(|t| t - t0);
        flow.halt();
        let samples = sampler.stop();
        let report = flow.stop();
        failure.end(&self.node, &pid);
        self.wait_up("after the failure ended");
        Outcome {
            sent: report.sent,
            lost: report.lost(),
            gap: samples.longest_gap(),
            gone,
        }
    }
}

/// Cases (c) and (d): the node fails (the others restart the speaker).
fn is_failure(case: &str) -> bool {
    case.starts_with("(c)") || case.starts_with("(d)")
}

fn print(setup: Setup, case: &str, o: &Outcome, watched: Duration) {
    let gone = match o.gone {
        Some(d) => format!(", route gone after {} ms", d.as_millis()),
        None if is_failure(case) => format!(", route still there after {watched:?}"),
        None => String::new(),
    };
    println!(
        "measured: {}: {case}: {} sent, {} lost, longest gap {} ms{gone}",
        setup.name(),
        o.sent,
        o.lost,
        o.gap.as_millis()
    );
}

/// Runs the four cases, prints them, and returns them in order.
fn run_cases(lab: &mut Lab, setup: Setup) -> Vec<(&'static str, Outcome)> {
    let mut out = Vec::new();
    for (case, signal) in [
        ("(a) SIGTERM + new process", Signal::SIGTERM),
        ("(b) SIGKILL + new process", Signal::SIGKILL),
    ] {
        let o = lab.restart(signal);
        print(setup, case, &o, Duration::ZERO);
        out.push((case, o));
    }
    let watch_for = if setup.keeps_failed_route() {
        kept_watch()
    } else {
        FAILURE_WATCH
    };
    for (case, failure) in [
        ("(c) speaker frozen", Failure::Freeze),
        ("(d) link cut", Failure::LinkCut),
    ] {
        let o = lab.fail(failure, watch_for);
        print(setup, case, &o, watch_for);
        out.push((case, o));
    }
    for line in lab.router_daemon.bfd_lines(lab.node_addr) {
        println!("router: {line}");
    }
    out
}

/// A restart loses nothing (where the router allows it: else the route left); a failed node's
/// route leaves within detection + the margin, or, where the router is known to take BFD's
/// Down for a restart, is still there.
fn check(setup: Setup, outcomes: &[(&str, Outcome)]) {
    let name = setup.name();
    let detect = Duration::from_millis(3 * BFD_MS);
    for (case, o) in outcomes {
        if !is_failure(case) {
            match setup.restart() {
                RestartOutcome::Kept => {
                    assert_eq!(o.lost, 0, "{name}: {case}: packets lost: {o:?}");
                    assert_eq!(o.gap, Duration::ZERO, "{name}: {case}: {o:?}");
                }
                RestartOutcome::Flushed => assert!(
                    o.gap > Duration::ZERO,
                    "{name}: {case}: the router no longer flushes on a restart: {o:?}"
                ),
                RestartOutcome::NotAsserted => {}
            }
            continue;
        }
        if setup.keeps_failed_route() {
            assert!(
                o.gone.is_none(),
                "{name}: {case}: the router no longer keeps the route: {o:?}"
            );
            continue;
        }
        let gone = o
            .gone
            .unwrap_or_else(|| panic!("{name}: {case}: the route stayed {FAILURE_WATCH:?}"));
        let target = detect + Duration::from_millis(100);
        println!(
            "{name}: {case}: gone after {gone:?}, target < {target:?}: {}",
            if gone < target { "met" } else { "missed" }
        );
        assert!(
            gone < detect + FAILURE_MARGIN,
            "{name}: {case}: gone after {gone:?}"
        );
    }
}

fn run(test: &str, setup: Setup) {
    let needs: &[&str] = match setup {
        Setup::Frr | Setup::FrrCheckControlPlane => {
            &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd", "nft"]
        }
        Setup::BirdOn | Setup::BirdGraceful => &["bird", "birdc", "nft"],
    };
    if !require_root_and(test, needs) {
        return;
    }
    let mut lab = Lab::start(setup);
    let outcomes = run_cases(&mut lab, setup);
    check(setup, &outcomes);
}

/// FRR with `neighbor X bfd profile flb`: the recommended configuration. Restarts lose
/// nothing (before the fix: 338 packets per SIGTERM, 916-965 per SIGKILL); a failed node's
/// route leaves within detection + 300 ms.
#[test]
fn frr_bfd_and_graceful_restart() {
    run("frr_bfd_and_graceful_restart", Setup::Frr);
}

/// FRR with `neighbor X bfd check-control-plane-failure` too: a failed node's route stays
/// (FRR ignores every BFD Down with C=0 from a peer with graceful restart, then keeps the
/// route as stale after the hold timer): not recommended. Restarts are printed only.
#[test]
fn frr_bfd_check_control_plane_keeps_a_failed_node() {
    run(
        "frr_bfd_check_control_plane_keeps_a_failed_node",
        Setup::FrrCheckControlPlane,
    );
}

/// BIRD with `bfd on`: a failed node's route leaves within detection + 300 ms, but BIRD
/// 2.0.12 flushes the routes at the BFD Down of every restart (our AdminDown included, also
/// while it helps the restart): about 0.65-0.8 s lost.
#[test]
fn bird_bfd_on_and_graceful_restart() {
    run("bird_bfd_on_and_graceful_restart", Setup::BirdOn);
}

/// BIRD with `bfd graceful`: restarts lose nothing, but a failed node's BFD Down starts a
/// graceful restart: its route stays for the restart time.
#[test]
fn bird_bfd_graceful_and_graceful_restart() {
    run(
        "bird_bfd_graceful_and_graceful_restart",
        Setup::BirdGraceful,
    );
}
