//! Kubernetes objects the speaker e2e tests put in the in-process API server: the FerroLB
//! ConfigMap, Nodes, LoadBalancer Services and their EndpointSlices.

use ferrolb_apiserver::Store;
use serde_json::{json, Value};

/// Writes `ferrolb-system/config` with `text` as its `config` key.
pub fn seed_config(store: &Store, text: &str) {
    store
        .seed(json!({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"namespace": "ferrolb-system", "name": "config"},
                     "data": {"config": text}}))
        .unwrap();
}

/// Node `name` with pod CIDR 10.244.`index`.0/24 and InternalIP 10.255.`index`.2; `excluded`
/// adds `node.kubernetes.io/exclude-from-external-load-balancers`.
pub fn seed_node(store: &Store, name: &str, index: u8, excluded: bool) {
    let mut labels = json!({"kubernetes.io/hostname": name});
    if excluded {
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("true");
    }
    store
        .seed(json!({"apiVersion": "v1", "kind": "Node",
                     "metadata": {"name": name, "labels": labels},
                     "spec": {"podCIDRs": [format!("10.244.{index}.0/24")]},
                     "status": {"addresses": [{"type": "InternalIP",
                                               "address": format!("10.255.{index}.2")}]}}))
        .unwrap();
}

/// LoadBalancer Service `web/name` with `ip` in its status and `externalTrafficPolicy`
/// `policy` (`Cluster` or `Local`).
pub fn seed_service(store: &Store, name: &str, ip: &str, policy: &str) {
    store
        .seed(json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"namespace": "web", "name": name},
                     "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                              "ports": [{"port": 80, "protocol": "TCP"}]},
                     "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}))
        .unwrap();
}

/// The EndpointSlice `web/<service>-x`: one ready endpoint per entry of `nodes` (a node named
/// three times has three endpoints).
pub fn seed_endpoints(store: &Store, service: &str, nodes: &[&str]) {
    let endpoints: Vec<Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"addresses": [format!("10.244.9.{}", i + 1)], "nodeName": n,
                   "conditions": {"ready": true}})
        })
        .collect();
    store
        .seed(
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"namespace": "web", "name": format!("{service}-x"),
                                  "labels": {"kubernetes.io/service-name": service}},
                     "addressType": "IPv4", "endpoints": endpoints}),
        )
        .unwrap();
}
