//! Least privilege: every API call the controller makes (recorded by the API server across a
//! scenario that exercises every code path that talks to the API) is allowed by
//! `manifests/controller-rbac.yaml`, and every permission there is used. The test drives the
//! scenario through the store directly, so the only HTTP calls recorded are the controller's.
//! Also checks the other manifests (Deployment, ConfigMap, kustomization) for what the docs promise.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use ferrolb_apiserver::RequestRecord;
use serde_json::{json, Value};

fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../manifests")
}

fn documents(file: &str) -> Vec<Value> {
    let path = manifests_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// One permission: verb on group/resource[/subresource], cluster-wide or in one namespace,
/// optionally restricted to names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    namespace: Option<String>,
    verb: String,
    group: String,
    resource: String,
    names: Option<BTreeSet<String>>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The grants of the Roles and ClusterRoles bound to the controller's ServiceAccount.
fn controller_grants() -> Vec<Grant> {
    let docs = documents("controller-rbac.yaml");
    let sa = docs
        .iter()
        .find(|d| d["kind"] == "ServiceAccount")
        .expect("a ServiceAccount");
    let sa_name = sa["metadata"]["name"]
        .as_str()
        .expect("ServiceAccount name");
    let sa_ns = sa["metadata"]["namespace"]
        .as_str()
        .expect("ServiceAccount namespace");
    let mut grants = Vec::new();
    for binding in docs
        .iter()
        .filter(|d| d["kind"] == "RoleBinding" || d["kind"] == "ClusterRoleBinding")
    {
        let binds_sa = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == sa_name && s["namespace"] == sa_ns
            });
        assert!(
            binds_sa,
            "binding {} binds another subject",
            binding["metadata"]["name"]
        );
        let role_kind = binding["roleRef"]["kind"].as_str().expect("roleRef.kind");
        let role_name = binding["roleRef"]["name"].as_str().expect("roleRef.name");
        let scope = (binding["kind"] == "RoleBinding").then(|| {
            binding["metadata"]["namespace"]
                .as_str()
                .expect("namespace")
                .to_string()
        });
        let role = docs
            .iter()
            .find(|d| {
                d["kind"] == role_kind
                    && d["metadata"]["name"] == role_name
                    && (role_kind == "ClusterRole"
                        || d["metadata"]["namespace"].as_str() == scope.as_deref())
            })
            .unwrap_or_else(|| panic!("binding refers to a missing {role_kind} {role_name}"));
        for rule in role["rules"].as_array().expect("rules") {
            let names = rule
                .get("resourceNames")
                .map(|n| strings(n).into_iter().collect::<BTreeSet<_>>());
            for group in strings(&rule["apiGroups"]) {
                for resource in strings(&rule["resources"]) {
                    for verb in strings(&rule["verbs"]) {
                        assert_ne!(verb, "*", "no wildcard verbs");
                        assert_ne!(resource, "*", "no wildcard resources");
                        grants.push(Grant {
                            namespace: scope.clone(),
                            verb,
                            group: group.clone(),
                            resource: resource.clone(),
                            names: names.clone(),
                        });
                    }
                }
            }
        }
    }
    grants
}

fn covers(grant: &Grant, record: &RequestRecord) -> bool {
    let Some(call) = &record.call else {
        return false;
    };
    let resource = match &call.subresource {
        Some(sub) => format!("{}/{sub}", call.resource),
        None => call.resource.clone(),
    };
    grant.verb == call.verb
        && grant.group == call.group
        && grant.resource == resource
        && match &grant.namespace {
            None => true,
            Some(ns) => record.namespace.as_deref() == Some(ns.as_str()),
        }
        && match &grant.names {
            None => true,
            Some(names) => record.name.as_ref().is_some_and(|n| names.contains(n)),
        }
}

