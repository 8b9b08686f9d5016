//! `ServiceView`: what the allocator and the speaker need from a Service.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ferrolb_config::IpFamily;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

use crate::annotations::*;
use crate::error::ViewError;

/// `namespace/name` of a Service; orders by namespace then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ServiceKey {
    /// Builds a key.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// `spec.ipFamilyPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpFamilyPolicy {
    /// One family (the first of `ipFamilies`).
    #[default]
    SingleStack,
    /// Both families when possible, one otherwise.
    PreferDualStack,
    /// Both families or nothing.
    RequireDualStack,
}

/// `spec.externalTrafficPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrafficPolicy {
    /// Any node may receive traffic (default).
    #[default]
    Cluster,
    /// Only nodes with a local endpoint.
    Local,
}

/// One entry of `spec.ports`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePortView {
    /// `TCP`, `UDP` or `SCTP` (default `TCP`).
    pub protocol: String,
    /// Port number.
    pub port: u16,
}

impl fmt::Display for ServicePortView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// The `metadata.resourceVersion` of the object a view was made from. Every two values compare
/// equal, so that views compare by what they say, not by which copy they were read from (a
/// watcher that skips unchanged views keeps skipping updates of fields FerroLB does not use).
#[derive(Debug, Clone, Default)]
pub struct CopyVersion(pub Option<String>);

impl CopyVersion {
    /// The version text, if the object had one.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl PartialEq for CopyVersion {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CopyVersion {}

/// The parts of a Service FerroLB uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceView {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// `metadata.resourceVersion` of the copy this view was made from (not compared: two views
    /// with the same content are equal whatever copy they come from).
    pub resource_version: CopyVersion,
    /// `spec.type == LoadBalancer`.
    pub is_load_balancer: bool,
    /// `spec.loadBalancerClass`.
    pub load_balancer_class: Option<String>,
    /// `spec.ipFamilies` (may be empty in hand-written files).
    pub ip_families: Vec<IpFamily>,
    /// `spec.ipFamilyPolicy`.
    pub ip_family_policy: IpFamilyPolicy,
    /// Requested addresses (`spec.loadBalancerIP` or the loadBalancerIPs annotation).
    pub requested_ips: Vec<IpAddr>,
    /// Why the requested addresses cannot be used (both fields set, unparsable, ...).
    pub requested_ips_error: Option<String>,
    /// Pool from the address-pool annotation.
    pub address_pool: Option<String>,
    /// Sharing key from the allow-shared-ip annotation.
    pub sharing_key: Option<String>,
    /// `spec.ports`.
    pub ports: Vec<ServicePortView>,
    /// `spec.externalTrafficPolicy`.
    pub external_traffic_policy: TrafficPolicy,
    /// `spec.selector`.
    pub selector: BTreeMap<String, String>,
    /// Addresses in `status.loadBalancer.ingress[].ip`.
    pub ingress_ips: Vec<IpAddr>,
    /// `metadata.labels` (an IPAddressPool's `serviceAllocation.serviceSelectors` match them).
    pub labels: BTreeMap<String, String>,
}

impl ServiceView {
    /// A LoadBalancer Service with default fields (handy in tests and tools).
    pub fn load_balancer(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceView {
            namespace: namespace.into(),
            name: name.into(),
            is_load_balancer: true,
            ..ServiceView::default()
        }
    }

    /// `namespace/name`.
    pub fn key(&self) -> ServiceKey {
        ServiceKey::new(self.namespace.clone(), self.name.clone())
    }

    /// What two Services must agree on to share an address under `externalTrafficPolicy: Local`
    /// (MetalLB: the pod selector); `None` for `Cluster`.
    pub fn backend_key(&self) -> Option<String> {
        match self.external_traffic_policy {
            TrafficPolicy::Cluster => None,
            TrafficPolicy::Local => Some(
                self.selector
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }

    /// Reads a Service. Problems with requested IPs are kept in `requested_ips_error`.
    pub fn from_service(svc: &Service) -> Self {
        let meta = &svc.metadata;
        let empty = BTreeMap::new();
        let annotations = meta.annotations.as_ref().unwrap_or(&empty);
        let spec = svc.spec.clone().unwrap_or_default();
        let annotation = |ours: &str, metallb: &str| -> Option<String> {
            annotations
                .get(ours)
                .or_else(|| annotations.get(metallb))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };

        let ip_families = spec
            .ip_families
            .iter()
            .flatten()
            .filter_map(|f| match f.as_str() {
                "IPv4" => Some(IpFamily::V4),
                "IPv6" => Some(IpFamily::V6),
                _ => None,
            })
            .collect();
        let ip_family_policy = match spec.ip_family_policy.as_deref() {
            Some("PreferDualStack") => IpFamilyPolicy::PreferDualStack,
            Some("RequireDualStack") => IpFamilyPolicy::RequireDualStack,
            _ => IpFamilyPolicy::SingleStack,
        };
        let (requested_ips, requested_ips_error) = requested_ips(
            spec.load_balancer_ip.as_deref(),
            annotations
                .get(ANNOTATION_LOAD_BALANCER_IPS)
                .map(String::as_str),
            annotations
                .get(METALLB_ANNOTATION_LOAD_BALANCER_IPS)
                .map(String::as_str),
        );
        let ports = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(ServicePortView {
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port: u16::try_from(p.port).ok()?,
                })
            })
            .collect();
        let ingress_ips = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_deref()?.trim().parse().ok())
            .collect();
        ServiceView {
            namespace: meta.namespace.clone().unwrap_or_else(|| "default".into()),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
            resource_version: CopyVersion(meta.resource_version.clone()),
            is_load_balancer: spec.type_.as_deref() == Some("LoadBalancer"),
            load_balancer_class: spec.load_balancer_class.clone(),
            ip_families,
            ip_family_policy,
            requested_ips,
            requested_ips_error,
            labels: meta.labels.clone().unwrap_or_default(),
            address_pool: annotation(ANNOTATION_ADDRESS_POOL, METALLB_ANNOTATION_ADDRESS_POOL),
            sharing_key: annotation(
                ANNOTATION_ALLOW_SHARED_IP,
                METALLB_ANNOTATION_ALLOW_SHARED_IP,
            ),
            ports,
            external_traffic_policy: match spec.external_traffic_policy.as_deref() {
                Some("Local") => TrafficPolicy::Local,
                _ => TrafficPolicy::Cluster,
            },
            selector: spec.selector.clone().unwrap_or_default(),
            ingress_ips,
        }
    }
}

