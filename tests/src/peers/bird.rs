//! BIRD 2 in a namespace, driven through `birdc -s SOCKET`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::netns::Netns;
use crate::process::{read_pid_file, stop_pids};
use crate::scratch::ScratchDir;
use crate::wait::wait_until;

/// One `protocol bgp` of BIRD.
#[derive(Clone, Debug)]
pub struct BirdNeighbor {
    /// Protocol name (used with `show protocols all NAME`).
    pub name: String,
    /// Local address (`local ADDR as ASN`).
    pub local_address: Option<IpAddr>,
    /// Neighbor address.
    pub address: IpAddr,
    /// Its AS.
    pub remote_as: u32,
    /// TCP MD5 password.
    pub password: Option<String>,
    /// `passive on`.
    pub passive: bool,
    /// Open an ipv4 channel.
    pub ipv4: bool,
    /// Open an ipv6 channel.
    pub ipv6: bool,
    /// Export the static routes to this neighbor (else `export none`).
    pub export_all: bool,
    /// `hold time`.
    pub hold_time: Option<u16>,
    /// Start `disabled` (enable with `birdc enable NAME`).
    pub disabled: bool,
    /// `bfd on` or `bfd graceful` (needs [`BirdConfig::bfd`]).
    pub bfd: Option<&'static str>,
}

impl BirdNeighbor {
    /// A neighbor named `name` with both channels importing all and exporting nothing.
    pub fn new(name: &str, address: IpAddr, remote_as: u32) -> BirdNeighbor {
        BirdNeighbor {
            name: name.to_string(),
            local_address: None,
            address,
            remote_as,
            password: None,
            passive: false,
            ipv4: true,
            ipv6: true,
            export_all: false,
            hold_time: None,
            disabled: false,
            bfd: None,
        }
    }
}

/// BIRD configuration.
#[derive(Clone, Debug)]
pub struct BirdConfig {
    /// Router id.
    pub router_id: Ipv4Addr,
    /// Local AS.
    pub asn: u32,
    /// BGP protocols.
    pub neighbors: Vec<BirdNeighbor>,
    /// IPv4 prefixes of a `protocol static` (blackhole routes), exported where `export_all`.
    pub static_v4: Vec<String>,
    /// Start the static protocol disabled.
    pub static_disabled: bool,
    /// A `protocol kernel` exporting every IPv4 route to the namespace's main table.
    pub kernel_export_v4: bool,
    /// `merge paths on` in the kernel protocol: equal BGP paths become one ECMP route.
    pub kernel_merge_paths: bool,
    /// A `protocol bfd` on every interface: (interval in ms, multiplier); it and the bgp
    /// protocols with `bfd` log their state changes and events.
    pub bfd: Option<(u32, u32)>,
}

impl BirdConfig {
    /// An empty config for `asn` / `router_id`.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> BirdConfig {
        BirdConfig {
            router_id,
            asn,
            neighbors: Vec::new(),
            static_v4: Vec::new(),
            static_disabled: false,
            kernel_export_v4: false,
            kernel_merge_paths: false,
            bfd: None,
        }
    }

    /// Renders bird.conf; the static routes go to `routes_file` (included).
    pub fn render(&self, log: &str, routes_file: &str) -> String {
        let mut c = String::new();
        let _ = writeln!(c, "log \"{log}\" all;");
        let _ = writeln!(c, "router id {};", self.router_id);
        c.push_str("protocol device { scan time 10; }\n");
        if self.kernel_export_v4 {
            let merge = if self.kernel_merge_paths {
                " merge paths on;"
            } else {
                ""
            };
            let _ = writeln!(c, "protocol kernel {{ ipv4 {{ export all; }};{merge} }}");
        }
        if let Some((ms, mult)) = self.bfd {
            let _ = writeln!(
                c,
                "protocol bfd {{ debug {{ states, events }}; \
                 interface \"*\" {{ interval {ms} ms; multiplier {mult}; }}; }}"
            );
        }
        if !self.static_v4.is_empty() {
            c.push_str("protocol static s_static {\n");
            if self.static_disabled {
                c.push_str("  disabled;\n");
            }
            let _ = writeln!(c, "  ipv4;\n  include \"{routes_file}\";\n}}");
        }
        for n in &self.neighbors {
            let _ = writeln!(c, "protocol bgp {} {{", n.name);
            if n.disabled {
                c.push_str("  disabled;\n");
            }
            match n.local_address {
                Some(a) => {
                    let _ = writeln!(c, "  local {a} as {};", self.asn);
                }
                None => {
                    let _ = writeln!(c, "  local as {};", self.asn);
                }
            }
            let _ = writeln!(c, "  neighbor {} as {};", n.address, n.remote_as);
            c.push_str("  connect retry time 1;\n  error wait time 1, 5;\n");
            if let Some(p) = &n.password {
                let _ = writeln!(c, "  password \"{p}\";");
            }
            if n.passive {
                c.push_str("  passive on;\n");
            }
            if let Some(h) = n.hold_time {
                let _ = writeln!(c, "  hold time {h};");
            }
            if let Some(b) = n.bfd {
                let _ = writeln!(c, "  bfd {b};\n  debug {{ states, events }};");
            }
            let export = if n.export_all { "all" } else { "none" };
            if n.ipv4 {
                let _ = writeln!(c, "  ipv4 {{ import all; export {export}; }};");
            }
            if n.ipv6 {
                let _ = writeln!(c, "  ipv6 {{ import all; export {export}; }};");
            }
            c.push_str("}\n");
        }
        c
    }
}

