//! Network namespaces as RAII guards, and veth links between them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::{pid_alive, stop_pids, ChildGuard};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace `flb-<tag>-<pid>-<n>`, created on `new` and deleted on drop, also when the
/// test panics. On drop every process still inside it is stopped by PID (TERM, then KILL).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace with `lo` up and IPv6 DAD/autoconf/RA off (set before any link
    /// exists, so later addresses are usable at once). Panics on failure.
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("flb-{tag}-{}-{n}", std::process::id());
        run_host(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        ns.run_ok(&["ip", "link", "set", "lo", "up"]);
        for key in [
            "net.ipv6.conf.all.accept_dad",
            "net.ipv6.conf.default.accept_dad",
            "net.ipv6.conf.all.autoconf",
            "net.ipv6.conf.default.autoconf",
            "net.ipv6.conf.all.accept_ra",
            "net.ipv6.conf.default.accept_ra",
        ] {
            ns.sysctl(key, "0");
        }
        ns
    }

    /// The namespace name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` that runs `program` inside the namespace (`ip netns exec NS program`;
    /// `ip` execs it, so the child's PID is the program's own).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `args` inside the namespace and returns its output (whatever the exit status).
    pub fn exec(&self, args: &[&str]) -> Output {
        let (program, rest) = split(args);
        let mut c = self.command(program);
        c.args(rest).stdin(Stdio::null());
        match c.output() {
            Ok(o) => o,
            Err(e) => panic!("cannot run {args:?} in netns {}: {e}", self.name),
        }
    }

    /// Runs `args` inside the namespace; panics unless it exits 0. Returns stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let o = self.exec(args);
        if !o.status.success() {
            panic!(
                "{args:?} in netns {} failed ({}): {}{}",
                self.name,
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// GET `path` on 127.0.0.1:`port` inside the namespace (HTTP/1.0 through bash's
    /// /dev/tcp); the raw response, empty when nothing answers.
    pub fn http_get(&self, port: u16, path: &str) -> String {
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port}; printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3"
        );
        String::from_utf8_lossy(&self.exec(&["bash", "-c", &script]).stdout).into_owned()
    }

    /// Spawns `args` inside the namespace with stdout/stderr appended to `log`.
    pub fn spawn(&self, args: &[&str], log: &std::path::Path) -> ChildGuard {
        let (program, rest) = split(args);
        let mut c = self.command(program);
        c.args(rest);
        ChildGuard::spawn_logged(c, &format!("{program} in {}", self.name), log, false)
    }

    /// Sets a sysctl inside the namespace. Panics on failure.
    pub fn sysctl(&self, key: &str, value: &str) {
        self.run_ok(&["sysctl", "-qw", &format!("{key}={value}")]);
    }

    /// Runs `f` on a new thread that entered this namespace with setns(2), and returns its
    /// result. Only that thread moves: sockets it creates (and threads it starts) live in the
    /// namespace. Panics when the namespace cannot be entered.
    pub fn run_in<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn_in(f).join().expect("thread in the namespace")
    }

    /// Like [`Netns::run_in`] without waiting: the thread's handle.
    pub fn spawn_in<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        use std::os::fd::AsFd as _;
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open the namespace file");
            nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("setns into the namespace");
            f()
        })
    }

    /// PIDs of every process inside the namespace.
    pub fn pids(&self) -> Vec<i32> {
        let o = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output();
        match o {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let pids: Vec<i32> = self.pids().into_iter().filter(|p| pid_alive(*p)).collect();
        if !pids.is_empty() {
            stop_pids(&pids, Duration::from_secs(3));
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One veth pair between two namespaces, with addresses on both ends.
#[derive(Clone, Debug)]
pub struct Link {
    /// Interface name in namespace `a`.
    pub a_if: String,
    /// Interface name in namespace `b`.
    pub b_if: String,
    /// IPv4 address of `a` (prefix length 24).
    pub a_v4: Ipv4Addr,
    /// IPv4 address of `b` (prefix length 24).
    pub b_v4: Ipv4Addr,
    /// IPv6 address of `a` (prefix length 64).
    pub a_v6: Ipv6Addr,
    /// IPv6 address of `b` (prefix length 64).
    pub b_v6: Ipv6Addr,
}

/// A router namespace `<tag>-r` and `N` node namespaces `<tag>-n1`..`<tag>-nN`, node `i` linked
/// to the router by [`veth`] index `i`: router 10.255.<i>.1, node 10.255.<i>.2 (fd00:255:0:<i>::1
/// and ::2): the lab of the speaker e2e tests, where each node peers with the router.
pub fn router_with_nodes<const N: usize>(tag: &str) -> (Netns, [Netns; N]) {
    let router = Netns::new(&format!("{tag}-r"));
    let nodes: [Netns; N] = std::array::from_fn(|i| Netns::new(&format!("{tag}-n{}", i + 1)));
    for (i, node) in nodes.iter().enumerate() {
        let index = u8::try_from(i + 1).expect("at most 255 nodes (one veth index each)");
        veth(&router, node, index);
    }
    (router, nodes)
}

/// Creates a veth pair directly between `a` and `b` (nothing appears in the host namespace):
/// `veth<index>a` in `a` with 10.255.<index>.1/24 and fd00:255:0:<index>::1/64, `veth<index>b`
/// in `b` with .2 / ::2 (nodad). Several links from one namespace need distinct indexes.
/// Waits (bounded) until both families ping across. Panics on failure.
pub fn veth(a: &Netns, b: &Netns, index: u8) -> Link {
    let link = Link {
        a_if: format!("veth{index}a"),
        b_if: format!("veth{index}b"),
        a_v4: Ipv4Addr::new(10, 255, index, 1),
        b_v4: Ipv4Addr::new(10, 255, index, 2),
        a_v6: Ipv6Addr::new(0xfd00, 0x255, 0, index as u16, 0, 0, 0, 1),
        b_v6: Ipv6Addr::new(0xfd00, 0x255, 0, index as u16, 0, 0, 0, 2),
    };
    run_host(&[
        "ip",
        "link",
        "add",
        &link.a_if,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        &link.b_if,
        "netns",
        b.name(),
    ]);
    for (ns, ifname, v4, v6) in [
        (a, &link.a_if, link.a_v4, link.a_v6),
        (b, &link.b_if, link.b_v4, link.b_v6),
    ] {
        ns.run_ok(&["ip", "addr", "add", &format!("{v4}/24"), "dev", ifname]);
        ns.run_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{v6}/64"),
            "dev",
            ifname,
            "nodad",
        ]);
        ns.run_ok(&["ip", "link", "set", ifname, "up"]);
    }
    for target in [link.b_v4.to_string(), link.b_v6.to_string()] {
        crate::wait::wait_until(
            Duration::from_secs(5),
            &format!("ping {target} from {} over {}", a.name(), link.a_if),
            || {
                a.exec(&["ping", "-c1", "-W1", "-q", &target])
                    .status
                    .success()
                    .then_some(())
            },
        );
    }
    link
}

fn split<'a>(args: &'a [&'a str]) -> (&'a str, &'a [&'a str]) {
    match args.split_first() {
        Some((p, rest)) => (p, rest),
        None => panic!("empty command"),
    }
}

/// Runs a command in the host namespace (only `ip netns`/`ip link add ... netns` set-up).
fn run_host(args: &[&str]) {
    let (program, rest) = split(args);
    match Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{args:?} failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run {args:?}: {e}"),
    }
}
