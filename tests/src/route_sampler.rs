//! Samples whether a prefix is in a namespace's kernel routing table, every few milliseconds,
//! on a background thread. Two modes:
//!
//! - [`RouteSampler`]: `ip -j route` every few ms, every sample kept: the gaps of a route
//!   during a change ("the route never left the router").
//! - [`FirstAbsence`]: the kernel's table read from `/proc` by a thread inside the namespace,
//!   every 5 ms, until the prefix is gone: the time a failure takes to remove a route (a read
//!   takes microseconds, not the milliseconds of an `ip` process).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::netns::Netns;

/// Longest a sampler runs (bounds the loop if the test forgets to stop it).
const MAX_RUN: Duration = Duration::from_secs(120);

/// One sample: when, and whether the prefix had a route.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Time of the sample (after `ip` returned).
    pub at: Instant,
    /// The prefix was in the table.
    pub present: bool,
}

/// What a sampler saw.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Samples {
    /// Number of samples where the prefix was absent.
    pub fn absent(&self) -> usize {
        self.samples.iter().filter(|s| !s.present).count()
    }

    /// The longest time without the route: from the last sample with it to the next sample with
    /// it (or the last sample), over every run of absent samples. Zero when none was absent.
    pub fn longest_gap(&self) -> Duration {
        let mut longest = Duration::ZERO;
        let mut last_present: Option<Instant> = None;
        let mut gap_from: Option<Instant> = None;
        for s in &self.samples {
            if s.present {
                if let Some(from) = gap_from.take() {
                    longest = longest.max(s.at - from);
                }
                last_present = Some(s.at);
            } else if gap_from.is_none() {
                gap_from = Some(last_present.unwrap_or(s.at));
            }
        }
        if let (Some(from), Some(end)) = (gap_from, self.samples.last()) {
            longest = longest.max(end.at - from);
        }
        longest
    }

    /// The first sample at or after `t` where the prefix was absent.
    pub fn first_absent_after(&self, t: Instant) -> Option<Instant> {
        self.samples
            .iter()
            .find(|s| s.at >= t && !s.present)
            .map(|s| s.at)
    }

    /// The longest interval between two samples (the resolution actually achieved).
    pub fn max_interval(&self) -> Duration {
        self.samples
            .windows(2)
            .map(|w| w[1].at - w[0].at)
            .max()
            .unwrap_or_default()
    }
}

/// A running sampler; [`RouteSampler::stop`] returns what it saw.
#[derive(Debug)]
pub struct RouteSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Samples>>,
}

impl RouteSampler {
    /// Starts sampling `ip -n NS -j route show PREFIX` (with `-6` for an IPv6 prefix) every
    /// `every` (at best: one `ip` call takes a few ms).
    pub fn start(ns: &Netns, prefix: &str, every: Duration) -> RouteSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (ns, prefix, flag) = (ns.name().to_string(), prefix.to_string(), stop.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::new();
            let mut next = started;
            while !flag.load(Ordering::Relaxed) && started.elapsed() < MAX_RUN {
                let present = route_present(&ns, &prefix);
                samples.push(Sample {
                    at: Instant::now(),
                    present,
                });
                next += every;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            Samples { samples }
        });
        RouteSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the samples.
    pub fn stop(mut self) -> Samples {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(samples)) => samples,
            _ => panic!("route sampler thread failed"),
        }
    }
}

impl Drop for RouteSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Samples several prefixes at once: one `ip -j route show root ROOT` per sample (instead of
/// one call per prefix), so that four prefixes cost no more than one on a busy machine.
#[derive(Debug)]
pub struct TableSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Samples>>>,
}

impl TableSampler {
    /// Starts sampling the routes under `root` (e.g. `198.51.100.0/24`) in `ns` every `every`,
    /// recording for each of `prefixes` whether it had a route.
    pub fn start(ns: &Netns, root: &str, prefixes: &[&str], every: Duration) -> TableSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let (ns, root, flag) = (ns.name().to_string(), root.to_string(), stop.clone());
        let prefixes: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut all = vec![
                Samples {
                    samples: Vec::new()
                };
                prefixes.len()
            ];
            let mut next = started;
            while !flag.load(Ordering::Relaxed) && started.elapsed() < MAX_RUN {
                let present = routes_under(&ns, &root);
                let at = Instant::now();
                for (p, samples) in prefixes.iter().zip(all.iter_mut()) {
                    samples.samples.push(Sample {
                        at,
                        present: present.contains(p),
                    });
                }
                next += every;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            all
        });
        TableSampler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the samples of each prefix, in the order given.
    pub fn stop(mut self) -> Vec<Samples> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(samples)) => samples,
            _ => panic!("table sampler thread failed"),
        }
    }
}

impl Drop for TableSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The prefixes (`a.b.c.d/len`) with a route under `root` in `ns`'s main table; empty when
/// `ip` fails.
pub fn routes_under(ns: &str, root: &str) -> Vec<String> {
    let family = if root.contains(':') { "-6" } else { "-4" };
    let full = if root.contains(':') { "/128" } else { "/32" };
    let out = Command::new("ip")
        .args(["-n", ns, family, "-j", "route", "show", "root", root])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(o) = out else {
        return Vec::new();
    };
    let routes: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    routes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["dst"].as_str())
        .map(|d| {
            if d.contains('/') {
                d.to_string()
            } else {
                format!("{d}{full}")
            }
        })
        .collect()
}

/// Whether `prefix` has a route in `ns`'s main table (a failed `ip` call counts as absent).
pub fn route_present(ns: &str, prefix: &str) -> bool {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    let out = Command::new("ip")
        .args(["-n", ns, family, "-j", "route", "show", prefix])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            text.contains("\"dst\"")
        }
        _ => false,
    }
}

