//! The writing controller deletes the speakers' BGPSessionState objects of nodes that no longer
//! exist (a node gone without its speaker stopping), and leaves the others alone.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn session(node: &str, peer: &str) -> Value {
    json!({"apiVersion": "ferrolb.io/v1alpha1", "kind": "BGPSessionState",
           "metadata": {"name": format!("{node}-{peer}"), "namespace": "ferrolb-system",
                        "labels": {"ferrolb.io/node": node}},
           "status": {"node": node, "peer": peer, "sessionState": "Established"}})
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
}

#[tokio::test]
async fn sessions_of_gone_nodes_are_deleted() {
    let server = api_server().await;
    let store = server.store();
    store
        .seed_manifests(ferrolb_speaker_crd())
        .expect("status CRD");
    store.seed(node("n1")).unwrap();
    store.seed(node("n2")).unwrap();
    store.seed(session("n1", "10.255.0.1")).unwrap();
    store.seed(session("n2", "10.255.0.1")).unwrap();
    store.seed(session("gone", "10.255.0.1")).unwrap();
    store
        .seed(config_map(&config_text(&[("p", &["198.51.100.0/28"])])))
        .unwrap();
    let mut options = options("ctl-0", None);
    options.session_gc_namespace = Some("ferrolb-system".into());
    let handle = ferrolb_controller::start(client(&server), options)
        .await
        .expect("start controller");
    let res = "bgpsessionstates.ferrolb.io";
    let timeout = Duration::from_secs(10);
    // A node that does not exist: its object goes at once.
    store
        .wait_for(res, "ferrolb-system", "gone-10.255.0.1", timeout, |o| {
            o.is_none()
        })
        .await
        .expect("the object of a missing node is deleted");
    // A node deleted later: its object goes too; the other stays.
    store.remove("nodes", "", "n2");
    store
        .wait_for(res, "ferrolb-system", "n2-10.255.0.1", timeout, |o| {
            o.is_none()
        })
        .await
        .expect("the object of a deleted node is deleted");
    assert!(store
        .get_object(res, "ferrolb-system", "n1-10.255.0.1")
        .is_some());
    handle.shutdown().await.expect("clean shutdown");
}

/// `manifests/status-crds.yaml`.
fn ferrolb_speaker_crd() -> &'static str {
    include_str!("../../../manifests/status-crds.yaml")
}
