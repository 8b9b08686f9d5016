//! `ferrolb demo` as a user runs it: the scripted story (allocation, announce decisions, the
//! router's table, withdrawals) and `--listen` driven by the real `kubectl`. No root needed:
//! everything is on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferrolb_e2e::{ferrolb_bin, require_binary, ChildGuard, ScratchDir};
use nix::sys::signal::Signal;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

#[test]
fn demo_tells_the_whole_story_and_exits_0() {
    let stdout = the_whole_story(&[]);
    assert!(
        stdout.contains("ConfigMap ferrolb-system/config"),
        "{stdout}"
    );
}

#[test]
fn demo_configured_with_custom_resources_tells_the_same_story() {
    let stdout = the_whole_story(&["--crds"]);
    for line in [
        "MetalLB custom resources in ferrolb-system",
        "kind: IPAddressPool",
        "kind: BGPAdvertisement",
        "kind: BGPPeer",
    ] {
        assert!(
            stdout.contains(line),
            "demo --crds output lacks {line:?}:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("ConfigMap ferrolb-system/config"),
        "{stdout}"
    );
}

/// Runs `ferrolb demo` with `extra` flags, checks the story and returns its output.
fn the_whole_story(extra: &[&str]) -> String {
    let out = Command::new(ferrolb_bin())
        .args(["demo", "--step-timeout", "40"])
        .args(extra)
        .output()
        .expect("run ferrolb demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed ({:?}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let expect = [
        // sessions
        "[router] session with 127.0.0.2 Established",
        "[router] session with 127.0.0.3 Established",
        // allocation, incl. the shared IP and the requested one that cannot be satisfied
        "[controller] demo/web: assigned 198.51.100.1 from pool default",
        "[controller] demo/dns-tcp: assigned 198.51.100.20 from pool default",
        "[controller] demo/dns-udp: assigned 198.51.100.20 from pool default",
        "[controller] demo/wishful: AllocationFailed: requested IP 203.0.113.7 is not in any pool",
        // announce decisions with reasons
        "[speaker node-b] demo/api: 198.51.100.2: not announced: externalTrafficPolicy Local",
        "is a layer2 pool",
        // the router's table: web from both nodes (ECMP), api from node-a only
        "*> 198.51.100.1/32      127.0.0.2        65001 i    65000:100",
        "*=                      127.0.0.3        65001 i    65000:100",
        "*> 198.51.100.2/32      127.0.0.2        65001 i    65000:100",
        // withdrawals after the delete and the speaker stop
        "[router] - 198.51.100.1/32 via 127.0.0.3 withdrawn",
        "[router] - 198.51.100.1/32 via 127.0.0.2 withdrawn",
        "[router] - 198.51.100.20/32 via 127.0.0.3 withdrawn",
        "demo finished",
    ];
    for line in expect {
        assert!(
            stdout.contains(line),
            "demo output lacks {line:?}:\n{stdout}"
        );
    }
    // The layer2 Service is never announced, and the final table has two routes.
    assert!(!stdout.contains("198.51.100.64/32 via"), "{stdout}");
    let final_table = stdout
        .rsplit("after the withdrawals")
        .next()
        .expect("final table");
    assert!(final_table.contains("Displayed 2 routes"), "{final_table}");
    assert!(!final_table.contains("127.0.0.3"), "{final_table}");
    stdout.into_owned()
}

fn kubectl(server: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("kubectl")
        .arg("--server")
        .arg(server)
        .args(args)
        .output()
        .expect("run kubectl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn demo_listen_serves_kubectl_and_routes_new_services() {
    if !require_binary("kubectl") {
        return;
    }
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(ferrolb_bin());
    cmd.args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let mut demo = ChildGuard::spawn(cmd, "ferrolb demo --listen");
    // Read the demo's output on a thread; lines arrive through a channel.
    let stdout = demo.take_stdout().expect("demo stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_line = |what: &str, pred: &dyn Fn(&str) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(40);
        if seen.iter().any(|l: &String| pred(l)) {
            return;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let hit = pred(&line);
                    seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => panic!(
                    "timed out waiting for {what}; demo said:\n{}",
                    seen.join("\n")
                ),
            }
        }
    };
    wait_line("the demo to serve", &|l| l.contains("== Serving"));

    let scratch = ScratchDir::new("demo-kubectl");
    let manifest = scratch.write(
        "shop.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\n  namespace: default\nspec:\n  type: LoadBalancer\n  selector:\n    app: shop\n  ports:\n  - port: 80\n    protocol: TCP\n",
    );
    let (ok, text) = kubectl(&server, &["apply", "-f", manifest.to_str().expect("path")]);
    assert!(ok, "kubectl apply failed: {text}");
    assert!(text.contains("service/shop created"), "{text}");

    // The controller writes the address; kubectl shows it as EXTERNAL-IP.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ip = loop {
        let (ok, ip) = kubectl(
            &server,
            &[
                "get",
                "svc",
                "shop",
                "-n",
                "default",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[0].ip}",
            ],
        );
        if ok && ip.starts_with("198.51.100.") {
            break ip.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no external IP for shop: {ip}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let (ok, table) = kubectl(&server, &["get", "svc", "-n", "default"]);
    assert!(ok, "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("shop "))
        .unwrap_or_else(|| panic!("no shop row in:\n{table}"));
    assert!(row.contains(&ip), "EXTERNAL-IP column lacks {ip}: {row}");

    // Both nodes announce it and the router has it.
    let via_a = format!("[router] + {ip}/32 via 127.0.0.2");
    let via_b = format!("[router] + {ip}/32 via 127.0.0.3");
    wait_line("the router to learn the route from node-a", &|l| {
        l.contains(&via_a)
    });
    wait_line("the router to learn the route from node-b", &|l| {
        l.contains(&via_b)
    });

    // Every session of the cluster from the API: one BGPSessionState per node and peer.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, table) = kubectl(&server, &["get", "bgpsessionstates", "-A"]);
        let established = |node: &str| {
            table
                .lines()
                .any(|l| l.contains(node) && l.contains("Established"))
        };
        if ok && established("node-a") && established("node-b") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sessions not listed Established: {table}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Deleting it withdraws it.
    let (ok, text) = kubectl(&server, &["delete", "svc", "shop", "-n", "default"]);
    assert!(ok, "kubectl delete failed: {text}");
    let gone = format!("[router] - {ip}/32 via");
    wait_line("the route to be withdrawn", &|l| l.contains(&gone));

    demo.signal(Signal::SIGTERM);
    let status = demo
        .wait_timeout(Duration::from_secs(15))
        .expect("demo exits after SIGTERM");
    assert!(
        status.success(),
        "demo exit status after SIGTERM: {status:?}"
    );
}
