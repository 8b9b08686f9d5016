//! Defaults the real API server fills in on create/update, for the resources where clients rely on them.

use serde_json::{json, Value};

/// Allocators for Service cluster IPs and node ports. Cluster IPs are data only (10.96.0.0/16, as in a
/// default cluster's service range); nothing dials them.
#[derive(Debug)]
pub struct Allocators {
    next_cluster_ip: u32,
    next_node_port: u16,
}

impl Default for Allocators {
    fn default() -> Self {
        Allocators {
            next_cluster_ip: 10,
            next_node_port: 30000,
        }
    }
}

impl Allocators {
    fn cluster_ip(&mut self) -> String {
        let n = self.next_cluster_ip;
        self.next_cluster_ip = if n >= 65_534 { 10 } else { n + 1 };
        format!("10.96.{}.{}", n >> 8, n & 0xff)
    }

    fn node_port(&mut self) -> u16 {
        let p = self.next_node_port;
        self.next_node_port = if p >= 32_767 { 30000 } else { p + 1 };
        p
    }
}

/// Fill Service defaults: type, cluster IP(s), IP families, session affinity, traffic policies, port
/// protocol/targetPort, and node ports for NodePort/LoadBalancer. `old` (on update) keeps allocated values.
pub fn service(obj: &mut Value, old: Option<&Value>, alloc: &mut Allocators) {
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        if let Some(m) = obj.as_object_mut() {
            m.insert("spec".into(), json!({}));
            service(obj, old, alloc);
        }
        return;
    };
    let old_spec = old.and_then(|o| o.get("spec"));
    let ty = spec
        .entry("type")
        .or_insert_with(|| json!("ClusterIP"))
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    if ty != "ExternalName" {
        if spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            let ip = old_spec
                .and_then(|s| s.get("clusterIP"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| alloc.cluster_ip());
            spec.insert("clusterIP".into(), json!(ip));
        }
        let ip = spec.get("clusterIP").cloned().unwrap_or(Value::Null);
        spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
        spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
        spec.entry("ipFamilyPolicy")
            .or_insert_with(|| json!("SingleStack"));
        spec.entry("internalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
    }
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    let external = ty == "LoadBalancer" || ty == "NodePort";
    if external {
        spec.entry("externalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert_with(|| json!(true));
    }
    let old_ports = old_spec
        .and_then(|s| s.get("ports"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                port.entry("targetPort").or_insert(p);
            }
            if external && port.get("nodePort").is_none() {
                let kept = old_ports
                    .iter()
                    .find(|o| {
                        o.get("port") == port.get("port")
                            && o.get("protocol") == port.get("protocol")
                    })
                    .and_then(|o| o.get("nodePort"))
                    .cloned();
                let np = kept.unwrap_or_else(|| json!(alloc.node_port()));
                port.insert("nodePort".into(), np);
            }
        }
    }
}

/// Fill Namespace defaults: `spec.finalizers` and `status.phase: Active`.
pub fn namespace(obj: &mut Value) {
    if let Some(m) = obj.as_object_mut() {
        m.entry("spec")
            .or_insert_with(|| json!({"finalizers": ["kubernetes"]}));
        m.insert("status".into(), json!({"phase": "Active"}));
    }
}
