//! The view layer: Kubernetes objects -> small owned domain structs (`ServiceView`, `NodeView`, ...).
//!
//! This is the only code in FerroLB that reads `k8s-openapi` types. Everything downstream (the
//! allocator, the announce policy) works on the structs defined here, which are plain data and
//! easy to build in tests.

mod annotations;
pub mod api_kinds;
mod config_source;
mod configmap;
pub mod daemon_placement;
mod endpoints;
mod error;
pub mod metallb_source;
mod node;
mod service;

pub use annotations::*;
pub use config_source::ConfigSource;
pub use configmap::{config_text_from_configmap, ConfigMapLocation};
pub use endpoints::{endpoints_by_service, EndpointSliceView, EndpointView, SERVICE_NAME_LABEL};
pub use error::ViewError;
pub use node::{NodeAddressView, NodeView, EXCLUDE_FROM_LB_LABEL, NODE_SHUTTING_DOWN_MESSAGE};
pub use service::{
    services_from_list_json, CopyVersion, IpFamilyPolicy, ServiceKey, ServicePortView, ServiceView,
    TrafficPolicy,
};

pub use ferrolb_config::IpFamily;
