//! Custom resources are checked against their CRD version's schema, as the real API server checks
//! them: with FerroLB's own MetalLB CRDs (manifests/crds.yaml) loaded, a wrong type, a missing
//! required field or a value outside an enum or a bound is a 422 Invalid naming each field (through
//! create, update, merge and JSON patch, and server-side apply), unknown fields are pruned, and a
//! valid object is stored unchanged. Each version is checked against its own schema.

mod common;

use common::{code, fixture, raw_request, Fixture};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{json, Value};

const CRDS: &str = include_str!("../../../manifests/crds.yaml");
const NS: &str = "metallb-system";

async fn metallb_fixture() -> Fixture {
    let f = fixture().await;
    f.server.store().seed_manifests(CRDS).expect("crds");
    f.server.store().ensure_namespace(NS);
    f
}

fn api(f: &Fixture, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("metallb.io", version, kind);
    Api::namespaced_with(
        f.client.clone(),
        NS,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

fn pools(f: &Fixture) -> Api<DynamicObject> {
    api(f, "v1beta1", "IPAddressPool", "ipaddresspools")
}

fn object(version: &str, kind: &str, name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": format!("metallb.io/{version}"), "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }))
    .expect("object")
}

/// The 422's message of a failed call (panics on success or another error).
fn invalid<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{s:?}");
            s.message
        }
        other => panic!("expected 422 Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_type_is_rejected_naming_the_field() {
    let f = metallb_fixture().await;
    let bad = object("v1beta1", "IPAddressPool", "bad", json!({"addresses": [5]}));
    let message = invalid(pools(&f).create(&PostParams::default(), &bad).await);
    assert_eq!(
        message,
        "IPAddressPool.metallb.io \"bad\" is invalid: spec.addresses[0]: Invalid value: \
         \"integer\": spec.addresses[0] in body must be of type string: \"integer\""
    );
    let (status, _) = code(pools(&f).get("bad").await.unwrap_err());
    assert_eq!(status, 404, "nothing was stored");

    // The raw Status lists each field as a cause, as kube-apiserver does.
    let body = json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "raw"}, "spec": {"addresses": "198.51.100.0/24", "autoAssign": "yes"}});
    let (http, text) = raw_request(
        f.server.addr(),
        "POST",
        "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools",
        "application/json",
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(http, 422, "{text}");
    let status: Value = serde_json::from_str(&text).expect("status json");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(status["details"]["kind"], "IPAddressPool");
    let fields: Vec<&str> = status["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .map(|c| c["field"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(fields, ["spec.addresses", "spec.autoAssign"], "{text}");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueTypeInvalid"
    );
}

#[tokio::test]
async fn a_missing_required_field_and_an_enum_miss_are_rejected() {
    let f = metallb_fixture().await;
    let no_addresses = object(
        "v1beta1",
        "IPAddressPool",
        "empty",
        json!({"autoAssign": false}),
    );
    let message = invalid(
        pools(&f)
            .create(&PostParams::default(), &no_addresses)
            .await,
    );
    assert!(
        message.ends_with("is invalid: spec.addresses: Required value"),
        "{message}"
    );

    let peers = api(&f, "v1beta2", "BGPPeer", "bgppeers");
    let peer = object(
        "v1beta2",
        "BGPPeer",
        "spine",
        json!({"myASN": 64512, "dynamicASN": "both", "peerPort": 0}),
    );
    let message = invalid(peers.create(&PostParams::default(), &peer).await);
    assert!(
        message.contains(
            "spec.dynamicASN: Unsupported value: \"both\": supported values: \"internal\", \"external\""
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "spec.peerPort: Invalid value: 0: spec.peerPort in body should be greater than or equal to 1"
        ),
        "{message}"
    );
    assert!(message.contains("is invalid: ["), "two causes: {message}");
}

