//! Table tests for parsing and validation.

use super::*;
use crate::model::Protocol;

/// The example from issue 3, verbatim.
const ISSUE_EXAMPLE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  namespace: metallb-system
  name: config
data:
  config: |
    peers:
    - peer-address: 192.168.1.1
      peer-asn: 65000
      my-asn: 65001
    address-pools:
    - name: default
      protocol: bgp
      addresses:
      #- 192.168.1.10-192.168.1.100
      - 192.168.254.0/32
"#;

#[test]
fn empty_is_an_empty_config() {
    assert_eq!(parse_config("").unwrap(), Config::default());
}

#[test]
fn issue_example_is_accepted_verbatim() {
    let config = parse_document(ISSUE_EXAMPLE).expect("the issue's example must parse");
    assert_eq!(config.peers.len(), 1);
    let peer = &config.peers[0];
    assert_eq!(peer.address.to_string(), "192.168.1.1");
    assert_eq!((peer.peer_asn, peer.my_asn, peer.port), (65000, 65001, 179));
    assert_eq!(peer.hold_time.as_secs(), 90);
    assert_eq!(peer.keepalive_time.as_secs(), 30);
    assert_eq!(config.pools.len(), 1);
    let pool = &config.pools[0];
    assert_eq!(pool.name, "default");
    assert_eq!(pool.protocol, Protocol::Bgp);
    assert_eq!(pool.ranges.len(), 1);
    assert_eq!(pool.ranges[0].to_string(), "192.168.254.0/32");
    assert!(pool.auto_assign);
    assert_eq!(
        pool.bgp_advertisements,
        vec![crate::BgpAdvertisement::default()]
    );
}

/// (document, expected path, expected value, part of the message)
const BAD: &[(&str, &str, Option<&str>, &str)] = &[
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24, 10.0.0.0/33]\n",
        "address-pools[0].addresses[1]",
        Some("10.0.0.0/33"),
        "prefix length 33 is longer than 32",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  hold_time: 90s\n",
        "peers[0].hold_time",
        None,
        "did you mean hold-time?",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  hold-time: 1s\n",
        "peers[0].hold-time",
        Some("1s"),
        "0 (no keepalives) or at least 3s",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  hold-time: 30s\n  keepalive-time: 40s\n",
        "peers[0].keepalive-time",
        Some("40s"),
        "must not be longer than the hold time",
    ),
    (
        "peers:\n- peer-address: 192.168.1.300\n  peer-asn: 65000\n  my-asn: 65001\n",
        "peers[0].peer-address",
        Some("192.168.1.300"),
        "not an IP address",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  my-asn: 65001\n",
        "peers[0].peer-asn",
        None,
        "missing (required)",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 4294967296\n  my-asn: 65001\n",
        "peers[0].peer-asn",
        Some("4294967296"),
        "0..=4294967295",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  peer-port: 70000\n",
        "peers[0].peer-port",
        Some("70000"),
        "0..=65535",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  max-prefix: many\n",
        "peers[0].max-prefix",
        Some("many"),
        "expected a number",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  max-prefix: -5\n",
        "peers[0].max-prefix",
        Some("-5"),
        "0..=4294967295",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  router-id: '2001:db8::1'\n",
        "peers[0].router-id",
        Some("2001:db8::1"),
        "IPv4",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65000\n  ebgp-multihop: true\n",
        "peers[0].ebgp-multihop",
        Some("true"),
        "iBGP",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  bfd-profile: fast\n",
        "peers[0].bfd-profile",
        Some("fast"),
        "no BFD profile",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  node-selectors:\n  - match-expressions:\n    - key: rack\n      operator: Near\n      values: [a]\n",
        "peers[0].node-selectors[0].match-expressions[0].operator",
        Some("Near"),
        "In, NotIn, Exists or DoesNotExist",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  node-selectors:\n  - match-expressions:\n    - key: rack\n      operator: In\n",
        "peers[0].node-selectors[0].match-expressions[0].values",
        None,
        "at least one value",
    ),
    (
        "peers:\n- peer-address: 192.168.1.1\n  peer-asn: 65000\n  my-asn: 65001\n  password: x\n  password-secret: {name: s, key: k}\n",
        "peers[0].password-secret",
        None,
        "not both",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/16]\n- name: b\n  protocol: bgp\n  addresses: [10.0.5.0 - 10.0.5.9]\n",
        "address-pools[1].addresses[0]",
        Some("10.0.5.0-10.0.5.9"),
        "overlaps 10.0.0.0/16 of pool \"a\" (address-pools[0].addresses[0])",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n- name: a\n  protocol: bgp\n  addresses: [10.1.0.0/24]\n",
        "address-pools[1].name",
        Some("a"),
        "duplicate pool name",
    ),
    (
        "address-pools:\n- name: a\n  protocol: ospf\n  addresses: [10.0.0.0/24]\n",
        "address-pools[0].protocol",
        Some("ospf"),
        "bgp or layer2",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.9-10.0.0.1]\n",
        "address-pools[0].addresses[0]",
        Some("10.0.0.9-10.0.0.1"),
        "after range end",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: 16\n",
        "address-pools[0].bgp-advertisements[0].aggregation-length",
        Some("16"),
        "aggregation-length must be at least 24",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: ['2001:db8::/64']\n  bgp-advertisements:\n  - aggregation-length-v6: 129\n",
        "address-pools[0].bgp-advertisements[0].aggregation-length-v6",
        Some("129"),
        "0..=128",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: [65535:65281, no-export]\nbgp-communities:\n  no-export: 65535:65281\n",
        "address-pools[0].bgp-advertisements[0].communities[1]",
        Some("no-export"),
        "duplicate community 65535:65281",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: [65536:1]\n",
        "address-pools[0].bgp-advertisements[0].communities[0]",
        Some("65536:1"),
        "out of range",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: [gold]\n",
        "address-pools[0].bgp-advertisements[0].communities[0]",
        Some("gold"),
        "nor an alias",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: ['large:1:2']\n",
        "address-pools[0].bgp-advertisements[0].communities[0]",
        Some("large:1:2"),
        "large:a:b:c",
    ),
    (
        "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: 32\n",
        "address-pools[0].bgp-advertisements",
        None,
        "only allowed in a bgp pool",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  auto-assign: maybe\n",
        "address-pools[0].auto-assign",
        Some("maybe"),
        "true or false",
    ),
    (
        "address-pools:\n- name: a\n  protocol: bgp\n  adresses: [10.0.0.0/24]\n",
        "address-pools[0].adresses",
        None,
        "did you mean addresses?",
    ),
    (
        "bgp-communities:\n  gold: 1:2:3\n",
        "bgp-communities.gold",
        Some("1:2:3"),
        "not a number",
    ),
    (
        "bfd-profiles:\n- name: fast\n  detect-multiplier: 1\n",
        "bfd-profiles[0].detect-multiplier",
        Some("1"),
        "2..=255",
    ),
    (
        "bfd-profiles:\n- name: fast\n  echo-mode: true\n",
        "bfd-profiles[0].echo-mode",
        Some("true"),
        "Echo function is not implemented",
    ),
    ("peer:\n- peer-address: 1.2.3.4\n", "peer", None, "did you mean peers?"),
    ("peers: 3\n", "peers", Some("3"), "expected a list"),
    ("- a\n- b\n", "", Some("[\"a\",\"b\"]"), "expected a mapping"),
];

