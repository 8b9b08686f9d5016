//! The IPAddressPool `status` (MetalLB >= 0.14): `assignedIPv4`, `assignedIPv6`, `availableIPv4`,
//! `availableIPv6`, written by the writing replica (the leader) when the configuration comes from
//! the custom resources. Only pools whose counts changed are written, each at most once per
//! [`MIN_WRITE_INTERVAL`] (the latest counts always land); a pool without an IPAddressPool object
//! (404: the ConfigMap is in force, or the object is not there yet) is tried again after
//! [`ABSENT_RETRY`] or when another configuration is applied.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::Client;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::allocator::PoolCounts;
use crate::runner::ControllerState;

/// At most one status write per pool per this interval.
pub const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a pool without an IPAddressPool object is left alone.
pub const ABSENT_RETRY: Duration = Duration::from_secs(30);

/// The status object for `counts`.
pub fn status_of(counts: &PoolCounts) -> serde_json::Value {
    json!({"status": {
        "assignedIPv4": counts.assigned_v4,
        "assignedIPv6": counts.assigned_v6,
        "availableIPv4": counts.available_v4,
        "availableIPv6": counts.available_v6,
    }})
}

/// Writes the pools' status in `namespace` from the controller's state until `shutdown`.
pub async fn run(
    client: Client,
    namespace: String,
    mut state: watch::Receiver<ControllerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let ar = ferrolb_view::api_kinds::ip_address_pool_resource();
    let api: Api<DynamicObject> = Api::namespaced_with(client, &namespace, &ar);
    // Per pool: the counts last written (or found missing), and when.
    let mut written: BTreeMap<String, (PoolCounts, Instant)> = BTreeMap::new();
    let mut absent: BTreeMap<String, Instant> = BTreeMap::new();
    let mut generation = 0;
    let mut retry_at: Option<Instant> = None;
    loop {
        let wake = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = state.changed() => if changed.is_err() { return },
            _ = wake => {}
            _ = shutdown.changed() => return,
        }
        retry_at = None;
        let current = state.borrow_and_update().clone();
        if !current.writing {
            continue;
        }
        if current.config_generation != generation {
            generation = current.config_generation;
            absent.clear();
        }
        for counts in &current.pools {
            // Per pool, taken again after every write: the writes before this one took time,
            // and the interval is counted from when this pool's write is sent.
            let now = Instant::now();
            if let Some(until) = absent.get(&counts.pool).copied() {
                if now < until {
                    retry_at = Some(retry_at.map_or(until, |r| r.min(until)));
                    continue;
                }
                absent.remove(&counts.pool);
            }
            let last = written.get(&counts.pool);
            if last.is_some_and(|(c, _)| c == counts) {
                continue;
            }
            if let Some((_, at)) = last {
                let due = *at + MIN_WRITE_INTERVAL;
                if now < due {
                    retry_at = Some(retry_at.map_or(due, |r| r.min(due)));
                    continue;
                }
            }
            let patch = Patch::Merge(status_of(counts));
            match api
                .patch_status(&counts.pool, &PatchParams::default(), &patch)
                .await
            {
                Ok(_) => debug!(pool = %counts.pool, "IPAddressPool status written"),
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    debug!(pool = %counts.pool, "no IPAddressPool object for this pool; status not written");
                    let until = now + ABSENT_RETRY;
                    absent.insert(counts.pool.clone(), until);
                    // An attempt counts for the rate; nothing was written (no counts match).
                    written.insert(counts.pool.clone(), (PoolCounts::default(), now));
                    retry_at = Some(retry_at.map_or(until, |r| r.min(until)));
                    continue;
                }
                Err(e) => {
                    warn!(pool = %counts.pool, error = %e, "writing the IPAddressPool status failed; retrying");
                    retry_at = Some(now + MIN_WRITE_INTERVAL);
                    written.remove(&counts.pool);
                    continue;
                }
            }
            written.insert(counts.pool.clone(), (counts.clone(), now));
        }
    }
}
