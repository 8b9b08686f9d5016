//! The shipped examples: `manifests/crds-example/` (metallb.io objects) configures exactly what
//! `manifests/config.yaml` (the ConfigMap) does.

use std::path::PathBuf;

fn manifest(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../manifests")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[test]
fn crds_example_is_the_configmap_example() {
    let configmap = ferrolb_config::parse_document(&manifest("config.yaml")).expect("config.yaml");
    let text = manifest("crds-example/bgp.yaml");
    assert!(ferrolb_config::resources::looks_like_resources(&text));
    let objects = ferrolb_config::resources::parse_resources(&text)
        .unwrap_or_else(|e| panic!("crds-example/bgp.yaml: {e}"));
    assert_eq!(objects.peers, configmap.peers);
    assert_eq!(objects.pools, configmap.pools);
    assert_eq!(objects.communities, configmap.communities);
    assert_eq!(objects.bfd_profiles, configmap.bfd_profiles);
    assert!(objects.warnings.is_empty(), "{:?}", objects.warnings);
    assert_eq!(objects.pools.len(), 1);
}

#[test]
fn crds_example_is_listed_by_its_kustomization() {
    let kustomization = manifest("crds-example/kustomization.yaml");
    assert!(kustomization.contains("- bgp.yaml"), "{kustomization}");
    let base = manifest("kustomization.yaml");
    for file in ["crds.yaml", "crds-rbac.yaml"] {
        assert!(base.contains(&format!("- {file}")), "base lists {file}");
    }
}
