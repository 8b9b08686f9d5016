//! `NodeView`: labels, pod CIDRs and addresses of a Node.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;

/// Nodes with this label announce nothing (Kubernetes' well-known label).
pub const EXCLUDE_FROM_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// One entry of `status.addresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddressView {
    /// `InternalIP`, `ExternalIP`, `Hostname`, ... (only IP kinds are kept).
    pub kind: String,
    /// The address.
    pub address: IpAddr,
}

/// The parts of a Node FerroLB uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `spec.podCIDRs` (or `spec.podCIDR`); unparsable entries are skipped.
    pub pod_cidrs: Vec<IpNet>,
    /// IP addresses from `status.addresses`.
    pub addresses: Vec<NodeAddressView>,
    /// Labelled `node.kubernetes.io/exclude-from-external-load-balancers`.
    pub excluded: bool,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// The kubelet reports a graceful node shutdown: condition `Ready` not `True` with the
    /// message "node is shutting down" (its shutdown manager's status error).
    pub shutting_down: bool,
}

/// The kubelet's readiness message while its graceful node shutdown runs.
pub const NODE_SHUTTING_DOWN_MESSAGE: &str = "node is shutting down";

fn reports_shutdown(node: &Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| {
        c.type_ == "Ready"
            && c.status != "True"
            && c.message
                .as_deref()
                .is_some_and(|m| m.contains(NODE_SHUTTING_DOWN_MESSAGE))
    })
}

impl NodeView {
    /// Reads a Node.
    pub fn from_node(node: &Node) -> Self {
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        let mut cidr_texts: Vec<String> =
            spec.and_then(|s| s.pod_cidrs.clone()).unwrap_or_default();
        if cidr_texts.is_empty() {
            cidr_texts.extend(spec.and_then(|s| s.pod_cidr.clone()));
        }
        let pod_cidrs = cidr_texts
            .iter()
            .filter_map(|c| c.trim().parse::<IpNet>().ok())
            .collect();
        let addresses = node
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|a| {
                Some(NodeAddressView {
                    kind: a.type_.clone(),
                    address: a.address.trim().parse().ok()?,
                })
            })
            .collect();
        NodeView {
            name: node.metadata.name.clone().unwrap_or_default(),
            excluded: labels.contains_key(EXCLUDE_FROM_LB_LABEL),
            labels,
            pod_cidrs,
            addresses,
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            shutting_down: reports_shutdown(node),
        }
    }

    /// The node's `InternalIP` addresses.
    pub fn internal_ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses
            .iter()
            .filter(|a| a.kind == "InternalIP")
            .map(|a| a.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_node() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": {
                "node.kubernetes.io/exclude-from-external-load-balancers": "", "rack": "a"}},
            "spec": {"podCIDRs": ["10.244.1.0/24", "fd00:244:1::/64", "junk"], "unschedulable": true},
            "status": {"addresses": [
                {"type": "InternalIP", "address": "10.255.0.2"},
                {"type": "Hostname", "address": "n1"},
                {"type": "ExternalIP", "address": "198.51.100.200"}]}
        }))
        .unwrap();
        let v = NodeView::from_node(&node);
        assert_eq!(v.name, "n1");
        assert!(v.excluded);
        assert!(v.unschedulable);
        assert!(!v.shutting_down);
        assert_eq!(v.pod_cidrs.len(), 2);
        assert_eq!(v.addresses.len(), 2);
        let internal: Vec<IpAddr> = v.internal_ips().collect();
        assert_eq!(internal, ["10.255.0.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn graceful_node_shutdown_shows_on_ready() {
        let node = |status: &str, message: &str| -> Node {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "n3"},
                "status": {"conditions": [
                    {"type": "MemoryPressure", "status": "False", "message": "node is shutting down"},
                    {"type": "Ready", "status": status, "reason": "KubeletNotReady", "message": message}]}
            }))
            .unwrap()
        };
        let shutdown =
            "[container runtime status check may not have completed yet, node is shutting down]";
        assert!(NodeView::from_node(&node("False", shutdown)).shutting_down);
        assert!(
            !NodeView::from_node(&node("True", "kubelet is posting ready status")).shutting_down
        );
        assert!(!NodeView::from_node(&node("False", "PLEG is not healthy")).shutting_down);
    }

    #[test]
    fn falls_back_to_pod_cidr() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n2"}, "spec": {"podCIDR": "10.244.2.0/24"}
        }))
        .unwrap();
        let v = NodeView::from_node(&node);
        assert!(!v.excluded);
        assert_eq!(v.pod_cidrs, ["10.244.2.0/24".parse::<IpNet>().unwrap()]);
    }
}
