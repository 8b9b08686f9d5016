//! Leader election through a coordination.k8s.io/v1 Lease.
//!
//! The holder renews the Lease every `retry_interval` with an update that carries the
//! resourceVersion it read (optimistic concurrency: of two replicas racing for the Lease, one gets
//! 409 Conflict). A follower takes over when it has seen the same Lease record, unrenewed, for the
//! record's `leaseDurationSeconds`, measured on its own clock (no trust in the other node's clock).
//! A leader that has not renewed for `renew_deadline` (shorter than the lease duration) stops
//! writing before anyone may take over. On a clean shutdown the leader releases the Lease so the
//! follower takes over at its next look. A leader whose writes keep failing can be told to step
//! down: it releases the Lease and stays out of the election for one lease duration, so the
//! other replica takes over.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::options::{LeaseOptions, FIELD_MANAGER};

/// Leadership as published by the elector. `term` grows with every acquisition, so a replica
/// that lost and regained the Lease between two looks at the channel still sees a new term
/// (and lists again before writing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leadership {
    /// This replica holds the Lease.
    pub leader: bool,
    /// Number of acquisitions so far.
    pub term: u64,
    /// Until when the lease is proven held: the start of the last successful renewal plus the
    /// renew deadline (another replica may take over only a lease duration after it saw that
    /// renewal, later still). `None` without election. Checked right before every write, so a
    /// replica that was paused past it writes nothing, whatever the elector has published.
    pub valid_until: Option<Instant>,
}

impl Leadership {
    /// True when this replica leads and the lease is proven held until at least `at`.
    pub fn holds_at(&self, at: Instant) -> bool {
        self.leader && self.valid_until.is_none_or(|until| at < until)
    }
}

/// Runs the election until `shutdown` turns true; publishes leadership on `leader`.
pub struct LeaderElector {
    api: Api<Lease>,
    options: LeaseOptions,
    leader: watch::Sender<Leadership>,
    observed: Option<Observation>,
    step_down: Option<watch::Receiver<u64>>,
}

/// The Lease record a follower last saw and when it first saw it.
#[derive(Debug, PartialEq, Eq)]
struct Observation {
    record: (Option<String>, Option<String>, Option<String>),
    since: Instant,
}

/// What one look at the Lease decided.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease (created, acquired or renewed).
    Held,
    /// Someone else holds a valid Lease (or won the race).
    HeldByOther(Option<String>),
}

impl LeaderElector {
    /// An elector for `options`; leadership changes are sent on `leader`.
    pub fn new(client: Client, options: LeaseOptions, leader: watch::Sender<Leadership>) -> Self {
        let api = Api::namespaced(client, &options.namespace);
        LeaderElector {
            api,
            options,
            leader,
            observed: None,
            step_down: None,
        }
    }

    /// Steps down (releases the Lease, then sits out one lease duration) each time the value
    /// on `requests` changes while this replica leads.
    pub fn with_step_down(mut self, requests: watch::Receiver<u64>) -> Self {
        self.step_down = Some(requests);
        self
    }

    /// True when a step-down was requested since the last look.
    fn step_down_requested(&mut self) -> bool {
        let Some(rx) = self.step_down.as_mut() else {
            return false;
        };
        if rx.has_changed().unwrap_or(false) {
            rx.borrow_and_update();
            true
        } else {
            false
        }
    }

