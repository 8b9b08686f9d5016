//! get/list/create/update/delete, errors as Status objects, Leases and Events, through the real kube client.

mod common;

use common::{code, fixture, lb_service};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use k8s_openapi::api::events::v1::Event as NewEvent;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};

#[tokio::test]
async fn create_get_list_and_errors() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let created = svcs
        .create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let spec = created.spec.as_ref().unwrap();
    assert!(spec
        .cluster_ip
        .as_deref()
        .is_some_and(|ip| ip.starts_with("10.96.")));
    assert_eq!(spec.external_traffic_policy.as_deref(), Some("Cluster"));

    let got = svcs.get("web").await.unwrap();
    assert_eq!(got.metadata.resource_version, meta.resource_version);

    let (c, reason) = code(
        svcs.create(&PostParams::default(), &lb_service("default", "web"))
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "AlreadyExists"));
    let (c, reason) = code(svcs.get("nope").await.unwrap_err());
    assert_eq!((c, reason.as_str()), (404, "NotFound"));
    assert!(svcs.get_opt("nope").await.unwrap().is_none());

    // A namespace must exist before objects are created in it.
    let other: Api<Service> = Api::namespaced(f.client.clone(), "team-a");
    let (c, _) = code(
        other
            .create(&PostParams::default(), &lb_service("team-a", "db"))
            .await
            .unwrap_err(),
    );
    assert_eq!(c, 404);
    let nss: Api<Namespace> = Api::all(f.client.clone());
    let ns: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "team-a"}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap();
    other
        .create(&PostParams::default(), &lb_service("team-a", "db"))
        .await
        .unwrap();

    let all: Api<Service> = Api::all(f.client.clone());
    let list = all.list(&ListParams::default()).await.unwrap();
    let names: Vec<_> = list
        .items
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["web", "db"]);
    let rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert_eq!(rv, f.server.store().resource_version());

    let by_label = all
        .list(&ListParams::default().labels("app=db"))
        .await
        .unwrap();
    assert_eq!(by_label.items.len(), 1);
    let by_field = all
        .list(&ListParams::default().fields("metadata.namespace=default"))
        .await
        .unwrap();
    assert_eq!(by_field.items[0].metadata.name.as_deref(), Some("web"));
    let by_name = all
        .list(&ListParams::default().fields("metadata.name=db,spec.type=LoadBalancer"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    assert_eq!(f.server.calls().count("create", "services"), 4);
    assert_eq!(f.server.calls().count("get", "services"), 3);
    assert_eq!(f.server.calls().count("list", "services"), 4);
    assert_eq!(f.server.calls().count("create", "namespaces"), 1);
}

#[tokio::test]
async fn pagination_returns_every_item_once() {
    let f = fixture().await;
    for i in 0..25 {
        f.server
            .store()
            .seed(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i:02}")}}))
            .unwrap();
    }
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(10);
    loop {
        let page = cms.list(&lp).await.unwrap();
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp = lp.continue_token(&token),
            _ => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, want);
    assert_eq!(f.server.calls().count("list", "configmaps"), 3);
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts_and_delete_removes() {
    let f = fixture().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let mut cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "c"}, "data": {"a": "1"}}))
            .unwrap();
    let first = cms.create(&PostParams::default(), &cm).await.unwrap();
    cm.metadata.resource_version = first.metadata.resource_version.clone();
    cm.data = Some([("a".to_string(), "2".to_string())].into());
    let second = cms.replace("c", &PostParams::default(), &cm).await.unwrap();
    assert_ne!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );
    // Same (now stale) resourceVersion again: Conflict.
    let (c, reason) = code(
        cms.replace("c", &PostParams::default(), &cm)
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "Conflict"));

    let deleted = cms.delete("c", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_left());
    assert_eq!(code(cms.get("c").await.unwrap_err()).0, 404);
    assert_eq!(
        code(cms.delete("c", &DeleteParams::default()).await.unwrap_err()).0,
        404
    );
    assert!(f
        .server
        .store()
        .get_object("configmaps", "default", "c")
        .is_none());
}

#[tokio::test]
async fn leases_create_get_replace_with_conflict() {
    let f = fixture().await;
    let leases: Api<Lease> = Api::namespaced(f.client.clone(), "kube-system");
    let lease: Lease = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "ferrolb-controller"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    // Two candidates read the same version; the first replace wins, the second conflicts.
    let mut a = leases.get("ferrolb-controller").await.unwrap();
    let mut b = a.clone();
    a.spec.as_mut().unwrap().holder_identity = Some("a".into());
    a.spec.as_mut().unwrap().lease_transitions = Some(1);
    b.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("ferrolb-controller", &PostParams::default(), &a)
        .await
        .unwrap();
    let (c, reason) = code(
        leases
            .replace("ferrolb-controller", &PostParams::default(), &b)
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "Conflict"));
    let now = leases.get("ferrolb-controller").await.unwrap();
    assert_eq!(now.spec.unwrap().holder_identity.as_deref(), Some("a"));
    assert_eq!(
        f.server
            .calls()
            .count("update", "leases.coordination.k8s.io"),
        2
    );
    assert_eq!(
        f.server.calls().count("get", "leases.coordination.k8s.io"),
        2
    );
}

