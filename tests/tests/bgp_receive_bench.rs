//! Issue 8 item 5: memory of `ferrolb announce` while a peer sends a full table.
//!
//! GoBGP (AS 65000, netns `sender`) sends 1,000,000 IPv4 /32s inside 10.0.0.0/8 (route data
//! only: nothing is ever sent to those addresses) to `ferrolb announce` (AS 65001, netns
//! `node`) and, for comparison, to BIRD 2 (AS 65002, netns `bird`), then withdraws them.
//! Printed: the RSS of each receiver idle (session up, no routes), at its peak while the
//! table arrives, and after the withdrawal; target for FerroLB: within 2 MiB of idle.
//!
//! ```sh
//! FERROLB_BIN=$PWD/target/release/ferrolb \
//!   cargo test -p ferrolb-e2e --test bgp_receive_bench -- --ignored --nocapture
//! ```
//! (`BENCH_ROUTES=N` changes the table size.)

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::peers::{Bird, BirdConfig, BirdNeighbor, GoBgp, GoBgpConfig, GoBgpNeighbor};
use ferrolb_e2e::process::rss_kib;
use ferrolb_e2e::{ferrolb_bin, require_binary, require_root, veth, wait_until, Netns, ScratchDir};
use nix::sys::signal::Signal;

const SENDER_AS: u32 = 65000;
const NODE_AS: u32 = 65001;
const BIRD_AS: u32 = 65002;

/// An MRT TABLE_DUMP_V2 file (RFC 6396) with `n` consecutive /32s from 10.0.0.0, next hop
/// `nh`, plus `pad` copies of the last one (gobgp 3.10's `mrt inject` drops the tail of its
/// stream; duplicates make the lost tail harmless).
fn mrt_table(n: u32, pad: u32, nh: Ipv4Addr) -> Vec<u8> {
    fn record(out: &mut Vec<u8>, subtype: u16, body: &[u8]) {
        out.extend_from_slice(&0u32.to_be_bytes()); // timestamp
        out.extend_from_slice(&13u16.to_be_bytes()); // TABLE_DUMP_V2
        out.extend_from_slice(&subtype.to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
    }
    let mut out = Vec::with_capacity(n as usize * 48);
    // PEER_INDEX_TABLE: collector id, empty view name, one AS4/IPv4 peer.
    let mut pit = nh.octets().to_vec();
    pit.extend_from_slice(&[0, 0, 0, 1, 2]);
    pit.extend_from_slice(&nh.octets());
    pit.extend_from_slice(&nh.octets());
    pit.extend_from_slice(&SENDER_AS.to_be_bytes());
    record(&mut out, 1, &pit);
    let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4];
    attrs.extend_from_slice(&nh.octets());
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    for i in 0..n + pad {
        let seq = i.min(n - 1);
        let mut body = seq.to_be_bytes().to_vec();
        body.push(32);
        body.extend_from_slice(&(base + seq).to_be_bytes());
        body.extend_from_slice(&1u16.to_be_bytes()); // one entry
        body.extend_from_slice(&0u16.to_be_bytes()); // peer index
        body.extend_from_slice(&0u32.to_be_bytes()); // originated time
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(&attrs);
        record(&mut out, 2, &body); // RIB_IPV4_UNICAST
    }
    out
}

