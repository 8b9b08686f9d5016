//! `ferrolb doctor` against the real kernel in network namespaces: each problem of issue 5 is
//! reproduced (the traffic really fails), detected, then fixed with the fix the doctor printed.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ferrolb_e2e::{ferrolb_bin, require_binary, require_root, veth, wait_until, Netns};
use serde_json::Value;

/// Runs `ferrolb doctor ARGS --json` in `ns`; returns (exit code, JSON).
fn doctor(ns: &Netns, args: &[&str]) -> (i32, Value) {
    let bin = ferrolb_bin();
    let mut full = vec![bin.to_str().expect("utf-8 path"), "doctor", "--json"];
    full.extend_from_slice(args);
    let out = ns.exec(&full);
    let code = out.status.code().unwrap_or(-1);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// The human output (printed into the test log as a sample).
fn doctor_human(ns: &Netns, args: &[&str]) -> String {
    let bin = ferrolb_bin();
    let mut full = vec![bin.to_str().expect("utf-8 path"), "doctor"];
    full.extend_from_slice(args);
    let out = ns.exec(&full);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn findings<'a>(json: &'a Value, code: &str) -> Vec<&'a Value> {
    json["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["code"] == code).collect())
        .unwrap_or_default()
}

fn codes(json: &Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The fix line starting with `prefix`, with the prefix removed.
fn fix_command(finding: &Value, prefix: &str) -> String {
    finding["fix"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .find(|f| f.starts_with(prefix))
        })
        .map(|f| f[prefix.len()..].trim().to_string())
        .unwrap_or_else(|| panic!("no fix starting with {prefix:?} in {finding:#}"))
}

fn sh(ns: &Netns, script: &str) -> Output {
    ns.exec(&["sh", "-c", script])
}

fn sh_ok(ns: &Netns, script: &str) {
    let o = sh(ns, script);
    assert!(
        o.status.success(),
        "`{script}` in {} failed: {}",
        ns.name(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A veth pair `a_if` (in `a`) / `b_if` (in `b`) without addresses, both up.
fn bare_veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    let status = Command::new("ip")
        .args([
            "link",
            "add",
            a_if,
            "netns",
            a.name(),
            "type",
            "veth",
            "peer",
            "name",
            b_if,
            "netns",
            b.name(),
        ])
        .stdin(Stdio::null())
        .status()
        .expect("ip link add");
    assert!(status.success(), "creating veth {a_if}/{b_if}");
    a.run_ok(&["ip", "link", "set", a_if, "up"]);
    b.run_ok(&["ip", "link", "set", b_if, "up"]);
}

/// Makes the kernel track connections in `ns` (as kube-proxy's rules do on a real node).
fn enable_conntrack(ns: &Netns) {
    sh_ok(
        ns,
        "nft add table ip flbtrack && nft 'add chain ip flbtrack flbfwd { type filter hook forward priority 0; }' && nft add rule ip flbtrack flbfwd ct state new counter",
    );
}

fn tcp_connects(ns: &Netns, host: &str, port: &str) -> bool {
    ns.exec(&["nc", "-z", "-w", "2", host, port])
        .status
        .success()
}

/// Case 1 rebuilt: pod -> node -> NAT gateway (masquerades only the node's link range, no route
/// back to the pod CIDR) -> remote. The pod's connection times out; doctor reports finding (a);
/// each of the two suggested fixes makes the connection work.
#[test]
fn fabric_doctor_pod_egress_without_masquerade() {
    if !require_root("fabric_doctor_pod_egress_without_masquerade")
        || !require_binary("nc")
        || !require_binary("conntrack")
        || !require_binary("nft")
    {
        return;
    }
    let pod = Netns::new("fdpod");
    let node = Netns::new("fdnode");
    let gw = Netns::new("fdgw");
    let remote = Netns::new("fdrem");
    let up = veth(&gw, &node, 1); // gw 10.255.1.1, node 10.255.1.2
    veth(&gw, &remote, 2); // gw 10.255.2.1, remote 10.255.2.2
    bare_veth(&node, "pod0", &pod, "eth0");
    pod.run_ok(&["ip", "addr", "add", "10.244.1.2/24", "dev", "eth0"]);
    pod.run_ok(&["ip", "route", "add", "default", "via", "10.244.1.1"]);
    node.run_ok(&["ip", "addr", "add", "10.244.1.1/24", "dev", "pod0"]);
    node.run_ok(&["ip", "route", "add", "default", "via", &up.a_v4.to_string()]);
    node.sysctl("net.ipv4.ip_forward", "1");
    enable_conntrack(&node);
    gw.sysctl("net.ipv4.ip_forward", "1");
    sh_ok(
        &gw,
        "nft add table ip nat && nft 'add chain ip nat post { type nat hook postrouting priority srcnat; }' && nft add rule ip nat post ip saddr 10.255.1.0/24 oifname veth2a masquerade",
    );
    remote.run_ok(&["ip", "route", "add", "default", "via", "10.255.2.1"]);
    let log = std::env::temp_dir().join(format!("flb-fabric-nc-{}.log", std::process::id()));
    let _listener = remote.spawn(&["nc", "-l", "-k", "10.255.2.2", "8080"], &log);
    wait_until(
        Duration::from_secs(5),
        "listener on 10.255.2.2:8080 (from the node)",
        || tcp_connects(&node, "10.255.2.2", "8080").then_some(()),
    );

    // Reproduced: the node itself connects (masqueraded by the gateway), the pod does not.
    assert!(
        !tcp_connects(&pod, "10.255.2.2", "8080"),
        "pod connection must time out"
    );
    println!("{}", doctor_human(&node, &["--pod-cidr", "10.244.1.0/24"]));
    let (code, json) = doctor(&node, &["--pod-cidr", "10.244.1.0/24"]);
    assert_eq!(code, 1, "error finding -> exit 1: {json:#}");
    let found = findings(&json, "pod-egress-unmasqueraded");
    assert_eq!(found.len(), 1, "{json:#}");
    let finding = found[0].clone();
    assert_eq!(finding["severity"], "error");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap_or("")
            .contains("10.244.1.0/24"),
        "{finding:#}"
    );
    let evidence = finding["evidence"].to_string();
    assert!(
        evidence.contains("10.244.1.2") && evidence.contains("10.255.2.2:8080"),
        "{evidence}"
    );
    assert!(
        finding["fix"]
            .to_string()
            .contains("advertise-pod-cidr: true"),
        "{finding:#}"
    );

    // Fix 1: masquerade on the node, with the doctor's own command.
    let masquerade = fix_command(&finding, "masquerade on the node:");
    sh_ok(&node, &masquerade);
    node.run_ok(&["conntrack", "-F"]);
    assert!(
        tcp_connects(&pod, "10.255.2.2", "8080"),
        "pod connects after masquerade fix"
    );
    let (code, json) = doctor(&node, &["--pod-cidr", "10.244.1.0/24"]);
    assert!(
        findings(&json, "pod-egress-unmasqueraded").is_empty(),
        "{json:#}"
    );
    assert_eq!(code, 0, "{json:#}");

    // Back to broken, then fix 2: what announcing the pod CIDR achieves, a route on the router.
    sh_ok(&node, "nft delete table ip ferrolb_nat");
    node.run_ok(&["conntrack", "-F"]);
    assert!(
        !tcp_connects(&pod, "10.255.2.2", "8080"),
        "broken again without the masquerade"
    );
    let (_, json) = doctor(&node, &["--pod-cidr", "10.244.1.0/24"]);
    let found = findings(&json, "pod-egress-unmasqueraded");
    assert_eq!(found.len(), 1, "{json:#}");
    let fix = found[0]["fix"].to_string();
    let marker = "by hand on the router 10.255.1.1: ";
    let start = fix
        .find(marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("{fix}"));
    let route_cmd: String = fix[start..].chars().take_while(|c| *c != ')').collect();
    assert_eq!(route_cmd, "ip route add 10.244.1.0/24 via 10.255.1.2");
    sh_ok(&gw, &route_cmd);
    node.run_ok(&["conntrack", "-F"]);
    assert!(
        tcp_connects(&pod, "10.255.2.2", "8080"),
        "pod connects once the router routes the pod CIDR"
    );
    let (_, json) = doctor(&node, &["--pod-cidr", "10.244.1.0/24"]);
    assert!(
        findings(&json, "pod-egress-unmasqueraded").is_empty(),
        "{json:#}"
    );
    let _ = std::fs::remove_file(&log);
}

fn reverse_path_drops(ns: &Netns) -> u64 {
    let text = ns.run_ok(&["cat", "/proc/net/netstat"]);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    let (Some(names), Some(values)) = (lines.first(), lines.get(1)) else {
        panic!("no TcpExt in /proc/net/netstat");
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "IPReversePathFilter")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no IPReversePathFilter counter"))
}

/// (b) strict rp_filter on a backup uplink: a packet from an off-link sender arriving there is
/// dropped (the kernel's IPReversePathFilter counter moves); the doctor's fix (loose mode) stops it.
#[test]
fn fabric_doctor_strict_rp_filter_on_backup_uplink() {
    if !require_root("fabric_doctor_strict_rp_filter_on_backup_uplink") {
        return;
    }
    let node = Netns::new("frnode");
    let gwa = Netns::new("frgwa");
    let gwb = Netns::new("frgwb");
    veth(&gwa, &node, 1);
    veth(&gwb, &node, 2);
    node.run_ok(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.255.1.1",
        "metric",
        "10",
    ]);
    node.run_ok(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.255.2.1",
        "metric",
        "20",
    ]);
    node.sysctl("net.ipv4.conf.all.rp_filter", "1");
    // An off-link sender behind the backup gateway.
    gwb.run_ok(&["ip", "addr", "add", "10.255.9.1/32", "dev", "lo"]);
    let before = reverse_path_drops(&node);
    gwb.exec(&["ping", "-c1", "-W1", "-I", "10.255.9.1", "10.255.2.2"]);
    let after = reverse_path_drops(&node);
    assert!(
        after > before,
        "strict rp_filter drops the asymmetric packet ({before} -> {after})"
    );

    println!("{}", doctor_human(&node, &[]));
    let (code, json) = doctor(&node, &[]);
    assert_eq!(code, 1, "{json:#}");
    let found = findings(&json, "rp-filter-asymmetric");
    assert_eq!(found.len(), 1, "only the backup uplink: {json:#}");
    assert!(
        found[0]["summary"]
            .as_str()
            .unwrap_or("")
            .contains("veth2b"),
        "{json:#}"
    );
    let fix = fix_command(found[0], "use loose mode:");
    let cmd: String = fix.split(" (persist").next().unwrap_or("").to_string();
    sh_ok(&node, &cmd);
    let before = reverse_path_drops(&node);
    gwb.exec(&["ping", "-c1", "-W1", "-I", "10.255.9.1", "10.255.2.2"]);
    assert_eq!(reverse_path_drops(&node), before, "loose mode accepts it");
    let (_, json) = doctor(&node, &[]);
    assert!(
        findings(&json, "rp-filter-asymmetric").is_empty(),
        "{json:#}"
    );
}

