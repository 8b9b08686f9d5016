//! `bench-announce`: N IPv4 /32s announced into FRR 8.4 by FerroLB, GoBGP and BIRD, measured in
//! the same run. See docs/bench-announce.md.
//!
//! Per round, announcer and N: fresh namespaces `router` (FRR, coalesce-time 50, zebra) and
//! `node` (the announcer) joined by a veth pair. The announcer loads N routes and listens
//! (passive); FRR's neighbor starts shut down and is enabled once the announcer holds the table
//! ("preload"), so the session comes up with the routes already loaded. A capture on the node's
//! interface gives the announcer's sending time (Established, i.e. FRR's first KEEPALIVE reaching
//! the announcer, to the announcer's last UPDATE); FRR is polled for pfxRcd = N; the announcer's
//! VmRSS is read once FRR has everything, and in an extra idle run (session up, no routes).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use ferrolb_e2e::announce::Announcer;
use ferrolb_e2e::bench::{mrt, pcap, prefixes};
use ferrolb_e2e::netns::Link;
use ferrolb_e2e::peers::{
    Bird, BirdConfig, BirdNeighbor, Frr, FrrConfig, FrrNeighbor, GoBgp, GoBgpConfig, GoBgpNeighbor,
};
use ferrolb_e2e::process::rss_kib;
use ferrolb_e2e::{veth, wait_until, wait_until_opt, ChildGuard, Netns, ScratchDir};

const FRR_AS: u32 = 65000;
const NODE_AS: u32 = 65001;

