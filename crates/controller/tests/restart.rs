//! A restart moves no address: 1,000 Services that already have addresses (in an order the
//! allocator would never pick by itself) are registered before anything is allocated, and not one
//! of them gets a status write; new Services get addresses nobody else has.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::*;
use serde_json::json;

const V4: usize = 200;
const V6: usize = 800;
const NEW: usize = 5;

fn existing_ip(i: usize) -> IpAddr {
    if i < V4 {
        // From the top of the /24 down: the allocator would start at the bottom.
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, (255 - i) as u8))
    } else {
        let n = (V6 - (i - V4)) as u16 * 3;
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, n))
    }
}

fn seed_services(server: &ferrolb_apiserver::RunningServer) -> BTreeMap<String, IpAddr> {
    let mut expected = BTreeMap::new();
    for i in 0..V4 + V6 {
        let name = format!("svc-{i:04}");
        let ip = existing_ip(i);
        let mut svc = lb_service_with_ip("apps", &name, ip);
        if ip.is_ipv6() {
            svc["spec"]["ipFamilies"] = json!(["IPv6"]);
            svc["spec"]["ipFamilyPolicy"] = json!("SingleStack");
        }
        server.store().seed(svc).expect("seed service");
        expected.insert(name, ip);
    }
    expected
}

#[tokio::test]
async fn restart_with_1000_assigned_services_moves_nothing() {
    let server = api_server().await;
    server
        .store()
        .seed(config_map(&config_text(&[
            ("v4", &["198.51.100.0/24"]),
            ("v6", &["2001:db8:100::/116"]),
        ])))
        .expect("seed config");
    let expected = seed_services(&server);
    for i in 0..NEW {
        server
            .store()
            .seed(lb_service("apps", &format!("new-{i}")))
            .expect("seed new service");
    }
    server.calls().reset();

    for round in 0..2 {
        let started = std::time::Instant::now();
        let handle = ferrolb_controller::start(client(&server), options("ctl-0", Some(2)))
            .await
            .expect("start controller");
        wait_writing(&handle).await;
        let mut new_ips = BTreeSet::new();
        for i in 0..NEW {
            new_ips.insert(wait_ip(&server, "apps", &format!("new-{i}")).await);
        }
        let elapsed = started.elapsed();

        for (name, ip) in &expected {
            assert_eq!(
                ingress_ips(&server, "apps", name),
                vec![*ip],
                "round {round}: {name} kept its address"
            );
        }
        let existing: BTreeSet<IpAddr> = expected.values().copied().collect();
        assert_eq!(new_ips.len(), NEW, "new Services got distinct addresses");
        assert!(
            new_ips.is_disjoint(&existing),
            "no new Service got an address already in use: {new_ips:?}"
        );

        let patched: Vec<String> = status_writes(&server);
        let expected_patches = if round == 0 { NEW } else { 0 };
        assert_eq!(
            patched.len(),
            expected_patches,
            "round {round}: status writes only for the new Services, got {patched:?}"
        );
        assert!(patched.iter().all(|n| n.starts_with("new-")), "{patched:?}");
        eprintln!(
            "round {round}: {} Services registered, {} status writes, synced and writing in {elapsed:?}",
            expected.len() + NEW,
            patched.len()
        );

        // In use: every existing address plus the new ones, per pool.
        let (_, body) = http_get(handle.metrics_addr().expect("metrics"), "/metrics").await;
        let in_use_v4 = metric(
            &body,
            "ferrolb_allocator_addresses_in_use_total{pool=\"v4\"}",
        );
        let in_use_v6 = metric(
            &body,
            "ferrolb_allocator_addresses_in_use_total{pool=\"v6\"}",
        );
        assert_eq!(
            in_use_v4.unwrap_or(0.0) + in_use_v6.unwrap_or(0.0),
            (V4 + V6 + NEW) as f64,
            "{body}"
        );
        assert_eq!(in_use_v6, Some(V6 as f64), "{body}");

        handle.shutdown().await.expect("clean shutdown");
        server.calls().reset();
    }
}

