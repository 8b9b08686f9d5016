//! Live configuration from MetalLB's custom resources (metallb.io) with `ConfigSource::Auto`: the
//! ConfigMap while no IPAddressPool exists, the objects once one is created through the API; an
//! edit of an object applies live; a broken object keeps the last good configuration and sets
//! `ferrolb_config_stale`. The CRDs are `manifests/crds.yaml` as shipped.

mod common;

use std::net::IpAddr;

use common::*;
use ferrolb_controller::ConfigSource;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{json, Value};

fn in_net(ip: IpAddr, net: &str) -> bool {
    net.parse::<ipnet::IpNet>()
        .expect("literal network")
        .contains(&ip)
}

fn pools(client: kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta1", "IPAddressPool"),
        "ipaddresspools",
    );
    Api::namespaced_with(client, "ferrolb-system", &ar)
}

fn pool(name: &str, addresses: &[&str]) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": "ferrolb-system"},
        "spec": {"addresses": addresses},
    }))
    .expect("pool")
}

/// A Service asking for pool `pool` (and optionally one address).
fn service_in(name: &str, pool: &str, ip: Option<&str>) -> Value {
    let mut svc = lb_service("default", name);
    svc["metadata"]["annotations"] = json!({"metallb.universe.tf/address-pool": pool});
    if let Some(ip) = ip {
        svc["metadata"]["annotations"]["metallb.universe.tf/loadBalancerIPs"] = json!(ip);
    }
    svc
}

