//! Every shape of MetalLB's `configsamples/` that concerns BGP or pools, written as our own
//! fixtures (tests/samples/), is accepted with the expected Config; invalid objects give one
//! error per problem, each naming `Kind/namespace/name: field`.

use std::path::PathBuf;

use ferrolb_config::resources::parse_resources;
use ferrolb_config::{Config, Protocol};

fn sample(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn warned(config: &Config, fragment: &str) -> bool {
    config.warnings.iter().any(|w| w.contains(fragment))
}

type Check = fn(&Config);

#[test]
fn every_sample_is_accepted() {
    let table: &[(&str, &[&str], Check)] = &[
        ("pool_simple.yaml", &["IPAddressPool/metallb-system/example: no BGPAdvertisement or L2Advertisement selects this pool: its addresses are allocated but not announced"], |c| {
            assert_eq!(c.pools[0].ranges.len(), 3);
            assert!(c.pools[0].contains("198.51.100.205".parse().unwrap()));
        }),
        (
            "pool_service_allocation.yaml",
            &[
                "IPAddressPool/metallb-system/team-pool: spec.serviceAllocation.namespaces: not implemented",
                "spec.serviceAllocation.namespaceSelectors: not implemented",
                "spec.serviceAllocation.serviceSelectors: not implemented",
                "spec.serviceAllocation.priority: not implemented",
            ],
            |c| assert!(c.pools[0].avoid_buggy_ips),
        ),
        ("pool_empty_bgp_advertisement.yaml", &[], |c| {
            assert_eq!(c.pools[0].protocol, Protocol::Bgp);
            assert_eq!(c.pools[0].bgp_advertisements[0].aggregation_length, 32);
            assert_eq!(c.pools[0].bgp_advertisements[0].aggregation_length_v6, 128);
        }),
        (
            "pool_empty_l2_advertisement.yaml",
            &["selected by L2Advertisement/metallb-system/everything only"],
            |c| assert_eq!(c.pools[0].protocol, Protocol::Layer2),
        ),
        (
            "bgp_with_workload.yaml",
            &["object #5: Deployment (apps/v1) is not a metallb.io object; ignored"],
            |c| {
                assert_eq!(c.peers.len(), 2);
                assert!(c.peers.iter().all(|p| p.is_ibgp()));
                assert_eq!(c.pools[0].protocol, Protocol::Bgp);
            },
        ),
        (
            "adv_pools_by_label.yaml",
            &["IPAddressPool/metallb-system/unlabelled: no BGPAdvertisement or L2Advertisement selects this pool"],
            |c| {
                assert_eq!(c.pool("labelled").unwrap().protocol, Protocol::Bgp);
                assert_eq!(c.pool("unlabelled").unwrap().protocol, Protocol::Layer2);
            },
        ),
        (
            "adv_pools_by_list_and_peers.yaml",
            &[],
            |c| {
                let adv = &c.pool("listed").unwrap().bgp_advertisements[0];
                assert_eq!(adv.peers, Some(vec!["10.255.1.1".parse().unwrap()]));
            },
        ),
        ("adv_communities_localpref.yaml", &[], |c| {
            let adv = &c.pools[0].bgp_advertisements[0];
            assert_eq!(adv.local_pref, Some(150));
            assert_eq!(adv.communities[0].to_string(), "65535:65282");
            assert_eq!(adv.large_communities[0].to_string(), "large:64512:100:1");
        }),
        ("adv_community_alias.yaml", &[], |c| {
            assert_eq!(
                c.pools[0].bgp_advertisements[0].communities[0].to_string(),
                "65535:65282"
            );
            assert!(c.communities.contains_key("NO_ADVERTISE"));
        }),
        (
            "adv_node_selectors.yaml",
            &[],
            |c| {
                let adv = &c.pools[0].bgp_advertisements[0];
                assert_eq!(adv.node_selectors.len(), 2);
                let node = |name: &str| {
                    [("kubernetes.io/hostname".to_string(), name.to_string())]
                        .into_iter()
                        .collect()
                };
                assert!(adv.selects_node(&node("node-2")));
                assert!(!adv.selects_node(&node("node-3")));
            },
        ),
        ("peer_simple.yaml", &[], |c| {
            assert_eq!(c.peers[0].port, 179);
            assert_eq!(c.peers[0].hold_time.as_secs(), 90);
            assert_eq!(c.peers[0].keepalive_time.as_secs(), 30);
        }),
        ("peer_bfd_profile.yaml", &[], |c| {
            assert_eq!(c.peers[0].bfd_profile.as_deref(), Some("slow-receive"));
            let p = c.bfd_profile("slow-receive").unwrap();
            assert_eq!((p.receive_interval_ms, p.transmit_interval_ms, p.detect_multiplier), (380, 270, 3));
        }),
        (
            "peer_session_options.yaml",
            &["BGPPeer/metallb-system/peer: spec.connectTime: not implemented"],
            |c| {
                let p = &c.peers[0];
                assert_eq!(p.port, 1179);
                assert_eq!((p.hold_time.as_secs(), p.keepalive_time.as_secs()), (30, 10));
                assert_eq!(p.source_address, Some("10.255.3.4".parse().unwrap()));
                assert_eq!(p.router_id, Some("10.255.3.4".parse().unwrap()));
                assert!(p.ebgp_multihop);
            },
        ),
        (
            "peer_vrf.yaml",
            &["BGPPeer/metallb-system/peer: spec.vrf: not implemented by FerroLB"],
            |_| {},
        ),
        ("peer_password_secret.yaml", &[], |c| {
            let p = &c.peers[0];
            let secret = p.password_secret.as_ref().unwrap();
            assert_eq!((secret.name.as_str(), secret.key.as_str()), ("bgp-password", "password"));
            assert!(p.password.is_none());
            assert_eq!((p.hold_time.as_secs(), p.keepalive_time.as_secs()), (540, 0));
        }),
        ("peer_v1beta1.yaml", &[], |c| {
            let p = &c.peers[0];
            assert_eq!(p.password.as_ref().unwrap().expose(), "not-a-real-password");
            let labels = [("rack", "r1"), ("kubernetes.io/arch", "arm64")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert!(p.selects_node(&labels));
        }),
        (
            "l2_pools_by_list.yaml",
            &["selected by L2Advertisement/metallb-system/example only"],
            |c| assert_eq!(c.pools[0].protocol, Protocol::Layer2),
        ),
        (
            "l2_node_selector.yaml",
            &["selected by L2Advertisement/metallb-system/example only"],
            |c| assert_eq!(c.pools[0].protocol, Protocol::Layer2),
        ),
        ("api_defaults.yaml", &[], |c| {
            assert_eq!(c.pools[0].protocol, Protocol::Bgp);
            assert_eq!(c.peers[0].port, 179);
        }),
    ];
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, table.len(), "every sample file has a row");
    for (file, warnings, check) in table {
        let config = parse_resources(&sample(file)).unwrap_or_else(|e| panic!("{file}:\n{e}"));
        for w in *warnings {
            assert!(
                warned(&config, w),
                "{file}: no warning {w:?} in {:#?}",
                config.warnings
            );
        }
        if warnings.is_empty() {
            assert!(config.warnings.is_empty(), "{file}: {:#?}", config.warnings);
        }
        check(&config);
    }
}

const POOL: &str =
    "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: ns}\n";
const ADV: &str =
    "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a, namespace: ns}\n";
const PEER: &str =
    "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r, namespace: ns}\n";

#[test]
fn invalid_objects_name_object_field_and_value() {
    let pool24 = format!("{POOL}spec: {{addresses: [198.51.100.0/24]}}\n---\n");
    let table: Vec<(String, &[&str])> = vec![
        (format!("{POOL}spec: {{}}\n"), &["IPAddressPool/ns/p: spec.addresses: missing (required)"]),
        (
            format!("{POOL}spec: {{addresses: [198.51.100.0/24, 198.51.100.7-198.51.100.1]}}\n"),
            &["IPAddressPool/ns/p: spec.addresses[1]: \"198.51.100.7-198.51.100.1\""],
        ),
        (
            format!("{POOL}spec: {{addresses: [198.51.100.0/24], autoAssign: maybe}}\n"),
            &["IPAddressPool/ns/p: spec.autoAssign: \"maybe\": expected true or false"],
        ),
        (
            format!("{pool24}{}", POOL.replace("name: p", "name: q") + "spec: {addresses: [198.51.100.128/25]}\n"),
            &["IPAddressPool/ns/q: spec.addresses[0]: \"198.51.100.128/25\": overlaps 198.51.100.0/24 of pool \"p\" (IPAddressPool/ns/p: spec.addresses[0])"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1}}\n---\n{}", PEER.replace("name: r", "name: s") + "spec: {myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, peerPort: 179}\n"),
            &["BGPPeer/ns/s: spec: identical to BGPPeer/ns/r: spec (after defaults); remove the duplicate"],
        ),
        (
            format!("{pool24}{ADV}spec: {{aggregationLength: 0}}\n"),
            &["BGPAdvertisement/ns/a: spec.aggregationLength: \"0\": must be at least 1"],
        ),
        (
            format!("{pool24}{ADV}spec: {{aggregationLengthV6: 129}}\n"),
            &["BGPAdvertisement/ns/a: spec.aggregationLengthV6: \"129\": expected a whole number in 0..=128"],
        ),
        (
            format!("{pool24}{ADV}spec: {{communities: [\"65536:1\"]}}\n"),
            &["BGPAdvertisement/ns/a: spec.communities[0]: \"65536:1\""],
        ),
        (
            format!("{pool24}{ADV}spec: {{localPref: -5}}\n"),
            &["BGPAdvertisement/ns/a: spec.localPref: \"-5\""],
        ),
        (
            format!("{pool24}{ADV}spec: {{ipAddressPools: [p, p]}}\n"),
            &["BGPAdvertisement/ns/a: spec.ipAddressPools[1]: \"p\": duplicate pool name"],
        ),
        (
            format!("{pool24}{ADV}spec: {{ipAddressPoolSelectors: [{{matchExpressions: [{{key: k, operator: Near}}]}}]}}\n"),
            &["BGPAdvertisement/ns/a: spec.ipAddressPoolSelectors[0].matchExpressions[0].operator: \"Near\""],
        ),
        (
            format!("{pool24}{ADV}spec: {{aggregationLength: 30, serviceSelectors: [{{matchLabels: {{a: b}}}}]}}\n"),
            &["BGPAdvertisement/ns/a: spec.aggregationLength: \"30\": only the default 32"],
        ),
        (
            format!("{pool24}{ADV}spec: {{nodeSelectors: [{{matchExpressions: [{{key: k, operator: In}}]}}]}}\n"),
            &["BGPAdvertisement/ns/a: spec.nodeSelectors[0].matchExpressions[0].values: operator In needs at least one value"],
        ),
        (
            format!("{PEER}spec: {{peerASN: 65000, peerAddress: 10.255.0.1}}\n"),
            &["BGPPeer/ns/r: spec.myASN: missing (required)"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 4294967296, peerAddress: 10.255.0.1}}\n"),
            &["BGPPeer/ns/r: spec.peerASN: \"4294967296\""],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 64512, peerAddress: 10.255.0.1, ebgpMultiHop: true}}\n"),
            &["BGPPeer/ns/r: spec.ebgpMultiHop: \"true\": ebgp-multihop cannot be set for an iBGP peer"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, holdTime: 10s, keepaliveTime: 20s}}\n"),
            &["BGPPeer/ns/r: spec.keepaliveTime: \"20s\": keepalive time must not be longer than the hold time"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, routerID: fd00::1}}\n"),
            &["BGPPeer/ns/r: spec.routerID: \"fd00::1\": router ID must be an IPv4 address"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, bfdProfile: none}}\n"),
            &["BGPPeer/ns/r: spec.bfdProfile: \"none\": no BFD profile with this name"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, password: x, passwordSecret: {{name: s}}}}\n"),
            &["BGPPeer/ns/r: spec.passwordSecret: give either password or password-secret"],
        ),
        (
            format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s, namespace: ns}}\ntype: Opaque\ndata: {{pass: eA==}}\n---\n{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, passwordSecret: {{name: s}}}}\n"),
            &[
                "Secret/ns/s: type: \"Opaque\": BGPPeer/ns/r: spec.passwordSecret needs a Secret of type kubernetes.io/basic-auth",
                "Secret/ns/s: data.password: missing",
            ],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, peerASN: 65000, peerAddress: 10.255.0.1, localASN: 65001}}\n"),
            &["BGPPeer/ns/r: spec.localASN: \"65001\": not implemented by FerroLB"],
        ),
        (
            format!("{PEER}spec: {{myASN: 64512, interface: eth1, dynamicASN: external}}\n"),
            &[
                "BGPPeer/ns/r: spec.dynamicASN: \"external\": not implemented",
                "BGPPeer/ns/r: spec.interface: \"eth1\": not implemented",
                "BGPPeer/ns/r: spec.peerAddress: missing (required)",
                "BGPPeer/ns/r: spec.peerASN: missing (required)",
            ],
        ),
        (
            PEER.replace("v1beta2", "v1") + "spec: {}\n",
            &["BGPPeer/ns/r: apiVersion: \"metallb.io/v1\": not a served version of BGPPeer"],
        ),
        (
            "apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b, namespace: ns}\nspec: {detectMultiplier: 1, echoMode: true}\n".into(),
            &[
                "BFDProfile/ns/b: spec.detectMultiplier: \"1\": must be in 2..=255",
                "BFDProfile/ns/b: spec.echoMode: \"true\": the BFD Echo function is not implemented",
            ],
        ),
        (
            "apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c, namespace: ns}\nspec:\n  communities:\n  - {name: x, value: \"1:2\"}\n  - {name: x, value: \"1:3\"}\n  - {name: y, value: \"1:2:3\"}\n".into(),
            &[
                "Community/ns/c: spec.communities[1].name: \"x\": community alias already defined at Community/ns/c: spec.communities[0]",
                "Community/ns/c: spec.communities[2].value: \"1:2:3\"",
            ],
        ),
        (
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {namespace: ns}\nspec: {addresses: [198.51.100.0/24]}\n".into(),
            &["IPAddressPool (object #1): metadata.name: missing (required)"],
        ),
    ];
    let mut failures = Vec::new();
    for (text, expected) in &table {
        let errors: Vec<String> = match parse_resources(text) {
            Ok(c) => {
                failures.push(format!("accepted:\n{text}\nwarnings: {:?}", c.warnings));
                continue;
            }
            Err(e) => e.errors().iter().map(ToString::to_string).collect(),
        };
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|e| !errors.iter().any(|got| got.starts_with(**e)))
            .collect();
        if !missing.is_empty() || errors.len() != expected.len() {
            failures.push(format!("{text}\nexpected {expected:#?}\ngot {errors:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n=====\n"));
}