#[tokio::test]
async fn watch_expired_410_relists_and_writes_nothing() {
    let server = api_server().await;
    server
        .store()
        .seed(config_map(&config_text(&[("v4", &["198.51.100.0/24"])])))
        .expect("seed config");
    for i in 0..50 {
        server
            .store()
            .seed(lb_service_with_ip(
                "apps",
                &format!("svc-{i}"),
                existing_ip(i),
            ))
            .expect("seed service");
    }
    let handle = ferrolb_controller::start(client(&server), options("ctl-0", None))
        .await
        .expect("start controller");
    wait_writing(&handle).await;
    // The watch must be open before its cache is dropped (a watch opened later would start
    // after the compaction and need no relist).
    wait_for("the Service watch to be open", || {
        (server.calls().count("watch", "services") >= 1).then_some(())
    })
    .await;
    server.calls().reset();

    // The API server drops its watch cache: every watch ends with 410 Gone and lists again.
    server.store().expire_watches();
    server
        .store()
        .seed(lb_service("apps", "after-relist"))
        .expect("seed service");
    let new_ip = wait_ip(&server, "apps", "after-relist").await;
    assert!(
        server.calls().count("list", "services") >= 1,
        "the controller listed again"
    );
    // Only the new Service is written, and once: when its write races the relist, the list
    // can still show it without status, and the controller must not write the same again.
    let written: Vec<String> = status_writes(&server);
    assert_eq!(written, ["after-relist"], "status writes after the relist");
    for i in 0..50 {
        assert_eq!(
            ingress_ips(&server, "apps", &format!("svc-{i}")),
            vec![existing_ip(i)]
        );
        assert_ne!(new_ip, existing_ip(i));
    }
    handle.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn start_with_a_config_that_would_take_an_address_away_rejects_it() {
    let server = api_server().await;
    let store = server.store();
    // The ConfigMap was edited while no controller ran: its pool no longer covers svc-0's address.
    store
        .seed(config_map(&config_text(&[(
            "narrow",
            &["198.51.100.0/28"],
        )])))
        .expect("seed config");
    store
        .seed(lb_service_with_ip("apps", "svc-0", existing_ip(0)))
        .expect("seed service");
    store
        .seed(lb_service("apps", "waiting"))
        .expect("seed service");
    let handle = ferrolb_controller::start(client(&server), options("ctl-0", None))
        .await
        .expect("start controller");
    let metrics = handle.metrics_addr().expect("metrics");
    let rejected = wait_for("ConfigRejected Event naming apps/svc-0", || {
        let e = events_for(
            &server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "ConfigRejected",
        );
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert!(rejected[0].1.contains("apps/svc-0"), "{}", rejected[0].1);
    let (code, body) = http_get(metrics, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(metric(&body, "ferrolb_config_stale"), Some(1.0), "{body}");
    assert_eq!(metric(&body, "ferrolb_config_loaded"), Some(0.0), "{body}");
    assert_eq!(http_get(metrics, "/readyz").await.0, 503);
    assert_eq!(ingress_ips(&server, "apps", "svc-0"), vec![existing_ip(0)]);
    assert!(ingress_ips(&server, "apps", "waiting").is_empty());
    assert_eq!(server.calls().count("patch", "services/status"), 0);

    // The pool is widened again: loaded, nothing moved, the waiting Service gets an address.
    store
        .seed(config_map(&config_text(&[("v4", &["198.51.100.0/24"])])))
        .expect("fix config");
    let got = wait_ip(&server, "apps", "waiting").await;
    assert_ne!(got, existing_ip(0));
    assert_eq!(ingress_ips(&server, "apps", "svc-0"), vec![existing_ip(0)]);
    assert_eq!(server.calls().count("patch", "services/status"), 1);
    handle.shutdown().await.expect("clean shutdown");
}
