//! Failure-detection measurements against FRR 8.4 with bfdd: a node fails (frozen, or its link
//! cut), and the time until its route leaves the router namespace's kernel table is taken,
//! round after round. Shared by the `ferrolb announce --bfd` and the `ferrolb speaker` tables,
//! which put FRR on the node beside them ([`start_node_frr`]) with the same profile.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::peers::{Frr, FrrConfig, FrrNeighbor};
use crate::route_sampler::FirstAbsence;
use crate::Netns;

/// How long a round waits for the route to leave.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// How the node fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// SIGSTOP to the node's speaker processes.
    Freeze,
    /// nftables on the node drops every packet in and out.
    LinkCut,
}

impl Failure {
    /// The row label of the tables.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Freeze => "speaker frozen (SIGSTOP)",
            Failure::LinkCut => "node link cut (nft drop all)",
        }
    }

    /// Fails the node: stops `pids`, or drops all of `node`'s packets.
    pub fn start(self, node: &Netns, pids: &[i32]) {
        match self {
            Failure::Freeze => signal_pids(pids, Signal::SIGSTOP),
            Failure::LinkCut => {
                node.run_ok(&[
                    "nft",
                    "add table inet flbcut\n\
                     add chain inet flbcut i { type filter hook input priority -10; policy drop; }\n\
                     add chain inet flbcut o { type filter hook output priority -10; policy drop; }",
                ]);
            }
        }
    }

    /// Undoes [`Failure::start`].
    pub fn end(self, node: &Netns, pids: &[i32]) {
        match self {
            Failure::Freeze => signal_pids(pids, Signal::SIGCONT),
            Failure::LinkCut => {
                node.run_ok(&["nft", "delete table inet flbcut"]);
            }
        }
    }
}

/// Sends `sig` to each of `pids`.
pub fn signal_pids(pids: &[i32], sig: Signal) {
    for p in pids {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), sig).expect("signal");
    }
}

/// Rounds per measurement: `FERROLB_BFD_ROUNDS`, default 5 (the docs' tables use 20).
pub fn rounds() -> usize {
    std::env::var("FERROLB_BFD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// The `p` quantile (0..=1) of `v`, nearest rank; with 20 values p99 is the maximum.
pub fn percentile(v: &[Duration], p: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[i.min(s.len() - 1)]
}

/// `p50 X ms, p99 Y ms`.
pub fn ms_text(v: &[Duration]) -> String {
    format!(
        "p50 {} ms, p99 {} ms",
        percentile(v, 0.5).as_millis(),
        percentile(v, 0.99).as_millis()
    )
}

/// Sets FRR's BFD profile `flb` to `interval_ms` both ways, multiplier 3.
pub fn set_bfd_profile(frr: &Frr, interval_ms: u64) {
    frr.vtysh(&[
        "configure terminal",
        "bfd",
        "profile flb",
        &format!("receive-interval {interval_ms}"),
        &format!("transmit-interval {interval_ms}"),
        "detect-multiplier 3",
    ]);
}

/// FRR's bfdd has `peer` Up with `interval_ms` in effect both ways.
pub fn frr_bfd_up(frr: &Frr, peer: &str, interval_ms: u64) -> bool {
    let Ok(out) = frr.try_vtysh(&["show bfd peers json"]) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<Value>(&out) else {
        return false;
    };
    v.as_array().into_iter().flatten().any(|p| {
        p["peer"].as_str() == Some(peer)
            && p["status"].as_str() == Some("up")
            && p["remote-transmit-interval"].as_u64() == Some(interval_ms)
            && p["transmit-interval"].as_u64() == Some(interval_ms)
    })
}

/// The node side of a BGP session for [`start_node_frr`].
#[derive(Debug, Clone, Copy)]
pub struct NodeSide<'a> {
    /// The node's namespace.
    pub node: &'a Netns,
    /// The node's address and AS.
    pub node_addr: Ipv4Addr,
    /// The node's AS.
    pub node_as: u32,
    /// The router's address and AS.
    pub router_addr: Ipv4Addr,
    /// The router's AS.
    pub router_as: u32,
}

/// FRR (zebra + bgpd + bfdd) on the node announcing `prefix` with the BFD profile `flb` at
/// `interval_ms` x 3: the FRR-to-FRR comparison. Its daemons' PIDs are [`frr_pids`].
pub fn start_node_frr(side: NodeSide<'_>, prefix: &str, interval_ms: u64) -> Frr {
    let mut cfg = FrrConfig::new(side.node_as, side.node_addr)
        .neighbor(FrrNeighbor::new(side.router_addr.into(), side.router_as));
    cfg.bfdd = true;
    cfg.extra_router_lines.push(format!(
        "address-family ipv4 unicast\n  network {prefix}\n exit-address-family"
    ));
    let frr = Frr::start(side.node, &cfg);
    set_bfd_profile(&frr, interval_ms);
    frr.configure_bgp(&[&format!("neighbor {} bfd profile flb", side.router_addr)]);
    frr
}

/// The PIDs of FRR's zebra, bgpd and bfdd (what [`Failure::Freeze`] stops for FRR).
pub fn frr_pids(frr: &Frr) -> Vec<i32> {
    ["zebra", "bgpd", "bfdd"]
        .iter()
        .filter_map(|d| frr.pid(d))
        .collect()
}

/// Where a failure is measured: the router's namespace (whose kernel table is watched), the
/// failing node's namespace, and the node's route.
pub struct Measurement<'a> {
    /// The router's namespace.
    pub router: &'a Netns,
    /// The failing node's namespace.
    pub node: &'a Netns,
    /// The node's route in the router's table.
    pub prefix: &'a str,
}

