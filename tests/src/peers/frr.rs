//! FRR 8.4 (zebra + bgpd, optionally bfdd) in a namespace, driven through `vtysh --vty_socket`.
//!
//! The daemons run as `-u frr -g frr` (8.4 refuses `-u root`) with `-P 0` (no TCP vty), their
//! sockets, config and pid files in a scratch dir owned by frr. Config defaults for tests:
//! `coalesce-time 50`, `no bgp ebgp-requires-policy`, `timers connect 1`,
//! `advertisement-interval 0`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::netns::Netns;
use crate::process::{read_pid_file, stop_pids};
use crate::scratch::ScratchDir;
use crate::wait::wait_until;

const FRR_LIB: &str = "/usr/lib/frr";

/// One `neighbor` of FRR's `router bgp`.
#[derive(Clone, Debug)]
pub struct FrrNeighbor {
    /// Neighbor address.
    pub address: IpAddr,
    /// Its AS (equal to the local AS for iBGP).
    pub remote_as: u32,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// `ttl-security hops N` (GTSM).
    pub ttl_security_hops: Option<u8>,
    /// `ebgp-multihop N`.
    pub ebgp_multihop: Option<u8>,
    /// `timers KEEPALIVE HOLD`.
    pub timers: Option<(u16, u16)>,
    /// `bfd`.
    pub bfd: bool,
    /// `passive`: FRR only accepts connections from this neighbor.
    pub passive: bool,
    /// Start with `shutdown` (bring up later with [`Frr::neighbor_shutdown`]).
    pub shutdown: bool,
    /// Activate IPv4 unicast (default: when the address is IPv4).
    pub ipv4: bool,
    /// Activate IPv6 unicast (default: when the address is IPv6).
    pub ipv6: bool,
    /// Extra `neighbor ADDR ...` lines (without the `neighbor ADDR` prefix).
    pub extra: Vec<String>,
}

impl FrrNeighbor {
    /// A neighbor with test defaults; the family of its address is activated.
    pub fn new(address: IpAddr, remote_as: u32) -> FrrNeighbor {
        FrrNeighbor {
            address,
            remote_as,
            password: None,
            ttl_security_hops: None,
            ebgp_multihop: None,
            timers: None,
            bfd: false,
            passive: false,
            shutdown: false,
            ipv4: address.is_ipv4(),
            ipv6: address.is_ipv6(),
            extra: Vec::new(),
        }
    }
}

/// FRR configuration.
#[derive(Clone, Debug)]
pub struct FrrConfig {
    /// Local AS.
    pub asn: u32,
    /// BGP router id.
    pub router_id: Ipv4Addr,
    /// Neighbors.
    pub neighbors: Vec<FrrNeighbor>,
    /// `maximum-paths N` (eBGP) and `maximum-paths ibgp N` in both families.
    pub maximum_paths: Option<u32>,
    /// Run zebra (routes reach the namespace's FIB). Default true.
    pub zebra: bool,
    /// Run bfdd too.
    pub bfdd: bool,
    /// `coalesce-time` in ms (default 50; FRR's own default is 1000).
    pub coalesce_ms: u32,
    /// Extra lines under `router bgp`.
    pub extra_router_lines: Vec<String>,
}

impl FrrConfig {
    /// AS `asn`, router id `router_id`, no neighbors, zebra on, coalesce-time 50.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> FrrConfig {
        FrrConfig {
            asn,
            router_id,
            neighbors: Vec::new(),
            maximum_paths: None,
            zebra: true,
            bfdd: false,
            coalesce_ms: 50,
            extra_router_lines: Vec::new(),
        }
    }

    /// Adds a neighbor (builder style).
    pub fn neighbor(mut self, n: FrrNeighbor) -> FrrConfig {
        self.neighbors.push(n);
        self
    }

    /// The bgpd.conf text.
    pub fn render(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "frr defaults traditional\nhostname flb-frr\n!");
        let _ = writeln!(c, "router bgp {}", self.asn);
        let _ = writeln!(c, " bgp router-id {}", self.router_id);
        c.push_str(" no bgp ebgp-requires-policy\n no bgp network import-check\n");
        c.push_str(" no bgp default ipv4-unicast\n");
        let _ = writeln!(c, " coalesce-time {}", self.coalesce_ms);
        for line in &self.extra_router_lines {
            let _ = writeln!(c, " {line}");
        }
        for n in &self.neighbors {
            let a = n.address;
            let _ = writeln!(c, " neighbor {a} remote-as {}", n.remote_as);
            let _ = writeln!(c, " neighbor {a} timers connect 1");
            let _ = writeln!(c, " neighbor {a} advertisement-interval 0");
            if let Some(p) = &n.password {
                let _ = writeln!(c, " neighbor {a} password {p}");
            }
            if let Some(h) = n.ttl_security_hops {
                let _ = writeln!(c, " neighbor {a} ttl-security hops {h}");
            }
            if let Some(h) = n.ebgp_multihop {
                let _ = writeln!(c, " neighbor {a} ebgp-multihop {h}");
            }
            if let Some((k, h)) = n.timers {
                let _ = writeln!(c, " neighbor {a} timers {k} {h}");
            }
            if n.bfd {
                let _ = writeln!(c, " neighbor {a} bfd");
            }
            if n.passive {
                let _ = writeln!(c, " neighbor {a} passive");
            }
            if n.shutdown {
                let _ = writeln!(c, " neighbor {a} shutdown");
            }
            for e in &n.extra {
                let _ = writeln!(c, " neighbor {a} {e}");
            }
        }
        for (af, v6) in [("ipv4", false), ("ipv6", true)] {
            let members: Vec<&FrrNeighbor> = self
                .neighbors
                .iter()
                .filter(|n| if v6 { n.ipv6 } else { n.ipv4 })
                .collect();
            if members.is_empty() && self.maximum_paths.is_none() {
                continue;
            }
            let _ = writeln!(c, " address-family {af} unicast");
            if let Some(m) = self.maximum_paths {
                let _ = writeln!(c, "  maximum-paths {m}\n  maximum-paths ibgp {m}");
            }
            for n in members {
                let _ = writeln!(c, "  neighbor {} activate", n.address);
            }
            c.push_str(" exit-address-family\n");
        }
        c.push_str("exit\n!\n");
        c
    }
}

