//! A relist (after 410 Gone) can return a list taken before the controller's own status write
//! landed. The reconciler is driven with exactly that sequence, through the real kube client
//! against the API fixture: the stale list must not cause the same status to be written again,
//! while a real change seen later still is.

mod common;

use std::sync::Arc;

use common::*;
use ferrolb_controller::config_source::ConfigUpdate;
use ferrolb_controller::health::Readiness;
use ferrolb_controller::leader::Leadership;
use ferrolb_controller::metrics::Metrics;
use ferrolb_controller::reconciler::Reconciler;
use ferrolb_controller::ControllerState;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::Event;
use kube::Api;
use serde_json::json;
use tokio::sync::{broadcast, watch};

async fn relist(reconciler: &mut Reconciler, listed: &Service) {
    reconciler.on_service_event(Event::Init).await;
    reconciler
        .on_service_event(Event::InitApply(listed.clone()))
        .await;
    reconciler.on_service_event(Event::InitDone).await;
}

#[tokio::test]
async fn a_list_older_than_the_own_write_writes_nothing_again() {
    let server = api_server().await;
    server
        .store()
        .seed(lb_service("apps", "web"))
        .expect("seed service");
    let client = client(&server);
    let services: Api<Service> = Api::namespaced(client.clone(), "apps");
    let without_status = services.get("web").await.expect("get web");

    let (state, _state_rx) = watch::channel(ControllerState::default());
    let (events, _events_rx) = broadcast::channel(64);
    let mut reconciler = Reconciler::new(
        client,
        "test".into(),
        None,
        Metrics::new(),
        Arc::new(Readiness::default()),
        state,
        events,
    );
    reconciler.set_leadership(Leadership {
        leader: true,
        term: 1,
        valid_until: None,
    });
    let config = ferrolb_config::parse_document(&config_text(&[("v4", &["198.51.100.0/28"])]))
        .expect("config");
    reconciler
        .on_config(ConfigUpdate::Valid {
            config,
            target: None,
        })
        .await;
    server.calls().reset();

    // first list: no status yet -> one write
    relist(&mut reconciler, &without_status).await;
    assert_eq!(
        status_writes(&server).len(),
        1,
        "the first list writes the status"
    );
    let ip = wait_ip(&server, "apps", "web").await;

    // a relist whose list predates that write: nothing to write
    relist(&mut reconciler, &without_status).await;
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
