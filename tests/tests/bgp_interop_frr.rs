//! `ferrolb announce` against FRR 8.4 (zebra + bgpd) in network namespaces, asserted through
//! FRR's own `vtysh ... json` output.
//!
//! Topology per test: netns `router` (FRR, AS 65000, 10.255.0.1 / fd00:255::1) joined by one
//! veth pair to netns `node` (ferrolb announce, 10.255.0.2 / fd00:255::2). Announced prefixes
//! come from the LoadBalancer pool ranges 198.51.100.0/24 and 2001:db8::/32. The eBGP multihop
//! test puts a forwarding namespace between the two (router 10.255.0.1, node 10.255.1.2).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::netns::Link;
use ferrolb_e2e::peers::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::{require_binary, require_root, veth, wait_until, wait_until_opt, Netns};
use nix::sys::signal::Signal;
use serde_json::Value;

const FRR_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
/// Bound for a session to come up (ferrolb connects to FRR, which accepts at once).
const UP: Duration = Duration::from_secs(10);
/// Bound for routes to reach FRR once the session is up.
const ROUTES: Duration = Duration::from_secs(5);

/// One FRR in `router` and an empty `node`, joined by a veth pair. Field order = drop order:
/// FRR stops before the namespaces go.
struct FrrLab {
    frr: Frr,
    link: Link,
    node: Netns,
    _router: Netns,
}

impl FrrLab {
    /// Returns None (after printing why) when the test must be skipped.
    fn start(test: &str, configure: impl FnOnce(&Link) -> FrrConfig) -> Option<FrrLab> {
        if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bgpd") {
            return None;
        }
        let router = Netns::new(&format!("{}r", short(test)));
        let node = Netns::new(&format!("{}n", short(test)));
        let link = veth(&router, &node, 0);
        let frr = Frr::start(&router, &configure(&link));
        Some(FrrLab {
            frr,
            link,
            node,
            _router: router,
        })
    }

    fn peer_v4(&self) -> IpAddr {
        self.link.b_v4.into()
    }

    /// Starts `ferrolb announce ARGS` in `node`.
    fn announce(&self, args: &[&str]) -> Announcer {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Announcer::start(&self.node, &args)
    }

    /// Waits until FRR has the neighbor Established; on timeout shows both sides' logs.
    fn wait_up(&self, ann: &mut Announcer, neighbor: IpAddr) {
        wait_up(&self.frr, ann, neighbor);
    }

    /// Waits until FRR has a best path for `prefix`; returns that path.
    fn wait_route(&self, ann: &mut Announcer, afi: &str, prefix: &str) -> Value {
        wait_route(&self.frr, ann, afi, prefix)
    }

    /// True when the session to `neighbor` comes up within `limit` (for "must not" checks).
    fn comes_up_within(&self, ann: &mut Announcer, neighbor: IpAddr, limit: Duration) -> bool {
        comes_up_within(&self.frr, ann, neighbor, limit)
    }
}

/// Waits until `frr` has the neighbor Established; on timeout shows both sides' logs.
fn wait_up(frr: &Frr, ann: &mut Announcer, neighbor: IpAddr) {
    if !comes_up_within(frr, ann, neighbor, UP) {
        panic!(
            "session not Established within {UP:?}: FRR says {:?}\n--- ferrolb:\n{}\n--- bgpd.log:\n{}",
            frr.neighbor_state(neighbor),
            ann.log(),
            frr.dir().read("bgpd.log")
        );
    }
}

/// True when `frr` has the neighbor Established within `limit`; the announcer must keep running.
fn comes_up_within(frr: &Frr, ann: &mut Announcer, neighbor: IpAddr, limit: Duration) -> bool {
    wait_until_opt(limit, || {
        ann.assert_running();
        frr.established(neighbor).then_some(())
    })
    .is_some()
}

