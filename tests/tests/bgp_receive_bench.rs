//! Issue 8 item 5: memory of `ferrolb announce` and `ferrolb speaker` while a peer sends a
//! full table.
//!
//! BIRD 2 (AS 65000, netns `sender`) holds 1,000,000 IPv4 /32s inside 10.0.0.0/8 in a disabled
//! static protocol (route data only: BIRD has no kernel protocol, so not even the sender's
//! kernel sees them, and nothing is ever sent to those addresses). Enabling it exports the
//! table over BGP to three receivers at once, each in its own netns:
//! - `ferrolb announce` (AS 65001),
//! - `ferrolb speaker` (AS 65003, node `node1`, its ConfigMap read from the API fixture that
//!   runs in the sender's netns),
//! - BIRD 2 (AS 65002), the reference.
//!
//! Disabling the static protocol withdraws the table. Printed: the RSS of each receiver idle
//! (session up, no routes), at its peak (sampled 10 times a second during the feed and the
//! withdrawal) and after the withdrawal, plus the feed and withdrawal times; target for FerroLB:
//! within 2 MiB of idle.
//!
//! ```sh
//! FERROLB_BIN=$PWD/target/release/ferrolb \
//!   cargo test -p ferrolb-e2e --test bgp_receive_bench -- --ignored --nocapture
//! ```
//! (`BENCH_ROUTES=N` changes the table size, `BENCH_LIMIT_SECS` the limit of each phase, and
//! `BENCH_MAX_PREFIX=N` sets both FerroLB receivers' maximum-prefix: up to it the session
//! holds the prefixes to count them exactly, so a limit above the table shows that cost.)

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::ns_api::NsApi;
use ferrolb_e2e::peers::{Bird, BirdConfig, BirdNeighbor};
use ferrolb_e2e::process::{rss_breakdown, rss_kib};
use ferrolb_e2e::speaker;
use ferrolb_e2e::{
    ferrolb_bin, require_binary, require_root, veth, wait_until, ChildGuard, Netns, ScratchDir,
};
use nix::sys::signal::Signal;
use serde_json::json;

const SENDER_AS: u32 = 65000;
const ANNOUNCE_AS: u32 = 65001;
const BIRD_AS: u32 = 65002;
const SPEAKER_AS: u32 = 65003;
/// The sender's static protocol (see `BirdConfig::render`).
const TABLE: &str = "s_static";
/// The sender's BGP protocols, one per receiver, in `RECEIVERS` order.
const SENDER_PROTOCOLS: [&str; 3] = ["to_announce", "to_speaker", "to_bird"];
const RECEIVERS: [&str; 3] = ["ferrolb announce", "ferrolb speaker", "BIRD 2"];
/// Routes the sender relays to each receiver besides its table: the speaker and BIRD also get
/// the one prefix `ferrolb announce` announces (198.51.100.1/32).
const RELAYED: [u64; 3] = [0, 1, 1];

/// `n` consecutive /32s from 10.0.0.0.
fn table(n: u32) -> Vec<String> {
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    (0..n)
        .map(|i| format!("{}/32", Ipv4Addr::from(base + i)))
        .collect()
}

