//! `ferrolb uplinks` against the real kernel: a node namespace with two uplinks (veths to two
//! gateway namespaces). The primary's gateway stops answering -> the default route moves to the
//! backup; it answers again -> back; link down/up -> the route is restored. Prints how long each
//! move took; asserts only generous bounds. The same manager also runs inside `ferrolb speaker`
//! (`--uplink`), with its metrics on the speaker's /metrics.

use std::time::{Duration, Instant};

use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::{
    ferrolb_bin, require_root, veth, wait_until, wait_until_opt, ChildGuard, Netns, ScratchDir,
};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const PROBE_INTERVAL_MS: u64 = 200;
const PROBE_COUNT: u32 = 2;

/// Default routes of the main table for `family` ("-4" or "-6"): (dev, gateway, metric,
/// protocol).
fn default_routes(ns: &Netns, family: &str) -> Vec<(String, String, u64, String)> {
    let out = ns.run_ok(&["ip", family, "-j", "route", "show", "default"]);
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["dev"].as_str().unwrap_or("").to_string(),
                        r["gateway"].as_str().unwrap_or("").to_string(),
                        r["metric"].as_u64().unwrap_or(0),
                        match &r["protocol"] {
                            Value::String(s) => s.clone(),
                            Value::Number(n) => n.to_string(),
                            _ => String::new(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// IPv4 default routes of the main table: (dev, gateway, metric, protocol).
fn defaults(ns: &Netns) -> Vec<(String, String, u64, String)> {
    default_routes(ns, "-4")
}

/// The device of the lowest-metric default route.
fn preferred_dev(ns: &Netns) -> Option<String> {
    defaults(ns).into_iter().min_by_key(|r| r.2).map(|r| r.0)
}

/// Polls tightly (1 ms) until `cond`, returning the elapsed time; panics after `limit`.
fn time_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Makes the gateway namespace drop ICMP echo requests (the gateway "stops answering").
fn stop_answering_pings(gateway: &Netns) {
    gateway.run_ok(&["nft", "add", "table", "ip", "flbdrop"]);
    gateway.run_ok(&[
        "nft",
        "add chain ip flbdrop flbin { type filter hook input priority 0; }",
    ]);
    gateway.run_ok(&[
        "nft",
        "add rule ip flbdrop flbin icmp type echo-request drop",
    ]);
}

/// GET /metrics on 127.0.0.1:`port` inside `ns` (HTTP/1.0 through bash's /dev/tcp).
fn metrics_in(ns: &Netns, port: u16) -> String {
    ns.http_get(port, "/metrics")
}

/// SIGTERM, then asserts a clean exit within 10 s and that no route with our protocol is left.
fn stop_and_check_cleanup(daemon: &mut ChildGuard, node: &Netns, log: &std::path::Path) {
    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait_timeout(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "clean exit on SIGTERM: {status:?}\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let left = defaults(node);
    assert!(
        left.iter().all(|r| r.3 != "241"),
        "managed routes removed on exit: {left:?}"
    );
}

#[test]
fn fabric_uplinks_failover_failback_and_link_flap() {
    if !require_root("fabric_uplinks_failover_failback_and_link_flap") {
        return;
    }
    let node = Netns::new("funode");
    let gwa = Netns::new("fugwa");
    let gwb = Netns::new("fugwb");
    veth(&gwa, &node, 1); // primary: node veth1b, gateway 10.255.1.1
    veth(&gwb, &node, 2); // backup: node veth2b, gateway 10.255.2.1
                          // A default route the manager does not own: it must never be touched.
    node.run_ok(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.255.2.1",
        "metric",
        "900",
    ]);
    let dir = ScratchDir::new("fabric-uplinks");
    let log = dir.join("uplinks.log");
    let bin = ferrolb_bin();
    let interval = format!("{PROBE_INTERVAL_MS}ms");
    let count = PROBE_COUNT.to_string();
    let mut daemon = node.spawn(
        &[
            bin.to_str().expect("utf-8 path"),
            "uplinks",
            "--uplink",
            "name=primary,interface=veth1b,gateway=10.255.1.1,priority=100",
            "--uplink",
            "name=backup,interface=veth2*,priority=10",
            "--probe-interval",
            &interval,
            "--probe-count",
            &count,
            "--metrics-addr",
            "127.0.0.1:9474",
        ],
        &log,
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();

    // Start: no managed route yet; the backup's gateway is learned from the foreign route.
    wait_until(
        Duration::from_secs(10),
        "primary preferred, backup installed",
        || {
            let d = defaults(&node);
            let ours: Vec<_> = d.iter().filter(|r| r.3 == "241").collect();
            (ours.len() == 2 && preferred_dev(&node).as_deref() == Some("veth1b")).then_some(())
        },
    );
    println!("start: {:?}", defaults(&node));

    // The primary gateway stops answering (ICMP dropped in the gateway namespace).
    stop_answering_pings(&gwa);
    let failover = time_until(Duration::from_secs(10), "failover to the backup", || {
        preferred_dev(&node).as_deref() == Some("veth2b")
    });
    println!(
        "failover: default route moved to the backup {:.0} ms after the primary gateway stopped answering (probe interval {PROBE_INTERVAL_MS} ms x count {PROBE_COUNT} = {} ms detection)",
        failover.as_secs_f64() * 1000.0,
        PROBE_INTERVAL_MS * u64::from(PROBE_COUNT)
    );
    assert!(
        failover < Duration::from_millis(PROBE_INTERVAL_MS * u64::from(PROBE_COUNT + 3) + 1000)
    );

    // It answers again.
    gwa.run_ok(&["nft", "delete", "table", "ip", "flbdrop"]);
    let failback = time_until(Duration::from_secs(10), "failback to the primary", || {
        preferred_dev(&node).as_deref() == Some("veth1b")
    });
    println!(
        "failback: default route moved back to the primary {:.0} ms after its gateway answered again",
        failback.as_secs_f64() * 1000.0
    );
    assert!(
        failback < Duration::from_millis(PROBE_INTERVAL_MS * u64::from(PROBE_COUNT + 3) + 1000)
    );

    // Link flap: down deletes the primary's route (kernel), up must restore it at once.
    node.run_ok(&["ip", "link", "set", "veth1b", "down"]);
    wait_until(
        Duration::from_secs(5),
        "backup preferred while the primary link is down",
        || (preferred_dev(&node).as_deref() == Some("veth2b")).then_some(()),
    );
    let up_at = Instant::now();
    node.run_ok(&["ip", "link", "set", "veth1b", "up"]);
    let after_command = up_at.elapsed();
    let restored = time_until(
        Duration::from_secs(5),
        "primary route restored after link up",
        || {
            defaults(&node)
                .iter()
                .any(|r| r.0 == "veth1b" && r.3 == "241")
        },
    );
    println!(
        "link flap: primary default route restored {:.1} ms after `ip link set up` was started ({:.1} ms of that was the ip command itself; polling adds a few ms)",
        (restored + after_command).as_secs_f64() * 1000.0,
        after_command.as_secs_f64() * 1000.0
    );
    assert!(
        restored < Duration::from_secs(2),
        "restored within generous bound"
    );
    wait_until(
        Duration::from_secs(5),
        "primary preferred again after the flap",
        || (preferred_dev(&node).as_deref() == Some("veth1b")).then_some(()),
    );

    // Metrics endpoint.
    let metrics = metrics_in(&node, 9474);
    assert!(
        metrics.contains("ferrolb_uplink_preferred{uplink=\"primary\",family=\"ipv4\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("ferrolb_uplink_probes_total{uplink=\"primary\",result=\"failed\"}"));

    // Exit: our routes go, the foreign one stays.
    stop_and_check_cleanup(&mut daemon, &node, &log);
    let left = defaults(&node);
    assert!(
        left.iter().any(|r| r.1 == "10.255.2.1" && r.2 == 900),
        "foreign route untouched: {left:?}"
    );
    let text = logs();
    for needle in [
        "preferred uplink changed",
        "gateway stopped answering",
        "added default via",
    ] {
        assert!(text.contains(needle), "log mentions {needle:?}:\n{text}");
    }
    println!("--- uplinks log ---\n{text}");
}

/// IPv6 default routes for the v6 uplinks `veth1b` / `veth2b`: (dev, metric, protocol).
fn defaults_v6(ns: &Netns) -> Vec<(String, u64, String)> {
    default_routes(ns, "-6")
        .into_iter()
        .map(|(dev, _, metric, protocol)| (dev, metric, protocol))
        .collect()
}

/// IPv6, from a node without any default route, configured by a YAML file: ICMPv6 probes,
/// failover when the preferred gateway's address disappears, a link flap restore, clean exit.
#[test]
fn fabric_uplinks_ipv6_from_no_default_route() {
    if !require_root("fabric_uplinks_ipv6_from_no_default_route") {
        return;
    }
    let node = Netns::new("fu6node");
    let gwa = Netns::new("fu6gwa");
    let gwb = Netns::new("fu6gwb");
    veth(&gwa, &node, 1); // gateway fd00:255:0:1::1
    veth(&gwb, &node, 2); // gateway fd00:255:0:2::1
    assert!(
        defaults_v6(&node).is_empty(),
        "no IPv6 default route at start"
    );
    let dir = ScratchDir::new("fabric-uplinks6");
    let config = dir.write(
        "uplinks.yaml",
        "probe:\n  interval: 200ms\n  count: 2\nbase-metric: 100\nuplinks:\n  - name: a\n    interface: veth1b\n    gateway: fd00:255:0:1::1\n    priority: 2\n  - name: b\n    interface: veth2b\n    gateway: fd00:255:0:2::1\n    priority: 1\n",
    );
    let log = dir.join("uplinks6.log");
    let bin = ferrolb_bin();
    let mut daemon = node.spawn(
        &[
            bin.to_str().expect("utf-8 path"),
            "uplinks",
            "--config",
            config.to_str().expect("utf-8 path"),
        ],
        &log,
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let preferred = |ns: &Netns| defaults_v6(ns).into_iter().min_by_key(|r| r.1).map(|r| r.0);
    wait_until(
        Duration::from_secs(10),
        "both v6 routes, a preferred",
        || {
            let d = defaults_v6(&node);
            (d.iter().filter(|r| r.2 == "241").count() == 2
                && preferred(&node).as_deref() == Some("veth1b"))
            .then_some(())
        },
    );
    node.run_ok(&["ping", "-6", "-c1", "-W1", "fd00:255:0:1::1"]);
    // Gateway a loses its address: probes fail -> b preferred.
    gwa.run_ok(&["ip", "addr", "del", "fd00:255:0:1::1/64", "dev", "veth1a"]);
    let t = time_until(Duration::from_secs(10), "v6 failover", || {
        preferred(&node).as_deref() == Some("veth2b")
    });
    println!("ipv6 failover: {:.0} ms", t.as_secs_f64() * 1000.0);
    gwa.run_ok(&[
        "ip",
        "addr",
        "add",
        "fd00:255:0:1::1/64",
        "dev",
        "veth1a",
        "nodad",
    ]);
    let t = time_until(Duration::from_secs(10), "v6 failback", || {
        preferred(&node).as_deref() == Some("veth1b")
    });
    println!("ipv6 failback: {:.0} ms", t.as_secs_f64() * 1000.0);
    // IPv6 flushes static addresses on admin down unless told to keep them; without the address
    // the gateway is not on-link and no route can be added (the daemon retries on the address
    // event when something puts it back).
    node.sysctl("net.ipv6.conf.veth1b.keep_addr_on_down", "1");
    node.run_ok(&["ip", "link", "set", "veth1b", "down"]);
    wait_until(
        Duration::from_secs(5),
        "v6 route of a gone with the link",
        || (!defaults_v6(&node).iter().any(|r| r.0 == "veth1b")).then_some(()),
    );
    let start = Instant::now();
    node.run_ok(&["ip", "link", "set", "veth1b", "up"]);
    let restored = wait_until_opt(Duration::from_secs(5), || {
        defaults_v6(&node)
            .iter()
            .any(|r| r.0 == "veth1b" && r.2 == "241")
            .then(|| start.elapsed())
    });
    let Some(t) = restored else {
        panic!("v6 route not restored after link up:\n{}", logs());
    };
    println!(
        "ipv6 link flap restore: {:.1} ms after `ip link set up` started (50 ms polling)",
        t.as_secs_f64() * 1000.0
    );
    daemon.signal(Signal::SIGTERM);
    let status = daemon.wait_timeout(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        logs()
    );
    assert!(
        defaults_v6(&node).is_empty(),
        "routes removed on exit: {:?}",
        defaults_v6(&node)
    );
}

/// The uplink manager as a speaker option: `ferrolb speaker --uplink ...` (no BGP peer here)
/// installs the default routes, moves the preferred one when the primary gateway stops
/// answering, serves the uplink metrics on the speaker's own /metrics, and on SIGTERM exits 0
/// and removes its routes.
#[test]
fn fabric_uplinks_inside_the_speaker() {
    if !require_root("fabric_uplinks_inside_the_speaker") {
        return;
    }
    let node = Netns::new("fusnode");
    let gwa = Netns::new("fusgwa");
    let gwb = Netns::new("fusgwb");
    veth(&gwa, &node, 1); // primary: node veth1b, gateway 10.255.1.1
    veth(&gwb, &node, 2); // backup: node veth2b, gateway 10.255.2.1
                          // the API server sits behind the primary link, directly connected (no default route needed)
    let api = NsApi::start(&gwa);
    api.store
        .seed(json!({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": "node1"}}))
        .expect("seed node");
    let dir = ScratchDir::new("fabric-uplinks-speaker");
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "address-pools:\n- name: default\n  protocol: bgp\n  addresses:\n  - 198.51.100.0/24\n",
    )
    .expect("write config");
    let log = dir.join("speaker.log");
    let bin = ferrolb_bin();
    let url = format!("http://10.255.1.1:{}", api.port);
    let mut speaker = node.spawn(
        &[
            bin.to_str().expect("utf-8 path"),
            "speaker",
            "--server",
            &url,
            "--node-name",
            "node1",
            "--config-file",
            config.to_str().expect("utf-8 path"),
            "--metrics-addr",
            "127.0.0.1:7473",
            "--no-events",
            "--uplink",
            "name=primary,interface=veth1b,gateway=10.255.1.1,priority=100",
            "--uplink",
            "name=backup,interface=veth2b,gateway=10.255.2.1,priority=10",
        ],
        &log,
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();

    let started = wait_until_opt(Duration::from_secs(15), || {
        let ours = defaults(&node).into_iter().filter(|r| r.3 == "241").count();
        (ours == 2 && preferred_dev(&node).as_deref() == Some("veth1b")).then_some(())
    });
    assert!(
        started.is_some(),
        "both uplinks installed, primary preferred: {:?}\n{}",
        defaults(&node),
        logs()
    );
    // one /metrics: the speaker's families and the uplink manager's, one EOF at the end
    let text = wait_until(Duration::from_secs(5), "speaker /metrics", || {
        let text = metrics_in(&node, 7473);
        text.contains("ferrolb_uplink_preferred").then_some(text)
    });
    assert!(
        text.contains("ferrolb_uplink_preferred{uplink=\"primary\",family=\"ipv4\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE ferrolb_uplink_probes counter"),
        "{text}"
    );
    assert!(
        text.contains("ferrolb_config_loaded 1"),
        "the speaker's own metrics: {text}"
    );
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    // the primary gateway stops answering: the backup takes over
    stop_answering_pings(&gwa);
    wait_until(
        Duration::from_secs(15),
        "failover inside the speaker",
        || (preferred_dev(&node).as_deref() == Some("veth2b")).then_some(()),
    );

    // the speaker's Cease goes first, then the manager removes its routes
    stop_and_check_cleanup(&mut speaker, &node, &log);
}

/// An uplink that names no gateway on a node without any default route: the gateway comes
/// from the DHCP client's lease (ISC dhclient format, in a lease directory of the test), and
/// only because the leased address is the one on the interface.
#[test]
fn fabric_uplinks_gateway_from_the_dhcp_lease() {
    if !require_root("fabric_uplinks_gateway_from_the_dhcp_lease") {
        return;
    }
    let node = Netns::new("fudnode");
    let gwa = Netns::new("fudgwa");
    let gwb = Netns::new("fudgwb");
    veth(&gwa, &node, 1); // node veth1b 10.255.1.2/24, gateway 10.255.1.1
    veth(&gwb, &node, 2); // node veth2b 10.255.2.2/24
    assert!(defaults(&node).is_empty(), "no default route at start");
    let dir = ScratchDir::new("fabric-uplinks-dhcp");
    let leases = dir.join("leases");
    std::fs::create_dir_all(&leases).expect("lease dir");
    // the client renewed twice; the last lease counts
    std::fs::write(
        leases.join("dhclient.veth1b.leases"),
        "lease {\n  interface \"veth1b\";\n  fixed-address 10.255.1.2;\n  option routers 10.255.1.99;\n}\n\
         lease {\n  interface \"veth1b\";\n  fixed-address 10.255.1.2;\n  option subnet-mask 255.255.255.0;\n  option routers 10.255.1.1;\n}\n",
    )
    .expect("write lease");
    // a lease for veth2b whose address is not the one on veth2b: never used
    std::fs::write(
        leases.join("dhclient.veth2b.leases"),
        "lease {\n  interface \"veth2b\";\n  fixed-address 10.255.2.77;\n  option routers 10.255.2.1;\n}\n",
    )
    .expect("write lease");
    let log = dir.join("uplinks.log");
    let bin = ferrolb_bin();
    let mut daemon = node.spawn(
        &[
            bin.to_str().expect("utf-8 path"),
            "uplinks",
            "--uplink",
            "name=dhcp,interface=veth1b,priority=100",
            "--uplink",
            "name=other,interface=veth2b,priority=10",
            "--dhcp-lease-dir",
            leases.to_str().expect("utf-8 path"),
            "--probe-interval",
            "200ms",
        ],
        &log,
    );
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let installed = wait_until_opt(Duration::from_secs(10), || {
        defaults(&node)
            .into_iter()
            .find(|r| r.0 == "veth1b" && r.3 == "241")
    });
    let Some(route) = installed else {
        panic!(
            "no default route from the lease: {:?}\n{}",
            defaults(&node),
            logs()
        );
    };
    assert_eq!(route.1, "10.255.1.1", "the last lease's router: {route:?}");
    assert!(
        defaults(&node).iter().all(|r| r.0 != "veth2b"),
        "the lease that does not fit veth2b is not used: {:?}",
        defaults(&node)
    );
    assert!(
        logs().contains("gateway learned from the DHCP lease"),
        "{}",
        logs()
    );
    stop_and_check_cleanup(&mut daemon, &node, &log);
}
