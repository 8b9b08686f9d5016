//! Annotation names and the load balancer class FerroLB answers to.

/// Requested addresses (comma list for dual-stack).
pub const ANNOTATION_LOAD_BALANCER_IPS: &str = "ferrolb.io/loadBalancerIPs";
/// MetalLB's equivalent of [`ANNOTATION_LOAD_BALANCER_IPS`].
pub const METALLB_ANNOTATION_LOAD_BALANCER_IPS: &str = "metallb.universe.tf/loadBalancerIPs";
/// Pool to allocate from.
pub const ANNOTATION_ADDRESS_POOL: &str = "ferrolb.io/address-pool";
/// MetalLB's equivalent of [`ANNOTATION_ADDRESS_POOL`].
pub const METALLB_ANNOTATION_ADDRESS_POOL: &str = "metallb.universe.tf/address-pool";
/// Sharing key: Services with the same key may share an address.
pub const ANNOTATION_ALLOW_SHARED_IP: &str = "ferrolb.io/allow-shared-ip";
/// MetalLB's equivalent of [`ANNOTATION_ALLOW_SHARED_IP`].
pub const METALLB_ANNOTATION_ALLOW_SHARED_IP: &str = "metallb.universe.tf/allow-shared-ip";
/// `spec.loadBalancerClass` value FerroLB handles when told to (`--lb-class`).
pub const LOAD_BALANCER_CLASS: &str = "ferrolb.io/lb";
