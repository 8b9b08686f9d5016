use super::*;

fn svc(json: serde_json::Value) -> ServiceView {
    let svc: Service = serde_json::from_value(json).unwrap();
    ServiceView::from_service(&svc)
}

#[test]
fn reads_a_dual_stack_load_balancer() {
    let v = svc(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": "web", "name": "front", "uid": "u1",
            "annotations": {"metallb.universe.tf/address-pool": "prod",
                            "ferrolb.io/allow-shared-ip": "k1"}},
        "spec": {"type": "LoadBalancer", "ipFamilies": ["IPv4", "IPv6"],
                 "ipFamilyPolicy": "RequireDualStack", "externalTrafficPolicy": "Local",
                 "selector": {"app": "front"},
                 "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}, {"hostname": "x"}]}}
    }));
    assert_eq!(v.key().to_string(), "web/front");
    assert!(v.is_load_balancer);
    assert_eq!(v.ip_families, [IpFamily::V4, IpFamily::V6]);
    assert_eq!(v.ip_family_policy, IpFamilyPolicy::RequireDualStack);
    assert_eq!(v.address_pool.as_deref(), Some("prod"));
    assert_eq!(v.sharing_key.as_deref(), Some("k1"));
    assert_eq!(v.ports.len(), 2);
    assert_eq!(v.ports[0].to_string(), "80/TCP");
    assert_eq!(v.ports[1].to_string(), "53/UDP");
    assert_eq!(v.backend_key().as_deref(), Some("app=front"));
    assert_eq!(v.ingress_ips, ["198.51.100.7".parse::<IpAddr>().unwrap()]);
}

#[test]
fn requested_ips_from_spec_or_annotation_but_not_both() {
    let v = svc(serde_json::json!({
        "metadata": {"name": "a", "annotations": {"ferrolb.io/loadBalancerIPs": "198.51.100.1, 2001:db8::1"}},
        "spec": {"type": "LoadBalancer"}
    }));
    assert_eq!(v.requested_ips.len(), 2);
    assert_eq!(v.requested_ips_error, None);
    assert_eq!(v.namespace, "default");

    let v = svc(serde_json::json!({
        "metadata": {"name": "a", "annotations": {"metallb.universe.tf/loadBalancerIPs": "198.51.100.1"}},
        "spec": {"type": "LoadBalancer", "loadBalancerIP": "198.51.100.2"}
    }));
    assert!(v.requested_ips.is_empty());
    let err = v.requested_ips_error.unwrap();
    assert!(err.contains("both spec.loadBalancerIP"), "{err}");

    let v = svc(serde_json::json!({
        "metadata": {"name": "a", "annotations": {"ferrolb.io/loadBalancerIPs": "198.51.100.300"}},
        "spec": {"type": "LoadBalancer"}
    }));
    assert!(v
        .requested_ips_error
        .unwrap()
        .contains("\"198.51.100.300\" is not an IP"));

    let v = svc(serde_json::json!({
        "metadata": {"name": "a"},
        "spec": {"type": "LoadBalancer", "loadBalancerIP": "198.51.100.9"}
    }));
    assert_eq!(v.requested_ips, ["198.51.100.9".parse::<IpAddr>().unwrap()]);

    let v = svc(serde_json::json!({
        "metadata": {"name": "a", "annotations": {"ferrolb.io/loadBalancerIPs": "198.51.100.1,198.51.100.2"}},
        "spec": {"type": "LoadBalancer"}
    }));
    assert!(v.requested_ips_error.unwrap().contains("at most one IPv4"));
}

#[test]
fn cluster_ip_services_are_not_load_balancers() {
    let v = svc(serde_json::json!({"metadata": {"name": "a"}, "spec": {"type": "ClusterIP"}}));
    assert!(!v.is_load_balancer);
    assert_eq!(v.backend_key(), None);
}

#[test]
fn list_json_in_all_shapes() {
    let list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"a","name":"x"},"spec":{"type":"LoadBalancer"}},
        {"metadata":{"namespace":"b","name":"y"},"spec":{"type":"ClusterIP"}}]}"#;
    let views = services_from_list_json(list).unwrap();
    assert_eq!(views.len(), 2);
    assert_eq!(views[1].key().to_string(), "b/y");
    let arr = r#"[{"metadata":{"name":"x"}}]"#;
    assert_eq!(services_from_list_json(arr).unwrap().len(), 1);
    let one = r#"{"kind":"Service","metadata":{"name":"x"}}"#;
    assert_eq!(services_from_list_json(one).unwrap().len(), 1);
    let err = services_from_list_json(r#"{"kind":"List","items":[{"kind":"Pod"}]}"#).unwrap_err();
    assert!(err.to_string().contains("items[0].kind"), "{err}");
    assert!(services_from_list_json("nope").is_err());
    assert!(services_from_list_json(r#"{"items": 3}"#).is_err());
}

#[test]
fn views_of_two_copies_with_the_same_content_are_equal() {
    let mut older = ServiceView::load_balancer("apps", "web");
    older.resource_version = CopyVersion(Some("7".into()));
    let mut newer = older.clone();
    newer.resource_version = CopyVersion(Some("8".into()));
    assert_eq!(older, newer);
    assert_eq!(newer.resource_version.as_str(), Some("8"));
    newer.ingress_ips = vec!["198.51.100.7".parse().unwrap()];
    assert_ne!(older, newer);
}
