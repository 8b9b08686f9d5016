//! The speaker's privileges exactly as the manifests give them: `manifests/speaker.yaml`'s
//! securityContext (and the Dockerfile's USER where it sets none) is turned into what a container
//! runtime does (uid, gid, bounding set, no inheritable or ambient capabilities,
//! `no_new_privs`) and the real `ferrolb` binary runs under it through setpriv(1) inside test
//! namespaces. Each privileged feature then has to work:
//!
//! - the in-speaker uplink manager (`--uplink`): default routes (CAP_NET_ADMIN), ICMP probes
//!   on raw sockets (CAP_NET_RAW);
//! - the doctor's conntrack read (ctnetlink: CAP_NET_ADMIN);
//! - BGP with TCP MD5 and GTSM, which needs no capability at all (also shown as uid 65532 with
//!   every capability dropped).
//!
//! Under the securityContext shipped before (uid 65532 with NET_ADMIN and NET_RAW added: the
//! kernel drops both at exec) each privileged feature fails with a message naming the missing
//! capability.

use std::time::Duration;

use ferrolb_e2e::announce::{temp_file, Announcer};
use ferrolb_e2e::env::{require_root_and, workspace_dir};
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::frr::{Frr, FrrConfig, FrrNeighbor};
use ferrolb_e2e::privileges::{dockerfile_user, ContainerPrivileges};
use ferrolb_e2e::{ferrolb_bin, veth, wait_until, wait_until_opt, ChildGuard, Netns, ScratchDir};
use ferrolb_fabric::caps::{parse_effective, Capability};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// The speaker container's privileges from the manifest as shipped.
fn shipped() -> ContainerPrivileges {
    let ws = workspace_dir();
    ContainerPrivileges::from_manifest(
        &ws.join("manifests/speaker.yaml"),
        "speaker",
        dockerfile_user(&ws.join("Dockerfile")),
    )
}

/// `runAsUser: 65532` with `drop: [ALL]` and `add: [NET_ADMIN, NET_RAW]`: the speaker's
/// securityContext before this test existed.
fn non_root_with_added_caps() -> ContainerPrivileges {
    security_context(
        json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "runAsUser": 65532, "runAsGroup": 65532,
        "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}}),
    )
}

/// uid 65532 with every capability dropped: what a speaker without uplinks and doctor needs.
fn unprivileged() -> ContainerPrivileges {
    security_context(
        json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "runAsUser": 65532, "runAsGroup": 65532, "capabilities": {"drop": ["ALL"]}}),
    )
}

fn security_context(container: Value) -> ContainerPrivileges {
    ContainerPrivileges::from_security_contexts(&Value::Null, &container, (65532, 65532))
        .expect("a modelled securityContext")
}

fn caps_mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << c.bit()))
}

/// A node namespace with one uplink (`veth1b`, gateway 10.255.1.1 in `gw`) and the API
/// fixture in `gw`, directly connected. Field order = drop order.
struct UplinkNode {
    api: NsApi,
    dir: ScratchDir,
    node: Netns,
    _gw: Netns,
}

