//! A leader frozen past its lease (as by SIGSTOP: its whole runtime stops, timers and sockets
//! included) while the follower takes over and serves new Services. When it resumes, its
//! watch hands it a backlog of Services without status; it must write none of them.
//!
//! The leader runs on its own single-threaded runtime in its own thread; blocking that thread
//! freezes every task of that controller at once, exactly what a stopped process looks like from
//! the API server. The API server and the follower run on the test's runtime and go on.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use ferrolb_apiserver::RunningServer;
use ferrolb_controller::ControllerState;
use tokio::sync::{mpsc, oneshot, watch};

const LEASE_SECS: u64 = 2;
/// The shortest freeze: longer than the lease, so the follower takes over meanwhile.
const PAUSE: Duration = Duration::from_millis(5500);
/// The longest freeze, whatever happens to the test (a bound, not an expectation).
const MAX_PAUSE: Duration = Duration::from_secs(60);

enum Command {
    /// Blocks the runtime until the sender is dropped or sends (or `MAX_PAUSE` passes).
    Freeze(std::sync::mpsc::Receiver<()>),
    Stop,
}

/// Starts a controller on a runtime of its own; returns its state and a command channel.
fn start_in_own_runtime(
    server: &RunningServer,
    identity: &'static str,
) -> (
    watch::Receiver<ControllerState>,
    mpsc::UnboundedSender<Command>,
    std::thread::JoinHandle<()>,
) {
    let client = client(server);
    let (state_tx, state_rx) = oneshot::channel();
    let (commands, mut rx) = mpsc::unbounded_channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let handle = ferrolb_controller::start(client, options(identity, Some(LEASE_SECS)))
                .await
                .expect("start controller");
            let _ = state_tx.send(handle.state());
            while let Some(command) = rx.recv().await {
                match command {
                    // Blocks the only thread of this runtime: every task of it stops.
                    Command::Freeze(release) => {
                        let _ = release.recv_timeout(MAX_PAUSE);
                    }
                    Command::Stop => break,
                }
            }
            handle.abort();
        });
    });
    let state = state_rx.blocking_recv().expect("controller started");
    (state, commands, thread)
}

async fn wait_state(
    state: &mut watch::Receiver<ControllerState>,
    what: &str,
    pred: impl Fn(&ControllerState) -> bool,
) {
    let ok = tokio::time::timeout(WAIT, state.wait_for(|s| pred(s)))
        .await
        .is_ok_and(|r| r.is_ok());
    assert!(ok, "timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_its_lease_writes_nothing_when_it_resumes() {
    let server = api_server().await;
    server
        .store()
        .seed(config_map(&config_text(&[(
            "default",
            &["198.51.100.0/24"],
        )])))
        .expect("seed config");
    let (mut a_state, a_commands, a_thread) = {
        let server = &server;
        tokio::task::block_in_place(|| start_in_own_runtime(server, "ctl-a"))
    };
    wait_state(&mut a_state, "ctl-a writing", |s| {
        s.writing && s.config_loaded
    })
    .await;
    let b = ferrolb_controller::start(client(&server), options("ctl-b", Some(LEASE_SECS)))
        .await
        .expect("start ctl-b");
    assert!(b.wait_for(WAIT, |s| s.synced).await, "follower synced");

    // Freeze the leader; the follower takes over and serves Services created meanwhile. The
    // leader stays frozen until the follower is done, however long that takes on a busy machine.
    let (release, released) = std::sync::mpsc::channel();
    a_commands
        .send(Command::Freeze(released))
        .expect("ctl-a runs");
    let frozen = Instant::now();
    wait_writing(&b).await;
    let names: Vec<String> = (0..20).map(|i| format!("during-{i}")).collect();
    for name in &names {
        server
            .store()
            .seed(lb_service("default", name))
            .expect("seed service");
    }
    let mut ips: Vec<IpAddr> = Vec::new();
    for name in &names {
        ips.push(wait_ip(&server, "default", name).await);
    }
    // The follower is done when its last status write is 500 ms old (its writes, not the
    // frozen leader's: that one cannot send anything).
    wait_for("the follower to stop writing", || {
        let log = server.calls().log();
        let last_write = log.iter().rev().find(|r| {
            r.call
                .as_ref()
                .is_some_and(|c| c.resource == "services" && c.verb == "patch")
        });
        last_write
            .is_none_or(|r| r.at.elapsed() >= Duration::from_millis(500))
            .then_some(())
    })
    .await;
    if let Some(rest) = PAUSE.checked_sub(frozen.elapsed()) {
        // The freeze must outlast the lease by a margin, as a real SIGSTOP of 5.5 s did.
        tokio::time::sleep(rest).await;
    }
    server.calls().reset();

    // The leader resumes with a backlog of 20 Services it has not seen; the follower has nothing
    // left to write, so every status patch from now on is the paused leader's.
    release.send(()).expect("ctl-a is frozen");
    let resumed = Instant::now();
    let mut a_watch = a_state.clone();
    wait_state(&mut a_watch, "ctl-a to give up", |s| !s.leader).await;
    let resumed_for = resumed.elapsed();
    // A bounded look at what it does next (it would write right away, from its backlog).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let writes = status_writes(&server);
    eprintln!(
        "paused leader: gave up {resumed_for:?} after resuming; {} status writes after resuming",
        writes.len()
    );
    assert!(
        writes.is_empty(),
        "the paused leader wrote after resuming: {writes:?}"
    );
    for (name, ip) in names.iter().zip(&ips) {
        assert_eq!(ingress_ips(&server, "default", name), vec![*ip]);
    }
    let _ = a_commands.send(Command::Stop);
    tokio::task::block_in_place(|| a_thread.join()).expect("ctl-a thread");
    b.shutdown().await.expect("clean shutdown");
}
