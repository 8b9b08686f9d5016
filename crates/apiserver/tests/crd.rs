//! Custom resources through the real kube client: a CustomResourceDefinition created at run time (as
//! `kubectl apply -f crds.yaml` does) is served in discovery and routing, and its objects support list,
//! watch, get, create, update, merge/JSON patch, server-side apply, the status subresource and delete.

mod common;

use std::time::Duration;

use common::{code, fixture};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use serde_json::{json, Value};

/// MetalLB's IPAddressPool definition (names, scope, version, status subresource, a printer column).
fn pool_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "ipaddresspools.metallb.io"},
        "spec": {
            "group": "metallb.io", "scope": "Namespaced",
            "names": {"kind": "IPAddressPool", "listKind": "IPAddressPoolList",
                      "plural": "ipaddresspools", "singular": "ipaddresspool"},
            "versions": [{
                "name": "v1beta1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Auto Assign", "type": "boolean", "jsonPath": ".spec.autoAssign"},
                    {"name": "Addresses", "type": "string", "jsonPath": ".spec.addresses"}
                ]
            }]
        }
    }))
    .expect("crd")
}

/// MetalLB's BGPPeer definition: v1beta1 served, v1beta2 served and stored.
fn peer_crd() -> CustomResourceDefinition {
    let version = |name: &str, storage: bool| {
        json!({"name": name, "served": true, "storage": storage,
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}})
    };
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "bgppeers.metallb.io"},
        "spec": {
            "group": "metallb.io", "scope": "Namespaced",
            "names": {"kind": "BGPPeer", "plural": "bgppeers"},
            "versions": [version("v1beta1", false), version("v1beta2", true)]
        }
    }))
    .expect("crd")
}

/// A cluster-scoped kind with short names.
fn session_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "sessions.example.ferrolb.io"},
        "spec": {
            "group": "example.ferrolb.io", "scope": "Cluster",
            "names": {"kind": "Session", "plural": "sessions", "shortNames": ["sess"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}}}]
        }
    }))
    .expect("crd")
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn pool(name: &str, addresses: &[&str]) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": "metallb-system"},
        "spec": {"addresses": addresses, "autoAssign": true},
        "status": {"assignedIPv4": 99}
    }))
    .expect("pool")
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
}

#[tokio::test]
async fn definitions_register_kinds_in_discovery_and_routing() {
    let f = fixture().await;
    let pools_ar = resource("metallb.io", "v1beta1", "IPAddressPool", "ipaddresspools");
    create_namespace(&f.client, "metallb-system").await;
    let pools: Api<DynamicObject> =
        Api::namespaced_with(f.client.clone(), "metallb-system", &pools_ar);
    // Before the definition exists the path is not served.
    let (c, _) = code(pools.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(c, 404);

    let crds: Api<CustomResourceDefinition> = Api::all(f.client.clone());
    for crd in [pool_crd(), peer_crd(), session_crd()] {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let established = crds.get("ipaddresspools.metallb.io").await.unwrap();
    let status = established.status.unwrap();
    assert!(status
        .conditions
        .unwrap()
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True"));
    assert_eq!(
        status.accepted_names.unwrap().list_kind.as_deref(),
        Some("IPAddressPoolList")
    );

    let discovery = Discovery::new(f.client.clone()).run().await.unwrap();
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "metallb.io",
            "v1beta1",
            "IPAddressPool",
        ))
        .expect("IPAddressPool discovered");
    assert_eq!(ar.plural, "ipaddresspools");
    assert_eq!(caps.scope, Scope::Namespaced);
    let subs: Vec<String> = caps
        .subresources
        .iter()
        .map(|(sub, _)| sub.plural.clone())
        .collect();
    assert_eq!(subs, ["status"]);
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk(
            "example.ferrolb.io",
            "v1alpha1",
            "Session",
        ))
        .expect("Session discovered");
    assert_eq!(
        (ar.plural.as_str(), caps.scope),
        ("sessions", Scope::Cluster)
    );
    // metallb.io serves both BGPPeer versions, v1beta2 preferred; IPAddressPool only in v1beta1.
    let group = discovery
        .groups()
        .find(|g| g.name() == "metallb.io")
        .expect("group");
    assert_eq!(group.versions().collect::<Vec<_>>(), ["v1beta2", "v1beta1"]);
    assert_eq!(group.preferred_version_or_latest(), "v1beta2");
    assert!(discovery
        .resolve_gvk(&GroupVersionKind::gvk("metallb.io", "v1beta1", "BGPPeer"))
        .is_some());

    // Routing: the cluster-scoped kind has no namespaced path, the store resolves short names.
    let sessions: Api<DynamicObject> = Api::all_with(
        f.client.clone(),
        &resource("example.ferrolb.io", "v1alpha1", "Session", "sessions"),
    );
    let s: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.ferrolb.io/v1alpha1", "kind": "Session",
        "metadata": {"name": "node-a.peer-1"}, "spec": {"node": "node-a"}
    }))
    .unwrap();
    sessions.create(&PostParams::default(), &s).await.unwrap();
    let stored = f
        .server
        .store()
        .get_object("sess.example.ferrolb.io", "", "node-a.peer-1");
    assert_eq!(stored.unwrap()["spec"]["node"], "node-a");

    // An invalid definition is refused with the field named, and registers nothing.
    let mut bad = pool_crd();
    bad.metadata.name = Some("pools.metallb.io".into());
    let err = crds.create(&PostParams::default(), &bad).await.unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert!(
                s.message
                    .contains("metadata.name: Invalid value: \"pools.metallb.io\""),
                "{}",
                s.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(crds.get_opt("pools.metallb.io").await.unwrap().is_none());
}

