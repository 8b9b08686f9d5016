//! BFD together with graceful restart (RFC 5882 §4.3.2) on the same peer: a real `ferrolb
//! speaker` (BFD 100 ms x 3 from its `bfd-profile`, `graceful-restart: true`, restart time
//! 120 s, hold time 9 s) behind FRR 8.4 with bfdd and `bgp graceful-restart`, a client behind
//! the router sending 1,000 UDP packets/s to the Service IP, and the router's kernel table
//! sampled every 5 ms.
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

use ferrolb_e2e::cluster::{seed_config, seed_front_service, seed_node_at};
use ferrolb_e2e::env::require_root_and;
use ferrolb_e2e::failure_detection::{frr_bfd_up, set_bfd_profile, Failure};
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::{Frr, FrrConfig, FrrNeighbor};
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
/// How long a failure case watches for the route to leave: past the 9 s hold time, so a route
/// kept as stale after the hold timer shows as kept.
const FAILURE_WATCH: Duration = Duration::from_secs(12);
/// Bound for BGP, BFD and the route to come up.
const UP: Duration = Duration::from_secs(30);
/// Bound for a speaker to exit after SIGTERM.
const EXIT: Duration = Duration::from_secs(5);
/// After a restart: the window in which a late reset (the router acting on a BFD Down) would
/// still show.
const SETTLE: Duration = Duration::from_millis(1500);

/// The router's neighbor settings under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouterBfd {
    /// `neighbor X bfd profile flb`.
    Plain,
    /// and `neighbor X bfd check-control-plane-failure`.
    CheckControlPlane,
}

impl RouterBfd {
    fn name(self) -> &'static str {
        match self {
            RouterBfd::Plain => "FRR bfd",
            RouterBfd::CheckControlPlane => "FRR bfd + check-control-plane-failure",
        }
    }
}

fn config_text(router: Ipv4Addr) -> String {
    format!(
        r#"peers:
- peer-address: {router}
  peer-asn: {ROUTER_AS}
  my-asn: {NODE_AS}
  hold-time: 9s
  graceful-restart: true
  restart-time: 120s
  bfd-profile: fast
bfd-profiles:
- name: fast
  receive-interval: {BFD_MS}
  transmit-interval: {BFD_MS}
  detect-multiplier: 3
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/28]
"#
    )
}

