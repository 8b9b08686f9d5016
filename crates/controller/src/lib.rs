//! FerroLB controller: the IP allocator (a plain object), offline planning, and the Kubernetes
//! reconciler that writes `status.loadBalancer`.

pub mod allocator;
pub mod config_source;
pub mod events;
pub mod health;
pub mod leader;
pub mod metrics;
pub mod options;
pub mod plan;
pub mod reconciler;
pub mod runner;
pub mod status;

pub use options::{ConfigSource, LeaseOptions, Options};
pub use reconciler::ControllerEvent;
pub use runner::{run, start, ControllerHandle, ControllerState, Error};