/// A running BIRD, stopped by PID on drop.
#[derive(Debug)]
pub struct Bird {
    dir: ScratchDir,
    pid: Option<i32>,
}

impl Bird {
    /// Writes the config and starts `bird` inside `ns`; returns once birdc answers.
    pub fn start(ns: &Netns, cfg: &BirdConfig) -> Bird {
        let dir = ScratchDir::new("bird");
        let routes: String = cfg
            .static_v4
            .iter()
            .map(|p| format!("  route {p} blackhole;\n"))
            .collect();
        let routes_file = dir.write("routes.conf", &routes);
        let log = dir.join("bird.log");
        let conf = cfg.render(
            &log.display().to_string(),
            &routes_file.display().to_string(),
        );
        let conf = dir.write("bird.conf", &conf);
        let sock = dir.join("bird.ctl");
        let pidfile = dir.join("bird.pid");
        let o = ns
            .command("bird")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .arg(&sock)
            .arg("-P")
            .arg(&pidfile)
            .stdin(Stdio::null())
            .output();
        match o {
            Ok(o) if o.status.success() => {}
            Ok(o) => panic!(
                "bird failed to start ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run bird: {e}"),
        }
        let pid = wait_until(Duration::from_secs(30), "bird pid file", || {
            read_pid_file(&pidfile)
        });
        let bird = Bird {
            dir,
            pid: Some(pid),
        };
        wait_until(Duration::from_secs(30), "birdc answering", || {
            bird.try_birdc(&["show status"]).ok()
        });
        bird
    }

    /// The scratch dir.
    pub fn dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The daemon's PID.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// Runs `birdc -s SOCK args...`; Err(output) on failure.
    pub fn try_birdc(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new("birdc")
            .arg("-s")
            .arg(self.dir.join("bird.ctl"))
            .args(args)
            .stdin(Stdio::null())
            .output();
        match o {
            Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
            Ok(o) => Err(format!(
                "birdc {args:?} failed ({}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(e) => Err(format!("cannot run birdc: {e}")),
        }
    }

    /// Runs birdc; panics on failure.
    pub fn birdc(&self, args: &[&str]) -> String {
        self.try_birdc(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The BGP state of protocol `name` from `show protocols NAME` (e.g. "Established",
    /// "Active", "Connect"); empty when unknown.
    pub fn protocol_state(&self, name: &str) -> String {
        let out = self
            .try_birdc(&["show", "protocols", name])
            .unwrap_or_default();
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_default()
            .to_string()
    }

    /// Whether `show bfd sessions` has the session to `peer` Up.
    pub fn bfd_up(&self, peer: IpAddr) -> bool {
        let out = self
            .try_birdc(&["show", "bfd", "sessions"])
            .unwrap_or_default();
        let peer = peer.to_string();
        out.lines().any(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some(peer.as_str()) && words.nth(1) == Some("Up")
        })
    }

    /// Stops BIRD by PID (bounded). Idempotent.
    pub fn stop(&mut self) {
        if let Some(p) = self.pid.take() {
            stop_pids(&[p], Duration::from_secs(5));
        }
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        self.stop();
    }
}