    /// Runs until `shutdown` becomes true (or its sender is dropped). When `release` is set and
    /// this replica leads at that moment, the Lease is released so a follower takes over at once.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, release: bool) {
        let mut last_renew: Option<Instant> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if self.step_down_requested() && self.leader.borrow().leader {
                self.step_down().await;
                last_renew = None;
                tokio::select! {
                    _ = tokio::time::sleep(self.options.lease_duration) => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                }
                continue;
            }
            let started = Instant::now();
            let leading = self.leader.borrow().leader;
            let budget = if leading {
                let deadline = last_renew.unwrap_or(started) + self.options.renew_deadline;
                deadline.saturating_duration_since(started)
            } else {
                self.options.renew_deadline
            };
            let result = tokio::time::timeout(budget, self.try_acquire_or_renew()).await;
            match result {
                Ok(Ok(Attempt::Held)) => {
                    last_renew = Some(started);
                    let valid_until = Some(started + self.options.renew_deadline);
                    if !leading {
                        info!(identity = %self.options.identity, lease = %self.options.name, "became leader");
                        self.leader.send_modify(|l| {
                            l.leader = true;
                            l.term += 1;
                            l.valid_until = valid_until;
                        });
                    } else {
                        self.leader.send_modify(|l| l.valid_until = valid_until);
                    }
                }
                Ok(Ok(Attempt::HeldByOther(holder))) => {
                    if leading {
                        warn!(holder = ?holder, "lost the lease to another replica; stop writing");
                        self.leader.send_modify(|l| l.leader = false);
                    }
                    last_renew = None;
                }
                Ok(Err(err)) => {
                    warn!(error = %err, "lease request failed");
                    self.check_deadline(leading, last_renew);
                }
                Err(_) => {
                    warn!("lease request timed out");
                    self.check_deadline(leading, last_renew);
                }
            }
            let wait = self.options.retry_interval;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        if release && self.leader.borrow().leader {
            self.leader.send_modify(|l| l.leader = false);
            match tokio::time::timeout(self.options.renew_deadline, self.release()).await {
                Ok(Ok(())) => info!("released the lease"),
                Ok(Err(err)) => warn!(error = %err, "could not release the lease"),
                Err(_) => warn!("releasing the lease timed out"),
            }
        } else {
            self.leader.send_modify(|l| l.leader = false);
        }
    }

    /// Stops leading and releases the Lease, so the other replica takes over at its next look.
    async fn step_down(&mut self) {
        warn!("writes keep failing: stepping down and releasing the lease");
        self.leader.send_modify(|l| l.leader = false);
        match tokio::time::timeout(self.options.renew_deadline, self.release()).await {
            Ok(Ok(())) => info!("released the lease"),
            Ok(Err(err)) => warn!(error = %err, "could not release the lease"),
            Err(_) => warn!("releasing the lease timed out"),
        }
    }

    fn check_deadline(&mut self, leading: bool, last_renew: Option<Instant>) {
        if !leading {
            return;
        }
        let expired = match last_renew {
            Some(at) => at.elapsed() >= self.options.renew_deadline,
            None => true,
        };
        if expired {
            warn!("could not renew the lease within the renew deadline; stop writing");
            self.leader.send_modify(|l| l.leader = false);
        }
    }

    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = Timestamp::now();
        let existing = match self.api.get_opt(&self.options.name).await? {
            Some(lease) => lease,
            None => return self.create(now).await,
        };
        let spec = existing.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.options.identity.as_str());
        if !ours && holder.is_some() {
            let record = (
                holder.clone(),
                spec.renew_time.as_ref().map(|t| t.0.to_string()),
                existing.metadata.resource_version.clone(),
            );
            let since = match &self.observed {
                Some(obs) if obs.record == record => obs.since,
                _ => {
                    self.observed = Some(Observation {
                        record,
                        since: Instant::now(),
                    });
                    Instant::now()
                }
            };
            let duration = spec
                .lease_duration_seconds
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s as u64))
                .unwrap_or(self.options.lease_duration);
            if since.elapsed() < duration {
                return Ok(Attempt::HeldByOther(holder));
            }
            info!(previous = ?holder, "lease expired; taking over");
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = LeaseSpec {
            holder_identity: Some(self.options.identity.clone()),
            lease_duration_seconds: Some(self.options.lease_duration_seconds()),
            acquire_time: if ours {
                spec.acquire_time.clone().or(Some(MicroTime(now)))
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..spec
        };
        let updated = Lease {
            metadata: ObjectMeta {
                resource_version: existing.metadata.resource_version.clone(),
                ..existing.metadata.clone()
            },
            spec: Some(new_spec),
        };
        match self
            .api
            .replace(&self.options.name, &post_params(), &updated)
            .await
        {
            Ok(_) => {
                self.observed = None;
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                debug!("lost the race for the lease (409 Conflict)");
                Ok(Attempt::HeldByOther(None))
            }
            Err(err) => Err(err),
        }
    }

    async fn create(&mut self, now: Timestamp) -> Result<Attempt, kube::Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.options.name.clone()),
                namespace: Some(self.options.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.options.identity.clone()),
                lease_duration_seconds: Some(self.options.lease_duration_seconds()),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        match self.api.create(&post_params(), &lease).await {
            Ok(_) => Ok(Attempt::Held),
            Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
                Ok(Attempt::HeldByOther(None))
            }
            Err(err) => Err(err),
        }
    }

    async fn release(&self) -> Result<(), kube::Error> {
        let Some(existing) = self.api.get_opt(&self.options.name).await? else {
            return Ok(());
        };
        let mut spec = existing.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.options.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        let released = Lease {
            metadata: existing.metadata.clone(),
            spec: Some(spec),
        };
        match self
            .api
            .replace(&self.options.name, &post_params(), &released)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(()),
            Err(err) => Err(err),
        }
    }
}

fn post_params() -> PostParams {
    PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_string()),
    }
}
