//! ExaBGP 4 in a namespace as a receiver: an API process appends every JSON message ExaBGP
//! emits (parsed updates, neighbor state changes) to `received.jsonl`.
//!
//! ExaBGP runs as root (`exabgp.daemon.user=root`) with Debian's /usr/bin/python3; it listens
//! on `local_address` (`exabgp.tcp.bind`) and, when `passive`, does not connect out.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::Value;

use crate::netns::Netns;
use crate::process::ChildGuard;
use crate::scratch::ScratchDir;

/// The API process: copies ExaBGP's JSON lines from stdin to a file, flushing each line.
const RECEIVER_PY: &str = r#"import sys
out = open(sys.argv[1], "a", buffering=1)
for line in sys.stdin:
    out.write(line)
"#;

/// ExaBGP configuration (one neighbor).
#[derive(Clone, Debug)]
pub struct ExaBgpConfig {
    /// Router id.
    pub router_id: Ipv4Addr,
    /// Local address (also the listen address).
    pub local_address: IpAddr,
    /// Local AS.
    pub local_as: u32,
    /// Neighbor address.
    pub peer: IpAddr,
    /// Neighbor AS.
    pub peer_as: u32,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// Only listen (`passive true`).
    pub passive: bool,
    /// Hold time.
    pub hold_time: u16,
}

impl ExaBgpConfig {
    /// Renders exabgp.conf; the receiver process is `python receiver_py out`.
    pub fn render(&self, receiver_py: &str, out: &str) -> String {
        let mut c = String::new();
        let _ = writeln!(
            c,
            "process receiver {{\n  run /usr/bin/python3 {receiver_py} {out};\n  encoder json;\n}}"
        );
        let _ = writeln!(c, "neighbor {} {{", self.peer);
        let _ = writeln!(
            c,
            "  router-id {};\n  local-address {};",
            self.router_id, self.local_address
        );
        let _ = writeln!(
            c,
            "  local-as {};\n  peer-as {};\n  hold-time {};",
            self.local_as, self.peer_as, self.hold_time
        );
        if self.passive {
            c.push_str("  passive true;\n");
        }
        if let Some(p) = &self.password {
            let _ = writeln!(c, "  md5-password {p};");
        }
        c.push_str("  family { ipv4 unicast; ipv6 unicast; }\n");
        c.push_str(
            "  api { processes [ receiver ]; neighbor-changes; receive { parsed; update; } }\n}\n",
        );
        c
    }
}

/// A running ExaBGP, stopped by PID on drop.
#[derive(Debug)]
pub struct ExaBgp {
    child: ChildGuard,
    dir: ScratchDir,
}

impl ExaBgp {
    /// Starts exabgp inside `ns`.
    pub fn start(ns: &Netns, cfg: &ExaBgpConfig) -> ExaBgp {
        let dir = ScratchDir::new("exabgp");
        let py = dir.write("receiver.py", RECEIVER_PY);
        let out = dir.join("received.jsonl");
        let conf = dir.write(
            "exabgp.conf",
            &cfg.render(&py.display().to_string(), &out.display().to_string()),
        );
        let mut cmd = ns.command("exabgp");
        cmd.arg(&conf);
        cmd.env("exabgp.daemon.user", "root")
            .env("exabgp.daemon.drop", "false")
            .env("exabgp.daemon.daemonize", "false")
            .env("exabgp.api.cli", "false")
            .env("exabgp.api.ack", "false")
            .env("exabgp.log.destination", "stdout")
            .env("exabgp.log.level", "INFO")
            .env("exabgp.tcp.bind", cfg.local_address.to_string())
            .env("exabgp.tcp.port", "179");
        let child = ChildGuard::spawn_logged(cmd, "exabgp", &dir.join("exabgp.log"), false);
        ExaBgp { child, dir }
    }

    /// The scratch dir (exabgp.log, received.jsonl).
    pub fn dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// ExaBGP's PID.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Every JSON message received so far (unparsable lines skipped).
    pub fn messages(&self) -> Vec<Value> {
        self.dir
            .read("received.jsonl")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// True once ExaBGP reported the neighbor `up` (and not `down` after it).
    pub fn session_up(&self) -> bool {
        let states: Vec<String> = self
            .messages()
            .iter()
            .filter(|m| m["type"] == "state")
            .filter_map(|m| m["neighbor"]["state"].as_str().map(str::to_string))
            .collect();
        states.last().is_some_and(|s| s == "up")
    }

    /// Announced routes: (family e.g. "ipv4 unicast", prefix, next hop, the update's attribute
    /// object) for every NLRI in every received `announce`.
    pub fn announced(&self) -> Vec<(String, String, String, Value)> {
        let mut out = Vec::new();
        for m in self.messages() {
            let update = &m["neighbor"]["message"]["update"];
            let Some(families) = update["announce"].as_object() else {
                continue;
            };
            for (family, by_nh) in families {
                let Some(by_nh) = by_nh.as_object() else {
                    continue;
                };
                for (nh, nlris) in by_nh {
                    for nlri in nlris.as_array().into_iter().flatten() {
                        let prefix = nlri["nlri"].as_str().or(nlri.as_str()).unwrap_or_default();
                        out.push((
                            family.clone(),
                            prefix.to_string(),
                            nh.clone(),
                            update["attribute"].clone(),
                        ));
                    }
                }
            }
        }
        out
    }

    /// Stops exabgp (bounded).
    pub fn stop(&mut self) {
        self.child.stop(Duration::from_secs(5));
    }
}