/// Every code path that calls the API: list/watch Services and the ConfigMap, Lease create, get,
/// update (acquire, renew, take over, release), status writes (set and clear), Events on Services
/// (allocated, failed) and on the ConfigMap (invalid, rejected, loaded), a 410 relist.
async fn exercise_everything(server: &ferrolb_apiserver::RunningServer) {
    let store = server.store();
    store
        .seed(config_map(&config_text(&[("p", &["198.51.100.1/32"])])))
        .expect("seed config");
    let a = ferrolb_controller::start(client(server), options("ctl-a", Some(2)))
        .await
        .expect("start a");
    wait_writing(&a).await;
    let b = ferrolb_controller::start(client(server), options("ctl-b", Some(2)))
        .await
        .expect("start b");
    assert!(b.wait_for(WAIT, |s| s.synced).await);

    store.seed(lb_service("default", "one")).expect("seed");
    wait_ip(server, "default", "one").await;
    store.seed(lb_service("default", "two")).expect("seed");
    wait_for("AllocationFailed for two", || {
        (!events_for(server, "Service", "default", "two", "AllocationFailed").is_empty())
            .then_some(())
    })
    .await;
    store
        .seed(config_map("address-pools: nope"))
        .expect("broken config");
    wait_for("InvalidConfig", || {
        (!events_for(
            server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "InvalidConfig",
        )
        .is_empty())
        .then_some(())
    })
    .await;
    store
        .seed(config_map(&config_text(&[("q", &["198.51.100.2/32"])])))
        .expect("config taking an address away");
    wait_for("ConfigRejected", || {
        (!events_for(
            server,
            "ConfigMap",
            "ferrolb-system",
            "config",
            "ConfigRejected",
        )
        .is_empty())
        .then_some(())
    })
    .await;
    store.expire_watches();
    let mut one = store.get_object("services", "default", "one").expect("one");
    one["spec"]["type"] = json!("ClusterIP");
    store.seed(one).expect("type change");
    wait_for("one cleared", || {
        ingress_ips(server, "default", "one")
            .is_empty()
            .then_some(())
    })
    .await;
    wait_ip(server, "default", "two").await;
    store.remove("services", "default", "two");

    // Kill the leader; the follower takes over, then stops cleanly and releases the Lease.
    a.abort();
    assert!(b.wait_for(WAIT, |s| s.writing).await, "b took over");
    store.seed(lb_service("default", "three")).expect("seed");
    wait_ip(server, "default", "three").await;
    b.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn rbac_rules_cover_exactly_the_calls_the_controller_makes() {
    let server = api_server().await;
    server.calls().reset();
    exercise_everything(&server).await;
    let grants = controller_grants();
    let log: Vec<RequestRecord> = server
        .calls()
        .log()
        .into_iter()
        .filter(|r| r.call.is_some())
        .collect();
    assert!(!log.is_empty());

    // Every call is allowed.
    let denied: Vec<String> = log
        .iter()
        .filter(|r| !grants.iter().any(|g| covers(g, r)))
        .map(|r| format!("{} {} ({:?})", r.method, r.path, r.call))
        .collect();
    assert!(
        denied.is_empty(),
        "calls not allowed by controller-rbac.yaml: {denied:#?}"
    );

    // Every permission is used.
    let unused: Vec<&Grant> = grants
        .iter()
        .filter(|g| !log.iter().any(|r| covers(g, r)))
        .collect();
    assert!(
        unused.is_empty(),
        "permissions the controller never uses: {unused:#?}"
    );

    let distinct: BTreeSet<String> = log
        .iter()
        .filter_map(|r| r.call.as_ref().map(ToString::to_string))
        .collect();
    eprintln!("the controller's API calls: {distinct:?}");
}

#[test]
fn manifests_match_what_the_docs_promise() {
    // kustomization lists files that exist.
    let kustomization = &documents("kustomization.yaml")[0];
    let resources = strings(&kustomization["resources"]);
    for file in [
        "namespace.yaml",
        "controller.yaml",
        "controller-rbac.yaml",
        "config.yaml",
    ] {
        assert!(
            resources.iter().any(|r| r == file),
            "kustomization lists {file}"
        );
    }
    for file in &resources {
        assert!(manifests_dir().join(file).is_file(), "{file} exists");
        assert!(!documents(file).is_empty(), "{file} has documents");
    }

    let namespace = &documents("namespace.yaml")[0];
    assert_eq!(namespace["metadata"]["name"], "ferrolb-system");

    let deployment = documents("controller.yaml")
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    let sa = documents("controller-rbac.yaml")
        .into_iter()
        .find(|d| d["kind"] == "ServiceAccount")
        .expect("ServiceAccount");
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["args"][0], "controller");
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert!(
        security["capabilities"].get("add").is_none(),
        "no capabilities added"
    );
    let env = container["env"].as_array().expect("env");
    assert!(env
        .iter()
        .any(|e| e["name"] == "POD_NAME"
            && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"));
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["ports"][0]["containerPort"], 7472);
    assert!(container["args"]
        .as_array()
        .expect("args")
        .iter()
        .any(|a| a == "--metrics-addr=0.0.0.0:7472"));

    // The example ConfigMap is FerroLB's own, and valid, with its pool on the documentation range.
    let path = manifests_dir().join("config.yaml");
    let text = std::fs::read_to_string(&path).expect("config.yaml");
    let config = ferrolb_config::parse_document(&text)
        .unwrap_or_else(|e| panic!("manifests/config.yaml is invalid: {e}"));
    assert_eq!(config.pools.len(), 1);
    assert!(config.pools[0].contains("198.51.100.7".parse().expect("literal")));
    let cm = &documents("config.yaml")[0];
    assert_eq!(cm["metadata"]["namespace"], "ferrolb-system");
    assert_eq!(cm["metadata"]["name"], "config");
}
