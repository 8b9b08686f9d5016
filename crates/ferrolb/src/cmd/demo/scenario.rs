//! The demo's embedded world: the ConfigMap, two simulated nodes, and the Services it creates.
//! Every address is on loopback (nodes, collector) or in a documentation range (pools).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{json, Value};

/// The AS of the built-in collector (the "router").
pub const ROUTER_AS: u32 = 65000;
/// The AS of the cluster's speakers.
pub const CLUSTER_AS: u32 = 65001;
/// Where the collector listens.
pub const ROUTER_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// The namespace of the demo's Services.
pub const NAMESPACE: &str = "demo";

/// A simulated node: its name and the loopback address its speaker uses.
pub struct Node {
    /// Node name.
    pub name: &'static str,
    /// BGP source address and InternalIP.
    pub address: Ipv4Addr,
    /// `spec.podCIDRs`.
    pub pod_cidr: &'static str,
}

/// The two nodes.
pub const NODES: [Node; 2] = [
    Node {
        name: "node-a",
        address: Ipv4Addr::new(127, 0, 0, 2),
        pod_cidr: "10.244.1.0/24",
    },
    Node {
        name: "node-b",
        address: Ipv4Addr::new(127, 0, 0, 3),
        pod_cidr: "10.244.2.0/24",
    },
];

/// The ConfigMap text: MetalLB's legacy format, as the issue's homelab example, with the peer
/// pointed at the built-in collector and pools on a documentation range.
pub fn config_text(router_port: u16) -> String {
    format!(
        r#"peers:
- peer-address: {ROUTER_ADDR}
  peer-port: {router_port}
  peer-asn: {ROUTER_AS}
  my-asn: {CLUSTER_AS}
  hold-time: 9s
bgp-communities:
  homelab: 65000:100
address-pools:
- name: default
  protocol: bgp
  addresses:
  - 198.51.100.0/27
  avoid-buggy-ips: true
  bgp-advertisements:
  - communities: [homelab]
- name: printers
  protocol: layer2
  auto-assign: false
  addresses:
  - 198.51.100.64 - 198.51.100.70
"#
    )
}

/// The ConfigMap object.
pub fn config_map(router_port: u16) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"namespace": "ferrolb-system", "name": "config"},
        "data": {"config": config_text(router_port)}
    })
}

/// A Node object.
pub fn node(n: &Node) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n.name, "labels": {"kubernetes.io/hostname": n.name}},
        "spec": {"podCIDRs": [n.pod_cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": n.address.to_string()}]}
    })
}

/// One Service the demo creates, with where its (simulated) endpoints run.
pub struct DemoService {
    /// Name (namespace [`NAMESPACE`]).
    pub name: &'static str,
    /// What it shows, printed before it is created.
    pub purpose: &'static str,
    /// `externalTrafficPolicy`.
    pub policy: &'static str,
    /// Ports as (port, protocol).
    pub ports: &'static [(u16, &'static str)],
    /// Annotations.
    pub annotations: &'static [(&'static str, &'static str)],
    /// Nodes with a ready endpoint.
    pub endpoints_on: &'static [&'static str],
}

/// The Services: eTP Cluster and Local, a shared IP, a requested IP, a layer2 pool and one
/// that cannot be satisfied.
pub const SERVICES: [DemoService; 6] = [
    DemoService {
        name: "web",
        purpose: "externalTrafficPolicy Cluster, pods on both nodes",
        policy: "Cluster",
        ports: &[(80, "TCP"), (443, "TCP")],
        annotations: &[],
        endpoints_on: &["node-a", "node-b"],
    },
    DemoService {
        name: "api",
        purpose: "externalTrafficPolicy Local, its only pod on node-a",
        policy: "Local",
        ports: &[(8443, "TCP")],
        annotations: &[],
        endpoints_on: &["node-a"],
    },
    DemoService {
        name: "dns-tcp",
        purpose: "shares 198.51.100.20 with dns-udp (allow-shared-ip)",
        policy: "Cluster",
        ports: &[(53, "TCP")],
        annotations: &[
            ("ferrolb.io/allow-shared-ip", "dns"),
            ("ferrolb.io/loadBalancerIPs", "198.51.100.20"),
        ],
        endpoints_on: &["node-b"],
    },
    DemoService {
        name: "dns-udp",
        purpose: "shares 198.51.100.20 with dns-tcp",
        policy: "Cluster",
        ports: &[(53, "UDP")],
        annotations: &[
            ("ferrolb.io/allow-shared-ip", "dns"),
            ("ferrolb.io/loadBalancerIPs", "198.51.100.20"),
        ],
        endpoints_on: &["node-b"],
    },
    DemoService {
        name: "printer",
        purpose: "from the layer2 pool: allocated, not announced over BGP",
        policy: "Cluster",
        ports: &[(631, "TCP")],
        annotations: &[("ferrolb.io/address-pool", "printers")],
        endpoints_on: &["node-a"],
    },
    DemoService {
        name: "wishful",
        purpose: "requests 203.0.113.7, which is in no pool",
        policy: "Cluster",
        ports: &[(80, "TCP")],
        annotations: &[("ferrolb.io/loadBalancerIPs", "203.0.113.7")],
        endpoints_on: &["node-a"],
    },
];

/// The Service object (no status: the controller writes it).
pub fn service(s: &DemoService) -> Value {
    let annotations: serde_json::Map<String, Value> = s
        .annotations
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let ports: Vec<Value> = s
        .ports
        .iter()
        .map(|(port, proto)| {
            json!({"name": format!("{}-{port}", proto.to_lowercase()), "port": port,
                   "protocol": proto, "targetPort": port})
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": NAMESPACE, "name": s.name, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": s.policy,
                 "selector": {"app": s.name}, "ports": ports}
    })
}

/// The EndpointSlice of a Service with one ready endpoint (a simulated pod) on each node given.
pub fn endpoint_slice(namespace: &str, service: &str, nodes: &[&str]) -> Value {
    let endpoints: Vec<Value> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let third = if *node == NODES[0].name { 1 } else { 2 };
            json!({"addresses": [format!("10.244.{third}.{}", 10 + i)], "nodeName": node,
                   "conditions": {"ready": true, "serving": true, "terminating": false}})
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"namespace": namespace, "name": format!("{service}-demo"),
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints
    })
}