/// Routes in BIRD's master4 table (`show route count`).
fn bird_routes(bird: &Bird) -> Option<u64> {
    let out = bird.try_birdc(&["show route count"]).ok()?;
    out.lines()
        .find(|l| l.contains("of") && l.contains("routes"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Routes BIRD's protocol `name` exports (`Routes: X imported, Y exported`).
fn bird_exported(bird: &Bird, name: &str) -> Option<u64> {
    let out = bird.try_birdc(&["show protocols all", name]).ok()?;
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("Routes:"))?;
    let mut words = line.split_whitespace();
    let mut last = None;
    for w in words.by_ref() {
        if w.trim_end_matches(',') == "exported" {
            return last;
        }
        last = w.parse().ok();
    }
    None
}

/// True when every established TCP socket in `ns` has empty receive and send queues
/// (`ss -Htn state established`: Recv-Q and Send-Q are the first two columns).
fn tcp_queues_empty(ns: &Netns) -> bool {
    let out = ns.exec(&["ss", "-Htn", "state", "established"]);
    out.status.success()
        && String::from_utf8_lossy(&out.stdout).lines().all(|l| {
            let mut cols = l.split_whitespace();
            cols.next() == Some("0") && cols.next() == Some("0")
        })
}

/// RSS of one receiver: idle, peak, after.
#[derive(Default, Clone, Copy)]
struct Rss {
    idle: u64,
    peak: u64,
    after: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn rss_text(pids: &[i32]) -> String {
    pids.iter()
        .map(|&p| format!("{:.1}", mib(rss_kib(p).unwrap_or(0))))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Samples the RSS of `pids` 10 times a second until `done` (checked every 250 ms; it also
/// returns a progress text, printed with the current RSS every second) holds on two checks in a
/// row, or panics after `limit`; `alive` panics when a receiver died. Returns the peak of each
/// and the time to the end of the first of the two checks (an upper bound: the condition held
/// at some point of that check).
fn watch(
    pids: [i32; 4],
    limit: Duration,
    what: &str,
    mut alive: impl FnMut(),
    mut done: impl FnMut() -> (bool, String),
) -> ([u64; 4], Duration) {
    let started = Instant::now();
    let mut peaks = [0u64; 4];
    let mut next_check = started;
    let mut next_report = started;
    let mut done_at: Option<Duration> = None;
    loop {
        alive();
        for (peak, pid) in peaks.iter_mut().zip(pids) {
            *peak = (*peak).max(rss_kib(pid).unwrap_or(0));
        }
        if Instant::now() >= next_check {
            let (finished, progress) = done();
            let at = started.elapsed();
            if finished {
                if let Some(first) = done_at {
                    return (peaks, first);
                }
                done_at = Some(at);
            } else {
                done_at = None;
            }
            if Instant::now() >= next_report {
                println!(
                    "receive bench: {what} {at:.1?}: {progress}; RSS MiB {}",
                    rss_text(&pids)
                );
                next_report += Duration::from_secs(1);
            }
            assert!(at < limit, "{what} not done within {limit:?}: {progress}");
            next_check = Instant::now() + Duration::from_millis(250);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The highest RSS of each of `pids` over `dur` (10 samples a second).
fn settle<const N: usize>(pids: [i32; N], dur: Duration) -> [u64; N] {
    let end = Instant::now() + dur;
    let mut max = [0; N];
    while Instant::now() < end {
        for (m, pid) in max.iter_mut().zip(pids) {
            *m = (*m).max(rss_kib(pid).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    max
}

/// Panics with the log when the speaker has exited.
fn assert_speaker_running(sp: &mut ChildGuard, log: &ScratchDir) {
    if let Some(s) = sp.try_status() {
        panic!(
            "ferrolb speaker exited early ({s}); its log:\n{}",
            log.read("speaker.log")
        );
    }
}

/// Seeds the speaker's ConfigMap (one peer: the sender, with `max-prefix` when given) and
/// its Node.
fn seed_speaker_config(api: &NsApi, sender: Ipv4Addr, max_prefix: Option<u64>) {
    let limit = max_prefix.map_or(String::new(), |m| format!("  max-prefix: {m}\n"));
    let config = format!(
        "peers:\n- peer-address: {sender}\n  peer-asn: {SENDER_AS}\n  my-asn: {SPEAKER_AS}\n{limit}\
         address-pools:\n- name: default\n  protocol: bgp\n  addresses:\n  - 198.51.100.0/24\n"
    );
    api.store
        .seed(json!({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"namespace": "ferrolb-system", "name": "config"},
                     "data": {"config": config}}))
        .expect("seed the ConfigMap");
    api.store
        .seed(json!({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1"}}}))
        .expect("seed the Node");
}

fn start_speaker(ns: &Netns, url: &str, dir: &ScratchDir) -> ChildGuard {
    speaker::start_speaker(ns, url, "node1", &["--no-events"], &dir.join("speaker.log"))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (see the module docs)"]
fn full_table_costs_no_memory() {
    if !require_root("full_table_costs_no_memory") || !require_binary("bird") {
        return;
    }
    let n = env_u64("BENCH_ROUTES", 1_000_000) as u32;
    let limit = Duration::from_secs(env_u64("BENCH_LIMIT_SECS", 300));
    println!(
        "receive bench: binary {}, {n} routes",
        ferrolb_bin().display()
    );
    let sender_ns = Netns::new("rbs");
    let ann_ns = Netns::new("rba");
    let sp_ns = Netns::new("rbn");
    let bird_ns = Netns::new("rbb");
    let links = [
        veth(&sender_ns, &ann_ns, 0),
        veth(&sender_ns, &sp_ns, 1),
        veth(&sender_ns, &bird_ns, 2),
    ];
    let (to_ann, to_sp, to_bird) = (&links[0], &links[1], &links[2]);

    let mut cfg = BirdConfig::new(SENDER_AS, to_ann.a_v4);
    cfg.static_v4 = table(n);
    cfg.static_disabled = true;
    for (name, (link, asn)) in SENDER_PROTOCOLS.iter().zip([
        (to_ann, ANNOUNCE_AS),
        (to_sp, SPEAKER_AS),
        (to_bird, BIRD_AS),
    ]) {
        let mut nb = BirdNeighbor::new(name, link.b_v4.into(), asn);
        nb.local_address = Some(link.a_v4.into());
        nb.ipv6 = false;
        nb.export_all = true;
        cfg.neighbors.push(nb);
    }
    let t0 = Instant::now();
    let sender = Bird::start(&sender_ns, &cfg);
    drop(cfg);
    println!(
        "receive bench: sender BIRD parsed {n} static routes in {:.1?}",
        t0.elapsed()
    );

    let mut rcfg = BirdConfig::new(BIRD_AS, to_bird.b_v4);
    let mut rn = BirdNeighbor::new("sender", to_bird.a_v4.into(), SENDER_AS);
    rn.ipv6 = false;
    rcfg.neighbors.push(rn);
    let bird = Bird::start(&bird_ns, &rcfg);

    let max_prefix = std::env::var("BENCH_MAX_PREFIX")
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let mut args: Vec<String> = [
        "--local-as",
        &ANNOUNCE_AS.to_string(),
        "--peer",
        &to_ann.a_v4.to_string(),
        "--peer-as",
        &SENDER_AS.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(m) = max_prefix {
        args.extend(["--max-prefix".to_string(), m.to_string()]);
    }
    args.push("198.51.100.1/32".to_string());
    let mut ann = Announcer::start(&ann_ns, &args);

    let api = NsApi::start(&sender_ns);
    seed_speaker_config(&api, to_sp.a_v4, max_prefix);
    let sp_dir = ScratchDir::new("rbench-speaker");
    let url = format!("http://{}:{}", to_sp.a_v4, api.port);
    let mut sp = start_speaker(&sp_ns, &url, &sp_dir);

    // The receivers in `RECEIVERS` order, then the sender.
    let pids = [
        ann.pid() as i32,
        sp.pid() as i32,
        bird.pid().expect("receiving BIRD's pid"),
        sender.pid().expect("sending BIRD's pid"),
    ];
    let mut alive = || {
        ann.assert_running();
        assert_speaker_running(&mut sp, &sp_dir);
    };
    wait_until(
        Duration::from_secs(30),
        "all three sessions Established",
        || {
            alive();
            SENDER_PROTOCOLS
                .iter()
                .all(|p| sender.protocol_state(p) == "Established")
                .then_some(())
        },
    );
    let idle = settle([pids[0], pids[1], pids[2]], Duration::from_secs(3));
    if let Some(split) = rss_breakdown(pids[1], 6) {
        println!("receive bench: speaker idle memory: {split}");
    }

    // Done when the sender exports `want` routes to each receiver, BIRD's table agrees
    // (`bird_ok`) and no TCP queue holds unread data.
    let delivered = |want: u64, bird_ok: bool, at_bird: u64| {
        let exported: Vec<u64> = SENDER_PROTOCOLS
            .iter()
            .map(|p| bird_exported(&sender, p).unwrap_or(u64::MAX))
            .collect();
        let queues = [&sender_ns, &ann_ns, &sp_ns, &bird_ns]
            .iter()
            .all(|ns| tcp_queues_empty(ns));
        (
            exported.iter().zip(RELAYED).all(|(&e, r)| e == want + r) && bird_ok && queues,
            format!("sender exported {exported:?}, BIRD has {at_bird}, TCP queues empty: {queues}"),
        )
    };
    let started = Instant::now();
    sender.birdc(&["enable", TABLE]);
    let (feed_peaks, loaded) = watch(pids, limit, "feed", &mut alive, || {
        let at_bird = bird_routes(&bird).unwrap_or(0);
        delivered(u64::from(n), at_bird >= u64::from(n), at_bird)
    });
    let loaded_rss = settle([pids[0], pids[1], pids[2]], Duration::from_secs(2));
    println!(
        "receive bench: loaded in {loaded:.1?} (wall {:.1?}); RSS MiB with the table {}",
        started.elapsed(),
        rss_text(&pids)
    );
    if let Some(split) = rss_breakdown(pids[1], 6) {
        println!("receive bench: speaker memory with the table: {split}");
    }

    let started = Instant::now();
    sender.birdc(&["disable", TABLE]);
    let (wd_peaks, withdrawn) = watch(pids, limit, "withdrawal", &mut alive, || {
        let at_bird = bird_routes(&bird).unwrap_or(u64::MAX);
        delivered(0, at_bird <= 1, at_bird)
    });
    println!(
        "receive bench: withdrawn in {withdrawn:.1?} (wall {:.1?})",
        started.elapsed()
    );
    let after = settle([pids[0], pids[1], pids[2]], Duration::from_secs(3));
    if let Some(split) = rss_breakdown(pids[1], 6) {
        println!("receive bench: speaker memory after the withdrawal: {split}");
    }

    let rss: Vec<Rss> = (0..3)
        .map(|i| Rss {
            idle: idle[i],
            peak: feed_peaks[i].max(wd_peaks[i]).max(loaded_rss[i]),
            after: after[i],
        })
        .collect();
    let sender_peak = feed_peaks[3].max(wd_peaks[3]);

    ann.signal(Signal::SIGTERM);
    let _ = ann.wait_exit(Duration::from_secs(10));
    sp.stop(Duration::from_secs(10));
    let lines = |log: String| {
        log.lines()
            .filter(|l| l.contains("session counters") || l.contains("maximum-prefix"))
            .map(str::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    println!(
        "receive bench: feed {loaded:.1?}, withdrawal {withdrawn:.1?}; sender BIRD peak {:.1} MiB",
        mib(sender_peak)
    );
    println!("| receiver | RSS idle (MiB) | peak (MiB) | after withdrawal (MiB) |");
    println!("|---|---:|---:|---:|");
    for (name, r) in RECEIVERS.iter().zip(&rss) {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            mib(r.idle),
            mib(r.peak),
            mib(r.after)
        );
    }
    println!("receive bench: announce log:\n{}", lines(ann.log()));
    println!(
        "receive bench: speaker log:\n{}",
        lines(sp_dir.read("speaker.log"))
    );
    for (name, r) in RECEIVERS.iter().zip(&rss).take(2) {
        assert!(
            r.peak <= r.idle + 2048 && r.after <= r.idle + 2048,
            "{name}: peak {:.1} / after {:.1} MiB is more than 2 MiB above idle {:.1} MiB",
            mib(r.peak),
            mib(r.after),
            mib(r.idle)
        );
    }
}