/// (c) ip_forward off on a node with a pod: the pod cannot reach the gateway; doctor says why.
#[test]
fn fabric_doctor_ip_forward_off() {
    if !require_root("fabric_doctor_ip_forward_off") {
        return;
    }
    let pod = Netns::new("ffpod");
    let node = Netns::new("ffnode");
    let gw = Netns::new("ffgw");
    veth(&gw, &node, 1);
    bare_veth(&node, "pod0", &pod, "eth0");
    pod.run_ok(&["ip", "addr", "add", "10.244.1.2/24", "dev", "eth0"]);
    pod.run_ok(&["ip", "route", "add", "default", "via", "10.244.1.1"]);
    node.run_ok(&["ip", "addr", "add", "10.244.1.1/24", "dev", "pod0"]);
    node.run_ok(&["ip", "route", "add", "default", "via", "10.255.1.1"]);
    gw.run_ok(&["ip", "route", "add", "10.244.1.0/24", "via", "10.255.1.2"]);
    node.sysctl("net.ipv4.ip_forward", "0");
    assert!(
        !pod.exec(&["ping", "-c1", "-W1", "10.255.1.1"])
            .status
            .success(),
        "no forwarding"
    );
    let (code, json) = doctor(&node, &["--pod-cidr", "10.244.1.0/24"]);
    assert_eq!(code, 1, "{json:#}");
    let found = findings(&json, "ip-forward-off");
    assert_eq!(found.len(), 1, "{json:#}");
    let cmd = found[0]["fix"][0]
        .as_str()
        .unwrap_or("")
        .split(" (persist")
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(cmd, "sysctl -w net.ipv4.ip_forward=1");
    sh_ok(&node, &cmd);
    assert!(
        pod.exec(&["ping", "-c1", "-W1", "10.255.1.1"])
            .status
            .success(),
        "forwarding works"
    );
    let (_, json) = doctor(&node, &["--pod-cidr", "10.244.1.0/24"]);
    assert!(findings(&json, "ip-forward-off").is_empty(), "{json:#}");
}

