//! A throttling or failing API server: a write that is refused fails at once (no retries hidden
//! in the kube client), other Services keep being served, each Service retries with growing
//! delays, and all retries together stay under a global rate.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[tokio::test]
async fn throttled_writes_do_not_hold_other_services() {
    let server = api_server().await;
    let handle = writing_controller(&server, "198.51.100.0/24").await;
    // The next 12 status patches are answered 429 Too Many Requests. Retried inside the kube
    // client (up to 15 times, doubling from 5 ms), they held every Service for seconds.
    server
        .calls()
        .fail_next("patch", "services/status", 429, 12);
    let started = Instant::now();
    for i in 0..5 {
        server
            .store()
            .seed(lb_service("apps", &format!("svc-{i}")))
            .expect("seed service");
    }
    let deadline = started + Duration::from_secs(5);
    loop {
        let done = (0..5)
            .filter(|i| ingress_ips(&server, "apps", &format!("svc-{i}")).len() == 1)
            .count();
        if done == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of 5 Services got an address within 5 s of twelve 429s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "5 Services written {:?} after twelve 429s",
        started.elapsed()
    );
    assert_eq!(status_patches(&server, Some(429)).len(), 12);
    assert_eq!(
        status_patches(&server, Some(200)).len(),
        5,
        "one status write per allocation"
    );
    handle.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn retries_against_a_failing_server_stay_under_the_global_rate() {
    let server = api_server().await;
    let handle = writing_controller(&server, "198.51.100.0/24").await;
    server
        .calls()
        .fail_next("patch", "services/status", 500, 1_000_000);
    const SERVICES: usize = 60;
    let started = Instant::now();
    for i in 0..SERVICES {
        server
            .store()
            .seed(lb_service("apps", &format!("svc-{i}")))
            .expect("seed service");
    }
    wait_for("a first attempt for every Service", || {
        (status_patches(&server, Some(500)).len() >= SERVICES).then_some(())
    })
    .await;
    tokio::time::sleep_until((started + Duration::from_secs(4)).into()).await;
    let attempts = status_patches(&server, None).len();
    let elapsed = started.elapsed().as_secs_f64();
    // First attempts, plus the bucket's burst (20) and its rate (10/s) over the time, plus slack.
    let bound = SERVICES as f64 + 20.0 + 10.0 * elapsed + 5.0;
    eprintln!("{attempts} status patches in {elapsed:.1} s for {SERVICES} failing Services");
    assert!(
        (attempts as f64) <= bound,
        "{attempts} attempts in {elapsed:.1} s (bound {bound:.0})"
    );
    assert!(
        attempts > SERVICES,
        "failed writes are retried ({attempts} attempts)"
    );
    handle.shutdown().await.expect("clean shutdown");
}

/// A server's `Retry-After` is a floor for the next write of that Service whatever triggers it:
/// a change of the Service and a forced relist (410) inside the wait do not write early (the
/// churn audit saw writes 170-800 ms after a 429 with `Retry-After: 1`).
#[tokio::test]
async fn retry_after_holds_against_watch_events_and_relists() {
    use ferrolb_apiserver::faults::Fault;
    let server = api_server().await;
    let handle = writing_controller(&server, "198.51.100.0/24").await;
    server.calls().inject(
        Fault::new("patch", "services/status", 429)
            .retry_after(2)
            .times(1),
    );
    server
        .store()
        .seed(lb_service("apps", "web"))
        .expect("seed service");
    let refused = wait_for("the first status write refused with 429", || {
        server
            .calls()
            .requests("patch", "services/status", Some("web"))
            .into_iter()
            .find(|r| r.status == 429)
    })
    .await;
    // Inside the wait: the Service changes (a MODIFIED event) and every watch is expired (a
    // relist), both of which make the controller look at the Service again.
    let mut changed = lb_service("apps", "web");
    changed["metadata"]["labels"] = serde_json::json!({ "touched": "yes" });
    server.store().seed(changed).expect("modify service");
    server.store().expire_watches();
    wait_ip(&server, "apps", "web").await;
    let written = server
        .calls()
        .requests("patch", "services/status", Some("web"))
        .into_iter()
        .find(|r| r.status == 200)
        .expect("a successful status write");
    let waited = written.at.duration_since(refused.at);
    eprintln!("written {waited:?} after a 429 with Retry-After: 2");
    assert!(
        waited >= Duration::from_millis(1990),
        "written {waited:?} after a 429 with Retry-After: 2"
    );
    assert_eq!(
        server
            .calls()
            .requests("patch", "services/status", Some("web"))
            .len(),
        2,
        "one refused write, then one that lands"
    );
    handle.shutdown().await.expect("clean shutdown");
}
