//! Processes started by the tests, stopped by PID: TERM, a bounded wait, then KILL.

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long a process gets after SIGTERM before it is killed.
pub const TERM_GRACE: Duration = Duration::from_secs(5);

/// A spawned child process, stopped by PID on drop (TERM, bounded wait, KILL) and reaped.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    what: String,
    stdin: Option<ChildStdin>,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Spawns `cmd`; `what` names it in messages. Panics when it cannot be started.
    pub fn spawn(mut cmd: Command, what: &str) -> ChildGuard {
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => panic!("cannot start {what} ({cmd:?}): {e}"),
        };
        let stdin = child.stdin.take();
        ChildGuard {
            child,
            what: what.to_string(),
            stdin,
            status: None,
        }
    }

    /// Spawns `cmd` with stdout and stderr appended to `log` and stdin piped when `pipe_stdin`
    /// (else /dev/null).
    pub fn spawn_logged(mut cmd: Command, what: &str, log: &Path, pipe_stdin: bool) -> ChildGuard {
        let out = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            Ok(f) => f,
            Err(e) => panic!("cannot open log {}: {e}", log.display()),
        };
        let err = match out.try_clone() {
            Ok(f) => f,
            Err(e) => panic!("cannot clone log handle {}: {e}", log.display()),
        };
        cmd.stdout(out).stderr(err);
        cmd.stdin(if pipe_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        ChildGuard::spawn(cmd, what)
    }

    /// Takes the child's stdout (spawned with `Stdio::piped()`), to read it as it runs.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process (no-op when it already exited).
    pub fn signal(&mut self, signal: Signal) {
        if self.try_status().is_none() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
        }
    }

    /// Writes one line to the child's stdin (spawned with a piped stdin). Panics on error.
    pub fn send_line(&mut self, line: &str) {
        let what = &self.what;
        let Some(stdin) = self.stdin.as_mut() else {
            panic!("{what} was not started with a piped stdin");
        };
        if let Err(e) = stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|_| stdin.flush())
        {
            panic!("cannot write `{line}` to {what}'s stdin: {e}");
        }
    }

    /// Closes the child's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The exit status when the process has exited (reaps it), else None.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        crate::wait::wait_until_opt(timeout, || self.try_status())
    }

    /// TERM, wait up to `grace`, then KILL; returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.try_status() {
            return Some(s);
        }
        self.signal(Signal::SIGCONT); // a stopped process cannot act on TERM
        self.signal(Signal::SIGTERM);
        if let Some(s) = self.wait_timeout(grace) {
            return Some(s);
        }
        eprintln!(
            "{} (pid {}) ignored SIGTERM for {grace:?}: sending SIGKILL",
            self.what,
            self.pid()
        );
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
        self.status
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stdin = None;
        self.stop(TERM_GRACE);
    }
}

/// True while `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // the state is the first field after the parenthesised command name
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Stops processes that are not our children (daemons) by PID: TERM to all at once, a bounded
/// wait, then KILL to the ones left.
pub fn stop_pids(pids: &[i32], grace: Duration) {
    let pids: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|p| *p > 1 && pid_alive(*p))
        .collect();
    for p in &pids {
        let _ = kill(Pid::from_raw(*p), Signal::SIGCONT);
        let _ = kill(Pid::from_raw(*p), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pids.iter().any(|p| pid_alive(*p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in pids.iter().filter(|p| pid_alive(**p)) {
        eprintln!("pid {p} ignored SIGTERM for {grace:?}: sending SIGKILL");
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
}

/// Reads a pid file (digits only); None when missing or empty.
pub fn read_pid_file(path: &Path) -> Option<i32> {
    let s = std::fs::read_to_string(path).ok()?;
    s.trim().parse().ok()
}

/// VmRSS of a process in KiB, from /proc/PID/status.
pub fn rss_kib(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Where a process's resident memory is: the anonymous/file split from /proc/PID/status and
/// the largest mappings by Rss from /proc/PID/smaps (path or `[heap]`/`[anon]`, KiB), largest first.
pub fn rss_breakdown(pid: i32, top: usize) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let mut by_name: std::collections::BTreeMap<String, u64> = Default::default();
    let mut current = String::new();
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or_default();
        if first.contains('-') && first.chars().next().is_some_and(|c| c.is_ascii_hexdigit()) {
            // a mapping header: address perms offset dev inode [path]
            let perms = parts.next().unwrap_or_default();
            let path = parts.nth(3).unwrap_or("[anon]");
            current = format!("{path} {perms}");
        } else if first == "Rss:" {
            let kib: u64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            *by_name.entry(current.clone()).or_default() += kib;
        }
    }
    let mut rows: Vec<(String, u64)> = by_name.into_iter().filter(|(_, k)| *k > 0).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    let mut out = format!(
        "RssAnon {} KiB, RssFile {} KiB, RssShmem {} KiB, Threads {}",
        field("RssAnon:"),
        field("RssFile:"),
        field("RssShmem:"),
        field("Threads:")
    );
    for (name, kib) in rows.into_iter().take(top) {
        out.push_str(&format!("\n  {kib:>6} KiB  {name}"));
    }
    Some(out)
}
