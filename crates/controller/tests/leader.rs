//! High availability: two controllers share a Lease; only the holder writes. When the leader is
//! killed (its task aborted: no release, like SIGKILL) the follower takes over within the lease
//! duration (plus the follower's look interval), lists again, and hands out no address twice.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use ferrolb_controller::ControllerHandle;

const LEASE_SECS: u64 = 2;

async fn start(server: &ferrolb_apiserver::RunningServer, id: &str) -> ControllerHandle {
    ferrolb_controller::start(client(server), options(id, Some(LEASE_SECS)))
        .await
        .expect("start controller")
}

fn seed(server: &ferrolb_apiserver::RunningServer, names: impl IntoIterator<Item = String>) {
    for name in names {
        server
            .store()
            .seed(lb_service("default", &name))
            .expect("seed service");
    }
}

/// An API server with one pool, `ctl-a` writing as the leader and `ctl-b` synced as follower.
async fn leader_and_follower() -> (
    ferrolb_apiserver::RunningServer,
    ControllerHandle,
    ControllerHandle,
) {
    let server = api_server().await;
    server
        .store()
        .seed(config_map(&config_text(&[(
            "default",
            &["198.51.100.0/24"],
        )])))
        .expect("seed config");
    let a = start(&server, "ctl-a").await;
    wait_writing(&a).await;
    let b = start(&server, "ctl-b").await;
    assert!(b.wait_for(WAIT, |s| s.synced).await, "follower synced");
    (server, a, b)
}

async fn all_ips(server: &ferrolb_apiserver::RunningServer, names: &[String]) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for name in names {
        ips.push(wait_ip(server, "default", name).await);
    }
    ips
}

#[tokio::test]
async fn follower_takes_over_after_leader_is_killed_without_duplicates() {
    let (server, a, b) = leader_and_follower().await;
    assert!(!b.state().borrow().leader, "only one leader");
    assert_eq!(lease_holder(&server).as_deref(), Some("ctl-a"));

    let before: Vec<String> = (0..20).map(|i| format!("before-{i}")).collect();
    seed(&server, before.clone());
    let mut ips = all_ips(&server, &before).await;

    // The follower's metrics mirror what the leader wrote.
    let b_metrics = b.metrics_addr().expect("metrics");
    wait_for_async_metric(b_metrics, 20.0).await;

    // Kill the leader: no release, the Lease has to expire.
    a.abort();
    let killed = Instant::now();
    // Services created while nobody leads are handled by the new leader.
    let during: Vec<String> = (0..20).map(|i| format!("during-{i}")).collect();
    seed(&server, during.clone());
    assert!(
        b.wait_for(WAIT, |s| s.leader).await,
        "follower never became leader"
    );
    let takeover = killed.elapsed();
    // The lease duration, plus the follower's look interval twice (lease / 8 each: when it first
    // saw the last renewal, when it looks after expiry), plus 0.5 s of slack for a loaded machine.
    let bound = Duration::from_secs(LEASE_SECS)
        + Duration::from_secs(LEASE_SECS) / 4
        + Duration::from_millis(500);
    eprintln!("takeover after the leader was killed: {takeover:?} (lease {LEASE_SECS} s)");
    assert!(
        takeover <= bound,
        "takeover took {takeover:?}, more than the lease duration plus two looks and slack ({bound:?})"
    );
    assert_eq!(lease_holder(&server).as_deref(), Some("ctl-b"));
    wait_writing(&b).await;

    ips.extend(all_ips(&server, &during).await);
    let after: Vec<String> = (0..20).map(|i| format!("after-{i}")).collect();
    seed(&server, after.clone());
    ips.extend(all_ips(&server, &after).await);

    let distinct: BTreeSet<IpAddr> = ips.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ips.len(),
        "an address was handed out twice: {ips:?}"
    );
    // Nothing moved: the first Services keep the addresses the old leader gave them.
    for (name, ip) in before.iter().zip(&ips) {
        assert_eq!(ingress_ips(&server, "default", name), vec![*ip]);
    }
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn clean_shutdown_releases_the_lease_for_a_fast_handover() {
    let (server, a, b) = leader_and_follower().await;

    let stopped = Instant::now();
    a.shutdown().await.expect("clean shutdown");
    assert!(
        b.wait_for(WAIT, |s| s.writing).await,
        "follower never took over"
    );
    let handover = stopped.elapsed();
    eprintln!("handover after a clean shutdown: {handover:?}");
    assert!(
        handover < Duration::from_secs(LEASE_SECS),
        "a released lease is taken at the next look, not after the lease duration: {handover:?}"
    );
    seed(&server, ["x".to_string()]);
    wait_ip(&server, "default", "x").await;
    b.shutdown().await.expect("clean shutdown");
}

