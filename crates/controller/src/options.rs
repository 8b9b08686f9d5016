//! Options of the controller: where the configuration comes from, the lease, the metrics address.

use std::net::SocketAddr;
use std::time::Duration;

pub use ferrolb_view::ConfigSource;

/// Field manager used for every write the controller makes.
pub const FIELD_MANAGER: &str = "ferrolb-controller";

/// Leader election through a coordination.k8s.io/v1 Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseOptions {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (`holderIdentity`): the pod name.
    pub identity: String,
    /// How long a lease stays valid without renewal (`leaseDurationSeconds`, whole seconds, >= 1).
    pub lease_duration: Duration,
    /// How often the leader renews and a follower looks at the lease.
    pub retry_interval: Duration,
    /// A leader that could not renew for this long stops writing (shorter than the lease duration,
    /// so it has stopped before anyone else may take over).
    pub renew_deadline: Duration,
}

impl LeaseOptions {
    /// Defaults for production (15 s lease, 2 s retry, 10 s renew deadline) with the given identity.
    pub fn new(identity: impl Into<String>) -> Self {
        LeaseOptions {
            namespace: "ferrolb-system".into(),
            name: "ferrolb-controller".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            retry_interval: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(10),
        }
    }

    /// Shorter durations for tests and the demo: a lease of `secs` seconds, retry every
    /// `secs / 8`, renew deadline at two thirds of the lease.
    pub fn fast(identity: impl Into<String>, secs: u64) -> Self {
        let lease = Duration::from_secs(secs.max(1));
        LeaseOptions {
            lease_duration: lease,
            retry_interval: lease / 8,
            renew_deadline: lease * 2 / 3,
            ..LeaseOptions::new(identity)
        }
    }

    /// The lease duration in whole seconds, as written into the Lease (at least 1).
    pub fn lease_duration_seconds(&self) -> i32 {
        let secs = self.lease_duration.as_secs_f64().ceil();
        (secs as i32).max(1)
    }
}

/// Everything [`crate::run`] needs besides the client.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the configuration comes from.
    pub config_source: ConfigSource,
    /// Address of the HTTP server for `/metrics`, `/healthz` and `/readyz`; `None` runs no server.
    pub metrics_addr: Option<SocketAddr>,
    /// Leader election; `None` means this replica always writes (a single replica, or the demo).
    pub lease: Option<LeaseOptions>,
    /// How often a broken or missing config file is looked at again (file source only).
    pub file_poll_interval: Duration,
    /// Also handle Services with this `spec.loadBalancerClass` (Services without a class are
    /// always handled).
    pub load_balancer_class: Option<String>,
    /// Delete the speakers' `BGPSessionState` objects in this namespace whose node no longer
    /// exists (the binary: its own namespace); `None`: leave them.
    pub session_gc_namespace: Option<String>,
}

impl Options {
    /// Options with the defaults: ConfigMap `ferrolb-system/config`, metrics on 0.0.0.0:7472,
    /// leader election with the given identity.
    pub fn new(identity: impl Into<String>) -> Self {
        Options {
            config_source: ConfigSource::default(),
            metrics_addr: Some(SocketAddr::from(([0, 0, 0, 0], 7472))),
            lease: Some(LeaseOptions::new(identity)),
            file_poll_interval: Duration::from_secs(2),
            load_balancer_class: None,
            session_gc_namespace: None,
        }
    }
}

/// This replica's identity: `POD_NAME` from the downward API, else the host name.
pub fn default_identity() -> String {
    if let Ok(name) = std::env::var("POD_NAME") {
        if !name.trim().is_empty() {
            return name.trim().to_string();
        }
    }
    if let Ok(name) = std::env::var("HOSTNAME") {
        if !name.trim().is_empty() {
            return name.trim().to_string();
        }
    }
    match std::fs::read_to_string("/proc/sys/kernel/hostname") {
        Ok(name) if !name.trim().is_empty() => name.trim().to_string(),
        _ => "ferrolb-controller".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_seconds_round_up_and_never_zero() {
        let mut lease = LeaseOptions::new("a");
        assert_eq!(lease.lease_duration_seconds(), 15);
        lease.lease_duration = Duration::from_millis(1500);
        assert_eq!(lease.lease_duration_seconds(), 2);
        lease.lease_duration = Duration::from_millis(10);
        assert_eq!(lease.lease_duration_seconds(), 1);
    }

    #[test]
    fn fast_lease_keeps_deadline_below_duration() {
        let lease = LeaseOptions::fast("a", 2);
        assert!(lease.renew_deadline < lease.lease_duration);
        assert!(lease.retry_interval < lease.renew_deadline);
    }
}