/// Routes in BIRD's master4 table (`show route count`).
fn bird_routes(bird: &Bird) -> Option<u64> {
    let out = bird.try_birdc(&["show route count"]).ok()?;
    out.lines()
        .find(|l| l.contains("of") && l.contains("routes"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The sum of every `advertised` number in `v` (gobgp's JSON nests it per family).
fn sum_advertised(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Object(m) => {
            let own = m.get("advertised").and_then(serde_json::Value::as_u64);
            let nested = m.values().filter_map(sum_advertised).reduce(|a, b| a + b);
            match (own, nested) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            }
        }
        serde_json::Value::Array(a) => a.iter().filter_map(sum_advertised).reduce(|a, b| a + b),
        _ => None,
    }
}

/// Prefixes gobgpd has sent to `peer` (its Adj-RIB-Out count), 0 when it shows none.
fn gobgp_advertised(g: &GoBgp, peer: IpAddr) -> u64 {
    g.neighbor(peer)
        .as_ref()
        .and_then(sum_advertised)
        .unwrap_or(0)
}

/// RSS samples of several processes: idle, peak, after.
#[derive(Default, Clone, Copy)]
struct Rss {
    idle: u64,
    peak: u64,
    after: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Samples the RSS of `pids` 10 times a second until `done` (checked every 2 s; it also
/// returns a progress text, printed every 30 s) or `limit`; returns the peak of each.
fn watch(
    ann: &mut Announcer,
    pids: [i32; 3],
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> (bool, String),
) -> [u64; 3] {
    let started = Instant::now();
    let mut peaks = [0u64; 3];
    let mut next_check = started;
    let mut next_report = started;
    loop {
        ann.assert_running();
        for (peak, pid) in peaks.iter_mut().zip(pids) {
            *peak = (*peak).max(rss_kib(pid).unwrap_or(0));
        }
        if Instant::now() >= next_check {
            let (finished, progress) = done();
            if finished {
                return peaks;
            }
            if Instant::now() >= next_report {
                println!("receive bench: {:.0?}: {progress}", started.elapsed());
                next_report += Duration::from_secs(30);
            }
            assert!(
                started.elapsed() < limit,
                "{what} not done within {limit:?}: {progress}"
            );
            next_check = Instant::now() + Duration::from_secs(2);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The highest RSS of `pid` over `dur` (10 samples a second).
fn settle(pid: i32, dur: Duration) -> u64 {
    let end = Instant::now() + dur;
    let mut max = 0;
    while Instant::now() < end {
        max = max.max(rss_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    max
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture (see the module docs)"]
fn full_table_from_gobgp_costs_no_memory() {
    if !require_root("full_table_from_gobgp_costs_no_memory")
        || !require_binary("gobgpd")
        || !require_binary("bird")
    {
        return;
    }
    let n: u32 = std::env::var("BENCH_ROUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "receive bench: binary {}, {n} routes",
        ferrolb_bin().display()
    );
    let sender_ns = Netns::new("rbs");
    let node_ns = Netns::new("rbn");
    let bird_ns = Netns::new("rbb");
    let to_node = veth(&sender_ns, &node_ns, 0);
    let to_bird = veth(&sender_ns, &bird_ns, 1);
    let mut cfg = GoBgpConfig::new(SENDER_AS, to_node.a_v4);
    for (addr, asn) in [(to_node.b_v4, NODE_AS), (to_bird.b_v4, BIRD_AS)] {
        let mut nb = GoBgpNeighbor::new(addr.into(), asn);
        nb.ipv6 = false;
        cfg.neighbors.push(nb);
    }
    let gobgp = GoBgp::start(&sender_ns, &cfg);
    let mut bcfg = BirdConfig::new(BIRD_AS, to_bird.b_v4);
    let mut bn = BirdNeighbor::new("sender", to_bird.a_v4.into(), SENDER_AS);
    bn.ipv6 = false;
    bcfg.neighbors.push(bn);
    let bird = Bird::start(&bird_ns, &bcfg);
    let args: Vec<String> = [
        "--local-as",
        &NODE_AS.to_string(),
        "--peer",
        &to_node.a_v4.to_string(),
        "--peer-as",
        &SENDER_AS.to_string(),
        "198.51.100.1/32",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut ann = Announcer::start(&node_ns, &args);
    let ann_pid = ann.pid() as i32;
    let bird_pid = bird.pid().expect("bird pid");
    wait_until(Duration::from_secs(30), "both sessions Established", || {
        ann.assert_running();
        (gobgp.established(to_node.b_v4.into()) && gobgp.established(to_bird.b_v4.into()))
            .then_some(())
    });
    let mut ours = Rss::default();
    let mut theirs = Rss::default();
    ours.idle = settle(ann_pid, Duration::from_secs(3));
    theirs.idle = rss_kib(bird_pid).unwrap_or(0);

    let dir = ScratchDir::new("rbench");
    // Next hop: gobgpd's address on BIRD's link (BIRD refuses a direct eBGP route whose next
    // hop is off its subnets); FerroLB only counts the routes.
    let mrt = dir.join("table.mrt");
    std::fs::write(&mrt, mrt_table(n, 3000, to_bird.a_v4)).expect("write the MRT file");
    let started = Instant::now();
    let mut inject = sender_ns.command("gobgp");
    inject
        .args([
            "--target",
            &format!("unix://{}", gobgp.dir().join("gobgpd.sock").display()),
        ])
        .args(["mrt", "inject", "global"])
        .arg(&mrt);
    let mut inject = ferrolb_e2e::ChildGuard::spawn(inject, "gobgp mrt inject");
    let limit = Duration::from_secs(
        std::env::var("BENCH_LIMIT_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let pids = [ann_pid, bird_pid, gobgp.pid() as i32];
    let delivered = |peer: Ipv4Addr| gobgp_advertised(&gobgp, peer.into());
    let mut peaks = watch(&mut ann, pids, limit, "the table", || {
        let (to_us, at_bird) = (delivered(to_node.b_v4), bird_routes(&bird).unwrap_or(0));
        let done = to_us >= u64::from(n) && at_bird >= u64::from(n);
        (
            done,
            format!("gobgpd advertised {to_us} to ferrolb, BIRD has {at_bird}"),
        )
    });
    let loaded = started.elapsed();
    let _ = inject.wait_timeout(Duration::from_secs(60));
    peaks[0] = peaks[0].max(settle(ann_pid, Duration::from_secs(2)));
    drop(dir); // the MRT file

    let started = Instant::now();
    // Run in the background: the CLI returns only when gobgpd has deleted every path.
    let mut del = sender_ns.command("gobgp");
    del.args([
        "--target",
        &format!("unix://{}", gobgp.dir().join("gobgpd.sock").display()),
    ])
    .args(["global", "rib", "-a", "ipv4", "del", "all"]);
    let mut del = ferrolb_e2e::ChildGuard::spawn(del, "gobgp global rib del all");
    let after = watch(&mut ann, pids, limit, "the withdrawal", || {
        let (to_us, at_bird) = (
            delivered(to_node.b_v4),
            bird_routes(&bird).unwrap_or(u64::MAX),
        );
        (
            to_us == 0 && at_bird <= 1,
            format!("gobgpd advertised {to_us} to ferrolb, BIRD has {at_bird}"),
        )
    });
    ours.peak = peaks[0].max(after[0]);
    theirs.peak = peaks[1].max(after[1]);
    let sender_peak = peaks[2].max(after[2]);
    let withdrawn = started.elapsed();
    let _ = del.wait_timeout(Duration::from_secs(60));
    ours.after = settle(ann_pid, Duration::from_secs(3));
    theirs.after = rss_kib(bird_pid).unwrap_or(0);

    ann.signal(Signal::SIGTERM);
    let _ = ann.wait_exit(Duration::from_secs(10));
    let counters = ann
        .log()
        .lines()
        .filter(|l| l.contains("session counters") || l.contains("maximum-prefix"))
        .collect::<Vec<_>>()
        .join("\n");
    println!("receive bench: table loaded in {loaded:.1?}, withdrawn in {withdrawn:.1?}; gobgpd (sender) peak {:.1} MiB", mib(sender_peak));
    println!("| receiver | RSS idle (MiB) | peak (MiB) | after withdrawal (MiB) |");
    println!("|---|---:|---:|---:|");
    for (name, r) in [("ferrolb announce", ours), ("BIRD 2", theirs)] {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            mib(r.idle),
            mib(r.peak),
            mib(r.after)
        );
    }
    println!("receive bench: ferrolb log:\n{counters}");
    assert!(
        ours.peak <= ours.idle + 2048,
        "peak {:.1} MiB is more than 2 MiB above idle {:.1} MiB",
        mib(ours.peak),
        mib(ours.idle)
    );
    assert!(ours.after <= ours.idle + 2048);
}