/// Waits until `frr` has a best path for `prefix`; returns that path.
fn wait_route(frr: &Frr, ann: &mut Announcer, afi: &str, prefix: &str) -> Value {
    let found = wait_until_opt(ROUTES, || {
        ann.assert_running();
        best_path(frr, afi, prefix)
    });
    match found {
        Some(p) => p,
        None => panic!(
            "FRR has no best path for {prefix} within {ROUTES:?}; routes: {:?}\n--- ferrolb:\n{}",
            frr.prefixes(afi),
            ann.log()
        ),
    }
}

/// A short tag for namespace names (network namespace names stay readable).
fn short(test: &str) -> String {
    test.trim_start_matches("frr_")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(6)
        .collect()
}

/// The best path FRR holds for `prefix`, if any.
fn best_path(frr: &Frr, afi: &str, prefix: &str) -> Option<Value> {
    let route = frr.route(afi, prefix)?;
    route["paths"]
        .as_array()?
        .iter()
        .find(|p| p["bestpath"]["overall"].as_bool() == Some(true))
        .cloned()
}

/// A v4 eBGP neighbor 10.255.0.2 AS 65001 on FRR's side, customised by `f`.
fn ebgp_v4(link: &Link, f: impl FnOnce(&mut FrrNeighbor)) -> FrrConfig {
    let mut n = FrrNeighbor::new(link.b_v4.into(), NODE_AS);
    f(&mut n);
    FrrConfig::new(FRR_AS, link.a_v4).neighbor(n)
}