/// (d) default routes: none; two with the same metric; through a link whose carrier is gone;
/// through a gateway that does not answer ARP.
#[test]
fn fabric_doctor_default_route_problems() {
    if !require_root("fabric_doctor_default_route_problems") {
        return;
    }
    let node = Netns::new("fdrnode");
    let gwa = Netns::new("fdrgwa");
    let gwb = Netns::new("fdrgwb");
    veth(&gwa, &node, 1);
    veth(&gwb, &node, 2);

    let (code, json) = doctor(&node, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(findings(&json, "no-default-route").len(), 1, "{json:#}");
    assert_eq!(findings(&json, "no-default-route")[0]["severity"], "error");

    node.run_ok(&[
        "ip",
        "route",
        "add",
        "default",
        "via",
        "10.255.1.1",
        "metric",
        "50",
    ]);
    node.run_ok(&[
        "ip",
        "route",
        "append",
        "default",
        "via",
        "10.255.2.1",
        "metric",
        "50",
    ]);
    node.run_ok(&["ping", "-c1", "-W1", "10.255.1.1"]);
    node.run_ok(&["ping", "-c1", "-W1", "10.255.2.1"]);
    let (_, json) = doctor(&node, &[]);
    assert_eq!(
        findings(&json, "default-routes-same-metric").len(),
        1,
        "{json:#}"
    );
    node.run_ok(&[
        "ip",
        "route",
        "del",
        "default",
        "via",
        "10.255.2.1",
        "metric",
        "50",
    ]);

    // Carrier gone: the gateway side of the only uplink goes down.
    gwa.run_ok(&["ip", "link", "set", "veth1a", "down"]);
    wait_until(Duration::from_secs(5), "carrier loss on veth1b", || {
        node.run_ok(&["ip", "-o", "link", "show", "veth1b"])
            .contains("NO-CARRIER")
            .then_some(())
    });
    println!("{}", doctor_human(&node, &[]));
    let (code, json) = doctor(&node, &[]);
    assert_eq!(code, 1, "{json:#}");
    let down = findings(&json, "default-route-link-down");
    assert_eq!(down.len(), 1, "{json:#}");
    assert_eq!(down[0]["severity"], "error");
    gwa.run_ok(&["ip", "link", "set", "veth1a", "up"]);
    wait_until(Duration::from_secs(5), "carrier back", || {
        node.exec(&["ping", "-c1", "-W1", "10.255.1.1"])
            .status
            .success()
            .then_some(())
    });
    let (code, json) = doctor(&node, &[]);
    assert_eq!(code, 0, "healthy again: {json:#}");

    // The gateway's address disappears: ARP fails.
    gwa.run_ok(&["ip", "addr", "del", "10.255.1.1/24", "dev", "veth1a"]);
    node.run_ok(&["ip", "neigh", "flush", "dev", "veth1b"]);
    assert!(!node
        .exec(&["ping", "-c1", "-W1", "10.255.1.1"])
        .status
        .success());
    wait_until(
        Duration::from_secs(10),
        "gateway neighbour FAILED/INCOMPLETE",
        || {
            let out = node.run_ok(&["ip", "neigh", "show", "10.255.1.1", "dev", "veth1b"]);
            (out.contains("FAILED") || out.contains("INCOMPLETE")).then_some(())
        },
    );
    println!("{}", doctor_human(&node, &[]));
    let (code, json) = doctor(&node, &[]);
    assert_eq!(code, 1, "{json:#}");
    let unresolved = findings(&json, "default-gateway-unresolved");
    assert_eq!(unresolved.len(), 1, "{json:#}");
    assert!(
        unresolved[0]["evidence"].to_string().contains("10.255.1.1"),
        "{json:#}"
    );
}

/// (e) a VIP on a container's macvlan child: the host cannot reach it; the shim from the
/// doctor's fix makes it reachable and the finding goes away.
#[test]
fn fabric_doctor_macvlan_hairpin() {
    if !require_root("fabric_doctor_macvlan_hairpin") {
        return;
    }
    let node = Netns::new("fhnode");
    let lan = Netns::new("fhlan");
    let ctr = Netns::new("fhctr");
    veth(&lan, &node, 1); // node's LAN port veth1b
    node.run_ok(&["ip", "addr", "add", "198.51.100.2/24", "dev", "veth1b"]);
    node.run_ok(&["ip", "route", "add", "default", "via", "10.255.1.1"]);
    node.run_ok(&["ping", "-c1", "-W1", "10.255.1.1"]);
    node.run_ok(&[
        "ip", "link", "add", "link", "veth1b", "name", "mv0", "type", "macvlan", "mode", "bridge",
    ]);
    node.run_ok(&["ip", "link", "set", "mv0", "netns", ctr.name()]);
    ctr.run_ok(&["ip", "addr", "add", "198.51.100.10/24", "dev", "mv0"]);
    ctr.run_ok(&["ip", "link", "set", "mv0", "up"]);
    // Reproduced: the host cannot reach the container's VIP.
    assert!(!node
        .exec(&["ping", "-c1", "-W1", "198.51.100.10"])
        .status
        .success());
    println!("{}", doctor_human(&node, &["--vip", "198.51.100.10"]));
    let (code, json) = doctor(&node, &["--vip", "198.51.100.10"]);
    assert_eq!(code, 1, "{json:#}");
    let found = findings(&json, "vip-macvlan-hairpin");
    assert_eq!(found.len(), 1, "{json:#}");
    assert!(
        found[0]["evidence"].to_string().contains("mv0"),
        "the child is named: {json:#}"
    );
    let fix = fix_command(found[0], "add a macvlan shim on the host:")
        .replace("<free address>", "198.51.100.3");
    assert!(
        fix.contains("type macvlan mode bridge") && fix.contains("198.51.100.10/32"),
        "{fix}"
    );
    sh_ok(&node, &fix);
    wait_until(
        Duration::from_secs(5),
        "VIP reachable through the shim",
        || {
            node.exec(&["ping", "-c1", "-W1", "198.51.100.10"])
                .status
                .success()
                .then_some(())
        },
    );
    let (code, json) = doctor(&node, &["--vip", "198.51.100.10"]);
    assert_eq!(codes(&json), Vec::<String>::new(), "{json:#}");
    assert_eq!(code, 0);
}

/// (f) a LoadBalancer IP that this node should serve is routed out through the gateway.
#[test]
fn fabric_doctor_vip_routed_away() {
    if !require_root("fabric_doctor_vip_routed_away") {
        return;
    }
    let node = Netns::new("fvnode");
    let gw = Netns::new("fvgw");
    veth(&gw, &node, 1);
    node.run_ok(&["ip", "route", "add", "default", "via", "10.255.1.1"]);
    node.run_ok(&["ping", "-c1", "-W1", "10.255.1.1"]);
    let (code, json) = doctor(&node, &["--vip", "198.51.100.20"]);
    assert_eq!(code, 1, "{json:#}");
    let found = findings(&json, "vip-routed-away");
    assert_eq!(found.len(), 1, "{json:#}");
    assert!(
        found[0]["evidence"].to_string().contains("via 10.255.1.1"),
        "{json:#}"
    );
    let cmd = fix_command(found[0], "deliver it locally:");
    let cmd = cmd.split(" (").next().unwrap_or("").to_string();
    assert_eq!(cmd, "ip route add local 198.51.100.20/32 dev lo");
    sh_ok(&node, &cmd);
    let (code, json) = doctor(&node, &["--vip", "198.51.100.20"]);
    assert_eq!(code, 0, "{json:#}");
    assert!(codes(&json).is_empty(), "{json:#}");
}

/// A namespace with nothing wrong reports nothing and exits 0.
#[test]
fn fabric_doctor_clean_namespace() {
    if !require_root("fabric_doctor_clean_namespace") {
        return;
    }
    let node = Netns::new("fcnode");
    let gw = Netns::new("fcgw");
    veth(&gw, &node, 1);
    node.run_ok(&["ip", "route", "add", "default", "via", "10.255.1.1"]);
    node.run_ok(&["ping", "-c1", "-W1", "10.255.1.1"]);
    let human = doctor_human(&node, &[]);
    println!("{human}");
    assert!(human.starts_with("no findings"), "{human}");
    let (code, json) = doctor(&node, &[]);
    assert_eq!(code, 0, "{json:#}");
    assert!(codes(&json).is_empty(), "{json:#}");
}

/// Without `--pod-cidr`, in a cluster (NODE_NAME, or the host's name when KUBECONFIG is set;
/// API access), the pod CIDRs come from the Node's spec.podCIDRs: here the in-process API
/// server with a kubeconfig pointing at it. The doctor runs in the test's own namespace (it
/// only reads) to reach the server on loopback.
#[test]
fn fabric_doctor_reads_pod_cidrs_from_the_node() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let server = ferrolb_apiserver::ApiServer::start("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("API server");
        server
            .store()
            .seed(serde_json::json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "flb-node-a"},
                "spec": {"podCIDR": "10.244.7.0/24", "podCIDRs": ["10.244.7.0/24", "fd00:255:244:7::/64"]}
            }))
            .expect("seed node");
        let dir = ferrolb_e2e::ScratchDir::new("fabric-doctor-kube");
        let kubeconfig = dir.write(
            "kubeconfig",
            &format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: {}\nusers:\n- name: t\n  user: {{}}\ncontexts:\n- name: t\n  context:\n    cluster: t\n    user: t\ncurrent-context: t\n",
                server.url()
            ),
        );
        let out = tokio::process::Command::new(ferrolb_bin())
            .args(["doctor", "--json"])
            .env("NODE_NAME", "flb-node-a")
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .await
            .expect("run doctor");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        assert_eq!(
            json["pod_cidrs"],
            serde_json::json!(["10.244.7.0/24", "fd00:255:244:7::/64"]),
            "{json:#}"
        );
        assert!(
            json["notes"].to_string().contains("pod CIDRs read from Node flb-node-a"),
            "{json:#}"
        );
        assert_eq!(
            json["pod_cidr_sources"][0],
            serde_json::json!({"cidr": "10.244.7.0/24", "source": "Node flb-node-a spec.podCIDRs"}),
            "{json:#}"
        );
        // Without NODE_NAME but with KUBECONFIG: the Node named after this host (kubeadm's
        // default), found through the API.
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .expect("hostname")
            .trim()
            .to_lowercase();
        server
            .store()
            .seed(serde_json::json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": host},
                "spec": {"podCIDR": "10.244.8.0/24", "podCIDRs": ["10.244.8.0/24"]}
            }))
            .expect("seed node");
        let out = tokio::process::Command::new(ferrolb_bin())
            .args(["doctor", "--json"])
            .env_remove("NODE_NAME")
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .await
            .expect("run doctor");
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr))
        });
        assert_eq!(
            json["pod_cidr_sources"][0],
            serde_json::json!({"cidr": "10.244.8.0/24", "source": format!("Node {host} spec.podCIDRs")}),
            "{json:#}"
        );
    });
}