fn requested_ips(
    spec_ip: Option<&str>,
    ours: Option<&str>,
    metallb: Option<&str>,
) -> (Vec<IpAddr>, Option<String>) {
    let spec_ip = spec_ip.map(str::trim).filter(|s| !s.is_empty());
    let ours = ours.map(str::trim).filter(|s| !s.is_empty());
    let metallb = metallb.map(str::trim).filter(|s| !s.is_empty());
    let (source, text) = match (spec_ip, ours, metallb) {
        (None, None, None) => return (Vec::new(), None),
        (Some(_), Some(_), _) | (Some(_), None, Some(_)) => {
            let which = if ours.is_some() {
                ANNOTATION_LOAD_BALANCER_IPS
            } else {
                METALLB_ANNOTATION_LOAD_BALANCER_IPS
            };
            return (
                Vec::new(),
                Some(format!(
                    "both spec.loadBalancerIP and annotation {which} are set; use only one"
                )),
            );
        }
        (Some(ip), None, None) => ("spec.loadBalancerIP".to_string(), ip),
        (None, Some(a), Some(b)) if a != b => {
            return (
                Vec::new(),
                Some(format!(
                    "annotations {ANNOTATION_LOAD_BALANCER_IPS} ({a:?}) and \
                     {METALLB_ANNOTATION_LOAD_BALANCER_IPS} ({b:?}) disagree"
                )),
            );
        }
        (None, Some(a), _) => (format!("annotation {ANNOTATION_LOAD_BALANCER_IPS}"), a),
        (None, None, Some(b)) => (
            format!("annotation {METALLB_ANNOTATION_LOAD_BALANCER_IPS}"),
            b,
        ),
    };
    let mut ips = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => {
                return (
                    Vec::new(),
                    Some(format!("{source}: {part:?} is not an IP address")),
                )
            }
        }
    }
    let v4 = ips.iter().filter(|ip| ip.is_ipv4()).count();
    let v6 = ips.len() - v4;
    if v4 > 1 || v6 > 1 {
        return (
            Vec::new(),
            Some(format!(
                "{source}: {text:?}: at most one IPv4 and one IPv6 address may be requested"
            )),
        );
    }
    (ips, None)
}

/// Reads Services from JSON as `kubectl get services -A -o json` prints it (a `List`), or a
/// single Service, or a bare JSON array of Services.
pub fn services_from_list_json(text: &str) -> Result<Vec<ServiceView>, ViewError> {
    // Fast path: straight into typed Services, no intermediate JSON tree (a 10k-Service list
    // would otherwise be held twice). On any problem, the careful path below names the item.
    if let Some(views) = typed_list(text) {
        return Ok(views);
    }
    let value: Value = serde_json::from_str(text)?;
    let items: Vec<(String, Value)> = match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some("Service") => {
            vec![(String::new(), value)]
        }
        Value::Object(mut map) => match map.remove("items") {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (format!("items[{i}]"), v))
                .collect(),
            Some(Value::Null) | None if map.get("kind").and_then(Value::as_str) == Some("List") => {
                Vec::new()
            }
            _ => {
                return Err(ViewError::Shape {
                    path: "items".into(),
                    message: "expected a List of Services with an `items` array".into(),
                })
            }
        },
        _ => {
            return Err(ViewError::Shape {
                path: String::new(),
                message: "expected a List of Services (kubectl get services -A -o json)".into(),
            })
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (path, mut item) in items {
        if let Value::Object(map) = &mut item {
            if let Some(kind) = map.get("kind").and_then(Value::as_str) {
                if kind != "Service" {
                    return Err(ViewError::Shape {
                        path: format!("{path}.kind"),
                        message: format!("{kind:?}: expected a Service"),
                    });
                }
            }
            map.entry("apiVersion").or_insert_with(|| "v1".into());
            map.entry("kind").or_insert_with(|| "Service".into());
        }
        let svc: Service = serde_json::from_value(item).map_err(|e| ViewError::Shape {
            path: path.clone(),
            message: format!("not a valid Service: {e}"),
        })?;
        out.push(ServiceView::from_service(&svc));
    }
    Ok(out)
}

/// The typed fast path of [`services_from_list_json`]; `None` when anything is unusual.
fn typed_list(text: &str) -> Option<Vec<ServiceView>> {
    #[derive(serde::Deserialize)]
    struct ListDoc {
        kind: Option<String>,
        items: Option<Vec<Service>>,
    }
    let first = text.trim_start().chars().next()?;
    let services: Vec<Service> = if first == '[' {
        serde_json::from_str(text).ok()?
    } else {
        let doc: ListDoc = serde_json::from_str(text).ok()?;
        match (doc.kind.as_deref(), doc.items) {
            (Some("Service"), _) => vec![serde_json::from_str(text).ok()?],
            (_, Some(items)) => items,
            _ => return None,
        }
    };
    Some(services.iter().map(ServiceView::from_service).collect())
}

#[cfg(test)]
mod tests;
