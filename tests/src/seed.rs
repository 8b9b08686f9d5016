//! Objects the e2e tests seed into the API fixture: a LoadBalancer Service with its address and
//! the EndpointSlice that puts its endpoints on nodes.

use ferrolb_apiserver::Store;
use serde_json::{json, Value};

/// A LoadBalancer Service `namespace/name` with `ip` in its status and `policy` as its
/// externalTrafficPolicy (`Cluster` or `Local`).
pub fn service(store: &Store, namespace: &str, name: &str, ip: &str, policy: &str) {
    store
        .seed(json!({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"namespace": namespace, "name": name},
                     "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                              "ports": [{"port": 80, "protocol": "TCP"}]},
                     "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}))
        .expect("seed a Service");
}

/// The EndpointSlice `<service>-x` of `namespace/service`: one ready IPv4 endpoint per node.
pub fn endpoints(store: &Store, namespace: &str, service: &str, nodes: &[&str]) {
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
                     "metadata": {"namespace": namespace, "name": format!("{service}-x"),
                                  "labels": {"kubernetes.io/service-name": service}},
                     "addressType": "IPv4", "endpoints": endpoints}),
        )
        .expect("seed an EndpointSlice");
}
