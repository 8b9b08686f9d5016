//! Round trip of `ferrolb config migrate`: a legacy ConfigMap and the objects it migrates to
//! give the same Config, the same controller plan and the same speaker announcements.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferrolb_speaker::policy::{desired, PolicyInput};
use ferrolb_view::{EndpointView, NodeView, ServiceKey};

use super::config::{load, migrate};
use super::plan::{execute, Args, Output};

const CONFIGMAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {namespace: metallb-system, name: config}
data:
  config: |
    peers:
    - peer-address: 10.255.0.1
      peer-asn: 64512
      my-asn: 64512
      hold-time: 30s
      node-selectors:
      - match-labels: {rack: r1}
    - peer-address: 10.255.0.5
      peer-asn: 65010
      my-asn: 64512
      password: s3cret
      bfd-profile: Fast_Profile
    bgp-communities:
      no-advertise: 65535:65282
    bfd-profiles:
    - name: Fast_Profile
      receive-interval: 100
      transmit-interval: 100
    address-pools:
    - name: public
      protocol: bgp
      avoid-buggy-ips: true
      addresses: [198.51.100.0/28, 2001:db8:5::/124]
      bgp-advertisements:
      - aggregation-length: 32
        localpref: 200
        communities: [no-advertise, "large:64512:1:2"]
      - aggregation-length: 28
        aggregation-length-v6: 124
      - aggregation-length: 30
        communities: ["64512:30"]
        node-selectors:
        - match-labels: {rack: r2}
        peers: [10.255.0.5]
    - name: reserved
      protocol: bgp
      auto-assign: false
      addresses: [198.51.100.32-198.51.100.39]
    - name: lan
      protocol: layer2
      addresses: [198.51.100.64/28]
"#;

/// Services: automatic, pool by annotation, a requested address, IPv6, one already assigned.
const SERVICES: &str = r#"{"apiVersion":"v1","kind":"List","items":[
 {"metadata":{"namespace":"shop","name":"web"},"spec":{"type":"LoadBalancer"}},
 {"metadata":{"namespace":"shop","name":"db","annotations":{"metallb.universe.tf/address-pool":"reserved"}},
  "spec":{"type":"LoadBalancer"}},
 {"metadata":{"namespace":"lan","name":"printer"},"spec":{"type":"LoadBalancer","loadBalancerIP":"198.51.100.70"}},
 {"metadata":{"namespace":"shop","name":"v6"},"spec":{"type":"LoadBalancer","ipFamilies":["IPv6"]}},
 {"metadata":{"namespace":"shop","name":"api"},"spec":{"type":"LoadBalancer"},
  "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.5"}]}}},
 {"metadata":{"namespace":"shop","name":"old"},"spec":{"type":"LoadBalancer"},
  "status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.33"}]}}}
]}"#;

fn temp(name: &str, text: &str) -> PathBuf {
    super::temp_file("migrate", name, text)
}

fn plan_json(config: PathBuf, services: PathBuf) -> String {
    let (code, out, err) = execute(&Args {
        config,
        services,
        output: Output::Json,
        lb_class: None,
    })
    .unwrap();
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn configmap_and_migrated_objects_plan_and_announce_the_same() {
    let legacy_path = temp("cm.yaml", CONFIGMAP);
    let (code, objects, notes) = migrate(&legacy_path, "metallb-system").unwrap();
    assert_eq!(code, 0, "{notes}");
    assert!(
        notes.contains("\"Fast_Profile\" becomes \"fast-profile\""),
        "{notes}"
    );
    let objects_path = temp("objects.yaml", &objects);
    let services = temp("services.json", SERVICES);

    let legacy = load(&legacy_path).unwrap().unwrap();
    let crd = load(&objects_path).unwrap().unwrap();
    let renamed = |c: &ferrolb_config::Config| {
        let mut c = c.clone();
        for p in &mut c.bfd_profiles {
            p.name = p.name.to_lowercase().replace('_', "-");
        }
        for p in &mut c.peers {
            p.bfd_profile = p
                .bfd_profile
                .as_ref()
                .map(|b| b.to_lowercase().replace('_', "-"));
        }
        c
    };
    let legacy = renamed(&legacy);
    assert_eq!(crd.peers, legacy.peers);
    assert_eq!(crd.pools, legacy.pools);
    assert_eq!(crd.communities, legacy.communities);
    assert_eq!(crd.bfd_profiles, legacy.bfd_profiles);

    let from_legacy = plan_json(legacy_path, services.clone());
    let from_objects = plan_json(objects_path, services);
    assert_eq!(from_legacy, from_objects);
    assert!(from_legacy.contains("\"198.51.100.32\""), "{from_legacy}");
    assert!(from_legacy.contains("\"198.51.100.70\""), "{from_legacy}");

    let views = ferrolb_view::services_from_list_json(SERVICES).unwrap();
    let endpoint = |node: &str| EndpointView {
        addresses: vec!["10.244.1.10".parse().unwrap()],
        node_name: Some(node.into()),
        ready: true,
        serving: true,
        terminating: false,
    };
    let endpoints: BTreeMap<ServiceKey, Vec<EndpointView>> = views
        .iter()
        .map(|s| (s.key(), vec![endpoint("node-a")]))
        .collect();
    for (name, rack) in [("node-a", "r1"), ("node-b", "r2")] {
        let node = NodeView {
            name: name.into(),
            labels: BTreeMap::from([("rack".to_string(), rack.to_string())]),
            ..Default::default()
        };
        let announce = |config| {
            desired(
                PolicyInput {
                    config: Some(config),
                    node: &node,
                    load_balancer_class: None,
                    endpoints: &endpoints,
                },
                views.iter(),
            )
        };
        let a = announce(&legacy);
        let b = announce(&crd);
        assert_eq!(a, b, "node {name}");
        // The /30 advertisement is for rack r2 and peer 10.255.0.5 only.
        let slash30 = a
            .peers
            .iter()
            .filter(|p| p.routes.keys().any(|n| n.prefix_len() == 30))
            .map(|p| p.key.address.to_string())
            .collect::<Vec<_>>();
        let expected: &[&str] = if rack == "r2" { &["10.255.0.5"] } else { &[] };
        assert_eq!(slash30, expected, "node {name}");
        let routes: usize = a.peers.iter().map(|p| p.routes.len()).sum();
        assert!(routes >= 2, "node {name}: {a:#?}");
    }
}
