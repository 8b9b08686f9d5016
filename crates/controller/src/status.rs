//! Writes `status.loadBalancer.ingress` through the Service's status subresource.
//!
//! A JSON merge patch of the status subresource replaces the whole `ingress` list (a list in a
//! merge patch is replaced, not merged), and `null` removes it: exactly the two writes the
//! controller needs, with one verb (`patch` on `services/status`).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};

use crate::options::FIELD_MANAGER;

/// The merge patch that sets `status.loadBalancer.ingress` to `ips` (empty: removes it).
pub fn ingress_patch(ips: &[IpAddr]) -> Value {
    if ips.is_empty() {
        json!({ "status": { "loadBalancer": { "ingress": null } } })
    } else {
        let ingress: Vec<Value> = ips
            .iter()
            .map(|ip| json!({ "ip": ip.to_string(), "ipMode": "VIP" }))
            .collect();
        json!({ "status": { "loadBalancer": { "ingress": ingress } } })
    }
}

/// Sets (or with no IPs, clears) the ingress of Service `namespace/name`.
pub async fn write_ingress(
    client: &Client,
    namespace: &str,
    name: &str,
    ips: &[IpAddr],
) -> Result<(), kube::Error> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    api.patch_status(name, &params, &Patch::Merge(ingress_patch(ips)))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_lists_every_ip_and_clears_with_null() {
        let ips: Vec<IpAddr> = vec![
            "198.51.100.7".parse().unwrap(),
            "2001:db8::7".parse().unwrap(),
        ];
        let patch = ingress_patch(&ips);
        assert_eq!(
            patch["status"]["loadBalancer"]["ingress"][1]["ip"],
            json!("2001:db8::7")
        );
        assert_eq!(
            ingress_patch(&[]),
            json!({ "status": { "loadBalancer": { "ingress": null } } })
        );
    }
}
