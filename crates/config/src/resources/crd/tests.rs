use super::*;

/// `manifests/crds.yaml` is the generator's output; `FERROLB_UPDATE_MANIFESTS=1` rewrites it.
#[test]
fn committed_crds_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/crds.yaml");
    let generated = crds_yaml();
    if std::env::var_os("FERROLB_UPDATE_MANIFESTS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "manifests/crds.yaml is stale: run FERROLB_UPDATE_MANIFESTS=1 cargo test -p ferrolb-config crds"
    );
}

#[test]
fn every_served_kind_and_version_has_a_crd() {
    let crds = crds();
    for kind in KINDS {
        let crd = crds
            .iter()
            .find(|c| c["spec"]["names"]["kind"] == kind.kind)
            .unwrap_or_else(|| panic!("no CRD for {}", kind.kind));
        assert_eq!(
            crd["metadata"]["name"],
            format!("{}.metallb.io", kind.plural)
        );
        assert_eq!(crd["spec"]["names"]["plural"], kind.plural);
        let versions = crd["spec"]["versions"].as_array().unwrap();
        assert!(versions
            .iter()
            .any(|v| v["name"] == kind.version && v["served"] == true));
        assert_eq!(
            versions.iter().filter(|v| v["storage"] == true).count(),
            1,
            "{}: exactly one storage version",
            kind.kind
        );
    }
    assert_eq!(crds.len(), 6);
}

/// The paths of every property under `schema` (through properties, items and
/// additionalProperties) that has no description or an empty one.
fn undescribed(schema: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (name, property) in properties {
            let p = format!("{path}.{name}");
            let text = property.get("description").and_then(Value::as_str);
            if text.is_none_or(|t| t.trim().is_empty()) {
                out.push(p.clone());
            }
            undescribed(property, &p, out);
        }
    }
    if let Some(items) = schema.get("items") {
        undescribed(items, &format!("{path}[]"), out);
    }
    if let Some(values) = schema.get("additionalProperties") {
        undescribed(values, &format!("{path}{{}}"), out);
    }
}

/// Every field of every version's schema has a description (what `kubectl explain` shows).
fn assert_every_field_described(crds: &[Value]) {
    let mut missing = Vec::new();
    for crd in crds {
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or("?");
        for version in crd["spec"]["versions"].as_array().unwrap() {
            let schema = &version["schema"]["openAPIV3Schema"];
            assert!(schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()));
            let name = version["name"].as_str().unwrap_or("?");
            undescribed(schema, &format!("{kind}/{name}"), &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:#?}"
    );
}

#[test]
fn every_field_of_every_crd_has_a_description() {
    assert_every_field_described(&crds());
}

#[test]
fn every_field_of_the_status_crds_has_a_description() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests/status-crds.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert!(!docs.is_empty());
    assert_every_field_described(&docs);
}

#[test]
fn descriptions_say_how_ferrolb_reads_the_field() {
    let crds = crds();
    let peer = crds
        .iter()
        .find(|c| c["spec"]["names"]["kind"] == "BGPPeer")
        .unwrap();
    let v2 = &peer["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    let hold = v2["holdTime"]["description"].as_str().unwrap();
    assert!(
        hold.contains("peers[].hold-time") && hold.contains("90s"),
        "{hold}"
    );
    let vrf = v2["vrf"]["description"].as_str().unwrap();
    assert!(
        vrf.contains("warning") && vrf.contains("default VRF"),
        "{vrf}"
    );
    let local = v2["localASN"]["description"].as_str().unwrap();
    assert!(local.contains("error"), "{local}");
}