/// The node's speaker under test.
pub struct NodeSpeaker<'a> {
    /// Its processes (frozen by [`Failure::Freeze`]).
    pub pids: &'a [i32],
    /// Waits until BGP (and BFD, where used) is up and the route in the router's table;
    /// panics otherwise.
    pub wait_up: &'a dyn Fn(),
    /// Its log, for failure messages.
    pub log: &'a dyn Fn() -> String,
}

impl Measurement<'_> {
    /// `rounds` rounds of: wait until all is up, fail the node, time until the route leaves
    /// the router's kernel table (read every 5 ms), restore.
    pub fn run(&self, failure: Failure, rounds: usize, speaker: &NodeSpeaker<'_>) -> Vec<Duration> {
        let mut took = Vec::new();
        for round in 0..rounds {
            (speaker.wait_up)();
            let watch = FirstAbsence::start(self.router, self.prefix, ROUND_LIMIT);
            let t0 = Instant::now();
            failure.start(self.node, speaker.pids);
            let gone = watch.wait();
            failure.end(self.node, speaker.pids);
            let gone = gone.unwrap_or_else(|| {
                panic!(
                    "round {round}: route stayed {ROUND_LIMIT:?}\n{}",
                    (speaker.log)()
                )
            });
            took.push(gone - t0);
        }
        took
    }
}

/// One row of a table: failure, interval (None: BGP hold timer), our times and FRR's.
#[derive(Debug, Clone)]
pub struct Row {
    /// The failure.
    pub failure: Failure,
    /// The BFD interval (ms, multiplier 3); None for the hold-timer row.
    pub interval_ms: Option<u64>,
    /// FerroLB's times.
    pub ours: Vec<Duration>,
    /// FRR-to-FRR's times (empty for the hold-timer row).
    pub frr: Vec<Duration>,
}

impl Row {
    /// Prints the row in the docs' table form.
    pub fn print(&self, who: &str) {
        let frr = if self.frr.is_empty() {
            String::new()
        } else {
            ms_text(&self.frr)
        };
        let timers = match self.interval_ms {
            Some(i) => format!("{i} ms x 3 (detect {} ms)", 3 * i),
            None => "BGP hold time 9 s, no BFD".to_string(),
        };
        println!(
            "| {} | {timers} | {who}: {} | FRR-to-FRR: {frr} | {} rounds |",
            self.failure.name(),
            ms_text(&self.ours),
            self.ours.len()
        );
    }

    /// The checks for a BFD row: p99 within detection time + 200 ms (the target, +100
    /// ms, is printed as met or missed), and no worse than FRR-to-FRR's p99 by more than one
    /// transmit interval (where in the interval the failure falls is random: the noise of a
    /// few rounds). Panics when a check fails.
    pub fn check(&self) {
        let Some(interval) = self.interval_ms else {
            return;
        };
        let detect = Duration::from_millis(3 * interval);
        let ours = percentile(&self.ours, 0.99);
        let frr = percentile(&self.frr, 0.99);
        let target = detect + Duration::from_millis(100);
        println!(
            "{:?} {interval} ms: p99 {ours:?} (FRR {frr:?}), target < {target:?}: {}",
            self.failure,
            if ours < target { "met" } else { "missed" }
        );
        assert!(
            ours < detect + Duration::from_millis(200),
            "{:?} {interval} ms: p99 {ours:?}",
            self.failure
        );
        assert!(
            ours <= frr + Duration::from_millis(interval),
            "{:?} {interval} ms: ours {ours:?} vs FRR {frr:?}",
            self.failure
        );
    }
}