#[derive(Parser)]
#[command(
    name = "bench-announce",
    about = "Announce N /32s into FRR with FerroLB, GoBGP and BIRD; print a markdown table"
)]
struct Args {
    /// Rounds per announcer and N (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Route counts.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Announcers to run.
    #[arg(long, value_delimiter = ',', default_value = "ferrolb,gobgp,bird")]
    announcers: Vec<String>,
    /// The ferrolb binary (default: env FERROLB_BIN, else <target>/release/ferrolb).
    #[arg(long)]
    ferrolb: Option<PathBuf>,
    /// Seconds to wait for pfxRcd = N.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// One measured run.
#[derive(Clone, Debug, Default)]
struct Sample {
    /// Established -> last UPDATE sent (announcer's capture), seconds.
    send: f64,
    /// Established -> FRR pfxRcd = N, seconds.
    rcvd: f64,
    /// VmRSS holding N (MiB).
    rss: f64,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A running announcer of any kind; dropped (stopped) before the namespaces.
enum Running {
    Ferrolb(Announcer),
    GoBgp(GoBgp),
    Bird(Bird),
}

impl Running {
    fn pid(&self) -> i32 {
        match self {
            Running::Ferrolb(a) => a.pid() as i32,
            Running::GoBgp(g) => g.pid() as i32,
            Running::Bird(b) => b.pid().unwrap_or(0),
        }
    }
}

/// Starts `kind` in `node` holding `routes`, passive, and returns once it holds them all.
fn start_announcer(
    kind: &str,
    node: &Netns,
    link: &Link,
    routes: &[Ipv4Addr],
    ferrolb: &PathBuf,
    scratch: &ScratchDir,
) -> Running {
    let n = routes.len();
    match kind {
        "ferrolb" => {
            let list: String = routes.iter().map(|a| format!("{a}/32\n")).collect();
            let file = scratch.write("prefixes.txt", &list);
            let args: Vec<String> = [
                "--local-as",
                &NODE_AS.to_string(),
                "--peer",
                &link.a_v4.to_string(),
                "--peer-as",
                &FRR_AS.to_string(),
                "--local-address",
                &link.b_v4.to_string(),
                "--router-id",
                &link.b_v4.to_string(),
                "--passive",
                "--stdin",
                "--prefixes-file",
                &file.display().to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            std::env::set_var("FERROLB_BIN", ferrolb);
            std::env::set_var("RUST_LOG", "warn");
            let mut a = Announcer::start(node, &args);
            // ready = listening on 179 (the prefix file is read before any socket is opened)
            let ready = wait_until_opt(Duration::from_secs(30), || {
                a.assert_running();
                node.run_ok(&["ss", "-Hltn", "sport = :179"])
                    .contains(":179")
                    .then_some(())
            });
            if ready.is_none() {
                panic!("ferrolb not listening on :179 within 30 s:\n{}", a.log());
            }
            Running::Ferrolb(a)
        }
        "gobgp" => {
            let mut cfg = GoBgpConfig::new(NODE_AS, link.b_v4);
            let mut nb = GoBgpNeighbor::new(link.a_v4.into(), FRR_AS);
            nb.passive = true;
            nb.ipv6 = false;
            cfg.neighbors.push(nb);
            let g = GoBgp::start(node, &cfg);
            if n > 0 {
                let file = scratch.join("routes.mrt");
                let bytes = mrt::table_dump(routes, link.b_v4, NODE_AS, link.b_v4, 3000);
                std::fs::write(&file, bytes)
                    .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
                g.gobgp(&["mrt", "inject", "global", &file.display().to_string()]);
                let want = format!("Destination: {n},");
                wait_until(
                    Duration::from_secs(60),
                    &format!("gobgpd holds {n} routes"),
                    || {
                        g.try_gobgp(&["global", "rib", "summary", "-a", "ipv4"])
                            .ok()
                            .filter(|s| s.contains(&want))
                            .map(|_| ())
                    },
                );
            }
            Running::GoBgp(g)
        }
        "bird" => {
            let mut cfg = BirdConfig::new(NODE_AS, link.b_v4);
            let mut nb = BirdNeighbor::new("frr", link.a_v4.into(), FRR_AS);
            nb.local_address = Some(link.b_v4.into());
            nb.passive = true;
            nb.ipv6 = false;
            nb.export_all = true;
            cfg.neighbors.push(nb);
            cfg.static_v4 = routes.iter().map(|a| format!("{a}/32")).collect();
            let b = Bird::start(node, &cfg);
            if n > 0 {
                let want = format!("{n} of {n} routes");
                wait_until(
                    Duration::from_secs(60),
                    &format!("BIRD holds {n} static routes"),
                    || {
                        b.try_birdc(&["show", "route", "count"])
                            .ok()
                            .filter(|s| s.contains(&want))
                            .map(|_| ())
                    },
                );
            }
            Running::Bird(b)
        }
        other => panic!("unknown announcer {other:?} (ferrolb, gobgp, bird)"),
    }
}

/// One run: returns the sample (n > 0) or the idle RSS in MiB as `rss` (n == 0).
fn run_once(kind: &str, n: usize, ferrolb: &PathBuf, timeout: Duration) -> Sample {
    let scratch = ScratchDir::new("bench");
    let router = Netns::new("bench-r");
    let node = Netns::new("bench-n");
    let link = veth(&router, &node, 0);
    let peer: IpAddr = link.b_v4.into();
    let mut fn_ = FrrNeighbor::new(peer, NODE_AS);
    fn_.shutdown = true;
    let frr = Frr::start(&router, &FrrConfig::new(FRR_AS, link.a_v4).neighbor(fn_));
    let routes = prefixes::host_routes(n);
    assert_eq!(
        routes.len(),
        n,
        "the prefix pool holds at most {}",
        prefixes::CAPACITY
    );
    let announcer = start_announcer(kind, &node, &link, &routes, ferrolb, &scratch);
    let pid = announcer.pid();

    let cap = scratch.join("cap.pcap");
    let caplog = scratch.join("tcpdump.log");
    let cap_s = cap.display().to_string();
    let mut tcpdump: ChildGuard = node.spawn(
        &[
            "tcpdump",
            "-i",
            &link.b_if,
            "-w",
            &cap_s,
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-B",
            "65536",
            "-s",
            "0",
            "tcp",
            "port",
            "179",
        ],
        &caplog,
    );
    wait_until(Duration::from_secs(10), "tcpdump listening", || {
        std::fs::read_to_string(&caplog)
            .ok()
            .filter(|l| l.contains("listening on"))
            .map(|_| ())
    });

    frr.neighbor_shutdown(peer, false);
    let result = if n == 0 {
        wait_until(Duration::from_secs(20), "session Established", || {
            frr.established(peer).then_some(())
        });
        std::thread::sleep(Duration::from_millis(500));
        Sample {
            rss: rss_kib(pid).unwrap_or(0) as f64 / 1024.0,
            ..Sample::default()
        }
    } else {
        let t_rcvd = wait_until(timeout, &format!("FRR pfxRcd = {n} from {kind}"), || {
            (frr.pfx_rcd("ipv4", peer) == Some(n as u64)).then(now)
        });
        let rss = rss_kib(pid).unwrap_or(0) as f64 / 1024.0;
        tcpdump.stop(Duration::from_secs(5));
        let log = std::fs::read_to_string(&caplog).unwrap_or_default();
        if log
            .lines()
            .any(|l| l.contains("dropped by kernel") && !l.starts_with("0 "))
        {
            eprintln!("warning: tcpdump dropped packets: {log}");
        }
        let data =
            std::fs::read(&cap).unwrap_or_else(|e| panic!("read capture {}: {e}", cap.display()));
        let msgs = pcap::bgp_messages(&data, 179)
            .unwrap_or_else(|e| panic!("capture {}: {e}", cap.display()));
        let from_frr = |m: &&pcap::BgpMessage| m.src.0 == IpAddr::from(link.a_v4);
        let t_est = msgs
            .iter()
            .filter(from_frr)
            .find(|m| m.kind == 4)
            .map(|m| m.time)
            .unwrap_or_else(|| panic!("no KEEPALIVE from FRR in the capture"));
        let t_last = msgs
            .iter()
            // the last UPDATE carrying routes: an IPv4 End-of-RIB (an empty UPDATE, 23 bytes)
            // that some speakers send later is not part of the table transfer
            .filter(|m| m.src.0 == IpAddr::from(link.b_v4) && m.kind == 2 && m.len > 23)
            .map(|m| m.time)
            .fold(f64::NAN, f64::max);
        Sample {
            send: t_last - t_est,
            rcvd: t_rcvd - t_est,
            rss,
        }
    };
    drop(tcpdump);
    drop(announcer);
    drop(frr);
    result
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() {
    let args = Args::parse();
    if !ferrolb_e2e::env::require_root("bench-announce") {
        std::process::exit(1);
    }
    for b in ["vtysh", "tcpdump", "ss"] {
        if ferrolb_e2e::env::find_binary(b).is_none() {
            eprintln!("bench-announce: `{b}` is missing (scripts/install-test-deps.sh)");
            std::process::exit(1);
        }
    }
    let ferrolb = args
        .ferrolb
        .clone()
        .or_else(|| std::env::var_os("FERROLB_BIN").map(PathBuf::from))
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| ferrolb_e2e::env::workspace_dir().join("target"));
            target.join("release").join("ferrolb")
        });
    if args.announcers.iter().any(|a| a == "ferrolb") && !ferrolb.is_file() {
        eprintln!("bench-announce: {} missing: run `cargo build --release -p ferrolb` (or pass --ferrolb)", ferrolb.display());
        std::process::exit(1);
    }
    let timeout = Duration::from_secs(args.timeout);
    let mut samples: BTreeMap<(usize, String), Vec<Sample>> = BTreeMap::new();
    let mut idle: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for round in 1..=args.rounds {
        for kind in &args.announcers {
            let s = run_once(kind, 0, &ferrolb, timeout);
            eprintln!("round {round} {kind:>8} idle: rss {:.1} MiB", s.rss);
            idle.entry(kind.clone()).or_default().push(s.rss);
        }
        for &n in &args.sizes {
            for kind in &args.announcers {
                let s = run_once(kind, n, &ferrolb, timeout);
                eprintln!(
                    "round {round} {kind:>8} N={n:>6}: send {:.3} s, est->pfxRcd {:.3} s, rss {:.1} MiB",
                    s.send, s.rcvd, s.rss
                );
                samples.entry((n, kind.clone())).or_default().push(s);
            }
        }
    }
    println!("Medians of {} rounds; FRR 8.4 (zebra, coalesce-time 50) receiving; preload (the session comes up with the routes loaded).\n", args.rounds);
    println!("| N | announcer | sending time: Established → last UPDATE (s) | Established → FRR pfxRcd = N (s) | RSS holding N (MiB) | RSS idle (MiB) |");
    println!("|---:|---|---:|---:|---:|---:|");
    for (&(n, ref kind), v) in &samples {
        let _ = n;
        println!(
            "| {n} | {kind} | {:.3} | {:.3} | {:.1} | {:.1} |",
            median(v.iter().map(|s| s.send).collect()),
            median(v.iter().map(|s| s.rcvd).collect()),
            median(v.iter().map(|s| s.rss).collect()),
            median(idle.get(kind).cloned().unwrap_or_default()),
        );
    }
}
