//! The API identity (group, version, kind, plural) of the custom resources FerroLB reads and
//! writes, in one place for the speaker, the controller and the CLI: MetalLB's kinds come from
//! `ferrolb_config::resources::KINDS`; FerroLB's own status kind is defined here.

use ferrolb_config::resources::{ResourceKind, KINDS};
use kube::api::{ApiResource, GroupVersionKind};

/// API group of FerroLB's status kinds.
pub const STATUS_GROUP: &str = "ferrolb.io";
/// Version of [`SESSION_STATE_KIND`].
pub const STATUS_VERSION: &str = "v1alpha1";
/// Kind of the per node and peer session status object.
pub const SESSION_STATE_KIND: &str = "BGPSessionState";
/// Plural of [`SESSION_STATE_KIND`].
pub const SESSION_STATE_PLURAL: &str = "bgpsessionstates";
/// Label naming the node of a session status object.
pub const SESSION_STATE_NODE_LABEL: &str = "ferrolb.io/node";

/// The `BGPSessionState` resource for dynamic clients.
pub fn session_state_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(STATUS_GROUP, STATUS_VERSION, SESSION_STATE_KIND),
        SESSION_STATE_PLURAL,
    )
}

/// A metallb.io kind as a resource for dynamic clients.
pub fn metallb_resource(kind: &ResourceKind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group, kind.version, kind.kind),
        kind.plural,
    )
}

/// The `IPAddressPool` resource (its preferred version in `KINDS`).
pub fn ip_address_pool_resource() -> ApiResource {
    let pool = KINDS
        .iter()
        .find(|k| k.kind == "IPAddressPool")
        .expect("KINDS lists IPAddressPool");
    metallb_resource(pool)
}