#[tokio::test]
async fn events_are_created_in_both_groups() {
    let f = fixture().await;
    let events: Api<NewEvent> = Api::namespaced(f.client.clone(), "default");
    let ev: NewEvent = serde_json::from_value(serde_json::json!({
        "metadata": {"generateName": "web."},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reason": "IPAllocated", "note": "Assigned IP 198.51.100.1", "type": "Normal",
        "action": "Allocate", "reportingController": "ferrolb.io/controller", "reportingInstance": "c-1",
        "regarding": {"kind": "Service", "namespace": "default", "name": "web", "apiVersion": "v1"}
    }))
    .unwrap();
    let created = events.create(&PostParams::default(), &ev).await.unwrap();
    assert!(created
        .metadata
        .name
        .as_deref()
        .is_some_and(|n| n.starts_with("web.") && n.len() == 9));
    let core: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(f.client.clone(), "default");
    let core_ev: k8s_openapi::api::core::v1::Event = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web.1"}, "reason": "AllocationFailed", "message": "pool exhausted",
        "involvedObject": {"kind": "Service", "namespace": "default", "name": "web"}
    }))
    .unwrap();
    core.create(&PostParams::default(), &core_ev).await.unwrap();
    // One store, two views (as in the real server): each event is visible in both groups.
    let new_view = f
        .server
        .store()
        .list_objects("events.events.k8s.io", Some("default"));
    let core_view = f.server.store().list_objects("events", Some("default"));
    assert_eq!(new_view.len(), 2);
    assert_eq!(core_view.len(), 2);
    let by_reason = |list: &[serde_json::Value], reason: &str| {
        list.iter()
            .find(|e| e["reason"] == reason)
            .cloned()
            .unwrap()
    };
    let allocated = by_reason(&core_view, "IPAllocated");
    assert_eq!(allocated["message"], "Assigned IP 198.51.100.1");
    assert_eq!(allocated["involvedObject"]["name"], "web");
    assert_eq!(allocated["reportingComponent"], "ferrolb.io/controller");
    let failed = by_reason(&new_view, "AllocationFailed");
    assert_eq!(failed["note"], "pool exhausted");
    assert_eq!(failed["regarding"]["kind"], "Service");
    assert_eq!(failed["apiVersion"], "events.k8s.io/v1");
    let listed = core
        .list(&ListParams::default().fields("involvedObject.name=web,reason=IPAllocated"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let listed = events
        .list(&ListParams::default().fields("regarding.name=web"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 2);
    assert_eq!(f.server.calls().count("create", "events.events.k8s.io"), 1);
    assert_eq!(f.server.calls().count("create", "events"), 1);
}

#[tokio::test]
async fn injected_failures_return_status_and_are_counted() {
    let f = fixture().await;
    f.server.calls().fail_next("list", "services", 500, 1);
    let svcs: Api<Service> = Api::all(f.client.clone());
    let (c, _) = code(svcs.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(c, 500);
    svcs.list(&ListParams::default()).await.unwrap();
    assert_eq!(f.server.calls().count("list", "services"), 2);
    let log = f.server.calls().log();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 200]);
}

#[tokio::test]
async fn kube_event_recorder_creates_then_patches_a_series() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let svc = svcs
        .create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .unwrap();
    let reporter = Reporter {
        controller: "ferrolb-controller".into(),
        instance: Some("c-1".into()),
    };
    let recorder = Recorder::new(f.client.clone(), reporter);
    let ev = Event {
        type_: EventType::Normal,
        reason: "IPAllocated".into(),
        note: Some("Assigned IP 198.51.100.1".into()),
        action: "Allocate".into(),
        secondary: None,
    };
    let reference = kube::Resource::object_ref(&svc, &());
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let stored = f
        .server
        .store()
        .list_objects("events.events.k8s.io", Some("default"));
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["series"]["count"], 2);
    assert_eq!(stored[0]["regarding"]["name"], "web");
    assert_eq!(f.server.calls().count("create", "events.events.k8s.io"), 1);
    assert_eq!(f.server.calls().count("patch", "events.events.k8s.io"), 1);
}

#[tokio::test]
async fn namespace_delete_terminates_then_removes_contents() {
    let f = fixture().await;
    let store = f.server.store();
    store
        .seed(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "gone"}}))
        .unwrap();
    let nss: Api<Namespace> = Api::all(f.client.clone());
    let deleted = nss
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert_eq!(
        deleted.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    assert!(deleted.metadata.deletion_timestamp.is_some());
    // New content is refused while terminating; existing content is still there.
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "gone");
    let cm: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "d"}})).unwrap();
    let (c, reason) = code(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert_eq!((c, reason.as_str()), (403, "Forbidden"));
    assert!(cms.get("c").await.is_ok());
    let gone = store
        .wait_for(
            "namespaces",
            "",
            "gone",
            std::time::Duration::from_secs(5),
            |ns| ns.is_none(),
        )
        .await;
    assert!(gone.is_ok(), "namespace not removed within 5 s: {gone:?}");
    assert!(store.get_object("configmaps", "gone", "c").is_none());
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let f = fixture().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "held", "finalizers": ["ferrolb.io/cleanup"]}
    }))
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let marked = cms
        .delete("held", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let still = cms.get("held").await.unwrap();
    assert_eq!(
        still.metadata.deletion_timestamp,
        marked.metadata.deletion_timestamp
    );
    // A second delete changes nothing; other writes keep the deletion mark.
    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let labelled = cms
        .patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert!(labelled.metadata.deletion_timestamp.is_some());
    // Removing the last finalizer (as kube's finalizer helper does, with a JSON patch) deletes it.
    let ops: json_patch::Patch = serde_json::from_value(serde_json::json!([
        {"op": "test", "path": "/metadata/finalizers", "value": ["ferrolb.io/cleanup"]},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]))
    .unwrap();
    cms.patch("held", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(code(cms.get("held").await.unwrap_err()).0, 404);
}
