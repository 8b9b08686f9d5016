use super::*;
use crate::model::Protocol;

const BGP_SETUP: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: public, namespace: metallb-system, labels: {tier: web}}
spec:
  addresses: [198.51.100.0/26, 2001:db8:1::/120]
  avoidBuggyIPs: true
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: private, namespace: metallb-system}
spec:
  addresses: [198.51.100.64-198.51.100.95]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: Community
metadata: {name: communities, namespace: metallb-system}
spec:
  communities:
  - {name: no-advertise, value: "65535:65282"}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: web, namespace: metallb-system}
spec:
  ipAddressPoolSelectors:
  - matchLabels: {tier: web}
  aggregationLength: 32
  aggregationLengthV6: 128
  localPref: 100
  communities: [no-advertise, "64512:7"]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: edge, namespace: metallb-system}
spec:
  ipAddressPools: [public]
  aggregationLength: 26
  nodeSelectors: [{matchLabels: {edge: "true"}}]
  peers: [tor]
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: metallb-system}
spec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 10.255.0.1
  holdTime: 30s
  bfdProfile: fast
  nodeSelectors:
  - matchExpressions:
    - {key: rack, operator: In, values: [r1]}
  passwordSecret: {name: bgp-auth}
"#;

const BGP_SETUP_LEGACY: &str = r#"
peers:
- peer-address: 10.255.0.1
  peer-asn: 64512
  my-asn: 64512
  hold-time: 30s
  bfd-profile: fast
  node-selectors:
  - match-expressions:
    - {key: rack, operator: In, values: [r1]}
  password-secret: {name: bgp-auth, key: password}
bgp-communities:
  no-advertise: "65535:65282"
bfd-profiles:
- {name: fast, receive-interval: 100, transmit-interval: 100, detect-multiplier: 3}
address-pools:
- name: public
  protocol: bgp
  addresses: [198.51.100.0/26, 2001:db8:1::/120]
  avoid-buggy-ips: true
  bgp-advertisements:
  - aggregation-length: 32
    aggregation-length-v6: 128
    localpref: 100
    communities: [no-advertise, "64512:7"]
  - aggregation-length: 26
    node-selectors:
    - match-labels: {edge: "true"}
    peers: [10.255.0.1]
- name: private
  protocol: layer2
  addresses: [198.51.100.64-198.51.100.95]
  auto-assign: false
"#;

#[test]
fn objects_give_the_same_config_as_the_configmap() {
    let crd = parse_resources(BGP_SETUP).unwrap();
    let legacy = crate::parse_config(BGP_SETUP_LEGACY).unwrap();
    assert_eq!(crd.peers, legacy.peers);
    assert_eq!(crd.pools, legacy.pools);
    assert_eq!(crd.communities, legacy.communities);
    assert_eq!(crd.bfd_profiles, legacy.bfd_profiles);
    assert_eq!(crd.pool("private").unwrap().protocol, Protocol::Layer2);
    assert!(
        crd.warnings.iter().any(|w| w.starts_with(
            "IPAddressPool/metallb-system/private: no BGPAdvertisement or L2Advertisement"
        )),
        "{:?}",
        crd.warnings
    );
}

fn errors_of(text: &str) -> Vec<String> {
    parse_resources(text)
        .unwrap_err()
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn all_errors_name_the_object_and_field() {
    let text = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: default, namespace: metallb-system}
spec:
  addresses: [198.51.100.0/24, 198.51.100.300/32]
  avoidBugyIPs: true
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: agg, namespace: metallb-system}
spec:
  aggregationLength: 20
  communities: [no-such-alias]
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: bad, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64513, peerAddress: 10.255.0.999, holdTime: 2s}
"#;
    let errors = errors_of(text);
    let expect = [
        "IPAddressPool/metallb-system/default: spec.avoidBugyIPs: unknown key; did you mean avoidBuggyIPs?",
        "IPAddressPool/metallb-system/default: spec.addresses[1]: \"198.51.100.300/32\"",
        "BGPAdvertisement/metallb-system/agg: spec.aggregationLength: \"20\": shorter than /24",
        "BGPAdvertisement/metallb-system/agg: spec.communities[0]: \"no-such-alias\"",
        "BGPPeer/metallb-system/bad: spec.peerAddress: \"10.255.0.999\": not an IP address",
        "BGPPeer/metallb-system/bad: spec.holdTime: \"2s\": hold time must be 0",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|got| got.starts_with(e)),
            "missing {e:?} in {errors:#?}"
        );
    }
}

#[test]
fn unimplemented_fields_are_reported() {
    let text = r#"
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: p, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64513, peerAddress: 10.255.0.1, vrf: red, enableGracefulRestart: true, connectTime: 5s}
"#;
    let config = parse_resources(text).unwrap();
    for field in ["vrf", "enableGracefulRestart", "connectTime"] {
        let prefix = format!("BGPPeer/metallb-system/p: spec.{field}: not implemented by FerroLB");
        assert!(
            config.warnings.iter().any(|w| w.starts_with(&prefix)),
            "{prefix} in {:?}",
            config.warnings
        );
    }
    let errors = errors_of(&text.replace("vrf: red", "dynamicASN: external"));
    assert!(
        errors[0].starts_with(
            "BGPPeer/metallb-system/p: spec.dynamicASN: \"external\": not implemented"
        ),
        "{errors:?}"
    );
}

#[test]
fn detection() {
    assert!(looks_like_resources(BGP_SETUP));
    assert!(!looks_like_resources(BGP_SETUP_LEGACY));
    assert!(!looks_like_resources(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  config: |\n    peers: []\n"
    ));
}

fn same_config(a: &Config, b: &Config) {
    assert_eq!(a.peers, b.peers);
    assert_eq!(a.pools, b.pools);
    assert_eq!(a.communities, b.communities);
    assert_eq!(a.bfd_profiles, b.bfd_profiles);
}

#[test]
fn migrated_objects_parse_to_the_same_config() {
    let legacy = crate::parse_config(BGP_SETUP_LEGACY).unwrap();
    let migration = migrate(BGP_SETUP_LEGACY, "metallb-system").unwrap();
    let yaml = migration.to_yaml();
    assert!(looks_like_resources(&yaml), "{yaml}");
    let back = parse_resources(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    same_config(&back, &legacy);
    let kinds: Vec<&str> = migration
        .objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Community",
            "BFDProfile",
            "BGPPeer",
            "IPAddressPool",
            "IPAddressPool",
            "BGPAdvertisement",
            "BGPAdvertisement",
            "L2Advertisement"
        ]
    );
}

#[test]
fn migration_renames_like_metallbs_converter() {
    let text = "address-pools:\n- name: My_Pool\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n- name: 9lives\n  protocol: bgp\n  addresses: [198.51.100.16/28]\n";
    let migration = migrate(text, "ns").unwrap();
    let names: Vec<&str> = migration
        .objects
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["my-pool", "lives", "bgpadvertisement1", "bgpadvertisement2"]
    );
    assert_eq!(
        migration.objects[2]["spec"]["ipAddressPools"],
        serde_json::json!(["my-pool"])
    );
    assert!(migration.notes[0].contains("\"My_Pool\" becomes \"my-pool\""));
    let err = migrate(
        "address-pools:\n- name: \"1_2\"\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n",
        "ns",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("address-pools[0].name: \"1_2\": cannot be turned into a Kubernetes name"),
        "{err}"
    );
}
