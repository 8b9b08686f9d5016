//! MetalLB's sharing rules: Services may share an address when they carry the same
//! allow-shared-ip key, use no common protocol+port, and (for externalTrafficPolicy Local)
//! select the same pods.

use ferrolb_view::{ServiceKey, ServicePortView, ServiceView};

/// What the sharing rules need to know about a Service holding (or wanting) an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharingInfo {
    pub key: Option<String>,
    pub ports: Vec<ServicePortView>,
    pub backend: Option<String>,
}

impl SharingInfo {
    pub fn of(svc: &ServiceView) -> Self {
        let mut ports = svc.ports.clone();
        ports.sort();
        ports.dedup();
        SharingInfo {
            key: svc.sharing_key.clone(),
            ports,
            backend: svc.backend_key(),
        }
    }

    /// `Ok` when `self` may share an address that `other` (Service `other_key`) holds.
    pub fn compatible(&self, other_key: &ServiceKey, other: &SharingInfo) -> Result<(), String> {
        match (&self.key, &other.key) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                return Err(format!(
                "sharing conflict with {other_key}: allow-shared-ip keys differ ({a:?} vs {b:?})"
            ))
            }
            _ => {
                return Err(format!(
                    "already in use by {other_key} (sharing needs the same allow-shared-ip \
                     annotation on both Services)"
                ))
            }
        }
        if let Some(port) = self.ports.iter().find(|p| other.ports.contains(p)) {
            return Err(format!("sharing conflict with {other_key} on port {port}"));
        }
        if self.backend != other.backend {
            return Err(format!(
                "sharing conflict with {other_key}: with externalTrafficPolicy Local both \
                 Services must use Local and select the same pods"
            ));
        }
        Ok(())
    }
}
