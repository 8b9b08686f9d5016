//! GoBGP 3 (`gobgpd`) in a namespace; its gRPC API on a unix socket (never TCP :50051),
//! driven through `gobgp --target unix://SOCK`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::netns::Netns;
use crate::process::ChildGuard;
use crate::scratch::ScratchDir;
use crate::wait::wait_until;

/// One `[[neighbors]]` of gobgpd.
#[derive(Clone, Debug)]
pub struct GoBgpNeighbor {
    /// Neighbor address.
    pub address: IpAddr,
    /// Its AS.
    pub remote_as: u32,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// Only accept connections (`passive-mode`).
    pub passive: bool,
    /// Start administratively down (`gobgp neighbor ADDR enable` brings it up).
    pub admin_down: bool,
    /// Negotiate IPv4 unicast.
    pub ipv4: bool,
    /// Negotiate IPv6 unicast.
    pub ipv6: bool,
    /// Local address for the session.
    pub local_address: Option<IpAddr>,
}

impl GoBgpNeighbor {
    /// A neighbor with both families, active, no password.
    pub fn new(address: IpAddr, remote_as: u32) -> GoBgpNeighbor {
        GoBgpNeighbor {
            address,
            remote_as,
            password: None,
            passive: false,
            admin_down: false,
            ipv4: true,
            ipv6: true,
            local_address: None,
        }
    }
}

/// gobgpd configuration.
#[derive(Clone, Debug)]
pub struct GoBgpConfig {
    /// Local AS.
    pub asn: u32,
    /// Router id.
    pub router_id: Ipv4Addr,
    /// Listen port (179; -1 = do not listen).
    pub port: i32,
    /// Neighbors.
    pub neighbors: Vec<GoBgpNeighbor>,
}

impl GoBgpConfig {
    /// AS `asn`, listening on 179.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> GoBgpConfig {
        GoBgpConfig {
            asn,
            router_id,
            port: 179,
            neighbors: Vec::new(),
        }
    }

    /// Renders gobgpd.toml.
    pub fn render(&self) -> String {
        let mut c = String::new();
        let _ = writeln!(
            c,
            "[global.config]\n  as = {}\n  router-id = \"{}\"\n  port = {}",
            self.asn, self.router_id, self.port
        );
        for n in &self.neighbors {
            let _ = writeln!(c, "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}", n.address, n.remote_as);
            if let Some(p) = &n.password {
                let _ = writeln!(c, "    auth-password = \"{p}\"");
            }
            if n.admin_down {
                c.push_str("    admin-down = true\n");
            }
            c.push_str("  [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 90\n    keepalive-interval = 30\n");
            c.push_str("  [neighbors.transport.config]\n");
            if n.passive {
                c.push_str("    passive-mode = true\n");
            }
            if let Some(a) = n.local_address {
                let _ = writeln!(c, "    local-address = \"{a}\"");
            }
            for (on, name) in [(n.ipv4, "ipv4-unicast"), (n.ipv6, "ipv6-unicast")] {
                if on {
                    let _ = writeln!(c, "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{name}\"");
                }
            }
        }
        c
    }
}

/// A running gobgpd, stopped by PID on drop.
#[derive(Debug)]
pub struct GoBgp {
    // field order: the process is stopped before the scratch dir is removed
    child: ChildGuard,
    dir: ScratchDir,
}

impl GoBgp {
    /// Starts gobgpd inside `ns`; returns once its API answers.
    pub fn start(ns: &Netns, cfg: &GoBgpConfig) -> GoBgp {
        let dir = ScratchDir::new("gobgp");
        let conf = dir.write("gobgpd.toml", &cfg.render());
        let sock = dir.join("gobgpd.sock");
        let mut cmd = ns.command("gobgpd");
        cmd.arg("-f")
            .arg(&conf)
            .args(["-p", "-l", "info", "--pprof-disable", "--api-hosts"]);
        cmd.arg(format!("unix://{}", sock.display()));
        let child = ChildGuard::spawn_logged(cmd, "gobgpd", &dir.join("gobgpd.log"), false);
        let g = GoBgp { child, dir };
        wait_until(Duration::from_secs(10), "gobgpd API socket", || {
            sock.exists().then_some(())
        });
        wait_until(Duration::from_secs(10), "gobgp CLI answering", || {
            g.try_gobgp(&["global"]).ok()
        });
        g
    }

    /// The scratch dir.
    pub fn dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// gobgpd's PID.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Runs `gobgp --target unix://SOCK args...`; Err(output) on failure.
    pub fn try_gobgp(&self, args: &[&str]) -> Result<String, String> {
        let target = format!("unix://{}", self.dir.join("gobgpd.sock").display());
        let o = Command::new("gobgp")
            .args(["--target", &target])
            .args(args)
            .stdin(Stdio::null())
            .output();
        match o {
            Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
            Ok(o) => Err(format!(
                "gobgp {args:?} failed ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => Err(format!("cannot run gobgp: {e}")),
        }
    }

    /// Runs gobgp; panics on failure.
    pub fn gobgp(&self, args: &[&str]) -> String {
        self.try_gobgp(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `gobgp neighbor ADDR -j`, parsed.
    pub fn neighbor(&self, addr: IpAddr) -> Option<Value> {
        let out = self
            .try_gobgp(&["neighbor", &addr.to_string(), "-j"])
            .ok()?;
        serde_json::from_str(&out).ok()
    }

    /// The neighbor's session state as gobgp prints it (e.g. "established"); empty if unknown.
    pub fn neighbor_state(&self, addr: IpAddr) -> String {
        let Some(v) = self.neighbor(addr) else {
            return String::new();
        };
        let s = &v["state"]["session_state"];
        match s {
            Value::String(s) => s.to_ascii_lowercase(),
            // the numeric enum: 6 = established
            Value::Number(n) if n.as_u64() == Some(6) => "established".into(),
            other => other.to_string(),
        }
    }

    /// True when the neighbor is established.
    pub fn established(&self, addr: IpAddr) -> bool {
        self.neighbor_state(addr) == "established"
    }

    /// `gobgp neighbor ADDR adj-in -a AFI -j` (AFI "ipv4"/"ipv6"): an object keyed by prefix.
    pub fn adj_in(&self, addr: IpAddr, afi: &str) -> Value {
        match self.try_gobgp(&["neighbor", &addr.to_string(), "adj-in", "-a", afi, "-j"]) {
            Ok(out) if out.trim().is_empty() => Value::Null,
            Ok(out) => serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("gobgp adj-in: bad JSON ({e}): {out}")),
            Err(_) => Value::Null,
        }
    }

    /// Stops gobgpd (bounded).
    pub fn stop(&mut self) {
        self.child.stop(crate::process::TERM_GRACE);
    }
}
