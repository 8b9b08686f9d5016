//! The real `kubectl` binary against the server: discovery, `apply` (client-side and server-side, with
//! validation on), `get` tables showing EXTERNAL-IP, jsonpath output, `patch --subresource=status`, delete.
//! Skips with a printed reason when kubectl is missing, unless CI=true or FERROLB_E2E_REQUIRED=1.

mod common;

use std::path::{Path, PathBuf};

use common::fixture;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

fn find_kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
    {
        return Some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("FERROLB_E2E_REQUIRED").is_ok_and(|v| v == "1")
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("flb-apiserver-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Kubectl {
    bin: PathBuf,
    server: String,
    dir: PathBuf,
}

impl Kubectl {
    /// Run kubectl with `args`; returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::process::Command::new(&self.bin)
            .arg("--server")
            .arg(&self.server)
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .args(args)
            .env("KUBECONFIG", self.dir.join("no-kubeconfig"))
            .kill_on_drop(true)
            .output()
            .await
            .expect("run kubectl");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stdout, stderr)
    }

    /// Run and require success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args).await;
        assert!(
            ok,
            "kubectl {args:?} failed:\nstdout: {stdout}\nstderr: {stderr}"
        );
        stdout
    }
}

/// kubectl, or None after printing why the test is skipped (panics when kubectl is required).
fn kubectl_or_skip() -> Option<PathBuf> {
    let bin = find_kubectl();
    if bin.is_none() {
        assert!(
            !required(),
            "kubectl is required (CI=true or FERROLB_E2E_REQUIRED=1) but not on PATH"
        );
        println!("skipped: kubectl not found on PATH");
    }
    bin
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write manifest");
    p.to_string_lossy().into_owned()
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: 8080
";

const NAMESPACE_AND_CONFIG: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  namespace: demo
data:
  config.yaml: |
    address-pools:
    - name: default
      protocol: bgp
      addresses: [198.51.100.0/24]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_get_patch_delete() {
    let Some(bin) = kubectl_or_skip() else {
        return;
    };
    let f = fixture().await;
    let tmp = TempDir::new("kubectl");
    let k = Kubectl {
        bin,
        server: f.server.url(),
        dir: tmp.0.clone(),
    };

    let version = k.ok(&["version", "-o", "json"]).await;
    assert!(version.contains("v1.33.0-ferrolb"), "{version}");

    // Multi-document apply with validation on (the default).
    let base = write(&tmp.0, "base.yaml", NAMESPACE_AND_CONFIG);
    let out = k.ok(&["apply", "-f", &base]).await;
    assert!(
        out.contains("namespace/demo created") && out.contains("configmap/config created"),
        "{out}"
    );
    assert!(f
        .server
        .store()
        .get_object("configmaps", "demo", "config")
        .is_some());

    let svc = write(&tmp.0, "svc.yaml", SERVICE);
    let out = k.ok(&["apply", "-f", &svc]).await;
    assert_eq!(out.trim(), "service/web created");
    let out = k.ok(&["apply", "-f", &svc]).await;
    assert_eq!(out.trim(), "service/web unchanged");
    let changed = write(&tmp.0, "svc2.yaml", &SERVICE.replace("8080", "9090"));
    let out = k.ok(&["apply", "-f", &changed]).await;
    assert_eq!(out.trim(), "service/web configured");
    let stored = f
        .server
        .store()
        .get_object("services", "demo", "web")
        .unwrap();
    assert_eq!(stored["spec"]["ports"][0]["targetPort"], json!(9090));
    assert_eq!(stored["spec"]["ports"][0]["name"], json!("http"));

    let table = k.ok(&["get", "svc", "-A"]).await;
    assert!(
        table.contains("EXTERNAL-IP") && table.contains("<pending>"),
        "{table}"
    );

    // The controller's write, through kube: the IP shows in kubectl's table.
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "demo");
    let status = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7", "ipMode": "VIP"}]}}});
    svcs.patch_status(
        "web",
        &PatchParams::apply("ferrolb-controller"),
        &Patch::Apply(&status),
    )
    .await
    .unwrap();
    let table = k.ok(&["get", "svc", "-A"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[2], row[4]),
        ("demo", "web", "LoadBalancer", "198.51.100.7"),
        "{table}"
    );
    assert!(
        row[5].starts_with("80:3") && row[5].ends_with("/TCP"),
        "{table}"
    );

    let ip = k
        .ok(&[
            "get",
            "svc",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ])
        .await;
    assert_eq!(ip, "198.51.100.7");

    // An Event published through events.k8s.io/v1 (as kube's Recorder does) shows in kubectl's views.
    let events: Api<k8s_openapi::api::events::v1::Event> =
        Api::namespaced(f.client.clone(), "demo");
    let uid = f
        .server
        .store()
        .get_object("services", "demo", "web")
        .unwrap()["metadata"]["uid"]
        .clone();
    let ev = serde_json::from_value(json!({
        "metadata": {"name": "web.17f0"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "reason": "IPAllocated", "note": "Assigned IP 198.51.100.7 from pool default", "type": "Normal",
        "action": "Allocate", "reportingController": "ferrolb.io/controller", "reportingInstance": "c-1",
        "regarding": {"kind": "Service", "namespace": "demo", "name": "web", "apiVersion": "v1", "uid": uid}
    }))
    .unwrap();
    events
        .create(&kube::api::PostParams::default(), &ev)
        .await
        .unwrap();
    let table = k.ok(&["get", "events", "-n", "demo"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{table}"
    );
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.contains("Normal") && row.contains("IPAllocated") && row.contains("service/web"),
        "{table}"
    );
    assert!(
        row.contains("Assigned IP 198.51.100.7 from pool default"),
        "{table}"
    );
    let described = k.ok(&["describe", "svc", "web", "-n", "demo"]).await;
    assert!(
        described.contains("LoadBalancer Ingress:") && described.contains("198.51.100.7"),
        "{described}"
    );
    assert!(described.contains("IPAllocated"), "{described}");

    // kubectl's own status patch and server-side apply.
    let patch = r#"{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.8"}]}}}"#;
    k.ok(&[
        "patch",
        "svc",
        "web",
        "-n",
        "demo",
        "--subresource=status",
        "--type=merge",
        "-p",
        patch,
    ])
    .await;
    let ip = k
        .ok(&[
            "get",
            "svc",
            "web",
            "-n",
            "demo",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ])
        .await;
    assert_eq!(ip, "198.51.100.8");
    let out = k.ok(&["apply", "--server-side", "-f", &svc]).await;
    assert_eq!(out.trim(), "service/web serverside-applied");

    // Errors come back as Status objects kubectl can print.
    let (ok, _, stderr) = k.run(&["get", "svc", "nope", "-n", "demo"]).await;
    assert!(
        !ok && stderr.contains(r#"services "nope" not found"#),
        "{stderr}"
    );

    // The `create` generators send protobuf bodies.
    k.ok(&["create", "namespace", "pb"]).await;
    k.ok(&[
        "create",
        "configmap",
        "cm1",
        "-n",
        "pb",
        "--from-literal=a=b",
    ])
    .await;
    k.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "-n",
        "pb",
        "--from-literal=password=hunter2",
    ])
    .await;
    k.ok(&[
        "create",
        "service",
        "loadbalancer",
        "lb",
        "-n",
        "pb",
        "--tcp=80:8080",
    ])
    .await;
    let stored = f.server.store().get_object("secrets", "pb", "s1").unwrap();
    assert_eq!(stored["data"]["password"], json!("aHVudGVyMg=="));
    let stored = f.server.store().get_object("services", "pb", "lb").unwrap();
    assert_eq!(stored["spec"]["type"], json!("LoadBalancer"));
    assert_eq!(stored["spec"]["ports"][0]["targetPort"], json!(8080));
    let all = k.ok(&["get", "all", "-n", "pb"]).await;
    assert!(all.contains("service/lb"), "{all}");

    let out = k.ok(&["delete", "-f", &svc]).await;
    assert!(out.contains(r#"service "web" deleted"#), "{out}");
    assert!(f
        .server
        .store()
        .get_object("services", "demo", "web")
        .is_none());

    let calls = f.server.calls();
    assert_eq!(calls.count("create", "services"), 2);
    assert_eq!(calls.count("patch", "services/status"), 2);
    assert!(calls.count("patch", "services") >= 2);
}

const KUSTOMIZATION: &str = "namespace: lb-system
resources: [objects.yaml]
";

const OBJECTS: &str = "apiVersion: v1
kind: Namespace
metadata: {name: lb-system}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: controller}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: lb-controller}
rules:
- {apiGroups: [''], resources: [services/status], verbs: [patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: lb-controller}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: lb-controller}
subjects:
- {kind: ServiceAccount, name: controller, namespace: lb-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: controller}
spec:
  replicas: 2
  selector: {matchLabels: {app: controller}}
  template:
    metadata: {labels: {app: controller}}
    spec:
      serviceAccountName: controller
      containers:
      - {name: controller, image: 'ferrolb:dev', args: [controller], env: [{name: A, value: '1'}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: speaker}
spec:
  selector: {matchLabels: {app: speaker}}
  template:
    metadata: {labels: {app: speaker}}
    spec:
      hostNetwork: true
      containers:
      - name: speaker
        image: 'ferrolb:dev'
        securityContext: {capabilities: {add: [NET_ADMIN, NET_RAW]}}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_and_delete_a_kustomization() {
    let Some(bin) = kubectl_or_skip() else {
        return;
    };
    let f = fixture().await;
    let tmp = TempDir::new("kustomize");
    let k = Kubectl {
        bin,
        server: f.server.url(),
        dir: tmp.0.clone(),
    };
    let dir = tmp.0.join("base");
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir, "kustomization.yaml", KUSTOMIZATION);
    write(&dir, "objects.yaml", OBJECTS);
    let dir = dir.to_string_lossy().into_owned();

    let out = k.ok(&["apply", "-k", &dir]).await;
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" created")).count(),
        6,
        "{out}"
    );
    let out = k.ok(&["apply", "-k", &dir]).await;
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" unchanged")).count(),
        6,
        "{out}"
    );
    let store = f.server.store();
    let deploy = store
        .get_object("deployments.apps", "lb-system", "controller")
        .unwrap();
    assert_eq!(deploy["spec"]["replicas"], json!(2));
    let binding = store
        .get_object(
            "clusterrolebindings.rbac.authorization.k8s.io",
            "",
            "lb-controller",
        )
        .unwrap();
    assert_eq!(binding["subjects"][0]["namespace"], json!("lb-system"));
    // A changed env value goes through kubectl's strategic merge patch (containers merged by name).
    write(
        &tmp.0.join("base"),
        "objects.yaml",
        &OBJECTS.replace("value: '1'", "value: '2'"),
    );
    let out = k.ok(&["apply", "-k", &dir]).await;
    assert!(
        out.contains("deployment.apps/controller configured"),
        "{out}"
    );
    let deploy = store
        .get_object("deployments.apps", "lb-system", "controller")
        .unwrap();
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "2"}])
    );
    assert_eq!(
        deploy["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Deleting waits for the namespace to finish terminating.
    let out = k.ok(&["delete", "-k", &dir]).await;
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" deleted")).count(),
        6,
        "{out}"
    );
    assert!(store.get_object("namespaces", "", "lb-system").is_none());
    assert!(store
        .list_objects("deployments.apps", Some("lb-system"))
        .is_empty());
    assert!(store
        .get_object(
            "clusterroles.rbac.authorization.k8s.io",
            "",
            "lb-controller"
        )
        .is_none());
}

