//! Ordered session resets: no two nodes of one peer reset their session at the same time.
//!
//! Before a speaker resets its session to a peer (a configuration change that needs a new
//! OPEN), it takes the peer's coordination.k8s.io Lease `ferrolb-reset-<peer address>` in its
//! own namespace, and deletes it once the session is Established again with its routes sent.
//! A node that finds the Lease held waits; it takes over a Lease whose record it has seen
//! unchanged for the Lease's `leaseDurationSeconds` on its own clock (a holder that died), so
//! a dead holder delays the others by at most that long. Without an API client, when the API
//! refuses, or after [`MAX_WAIT`], the reset goes ahead unordered (a configuration change must
//! not hang on the API).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::Client;
use tracing::{debug, info, warn};

/// How long a reset may hold the Lease before another node may take it over.
pub const LEASE_DURATION: Duration = Duration::from_secs(10);
/// Interval between two looks at a Lease held by another node.
const POLL: Duration = Duration::from_millis(50);
/// Longest wait for the Lease, however many nodes take it in turn before this one (about
/// 0.4 s each): past it the reset goes ahead unordered (logged).
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// The Lease of one peer's resets, as held by this node.
#[derive(Debug)]
pub struct HeldLease {
    name: String,
    resource_version: Option<String>,
}

/// Takes and releases the per-peer reset Leases of one node.
#[derive(Clone)]
pub struct ResetLeases {
    api: Api<Lease>,
    holder: String,
}

/// The Lease name of `peer`: `ferrolb-reset-` and the address, `:` written as `-`.
pub fn lease_name(peer: IpAddr) -> String {
    format!("ferrolb-reset-{}", peer.to_string().replace(':', "-"))
}

/// What identifies one holding of a Lease: holder and renew time.
type Record = (Option<String>, Option<String>);

fn record(lease: &Lease) -> Record {
    let spec = lease.spec.as_ref();
    (
        spec.and_then(|s| s.holder_identity.clone()),
        spec.and_then(|s| s.renew_time.as_ref().map(|t| t.0.to_string())),
    )
}

impl ResetLeases {
    /// Leases in `namespace` held as `holder` (the node name).
    pub fn new(client: Client, namespace: &str, holder: &str) -> Self {
        ResetLeases {
            api: Api::namespaced(client, namespace),
            holder: holder.to_string(),
        }
    }

    fn lease(&self, name: &str) -> Lease {
        let now = MicroTime(Timestamp::now());
        Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.holder.clone()),
                lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                ..Default::default()
            }),
        }
    }

    /// Waits until this node holds the reset Lease of `peer`. `None` when the API cannot be
    /// used for it (the reset then goes ahead unordered; logged).
    pub async fn acquire(&self, peer: IpAddr) -> Option<HeldLease> {
        let name = lease_name(peer);
        let started = Instant::now();
        let mut seen: Option<(Record, Instant)> = None;
        loop {
            if started.elapsed() >= MAX_WAIT {
                warn!(lease = %name, "waited {MAX_WAIT:?} for the reset Lease: resetting without it");
                return None;
            }
            let current = match self.api.get_opt(&name).await {
                Ok(c) => c,
                Err(e) => return self.unordered(&name, &e),
            };
            let Some(lease) = current else {
                match self
                    .api
                    .create(&PostParams::default(), &self.lease(&name))
                    .await
                {
                    Ok(created) => return Some(self.held(name, created, started)),
                    Err(kube::Error::Api(s)) if s.code == 409 => continue,
                    Err(e) => return self.unordered(&name, &e),
                }
            };
            let rec = record(&lease);
            if rec.0.as_deref() == Some(self.holder.as_str()) {
                // Ours, left by an earlier run of this node: take it again.
                self.delete(&name, lease.metadata.resource_version).await;
                continue;
            }
            let since = match &seen {
                Some((r, since)) if *r == rec => *since,
                _ => {
                    debug!(lease = %name, holder = ?rec.0, "waiting for another node's reset");
                    seen = Some((rec, Instant::now()));
                    Instant::now()
                }
            };
            let duration = lease
                .spec
                .as_ref()
                .and_then(|s| s.lease_duration_seconds)
                .map_or(LEASE_DURATION, |s| Duration::from_secs(s.max(1) as u64));
            if since.elapsed() >= duration {
                warn!(lease = %name, holder = ?lease.spec.as_ref().and_then(|s| s.holder_identity.clone()),
                      "reset Lease not released within its duration: taking it over");
                self.delete(&name, lease.metadata.resource_version).await;
                continue;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn held(&self, name: String, created: Lease, started: Instant) -> HeldLease {
        info!(lease = %name, waited_ms = started.elapsed().as_millis() as u64, "reset Lease taken");
        HeldLease {
            name,
            resource_version: created.metadata.resource_version,
        }
    }

    fn unordered(&self, name: &str, e: &kube::Error) -> Option<HeldLease> {
        warn!(lease = %name, error = %e, "reset Lease unavailable: resetting without waiting for other nodes");
        None
    }

    /// Deletes the Lease if it is still the record `resource_version`.
    async fn delete(&self, name: &str, resource_version: Option<String>) {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version,
                uid: None,
            }),
            ..Default::default()
        };
        match self.api.delete(name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => warn!(lease = %name, error = %e, "deleting the reset Lease failed"),
        }
    }

    /// Deletes the reset Lease of `peer` if this node holds it (a reset task that was stopped
    /// before it could release it).
    pub async fn release_if_held(&self, peer: IpAddr) {
        let name = lease_name(peer);
        if let Ok(Some(lease)) = self.api.get_opt(&name).await {
            if record(&lease).0.as_deref() == Some(self.holder.as_str()) {
                self.delete(&name, lease.metadata.resource_version).await;
                info!(lease = %name, "reset Lease released (reset abandoned)");
            }
        }
    }

    /// Releases a Lease taken by [`acquire`](Self::acquire) (deletes it unless another node
    /// took it over meanwhile).
    pub async fn release(&self, held: HeldLease) {
        self.delete(&held.name, held.resource_version).await;
        info!(lease = %held.name, "reset Lease released");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_valid_object_names() {
        assert_eq!(
            lease_name("10.255.1.1".parse().unwrap()),
            "ferrolb-reset-10.255.1.1"
        );
        assert_eq!(
            lease_name("2001:db8::1".parse().unwrap()),
            "ferrolb-reset-2001-db8--1"
        );
    }
}
