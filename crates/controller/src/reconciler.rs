//! The reconciler: keeps the Services it watched, the allocator and the last good config, and
//! turns each change into status writes and Events (only while it is the writing replica).
//!
//! Order of operations that keeps addresses stable:
//! - after every full list (start, takeover, a watch that expired with 410 Gone) the allocator is
//!   rebuilt: pools from the last good config, then every address already in a Service's
//!   `status.loadBalancer.ingress` is registered, and only then is anything allocated;
//! - a follower never writes; it mirrors the addresses it sees so its metrics are right, and on
//!   becoming leader it lists again before writing;
//! - decisions are made from the newest copy of each Service known: a copy older (by
//!   resourceVersion) than one already known, the answer to this replica's own status write
//!   included, is ignored;
//! - every status write is conditional on the uid and resourceVersion of that copy (see
//!   [`crate::status`]), and the lease is checked right before it;
//! - an address is released only once no copy of its Service shows it any more (the clear was
//!   written, the Service was seen without it, or the Service is gone), so it is never handed to
//!   another Service while the first still shows it;
//! - a failed write is retried with per-Service exponential backoff and jitter under a global
//!   rate limit ([`crate::retry`]); other Services keep being served meanwhile.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolb_config::Config;
use ferrolb_view::{ServiceKey, ServiceView};
use k8s_openapi::api::core::v1::Service;
use kube::runtime::watcher;
use kube::Client;
use tokio::sync::{broadcast, watch};
use tracing::{debug, error, info, warn};

use crate::allocator::{Allocator, ConfigRejected, Outcome};
use crate::config_source::ConfigUpdate;
use crate::events::{EventRecorder, EventTarget, EventType};
use crate::health::Readiness;
use crate::leader::Leadership;
use crate::metrics::{Metrics, PoolUsage};
use crate::retry::RetryQueue;
use crate::runner::ControllerState;
use crate::status::{write_ingress, WriteError};

