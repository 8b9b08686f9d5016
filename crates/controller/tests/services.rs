//! Create, update and delete Services against the in-memory API server with the real kube client:
//! addresses are written to the status, Events are written, a type change clears the status and
//! frees the address, a deleted Service's address is given to the next one.

mod common;

use std::net::IpAddr;

use common::*;
use ferrolb_controller::ControllerEvent;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

#[tokio::test]
async fn services_get_addresses_and_release_them() {
    let server = api_server().await;
    server
        .store()
        .seed(config_map(&config_text(&[(
            "small",
            &["198.51.100.10-198.51.100.11"],
        )])))
        .expect("seed config");
    let client = client(&server);
    let handle = ferrolb_controller::start(client.clone(), options("ctl-0", Some(2)))
        .await
        .expect("start controller");
    wait_writing(&handle).await;
    let mut outcomes = handle.subscribe();

    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let create = |name: &str| {
        let svc: Service = serde_json::from_value(lb_service("default", name)).expect("service");
        let services = services.clone();
        async move {
            services
                .create(&PostParams::default(), &svc)
                .await
                .expect("create service")
        }
    };

    // Two addresses, two Services: each gets one, distinct, from the pool, with an Event.
    create("a").await;
    let a = wait_ip(&server, "default", "a").await;
    // The same allocation, as `ferrolb demo` sees it.
    let outcome = tokio::time::timeout(WAIT, outcomes.recv())
        .await
        .expect("an outcome in time")
        .expect("outcome channel open");
    assert_eq!(
        outcome,
        ControllerEvent::Allocated {
            namespace: "default".into(),
            name: "a".into(),
            ips: vec![a],
            pool: "small".into(),
        }
    );
    create("b").await;
    let b = wait_ip(&server, "default", "b").await;
    assert_ne!(a, b);
    for got in [a, b] {
        assert!(
            got == ip("198.51.100.10") || got == ip("198.51.100.11"),
            "{got}"
        );
    }
    let allocated = wait_for("IPAllocated Event on default/a", || {
        let events = events_for(&server, "Service", "default", "a", "IPAllocated");
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(allocated[0].0, "Normal");
    assert!(
        allocated[0].1.contains(&a.to_string()) && allocated[0].1.contains("small"),
        "message names the IP and the pool: {}",
        allocated[0].1
    );

    // The pool is exhausted: the third gets a Warning with the reason, and no address.
    create("c").await;
    let failed = wait_for("AllocationFailed Event on default/c", || {
        let events = events_for(&server, "Service", "default", "c", "AllocationFailed");
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(failed[0].0, "Warning");
    assert!(
        failed[0].1.contains("small")
            || failed[0].1.contains("exhausted")
            || failed[0].1.contains("no"),
        "readable reason: {}",
        failed[0].1
    );
    assert!(ingress_ips(&server, "default", "c").is_empty());

    // Deleting a frees its address: c gets it.
    services
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete a");
    let c = wait_ip(&server, "default", "c").await;
    assert_eq!(c, a, "the deleted Service's address is reused");

    // e waits for an address (pool exhausted) ...
    create("e").await;
    wait_for("AllocationFailed Event on default/e", || {
        (!events_for(&server, "Service", "default", "e", "AllocationFailed").is_empty())
            .then_some(())
    })
    .await;
    // ... b stops being a LoadBalancer: its status is cleared, its address released, and e,
    // which was waiting, gets it.
    services
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "type": "ClusterIP" } })),
        )
        .await
        .expect("patch b to ClusterIP");
    wait_for("default/b status cleared", || {
        ingress_ips(&server, "default", "b")
            .is_empty()
            .then_some(())
    })
    .await;
    let e = wait_ip(&server, "default", "e").await;
    assert_eq!(e, b, "the address b released goes to e, which was waiting");

    // Metrics: two of two in use.
    let addr = handle.metrics_addr().expect("metrics address");
    let (code, body) = http_get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(
        metric(&body, "ferrolb_allocator_addresses_total{pool=\"small\"}"),
        Some(2.0),
        "{body}"
    );
    assert_eq!(
        metric(
            &body,
            "ferrolb_allocator_addresses_in_use_total{pool=\"small\"}"
        ),
        Some(2.0),
        "{body}"
    );
    assert_eq!(metric(&body, "ferrolb_config_loaded"), Some(1.0), "{body}");
    assert_eq!(metric(&body, "ferrolb_config_stale"), Some(0.0), "{body}");
    assert_eq!(http_get(addr, "/readyz").await.0, 200);
    assert_eq!(http_get(addr, "/healthz").await.0, 200);

    handle.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn not_ready_without_config_and_no_address_until_one_arrives() {
    let server = api_server().await;
    server
        .store()
        .seed(lb_service("default", "early"))
        .expect("seed service");
    let handle = ferrolb_controller::start(client(&server), options("ctl-0", None))
        .await
        .expect("start controller");
    let addr = handle.metrics_addr().expect("metrics address");
    assert!(handle.wait_for(WAIT, |s| s.synced).await, "initial sync");
    let (code, body) = http_get(addr, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("no valid configuration"), "{body}");
    assert!(ingress_ips(&server, "default", "early").is_empty());

    // The ConfigMap appears: applied live, the waiting Service gets its address.
    server
        .store()
        .seed(config_map(&config_text(&[(
            "default",
            &["198.51.100.0/28"],
        )])))
        .expect("seed config");
    let got = wait_ip(&server, "default", "early").await;
    assert!(got.to_string().starts_with("198.51.100."), "{got}");
    assert_eq!(http_get(addr, "/readyz").await.0, 200);
    handle.shutdown().await.expect("clean shutdown");
}
