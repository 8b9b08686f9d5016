//! Patches through the real kube client: merge, strategic, JSON patch and server-side apply, on the main
//! resource and on the status subresource.

mod common;

use common::{code, fixture, lb_service};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn ingress(svc: &Service) -> Vec<String> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|i| i.iter().filter_map(|x| x.ip.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn status_subresource_merge_and_apply() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let created = svcs
        .create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .unwrap();

    // A main-resource patch cannot set status.
    let sneaky = json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}]}}});
    let after = svcs
        .patch("web", &PatchParams::default(), &Patch::Merge(&sneaky))
        .await
        .unwrap();
    assert!(ingress(&after).is_empty());
    assert_eq!(
        after.metadata.resource_version, created.metadata.resource_version,
        "no-op write keeps the version"
    );

    // Merge patch on /status sets it, and does not touch spec.
    let status = json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}, "spec": {"type": "ClusterIP"}});
    let after = svcs
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(ingress(&after), ["198.51.100.1"]);
    assert_eq!(after.spec.unwrap().type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(
        after.metadata.generation,
        Some(1),
        "status writes do not bump generation"
    );

    // Server-side apply on /status, as the controller writes it.
    let pp = PatchParams::apply("ferrolb-controller").force();
    let applied = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.2"}, {"ip": "2001:db8::2"}]}}});
    let after = svcs
        .patch_status("web", &pp, &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(ingress(&after), ["198.51.100.2", "2001:db8::2"]);
    let mf = after.metadata.managed_fields.unwrap();
    let mine = mf
        .iter()
        .find(|e| e.manager.as_deref() == Some("ferrolb-controller"))
        .unwrap();
    assert_eq!(
        (mine.operation.as_deref(), mine.subresource.as_deref()),
        (Some("Apply"), Some("status"))
    );

    // Applying again without the ingress list removes it (the manager no longer owns it).
    let cleared = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "status": {"loadBalancer": {}}});
    let after = svcs
        .patch_status("web", &pp, &Patch::Apply(&cleared))
        .await
        .unwrap();
    assert!(ingress(&after).is_empty());

    let calls = f.server.calls();
    assert_eq!(calls.count("patch", "services/status"), 3);
    assert_eq!(calls.count("patch", "services"), 1);
    let applies: Vec<_> = calls
        .log()
        .into_iter()
        .filter(|r| r.content_type.as_deref() == Some("application/apply-patch+yaml"))
        .map(|r| r.field_manager.unwrap_or_default())
        .collect();
    assert_eq!(applies, ["ferrolb-controller", "ferrolb-controller"]);
}

#[tokio::test]
async fn apply_creates_then_updates_and_requires_a_field_manager() {
    let f = fixture().await;
    let cms: Api<ConfigMap> = Api::namespaced(f.client.clone(), "default");
    let pp = PatchParams::apply("test");
    let doc = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}});
    let created = cms.patch("cfg", &pp, &Patch::Apply(&doc)).await.unwrap();
    assert_eq!(created.data.unwrap().len(), 2);
    let doc2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "3"}});
    let updated = cms.patch("cfg", &pp, &Patch::Apply(&doc2)).await.unwrap();
    assert_eq!(
        updated.data.unwrap(),
        [("a".to_string(), "3".to_string())].into()
    );

    let (c, _) = code(
        cms.patch("cfg", &PatchParams::default(), &Patch::Apply(&doc2))
            .await
            .unwrap_err(),
    );
    assert_eq!(c, 400);
    // Status apply on a missing object is NotFound.
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let st =
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ghost"}, "status": {}});
    assert_eq!(
        code(
            svcs.patch_status("ghost", &pp, &Patch::Apply(&st))
                .await
                .unwrap_err()
        )
        .0,
        404
    );
}