/// A kubeadm-like node: pod 10.244.1.2 on bridge `cni0` (10.244.1.1/24) -> node -> NAT gateway
/// (masquerades only the node's link range, no route back to the pod CIDR) -> remote
/// 10.255.2.2:8080. The CNI/kube-proxy rule set under test is installed on the node.
struct PodEgressLab {
    pod: Netns,
    node: Netns,
    _gw: Netns,
    _remote: Netns,
    _listener: ferrolb_e2e::ChildGuard,
    scratch: ferrolb_e2e::ScratchDir,
}

impl PodEgressLab {
    fn new(tag: &str) -> PodEgressLab {
        let pod = Netns::new(&format!("{tag}pod"));
        let node = Netns::new(&format!("{tag}node"));
        let gw = Netns::new(&format!("{tag}gw"));
        let remote = Netns::new(&format!("{tag}rem"));
        veth(&gw, &node, 1); // gw 10.255.1.1, node 10.255.1.2 (veth1b)
        veth(&gw, &remote, 2); // gw 10.255.2.1, remote 10.255.2.2
        bare_veth(&node, "vethpod", &pod, "eth0");
        sh_ok(
            &node,
            "ip link add cni0 type bridge && ip addr add 10.244.1.1/24 dev cni0 && ip link set cni0 up && ip link set vethpod master cni0",
        );
        pod.run_ok(&["ip", "addr", "add", "10.244.1.2/24", "dev", "eth0"]);
        pod.run_ok(&["ip", "route", "add", "default", "via", "10.244.1.1"]);
        node.run_ok(&["ip", "route", "add", "default", "via", "10.255.1.1"]);
        node.sysctl("net.ipv4.ip_forward", "1");
        gw.sysctl("net.ipv4.ip_forward", "1");
        sh_ok(
            &gw,
            "nft add table ip nat && nft 'add chain ip nat post { type nat hook postrouting priority srcnat; }' && nft add rule ip nat post ip saddr 10.255.1.0/24 oifname veth2a masquerade",
        );
        remote.run_ok(&["ip", "route", "add", "default", "via", "10.255.2.1"]);
        let scratch = ferrolb_e2e::ScratchDir::new(&format!("{tag}-lab"));
        let log = scratch.write("nc.log", "");
        let listener = remote.spawn(&["nc", "-l", "-k", "10.255.2.2", "8080"], &log);
        wait_until(
            Duration::from_secs(5),
            "listener on 10.255.2.2:8080 (from the node)",
            || tcp_connects(&node, "10.255.2.2", "8080").then_some(()),
        );
        PodEgressLab {
            pod,
            node,
            _gw: gw,
            _remote: remote,
            _listener: listener,
            scratch,
        }
    }

