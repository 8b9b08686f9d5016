use super::*;

const CONFIG: &str = "address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.10-198.51.100.12]
";

fn services() -> Vec<ServiceView> {
    let json = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"web","name":"b"},
       "spec":{"type":"LoadBalancer","ports":[{"port":80}]},
       "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.12"}]}}},
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"web","name":"a"},
       "spec":{"type":"LoadBalancer","ports":[{"port":80}]}},
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"web","name":"c"},
       "spec":{"type":"LoadBalancer","loadBalancerIP":"203.0.113.5"}},
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"web","name":"d"},
       "spec":{"type":"LoadBalancer","loadBalancerClass":"example.com/other"}},
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"kube-system","name":"dns"},
       "spec":{"type":"ClusterIP"}}
    ]}"#;
    ferrolb_view::services_from_list_json(json).unwrap()
}

fn run() -> Plan {
    let config = ferrolb_config::parse_config(CONFIG).unwrap();
    plan(&config, &services(), &PlanOptions::default()).unwrap()
}

#[test]
fn json_output_has_one_object_per_handled_load_balancer() {
    let json = run().to_json();
    let expected = serde_json::json!([
        {"namespace": "web", "name": "a", "pool": "default", "ips": ["198.51.100.10"],
         "changed": true, "error": null},
        {"namespace": "web", "name": "b", "pool": "default", "ips": ["198.51.100.12"],
         "changed": false, "error": null},
        {"namespace": "web", "name": "c", "pool": null, "ips": [],
         "changed": false, "error": "requested IP 203.0.113.5 is not in any pool"}
    ]);
    assert_eq!(json, expected);
}

#[test]
fn table_output_lists_actions_and_usage() {
    let table = run().render_table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAMESPACE"), "{table}");
    assert!(
        lines[1].contains("web") && lines[1].contains("198.51.100.10") && lines[1].contains("new"),
        "{table}"
    );
    assert!(
        lines[2].contains("198.51.100.12") && lines[2].contains("kept"),
        "{table}"
    );
    assert!(
        lines[3].contains("error")
            && lines[3].contains("requested IP 203.0.113.5 is not in any pool"),
        "{table}"
    );
    assert!(
        lines[4].contains("skipped") && lines[4].contains("example.com/other"),
        "{table}"
    );
    assert!(
        table.contains("3 LoadBalancer Service(s), 2 change(s)"),
        "{table}"
    );
    assert!(
        table.contains("pool default: 2 of 3 addresses in use"),
        "{table}"
    );
}

#[test]
fn status_addresses_are_kept_whatever_the_input_order() {
    let config = ferrolb_config::parse_config(CONFIG).unwrap();
    let mut svcs = services();
    // Everyone already has the address they would get.
    let first = plan(&config, &svcs, &PlanOptions::default()).unwrap();
    for s in &mut svcs {
        if let Some(e) = first
            .entries
            .iter()
            .find(|e| e.name == s.name && e.namespace == s.namespace)
        {
            s.ingress_ips = e.ips.clone();
        }
    }
    svcs.reverse();
    let again = plan(&config, &svcs, &PlanOptions::default()).unwrap();
    for e in &again.entries {
        if e.error.is_none() && e.skipped.is_none() {
            assert!(!e.changed, "{} moved", e.name);
        }
    }
    assert_eq!(
        again.changes(),
        1,
        "only the unsatisfiable Service is a change"
    );
}

#[test]
fn conflicting_status_addresses_resolve_deterministically() {
    let config = ferrolb_config::parse_config(CONFIG).unwrap();
    let mut x = ServiceView::load_balancer("ns", "x");
    let mut y = ServiceView::load_balancer("ns", "y");
    x.ingress_ips = vec!["198.51.100.11".parse().unwrap()];
    y.ingress_ips = x.ingress_ips.clone();
    for order in [vec![x.clone(), y.clone()], vec![y.clone(), x.clone()]] {
        let p = plan(&config, &order, &PlanOptions::default()).unwrap();
        assert_eq!(p.entries[0].action(), "kept");
        assert_eq!(p.entries[1].action(), "moved");
        assert!(p.entries[1]
            .note
            .as_deref()
            .unwrap()
            .contains("already in use by ns/x"));
        assert_eq!(
            p.entries[1].ips,
            ["198.51.100.10".parse::<IpAddr>().unwrap()]
        );
    }
}
