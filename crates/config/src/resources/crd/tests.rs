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
