//! The generated CRDs accept every sample object (tests/samples/, the shapes of MetalLB's
//! `configsamples/`): each object is checked against its kind's and version's
//! `openAPIV3Schema` by the in-process API server's validator (types, required fields, bounds,
//! enums; a field the schema does not know would be pruned, so it counts as a failure).
//! Out-of-bounds values fail.

use std::path::PathBuf;

use ferrolb_apiserver::schema_validation;
use ferrolb_config::resources::crds;
use serde_json::Value;

/// Problems of `object` against `schema`: the API server's field errors, plus each field it
/// would prune.
fn check(schema: &Value, object: &Value) -> Vec<String> {
    let mut pruned = object.clone();
    let mut out: Vec<String> = schema_validation::validate(schema, &mut pruned)
        .iter()
        .map(ToString::to_string)
        .collect();
    if pruned != *object {
        out.push(format!(
            "unknown field (would be pruned): {object} became {pruned}"
        ));
    }
    out
}

/// Problems of one metallb.io object against the generated CRDs.
fn validate(object: &Value) -> Vec<String> {
    let kind = object["kind"].as_str().unwrap_or("");
    let version = object["apiVersion"]
        .as_str()
        .and_then(|v| v.strip_prefix("metallb.io/"))
        .unwrap_or("");
    let crds = crds();
    let Some(crd) = crds.iter().find(|c| c["spec"]["names"]["kind"] == kind) else {
        return vec![format!("no CRD for kind {kind}")];
    };
    let Some(served) = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == version && v["served"] == true)
    else {
        return vec![format!("{kind} {version} is not served")];
    };
    check(&served["schema"]["openAPIV3Schema"], object)
}

fn metallb_objects(text: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).expect("sample YAML parses");
    docs.into_iter()
        .flat_map(|d| match d["kind"].as_str() {
            Some("List") => d["items"].as_array().cloned().unwrap_or_default(),
            _ => vec![d],
        })
        .filter(|d| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("metallb.io/"))
        })
        .collect()
}

#[test]
fn every_sample_object_is_valid_for_the_crds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for object in metallb_objects(&text) {
            checked += 1;
            for p in validate(&object) {
                problems.push(format!("{}: {p}", path.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(checked >= 30, "only {checked} objects checked");
}

#[test]
fn the_schemas_reject_what_metallbs_reject() {
    let cases = [
        ("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, peerAddress: 10.255.0.1, peerPort: 20000}\n", "spec.peerPort in body should be less than or equal to 16384"),
        ("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerASN: 1}\n", "spec.myASN: Required value"),
        ("apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2}\n", "spec.peerAddress: Required value"),
        ("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, dynamicASN: both}\n", "spec.dynamicASN: Unsupported value: \"both\""),
        ("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {autoAssign: true}\n", "spec.addresses: Required value"),
        ("apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\nspec: {aggregationLength: 0}\n", "should be greater than or equal to 1"),
        ("apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b}\nspec: {detectMultiplier: 256}\n", "should be less than or equal to 255"),
        ("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [], avoidBugyIPs: true}\n", "unknown field"),
        ("apiVersion: metallb.io/v1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: []}\n", "is not served"),
    ];
    for (text, expected) in cases {
        let object = &metallb_objects(text)[0];
        let problems = validate(object);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{text}: {expected:?} not in {problems:?}"
        );
    }
}