#[tokio::test]
async fn strategic_and_json_patches_and_generation() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let mut svc = lb_service("default", "web");
    svc.spec
        .as_mut()
        .unwrap()
        .ports
        .as_mut()
        .unwrap()
        .push(serde_json::from_value(json!({"name": "https", "port": 443})).unwrap());
    svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].name = Some("http".into());
    svcs.create(&PostParams::default(), &svc).await.unwrap();

    let smp = json!({"spec": {"ports": [{"port": 443, "name": "tls"}]}});
    let after = svcs
        .patch("web", &PatchParams::default(), &Patch::Strategic(&smp))
        .await
        .unwrap();
    let ports: Vec<_> = after
        .spec
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.port, p.name.clone().unwrap()))
        .collect();
    assert_eq!(ports, [(80, "http".to_string()), (443, "tls".to_string())]);
    assert_eq!(after.metadata.generation, Some(2));
    // Allocated node ports survive the patch.
    assert!(after
        .spec
        .unwrap()
        .ports
        .unwrap()
        .iter()
        .all(|p| p.node_port.is_some()));

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/type", "value": "LoadBalancer"},
        {"op": "replace", "path": "/spec/externalTrafficPolicy", "value": "Local"}
    ]))
    .unwrap();
    let after = svcs
        .patch("web", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(
        after.spec.unwrap().external_traffic_policy.as_deref(),
        Some("Local")
    );
    assert_eq!(after.metadata.generation, Some(3));

    let bad: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/type", "value": "NodePort"}]))
            .unwrap();
    assert_eq!(
        code(
            svcs.patch("web", &PatchParams::default(), &Patch::Json::<()>(bad))
                .await
                .unwrap_err()
        )
        .0,
        422
    );

    // A merge patch carrying a stale resourceVersion conflicts.
    let stale = json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}});
    let (c, reason) = code(
        svcs.patch("web", &PatchParams::default(), &Patch::Merge(&stale))
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "Conflict"));
    // Dry run computes but stores nothing.
    let label = json!({"metadata": {"labels": {"x": "y"}}});
    let dry = svcs
        .patch(
            "web",
            &PatchParams::default().dry_run(),
            &Patch::Merge(&label),
        )
        .await
        .unwrap();
    assert_eq!(
        dry.metadata.labels.unwrap().get("x").map(String::as_str),
        Some("y")
    );
    assert!(!svcs
        .get("web")
        .await
        .unwrap()
        .metadata
        .labels
        .unwrap()
        .contains_key("x"));
}

#[tokio::test]
async fn apply_conflicts_between_managers_unless_forced() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    svcs.create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .unwrap();
    let status = |ip: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
    };
    let a = PatchParams::apply("controller-a");
    svcs.patch_status("web", &a, &Patch::Apply(&status("198.51.100.1")))
        .await
        .unwrap();
    let b = PatchParams::apply("controller-b");
    let (c, reason) = code(
        svcs.patch_status("web", &b, &Patch::Apply(&status("198.51.100.2")))
            .await
            .unwrap_err(),
    );
    assert_eq!((c, reason.as_str()), (409, "Conflict"));
    let after = svcs
        .patch_status(
            "web",
            &b.clone().force(),
            &Patch::Apply(&status("198.51.100.2")),
        )
        .await
        .unwrap();
    assert_eq!(ingress(&after), ["198.51.100.2"]);
    // A stale resourceVersion in an applied configuration is a precondition failure.
    let mut stale = status("198.51.100.3");
    stale["metadata"]["resourceVersion"] = json!("1");
    let (c, _) = code(
        svcs.patch_status("web", &a.force(), &Patch::Apply(&stale))
            .await
            .unwrap_err(),
    );
    assert_eq!(c, 409);
}

#[tokio::test]
async fn reapplying_the_same_configuration_is_a_no_op() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    svcs.create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .unwrap();
    let doc = |ip: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
    };
    let a = PatchParams::apply("a").force();
    let b = PatchParams::apply("b").force();
    svcs.patch_status("web", &a, &Patch::Apply(&doc("198.51.100.1")))
        .await
        .unwrap();
    let second = svcs
        .patch_status("web", &b, &Patch::Apply(&doc("198.51.100.1")))
        .await
        .unwrap();
    let again = svcs
        .patch_status("web", &a, &Patch::Apply(&doc("198.51.100.1")))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        second.metadata.resource_version
    );
}