const CRDS: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ipaddresspools.metallb.io
spec:
  group: metallb.io
  scope: Namespaced
  names: {kind: IPAddressPool, listKind: IPAddressPoolList, plural: ipaddresspools, singular: ipaddresspool}
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Auto Assign, type: boolean, jsonPath: .spec.autoAssign}
    - {name: Addresses, type: string, jsonPath: .spec.addresses}
    - {name: Assigned IPv4, type: integer, jsonPath: .status.assignedIPv4}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sessions.example.ferrolb.io
spec:
  group: example.ferrolb.io
  scope: Cluster
  names: {kind: Session, plural: sessions, shortNames: [sess]}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

const POOL: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: metallb-system
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: default
  namespace: metallb-system
spec:
  addresses: [198.51.100.0/24]
  autoAssign: true
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_definitions_then_custom_objects() {
    let Some(bin) = kubectl_or_skip() else {
        return;
    };
    let f = fixture().await;
    let tmp = TempDir::new("crds");
    let k = Kubectl {
        bin,
        server: f.server.url(),
        dir: tmp.0.clone(),
    };
    let crds = write(&tmp.0, "crds.yaml", CRDS);
    let out = k.ok(&["apply", "-f", &crds]).await;
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io created"
        ),
        "{out}"
    );
    k.ok(&[
        "wait",
        "--for=condition=established",
        "--timeout=10s",
        "crd/ipaddresspools.metallb.io",
    ])
    .await;
    // kubectl re-reads discovery for the new group and applies objects of the new kind.
    let pool = write(&tmp.0, "pool.yaml", POOL);
    let out = k.ok(&["apply", "-f", &pool]).await;
    assert!(
        out.contains("ipaddresspool.metallb.io/default created"),
        "{out}"
    );
    let out = k.ok(&["apply", "-f", &pool]).await;
    assert!(
        out.contains("ipaddresspool.metallb.io/default unchanged"),
        "{out}"
    );
    let resources = k
        .ok(&["api-resources", "--api-group=example.ferrolb.io"])
        .await;
    assert!(
        resources.contains("sess") && resources.contains("false"),
        "{resources}"
    );

    k.ok(&[
        "patch",
        "ipaddresspool",
        "default",
        "-n",
        "metallb-system",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"assignedIPv4":2}}"#,
    ])
    .await;
    // The printer columns of the definition, as `kubectl get` shows them.
    let table = k.ok(&["get", "ipaddresspools", "-A"]).await;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "AUTO",
            "ASSIGN",
            "ADDRESSES",
            "ASSIGNED",
            "IPV4"
        ],
        "{table}"
    );
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            "metallb-system",
            "default",
            "true",
            r#"["198.51.100.0/24"]"#,
            "2"
        ],
        "{table}"
    );

    let session = write(
        &tmp.0,
        "session.yaml",
        "apiVersion: example.ferrolb.io/v1alpha1\nkind: Session\nmetadata: {name: node-a.tor-a}\nspec: {node: node-a}\n",
    );
    let out = k.ok(&["apply", "--server-side", "-f", &session]).await;
    assert!(
        out.contains("session.example.ferrolb.io/node-a.tor-a serverside-applied"),
        "{out}"
    );
    let node = k
        .ok(&["get", "sess", "node-a.tor-a", "-o", "jsonpath={.spec.node}"])
        .await;
    assert_eq!(node, "node-a");

    // Deleting the definitions takes their objects with them.
    let out = k.ok(&["delete", "-f", &crds]).await;
    assert!(out.contains("deleted"), "{out}");
    assert!(f
        .server
        .store()
        .list_objects("ipaddresspools.metallb.io", None)
        .is_empty());
    let (ok, _, err) = k.run(&["get", "ipaddresspools", "-A"]).await;
    // (kubectl's discovery cache still knows the kind, so the list itself answers 404.)
    assert!(!ok && err.contains("NotFound"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_metallbs_crds_and_the_example_objects() {
    let Some(bin) = kubectl_or_skip() else {
        return;
    };
    let f = fixture().await;
    let tmp = TempDir::new("metallb");
    let k = Kubectl {
        bin,
        server: f.server.url(),
        dir: tmp.0.clone(),
    };
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests");
    let out = k
        .ok(&[
            "apply",
            "--server-side",
            "-f",
            &format!("{manifests}/crds.yaml"),
        ])
        .await;
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/ipaddresspools.metallb.io serverside-applied"),
        "{out}"
    );
    k.ok(&["create", "namespace", "ferrolb-system"]).await;
    let out = k
        .ok(&["apply", "-f", &format!("{manifests}/crds-example/bgp.yaml")])
        .await;
    assert!(
        out.contains("ipaddresspool.metallb.io/default created")
            && out.contains("bgppeer.metallb.io/router created"),
        "{out}"
    );
    let peers = k
        .ok(&[
            "get",
            "bgppeers.v1beta2.metallb.io",
            "-n",
            "ferrolb-system",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(peers.trim(), "bgppeer.metallb.io/router");
    // The deprecated v1beta1 view of the same object.
    let v1 = k
        .ok(&[
            "get",
            "bgppeers.v1beta1.metallb.io",
            "router",
            "-n",
            "ferrolb-system",
            "-o",
            "jsonpath={.apiVersion}",
        ])
        .await;
    assert_eq!(v1, "metallb.io/v1beta1");
}

const BAD_POOL: &str = "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: bad
  namespace: ferrolb-system
spec:
  addresses:
  - 198.51.100.0/24
  - 42
  autoAssign: maybe
";

/// `kubectl explain` shows the descriptions of FerroLB's CRDs, and `kubectl apply` of an object
/// that does not match its schema prints the server's 422 naming each field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_metallb_fields_and_prints_schema_errors() {
    let Some(bin) = kubectl_or_skip() else {
        return;
    };
    let f = fixture().await;
    let tmp = TempDir::new("explain");
    let k = Kubectl {
        bin,
        server: f.server.url(),
        dir: tmp.0.clone(),
    };
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/../../manifests");
    k.ok(&["apply", "-f", &format!("{manifests}/crds.yaml")])
        .await;
    let out = k.ok(&["explain", "ipaddresspool.spec.addresses"]).await;
    assert!(
        out.contains("FIELD: addresses") && out.contains("inclusive range"),
        "{out}"
    );
    let out = k.ok(&["explain", "bgppeers.spec.holdTime"]).await;
    assert!(
        out.contains("VERSION:    v1beta2") && out.contains("peers[].hold-time"),
        "{out}"
    );

    k.ok(&["create", "namespace", "ferrolb-system"]).await;
    let file = write(&tmp.0, "bad.yaml", BAD_POOL);
    let (ok, _, err) = k.run(&["apply", "-f", &file]).await;
    assert!(!ok, "a pool that does not match the schema is rejected");
    assert!(
        // kubectl renders the Status's causes, one line per field.
        err.contains("The IPAddressPool \"bad\" is invalid")
            && err.contains("* spec.addresses[1]: Invalid value: \"integer\": spec.addresses[1] in body must be of type string: \"integer\"")
            && err.contains("* spec.autoAssign: Invalid value: \"string\": spec.autoAssign in body must be of type boolean"),
        "{err}"
    );
    assert!(f
        .server
        .store()
        .list_objects("ipaddresspools.metallb.io", None)
        .is_empty());
}
