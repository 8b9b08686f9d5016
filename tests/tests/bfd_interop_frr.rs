//! The BFD library (`ferrolb_bgp::bfd`) against FRR 8.4's bfdd in network namespaces, asserted
//! through our session status and FRR's own `show bfd peers json`.
//!
//! Topology per test: netns `router` (FRR zebra + bgpd + bfdd, 10.255.0.1 / fd00:255::1 on
//! veth0a) joined by one veth pair to netns `node`, where a thread that entered the namespace
//! runs our BFD (10.255.0.2 / fd00:255::2). Single-hop sessions, UDP 3784, TTL 255 both ways.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferrolb_bgp::bfd::{
    Bfd, BfdConfig, ControlPacket, Diag, Hop, PeerSpec, SessionHandle, State, Timers,
    SINGLE_HOP_PORT,
};
use ferrolb_e2e::netns::Link;
use ferrolb_e2e::peers::{Frr, FrrConfig};
use ferrolb_e2e::{require_binary, require_root, veth, wait_until, wait_until_opt, Netns};
use serde_json::Value;

/// Bound for a session to come up: the 1 s slow rate makes the three-way handshake take 1-3 s.
const UP: Duration = Duration::from_secs(15);

/// FRR with bfdd in `router`, our BFD service created inside `node`. Field order = drop order.
struct BfdLab {
    bfd: Bfd,
    frr: Frr,
    link: Link,
    node: Netns,
    router: Netns,
}

