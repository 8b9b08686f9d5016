//! The real `ferrolb announce` binary running inside a namespace.

use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::netns::Netns;
use crate::privileges::ContainerPrivileges;
use crate::process::ChildGuard;
use crate::scratch::ScratchDir;

/// A running `ferrolb announce` (stdout+stderr in `announce.log` of its scratch dir),
/// stopped by PID on drop.
#[derive(Debug)]
pub struct Announcer {
    child: ChildGuard,
    dir: ScratchDir,
}

impl Announcer {
    /// Starts `ferrolb announce ARGS...` inside `ns`, with a piped stdin (for `--stdin`).
    /// `RUST_LOG` defaults to `info`.
    pub fn start(ns: &Netns, args: &[String]) -> Announcer {
        Announcer::start_as(ns, None, args)
    }

    /// As [`Announcer::start`], with the process's uid and capabilities set as a container
    /// runtime would for `privileges` (see [`crate::privileges`]).
    pub fn start_as(
        ns: &Netns,
        privileges: Option<&ContainerPrivileges>,
        args: &[String],
    ) -> Announcer {
        let dir = ScratchDir::new("announce");
        let bin = crate::env::ferrolb_bin().display().to_string();
        let mut cmd = match privileges {
            Some(p) => p.command(ns, &bin),
            None => ns.command(&bin),
        };
        cmd.arg("announce").args(args);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let child =
            ChildGuard::spawn_logged(cmd, "ferrolb announce", &dir.join("announce.log"), true);
        Announcer { child, dir }
    }

    /// The scratch dir (for password and prefix files, and the log).
    pub fn dir(&self) -> &ScratchDir {
        &self.dir
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// What the process printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.dir.read("announce.log")
    }

    /// Sends one `--stdin` line (e.g. `withdraw 198.51.100.1/32`).
    pub fn send_line(&mut self, line: &str) {
        self.child.send_line(line);
    }

    /// Sends a signal.
    pub fn signal(&mut self, signal: Signal) {
        self.child.signal(signal);
    }

    /// The exit status if it exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_status()
    }

    /// Waits at most `timeout` for the exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_timeout(timeout)
    }

    /// Panics with the log when the process has already exited (call while waiting for a
    /// session, so a crash shows up at once with its reason).
    pub fn assert_running(&mut self) {
        if let Some(s) = self.child.try_status() {
            panic!(
                "ferrolb announce exited early ({s}); its output:\n{}",
                self.log()
            );
        }
    }
}

/// A scratch file in a fresh dir, for `--password-file` / `--prefixes-file`, kept alive by the
/// returned guard.
pub fn temp_file(tag: &str, name: &str, content: &str) -> (ScratchDir, std::path::PathBuf) {
    let d = ScratchDir::new(tag);
    let p = d.write(name, content);
    (d, p)
}