    /// Installs a rule set on the node: a shell script (iptables-nft) or an `nft -f` file.
    fn install(&self, script: &str) {
        sh_ok(&self.node, script);
    }

    fn install_nft_file(&self, name: &str, text: &str) {
        let path = self.scratch.write(name, text);
        self.node
            .run_ok(&["nft", "-f", path.to_str().expect("utf-8 path")]);
    }

    fn pod_connects(&self) -> bool {
        tcp_connects(&self.pod, "10.255.2.2", "8080")
    }

    /// The pod's connection times out and `ferrolb doctor` (with `args`) exits 1 with the
    /// pod-egress error and the NAT verdict `verdict`; returns the JSON.
    fn assert_lost_and_diagnosed(&self, args: &[&str], verdict: &str) -> Value {
        assert!(!self.pod_connects(), "pod connection must time out");
        println!("{}", doctor_human(&self.node, args));
        let (code, json) = doctor(&self.node, args);
        assert_eq!(code, 1, "lost SYN-ACKs -> exit 1: {json:#}");
        assert_eq!(json["clean"], false, "{json:#}");
        let found = findings(&json, "pod-egress-unmasqueraded");
        assert_eq!(found.len(), 1, "{json:#}");
        assert_eq!(found[0]["severity"], "error", "{json:#}");
        assert!(
            found[0]["evidence"].to_string().contains("10.255.2.2:8080"),
            "{json:#}"
        );
        assert_eq!(json["egress_nat"][0]["verdict"], verdict, "{json:#}");
        assert_eq!(json["egress_nat"][0]["oif"], "veth1b", "{json:#}");
        json
    }