impl BfdLab {
    /// Returns None (after printing why) when the test must be skipped.
    fn start(test: &str) -> Option<BfdLab> {
        if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bfdd") {
            return None;
        }
        let tag: String = test
            .trim_start_matches("bfd_")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(6)
            .collect();
        let router = Netns::new(&format!("{tag}r"));
        let node = Netns::new(&format!("{tag}n"));
        let link = veth(&router, &node, 0);
        let mut cfg = FrrConfig::new(65000, link.a_v4);
        cfg.bfdd = true;
        let frr = Frr::start(&router, &cfg);
        let bfd = node.run_in(|| Bfd::new().expect("BFD service starts"));
        Some(BfdLab {
            bfd,
            frr,
            link,
            node,
            router,
        })
    }

    /// Our session toward FRR's address of the family of `v6`, created inside `node`.
    fn ours(&self, v6: bool, timers: Timers, passive: bool) -> SessionHandle {
        let (peer, local): (IpAddr, IpAddr) = if v6 {
            (self.link.a_v6.into(), self.link.b_v6.into())
        } else {
            (self.link.a_v4.into(), self.link.b_v4.into())
        };
        let spec = PeerSpec {
            peer,
            local,
            hop: Hop::Single,
            min_ttl: 255,
            config: BfdConfig { timers, passive },
        };
        let bfd = self.bfd.clone();
        self.node
            .run_in(move || bfd.add_session(spec))
            .expect("BFD session starts")
    }

    /// The FRR peer address (ours) of the family of `v6`.
    fn node_addr(&self, v6: bool) -> IpAddr {
        if v6 {
            self.link.b_v6.into()
        } else {
            self.link.b_v4.into()
        }
    }

    /// Configures FRR's `bfd / peer` toward us with `lines` under it.
    fn frr_peer(&self, v6: bool, lines: &[&str]) {
        let (peer, local) = if v6 {
            (self.link.b_v6.to_string(), self.link.a_v6.to_string())
        } else {
            (self.link.b_v4.to_string(), self.link.a_v4.to_string())
        };
        let head = format!(
            "peer {peer} local-address {local} interface {}",
            self.link.a_if
        );
        let mut cmds = vec!["configure terminal", "bfd", head.as_str()];
        cmds.extend_from_slice(lines);
        self.frr.vtysh(&cmds);
    }

    /// FRR's peer and ours at `interval_ms` x 3 over IPv4, both Up.
    fn up_v4(&self, interval_ms: u64) -> SessionHandle {
        let i = interval_ms.to_string();
        self.frr_peer(
            false,
            &[
                &format!("receive-interval {i}"),
                &format!("transmit-interval {i}"),
                "detect-multiplier 3",
            ],
        );
        let s = self.ours(false, timers(interval_ms, 3), false);
        self.wait_up(false, &s);
        s
    }

    /// FRR's `show bfd peers json` entry for our address.
    fn frr_view(&self, v6: bool) -> Option<Value> {
        let want = self.node_addr(v6).to_string();
        let out = self.frr.try_vtysh(&["show bfd peers json"]).ok()?;
        let v: Value = serde_json::from_str(&out).ok()?;
        v.as_array()?
            .iter()
            .find(|p| p.get("peer").and_then(Value::as_str) == Some(want.as_str()))
            .cloned()
    }

    fn frr_status(&self, v6: bool) -> String {
        self.frr_view(v6)
            .and_then(|p| p.get("status").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits until both sides say Up.
    fn wait_up(&self, v6: bool, ours: &SessionHandle) {
        let got = wait_until_opt(UP, || {
            (ours.status().state == State::Up && self.frr_status(v6) == "up").then_some(())
        });
        if got.is_none() {
            panic!(
                "BFD (v6={v6}) not Up within {UP:?}: ours {:?}; FRR {:?}; bfdd log:\n{}",
                ours.status(),
                self.frr_view(v6),
                self.frr.dir().read("bfdd.log")
            );
        }
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn timers(ms_each: u64, mult: u8) -> Timers {
    Timers {
        desired_min_tx: ms(ms_each),
        required_min_rx: ms(ms_each),
        detect_mult: mult,
    }
}

fn frr_u64(view: &Option<Value>, key: &str) -> Option<u64> {
    view.as_ref()?.get(key)?.as_u64()
}

#[test]
fn bfd_single_hop_v4_and_v6_up_both_ways() {
    let Some(lab) = BfdLab::start("bfd_single_hop_v4_and_v6_up_both_ways") else {
        return;
    };
    let t = [
        "receive-interval 300",
        "transmit-interval 300",
        "detect-multiplier 3",
    ];
    lab.frr_peer(false, &t);
    lab.frr_peer(true, &t);
    let v4 = lab.ours(false, timers(300, 3), false);
    let v6 = lab.ours(true, timers(300, 3), false);
    for (is_v6, s) in [(false, &v4), (true, &v6)] {
        lab.wait_up(is_v6, s);
        // Both sides see the other's parameters.
        let view = lab.frr_view(is_v6);
        println!("FRR's view (v6={is_v6}): {view:?}");
        assert_eq!(
            frr_u64(&view, "remote-receive-interval"),
            Some(300),
            "{view:?}"
        );
        assert_eq!(
            frr_u64(&view, "remote-detect-multiplier"),
            Some(3),
            "{view:?}"
        );
        let st = s.status();
        assert_eq!(st.remote_state, State::Up);
        assert_eq!(st.remote_detect_mult, 3);
        assert_eq!(st.remote_min_rx, ms(300));
        assert_eq!(frr_u64(&view, "remote-id"), Some(u64::from(st.local_discr)));
        assert_eq!(frr_u64(&view, "id"), Some(u64::from(st.remote_discr)));
        // The Poll Sequence after Up has ended: the fast rate is in effect on our side.
        wait_until(ms(3000), "our Poll Sequence ends", || {
            (!s.status().polling && s.status().tx_interval == ms(300)).then_some(())
        });
        assert_eq!(s.status().detect_time, ms(900));
        assert_eq!(s.status().counters.down_events, 0);
        assert_eq!(s.status().counters.up_events, 1);
    }
    // Our send sockets (RFC 5881 §4): bound to the local addresses, source ports 49152-65535.
    let sockets = lab.node.run_ok(&["ss", "-Huan"]);
    for local in [lab.link.b_v4.to_string(), format!("[{}]", lab.link.b_v6)] {
        let port: u16 = sockets
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3))
            .find_map(|a| a.strip_prefix(&format!("{local}:")))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no UDP socket on {local}:\n{sockets}"));
        assert!(port >= 49152, "{local}:{port}");
    }
}

#[test]
fn bfd_passive_on_either_side() {
    let Some(lab) = BfdLab::start("bfd_passive_on_either_side") else {
        return;
    };
    let t = [
        "receive-interval 300",
        "transmit-interval 300",
        "detect-multiplier 3",
    ];
    // Ours passive (v4): nothing sent while FRR has no peer; Up once FRR starts.
    let passive = lab.ours(false, timers(300, 3), true);
    let spoke = wait_until_opt(ms(2500), || {
        (passive.status().counters.packets_out > 0).then_some(())
    });
    assert!(
        spoke.is_none(),
        "passive session sent {:?}",
        passive.status()
    );
    lab.frr_peer(false, &t);
    lab.wait_up(false, &passive);
    // FRR passive (v6): it waits for us, we start it.
    let mut frr_passive = t.to_vec();
    frr_passive.push("passive-mode");
    lab.frr_peer(true, &frr_passive);
    let view = lab.frr_view(true);
    assert_eq!(
        view.as_ref()
            .and_then(|v| v.get("passive-mode"))
            .and_then(Value::as_bool),
        Some(true),
        "{view:?}"
    );
    let active = lab.ours(true, timers(300, 3), false);
    lab.wait_up(true, &active);
}

#[test]
fn bfd_interval_change_with_poll_final_while_up() {
    let Some(lab) = BfdLab::start("bfd_interval_change_with_poll_final_while_up") else {
        return;
    };
    let s = lab.up_v4(300);
    // Our side to 100 ms x 3: FRR learns it through our Poll, the session stays Up.
    s.set_timers(timers(100, 3)).expect("set timers");
    wait_until(ms(5000), "FRR sees our 100 ms", || {
        let v = lab.frr_view(false);
        (frr_u64(&v, "remote-receive-interval") == Some(100)
            && frr_u64(&v, "remote-transmit-interval") == Some(100))
        .then_some(())
    });
    wait_until(ms(3000), "our Poll Sequence ends", || {
        (!s.status().polling).then_some(())
    });
    // FRR still asks 300 ms: we send at max(100, 300).
    assert_eq!(s.status().tx_interval, ms(300));
    // FRR's side to 100 ms: its Poll reaches us, we answer Final; 100 ms both ways.
    lab.frr_peer(false, &["receive-interval 100", "transmit-interval 100"]);
    wait_until(ms(5000), "we see FRR's 100 ms", || {
        let st = s.status();
        (st.remote_min_rx == ms(100) && st.remote_min_tx == ms(100) && st.tx_interval == ms(100))
            .then_some(())
    });
    assert_eq!(s.status().detect_time, ms(300));
    // Slower again on our side (1 s TX): the increase takes effect after the Final.
    s.set_timers(Timers {
        desired_min_tx: ms(1000),
        required_min_rx: ms(100),
        detect_mult: 3,
    })
    .expect("set timers");
    wait_until(ms(5000), "FRR sees our 1000 ms TX", || {
        (frr_u64(&lab.frr_view(false), "remote-transmit-interval") == Some(1000)).then_some(())
    });
    wait_until(ms(3000), "our TX interval is 1 s", || {
        (s.status().tx_interval == ms(1000)).then_some(())
    });
    // No flap on either side through all of it.
    let st = s.status();
    assert_eq!(st.state, State::Up);
    assert_eq!(
        (st.counters.up_events, st.counters.down_events),
        (1, 0),
        "{st:?}"
    );
    assert_eq!(lab.frr_status(false), "up");
}

#[test]
fn bfd_frr_shutdown_is_admin_down_not_a_failure() {
    let Some(lab) = BfdLab::start("bfd_frr_shutdown_is_admin_down_not_a_failure") else {
        return;
    };
    let s = lab.up_v4(300);
    lab.frr_peer(false, &["shutdown"]);
    let st = wait_until(ms(5000), "we see FRR's AdminDown", || {
        let st = s.status();
        (st.state == State::Down && st.remote_state == State::AdminDown).then_some(st)
    });
    assert_eq!(st.local_diag, Diag::NeighborSignaledSessionDown);
    // FRR 8.4 sends its AdminDown packets with Diag 0 (seen here), not 7: the state is what
    // tells, and what we log as the reason is our own Diag 3.
    println!("FRR's AdminDown packets carry Diag {:?}", st.remote_diag);
    assert_eq!(st.last_down, Some(Diag::NeighborSignaledSessionDown));
    // It stays Down (not Init: AdminDown never starts a handshake) while FRR is shut.
    let moved = wait_until_opt(ms(2000), || (s.status().state != State::Down).then_some(()));
    assert!(moved.is_none(), "{:?}", s.status());
    lab.frr_peer(false, &["no shutdown"]);
    lab.wait_up(false, &s);
    assert_eq!(s.status().counters.up_events, 2);
}

/// p50 and max of durations (sorted copy).
fn p50_max(v: &[Duration]) -> (Duration, Duration) {
    let mut s = v.to_vec();
    s.sort();
    (s[s.len() / 2], s[s.len() - 1])
}

#[test]
fn bfd_failure_detection_when_frr_freezes() {
    let Some(lab) = BfdLab::start("bfd_failure_detection_when_frr_freezes") else {
        return;
    };
    let bfdd = lab.frr.pid("bfdd").expect("bfdd pid");
    for (interval, rounds) in [(300u64, 5), (100, 5)] {
        let s = lab.up_v4(interval);
        let detect = ms(3 * interval);
        let mut took = Vec::new();
        for round in 0..rounds {
            lab.wait_up(false, &s);
            wait_until(ms(3000), "fast rate in effect", || {
                (s.status().detect_time == detect).then_some(())
            });
            let frozen_at = Instant::now();
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(bfdd),
                nix::sys::signal::Signal::SIGSTOP,
            )
            .expect("SIGSTOP bfdd");
            let down = wait_until_opt(detect + ms(1000), || {
                let st = s.status();
                (st.state == State::Down).then_some(st)
            });
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(bfdd),
                nix::sys::signal::Signal::SIGCONT,
            )
            .expect("SIGCONT bfdd");
            let st = down.unwrap_or_else(|| panic!("round {round}: not Down after {detect:?}"));
            assert_eq!(st.local_diag, Diag::ControlDetectionTimeExpired);
            let t = st.changed_at.saturating_duration_since(frozen_at);
            // Detection counts from the last packet, sent at most one interval before the
            // freeze: between detect - interval (less jitter) and detect (+ scheduling).
            assert!(t <= detect + ms(50), "round {round}: {t:?} > {detect:?}");
            assert!(t + ms(interval) >= detect - ms(50), "round {round}: {t:?}");
            took.push(t);
        }
        let (p50, max) = p50_max(&took);
        println!(
            "BFD {interval} ms x 3: FRR bfdd frozen -> our session Down: p50 {} ms, max {} ms over {rounds} rounds (detect time {} ms)",
            p50.as_millis(),
            max.as_millis(),
            detect.as_millis()
        );
        lab.frr.vtysh(&[
            "configure terminal",
            "bfd",
            &format!(
                "no peer {} local-address {} interface {}",
                lab.link.b_v4, lab.link.a_v4, lab.link.a_if
            ),
        ]);
        drop(s);
    }
}