/// `--local-as 65001 --peer 10.255.0.1 --peer-as 65000` plus `extra`.
fn ebgp_args(link: &Link, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        "--local-as".to_string(),
        NODE_AS.to_string(),
        "--peer".into(),
        link.a_v4.to_string(),
        "--peer-as".into(),
        FRR_AS.to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn frr_v4_routes_with_med_communities_large_communities() {
    let Some(lab) = FrrLab::start("frr_v4_attrs", |l| ebgp_v4(l, |_| {})) else {
        return;
    };
    let args = ebgp_args(
        &lab.link,
        &[
            "--med",
            "50",
            "--community",
            "65001:100",
            "--community",
            "65001:200",
            "--large-community",
            "65001:1:2",
            "198.51.100.1/32",
            "198.51.100.2/32",
            "198.51.100.64/26",
        ],
    );
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    for prefix in ["198.51.100.1/32", "198.51.100.2/32", "198.51.100.64/26"] {
        let path = lab.wait_route(&mut ann, "ipv4", prefix);
        assert_eq!(path["metric"], 50, "MED of {prefix}: {path}");
        assert_eq!(
            path["community"]["string"], "65001:100 65001:200",
            "communities of {prefix}: {path}"
        );
        assert_eq!(
            path["largeCommunity"]["string"], "65001:1:2",
            "large communities of {prefix}: {path}"
        );
        assert_eq!(
            path["aspath"]["string"], "65001",
            "AS_PATH of {prefix}: {path}"
        );
        assert_eq!(
            path["nexthops"][0]["ip"], "10.255.0.2",
            "next hop of {prefix}: {path}"
        );
        assert_eq!(path["origin"], "IGP", "ORIGIN of {prefix}: {path}");
    }
    // exactly what was announced, nothing else
    let mut all = lab.frr.prefixes("ipv4");
    all.sort();
    assert_eq!(
        all,
        ["198.51.100.1/32", "198.51.100.2/32", "198.51.100.64/26"]
    );
    assert_eq!(lab.frr.pfx_rcd("ipv4", lab.peer_v4()), Some(3));
    // zebra installed the best path into the router namespace's FIB
    let fib = wait_until(
        ROUTES,
        "198.51.100.1 in the router's FIB via 10.255.0.2",
        || {
            let out = lab.frr.vtysh(&["show ip route 198.51.100.1/32 json"]);
            out.contains("\"installed\":true").then_some(out)
        },
    );
    assert!(fib.contains("10.255.0.2"), "{fib}");
}

#[test]
fn frr_ibgp_local_pref() {
    let Some(lab) = FrrLab::start("frr_ibgp", |l| {
        FrrConfig::new(FRR_AS, l.a_v4).neighbor(FrrNeighbor::new(l.b_v4.into(), FRR_AS))
    }) else {
        return;
    };
    let args = [
        "--local-as",
        "65000",
        "--peer",
        "10.255.0.1",
        "--peer-as",
        "65000",
        "--local-pref",
        "250",
        "198.51.100.7/32",
    ];
    let mut ann = lab.announce(&args);
    lab.wait_up(&mut ann, lab.peer_v4());
    let path = lab.wait_route(&mut ann, "ipv4", "198.51.100.7/32");
    assert_eq!(path["locPrf"], 250, "LOCAL_PREF: {path}");
    assert_eq!(path["peer"]["type"], "internal", "{path}");
    assert_eq!(
        path["aspath"]["string"], "Local",
        "iBGP AS_PATH is empty: {path}"
    );
}

#[test]
fn frr_ipv6_session_with_v6_prefixes() {
    let Some(lab) = FrrLab::start("frr_v6", |l| {
        FrrConfig::new(FRR_AS, l.a_v4).neighbor(FrrNeighbor::new(l.b_v6.into(), NODE_AS))
    }) else {
        return;
    };
    let peer = lab.link.a_v6.to_string();
    let args = [
        "--local-as",
        "65001",
        "--peer",
        &peer,
        "--peer-as",
        "65000",
        "--router-id",
        "10.255.0.2",
        "2001:db8::1/128",
        "2001:db8:1::/64",
    ];
    let mut ann = lab.announce(&args);
    lab.wait_up(&mut ann, lab.link.b_v6.into());
    for prefix in ["2001:db8::1/128", "2001:db8:1::/64"] {
        let path = lab.wait_route(&mut ann, "ipv6", prefix);
        let nh: Vec<&str> = path["nexthops"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["ip"].as_str())
            .collect();
        assert!(
            nh.contains(&"fd00:255::2"),
            "global next hop of {prefix}: {path}"
        );
    }
    assert_eq!(lab.frr.pfx_rcd("ipv6", lab.link.b_v6.into()), Some(2));
}

#[test]
fn frr_v4_and_v6_prefixes_on_one_v4_session() {
    let Some(lab) = FrrLab::start("frr_dual", |l| {
        ebgp_v4(l, |n| {
            n.ipv6 = true;
        })
    }) else {
        return;
    };
    let args = ebgp_args(&lab.link, &["198.51.100.3/32", "2001:db8::3/128"]);
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.3/32");
    let path = lab.wait_route(&mut ann, "ipv6", "2001:db8::3/128");
    let nh: Vec<&str> = path["nexthops"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["ip"].as_str())
        .collect();
    assert!(
        nh.contains(&"fd00:255::2"),
        "v6 next hop is the interface's global address: {path}"
    );
}

#[test]
fn frr_md5_right_password_establishes() {
    let Some(lab) = FrrLab::start("frr_md5ok", |l| {
        ebgp_v4(l, |n| n.password = Some("s3cret-md5".into()))
    }) else {
        return;
    };
    let (_d, pw) = ferrolb_e2e::announce::temp_file("pw", "password", "s3cret-md5\n");
    let pw = pw.display().to_string();
    let args = ebgp_args(&lab.link, &["--password-file", &pw, "198.51.100.4/32"]);
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.4/32");
    assert!(
        !ann.log().contains("s3cret-md5"),
        "the password must never be logged:\n{}",
        ann.log()
    );
}

#[test]
fn frr_md5_wrong_password_does_not_establish() {
    let Some(lab) = FrrLab::start("frr_md5bad", |l| {
        ebgp_v4(l, |n| n.password = Some("s3cret-md5".into()))
    }) else {
        return;
    };
    let (_d, pw) = ferrolb_e2e::announce::temp_file("pw", "password", "wrong-password\n");
    let pw = pw.display().to_string();
    let args = ebgp_args(&lab.link, &["--password-file", &pw, "198.51.100.4/32"]);
    let mut ann = lab.announce(&strs(&args));
    // the kernel drops unsigned/mis-signed segments silently: nothing comes up within 6 s
    assert!(
        !lab.comes_up_within(&mut ann, lab.peer_v4(), Duration::from_secs(6)),
        "session came up with a wrong MD5 password"
    );
    assert!(matches!(
        lab.frr.pfx_rcd("ipv4", lab.peer_v4()),
        None | Some(0)
    ));
    assert!(lab.frr.route("ipv4", "198.51.100.4/32").is_none());
    assert!(
        !ann.log().contains("wrong-password"),
        "the password must never be logged"
    );
}

#[test]
fn frr_gtsm_ttl_security() {
    let Some(lab) = FrrLab::start("frr_gtsm", |l| {
        ebgp_v4(l, |n| n.ttl_security_hops = Some(1))
    }) else {
        return;
    };
    let args = ebgp_args(&lab.link, &["--ttl-security", "198.51.100.5/32"]);
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.5/32");
    // frr_gtsm_without_ttl_security_does_not_establish shows FRR enforces GTSM here
}

#[test]
fn frr_gtsm_without_ttl_security_does_not_establish() {
    let Some(lab) = FrrLab::start("frr_gtsmno", |l| {
        ebgp_v4(l, |n| n.ttl_security_hops = Some(1))
    }) else {
        return;
    };
    // without --ttl-security our packets leave with TTL 1 (eBGP default): FRR's IP_MINTTL 255
    // drops them, so no session
    let args = ebgp_args(&lab.link, &["198.51.100.5/32"]);
    let mut ann = lab.announce(&strs(&args));
    assert!(
        !lab.comes_up_within(&mut ann, lab.peer_v4(), Duration::from_secs(5)),
        "session came up although FRR requires GTSM and we sent TTL 1"
    );
}

#[test]
fn frr_stdin_withdraw_and_announce() {
    let Some(lab) = FrrLab::start("frr_stdin", |l| ebgp_v4(l, |_| {})) else {
        return;
    };
    let args = ebgp_args(
        &lab.link,
        &["--stdin", "198.51.100.10/32", "198.51.100.11/32"],
    );
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.10/32");
    lab.wait_route(&mut ann, "ipv4", "198.51.100.11/32");

    ann.send_line("withdraw 198.51.100.10/32");
    wait_until(
        ROUTES,
        "FRR drops 198.51.100.10/32 after `withdraw`",
        || {
            ann.assert_running();
            lab.frr
                .route("ipv4", "198.51.100.10/32")
                .is_none()
                .then_some(())
        },
    );
    assert!(
        lab.frr.route("ipv4", "198.51.100.11/32").is_some(),
        "the other prefix must stay"
    );

    ann.send_line("announce 198.51.100.12/32");
    lab.wait_route(&mut ann, "ipv4", "198.51.100.12/32");

    // a bad line is reported on stderr naming the line, and the session stays up
    let established_before =
        lab.frr.neighbor(lab.peer_v4()).unwrap_or_default()["connectionsEstablished"].clone();
    ann.send_line("annnounce 198.51.100.13/32");
    wait_until(ROUTES, "an error naming the bad stdin line", || {
        ann.assert_running();
        ann.log().contains("annnounce").then_some(())
    });
    assert!(lab.frr.established(lab.peer_v4()));
    let established_after =
        lab.frr.neighbor(lab.peer_v4()).unwrap_or_default()["connectionsEstablished"].clone();
    assert_eq!(
        established_before, established_after,
        "the session must not be reset by a bad line"
    );
    assert_eq!(
        established_after, 1,
        "one session for the whole test, no flap"
    );
    let mut all = lab.frr.prefixes("ipv4");
    all.sort();
    assert_eq!(all, ["198.51.100.11/32", "198.51.100.12/32"]);
}

#[test]
fn frr_route_refresh_keeps_routes() {
    let Some(lab) = FrrLab::start("frr_rr", |l| ebgp_v4(l, |_| {})) else {
        return;
    };
    let args = ebgp_args(&lab.link, &["198.51.100.20/32", "198.51.100.21/32"]);
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.20/32");
    lab.wait_route(&mut ann, "ipv4", "198.51.100.21/32");
    let stats = |lab: &FrrLab| lab.frr.neighbor(lab.peer_v4()).unwrap_or_default();
    let before = stats(&lab);
    let updates_before = before["messageStats"]["updatesRecv"].as_u64().unwrap_or(0);
    assert_eq!(
        before["neighborCapabilities"]["routeRefresh"]
            .as_str()
            .map(|s| s.contains("Received")),
        Some(true),
        "we must advertise route refresh: {}",
        before["neighborCapabilities"]
    );

    lab.frr
        .vtysh(&[&format!("clear bgp ipv4 unicast {} soft in", lab.peer_v4())]);
    // FRR sends ROUTE-REFRESH, we resend the table: more UPDATEs arrive, no session reset
    let after = wait_until(
        ROUTES,
        "FRR receives the table again after ROUTE-REFRESH",
        || {
            ann.assert_running();
            let s = stats(&lab);
            (s["messageStats"]["updatesRecv"].as_u64().unwrap_or(0) > updates_before).then_some(s)
        },
    );
    assert!(
        after["messageStats"]["routeRefreshSent"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{}",
        after["messageStats"]
    );
    assert_eq!(
        before["connectionsEstablished"], after["connectionsEstablished"],
        "no session reset"
    );
    assert!(lab.frr.established(lab.peer_v4()));
    assert!(best_path(&lab.frr, "ipv4", "198.51.100.20/32").is_some());
    assert!(best_path(&lab.frr, "ipv4", "198.51.100.21/32").is_some());
    assert_eq!(lab.frr.pfx_rcd("ipv4", lab.peer_v4()), Some(2));
}

#[test]
fn frr_sigterm_sends_cease_administrative_shutdown() {
    let Some(lab) = FrrLab::start("frr_term", |l| ebgp_v4(l, |_| {})) else {
        return;
    };
    let args = ebgp_args(&lab.link, &["198.51.100.30/32"]);
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.30/32");

    ann.signal(Signal::SIGTERM);
    let status = ann
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no exit within 5 s after SIGTERM:\n{}", ann.log()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit code after SIGTERM; output:\n{}",
        ann.log()
    );
    let n = wait_until(ROUTES, "FRR records the Cease NOTIFICATION", || {
        let n = lab.frr.neighbor(lab.peer_v4())?;
        (n["bgpState"] != "Established").then_some(n)
    });
    assert_eq!(
        n["lastNotificationReason"], "Cease/Administrative Shutdown",
        "{n}"
    );
    assert_eq!(n["lastErrorCodeSubcode"], "0602", "{n}");
    assert_eq!(n["lastResetDueTo"], "BGP Notification received", "{n}");
    // "at once": bgpd clears the peer's routes from its work queue right after leaving Established
    wait_until(
        Duration::from_secs(2),
        "FRR drops our routes with the session",
        || {
            lab.frr
                .route("ipv4", "198.51.100.30/32")
                .is_none()
                .then_some(())
        },
    );
}

#[test]
fn frr_sigstop_hold_timer_expires() {
    let Some(lab) = FrrLab::start("frr_stop", |l| ebgp_v4(l, |_| {})) else {
        return;
    };
    let args = ebgp_args(&lab.link, &["--hold-time", "3", "198.51.100.40/32"]);
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    lab.wait_route(&mut ann, "ipv4", "198.51.100.40/32");
    let n = lab.frr.neighbor(lab.peer_v4()).unwrap_or_default();
    assert_eq!(
        n["bgpTimerHoldTimeMsecs"], 3000,
        "negotiated hold time: {n}"
    );

    ann.signal(Signal::SIGSTOP);
    let stopped = Instant::now();
    let n = wait_until(
        Duration::from_secs(8),
        "FRR drops the session after the hold time",
        || {
            let n = lab.frr.neighbor(lab.peer_v4())?;
            (n["bgpState"] != "Established").then_some(n)
        },
    );
    let took = stopped.elapsed();
    // the last KEEPALIVE we sent is at most ~1 s old when we stop: FRR expires 2-3 s later
    assert!(
        took >= Duration::from_millis(1500),
        "session dropped after {took:?}: too early for a 3 s hold time: {n}"
    );
    let reason = n["lastNotificationReason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("Hold Timer Expired"),
        "FRR's reason: {n}"
    );
    // bgpd leaves Established first and clears the peer's routes from its work queue right after
    wait_until(
        Duration::from_secs(3),
        "FRR drops the routes with the session",
        || {
            lab.frr
                .route("ipv4", "198.51.100.40/32")
                .is_none()
                .then_some(())
        },
    );
    ann.signal(Signal::SIGCONT);
    ann.signal(Signal::SIGKILL);
    assert!(ann.wait_exit(Duration::from_secs(5)).is_some());
}

/// eBGP to a router two hops away: `router` (FRR) -- `mid` (forwards, nothing else) -- `node`.
/// FRR has `ebgp-multihop 2`. Without `--ebgp-multihop` our packets leave with TTL 1 and die at
/// `mid`, so no session; with `--ebgp-multihop 2` the session comes up and FRR has the route
/// with our own address as next hop, resolved through `mid`.
#[test]
fn frr_ebgp_multihop_across_a_forwarding_hop() {
    let test = "frr_ebgp_multihop_across_a_forwarding_hop";
    if !require_root(test) || !require_binary("vtysh") || !require_binary("/usr/lib/frr/bgpd") {
        return;
    }
    let router = Netns::new("mhopr");
    let mid = Netns::new("mhopm");
    let node = Netns::new("mhopn");
    let upstream = veth(&router, &mid, 0); // router 10.255.0.1, mid 10.255.0.2
    let downstream = veth(&mid, &node, 1); // mid 10.255.1.1, node 10.255.1.2
    mid.sysctl("net.ipv4.ip_forward", "1");
    router.run_ok(&["ip", "route", "add", "10.255.1.0/24", "via", "10.255.0.2"]);
    node.run_ok(&["ip", "route", "add", "10.255.0.0/24", "via", "10.255.1.1"]);
    let node_addr: IpAddr = downstream.b_v4.into();
    let mut neighbor = FrrNeighbor::new(node_addr, NODE_AS);
    neighbor.ebgp_multihop = Some(2);
    let frr = Frr::start(
        &router,
        &FrrConfig::new(FRR_AS, upstream.a_v4).neighbor(neighbor),
    );

    // TTL 1: the SYN expires at `mid`
    let mut single_hop = Announcer::start(&node, &ebgp_args(&upstream, &["198.51.100.50/32"]));
    assert!(
        !comes_up_within(&frr, &mut single_hop, node_addr, Duration::from_secs(5)),
        "session came up two hops away with TTL 1: {}",
        single_hop.log()
    );
    drop(single_hop);

    let args = ebgp_args(&upstream, &["--ebgp-multihop", "2", "198.51.100.50/32"]);
    let mut multihop = Announcer::start(&node, &args);
    wait_up(&frr, &mut multihop, node_addr);
    let path = wait_route(&frr, &mut multihop, "ipv4", "198.51.100.50/32");
    assert_eq!(
        path["nexthops"][0]["ip"],
        downstream.b_v4.to_string(),
        "next hop is the node itself, two hops away: {path}"
    );
    assert_eq!(path["aspath"]["string"], "65001", "{path}");
}

/// `key=value` of the `session counters` line `ferrolb announce` logs when it stops.
fn logged_counter(log: &str, key: &str) -> Option<u64> {
    let line = log.lines().rev().find(|l| l.contains("session counters"))?;
    let field = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))?;
    field.parse().ok()
}

