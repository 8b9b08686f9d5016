//! The promise that one address is never shown by two Services, held at every instant, through
//! the real kube client against the API fixture:
//! - a copy of a Service older than the controller's own status write (a stale list) cannot free
//!   the address that write gave it;
//! - a write decided for a Service that was deleted and re-created under the same name never
//!   lands on the new object (the write is conditional on uid and resourceVersion);
//! - a leader whose lease deadline passed without renewal (a paused process) writes nothing.
//!
//! The reconciler is driven with exactly these sequences, so each runs the same way every time.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::*;
use ferrolb_apiserver::RunningServer;
use ferrolb_controller::leader::Leadership;
use ferrolb_controller::reconciler::Reconciler;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::watcher::Event;
use kube::Api;
use serde_json::json;
use tokio::sync::watch;

/// The only address of the pool: whoever else gets it shares it.
const ONLY: &str = "198.51.100.10";

/// A reconciler that leads (term 1) with a one-address pool, with the lease proven held until
/// `valid_until`; the returned sender plays its elector.
async fn reconciler(
    server: &RunningServer,
    valid_until: Option<Instant>,
) -> (Reconciler, watch::Sender<Leadership>) {
    let leadership = Leadership {
        leader: true,
        term: 1,
        valid_until,
    };
    let (gate_tx, gate_rx) = watch::channel(leadership);
    let pool = format!("{ONLY}/32");
    let reconciler = leading_reconciler(
        server,
        &[("only", &[pool.as_str()])],
        leadership,
        Some(gate_rx),
    )
    .await;
    (reconciler, gate_tx)
}

fn only() -> IpAddr {
    ONLY.parse().expect("literal address")
}

async fn set_type(services: &Api<Service>, name: &str, kind: &str) -> Service {
    services
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "type": kind } })),
        )
        .await
        .expect("change the type")
}

#[tokio::test]
async fn a_copy_older_than_the_own_write_does_not_free_the_address() {
    let server = api_server().await;
    let mut cluster_ip = lb_service("apps", "web");
    cluster_ip["spec"]["type"] = json!("ClusterIP");
    server.store().seed(cluster_ip).expect("seed web");
    let services: Api<Service> = Api::namespaced(client(&server), "apps");
    let web_as_cluster_ip = services.get("web").await.expect("get web");
    let web_as_lb = set_type(&services, "web", "LoadBalancer").await;

    let (mut reconciler, _gate) = reconciler(&server, None).await;
    relist(&mut reconciler, std::slice::from_ref(&web_as_lb)).await;
    assert_eq!(ingress_ips(&server, "apps", "web"), vec![only()]);

    // A relist hands back web as it was before it became a LoadBalancer (older than the
    // address write), together with a new Service that wants an address.
    server
        .store()
        .seed(lb_service("apps", "api"))
        .expect("seed api");
    let api = services.get("api").await.expect("get api");
    relist(&mut reconciler, &[web_as_cluster_ip, api.clone()]).await;
    assert_eq!(
        ingress_ips(&server, "apps", "web"),
        vec![only()],
        "web still shows the address"
    );
    assert!(
        ingress_ips(&server, "apps", "api").is_empty(),
        "api must not get the address web shows"
    );

    // web really stops being a LoadBalancer: its status is cleared first, then api gets it.
    let web_now = set_type(&services, "web", "ClusterIP").await;
    reconciler.on_service_event(Event::Apply(web_now)).await;
    assert!(ingress_ips(&server, "apps", "web").is_empty());
    assert_eq!(ingress_ips(&server, "apps", "api"), vec![only()]);
    assert_eq!(
        status_patches(&server, Some(200)),
        ["web", "web", "api"],
        "assign web, clear web, then assign api"
    );
}

#[tokio::test]
async fn a_write_for_a_deleted_service_never_lands_on_its_successor() {
    let server = api_server().await;
    server
        .store()
        .seed(lb_service("apps", "web"))
        .expect("seed web");
    let services: Api<Service> = Api::namespaced(client(&server), "apps");
    let old = services.get("web").await.expect("get web");
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete web");
    server
        .store()
        .seed(lb_service("apps", "web"))
        .expect("re-create web");
    let new = services.get("web").await.expect("get the new web");
    assert_ne!(old.metadata.uid, new.metadata.uid);

    // The controller still knows the old object (the deletion is not in its watch yet).
    let (mut reconciler, _gate) = reconciler(&server, None).await;
    relist(&mut reconciler, std::slice::from_ref(&old)).await;
    assert!(
        ingress_ips(&server, "apps", "web").is_empty(),
        "a write meant for the deleted web landed on the new one"
    );
    assert_eq!(
        status_patches(&server, Some(409)),
        ["web"],
        "refused by precondition"
    );

    // The watch catches up: the new object gets the address, with one write.
    reconciler.on_service_event(Event::Delete(old)).await;
    reconciler.on_service_event(Event::Apply(new)).await;
    assert_eq!(ingress_ips(&server, "apps", "web"), vec![only()]);
    assert_eq!(status_patches(&server, Some(200)), ["web"]);
}

#[tokio::test]
async fn past_the_lease_deadline_nothing_is_written() {
    let server = api_server().await;
    for name in ["a", "b"] {
        server
            .store()
            .seed(lb_service("apps", name))
            .expect("seed service");
    }
    let services: Api<Service> = Api::namespaced(client(&server), "apps");
    let a = services.get("a").await.expect("get a");
    let b = services.get("b").await.expect("get b");
    let lease = Duration::from_millis(300);
    let renewed = Instant::now();
    let (mut reconciler, gate) = reconciler(&server, Some(renewed + lease)).await;
    relist(&mut reconciler, &[]).await;

    // Within the deadline a Service is written.
    reconciler.on_service_event(Event::Apply(a.clone())).await;
    assert_eq!(ingress_ips(&server, "apps", "a"), vec![only()]);
    // a goes away, b arrives: but the process was paused past the deadline and the elector has
    // not run since (it still says "leader", same term).
    services
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete a");
    tokio::time::sleep_until((renewed + lease).into()).await;
    assert!(gate.borrow().leader, "the elector has not spoken");
    reconciler.on_service_event(Event::Delete(a)).await;
    reconciler.on_service_event(Event::Apply(b)).await;
    assert!(
        ingress_ips(&server, "apps", "b").is_empty(),
        "written after the lease deadline"
    );
    assert_eq!(status_patches(&server, Some(200)), ["a"]);

    // The elector renews (same term): b, kept for a later look, is written then.
    gate.send_modify(|l| l.valid_until = Some(Instant::now() + WAIT));
    let due = reconciler.next_retry().expect("b is kept for a later look");
    tokio::time::sleep_until(due.into()).await;
    reconciler.retry_due().await;
    assert_eq!(ingress_ips(&server, "apps", "b"), vec![only()]);
}