impl UplinkNode {
    fn new(tag: &str) -> UplinkNode {
        let node = Netns::new(&format!("{tag}n"));
        let gw = Netns::new(&format!("{tag}g"));
        veth(&gw, &node, 1);
        let api = NsApi::start(&gw);
        api.store
            .seed(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}}))
            .expect("seed node");
        let dir = ScratchDir::new(tag);
        dir.write(
            "config.yaml",
            "address-pools:\n- name: default\n  protocol: bgp\n  addresses:\n  - 198.51.100.0/24\n",
        );
        UplinkNode {
            api,
            dir,
            node,
            _gw: gw,
        }
    }

    /// `ferrolb speaker --uplink ...` in the node under `privileges`; output in `speaker.log`.
    fn speaker(&self, privileges: &ContainerPrivileges) -> ChildGuard {
        let bin = ferrolb_bin().display().to_string();
        let mut cmd = privileges.command(&self.node, &bin);
        cmd.args([
            "speaker",
            "--server",
            &format!("http://10.255.1.1:{}", self.api.port),
            "--node-name",
            "node1",
            "--config-file",
            &self.dir.join("config.yaml").display().to_string(),
            "--metrics-addr",
            "127.0.0.1:7473",
            "--no-events",
            "--uplink",
            "name=primary,interface=veth1b,gateway=10.255.1.1,priority=100",
        ]);
        ChildGuard::spawn_logged(cmd, "ferrolb speaker", &self.dir.join("speaker.log"), false)
    }

    fn log(&self) -> String {
        self.dir.read("speaker.log")
    }

    /// The uplink manager's IPv4 default routes (protocol 241) as `dev` names.
    fn managed_routes(&self) -> Vec<String> {
        let out = self
            .node
            .run_ok(&["ip", "-4", "-j", "route", "show", "default", "proto", "241"]);
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["dev"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// GET /metrics inside the node (HTTP/1.0 through bash's /dev/tcp).
    fn metrics(&self) -> String {
        self.node.http_get(7473, "/metrics")
    }
}

/// `ferrolb doctor --json` inside `ns` under `privileges`.
fn doctor_json(ns: &Netns, privileges: &ContainerPrivileges) -> Value {
    let bin = ferrolb_bin().display().to_string();
    let out = privileges
        .command(ns, &bin)
        .args(["doctor", "--json"])
        .output()
        .expect("run ferrolb doctor");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json output is not JSON ({e}; {}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Makes the kernel track connections in `ns` (a rule that uses conntrack) and creates one
/// entry: an ICMP echo to `peer`.
fn conntrack_entry(ns: &Netns, peer: &str) {
    ns.run_ok(&["nft", "add", "table", "inet", "flbct"]);
    ns.run_ok(&[
        "nft",
        "add chain inet flbct out { type filter hook output priority 0; }",
    ]);
    ns.run_ok(&["nft", "add rule inet flbct out ct state new counter"]);
    ns.run_ok(&["ping", "-c", "1", "-W", "2", peer]);
}

#[test]
fn shipped_speaker_runs_the_uplink_manager() {
    if !require_root_and("shipped_speaker_runs_the_uplink_manager", &["setpriv"]) {
        return;
    }
    let lab = UplinkNode::new("privup");
    let mut speaker = lab.speaker(&shipped());

    let installed = wait_until_opt(Duration::from_secs(15), || {
        if speaker.try_status().is_some() {
            return Some(false);
        }
        (lab.managed_routes() == ["veth1b"]).then_some(true)
    });
    assert!(
        installed == Some(true),
        "the uplink manager installs the default route under the manifest's privileges: {:?}\n{}",
        lab.managed_routes(),
        lab.log()
    );
    // the raw-socket probes reach the gateway
    wait_until(Duration::from_secs(10), "a successful ICMP probe", || {
        let text = lab.metrics();
        text.lines()
            .find(|l| {
                l.starts_with("ferrolb_uplink_probes_total{uplink=\"primary\",result=\"ok\"}")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .filter(|n| *n > 0)
    });
    // exactly the three capabilities, nothing more
    let status = std::fs::read_to_string(format!("/proc/{}/status", speaker.pid()))
        .expect("the speaker's /proc status");
    assert_eq!(
        parse_effective(&status),
        Some(caps_mask(&[
            Capability::NetAdmin,
            Capability::NetRaw,
            Capability::SysNice
        ])),
        "{status}"
    );
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");

    speaker.signal(Signal::SIGTERM);
    let exit = speaker.wait_timeout(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "clean exit: {exit:?}\n{}",
        lab.log()
    );
    assert!(lab.managed_routes().is_empty(), "routes removed on exit");
}

#[test]
fn shipped_speaker_doctor_reads_conntrack() {
    if !require_root_and(
        "shipped_speaker_doctor_reads_conntrack",
        &["setpriv", "nft"],
    ) {
        return;
    }
    let node = Netns::new("privctn");
    let peer = Netns::new("privctp");
    let link = veth(&peer, &node, 1);
    conntrack_entry(&node, &link.a_v4.to_string());

    let report = doctor_json(&node, &shipped());
    assert_eq!(report["conntrack_source"], "ctnetlink", "{report:#}");
    let notes = report["notes"].to_string();
    assert!(
        !notes.contains("conntrack table is empty"),
        "the ICMP entry was read: {report:#}"
    );
}

#[test]
fn non_root_speaker_names_the_missing_capabilities() {
    if !require_root_and(
        "non_root_speaker_names_the_missing_capabilities",
        &["setpriv"],
    ) {
        return;
    }
    let lab = UplinkNode::new("privnr");
    let mut speaker = lab.speaker(&non_root_with_added_caps());
    let exit = speaker.wait_timeout(Duration::from_secs(15));
    assert!(
        exit.is_some_and(|s| s.code() == Some(1)),
        "the speaker stops (exit 1) when its uplink manager cannot run: {exit:?}\n{}",
        lab.log()
    );
    assert!(
        lab.log()
            .contains("the uplink manager needs CAP_NET_ADMIN, CAP_NET_RAW"),
        "{}",
        lab.log()
    );
    assert!(lab.managed_routes().is_empty());

    let report = doctor_json(&lab.node, &non_root_with_added_caps());
    let source = report["conntrack_source"].as_str().unwrap_or_default();
    assert!(
        source.starts_with("unavailable") && source.contains("needs CAP_NET_ADMIN"),
        "{report:#}"
    );
}

/// FRR requires TCP MD5 and GTSM (`ttl-security hops 1`); `ferrolb announce` with the password
/// and `--ttl-security` establishes and delivers its route, first as uid 65532 without any
/// capability, then under the shipped manifest's privileges.
#[test]
fn bgp_md5_and_gtsm_need_no_capability() {
    if !require_root_and(
        "bgp_md5_and_gtsm_need_no_capability",
        &["setpriv", "vtysh", "/usr/lib/frr/bgpd"],
    ) {
        return;
    }
    let router = Netns::new("privbgpr");
    let node = Netns::new("privbgpn");
    let link = veth(&router, &node, 0);
    let mut neighbor = FrrNeighbor::new(link.b_v4.into(), 65001);
    neighbor.password = Some("s3cret-md5".into());
    neighbor.ttl_security_hops = Some(1);
    let frr = Frr::start(
        &router,
        &FrrConfig::new(65000, link.a_v4).neighbor(neighbor),
    );
    let (_pw_dir, pw) = temp_file("privpw", "password", "s3cret-md5\n");

    for (who, privileges, prefix) in [
        (
            "uid 65532, no capability",
            unprivileged(),
            "198.51.100.6/32",
        ),
        ("the shipped manifest", shipped(), "198.51.100.7/32"),
    ] {
        let args: Vec<String> = [
            "--local-as",
            "65001",
            "--peer",
            &link.a_v4.to_string(),
            "--peer-as",
            "65000",
            "--password-file",
            &pw.display().to_string(),
            "--ttl-security",
            prefix,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut ann = Announcer::start_as(&node, Some(&privileges), &args);
        let up = wait_until_opt(Duration::from_secs(15), || {
            ann.assert_running();
            frr.route("ipv4", prefix).map(|_| ())
        });
        assert!(
            up.is_some(),
            "{who}: MD5 + GTSM session and route {prefix}: FRR says {:?}\n{}",
            frr.neighbor_state(link.b_v4.into()),
            ann.log()
        );
        ann.signal(Signal::SIGTERM);
        assert!(
            ann.wait_exit(Duration::from_secs(10)).is_some(),
            "{who}: exit"
        );
    }
}