#[tokio::test]
async fn each_version_is_checked_against_its_own_schema() {
    let f = metallb_fixture().await;
    // v1beta1 requires peerAddress and peerASN; v1beta2 does not.
    let v1 = api(&f, "v1beta1", "BGPPeer", "bgppeers");
    let partial = json!({"myASN": 64512, "peerAddress": "10.255.0.1"});
    let message = invalid(
        v1.create(
            &PostParams::default(),
            &object("v1beta1", "BGPPeer", "old", partial.clone()),
        )
        .await,
    );
    assert!(
        message.ends_with("is invalid: spec.peerASN: Required value"),
        "{message}"
    );
    let v2 = api(&f, "v1beta2", "BGPPeer", "bgppeers");
    v2.create(
        &PostParams::default(),
        &object("v1beta2", "BGPPeer", "new", partial),
    )
    .await
    .expect("v1beta2 accepts a peer without peerASN");
}

#[tokio::test]
async fn unknown_fields_are_pruned_and_a_valid_object_is_stored_unchanged() {
    let f = metallb_fixture().await;
    let peers = api(&f, "v1beta2", "BGPPeer", "bgppeers");
    let spec = json!({
        "myASN": 64512, "peerASN": 64513, "peerAddress": "10.255.0.1", "peerPort": 1179,
        "holdTime": "9s", "keepaliveTime": "3s", "ebgpMultiHop": true, "bfdProfile": "fast",
        "nodeSelectors": [{"matchLabels": {"rack": "a"},
            "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}],
        "passwordSecret": {"name": "bgp-auth", "namespace": NS},
    });
    let created = peers
        .create(
            &PostParams::default(),
            &object("v1beta2", "BGPPeer", "spine", spec.clone()),
        )
        .await
        .expect("valid peer");
    assert_eq!(created.data["spec"], spec);
    assert_eq!(peers.get("spine").await.expect("get").data["spec"], spec);

    let mut with_unknown = spec.clone();
    with_unknown["peerAdress"] = json!("10.255.0.9");
    with_unknown["nodeSelectors"][0]["matchLabel"] = json!({"typo": "x"});
    let created = peers
        .create(
            &PostParams::default(),
            &object("v1beta2", "BGPPeer", "typo", with_unknown),
        )
        .await
        .expect("unknown fields are pruned, not rejected");
    assert_eq!(created.data["spec"], spec, "pruned");
    assert_eq!(peers.get("typo").await.expect("get").data["spec"], spec);
}

#[tokio::test]
async fn update_patch_and_apply_are_checked_after_the_change() {
    let f = metallb_fixture().await;
    let pools = pools(&f);
    let spec = json!({"addresses": ["198.51.100.0/24"], "autoAssign": true});
    let mut stored = pools
        .create(
            &PostParams::default(),
            &object("v1beta1", "IPAddressPool", "lb", spec.clone()),
        )
        .await
        .expect("valid pool");

    let merge = Patch::Merge(json!({"spec": {"autoAssign": "sometimes"}}));
    let message = invalid(pools.patch("lb", &PatchParams::default(), &merge).await);
    assert!(
        message.contains("spec.autoAssign: Invalid value: \"string\": spec.autoAssign in body must be of type boolean"),
        "{message}"
    );

    let ops: json_patch::Patch =
        serde_json::from_value(json!([{"op": "remove", "path": "/spec/addresses"}]))
            .expect("json patch");
    let message = invalid(
        pools
            .patch("lb", &PatchParams::default(), &Patch::<()>::Json(ops))
            .await,
    );
    assert!(
        message.ends_with("spec.addresses: Required value"),
        "{message}"
    );

    stored.data["spec"]["avoidBuggyIPs"] = json!(1);
    let message = invalid(pools.replace("lb", &PostParams::default(), &stored).await);
    assert!(message.contains("spec.avoidBuggyIPs"), "{message}");

    let apply = Patch::Apply(
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "lb"}, "spec": {"addresses": ["198.51.100.0/24", 7]}}),
    );
    let message = invalid(
        pools
            .patch("lb", &PatchParams::apply("test").force(), &apply)
            .await,
    );
    assert!(message.contains("spec.addresses[1]"), "{message}");

    assert_eq!(
        pools.get("lb").await.expect("get").data["spec"],
        spec,
        "every rejected change left the object as it was"
    );

    // A patch adding an unknown field is pruned: the object stays as it was.
    let typo = Patch::Merge(json!({"spec": {"autoAsign": false}}));
    let patched = pools
        .patch("lb", &PatchParams::default(), &typo)
        .await
        .expect("pruned");
    assert_eq!(patched.data["spec"], spec);
}
