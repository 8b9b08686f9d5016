//! Live configuration: a broken ConfigMap keeps the last good pools in force (new Services still
//! get addresses from them), writes a Warning Event on the ConfigMap and sets
//! `ferrolb_config_stale`; a valid config that would take an address away is rejected naming the
//! Service; a good config applies without a restart and clears the stale flag.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::*;
use ipnet::IpNet;
use serde_json::json;

fn in_net(ip: IpAddr, net: &str) -> bool {
    net.parse::<IpNet>().expect("literal network").contains(&ip)
}

async fn wait_stale(addr: SocketAddr, stale: f64) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, body) = http_get(addr, "/metrics").await;
        if metric(&body, "ferrolb_config_stale") == Some(stale) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ferrolb_config_stale never became {stale}: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn broken_and_rejected_configs_keep_the_last_good_one() {
    let server = api_server().await;
    let store = server.store();
    store
        .seed(config_map(&config_text(&[("old", &["198.51.100.0/28"])])))
        .expect("seed config");
    let handle = ferrolb_controller::start(client(&server), options("ctl-0", Some(2)))
        .await
        .expect("start controller");
    wait_writing(&handle).await;
    let metrics = handle.metrics_addr().expect("metrics");
    let body = wait_stale(metrics, 0.0).await;
    assert_eq!(metric(&body, "ferrolb_config_loaded"), Some(1.0), "{body}");

    store.seed(lb_service("default", "s1")).expect("seed s1");
    let s1 = wait_ip(&server, "default", "s1").await;
    assert!(in_net(s1, "198.51.100.0/28"), "{s1}");

    // 1. A broken document: every error is reported, the old pool keeps serving.
    let broken = "address-pools:\n- name: new\n  protocol: bgp\n  addresses:\n  - 198.51.100.64/33\n  hold_time: 3s\n";
    store.seed(config_map(broken)).expect("break config");
    wait_stale(metrics, 1.0).await;
    let events = wait_for("InvalidConfig Event on the ConfigMap", || {
        let e = events_for(
            &server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "InvalidConfig",
        );
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(events[0].0, "Warning");
    assert!(
        events[0].1.contains("address-pools[0].addresses[0]")
            && events[0].1.contains("198.51.100.64/33"),
        "the Event names the field and the value: {}",
        events[0].1
    );
    store.seed(lb_service("default", "s2")).expect("seed s2");
    let s2 = wait_ip(&server, "default", "s2").await;
    assert!(
        in_net(s2, "198.51.100.0/28"),
        "new Services still use the old pool: {s2}"
    );
    assert_ne!(s1, s2);

    // 2. A valid config that would take s1's and s2's addresses away: rejected, Services named.
    store
        .seed(config_map(&config_text(&[(
            "other",
            &["198.51.100.128/28"],
        )])))
        .expect("config without the old pool");
    let rejected = wait_for("ConfigRejected Event on the ConfigMap", || {
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
    assert_eq!(rejected[0].0, "Warning");
    assert!(
        rejected[0].1.contains("default/s1") && rejected[0].1.contains("default/s2"),
        "the Event names the Services that block the change: {}",
        rejected[0].1
    );
    wait_stale(metrics, 1.0).await;
    store.seed(lb_service("default", "s3")).expect("seed s3");
    let s3 = wait_ip(&server, "default", "s3").await;
    assert!(
        in_net(s3, "198.51.100.0/28"),
        "old pool still in force: {s3}"
    );
    assert_eq!(
        ingress_ips(&server, "default", "s1"),
        vec![s1],
        "s1 kept its address"
    );

    // 3. A good config adding a pool: applied live, stale cleared, the new pool is usable.
    store
        .seed(config_map(&config_text(&[
            ("old", &["198.51.100.0/28"]),
            ("extra", &["198.51.100.200-198.51.100.201"]),
        ])))
        .expect("good config");
    let body = wait_stale(metrics, 0.0).await;
    assert_eq!(
        metric(&body, "ferrolb_allocator_addresses_total{pool=\"extra\"}"),
        Some(2.0),
        "{body}"
    );
    let mut svc = lb_service("default", "s4");
    svc["metadata"]["annotations"] = json!({ "ferrolb.io/address-pool": "extra" });
    store.seed(svc).expect("seed s4");
    let s4 = wait_ip(&server, "default", "s4").await;
    assert!(in_net(s4, "198.51.100.200/31"), "{s4}");
    assert!(
        !events_for(
            &server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "ConfigLoaded"
        )
        .is_empty(),
        "a Normal Event says the config loaded"
    );
    for (name, ip) in [("s1", s1), ("s2", s2), ("s3", s3)] {
        assert_eq!(
            ingress_ips(&server, "default", name),
            vec![ip],
            "{name} moved"
        );
    }
    handle.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn config_file_source_applies_changes_live() {
    let dir = std::env::temp_dir().join(format!("flb-ctl-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config.yaml");
    std::fs::write(&path, config_text(&[("file", &["198.51.100.32/30"])])).expect("write config");
    let server = api_server().await;
    let mut opts = options("ctl-0", None);
    opts.config_source = ferrolb_controller::ConfigSource::File(path.clone());
    opts.file_poll_interval = std::time::Duration::from_millis(50);
    let handle = ferrolb_controller::start(client(&server), opts)
        .await
        .expect("start controller");
    wait_writing(&handle).await;
    server
        .store()
        .seed(lb_service("default", "f1"))
        .expect("seed f1");
    let f1 = wait_ip(&server, "default", "f1").await;
    assert!(in_net(f1, "198.51.100.32/30"), "{f1}");

    std::fs::write(&path, "address-pools: [").expect("break config");
    wait_stale(handle.metrics_addr().expect("metrics"), 1.0).await;
    std::fs::write(
        &path,
        config_text(&[
            ("file", &["198.51.100.32/30"]),
            ("more", &["198.51.100.40/30"]),
        ]),
    )
    .expect("fix config");
    let body = wait_stale(handle.metrics_addr().expect("metrics"), 0.0).await;
    assert_eq!(
        metric(&body, "ferrolb_allocator_addresses_total{pool=\"more\"}"),
        Some(4.0),
        "{body}"
    );
    handle.shutdown().await.expect("clean shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn fixing_a_broken_config_writes_config_loaded_again() {
    let server = api_server().await;
    let store = server.store();
    let handle = writing_controller(&server, "198.51.100.0/28").await;
    let good = config_text(&[("p", &["198.51.100.0/28"])]);
    let loaded = || {
        events_for(
            &server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "ConfigLoaded",
        )
    };
    wait_for("the first ConfigLoaded Event", || {
        (loaded().len() == 1).then_some(())
    })
    .await;

    store
        .seed(config_map("address-pools: [oops\n"))
        .expect("break config");
    wait_for("the InvalidConfig Event", || {
        let e = events_for(
            &server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "InvalidConfig",
        );
        (!e.is_empty()).then_some(())
    })
    .await;

    // The same good text as before: the documentation promises a ConfigLoaded Event.
    store.seed(config_map(&good)).expect("fix config");
    let events = wait_for("a second ConfigLoaded Event after the fix", || {
        let e = loaded();
        (e.len() == 2).then_some(e)
    })
    .await;
    assert!(
        events.iter().all(|(kind, _)| kind == "Normal"),
        "{events:?}"
    );
    handle.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_config_change_is_seen_within_seconds_after_the_api_server_recovers() {
    let server = api_server().await;
    let store = server.store();
    let handle = writing_controller(&server, "198.51.100.0/28").await;

    // The API server goes away for a while: the ConfigMap watch ends and its next five
    // attempts fail. With client-go's backoff (0.8 s doubling to 30 s) the sixth attempt came
    // about 25 s later; capped at 3 s it comes within 7 s.
    server.calls().fail_next("watch", "configmaps", 500, 5);
    store.close_watches();
    let broken_at = std::time::Instant::now();
    store
        .seed(config_map("address-pools: [oops\n"))
        .expect("break config");
    let seen = handle
        .wait_for(std::time::Duration::from_secs(8), |s| s.config_stale)
        .await;
    assert!(
        seen,
        "the ConfigMap change was not seen within 8 s (5 failed watch attempts)"
    );
    eprintln!("config change seen after {:?}", broken_at.elapsed());
    assert!(server.calls().count("watch", "configmaps") >= 6);
    handle.shutdown().await.expect("clean shutdown");
}