async fn wait_for_async_metric(addr: std::net::SocketAddr, in_use: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, body) = http_get(addr, "/metrics").await;
        if metric(
            &body,
            "ferrolb_allocator_addresses_in_use_total{pool=\"default\"}",
        ) == Some(in_use)
        {
            assert_eq!(metric(&body, "ferrolb_controller_is_leader"), Some(0.0));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "follower metrics never showed {in_use} in use: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn leader_that_cannot_renew_stops_writing_within_its_renew_deadline() {
    let (server, a, b) = leader_and_follower().await;
    let before: Vec<String> = (0..5).map(|i| format!("before-{i}")).collect();
    seed(&server, before.clone());
    let mut ips = all_ips(&server, &before).await;

    // The API server refuses the next Lease updates (about 2 s of renewals): the leader
    // cannot renew and must stop writing before its Lease could expire for the follower.
    server
        .calls()
        .fail_next("update", "leases.coordination.k8s.io", 500, 8);
    let broken = Instant::now();
    let stopped = a.wait_for(WAIT, |s| !s.writing).await;
    let stopped_after = broken.elapsed();
    assert!(stopped, "the leader never stopped writing");
    eprintln!("leader stopped writing {stopped_after:?} after its renewals began to fail");
    assert!(
        stopped_after < Duration::from_secs(LEASE_SECS),
        "stopped within the renew deadline, before the lease duration: {stopped_after:?}"
    );
    // Services created now wait for a leader; once updates work again, one of the two holds
    // the Lease (a new term: it lists again before writing) and they get distinct addresses.
    let during: Vec<String> = (0..5).map(|i| format!("during-{i}")).collect();
    seed(&server, during.clone());
    ips.extend(all_ips(&server, &during).await);
    let writers = [a.state().borrow().writing, b.state().borrow().writing];
    assert_eq!(
        writers.iter().filter(|w| **w).count(),
        1,
        "exactly one writer: {writers:?}"
    );
    let distinct: BTreeSet<IpAddr> = ips.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ips.len(),
        "an address was handed out twice: {ips:?}"
    );
    a.shutdown().await.expect("clean shutdown");
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_leader_whose_writes_keep_failing_hands_the_lease_over() {
    let (server, a, b) = leader_and_follower().await;
    server.calls().reset();
    // The next status writes fail (a broken path from the leader to the API server). The
    // leader's writes back off; after two lease durations without a landed write it steps down.
    server.calls().fail_next("patch", "services/status", 500, 8);
    let broken = Instant::now();
    seed(&server, ["web".to_string()]);
    assert!(
        b.wait_for(WAIT, |s| s.writing).await,
        "the follower never took over from a leader that cannot write"
    );
    eprintln!(
        "handover {:?} after the leader's writes began to fail",
        broken.elapsed()
    );
    assert!(!a.state().borrow().leader, "one leader at a time");
    assert_eq!(lease_holder(&server).as_deref(), Some("ctl-b"));
    wait_ip(&server, "default", "web").await;
    let landed = status_patches(&server, Some(200));
    assert_eq!(landed, ["web"], "one status write per allocation");
    a.shutdown().await.expect("clean shutdown");
    b.shutdown().await.expect("clean shutdown");
}