async fn wait_metric(addr: std::net::SocketAddr, series: &str, value: f64) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, body) = http_get(addr, "/metrics").await;
        if metric(&body, series) == Some(value) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{series} never became {value}: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_source_follows_the_ipaddresspools_live() {
    let server = api_server().await;
    let store = server.store();
    store
        .seed_manifests(include_str!("../../../manifests/crds.yaml"))
        .expect("MetalLB's CRDs from manifests/crds.yaml");
    store
        .seed(config_map(&config_text(&[(
            "default",
            &["198.51.100.0/28"],
        )])))
        .expect("seed config");
    let mut options = options("ctl-0", None);
    options.config_source = ConfigSource::Auto {
        namespace: "ferrolb-system".into(),
        name: "config".into(),
    };
    let handle = ferrolb_controller::start(client(&server), options)
        .await
        .expect("start controller");
    wait_writing(&handle).await;
    let metrics = handle.metrics_addr().expect("metrics");

    // No IPAddressPool: the ConfigMap is in force.
    store.seed(lb_service("default", "s1")).expect("seed s1");
    let s1 = wait_ip(&server, "default", "s1").await;
    assert!(in_net(s1, "198.51.100.0/28"), "{s1}");
    // Only the IPAddressPools are watched while none exists (the other kinds are not needed).
    let other_kinds = [
        "bgppeers.metallb.io",
        "bgpadvertisements.metallb.io",
        "communities.metallb.io",
        "bfdprofiles.metallb.io",
        "l2advertisements.metallb.io",
    ];
    let calls_on = |resource: &str| {
        let calls = server.calls();
        calls.requests("list", resource, None).len() + calls.requests("watch", resource, None).len()
    };
    assert!(
        calls_on("ipaddresspools.metallb.io") > 0,
        "pools not watched"
    );
    for resource in other_kinds {
        assert_eq!(
            calls_on(resource),
            0,
            "{resource} watched while no pool exists"
        );
    }

    // An IPAddressPool created through the API: the objects are in force (pool `extra` exists
    // only there), and `default` keeps s1's address valid.
    let api = pools(client(&server));
    api.create(
        &PostParams::default(),
        &pool("default", &["198.51.100.0/28"]),
    )
    .await
    .expect("create pool default");
    api.create(
        &PostParams::default(),
        &pool("extra", &["198.51.100.64/30"]),
    )
    .await
    .expect("create pool extra");
    store
        .seed(service_in("s2", "extra", None))
        .expect("seed s2");
    let s2 = wait_ip(&server, "default", "s2").await;
    assert!(in_net(s2, "198.51.100.64/30"), "{s2}");
    // A pool exists: every kind was listed before the objects came into force.
    for resource in other_kinds {
        assert!(
            !server.calls().requests("list", resource, None).is_empty(),
            "{resource} not listed once a pool exists"
        );
    }

    // The leader writes the pools' counts on their status (MetalLB's fields), on changes only.
    let counts = |name: &str, v4: (u64, u64)| {
        let name = name.to_string();
        move |o: Option<&Value>| {
            o.is_some_and(|o| {
                o["status"]
                    == json!({"assignedIPv4": v4.0, "availableIPv4": v4.1,
                              "assignedIPv6": 0, "availableIPv6": 0})
                    && o["metadata"]["name"] == name.as_str()
            })
        }
    };
    let pools_res = "ipaddresspools.metallb.io";
    let timeout = std::time::Duration::from_secs(5);
    store
        .wait_for(
            pools_res,
            "ferrolb-system",
            "extra",
            timeout,
            counts("extra", (1, 3)),
        )
        .await
        .unwrap_or_else(|last| panic!("extra: {last:?}"));
    store
        .wait_for(
            pools_res,
            "ferrolb-system",
            "default",
            timeout,
            counts("default", (1, 15)),
        )
        .await
        .unwrap_or_else(|last| panic!("default: {last:?}"));

    // A live edit: a second range in `extra`, and a Service asking for an address in it.
    store
        .seed(service_in("s3", "extra", Some("198.51.100.130")))
        .expect("seed s3");
    api.patch(
        "extra",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"addresses": ["198.51.100.64/30", "198.51.100.128/28"]}})),
    )
    .await
    .expect("edit pool extra");
    let s3 = wait_ip(&server, "default", "s3").await;
    assert_eq!(s3, "198.51.100.130".parse::<IpAddr>().unwrap());
    wait_metric(metrics, "ferrolb_config_stale", 0.0).await;
    store
        .wait_for(
            pools_res,
            "ferrolb-system",
            "extra",
            timeout,
            counts("extra", (2, 18)),
        )
        .await
        .unwrap_or_else(|last| panic!("extra after the edit: {last:?}"));
    // Written on changes only (default: 1/15; extra: 0/4, 1/3, 1/19, 2/18 at most), each pool
    // at most once a second.
    let writes = server
        .calls()
        .requests("patch", "ipaddresspools.metallb.io/status", None);
    assert!(
        (2..=5).contains(&writes.len()),
        "{} status writes",
        writes.len()
    );
    for pool in ["default", "extra"] {
        let times: Vec<_> = writes
            .iter()
            .filter(|w| w.name.as_deref() == Some(pool))
            .map(|w| w.at)
            .collect();
        // Times are the server's arrival times: a loaded machine can delay one request's
        // arrival by some milliseconds, so 100 ms of slack (writes without the limit would be
        // milliseconds apart).
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= std::time::Duration::from_millis(900),
                "two status writes of {pool} within a second: {:?} apart",
                pair[1] - pair[0]
            );
        }
    }

    // A broken object: the last good configuration stays (a new Service still gets an address
    // from `extra`), and the config is marked stale.
    api.patch(
        "extra",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"addresses": ["198.51.100.64/33"]}})),
    )
    .await
    .expect("break pool extra");
    wait_metric(metrics, "ferrolb_config_stale", 1.0).await;
    let events = wait_for("an InvalidConfig Event on IPAddressPool extra", || {
        let e = events_for(
            &server,
            "IPAddressPool",
            "ferrolb-system",
            "extra",
            "InvalidConfig",
        );
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(events[0].0, "Warning");
    assert!(
        events[0]
            .1
            .contains("IPAddressPool/ferrolb-system/extra: spec.addresses[0]"),
        "{events:?}"
    );
    store
        .seed(service_in("s4", "extra", None))
        .expect("seed s4");
    let s4 = wait_ip(&server, "default", "s4").await;
    assert!(
        in_net(s4, "198.51.100.64/30") || in_net(s4, "198.51.100.128/28"),
        "{s4}"
    );
    assert_eq!(
        ingress_ips(&server, "default", "s2"),
        vec![s2],
        "s2 kept its address"
    );
    handle.shutdown().await.expect("clean shutdown");
}
