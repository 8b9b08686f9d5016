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
pub mod pool_status;
pub mod reconciler;
pub mod retry;
pub mod runner;
pub mod session_gc;
pub mod status;

pub use options::{ConfigSource, LeaseOptions, Options};
pub use reconciler::ControllerEvent;
pub use runner::{run, start, ControllerHandle, ControllerState, Error};

/// The kube client configuration the controller needs: the client's own retries are turned off
/// (kube retries 429/503/504 up to 15 times with growing delays inside one call, which would hold
/// every other Service behind one write and resend writes after the lease may be lost). The
/// controller retries itself, per Service, honouring `Retry-After` (see [`retry`]).
pub fn client_config(mut config: kube::Config) -> kube::Config {
    config.default_retry = false;
    config
}