/// How often [`FirstAbsence`] reads the table.
pub const ABSENCE_EVERY: Duration = Duration::from_millis(5);

/// A thread inside a namespace that reads the kernel's table every [`ABSENCE_EVERY`] and
/// stops at the first read without the prefix; [`FirstAbsence::wait`] gives that time.
#[derive(Debug)]
pub struct FirstAbsence {
    thread: JoinHandle<Option<Instant>>,
}

impl FirstAbsence {
    /// Starts watching `prefix` (e.g. `198.51.100.50/32` or `2001:db8::1/128`) in `ns`'s main
    /// table for at most `limit`; returns once the thread reads inside the namespace.
    pub fn start(ns: &Netns, prefix: &str, limit: Duration) -> FirstAbsence {
        let prefix = ProcPrefix::parse(prefix);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = ns.spawn_in(move || {
            let _ = ready_tx.send(());
            let end = Instant::now() + limit.min(MAX_RUN);
            while Instant::now() < end {
                if !prefix.present() {
                    return Some(Instant::now());
                }
                std::thread::sleep(ABSENCE_EVERY);
            }
            None
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("route sampler thread in the namespace");
        FirstAbsence { thread }
    }

    /// The time of the first read without the prefix; None when it stayed for the limit.
    pub fn wait(self) -> Option<Instant> {
        self.thread.join().expect("route sampler thread")
    }
}

/// Whether `prefix` is in `ns`'s main table, read from `/proc` (no `ip` process).
pub fn proc_route_present(ns: &Netns, prefix: &str) -> bool {
    let prefix = ProcPrefix::parse(prefix);
    ns.run_in(move || prefix.present())
}

/// A prefix as the kernel's `/proc/thread-self/net/route` and `ipv6_route` write it.
#[derive(Debug, Clone)]
struct ProcPrefix {
    v6: bool,
    /// Destination column: IPv4 little-endian hex, IPv6 32 hex digits.
    dest: String,
    /// Mask column (IPv4, little-endian hex) or prefix length column (IPv6, 2 hex digits).
    mask: String,
}

impl ProcPrefix {
    /// Panics on a malformed prefix (test input).
    fn parse(prefix: &str) -> ProcPrefix {
        let (addr, len) = prefix.split_once('/').unwrap_or((prefix, ""));
        let addr: std::net::IpAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("prefix {prefix:?}: {e}"));
        match addr {
            std::net::IpAddr::V4(a) => {
                let len: u32 = len.parse().unwrap_or(32);
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                ProcPrefix {
                    v6: false,
                    dest: format!("{:08X}", u32::from_le_bytes(a.octets())),
                    mask: format!("{:08X}", mask.swap_bytes()),
                }
            }
            std::net::IpAddr::V6(a) => ProcPrefix {
                v6: true,
                dest: a.octets().iter().map(|b| format!("{b:02x}")).collect(),
                mask: format!("{:02x}", len.parse::<u8>().unwrap_or(128)),
            },
        }
    }

    /// Reads the calling thread's namespace's table.
    fn present(&self) -> bool {
        let file = if self.v6 {
            "/proc/thread-self/net/ipv6_route"
        } else {
            "/proc/thread-self/net/route"
        };
        let table = std::fs::read_to_string(file).unwrap_or_default();
        self.in_table(&table)
    }

    fn in_table(&self, table: &str) -> bool {
        table.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if self.v6 {
                cols.first() == Some(&self.dest.as_str())
                    && cols.get(1) == Some(&self.mask.as_str())
            } else {
                cols.get(1) == Some(&self.dest.as_str()) && cols.get(7) == Some(&self.mask.as_str())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_tables_are_matched_by_destination_and_mask() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  veth0\t326433C6\t0100FF0A\t0007\t0\t0\t20\tFFFFFFFF\t0\t0\t0\n\
                  veth0\t0000FF0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert!(ProcPrefix::parse("198.51.100.50/32").in_table(v4));
        assert!(ProcPrefix::parse("10.255.0.0/24").in_table(v4));
        assert!(!ProcPrefix::parse("198.51.100.51/32").in_table(v4));
        assert!(!ProcPrefix::parse("10.255.0.0/16").in_table(v4));
        let v6 = "20010db8000000000000000000000001 80 00000000000000000000000000000000 00 \
                  fd000255000000010000000000000001 00000014 00000001 00000000 00000003 veth0\n";
        assert!(ProcPrefix::parse("2001:db8::1/128").in_table(v6));
        assert!(!ProcPrefix::parse("2001:db8::1/64").in_table(v6));
        assert!(!ProcPrefix::parse("2001:db8::2/128").in_table(v6));
    }

    fn samples(pattern: &[(u64, bool)]) -> Samples {
        let t0 = Instant::now();
        Samples {
            samples: pattern
                .iter()
                .map(|(ms, present)| Sample {
                    at: t0 + Duration::from_millis(*ms),
                    present: *present,
                })
                .collect(),
        }
    }

    #[test]
    fn gaps_are_measured_from_the_last_sample_with_the_route() {
        let s = samples(&[(0, true), (5, true), (10, false), (15, false), (20, true)]);
        assert_eq!(s.longest_gap(), Duration::from_millis(15));
        assert_eq!(s.absent(), 2);
        let s = samples(&[(0, true), (5, false), (30, true), (35, false), (40, false)]);
        assert_eq!(s.longest_gap(), Duration::from_millis(30));
        assert_eq!(s.max_interval(), Duration::from_millis(25));
        let s = samples(&[(0, true), (5, true)]);
        assert_eq!(s.longest_gap(), Duration::ZERO);
    }
}