/// What the controller did for one Service (published for `ferrolb demo` and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControllerEvent {
    /// Addresses written to the Service's status.
    Allocated {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The addresses.
        ips: Vec<IpAddr>,
        /// The pool they come from.
        pool: String,
    },
    /// The Service's addresses were removed and released.
    Cleared {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// No address could be given; the reason is readable.
    Failed {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A configuration was applied.
    ConfigApplied,
    /// A configuration was refused; the last good one stays.
    ConfigRejected {
        /// Every error, one per line.
        errors: String,
    },
}

/// A write is started only when the lease is proven held at least this much longer.
const WRITE_MARGIN: Duration = Duration::from_millis(50);

/// While this replica may not write, due retries wait this long before they are looked at again.
const PAUSED_RETRY: Duration = Duration::from_millis(250);

/// The reconciler's state (see the module documentation).
pub struct Reconciler {
    client: Client,
    load_balancer_class: Option<String>,
    services: BTreeMap<ServiceKey, ServiceView>,
    init_buffer: Option<BTreeMap<ServiceKey, ServiceView>>,
    allocator: Allocator,
    config: Option<Config>,
    pending: Option<(Config, Option<EventTarget>)>,
    rejected_first: Option<String>,
    leader: bool,
    /// The elector's current word on leadership, checked right before every write: a leader
    /// that could not renew stops writing at once, even in the middle of a long pass.
    leader_gate: Option<watch::Receiver<Leadership>>,
    term: u64,
    writing: bool,
    synced: bool,
    stale: bool,
    /// Bumped each time a configuration is applied.
    config_generation: u64,
    failed: BTreeMap<ServiceKey, String>,
    freed: bool,
    retry: RetryQueue,
    /// Since when every status write failed (none landed since), if they do.
    failing_since: Option<Instant>,
    /// Asks the elector to step down; sent after writes failed for `step_down_after`.
    step_down: Option<(watch::Sender<u64>, Duration)>,
    recorder: EventRecorder,
    config_event: Option<(EventTarget, EventType, &'static str, String)>,
    metrics: Metrics,
    readiness: Arc<Readiness>,
    state: watch::Sender<ControllerState>,
    events: broadcast::Sender<ControllerEvent>,
}

impl Reconciler {
    /// A reconciler with no config and no Services yet.
    pub fn new(
        client: Client,
        identity: String,
        load_balancer_class: Option<String>,
        metrics: Metrics,
        readiness: Arc<Readiness>,
        state: watch::Sender<ControllerState>,
        events: broadcast::Sender<ControllerEvent>,
    ) -> Self {
        Reconciler {
            recorder: EventRecorder::new(client.clone(), identity),
            client,
            load_balancer_class,
            services: BTreeMap::new(),
            init_buffer: None,
            allocator: Allocator::new(),
            config: None,
            pending: None,
            rejected_first: None,
            leader: false,
            leader_gate: None,
            term: 0,
            writing: false,
            synced: false,
            stale: false,
            config_generation: 0,
            failed: BTreeMap::new(),
            freed: false,
            retry: RetryQueue::default(),
            failing_since: None,
            step_down: None,
            config_event: None,
            metrics,
            readiness,
            state,
            events,
        }
    }

    /// Checks leadership on `gate` right before each write (the elector's channel).
    pub fn set_leader_gate(&mut self, gate: watch::Receiver<Leadership>) {
        self.leader_gate = Some(gate);
    }

    /// Asks the elector (through `requests`) to step down when every status write failed for
    /// `after`: a leader that cannot write hands the Lease to the other replica.
    pub fn set_step_down(&mut self, requests: watch::Sender<u64>, after: Duration) {
        self.step_down = Some((requests, after));
    }

    /// Notes a failed write; asks to step down when writes failed long enough.
    fn note_write_failure(&mut self) {
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        if let Some((requests, after)) = &self.step_down {
            if since.elapsed() >= *after {
                warn!(failing_for = ?since.elapsed(), "no status write landed for too long; asking to step down");
                requests.send_modify(|n| *n += 1);
                self.failing_since = None;
            }
        }
    }

    /// True when this replica may start a write now: it writes, and the elector's latest word
    /// is this term with the lease proven held past now plus a margin (fencing).
    fn may_write(&self) -> bool {
        self.writing
            && self.leader_gate.as_ref().is_none_or(|gate| {
                let now = *gate.borrow();
                now.term == self.term && now.holds_at(Instant::now() + WRITE_MARGIN)
            })
    }

    /// The instant a write must have finished by (the lease's proven end), if there is one.
    fn write_deadline(&self) -> Option<Instant> {
        self.leader_gate
            .as_ref()
            .and_then(|gate| gate.borrow().valid_until)
    }

    /// Whether this replica holds the lease.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// True when `leadership` is a leadership this reconciler has not listed for yet: the
    /// caller must restart the Service watcher (a full list) before anything is written.
    pub fn is_new_term(&self, leadership: Leadership) -> bool {
        leadership.leader && (!self.leader || leadership.term != self.term)
    }

    /// Records leadership. Gaining it (or a new term) does not allow writes yet: the caller
    /// restarts the Service watcher, and writing starts after that full list has been registered.
    pub fn set_leadership(&mut self, leadership: Leadership) {
        if leadership.leader != self.leader {
            info!(
                leader = leadership.leader,
                term = leadership.term,
                "leadership changed"
            );
        }
        if self.is_new_term(leadership) {
            // The caller replaces the Service stream: what the old one buffered is moot.
            self.init_buffer = None;
            self.writing = false;
        }
        if !leadership.leader {
            self.writing = false;
        }
        self.leader = leadership.leader;
        self.term = leadership.term;
        self.metrics.set_leader(leadership.leader);
        self.publish_state();
    }

    /// Applies a config update (see [`ConfigUpdate`]).
    pub async fn on_config(&mut self, update: ConfigUpdate) {
        match update {
            ConfigUpdate::Valid { config, target } => {
                for warning in &config.warnings {
                    warn!(warning = %warning, "configuration warning");
                }
                if self.config.is_none() {
                    // The first config is checked against the addresses Services already have
                    // once they are listed (see `try_first_config`).
                    self.pending = Some((config, target));
                    self.try_first_config().await;
                    return;
                } else {
                    match self.allocator.set_pools(&config) {
                        Ok(()) => {
                            info!(
                                pools = config.pools.len(),
                                peers = config.peers.len(),
                                "configuration applied"
                            );
                            self.config = Some(config);
                        }
                        Err(err) => {
                            let errors = err.to_string();
                            error!(errors = %errors, "configuration rejected; the last good configuration stays in force");
                            self.set_stale(true);
                            if let Some(target) = target {
                                self.config_event = Some((
                                    target,
                                    EventType::Warning,
                                    "ConfigRejected",
                                    format!("configuration rejected, the last good one stays in force: {errors}"),
                                ));
                            }
                            let _ = self.events.send(ControllerEvent::ConfigRejected { errors });
                            self.publish_config_event();
                            self.publish_state();
                            return;
                        }
                    }
                }
                self.config_applied(target).await;
            }
            ConfigUpdate::Invalid { errors, target } => {
                error!(errors = %errors, "configuration has errors; the last good configuration stays in force");
                self.set_stale(true);
                if let Some(target) = target {
                    self.config_event = Some((
                        target,
                        EventType::Warning,
                        "InvalidConfig",
                        format!(
                            "configuration has errors, the last good one stays in force: {errors}"
                        ),
                    ));
                }
                let _ = self.events.send(ControllerEvent::ConfigRejected { errors });
                self.publish_config_event();
                self.publish_state();
            }
            ConfigUpdate::Missing { reason } => {
                if self.config.is_some() {
                    warn!(reason = %reason, "configuration gone; the last good configuration stays in force");
                    self.set_stale(true);
                } else {
                    warn!(reason = %reason, "no configuration yet; no address is allocated until there is one");
                }
                self.publish_state();
            }
        }
    }

    /// Applies one event of the Service watcher.
    pub async fn on_service_event(&mut self, event: watcher::Event<Service>) {
        match event {
            watcher::Event::Init => self.init_buffer = Some(BTreeMap::new()),
            watcher::Event::InitApply(service) => {
                let view = ServiceView::from_service(&service);
                self.init_buffer
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key_of(&view), view);
            }
            watcher::Event::InitDone => self.listed().await,
            watcher::Event::Apply(service) => {
                let view = ServiceView::from_service(&service);
                let key = key_of(&view);
                if !self.remember(view) {
                    debug!(service = %key.to_string(), "ignored a copy older than one already seen");
                    return;
                }
                if self.config.is_none() && self.pending.is_some() && self.synced {
                    self.try_first_config().await;
                }
                if self.synced {
                    if self.writing {
                        self.reconcile(&key).await;
                        if std::mem::take(&mut self.freed) {
                            // The Service gave its address back: one that failed may get it.
                            self.retry_failed().await;
                        }
                    } else {
                        self.mirror(&key);
                    }
                }
            }
            watcher::Event::Delete(service) => {
                let view = ServiceView::from_service(&service);
                let key = key_of(&view);
                if self
                    .services
                    .get(&key)
                    .is_some_and(|known| known.uid != view.uid && is_older(&view, known))
                {
                    // an older object of that name; the one known now stays
                    return;
                }
                self.services.remove(&key);
                if self.config.is_none() && self.pending.is_some() && self.synced {
                    self.try_first_config().await;
                }
                self.failed.remove(&key);
                self.retry.forget(&key);
                self.recorder.forget(&key.namespace, &key.name);
                self.allocator.release(&key);
                debug!(service = %key.to_string(), "Service deleted; its addresses are free");
                self.update_usage();
                if self.writing {
                    // A freed address may satisfy a Service that failed before.
                    self.retry_failed().await;
                }
            }
        }
    }

    /// A full list was delivered: it replaces the known Services (except copies older than
    /// ones known), the allocator is rebuilt from it, and writing starts if this replica leads.
    async fn listed(&mut self) {
        let mut listed = self.init_buffer.take().unwrap_or_default();
        for (key, known) in &self.services {
            match listed.get_mut(key) {
                None => self.recorder.forget(&key.namespace, &key.name),
                // a list older than a copy already known (this replica's own write
                // included) does not take it back
                Some(view) if is_older(view, known) => *view = known.clone(),
                Some(_) => {}
            }
        }
        self.services = listed;
        // Retry schedules stay: a relist is no reason to write before a backoff or a server's
        // Retry-After has run out.
        self.failed.clear();
        let first = !self.synced;
        self.synced = true;
        if self.config.is_none() {
            self.try_first_config().await;
        }
        self.rebuild_allocator();
        self.readiness.set_synced(true);
        if self.leader && !self.writing {
            info!(
                services = self.services.len(),
                "listed every Service and registered their addresses; writing from now on"
            );
            self.writing = true;
            self.publish_config_event();
        } else if first {
            info!(services = self.services.len(), "initial sync done");
        }
        self.publish_state();
        self.reconcile_all().await;
    }

    /// Accepts the first configuration once the Services are listed, unless it would take an
    /// address away from a Service that has one: then, as for any later config, it is rejected
    /// (nothing is allocated, nothing moves) until the ConfigMap or those Services change.
    async fn try_first_config(&mut self) {
        if !self.synced || self.config.is_some() {
            return;
        }
        let Some((config, target)) = self.pending.clone() else {
            return;
        };
        let mut probe = Allocator::new();
        probe.set_load_balancer_class(self.load_balancer_class.clone());
        let blocking: Vec<(ServiceKey, IpAddr)> = self
            .services
            .values()
            .filter(|v| v.is_load_balancer && probe.handles_class(v))
            .flat_map(|v| {
                v.ingress_ips
                    .iter()
                    .filter(|ip| {
                        config
                            .pool_for(**ip)
                            .filter(|p| p.can_allocate(**ip))
                            .is_none()
                    })
                    .map(|ip| (v.key(), *ip))
                    .collect::<Vec<_>>()
            })
            .collect();
        if !blocking.is_empty() {
            let errors = ConfigRejected { blocking }.to_string();
            if self.rejected_first.as_deref() != Some(errors.as_str()) {
                error!(errors = %errors, "configuration rejected at start: Services already have addresses outside its pools; nothing is allocated until the ConfigMap or those Services change");
                let _ = self.events.send(ControllerEvent::ConfigRejected {
                    errors: errors.clone(),
                });
                self.rejected_first = Some(errors.clone());
            }
            self.set_stale(true);
            if let Some(target) = target {
                self.config_event = Some((target, EventType::Warning, "ConfigRejected", errors));
            }
            self.publish_config_event();
            self.publish_state();
            return;
        }
        self.pending = None;
        self.rejected_first = None;
        info!(
            pools = config.pools.len(),
            peers = config.peers.len(),
            "configuration loaded"
        );
        self.config = Some(config);
        self.rebuild_allocator();
        self.config_applied(target).await;
    }

    /// Bookkeeping after a config was put in force; then every Service is reconciled.
    async fn config_applied(&mut self, target: Option<EventTarget>) {
        self.config_generation += 1;
        self.set_stale(false);
        self.readiness.set_config_loaded(true);
        self.metrics.set_config_loaded(true);
        if let Some(target) = target {
            self.config_event = Some((
                target,
                EventType::Normal,
                "ConfigLoaded",
                "configuration loaded".to_string(),
            ));
        }
        let _ = self.events.send(ControllerEvent::ConfigApplied);
        self.publish_config_event();
        self.update_usage();
        self.publish_state();
        self.reconcile_all().await;
    }

    /// When the next retry is due, if any.
    pub fn next_retry(&self) -> Option<Instant> {
        self.retry.next_due()
    }

    /// Reconciles the Services whose write failed and whose retry time has come.
    pub async fn retry_due(&mut self) {
        let now = Instant::now();
        let due = self.retry.take_due(now);
        // A follower drops them: a new term starts with a full list that reconciles everything.
        for key in due {
            self.reconcile(&key).await;
        }
    }

    async fn retry_failed(&mut self) {
        let failed: Vec<ServiceKey> = self.failed.keys().cloned().collect();
        for key in failed {
            self.reconcile(&key).await;
        }
    }

    /// New allocator: pools of the last good config, then every address in use is registered.
    fn rebuild_allocator(&mut self) {
        let mut allocator = Allocator::new();
        allocator.set_load_balancer_class(self.load_balancer_class.clone());
        if let Some(config) = &self.config {
            if let Err(err) = allocator.set_pools(config) {
                // An empty allocator takes no address away; this cannot happen, but say so.
                error!(error = %err, "the configuration was refused by an empty allocator");
            }
        }
        for view in self.services.values() {
            if view.ingress_ips.is_empty() {
                continue;
            }
            if let Err(err) = allocator.assign(view, &view.ingress_ips) {
                warn!(
                    service = %format!("{}/{}", view.namespace, view.name),
                    error = %err,
                    "could not register the Service's current address"
                );
            }
        }
        self.allocator = allocator;
        self.update_usage();
    }

    /// Follower: keep the allocator in step with what the leader writes (for the metrics).
    fn mirror(&mut self, key: &ServiceKey) {
        if let Some(view) = self.services.get(key) {
            if view.ingress_ips.is_empty() {
                self.allocator.release(key);
            } else {
                let _ = self.allocator.assign(view, &view.ingress_ips);
            }
            self.update_usage();
        }
    }

    async fn reconcile_all(&mut self) {
        if !self.writing || self.config.is_none() {
            return;
        }
        let keys: Vec<ServiceKey> = self.services.keys().cloned().collect();
        for key in keys {
            self.reconcile(&key).await;
        }
    }

    async fn reconcile(&mut self, key: &ServiceKey) {
        if self.config.is_none() || !self.writing {
            return;
        }
        if !self.may_write() {
            // Writing, but the lease is not proven held right now: look again shortly (a
            // renewal lets it go on; a lost lease means a new term and a full list anyway).
            self.retry.defer(key, Instant::now() + PAUSED_RETRY);
            return;
        }
        let Some(view) = self.services.get(key).cloned() else {
            return;
        };
        let outcome = self.allocator.allocate(&view);
        // Metrics first: by the time the status is visible, the metrics already count it.
        self.update_usage();
        match outcome {
            Outcome::Assign { ips, pool } => self.assign(key, &view, ips, pool).await,
            Outcome::Clear => self.clear(key, &view).await,
            Outcome::Skip(reason) => {
                debug!(service = %key.to_string(), reason = %reason, "skipped");
            }
            Outcome::Error(reason) => self.no_address(key, &view, reason),
        }
        self.update_usage();
    }

    /// Writes the addresses the allocator gave, unless the Service already shows them.
    async fn assign(
        &mut self,
        key: &ServiceKey,
        view: &ServiceView,
        ips: Vec<IpAddr>,
        pool: String,
    ) {
        self.failed.remove(key);
        if ips == view.ingress_ips {
            self.retry.forget(key);
            return;
        }
        if !self.write_status(key, view, &ips).await {
            return;
        }
        let list = join_ips(&ips);
        info!(service = %key.to_string(), ips = %list, pool = %pool, "assigned");
        let target = EventTarget::service(&key.namespace, &key.name, view.uid.clone());
        self.recorder.publish(
            &target,
            EventType::Normal,
            "IPAllocated",
            &format!("Assigned IP [{list}] from pool {pool}"),
        );
        let _ = self.events.send(ControllerEvent::Allocated {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            ips,
            pool,
        });
    }

    /// Clears the status of a Service that is no LoadBalancer any more; its address is released
    /// only once no copy shows it (cleared now, or shown by none).
    async fn clear(&mut self, key: &ServiceKey, view: &ServiceView) {
        self.failed.remove(key);
        if view.ingress_ips.is_empty() {
            self.allocator.release(key);
            self.retry.forget(key);
            self.freed = true;
            return;
        }
        if !self.write_status(key, view, &[]).await {
            return;
        }
        self.allocator.release(key);
        self.freed = true;
        info!(service = %key.to_string(), "not a LoadBalancer any more: cleared the address");
        self.recorder.forget(&key.namespace, &key.name);
        let _ = self.events.send(ControllerEvent::Cleared {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        });
    }

    /// Records (and reports once per reason) that the Service cannot get an address.
    fn no_address(&mut self, key: &ServiceKey, view: &ServiceView, reason: String) {
        let previous = self.failed.insert(key.clone(), reason.clone());
        if previous.as_deref() != Some(reason.as_str()) {
            warn!(service = %key.to_string(), reason = %reason, "no address");
            let _ = self.events.send(ControllerEvent::Failed {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                reason: reason.clone(),
            });
        }
        let target = EventTarget::service(&key.namespace, &key.name, view.uid.clone());
        self.recorder
            .publish(&target, EventType::Warning, "AllocationFailed", &reason);
    }

    /// Writes `ips` to the status of the Service `view` is a copy of, conditional on that copy,
    /// and only while the lease is proven held (the write is abandoned at the lease's proven
    /// end). On success the answer becomes the newest copy known; on failure the Service is
    /// scheduled for a retry. A Service that failed before first needs a token of the global
    /// rate limit. Returns whether the write landed.
    async fn write_status(&mut self, key: &ServiceKey, view: &ServiceView, ips: &[IpAddr]) -> bool {
        if let Some(at) = self.retry.waiting_until(key, Instant::now()) {
            debug!(service = %key.to_string(), retry_in = ?at.saturating_duration_since(Instant::now()), "not written before its retry is due");
            return false;
        }
        if self.retry.is_backing_off(key) {
            if let Err(at) = self.retry.take_token(Instant::now()) {
                self.retry.defer(key, at);
                return false;
            }
        }
        // Fencing: checked with no await between this check and sending the write.
        if !self.may_write() {
            self.retry.defer(key, Instant::now() + PAUSED_RETRY);
            return false;
        }
        let write = write_ingress(&self.client, view, ips);
        let result = match self.write_deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), write)
                .await
                .unwrap_or_else(|_| {
                    Err(WriteError::Other(
                        "not finished before the lease's proven end; abandoned".into(),
                    ))
                }),
            None => write.await,
        };
        let label = key.to_string();
        match result {
            Ok(written) => {
                self.failing_since = None;
                self.retry.forget(key);
                self.remember(ServiceView::from_service(&written));
                true
            }
            Err(WriteError::NotFound) => {
                debug!(service = %label, "Service gone before its status was written");
                self.retry.forget(key);
                false
            }
            Err(WriteError::Conflict(reason)) => {
                // the Service changed: decided again from the next copy (the API server works)
                let delay = self.retry.failed(key, None);
                debug!(service = %label, reason = %reason, retry_in = ?delay, "status write refused by precondition");
                false
            }
            Err(err) => {
                self.note_write_failure();
                let delay = self.retry.failed(key, err.retry_after());
                warn!(service = %label, error = %err, retry_in = ?delay, "writing the status failed");
                false
            }
        }
    }

    /// Stores `view` unless a newer copy of that Service is known; returns whether it was stored.
    fn remember(&mut self, view: ServiceView) -> bool {
        let key = key_of(&view);
        if self
            .services
            .get(&key)
            .is_some_and(|known| is_older(&view, known))
        {
            return false;
        }
        self.services.insert(key, view);
        true
    }

    fn publish_config_event(&mut self) {
        if !self.writing {
            return;
        }
        if let Some((target, kind, reason, message)) = self.config_event.clone() {
            self.recorder.publish(&target, kind, reason, &message);
        }
    }

    fn set_stale(&mut self, stale: bool) {
        self.stale = stale;
        self.metrics.set_config_stale(stale);
    }

    fn update_usage(&self) {
        let usage: Vec<PoolUsage> = self
            .allocator
            .usage()
            .into_iter()
            .map(|u| PoolUsage {
                pool: u.pool,
                total: u.total as f64,
                in_use: u.in_use as f64,
            })
            .collect();
        self.metrics.set_pools(&usage);
        let counts = self.allocator.counts();
        self.state.send_if_modified(|s| {
            let changed = s.pools != counts;
            s.pools = counts;
            changed
        });
    }

    fn publish_state(&self) {
        self.state.send_replace(ControllerState {
            leader: self.leader,
            writing: self.writing,
            synced: self.synced,
            config_loaded: self.config.is_some(),
            config_stale: self.stale,
            config_generation: self.config_generation,
            pools: self.allocator.counts(),
        });
    }
}

/// True when `a` is an older copy than `b`: both resourceVersions are numbers (as every
/// Kubernetes API server writes them) and `a`'s is smaller. Otherwise `a` is taken as newer.
fn is_older(a: &ServiceView, b: &ServiceView) -> bool {
    let number = |v: &ServiceView| v.resource_version.as_str()?.parse::<u64>().ok();
    matches!((number(a), number(b)), (Some(a), Some(b)) if a < b)
}

fn key_of(view: &ServiceView) -> ServiceKey {
    view.key()
}

fn join_ips(ips: &[IpAddr]) -> String {
    ips.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