/// RFC 5881 §5: a single-hop session accepts only TTL 255. A valid Down packet from the
/// peer's address with TTL 254 is dropped before the session sees it; the same with TTL 255
/// moves the session to Init.
#[test]
fn bfd_single_hop_accepts_only_ttl_255() {
    let Some(lab) = BfdLab::start("bfd_single_hop_accepts_only_ttl_255") else {
        return;
    };
    // FRR has no BFD peer: nothing but our crafted packets reaches the session.
    let s = lab.ours(false, timers(300, 3), false);
    let packet = ControlPacket {
        diag: Diag::NoDiagnostic,
        state: State::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discr: 0x4242,
        your_discr: 0,
        desired_min_tx_us: 1_000_000,
        required_min_rx_us: 300_000,
        required_min_echo_rx_us: 0,
    }
    .encode();
    let (from, to) = (lab.link.a_v4, lab.link.b_v4);
    let send = |ttl: u32| {
        lab.router.run_in(move || {
            let sock = std::net::UdpSocket::bind((from, 0)).expect("bind in router");
            sock.set_ttl(ttl).expect("set TTL");
            sock.send_to(&packet, (to, SINGLE_HOP_PORT)).expect("send");
        })
    };
    send(254);
    let seen = wait_until_opt(ms(1500), || {
        (s.status().counters.packets_in > 0).then_some(())
    });
    assert!(
        seen.is_none(),
        "a TTL 254 packet reached the session: {:?}",
        s.status()
    );
    assert_eq!(s.status().state, State::Down);
    send(255);
    let st = wait_until(
        ms(3000),
        "the TTL 255 packet moves the session to Init",
        || {
            let st = s.status();
            (st.state == State::Init).then_some(st)
        },
    );
    assert_eq!(st.remote_discr, 0x4242);
    assert_eq!(st.counters.packets_in, 1);
}

