//! A relist (after 410 Gone) can return a list taken before the controller's own status write
//! landed. The reconciler is driven with exactly that sequence, through the real kube client
//! against the API fixture: the stale list (older than the answer to the write, which the
//! controller keeps as the newest copy) must not cause the same status to be written again,
//! while a real change seen later still is.

mod common;

use common::*;
use ferrolb_controller::leader::Leadership;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::Event;
use kube::Api;
use serde_json::json;

#[tokio::test]
async fn a_list_older_than_the_own_write_writes_nothing_again() {
    let server = api_server().await;
    server
        .store()
        .seed(lb_service("apps", "web"))
        .expect("seed service");
    let services: Api<Service> = Api::namespaced(client(&server), "apps");
    let without_status = services.get("web").await.expect("get web");

    let leader = Leadership {
        leader: true,
        term: 1,
        valid_until: None,
    };
    let mut reconciler =
        leading_reconciler(&server, &[("v4", &["198.51.100.0/28"])], leader, None).await;
    server.calls().reset();

    // first list: no status yet -> one write
    relist(&mut reconciler, std::slice::from_ref(&without_status)).await;
    assert_eq!(
        status_writes(&server).len(),
        1,
        "the first list writes the status"
    );
    let ip = wait_ip(&server, "apps", "web").await;

    // a relist whose list predates that write: nothing to write
    relist(&mut reconciler, std::slice::from_ref(&without_status)).await;
    assert_eq!(
        status_writes(&server).len(),
        1,
        "a stale list must not write again"
    );

    // the watch shows the write: nothing to write either
    let with_status = services.get("web").await.expect("get web");
    reconciler.on_service_event(Event::Apply(with_status)).await;
    assert_eq!(status_writes(&server).len(), 1);

    // someone clears the status afterwards: that is a real change, written back
    services
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": []}}})),
        )
        .await
        .expect("clear the status");
    let cleared = services.get("web").await.expect("get web");
    let before = status_writes(&server).len();
    reconciler.on_service_event(Event::Apply(cleared)).await;
    assert_eq!(
        status_writes(&server).len(),
        before + 1,
        "a cleared status is written back"
    );
    assert_eq!(
        ingress_ips(&server, "apps", "web"),
        vec![ip],
        "same address"
    );
}
