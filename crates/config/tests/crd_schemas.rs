//! The generated CRDs accept every sample object (tests/samples/, the shapes of MetalLB's
//! `configsamples/`): each object is checked against its kind's and version's
//! `openAPIV3Schema` (types, required fields, bounds, enums; a field the schema does not know
//! would be pruned by the API server, so it counts as a failure). Out-of-bounds values fail.

use std::path::PathBuf;

use ferrolb_config::resources::crds;
use serde_json::Value;

/// Problems of `value` against `schema`, with their paths.
fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let kind = schema["type"].as_str().unwrap_or("");
    let type_ok = match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        _ => true,
    };
    if !type_ok {
        out.push(format!("{path}: {value} is not {kind}"));
        return;
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|min| n < min) {
            out.push(format!("{path}: {n} below minimum"));
        }
        if schema["maximum"].as_f64().is_some_and(|max| n > max) {
            out.push(format!("{path}: {n} above maximum"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{path}: {value} not in {allowed:?}"));
        }
    }
    if let Value::Array(items) = value {
        if schema["minItems"]
            .as_u64()
            .is_some_and(|m| (items.len() as u64) < m)
        {
            out.push(format!("{path}: fewer than minItems"));
        }
        for (i, item) in items.iter().enumerate() {
            check(&schema["items"], item, &format!("{path}[{i}]"), out);
        }
    }
    if let Value::Object(map) = value {
        if path.ends_with(".metadata") {
            return;
        }
        for field in schema["required"].as_array().into_iter().flatten() {
            if !map.contains_key(field.as_str().unwrap_or("")) {
                out.push(format!("{path}: required field {field} missing"));
            }
        }
        for (key, v) in map {
            let p = format!("{path}.{key}");
            if let Some(s) = schema["properties"].get(key) {
                check(s, v, &p, out);
            } else if schema["additionalProperties"].is_object() {
                check(&schema["additionalProperties"], v, &p, out);
            } else {
                out.push(format!("{p}: unknown field (would be pruned)"));
            }
        }
    }
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
    let mut out = Vec::new();
    check(&served["schema"]["openAPIV3Schema"], object, kind, &mut out);
    out
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
        ("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, peerAddress: 10.255.0.1, peerPort: 20000}\n", "above maximum"),
        ("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {peerASN: 1}\n", "required field \"myASN\" missing"),
        ("apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, peerASN: 2}\n", "required field \"peerAddress\" missing"),
        ("apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: p}\nspec: {myASN: 1, dynamicASN: both}\n", "not in"),
        ("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {autoAssign: true}\n", "required field \"addresses\" missing"),
        ("apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\nspec: {aggregationLength: 0}\n", "below minimum"),
        ("apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b}\nspec: {detectMultiplier: 256}\n", "above maximum"),
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