#[test]
fn bad_documents_name_path_and_value() {
    for (doc, path, value, message) in BAD {
        let errors = match parse_config(doc) {
            Ok(c) => panic!("accepted a bad document:\n{doc}\n{c:?}"),
            Err(e) => e,
        };
        let found = errors.errors().iter().find(|e| e.path == *path);
        let Some(err) = found else {
            panic!("no error at {path} for:\n{doc}\ngot: {errors}");
        };
        assert_eq!(err.value.as_deref(), *value, "value at {path}: {err}");
        assert!(
            err.message.contains(message),
            "{path}: {err} lacks {message:?}"
        );
    }
}

#[test]
fn error_display_names_path_and_value() {
    let errors = parse_config(BAD[0].0).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "address-pools[0].addresses[1]: \"10.0.0.0/33\": prefix length 33 is longer than 32"
    );
}

#[test]
fn all_errors_of_a_document_are_reported() {
    let doc = "peers:
- peer-address: nope
  peer-asn: 65000
  my-asn: 0
  hold_time: 3s
address-pools:
- name: a
  protocol: bgp
  addresses: [10.0.0.0/33, 10.0.0.1-10.0.0.0]
- protocol: bgp
  addresses: []
";
    let errors = parse_config(doc).unwrap_err();
    let paths: Vec<&str> = errors.errors().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "peers[0].hold_time",
            "peers[0].peer-address",
            "peers[0].my-asn",
            "address-pools[0].addresses[0]",
            "address-pools[0].addresses[1]",
            "address-pools[1].name",
            "address-pools[1].addresses",
        ],
        "{errors}"
    );
}