/// Running FRR daemons in a namespace. Stopped by PID on drop.
#[derive(Debug)]
pub struct Frr {
    ns: String,
    asn: u32,
    dir: ScratchDir,
    daemons: Vec<&'static str>,
}

impl Frr {
    /// Writes the config and starts zebra (unless disabled), bgpd (and bfdd) inside `ns`;
    /// returns once bgpd answers on its vty socket. Panics on failure.
    pub fn start(ns: &Netns, cfg: &FrrConfig) -> Frr {
        let dir = ScratchDir::new("frr");
        dir.write("bgpd.conf", &cfg.render());
        dir.write("zebra.conf", "hostname flb-frr\n");
        dir.write("bfdd.conf", "hostname flb-frr\n");
        let d = dir.path().display().to_string();
        let status = Command::new("chown").args(["-R", "frr:frr", &d]).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "chown frr:frr {d} failed"
        );
        let mut daemons = Vec::new();
        if cfg.zebra || cfg.bfdd {
            daemons.push("zebra");
        }
        daemons.push("bgpd");
        if cfg.bfdd {
            daemons.push("bfdd");
        }
        let mut frr = Frr {
            ns: ns.name().to_string(),
            asn: cfg.asn,
            dir,
            daemons: Vec::new(),
        };
        for daemon in daemons {
            let mut args: Vec<String> = ["-d", "-u", "frr", "-g", "frr", "-P", "0"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            args.extend([
                "--vty_socket".into(),
                d.clone(),
                "-z".into(),
                format!("{d}/zserv.api"),
                "-f".into(),
                format!("{d}/{daemon}.conf"),
                "-i".into(),
                format!("{d}/{daemon}.pid"),
                "--log".into(),
                format!("file:{d}/{daemon}.log"),
            ]);
            if daemon == "bgpd" && !(cfg.zebra || cfg.bfdd) {
                args.push("-Z".into());
            }
            if daemon == "bfdd" {
                args.extend(["--bfdctl".into(), format!("{d}/bfdd.sock")]);
            }
            let out = ns
                .command(&format!("{FRR_LIB}/{daemon}"))
                .args(&args)
                .stdin(Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => {}
                Ok(o) => panic!(
                    "FRR {daemon} failed to start in {} ({}): {}{}\nlog: {}",
                    ns.name(),
                    o.status,
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr),
                    frr.dir.read(&format!("{daemon}.log"))
                ),
                Err(e) => panic!("cannot run FRR {daemon}: {e}"),
            }
            frr.daemons.push(daemon);
            let pidfile = frr.dir.join(&format!("{daemon}.pid"));
            wait_until(
                Duration::from_secs(10),
                &format!("FRR {daemon} pid file"),
                || read_pid_file(&pidfile),
            );
        }
        let sock = frr.dir.join("bgpd.vty");
        wait_until(Duration::from_secs(10), "FRR bgpd vty socket", || {
            sock.exists().then_some(())
        });
        wait_until(
            Duration::from_secs(10),
            "FRR bgpd answering `show bgp summary`",
            || frr.try_vtysh(&["show bgp summary"]).ok(),
        );
        frr
    }

    /// The scratch dir (configs, logs, pid files, sockets).
    pub fn dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The local AS.
    pub fn asn(&self) -> u32 {
        self.asn
    }

    /// PID of one daemon ("bgpd", "zebra", "bfdd").
    pub fn pid(&self, daemon: &str) -> Option<i32> {
        read_pid_file(&self.dir.join(&format!("{daemon}.pid")))
    }

    /// Runs vtysh with each of `cmds` as a `-c`; Err(output) when vtysh fails.
    pub fn try_vtysh(&self, cmds: &[&str]) -> Result<String, String> {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, "vtysh", "--vty_socket"])
            .arg(self.dir.path());
        for cmd in cmds {
            c.args(["-c", cmd]);
        }
        match c.stdin(Stdio::null()).output() {
            Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
            Ok(o) => Err(format!(
                "vtysh {cmds:?} failed ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => Err(format!("cannot run vtysh: {e}")),
        }
    }

    /// Runs vtysh; panics when it fails. Returns its output.
    pub fn vtysh(&self, cmds: &[&str]) -> String {
        self.try_vtysh(cmds).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs one `show ... json` command and parses the output. Panics on failure.
    pub fn vtysh_json(&self, cmd: &str) -> Value {
        let out = self.vtysh(&[cmd]);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("vtysh `{cmd}`: bad JSON ({e}): {out}"))
    }

    /// Runs configuration lines under `configure terminal` / `router bgp ASN`.
    pub fn configure_bgp(&self, lines: &[&str]) -> String {
        let head = format!("router bgp {}", self.asn);
        let mut cmds = vec!["configure terminal", head.as_str()];
        cmds.extend_from_slice(lines);
        self.vtysh(&cmds)
    }

    /// Sets or clears `neighbor ADDR shutdown`.
    pub fn neighbor_shutdown(&self, addr: IpAddr, shutdown: bool) {
        let line = format!(
            "{}neighbor {addr} shutdown",
            if shutdown { "" } else { "no " }
        );
        self.configure_bgp(&[&line]);
    }

    /// `show bgp neighbors ADDR json` for one neighbor (the object under its address).
    pub fn neighbor(&self, addr: IpAddr) -> Option<Value> {
        let v = self.vtysh_json(&format!("show bgp neighbors {addr} json"));
        v.get(addr.to_string()).cloned()
    }

    /// The neighbor's `bgpState` (e.g. "Established", "Active", "Connect").
    pub fn neighbor_state(&self, addr: IpAddr) -> String {
        self.neighbor(addr)
            .and_then(|n| {
                n.get("bgpState")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    /// True when the neighbor is Established.
    pub fn established(&self, addr: IpAddr) -> bool {
        self.neighbor_state(addr) == "Established"
    }

    /// Waits until the neighbor is Established; panics with FRR's view of it on timeout.
    pub fn wait_established(&self, addr: IpAddr, timeout: Duration) {
        if crate::wait::wait_until_opt(timeout, || self.established(addr).then_some(())).is_none() {
            panic!(
                "FRR neighbor {addr} not Established within {timeout:?}; state {:?}; bgpd log:\n{}",
                self.neighbor_state(addr),
                self.dir.read("bgpd.log")
            );
        }
    }

    /// `pfxRcd` of the neighbor in `show bgp <afi> unicast summary json` (`afi` "ipv4"/"ipv6").
    pub fn pfx_rcd(&self, afi: &str, addr: IpAddr) -> Option<u64> {
        let v = self
            .try_vtysh(&[&format!("show bgp {afi} unicast summary json")])
            .ok()?;
        let v: Value = serde_json::from_str(&v).ok()?;
        v.get("peers")?
            .get(addr.to_string())?
            .get("pfxRcd")?
            .as_u64()
    }

    /// `show bgp <afi> unicast <prefix> json`, when the prefix has at least one path.
    pub fn route(&self, afi: &str, prefix: &str) -> Option<Value> {
        let v = self.vtysh_json(&format!("show bgp {afi} unicast {prefix} json"));
        let has_paths = v
            .get("paths")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
        has_paths.then_some(v)
    }

    /// Next hops of the paths FRR has for an IPv4 `prefix` (sorted); empty without a path.
    pub fn next_hops(&self, prefix: &str) -> Vec<String> {
        let Some(route) = self.route("ipv4", prefix) else {
            return Vec::new();
        };
        let mut hops: Vec<String> = route["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["nexthops"][0]["ip"].as_str().map(str::to_string))
            .collect();
        hops.sort();
        hops
    }

    /// bgpd's log lines of NOTIFICATIONs received from `addr` (`bgp log-neighbor-changes`
    /// must be configured), e.g. `... received from neighbor 10.255.1.2 6/6 (Cease/Other
    /// Configuration Change) 0 bytes`. FRR clears the neighbor JSON's last-notification fields
    /// when the next session comes up, so the log is the lasting record of a reset.
    pub fn notifications_logged(&self, addr: IpAddr) -> Vec<String> {
        let needle = format!("received from neighbor {addr} ");
        self.dir
            .read("bgpd.log")
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_string)
            .collect()
    }

    /// Prefixes in `show bgp <afi> unicast json` (the keys of `routes`).
    pub fn prefixes(&self, afi: &str) -> Vec<String> {
        let v = self.vtysh_json(&format!("show bgp {afi} unicast json"));
        v.get("routes")
            .and_then(Value::as_object)
            .map(|r| r.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops the daemons by PID (TERM to all, bounded wait, KILL). Idempotent.
    pub fn stop(&mut self) {
        let pids: Vec<i32> = self.daemons.iter().filter_map(|d| self.pid(d)).collect();
        stop_pids(&pids, Duration::from_secs(5));
        self.daemons.clear();
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        self.stop();
    }
}
