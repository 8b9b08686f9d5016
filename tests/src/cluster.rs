//! Cluster objects for the speaker tests, seeded into the API fixture's [`Store`]: the
//! ConfigMap, Nodes, LoadBalancer Services and their EndpointSlices, shaped like what a real
//! cluster holds.

use ferrolb_apiserver::Store;
use serde_json::{json, Value};

fn seed(store: &Store, object: Value) {
    if let Err(e) = store.seed(object) {
        panic!("seeding the API fixture failed: {e}");
    }
}

/// Writes (creates or replaces) the ConfigMap `ferrolb-system/config` with `text` under `config`.
pub fn seed_config(store: &Store, text: &str) {
    seed(
        store,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"namespace": "ferrolb-system", "name": "config"},
               "data": {"config": text}}),
    );
}

/// Node `name` with pod CIDR 10.244.`index`.0/24 and InternalIP 10.255.`index`.2; `excluded`
/// adds the `node.kubernetes.io/exclude-from-external-load-balancers` label.
pub fn seed_node(store: &Store, name: &str, index: u8, excluded: bool) {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if excluded {
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("true");
    }
    seed(
        store,
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": labels},
               "spec": {"podCIDRs": [format!("10.244.{index}.0/24")]},
               "status": {"addresses": [{"type": "InternalIP",
                                         "address": format!("10.255.{index}.2")}]}}),
    );
}

/// LoadBalancer Service `web/name` (TCP 80) with `ip` in its status and the
/// externalTrafficPolicy `policy` ("Cluster" or "Local").
pub fn seed_service(store: &Store, name: &str, ip: &str, policy: &str) {
    seed(
        store,
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"namespace": "web", "name": name},
               "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                        "ports": [{"port": 80, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
    );
}

/// The EndpointSlice of Service `web/service`: one ready endpoint on each of `nodes`.
pub fn seed_endpoints(store: &Store, service: &str, nodes: &[&str]) {
    let endpoints: Vec<Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"addresses": [format!("10.244.9.{}", i + 1)], "nodeName": n,
                   "conditions": {"ready": true}})
        })
        .collect();
    seed(
        store,
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"namespace": "web", "name": format!("{service}-x"),
                            "labels": {"kubernetes.io/service-name": service}},
               "addressType": "IPv4", "endpoints": endpoints}),
    );
}

/// The ConfigMap text of one peer (`router`, AS 65000; the node AS 65001; hold time 9 s) with
/// `peer_lines` under it (e.g. `bfd-profile: fast`, `graceful-restart: true`), the BFD profile
/// `fast` at `bfd_ms` x 3 both ways, and the pool 198.51.100.0/28.
pub fn one_peer_config(router: &str, peer_lines: &[&str], bfd_ms: u64) -> String {
    let mut text = format!(
        "peers:\n- peer-address: {router}\n  peer-asn: 65000\n  my-asn: 65001\n  hold-time: 9s\n"
    );
    for line in peer_lines {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!(
        "bfd-profiles:\n- name: fast\n  receive-interval: {bfd_ms}\n  transmit-interval: \
         {bfd_ms}\n  detect-multiplier: 3\naddress-pools:\n- name: default\n  protocol: bgp\n  \
         addresses: [198.51.100.0/28]\n"
    ));
    text
}

/// Creates the Node `name` (label `kubernetes.io/hostname: name`, InternalIP `ip`).
pub fn seed_node_at(store: &Store, name: &str, ip: &str) {
    seed(
        store,
        json!({"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
               "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}),
    );
}

/// Creates the LoadBalancer Service `web/front` (port 80, externalTrafficPolicy Cluster) with
/// `ip` as its ingress address and a ready endpoint on node `node` (an EndpointSlice of the
/// address's family; endpoint 10.244.9.1 or fd00:244::9).
pub fn seed_front_service(store: &Store, ip: &str, node: &str) {
    let (family, endpoint) = if ip.contains(':') {
        ("IPv6", "fd00:244::9")
    } else {
        ("IPv4", "10.244.9.1")
    };
    let objects = [
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"namespace": "web", "name": "front"},
               "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster",
                        "ports": [{"port": 80, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"namespace": "web", "name": "front-x",
                            "labels": {"kubernetes.io/service-name": "front"}},
               "addressType": family,
               "endpoints": [{"addresses": [endpoint], "nodeName": node,
                              "conditions": {"ready": true}}]}),
    ];
    for o in objects {
        seed(store, o);
    }
}