#[test]
fn full_legacy_document_with_every_field() {
    let doc = "peers:
- peer-address: 10.0.0.1
  peer-asn: 64512
  my-asn: 64512
  peer-port: 1179
  source-address: 10.0.0.2
  hold-time: 120s
  keepalive-time: 1m
  router-id: 10.0.0.2
  password: s3cret
  bfd-profile: fast
  node-selectors:
  - match-labels:
      rack: frontend
    match-expressions:
    - key: network-speed
      operator: NotIn
      values: [slow]
- peer-address: 2001:db8::1
  peer-asn: 64600
  my-asn: 64512
  ebgp-multihop: true
  advertise-pod-cidr: true
  max-prefix: 500
  password-secret:
    name: bgp-auth
    key: password
bgp-communities:
  no-export: 65535:65281
  big: large:64512:1:2
bfd-profiles:
- name: fast
  receive-interval: 100
  transmit-interval: 100
  passive-mode: true
  minimum-ttl: 250
address-pools:
- name: prod
  protocol: bgp
  avoid-buggy-ips: yes
  addresses:
  - 198.51.100.0/24
  - 198.51.101.0 -198.51.101.255
  - 2001:db8:5::/64
  bgp-advertisements:
  - aggregation-length: 32
    localpref: 100
    communities: [64512:1, no-export, big, 'large:1:2:3']
  - aggregation-length: 24
    aggregation-length-v6: 64
- name: l2
  protocol: layer2
  auto-assign: false
  addresses: [10.5.0.0/28]
";
    let c = parse_config(doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.peers.len(), 2);
    let p = &c.peers[0];
    assert_eq!(p.port, 1179);
    assert_eq!(p.hold_time.as_secs(), 120);
    assert_eq!(p.keepalive_time.as_secs(), 60);
    assert!(p.is_ibgp());
    assert_eq!(p.password.as_ref().unwrap().expose(), "s3cret");
    assert!(
        !format!("{p:?}").contains("s3cret"),
        "password leaked into Debug"
    );
    assert_eq!(p.bfd_profile.as_deref(), Some("fast"));
    let labels = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(p.selects_node(&labels(&[("rack", "frontend")])));
    assert!(!p.selects_node(&labels(&[("rack", "frontend"), ("network-speed", "slow")])));
    let q = &c.peers[1];
    assert!(q.ebgp_multihop && q.advertise_pod_cidr);
    assert_eq!((p.max_prefix, q.max_prefix), (None, Some(500)));
    assert_eq!(q.password_secret.as_ref().unwrap().name, "bgp-auth");
    assert_eq!(q.keepalive_time.as_secs(), 30);
    assert_eq!(c.bfd_profiles[0].receive_interval_ms, 100);
    assert_eq!(c.bfd_profiles[0].detect_multiplier, 3);
    assert!(c.bfd_profiles[0].passive_mode);
    assert_eq!(c.bfd_profiles[0].minimum_ttl, 250);
    let pool = &c.pools[0];
    assert!(pool.avoid_buggy_ips);
    assert_eq!(pool.ranges.len(), 3);
    assert_eq!(pool.size(crate::IpFamily::V4), 254 + 254);
    let adv = &pool.bgp_advertisements[0];
    assert_eq!(adv.local_pref, Some(100));
    assert_eq!(adv.communities.len(), 2);
    assert_eq!(adv.large_communities.len(), 2);
    assert_eq!(pool.bgp_advertisements[1].aggregation_length_v6, 64);
    let l2 = &c.pools[1];
    assert_eq!(l2.protocol, Protocol::Layer2);
    assert!(!l2.auto_assign && l2.bgp_advertisements.is_empty());
    assert!(c.warnings.iter().any(|w| w.contains("layer2")));
}

fn pool_with_aggregation(addresses: &str, length: u8) -> String {
    format!(
        "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [{addresses}]\n  \
         bgp-advertisements:\n  - aggregation-length: {length}\n"
    )
}

/// MetalLB v0.12 checks `aggregation-length` against the widest CIDR of each address entry's
/// summary, so a range needs no aggregation as long as its smallest pieces.
#[test]
fn aggregation_length_of_a_range_is_checked_against_its_widest_cidr() {
    for (addresses, length, accepted) in [
        // the issue's case: the summary's widest blocks are .64/26 and .128/26
        ("10.33.0.1-10.33.0.250", 26, true),
        ("10.33.0.1-10.33.0.250", 32, true),
        ("10.33.0.1-10.33.0.250", 25, false),
        // MetalLB's own tests
        ("3.3.3.2-3.3.3.254", 26, true),
        ("3.3.3.2-3.3.3.254", 24, false),
        ("10.20.30.40/24, 1.2.3.0/28", 26, false),
        ("10.0.0.1-10.0.0.6", 31, true),
        ("10.0.0.1-10.0.0.6", 30, false),
    ] {
        let doc = pool_with_aggregation(addresses, length);
        match parse_config(&doc) {
            Ok(c) if accepted => {
                assert_eq!(c.pools[0].bgp_advertisements[0].aggregation_length, length)
            }
            Ok(_) => panic!("{addresses} with aggregation-length {length} was accepted"),
            Err(e) if accepted => {
                panic!("{addresses} with aggregation-length {length} was refused: {e}")
            }
            Err(e) => {
                let err = &e.errors()[0];
                assert_eq!(
                    err.path,
                    "address-pools[0].bgp-advertisements[0].aggregation-length"
                );
                assert_eq!(err.value.as_deref(), Some(length.to_string().as_str()));
            }
        }
    }
}