#[tokio::test]
async fn custom_objects_support_every_verb_and_the_status_subresource() {
    let f = fixture().await;
    create_namespace(&f.client, "metallb-system").await;
    let crds: Api<CustomResourceDefinition> = Api::all(f.client.clone());
    crds.create(&PostParams::default(), &pool_crd())
        .await
        .unwrap();
    let ar = resource("metallb.io", "v1beta1", "IPAddressPool", "ipaddresspools");
    let pools: Api<DynamicObject> = Api::namespaced_with(f.client.clone(), "metallb-system", &ar);

    // A watch from the start sees the objects' lifecycle.
    let events = watcher(pools.clone(), watcher::Config::default()).boxed();
    let (listed_tx, listed_rx) = tokio::sync::oneshot::channel();
    let collected = tokio::spawn(async move {
        let mut listed_tx = Some(listed_tx);
        let mut seen = Vec::new();
        let mut events = events;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(Ok(ev))) = tokio::time::timeout_at(deadline, events.next()).await {
            let done = matches!(&ev, watcher::Event::Delete(o) if o.metadata.name.as_deref() == Some("default"));
            seen.push(match ev {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                    format!("apply {}", o.data["spec"]["addresses"])
                }
                watcher::Event::Delete(o) => {
                    format!("delete {}", o.metadata.name.unwrap_or_default())
                }
                watcher::Event::Init => continue,
                watcher::Event::InitDone => {
                    listed_tx.take().map(|tx| tx.send(()));
                    continue;
                }
            });
            if done {
                break;
            }
        }
        seen
    });
    tokio::time::timeout(Duration::from_secs(5), listed_rx)
        .await
        .expect("the watcher listed within 5 s")
        .unwrap();

    // create: status is ignored (set through /status only), metadata filled.
    let created = pools
        .create(
            &PostParams::default(),
            &pool("default", &["198.51.100.0/24"]),
        )
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.data.get("status").is_none(), "{:?}", created.data);
    assert_eq!(
        created.types.as_ref().unwrap().api_version,
        "metallb.io/v1beta1"
    );

    // update (PUT) with a stale resourceVersion conflicts; a fresh one bumps the generation.
    let mut edited = created.clone();
    edited.data["spec"]["addresses"] = json!(["198.51.100.0/25"]);
    let updated = pools
        .replace("default", &PostParams::default(), &edited)
        .await
        .unwrap();
    assert_eq!(updated.metadata.generation, Some(2));
    let (c, reason) = code(
        pools
            .replace("default", &PostParams::default(), &edited)
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "Conflict"));

    // merge and JSON patches.
    let merged = pools
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"autoAssign": false}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data["spec"]["autoAssign"], false);
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/autoAssign", "value": false},
        {"op": "add", "path": "/spec/addresses/-", "value": "2001:db8::/120"}
    ]))
    .unwrap();
    let patched = pools
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::<Value>::Json(ops),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.data["spec"]["addresses"],
        json!(["198.51.100.0/25", "2001:db8::/120"])
    );

    // The status subresource: only .status changes there, and main writes leave it alone.
    let with_status = pools
        .patch_status(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"assignedIPv4": 3, "availableIPv4": 125}, "spec": {"autoAssign": true}})),
        )
        .await
        .unwrap();
    assert_eq!(with_status.data["status"]["availableIPv4"], 125);
    assert_eq!(
        with_status.data["spec"]["autoAssign"], false,
        "a status write ignores spec"
    );
    let main = pools
        .patch(
            "default",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"assignedIPv4": 0}})),
        )
        .await
        .unwrap();
    assert_eq!(
        main.data["status"]["assignedIPv4"], 3,
        "a main write ignores status"
    );

    // Server-side apply: creates, records the manager, and conflicts with another applier.
    let applied = pools
        .patch(
            "second",
            &PatchParams::apply("ferrolb-test"),
            &Patch::Apply(
                json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "second"}, "spec": {"addresses": ["198.51.100.128/26"]}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        applied.metadata.managed_fields.unwrap()[0]
            .manager
            .as_deref(),
        Some("ferrolb-test")
    );
    let (c, reason) = code(
        pools
            .patch(
                "second",
                &PatchParams::apply("someone-else"),
                &Patch::Apply(
                    json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": {"name": "second"}, "spec": {"addresses": ["198.51.100.192/26"]}}),
                ),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "Conflict"));

    // list with a field selector, delete.
    let listed = pools
        .list(&ListParams::default().fields("metadata.name=second"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    pools
        .delete("second", &DeleteParams::default())
        .await
        .unwrap();
    pools
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    let seen = collected.await.unwrap();
    assert_eq!(
        seen,
        [
            r#"apply ["198.51.100.0/24"]"#,
            r#"apply ["198.51.100.0/25"]"#,
            r#"apply ["198.51.100.0/25"]"#,
            r#"apply ["198.51.100.0/25","2001:db8::/120"]"#,
            r#"apply ["198.51.100.0/25","2001:db8::/120"]"#,
            r#"apply ["198.51.100.128/26"]"#,
            "delete second",
            "delete default",
        ],
        "the watch saw every change in order"
    );
}

#[tokio::test]
async fn versions_share_objects_and_deleting_the_definition_removes_them() {
    let f = fixture().await;
    create_namespace(&f.client, "metallb-system").await;
    let crds: Api<CustomResourceDefinition> = Api::all(f.client.clone());
    crds.create(&PostParams::default(), &peer_crd())
        .await
        .unwrap();
    let v2 = resource("metallb.io", "v1beta2", "BGPPeer", "bgppeers");
    let v1 = resource("metallb.io", "v1beta1", "BGPPeer", "bgppeers");
    let peers_v2: Api<DynamicObject> =
        Api::namespaced_with(f.client.clone(), "metallb-system", &v2);
    let peers_v1: Api<DynamicObject> =
        Api::namespaced_with(f.client.clone(), "metallb-system", &v1);
    let peer: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer",
        "metadata": {"name": "tor-a", "namespace": "metallb-system"},
        "spec": {"myASN": 64512, "peerASN": 64513, "peerAddress": "10.255.0.1"}
    }))
    .unwrap();
    peers_v1
        .create(&PostParams::default(), &peer)
        .await
        .unwrap();
    let as_v2 = peers_v2.get("tor-a").await.unwrap();
    assert_eq!(as_v2.types.unwrap().api_version, "metallb.io/v1beta2");
    assert_eq!(as_v2.data["spec"]["peerASN"], 64513);
    let as_v1 = peers_v1.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        as_v1.items[0].types.as_ref().unwrap().api_version,
        "metallb.io/v1beta1"
    );
    // Stored in the storage version.
    let stored = f
        .server
        .store()
        .get_object("bgppeers.metallb.io", "metallb-system", "tor-a")
        .unwrap();
    assert_eq!(stored["apiVersion"], "metallb.io/v1beta2");

    // Re-applying the same definition changes nothing; deleting it removes its objects and its paths.
    let rv = f.server.store().resource_version();
    crds.replace("bgppeers.metallb.io", &PostParams::default(), &{
        let mut c = crds.get("bgppeers.metallb.io").await.unwrap();
        c.status = None;
        c
    })
    .await
    .unwrap();
    assert_eq!(
        f.server.store().resource_version(),
        rv,
        "an unchanged definition is a no-op"
    );
    // An open watch on the objects sees them deleted with the definition.
    let watch_from = f.server.store().resource_version().to_string();
    let mut stream = peers_v2
        .watch(&kube::api::WatchParams::default().timeout(5), &watch_from)
        .await
        .unwrap()
        .boxed();
    crds.delete("bgppeers.metallb.io", &DeleteParams::default())
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .expect("an event within 5 s")
        .unwrap();
    assert!(
        matches!(&first, Some(kube::api::WatchEvent::Deleted(o)) if o.metadata.name.as_deref() == Some("tor-a")),
        "{first:?}"
    );
    assert!(f
        .server
        .store()
        .get_object("bgppeers.metallb.io", "metallb-system", "tor-a")
        .is_none());
    let (c, _) = code(peers_v2.get("tor-a").await.unwrap_err());
    assert_eq!(c, 404);
}
