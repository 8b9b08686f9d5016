//! The speaker configured from MetalLB's custom resources (metallb.io, `ConfigSource::Resources`):
//! an IPAddressPool, a BGPAdvertisement and a BGPPeer with a password Secret created through the
//! API announce a Service to a collector peer on loopback (real TCP with MD5); an edit of the
//! advertisement (a community) applies live without a session reset; a broken object keeps the
//! last good configuration. The CRDs are `manifests/crds.yaml` as shipped.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ferrolb_apiserver::ApiServer;
use ferrolb_bgp::driver::Password;
use ferrolb_speaker::{ConfigSource, Options};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;

mod common;

const SPEAKER_SOURCE: &str = "127.0.0.3";

async fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn api(client: &kube::Client, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", version, kind),
        plural,
    );
    Api::namespaced_with(client.clone(), "ferrolb-system", &ar)
}

fn object(v: serde_json::Value) -> DynamicObject {
    serde_json::from_value(v).expect("object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announces_from_metallb_objects_and_follows_their_edits() {
    let server = ApiServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let store = server.store();
    store
        .seed_manifests(include_str!("../../../manifests/crds.yaml"))
        .expect("MetalLB's CRDs");
    store.ensure_namespace("ferrolb-system");
    let (collector, port) = common::collector_low_port(SPEAKER_SOURCE, |peer| {
        peer.session.hold_time = 3;
        peer.password = Some(Password::new("s3cret").unwrap());
        peer.session.keep_updates = true;
    })
    .await;
    store
        .seed(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"namespace": "ferrolb-system", "name": "bgp-auth"},
            "data": {"password": "czNjcmV0"}}),
        )
        .unwrap();
    store
        .seed(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.255.1.3"}]}}),
        )
        .unwrap();
    store
        .seed(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"namespace": "default", "name": "front"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}}))
        .unwrap();
    store
        .seed(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": "default", "name": "front-abc",
                         "labels": {"kubernetes.io/service-name": "front"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.7"], "nodeName": "n1", "conditions": {"ready": true}}]}))
        .unwrap();

    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    let pools = api(&client, "v1beta1", "IPAddressPool", "ipaddresspools");
    let adverts = api(&client, "v1beta1", "BGPAdvertisement", "bgpadvertisements");
    let peers = api(&client, "v1beta2", "BGPPeer", "bgppeers");
    let pp = PostParams::default();
    pools
        .create(
            &pp,
            &object(
                json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "default", "namespace": "ferrolb-system"},
            "spec": {"addresses": ["198.51.100.0/28"]}}),
            ),
        )
        .await
        .unwrap();
    adverts
        .create(
            &pp,
            &object(
                json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": "default", "namespace": "ferrolb-system"},
            "spec": {"ipAddressPools": ["default"]}}),
            ),
        )
        .await
        .unwrap();
    peers
        .create(
            &pp,
            &object(
                json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "collector", "namespace": "ferrolb-system"},
            "spec": {"myASN": 65001, "peerASN": 65000, "peerAddress": "127.0.0.1", "peerPort": port,
                     "holdTime": "3s", "passwordSecret": {"name": "bgp-auth"}}}),
            ),
        )
        .await
        .unwrap();

    let running = ferrolb_speaker::start(
        client.clone(),
        "n1",
        Options {
            config_source: ConfigSource::Resources {
                namespace: "ferrolb-system".into(),
            },
            http_addr: None,
            source_address: Some(SPEAKER_SOURCE.parse().unwrap()),
            connect_retry: Duration::from_secs(1),
            namespace: "ferrolb-system".into(),
            events: false,
            session_states: false,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let peer: IpAddr = SPEAKER_SOURCE.parse().unwrap();
    let routes = || {
        collector
            .received_routes(peer)
            .into_iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
    };
    wait_for(
        "198.51.100.1/32 at the collector",
        Duration::from_secs(15),
        || {
            let r = routes();
            (r.len() == 1 && r[0].contains("198.51.100.1")).then_some(())
        },
    )
    .await;
    let established = collector.status()[0].established_count;

    // A live edit of the advertisement: the community 64512:100 (64512 * 65536 + 100) reaches the
    // collector, without a session reset.
    adverts
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"communities": ["64512:100"]}})),
        )
        .await
        .unwrap();
    wait_for(
        "the community on the route",
        Duration::from_secs(10),
        || {
            let r = routes();
            (r.len() == 1 && r[0].contains("Community(4227858532)")).then_some(())
        },
    )
    .await;
    assert_eq!(
        collector.status()[0].established_count,
        established,
        "no session reset"
    );

    // A broken pool: rejected, the last good configuration stays (the route is still there).
    pools
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"addresses": ["198.51.100.0/33"]}})),
        )
        .await
        .unwrap();
    let report = wait_for(
        "the rejection in the status",
        Duration::from_secs(10),
        || {
            let st = running.status();
            st.config_error.is_some().then_some(st)
        },
    )
    .await;
    assert!(report.config_loaded);
    let error = report.config_error.unwrap();
    assert!(
        error.contains("IPAddressPool/ferrolb-system/default")
            && error.contains("spec.addresses[0]"),
        "{error}"
    );
    assert_eq!(
        routes().len(),
        1,
        "the last good configuration stays announced"
    );
    running.stop().await;
    collector.shutdown("test done").await;
}