const PEER_1234: &str = "- my-asn: 42\n  peer-asn: 42\n  peer-address: 1.2.3.4\n";

/// MetalLB v0.12 rejects a peer equal to an earlier one after parsing (defaults filled in).
#[test]
fn identical_peers_are_rejected_after_defaults() {
    for second in [
        PEER_1234.to_string(),
        format!("{PEER_1234}  peer-port: 179\n  hold-time: 90s\n"),
        format!("{PEER_1234}  peer-port: 0\n  keepalive-time: 30s\n"),
    ] {
        let doc = format!("peers:\n{PEER_1234}{second}");
        let e = parse_config(&doc).expect_err(&doc);
        let err = &e.errors()[0];
        assert_eq!(err.path, "peers[1]", "{e}");
        assert_eq!(err.value, None);
        assert!(err.message.contains("identical to peers[0]"), "{e}");
    }
    // Same session endpoint, different parameters: not identical; MetalLB accepts it too
    // (the speaker uses the first entry that selects a node).
    let doc = format!("peers:\n{PEER_1234}{PEER_1234}  hold-time: 30s\n");
    assert_eq!(parse_config(&doc).expect(&doc).peers.len(), 2);
}

/// One peer identity: an address may not appear with two ports.
#[test]
fn one_address_on_two_ports_is_rejected_at_the_port() {
    let doc = format!("peers:\n{PEER_1234}{PEER_1234}  peer-port: 1179\n");
    let e = parse_config(&doc).expect_err(&doc);
    let err = &e.errors()[0];
    assert_eq!(err.path, "peers[1].peer-port", "{e}");
    assert_eq!(err.value.as_deref(), Some("1179"));
    assert!(
        err.message
            .contains("peers[0] has the same peer-address 1.2.3.4 with port 179"),
        "{e}"
    );
    // an IPv4-mapped IPv6 address is the same peer
    let doc = "peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 10.0.0.1}\n- {my-asn: 1, peer-asn: 2, peer-address: '::ffff:10.0.0.1', peer-port: 1179}\n";
    assert_eq!(
        parse_config(doc).unwrap_err().errors()[0].path,
        "peers[1].peer-port"
    );
}

/// MetalLB v0.12 rejects two `bgp-advertisements` written identically in one pool.
#[test]
fn identical_advertisements_are_rejected() {
    let adv = |ads: &str| {
        format!("address-pools:\n- name: pool1\n  protocol: bgp\n  addresses:\n  - 10.20.0.0/16\n  bgp-advertisements:\n{ads}")
    };
    let doc = adv("  - aggregation-length: 26\n  - aggregation-length: 26\n");
    let e = parse_config(&doc).expect_err(&doc);
    let err = &e.errors()[0];
    assert_eq!(err.path, "address-pools[0].bgp-advertisements[1]", "{e}");
    assert!(
        err.message
            .contains("identical to address-pools[0].bgp-advertisements[0]"),
        "{e}"
    );
    // different as written: accepted, as by MetalLB
    for ads in [
        "  - aggregation-length: 26\n  - aggregation-length: 27\n",
        "  - aggregation-length: 32\n  - {}\n",
        "  - communities: ['1:1', '1:2']\n  - communities: ['1:2', '1:1']\n",
    ] {
        let doc = adv(ads);
        assert!(parse_config(&doc).is_ok(), "{doc}");
    }
}

