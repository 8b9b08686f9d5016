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
