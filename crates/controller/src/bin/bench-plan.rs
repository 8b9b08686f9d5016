//! Allocator benchmark: plans N LoadBalancer Services against a /15 pool (131,072 addresses),
//! from scratch and again with every Service already holding its address (the restart case),
//! and prints CPU time and peak RSS for each.
//!
//! Run: `cargo run --release -p ferrolb-controller --bin bench-plan` (optionally with sizes,
//! e.g. `-- 1000 10000 100000`, and `--via-json` to include parsing a `kubectl get services
//! -A -o json` document). Each case runs in a fresh child process so that its peak RSS
//! (VmHWM) is its own. The pool is parsed only; no address is ever used on a network.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Instant;

use ferrolb_controller::plan::{plan, PlanOptions};
use ferrolb_view::{ServicePortView, ServiceView};

const POOL_BASE: Ipv4Addr = Ipv4Addr::new(10, 128, 0, 0);
const POOL_PREFIX: u8 = 15;
const CPU_TARGET_S: f64 = 1.0;
const RSS_TARGET_MIB: f64 = 64.0;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        std::process::exit(child(&args[1..]));
    }
    let via_json = args.iter().any(|a| a == "--via-json");
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000];
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find my own executable: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "pool {POOL_BASE}/{POOL_PREFIX} ({} addresses){}",
        1u64 << (32 - POOL_PREFIX),
        if via_json {
            ", input parsed from kubectl JSON"
        } else {
            ""
        }
    );
    println!(
        "{:>9}  {:>8}  {:>10}  {:>10}  {:>12}  {:>8}  target",
        "services", "case", "cpu", "wall", "peak RSS", "changed"
    );
    let mut all_ok = true;
    for &n in &sizes {
        for case in ["scratch", "restart"] {
            let mut cmd = Command::new(&exe);
            cmd.arg("--one").arg(n.to_string()).arg(case);
            if via_json {
                cmd.arg("--via-json");
            }
            let out = match cmd.output() {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("cannot run the benchmark child: {e}");
                    std::process::exit(2);
                }
            };
            let text = String::from_utf8_lossy(&out.stdout);
            let fields: Vec<&str> = text.split_whitespace().collect();
            if !out.status.success() || fields.len() != 4 {
                eprintln!(
                    "case {n} {case} failed: {}{}",
                    text,
                    String::from_utf8_lossy(&out.stderr)
                );
                all_ok = false;
                continue;
            }
            let cpu: f64 = fields[0].parse().unwrap_or(f64::NAN);
            let wall: f64 = fields[1].parse().unwrap_or(f64::NAN);
            let rss_kib: f64 = fields[2].parse().unwrap_or(f64::NAN);
            let changed = fields[3];
            let rss_mib = rss_kib / 1024.0;
            let ok = cpu < CPU_TARGET_S && rss_mib < RSS_TARGET_MIB;
            let verdict = if n <= 10_000 {
                all_ok &= ok;
                if ok {
                    "ok"
                } else {
                    "MISSED"
                }
            } else {
                "-"
            };
            println!(
                "{n:>9}  {case:>8}  {:>9.3}s  {:>9.3}s  {:>8.1} MiB  {changed:>8}  {verdict}",
                cpu, wall, rss_mib
            );
        }
    }
    println!("targets (up to 10k Services): < {CPU_TARGET_S} s CPU and < {RSS_TARGET_MIB} MiB peak RSS per case");
    std::process::exit(if all_ok { 0 } else { 1 });
}

/// One case in this process: prints `cpu_seconds wall_seconds peak_rss_kib changed`.
fn child(args: &[String]) -> i32 {
    let n: usize = match args.first().and_then(|a| a.parse().ok()) {
        Some(n) => n,
        None => return 2,
    };
    let restart = args.get(1).map(String::as_str) == Some("restart");
    let via_json = args.iter().any(|a| a == "--via-json");
    let config_text = format!(
        "address-pools:\n- name: bench\n  protocol: bgp\n  addresses: [{POOL_BASE}/{POOL_PREFIX}]\n"
    );
    let config = match ferrolb_config::parse_config(&config_text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let base = u32::from(POOL_BASE);
    let json = via_json.then(|| services_json(n, restart, base));

    let cpu0 = cpu_seconds();
    let wall0 = Instant::now();
    let services = match json {
        Some(text) => match ferrolb_view::services_from_list_json(&text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return 2;
            }
        },
        None => (0..n)
            .map(|i| {
                let mut s = ServiceView::load_balancer("bench", format!("svc-{i:07}"));
                s.ports = vec![ServicePortView {
                    protocol: "TCP".into(),
                    port: 80,
                }];
                if restart {
                    s.ingress_ips = vec![IpAddr::V4(Ipv4Addr::from(base + i as u32))];
                }
                s
            })
            .collect(),
    };
    let result = match plan(&config, &services, &PlanOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let cpu = cpu_seconds() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    let errors = result.entries.iter().filter(|e| e.error.is_some()).count();
    if errors > 0 {
        eprintln!("{errors} Services got no address");
        return 1;
    }
    let changed = result.changes();
    if restart && changed != 0 {
        eprintln!("restart moved {changed} Services");
        return 1;
    }
    println!("{cpu:.6} {wall:.6} {} {changed}", peak_rss_kib());
    0
}

fn services_json(n: usize, restart: bool, base: u32) -> String {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let status = if restart {
            format!(
                r#","status":{{"loadBalancer":{{"ingress":[{{"ip":"{}"}}]}}}}"#,
                Ipv4Addr::from(base + i as u32)
            )
        } else {
            String::new()
        };
        items.push(format!(
            r#"{{"apiVersion":"v1","kind":"Service","metadata":{{"namespace":"bench","name":"svc-{i:07}"}},"spec":{{"type":"LoadBalancer","ports":[{{"port":80,"protocol":"TCP"}}]}}{status}}}"#
        ));
    }
    format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        items.join(",")
    )
}

/// CPU time of this process (user + system) in seconds, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    // /proc/self/schedstat: first field is the time on CPU in ns (single-threaded process).
    if let Ok(s) = std::fs::read_to_string("/proc/self/schedstat") {
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            return ns as f64 / 1e9;
        }
    }
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size (VmHWM) in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