/// RFC 5883: a multi-hop session (UDP 4784) to FRR two hops away, across a forwarding
/// namespace: FRR's packets arrive with TTL 254 and are accepted; Up both ways; freezing
/// bfdd is detected.
#[test]
fn bfd_multi_hop_across_a_forwarding_namespace() {
    let test = "bfd_multi_hop_across_a_forwarding_namespace";
    if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bfdd") {
        return;
    }
    let router = Netns::new("bmhr");
    let mid = Netns::new("bmhm");
    let node = Netns::new("bmhn");
    let upstream = veth(&router, &mid, 0); // router 10.255.0.1, mid 10.255.0.2
    let downstream = veth(&mid, &node, 1); // mid 10.255.1.1, node 10.255.1.2
    mid.sysctl("net.ipv4.ip_forward", "1");
    router.run_ok(&["ip", "route", "add", "10.255.1.0/24", "via", "10.255.0.2"]);
    node.run_ok(&["ip", "route", "add", "10.255.0.0/24", "via", "10.255.1.1"]);
    let mut cfg = FrrConfig::new(65000, upstream.a_v4);
    cfg.bfdd = true;
    let frr = Frr::start(&router, &cfg);
    frr.vtysh(&[
        "configure terminal",
        "bfd",
        &format!(
            "peer {} multihop local-address {}",
            downstream.b_v4, upstream.a_v4
        ),
        "receive-interval 300",
        "transmit-interval 300",
        "detect-multiplier 3",
    ]);
    let bfd = node.run_in(|| Bfd::new().expect("BFD service starts"));
    let spec = PeerSpec {
        peer: upstream.a_v4.into(),
        local: downstream.b_v4.into(),
        hop: Hop::Multi,
        // FRR's packets cross one router: TTL 254 must pass the MetalLB default minimum-ttl.
        min_ttl: 254,
        config: BfdConfig::default(),
    };
    let b = bfd.clone();
    let s = node
        .run_in(move || b.add_session(spec))
        .expect("BFD session starts");
    let frr_up = || {
        let out = frr.try_vtysh(&["show bfd peers json"]).ok()?;
        let v: Value = serde_json::from_str(&out).ok()?;
        v.as_array()?
            .iter()
            .find(|p| p.get("peer").and_then(Value::as_str) == Some(&downstream.b_v4.to_string()))
            .filter(|p| p.get("status").and_then(Value::as_str) == Some("up"))
            .filter(|p| p.get("multihop").and_then(Value::as_bool) == Some(true))
            .cloned()
    };
    let view = wait_until_opt(UP, || {
        (s.status().state == State::Up).then(&frr_up).flatten()
    })
    .unwrap_or_else(|| {
        panic!(
            "multi-hop BFD not Up: ours {:?}; bfdd log:\n{}",
            s.status(),
            frr.dir().read("bfdd.log")
        )
    });
    assert_eq!(
        view.get("remote-id").and_then(Value::as_u64),
        Some(u64::from(s.status().local_discr))
    );
    let bfdd = nix::unistd::Pid::from_raw(frr.pid("bfdd").expect("bfdd pid"));
    wait_until(ms(3000), "fast rate in effect", || {
        (s.status().detect_time == ms(900)).then_some(())
    });
    let frozen_at = Instant::now();
    nix::sys::signal::kill(bfdd, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP bfdd");
    let down = wait_until_opt(ms(2000), || {
        let st = s.status();
        (st.state == State::Down).then_some(st)
    });
    nix::sys::signal::kill(bfdd, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT bfdd");
    let st = down.expect("multi-hop session Down after bfdd froze");
    assert_eq!(st.local_diag, Diag::ControlDetectionTimeExpired);
    assert!(st.changed_at.saturating_duration_since(frozen_at) <= ms(950));
    drop(s);
    drop(bfd);
    drop(frr);
}

/// The BFD thread is not starved by the rest of its process: a session at 50 ms x 3 (150 ms
/// detection) with FRR stays Up for 20 s while two threads of this process spin (both cores of
/// this machine busy). No flap on either side.
#[test]
fn bfd_holds_50ms_while_the_process_spins() {
    let Some(lab) = BfdLab::start("bfd_holds_50ms_while_the_process_spins") else {
        return;
    };
    let s = lab.up_v4(50);
    wait_until(ms(3000), "50 ms in effect", || {
        (s.status().detect_time == ms(150) && s.status().tx_interval == ms(50)).then_some(())
    });
    let uptime_before = frr_u64(&lab.frr_view(false), "uptime").unwrap_or(0);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let end = Instant::now() + Duration::from_secs(25);
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < end {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let flapped = wait_until_opt(Duration::from_secs(20), || {
        (s.status().counters.down_events > 0).then(|| s.status())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in spinners {
        let _ = t.join();
    }
    assert!(flapped.is_none(), "our session flapped: {flapped:?}");
    let st = s.status();
    assert_eq!((st.counters.up_events, st.counters.down_events), (1, 0));
    let view = lab.frr_view(false);
    let uptime = frr_u64(&view, "uptime").unwrap_or(0);
    assert_eq!(lab.frr_status(false), "up");
    assert!(
        uptime >= uptime_before + 19,
        "FRR's session restarted: uptime {uptime_before} -> {uptime}: {view:?}"
    );
    println!(
        "50 ms x 3 for 20 s with two spinning threads: no flap; {} packets in, {} out",
        st.counters.packets_in, st.counters.packets_out
    );
}