/// Field order = drop order: the speaker, then FRR, the API, the namespaces.
struct Lab {
    speaker: Option<ChildGuard>,
    frr: Frr,
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
    fn start(mode: RouterBfd) -> Lab {
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

        let mut neighbor = FrrNeighbor::new(link.b_v4.into(), NODE_AS);
        neighbor.timers = Some((3, 9));
        let mut cfg = FrrConfig::new(ROUTER_AS, link.a_v4).neighbor(neighbor);
        cfg.bfdd = true;
        cfg.extra_router_lines.push("bgp graceful-restart".into());
        cfg.extra_router_lines
            .push("bgp log-neighbor-changes".into());
        let frr = Frr::start(&router, &cfg);
        set_bfd_profile(&frr, BFD_MS);
        let mut lines = vec![format!("neighbor {} bfd profile flb", link.b_v4)];
        if mode == RouterBfd::CheckControlPlane {
            lines.push(format!(
                "neighbor {} bfd check-control-plane-failure",
                link.b_v4
            ));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        frr.configure_bgp(&refs);

        let api = NsApi::start(&router);
        seed_config(&api.store, &config_text(link.a_v4));
        seed_node_at(&api.store, "node1", &link.b_v4.to_string());
        seed_front_service(&api.store, &SERVICE_IP.to_string(), "node1");
        let mut lab = Lab {
            speaker: None,
            frr,
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

    /// FRR's path from the node for the Service IP is there and not stale.
    fn fresh_path(&self) -> bool {
        let hop = self.node_addr.to_string();
        self.frr.route("ipv4", PREFIX).is_some_and(|route| {
            route["paths"].as_array().into_iter().flatten().any(|p| {
                p["nexthops"][0]["ip"].as_str() == Some(hop.as_str())
                    && p["stale"].as_bool() != Some(true)
            })
        })
    }

    /// BGP Established, BFD Up at 100 ms both ways, the path fresh, the route in the kernel.
    fn wait_up(&self, what: &str) {
        let peer = self.node_addr.to_string();
        let ok = wait_until_opt(UP, || {
            (self.frr.established(self.node_addr.into())
                && frr_bfd_up(&self.frr, &peer, BFD_MS)
                && self.fresh_path()
                && proc_route_present(&self.router, PREFIX))
            .then_some(())
        });
        if ok.is_none() {
            panic!(
                "{what}: not up within {UP:?}: FRR bfd {:?}\n--- speaker log:\n{}\n--- bgpd log:\n{}",
                self.frr.try_vtysh(&["show bfd peers brief"]),
                self.speaker_log(),
                self.frr.dir().read("bgpd.log")
            );
        }
    }

    fn speaker_log(&self) -> String {
        self.dir.read(&format!("speaker-{}.log", self.starts))
    }

    /// bgpd's log lines about this neighbor's BFD and resets, for the report.
    fn bgpd_bfd_lines(&self) -> Vec<String> {
        let addr = self.node_addr.to_string();
        self.frr
            .dir()
            .read("bgpd.log")
            .lines()
            .filter(|l| l.contains(&addr) && (l.contains("BFD") || l.contains("NOTIFICATION")))
            .map(str::to_string)
            .collect()
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
        let mut old = self.speaker.take().expect("a running speaker");
        old.signal(signal);
        let status = old.wait_timeout(EXIT);
        if signal == Signal::SIGTERM {
            assert!(
                status.is_some_and(|s| s.success()),
                "speaker did not exit 0 within {EXIT:?}: {status:?}"
            );
        }
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
    fn fail(&mut self, failure: Failure) -> Outcome {
        self.wait_up("before the failure");
        let (_responder, flow, sampler) = self.traffic();
        let pid = [self.speaker_pid()];
        let watch = FirstAbsence::start(&self.router, PREFIX, FAILURE_WATCH);
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

fn print(mode: RouterBfd, case: &str, o: &Outcome) {
    let gone = match o.gone {
        Some(d) => format!(", route gone after {} ms", d.as_millis()),
        None if is_failure(case) => format!(", route still there after {FAILURE_WATCH:?}"),
        None => String::new(),
    };
    println!(
        "measured: {}: {case}: {} sent, {} lost, longest gap {} ms{gone}",
        mode.name(),
        o.sent,
        o.lost,
        o.gap.as_millis()
    );
}

/// Runs the four cases against FRR with `mode`, prints them, and returns them in order.
fn run_cases(lab: &mut Lab, mode: RouterBfd) -> Vec<(&'static str, Outcome)> {
    let mut out = Vec::new();
    for (case, signal) in [
        ("(a) SIGTERM + new process", Signal::SIGTERM),
        ("(b) SIGKILL + new process", Signal::SIGKILL),
    ] {
        let o = lab.restart(signal);
        print(mode, case, &o);
        out.push((case, o));
    }
    for (case, failure) in [
        ("(c) speaker frozen", Failure::Freeze),
        ("(d) link cut", Failure::LinkCut),
    ] {
        let o = lab.fail(failure);
        print(mode, case, &o);
        out.push((case, o));
    }
    for line in lab.bgpd_bfd_lines() {
        println!("bgpd: {line}");
    }
    out
}

fn check(mode: RouterBfd, outcomes: &[(&str, Outcome)]) {
    let detect = Duration::from_millis(3 * BFD_MS);
    for (case, o) in outcomes {
        match o.gone {
            None if !is_failure(case) => {
                assert_eq!(o.lost, 0, "{}: {case}: packets lost: {o:?}", mode.name());
                assert_eq!(o.gap, Duration::ZERO, "{}: {case}: {o:?}", mode.name());
            }
            gone => {
                let gone = gone.unwrap_or_else(|| {
                    panic!(
                        "{}: {case}: the route stayed {FAILURE_WATCH:?}",
                        mode.name()
                    )
                });
                let target = detect + Duration::from_millis(100);
                println!(
                    "{}: {case}: gone after {gone:?}, target < {target:?}: {}",
                    mode.name(),
                    if gone < target { "met" } else { "missed" }
                );
                assert!(
                    gone < detect + FAILURE_MARGIN,
                    "{}: {case}: gone after {gone:?}",
                    mode.name()
                );
            }
        }
    }
}

fn frr_case(test: &str, mode: RouterBfd) {
    if !require_root_and(
        test,
        &["vtysh", "/usr/lib/frr/bgpd", "/usr/lib/frr/bfdd", "nft"],
    ) {
        return;
    }
    let mut lab = Lab::start(mode);
    let outcomes = run_cases(&mut lab, mode);
    check(mode, &outcomes);
}

/// FRR with `neighbor X bfd profile flb` only.
#[test]
fn frr_bfd_and_graceful_restart() {
    frr_case("frr_bfd_and_graceful_restart", RouterBfd::Plain);
}

/// FRR with `neighbor X bfd check-control-plane-failure` too.
#[test]
fn frr_bfd_check_control_plane_and_graceful_restart() {
    frr_case(
        "frr_bfd_check_control_plane_and_graceful_restart",
        RouterBfd::CheckControlPlane,
    );
}