#[test]
fn localpref_without_ibgp_peer_warns() {
    let doc = "peers:\n- peer-address: 10.0.0.1\n  peer-asn: 65000\n  my-asn: 65001\naddress-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - localpref: 50\n";
    let c = parse_config(doc).unwrap();
    assert!(
        c.warnings.iter().any(|w| w.contains("iBGP")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn hold_time_as_bare_number_is_seconds_with_a_warning() {
    let doc =
        "peers:\n- peer-address: 10.0.0.1\n  peer-asn: 65000\n  my-asn: 65001\n  hold-time: 120\n";
    let c = parse_config(doc).unwrap();
    assert_eq!(c.peers[0].hold_time.as_secs(), 120);
    assert_eq!(c.warnings.len(), 1);
}

#[test]
fn documents_of_both_kinds() {
    let bare = "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n";
    assert_eq!(parse_document(bare).unwrap().pools.len(), 1);
    let cm = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: ferrolb-system\n  name: config\ndata:\n  config: |\n{}",
        bare.lines().map(|l| format!("    {l}\n")).collect::<String>()
    );
    assert_eq!(parse_document(&cm).unwrap().pools.len(), 1);
    assert_eq!(config_text_from_document(&cm).unwrap(), bare);
    // Multi-document files: the ConfigMap is found among other objects.
    let multi =
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ferrolb-system\n---\n{cm}");
    assert_eq!(parse_document(&multi).unwrap().pools.len(), 1);
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n";
    let e = parse_document(svc).unwrap_err();
    assert_eq!(e.errors()[0].path, "kind");
    let nodata = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n";
    assert_eq!(
        parse_document(nodata).unwrap_err().errors()[0].path,
        "data.config"
    );
    let broken = "peers: [\n";
    assert!(parse_document(broken)
        .unwrap_err()
        .to_string()
        .contains("not valid YAML"));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text(text in "\\PC{0,200}") {
            let _ = parse_document(&text);
        }

        #[test]
        fn yaml_shaped_text(
            keys in proptest::collection::vec(
                prop_oneof![
                    Just("peers"), Just("address-pools"), Just("- name"), Just("  addresses"),
                    Just("  - peer-address"), Just("protocol"), Just("bgp-communities"),
                    Just("  hold-time"), Just("  bgp-advertisements"), Just("kind"), Just("data")
                ],
                0..12,
            ),
            values in proptest::collection::vec("[-a-z0-9:./ \\[\\]{}]{0,20}", 12),
        ) {
            let text: String = keys
                .iter()
                .zip(values.iter())
                .map(|(k, v)| format!("{k}: {v}\n"))
                .collect();
            let _ = parse_document(&text);
        }
    }
}

#[test]
fn bfd_echo_interval_is_a_warning_naming_path_and_value() {
    let doc = "bfd-profiles:\n- name: fast\n  echo-mode: false\n  echo-interval: 60\n";
    let c = parse_config(doc).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.bfd_profiles.len(), 1);
    assert_eq!(
        c.warnings,
        vec!["bfd-profiles[0].echo-interval: 60 is ignored: FerroLB does not implement the BFD Echo function".to_string()]
    );
    // Without echo-interval there is nothing to warn about.
    let c = parse_config("bfd-profiles:\n- name: fast\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn advertisement_node_selectors_and_peers() {
    let doc = "peers:\n- {peer-address: 10.255.0.1, peer-asn: 65000, my-asn: 65001}\naddress-pools:\n- name: a\n  protocol: bgp\n  addresses: [198.51.100.0/28]\n  bgp-advertisements:\n  - node-selectors:\n    - match-labels: {role: edge}\n    peers: [10.255.0.1]\n  - communities: [\"64512:1\"]\n";
    let c = parse_config(doc).unwrap_or_else(|e| panic!("{e}"));
    let advs = &c.pools[0].bgp_advertisements;
    assert_eq!(advs[0].peers, Some(vec!["10.255.0.1".parse().unwrap()]));
    assert_eq!(advs[0].node_selectors.len(), 1);
    assert_eq!(
        (advs[1].peers.as_ref(), advs[1].node_selectors.len()),
        (None, 0)
    );

    let bad = doc
        .replace("peers: [10.255.0.1]", "peers: [10.255.0.9, edge-1]")
        .replace("{role: edge}", "[role]");
    let errors: Vec<String> = parse_config(&bad)
        .unwrap_err()
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errors,
        [
            "address-pools[0].bgp-advertisements[0].node-selectors[0].match-labels: \"[\\\"role\\\"]\": expected a mapping of label: value",
            "address-pools[0].bgp-advertisements[0].peers[1]: \"edge-1\": not an IP address (a peer-address of peers)",
        ]
    );
    let unknown = doc.replace("peers: [10.255.0.1]", "peers: [10.255.0.9]");
    let errors = parse_config(&unknown).unwrap_err().to_string();
    assert_eq!(
        errors,
        "address-pools[0].bgp-advertisements[0].peers[0]: \"10.255.0.9\": no peer with this peer-address in peers"
    );
}
