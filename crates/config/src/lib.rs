//! FerroLB configuration: ConfigMap YAML (FerroLB and MetalLB legacy format) to a validated `Config`.
//!
//! The format is MetalLB's legacy ConfigMap format (v0.9 to v0.12): top-level `peers`,
//! `address-pools`, `bgp-communities` and `bfd-profiles`. FerroLB adds a few optional keys
//! (`password-secret` and `advertise-pod-cidr` on a peer, large communities `large:a:b:c`).
//!
//! Entry points: [`parse_document`] (a ConfigMap manifest or the bare config text) and
//! [`parse_config`] (the bare config text). Both report every error of the document, each
//! naming the field path and the offending value.

mod community;
mod error;
mod model;
mod parse;
mod range;
pub mod resources;
mod selector;

pub use community::{Community, CommunityValue, LargeCommunity};
pub use error::{ConfigError, ConfigErrors};
pub use model::{
    AdvertisementWeight, BfdProfile, BgpAdvertisement, Config, Password, Peer, Pool, Protocol,
    SecretRef, ServiceAllocation, DEFAULT_BGP_PORT, DEFAULT_HOLD_TIME,
};
pub use parse::{config_text_from_document, parse_config, parse_document};
pub use range::{IpFamily, IpRange};
pub use selector::{NodeSelector, SelectorOperator, SelectorRequirement};

/// Namespace of FerroLB's own ConfigMap.
pub const CONFIGMAP_NAMESPACE: &str = "ferrolb-system";
/// Name of FerroLB's own ConfigMap.
pub const CONFIGMAP_NAME: &str = "config";
/// Key inside the ConfigMap's `data` that holds the config text (same for MetalLB).
pub const CONFIGMAP_KEY: &str = "config";
/// Namespace of MetalLB's legacy ConfigMap (for migration).
pub const METALLB_CONFIGMAP_NAMESPACE: &str = "metallb-system";
/// Name of MetalLB's legacy ConfigMap (for migration).
pub const METALLB_CONFIGMAP_NAME: &str = "config";