/// FRR's `messageStats` of the neighbor (`show bgp neighbor ADDR json`).
fn message_stats(frr: &Frr, neighbor: IpAddr) -> Value {
    frr.neighbor(neighbor)
        .map(|n| n["messageStats"].clone())
        .unwrap_or(Value::Null)
}

/// Issue 8 item 3: the UPDATE and message counters equal what FRR counts, for one large
/// batch (12000 IPv6 host routes: several UPDATEs of up to 64 KiB, Extended Message, written
/// at once) and then single messages.
/// They counted each UPDATE of a batch twice (2n-1).
#[test]
fn frr_message_counters_match_frr_message_stats() {
    let Some(lab) = FrrLab::start("frr_counters", |l| ebgp_v4(l, |n| n.ipv6 = true)) else {
        return;
    };
    let table: String = (0..12000u32)
        .map(|i| format!("2001:db8:1::{:x}:{:x}/128\n", i >> 16, i & 0xffff))
        .collect();
    let (_dir, file) = ferrolb_e2e::announce::temp_file("counters", "prefixes", &table);
    // Hold time 180 s: no keepalive (60 s, jittered down to 45 s) within the test.
    let args = ebgp_args(
        &lab.link,
        &[
            "--hold-time",
            "180",
            "--stdin",
            "--prefixes-file",
            file.to_str().expect("utf-8 path"),
        ],
    );
    let mut ann = lab.announce(&strs(&args));
    lab.wait_up(&mut ann, lab.peer_v4());
    wait_until(
        Duration::from_secs(30),
        "FRR has the 12000 IPv6 routes",
        || {
            ann.assert_running();
            (lab.frr.pfx_rcd("ipv6", lab.peer_v4()) == Some(12000)).then_some(())
        },
    );
    // Single messages: one announcement, then its withdrawal.
    ann.send_line("announce 198.51.100.7/32");
    lab.wait_route(&mut ann, "ipv4", "198.51.100.7/32");
    ann.send_line("withdraw 198.51.100.7/32");
    wait_until(ROUTES, "FRR drops 198.51.100.7/32", || {
        best_path(&lab.frr, "ipv4", "198.51.100.7/32")
            .is_none()
            .then_some(())
    });
    let stats = message_stats(&lab.frr, lab.peer_v4());
    let updates = stats["updatesRecv"].as_u64().expect("updatesRecv");
    let total = stats["totalRecv"].as_u64().expect("totalRecv");
    let sent_to_us = stats["totalSent"].as_u64().expect("totalSent");
    // The table (>= 4 UPDATEs), two End-of-RIBs, the announcement and the withdrawal.
    assert!(updates >= 8, "12000 /128s need several UPDATEs: {stats}");

    ann.signal(Signal::SIGTERM);
    ann.wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", ann.log()));
    let log = ann.log();
    let counter =
        |k: &str| logged_counter(&log, k).unwrap_or_else(|| panic!("no {k} in the log:\n{log}"));
    assert_eq!(counter("updates_out"), updates, "{stats}\n{log}");
    // Everything FRR received plus the Cease NOTIFICATION of the shutdown.
    assert_eq!(counter("messages_out"), total + 1, "{stats}\n{log}");
    assert_eq!(counter("messages_in"), sent_to_us, "{stats}\n{log}");
}