    /// Applies the doctor's own masquerade fix; the pod connects and the doctor is clean.
    fn apply_masquerade_fix_and_pass(&self, json: &Value, args: &[&str]) {
        let finding = findings(json, "pod-egress-unmasqueraded")[0].clone();
        sh_ok(
            &self.node,
            &fix_command(&finding, "masquerade on the node:"),
        );
        self.flush_and_assert_clean(args);
    }

    fn flush_and_assert_clean(&self, args: &[&str]) {
        self.node
            .run_ok(&["conntrack", "-D", "-s", "10.244.1.0/24"]);
        assert!(self.pod_connects(), "pod connects after the fix");
        let (code, json) = doctor(&self.node, args);
        assert!(
            findings(&json, "pod-egress-unmasqueraded").is_empty(),
            "{json:#}"
        );
        assert_eq!(code, 0, "{json:#}");
    }
}

const POD_CIDR: [&str; 2] = ["--pod-cidr", "10.244.1.0/24"];

fn lab_tools(test: &str) -> bool {
    require_root(test)
        && require_binary("nc")
        && require_binary("conntrack")
        && require_binary("nft")
        && require_binary("iptables-nft")
}

/// kube-proxy in iptables mode (through iptables-nft, as on a kubeadm node) masquerades only
/// packets marked 0x4000: plain pod egress leaves un-masqueraded. The doctor must not take its
/// MASQUERADE rule for cover; and with no flags it finds the pod CIDR on cni0 by itself.
#[test]
fn fabric_doctor_kube_proxy_iptables_mode_does_not_cover_pod_egress() {
    if !lab_tools("fabric_doctor_kube_proxy_iptables_mode_does_not_cover_pod_egress") {
        return;
    }
    let lab = PodEgressLab::new("fdki");
    lab.install(include_str!(
        "../../crates/fabric/src/nft/testdata/kube-proxy-iptables.sh"
    ));
    let json = lab.assert_lost_and_diagnosed(&POD_CIDR, "not-covered");
    let evidence = findings(&json, "pod-egress-unmasqueraded")[0]["evidence"].to_string();
    assert!(
        evidence.contains("KUBE-POSTROUTING") && evidence.contains("0x4000"),
        "{evidence}"
    );
    // No flags: the pod CIDR comes from the route on cni0, and the error is the same.
    let json = lab.assert_lost_and_diagnosed(&[], "not-covered");
    let sources = json["pod_cidr_sources"].to_string();
    assert!(
        sources.contains("10.244.1.0/24") && sources.contains("dev cni0"),
        "{json:#}"
    );
    assert!(
        json["notes"]
            .to_string()
            .contains("pod CIDR 10.244.1.0/24 found on the node"),
        "{json:#}"
    );
    lab.apply_masquerade_fix_and_pass(&json, &[]);
}

