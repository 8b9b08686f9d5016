//! Starting a real `ferrolb speaker` inside a node namespace, as the e2e tests and benchmarks do.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::{ferrolb_bin, ChildGuard, Netns};

/// Starts `ferrolb speaker --server API --node-name NODE` in `ns` with metrics on
/// 127.0.0.1:7473 (inside the namespace), a 1 s connect-retry and `extra` flags; output to `log`.
pub fn start_speaker(ns: &Netns, api: &str, node: &str, extra: &[&str], log: &Path) -> ChildGuard {
    start_speaker_under(ns, &[], api, node, extra, log)
}

/// Like [`start_speaker`], run by the command `wrapper` (e.g. `setpriv` with its options).
pub fn start_speaker_under(
    ns: &Netns,
    wrapper: &[&str],
    api: &str,
    node: &str,
    extra: &[&str],
    log: &Path,
) -> ChildGuard {
    let bin = ferrolb_bin().display().to_string();
    let mut args = wrapper.to_vec();
    args.extend_from_slice(&[
        bin.as_str(),
        "speaker",
        "--server",
        api,
        "--node-name",
        node,
        "--metrics-addr",
        "127.0.0.1:7473",
        "--connect-retry",
        "1",
    ]);
    args.extend_from_slice(extra);
    ns.spawn(&args, log)
}

/// Sends `signal` to a speaker and waits up to `limit` for it to end; after SIGTERM it must
/// have exited 0 (a graceful stop), else panics naming `who`.
pub fn signal_speaker(mut speaker: ChildGuard, signal: Signal, limit: Duration, who: &str) {
    speaker.signal(signal);
    let status = speaker.wait_timeout(limit);
    if signal == Signal::SIGTERM {
        assert!(
            status.is_some_and(|s| s.success()),
            "{who}: speaker did not exit 0 within {limit:?}: {status:?}"
        );
    }
}
