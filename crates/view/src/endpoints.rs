//! Endpoints from EndpointSlices, per Service.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::service::ServiceKey;

/// Label on an EndpointSlice naming its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One endpoint with its conditions (Kubernetes' defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointView {
    /// Endpoint addresses.
    pub addresses: Vec<IpAddr>,
    /// Node hosting the endpoint.
    pub node_name: Option<String>,
    /// `conditions.ready` (unset means ready).
    pub ready: bool,
    /// `conditions.serving` (unset means the same as ready).
    pub serving: bool,
    /// `conditions.terminating` (unset means false).
    pub terminating: bool,
}

/// One EndpointSlice, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSliceView {
    /// Slice namespace.
    pub namespace: String,
    /// Slice name.
    pub name: String,
    /// The Service it belongs to (label `kubernetes.io/service-name`).
    pub service: Option<ServiceKey>,
    /// Endpoints.
    pub endpoints: Vec<EndpointView>,
}

impl EndpointSliceView {
    /// Reads an EndpointSlice.
    pub fn from_slice(slice: &EndpointSlice) -> Self {
        let namespace = slice.metadata.namespace.clone().unwrap_or_default();
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .map(|name| ServiceKey::new(namespace.clone(), name.clone()));
        let endpoints = slice
            .endpoints
            .iter()
            .map(|e| {
                let c = e.conditions.clone().unwrap_or_default();
                let ready = c.ready.unwrap_or(true);
                EndpointView {
                    addresses: e.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
                    node_name: e.node_name.clone(),
                    ready,
                    serving: c.serving.unwrap_or(ready),
                    terminating: c.terminating.unwrap_or(false),
                }
            })
            .collect();
        EndpointSliceView {
            namespace,
            name: slice.metadata.name.clone().unwrap_or_default(),
            service,
            endpoints,
        }
    }
}

/// All endpoints of every Service, merged over its slices.
pub fn endpoints_by_service<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSliceView>,
) -> BTreeMap<ServiceKey, Vec<EndpointView>> {
    let mut out: BTreeMap<ServiceKey, Vec<EndpointView>> = BTreeMap::new();
    for slice in slices {
        if let Some(key) = &slice.service {
            out.entry(key.clone())
                .or_default()
                .extend(slice.endpoints.iter().cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_conditions_with_defaults_and_groups_by_service() {
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"namespace": "web", "name": "front-abc",
                         "labels": {"kubernetes.io/service-name": "front"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.244.1.5"], "nodeName": "n1"},
                {"addresses": ["10.244.2.5"], "nodeName": "n2",
                 "conditions": {"ready": false, "serving": true, "terminating": true}},
                {"addresses": ["10.244.3.5"], "conditions": {"ready": false}}
            ]
        }))
        .unwrap();
        let v = EndpointSliceView::from_slice(&slice);
        assert_eq!(v.service, Some(ServiceKey::new("web", "front")));
        let e = &v.endpoints;
        assert!(e[0].ready && e[0].serving && !e[0].terminating);
        assert_eq!(e[0].node_name.as_deref(), Some("n1"));
        assert!(!e[1].ready && e[1].serving && e[1].terminating);
        assert!(!e[2].ready && !e[2].serving);
        let other = EndpointSliceView {
            namespace: "web".into(),
            name: "front-def".into(),
            service: Some(ServiceKey::new("web", "front")),
            endpoints: vec![e[0].clone()],
        };
        let orphan = EndpointSliceView {
            service: None,
            ..other.clone()
        };
        let grouped = endpoints_by_service([&v, &other, &orphan]);
        assert_eq!(grouped.len(), 1);
        assert_eq!(grouped[&ServiceKey::new("web", "front")].len(), 4);
    }
}