/// kube-proxy in nftables mode: `table ip kube-proxy`, chain `masquerading` returns unmarked
/// packets before its `masquerade fully-random`.
#[test]
fn fabric_doctor_kube_proxy_nftables_mode_does_not_cover_pod_egress() {
    if !lab_tools("fabric_doctor_kube_proxy_nftables_mode_does_not_cover_pod_egress") {
        return;
    }
    let lab = PodEgressLab::new("fdkn");
    lab.install_nft_file(
        "kube-proxy.nft",
        include_str!("../../crates/fabric/src/nft/testdata/kube-proxy-nftables.nft"),
    );
    let json = lab.assert_lost_and_diagnosed(&POD_CIDR, "not-covered");
    let evidence = findings(&json, "pod-egress-unmasqueraded")[0]["evidence"].to_string();
    assert!(
        evidence.contains("kube-proxy masquerading") && evidence.contains("return"),
        "{evidence}"
    );
    let json = lab.assert_lost_and_diagnosed(&[], "not-covered");
    lab.apply_masquerade_fix_and_pass(&json, &[]);
}

/// flannel's masquerade rules in FLANNEL-POSTRTG, but POSTROUTING lost its jump there (a
/// firewall reload flushed it): the rule would cover pod egress, yet nothing reaches it. The
/// real fix restores the jump (the doctor prints it); the entries from before stay an error
/// until flushed.
#[test]
fn fabric_doctor_flannel_chain_without_its_jump() {
    if !lab_tools("fabric_doctor_flannel_chain_without_its_jump") {
        return;
    }
    let lab = PodEgressLab::new("fdfl");
    lab.install(include_str!(
        "../../crates/fabric/src/nft/testdata/flannel.sh"
    ));
    lab.install("iptables-nft -t nat -F POSTROUTING");
    let json = lab.assert_lost_and_diagnosed(&POD_CIDR, "not-covered");
    let evidence = findings(&json, "pod-egress-unmasqueraded")[0]["evidence"].to_string();
    assert!(
        evidence.contains("FLANNEL-POSTRTG is not reached from a nat postrouting hook"),
        "{evidence}"
    );
    // The doctor's reconnect fix is flannel's own jump back.
    let finding = findings(&json, "pod-egress-unmasqueraded")[0].clone();
    let reconnect = fix_command(
        &finding,
        "or reconnect the chain whose rule would masquerade it:",
    );
    assert_eq!(
        reconnect,
        "iptables-nft -t nat -A POSTROUTING -j FLANNEL-POSTRTG"
    );
    lab.install(&reconnect);
    // The old SYN_SENT entries: covered now, still an error, the first fix is the flush.
    let (code, json) = doctor(&lab.node, &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["egress_nat"][0]["verdict"], "covered", "{json:#}");
    let finding = findings(&json, "pod-egress-unmasqueraded")[0].clone();
    assert!(
        finding["evidence"].to_string().contains("may predate it"),
        "{finding:#}"
    );
    assert!(
        fix_command(&finding, "flush the stale entries").contains("conntrack -D -s 10.244.1.0/24"),
        "{finding:#}"
    );
    lab.flush_and_assert_clean(&[]);
}

/// A masquerade restricted to another uplink's name (`oifname "eth1"`, copied from a node whose
/// NIC has that name): pod egress leaves through veth1b un-masqueraded.
#[test]
fn fabric_doctor_masquerade_on_another_oifname() {
    if !lab_tools("fabric_doctor_masquerade_on_another_oifname") {
        return;
    }
    let lab = PodEgressLab::new("fdoi");
    lab.install_nft_file(
        "other-oifname.nft",
        include_str!("../../crates/fabric/src/nft/testdata/other-oifname.nft"),
    );
    let json = lab.assert_lost_and_diagnosed(&POD_CIDR, "not-covered");
    let evidence = findings(&json, "pod-egress-unmasqueraded")[0]["evidence"].to_string();
    assert!(
        evidence.contains("oifname == eth1") && evidence.contains("out of veth1b"),
        "{evidence}"
    );
    lab.apply_masquerade_fix_and_pass(&json, &POD_CIDR);
}
