//! The session manager: turns the policy's [`Desired`] into calls on the BGP [`Speaker`]:
//! peers added, removed or updated (a reset only when session parameters changed), and the
//! desired route set of each peer (UPDATEs only).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrolb_bgp::driver::{Password, PeerConfig, Speaker};
use ferrolb_bgp::rib_out::{
    AdvertisementSet, Community, LargeCommunity, LinkBandwidth, RouteAttributes,
};
use ferrolb_config::{Peer, SecretRef};
use ferrolb_view::NodeView;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use tracing::{info, warn};

use crate::bfd::{self, BfdPeers, Held};
use crate::departure::StopMode;
use crate::policy::{Desired, PeerKey, PeerPlan, RouteAttrs};
use crate::reset_lease::{ResetLeases, LEASE_DURATION};
use crate::router_id;

/// First wait before reconnecting after a refused attempt (doubling, jittered, up to the
/// connect-retry interval): routers refuse for a moment after a NOTIFICATION, and a session
/// reset by a configuration change should be back as soon as the router accepts.
pub const QUICK_RETRY: Duration = Duration::from_millis(50);

/// After a reset, how long the routes get at the router (its best path and FIB) before the
/// reset Lease lets the next node reset: the node cannot see the router's table.
pub const RESET_SETTLE: Duration = Duration::from_millis(300);

/// The configuration a reset waiting for (or running under) the peer's reset Lease applies;
/// `done` once the task has applied the last one and will take no more.
struct ResetTarget {
    config: PeerConfig,
    done: bool,
}

/// A reset ordered by the peer's reset Lease, running in its own task.
struct PendingReset {
    target: Arc<Mutex<ResetTarget>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock_target(t: &Mutex<ResetTarget>) -> std::sync::MutexGuard<'_, ResetTarget> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the manager knows about one running session.
struct Active {
    key: PeerKey,
    config: PeerConfig,
    routes: Arc<BTreeMap<IpNet, RouteAttrs>>,
}

/// A peer the node should use but whose session could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// The peer.
    pub key: PeerKey,
    /// Why (never contains a password).
    pub error: String,
}

/// Keeps the BGP speaker in line with the policy's output.
pub struct SessionManager {
    speaker: Speaker,
    client: Option<Client>,
    namespace: String,
    default_source: Option<IpAddr>,
    default_router_id: Option<std::net::Ipv4Addr>,
    connect_retry: Duration,
    restart_state: bool,
    active: BTreeMap<IpAddr, Active>,
    passwords: HashMap<(String, String, String), Result<Password, String>>,
    password_generation: u64,
    leases: Option<ResetLeases>,
    pending: HashMap<IpAddr, PendingReset>,
    /// Peers that could not be set up.
    pub setup_errors: BTreeMap<PeerKey, SetupError>,
    /// BFD sessions of the peers with a `bfd-profile`.
    pub bfd: BfdPeers,
}

/// Manager settings.
pub struct ManagerOptions {
    /// Namespace of Secrets without one.
    pub namespace: String,
    /// Source address for peers without one.
    pub default_source: Option<IpAddr>,
    /// Router id for peers without one.
    pub default_router_id: Option<std::net::Ipv4Addr>,
    /// First connect-retry interval.
    pub connect_retry: Duration,
    /// This node's name: the holder of the reset Leases.
    pub node: String,
    /// This process is a restart (see [`crate::restart_marker`]): set R in the Graceful
    /// Restart capability of peers with `graceful-restart`.
    pub restart_state: bool,
}

impl SessionManager {
    /// A manager driving `speaker`; `client` reads password Secrets.
    pub fn new(speaker: Speaker, client: Option<Client>, options: ManagerOptions) -> Self {
        let leases = client
            .as_ref()
            .map(|c| ResetLeases::new(c.clone(), &options.namespace, &options.node));
        SessionManager {
            speaker,
            leases,
            pending: HashMap::new(),
            client,
            namespace: options.namespace,
            default_source: options.default_source,
            default_router_id: options.default_router_id,
            connect_retry: options.connect_retry,
            restart_state: options.restart_state,
            active: BTreeMap::new(),
            passwords: HashMap::new(),
            password_generation: 0,
            setup_errors: BTreeMap::new(),
            bfd: BfdPeers::default(),
        }
    }

    /// The BGP speaker.
    pub fn speaker(&self) -> &Speaker {
        &self.speaker
    }

    /// Key and config of each running session.
    pub fn sessions(&self) -> impl Iterator<Item = (&PeerKey, &PeerConfig)> {
        self.active.values().map(|a| (&a.key, &a.config))
    }

    /// Number of routes desired per peer address.
    pub fn desired_count(&self, peer: IpAddr) -> usize {
        self.active.get(&peer).map_or(0, |a| a.routes.len())
    }

    /// Brings the speaker in line with `desired`. `config_generation` changes whenever a new
    /// configuration was taken (Secrets are read again then). Returns the peers added.
    ///
    /// A node has one session per peer address (the driver's peer identity): a second plan for
    /// an address already used is not applied and is reported in
    /// [`setup_errors`](Self::setup_errors), so two entries never take turns resetting the session.
    pub async fn apply(
        &mut self,
        desired: &Desired,
        node: Option<&NodeView>,
        config_generation: u64,
    ) -> Vec<IpAddr> {
        if config_generation != self.password_generation {
            self.passwords.clear();
            self.password_generation = config_generation;
        }
        let mut touched = Vec::new();
        let mut used: BTreeMap<IpAddr, PeerKey> = BTreeMap::new();
        let mut wanted: BTreeSet<IpAddr> = BTreeSet::new();
        self.setup_errors.clear();
        let mut interner: HashMap<RouteAttrs, Arc<RouteAttributes>> = HashMap::new();

        for plan in &desired.peers {
            let address = plan.key.address;
            if let Some(first) = used.get(&address) {
                let error = format!(
                    "another peer entry for the same address ({first}) is used on this node; a \
                     node has one session per peer address"
                );
                warn!(peer = %plan.key, %error, "session not configured");
                self.setup_error(plan.key, error);
                continue;
            }
            used.insert(address, plan.key);
            let config = match self.peer_config(&plan.peer, node).await {
                Ok(c) => c,
                Err(error) => {
                    warn!(peer = %plan.key, %error, "session not (re)configured");
                    if self.active.contains_key(&address) {
                        // Keep a running session rather than drop it over a transient error.
                        wanted.insert(address);
                    }
                    self.setup_error(plan.key, error);
                    continue;
                }
            };
            wanted.insert(address);
            if self.sync_session(plan, config.clone(), &mut interner).await {
                touched.push(address);
            }
            self.sync_routes(plan, &mut interner);
            self.sync_bfd(plan, config);
        }
        self.remove_unwanted(&wanted).await;
        touched
    }

    fn setup_error(&mut self, key: PeerKey, error: String) {
        self.setup_errors.insert(key, SetupError { key, error });
    }

    /// Starts, changes or stops the peer's BFD session after its BGP session is configured.
    fn sync_bfd(&mut self, plan: &PeerPlan, config: PeerConfig) {
        let address = plan.key.address;
        let Some(profile) = &plan.bfd else {
            self.bfd.stop(&self.speaker, address, true);
            return;
        };
        if !self.active.contains_key(&address) {
            return;
        }
        let result = bfd::spec_of(profile, &config).and_then(|spec| {
            let held = Held {
                routes: self.speaker.advertisements(address).unwrap_or_default(),
                config,
                down: false,
            };
            self.bfd.sync(&self.speaker, &profile.name, spec, held)
        });
        if let Err(error) = result {
            warn!(peer = %plan.key, %error, "BFD session not configured");
            self.setup_error(plan.key, format!("BFD: {error}"));
        }
    }

    /// A new peer with graceful restart and a `bfd-profile`: starts its BFD session with the
    /// BGP peer held until BFD's first Up (at most [`bfd::START_WAIT`]); true when it did.
    /// RFC 5882 §4.3.2: the router sees our new BFD session (new discriminators, Down) while
    /// it still helps the restart, not after our new BGP session is up, which a router
    /// takes for a failure of that session (FRR 8.4: Hard Reset, the routes kept for the
    /// restart flushed).
    fn wait_for_bfd(
        &mut self,
        plan: &PeerPlan,
        config: &PeerConfig,
        routes: Arc<AdvertisementSet>,
    ) -> bool {
        // The peer's `graceful-restart`, not the session's flag (every session is a helper).
        let Some(profile) = plan.bfd.as_ref().filter(|_| plan.peer.graceful_restart) else {
            return false;
        };
        if self.bfd.held(plan.key.address).is_some() {
            // A running BFD session keeps its coupling: BGP is not waiting for it.
            return false;
        }
        let Ok(spec) = bfd::spec_of(profile, config) else {
            return false;
        };
        let held = Held {
            config: config.clone(),
            routes,
            down: true,
        };
        match self.bfd.sync(&self.speaker, &profile.name, spec, held) {
            Ok(()) => {
                info!(peer = %plan.key, "graceful restart with BFD: BGP starts at BFD Up");
                true
            }
            Err(_) => false,
        }
    }

    /// Records the peer's config for a BFD-coupled peer; true when BFD holds the BGP peer
    /// down (the driver must not be asked about it then).
    fn held_down_with(&mut self, plan: &PeerPlan, config: &PeerConfig) -> bool {
        let address = plan.key.address;
        let Some(held) = self.bfd.held(address) else {
            return false;
        };
        let mut h = bfd::lock(&held);
        h.config = config.clone();
        if h.down {
            if let Some(a) = self.active.get_mut(&address) {
                a.config = config.clone();
                a.key = plan.key;
            }
        }
        h.down
    }

    /// Adds the peer's session or updates its parameters (a reset only when they need a new
    /// OPEN). True when the session was added (or held until BFD is Up, see
    /// [`Self::wait_for_bfd`]). A new session starts with the
    /// plan's routes, so its first table and End-of-RIB go out together (a router helping a
    /// graceful restart drops what is stale at End-of-RIB).
    async fn sync_session(
        &mut self,
        plan: &PeerPlan,
        config: PeerConfig,
        interner: &mut HashMap<RouteAttrs, Arc<RouteAttributes>>,
    ) -> bool {
        let address = plan.key.address;
        if self.held_down_with(plan, &config) {
            return false;
        }
        match self.active.get(&address).map(|a| a.config == config) {
            None => {
                let routes = advertisement_set(plan, interner);
                if !self.wait_for_bfd(plan, &config, Arc::clone(&routes)) {
                    if let Err(e) = self.speaker.add_peer_with(config.clone(), routes) {
                        self.setup_error(plan.key, e.to_string());
                        return false;
                    }
                    info!(peer = %plan.key, peer_as = plan.peer.peer_asn, "session configured");
                }
                self.active.insert(
                    address,
                    Active {
                        key: plan.key,
                        config,
                        routes: Arc::new(plan.routes.clone()),
                    },
                );
                true
            }
            Some(false) => {
                self.change_session(plan.key, config).await;
                false
            }
            Some(true) => false,
        }
    }

    /// Applies a changed configuration to a running session: through the reset Lease when it
    /// needs a new OPEN (no two nodes of the peer down at once), else at once (timers,
    /// maximum-prefix: no reset).
    async fn change_session(&mut self, key: PeerKey, config: PeerConfig) {
        let address = key.address;
        let Some(active) = self.active.get_mut(&address) else {
            return;
        };
        let needs_reset = active.config.needs_reset_for(&config);
        active.config = config.clone();
        active.key = key;
        if let Some(p) = self.pending.get(&address) {
            let mut target = lock_target(&p.target);
            if !target.done {
                target.config = config;
                return;
            }
        }
        match (&self.leases, needs_reset) {
            (Some(leases), true) => {
                info!(peer = %key, "session parameters changed; reset when this node holds the peer's reset Lease");
                let target = Arc::new(Mutex::new(ResetTarget {
                    config,
                    done: false,
                }));
                let task = tokio::spawn(ordered_reset(
                    self.speaker.clone(),
                    leases.clone(),
                    address,
                    Arc::clone(&target),
                ));
                self.pending.insert(address, PendingReset { target, task });
            }
            _ => match self.speaker.update_peer(config).await {
                Ok(true) => info!(peer = %key, "session parameters changed; session reset"),
                Ok(false) => {}
                Err(e) => self.setup_error(key, e.to_string()),
            },
        }
    }

    /// Stops the peer's ordered reset, if one is running, and releases its Lease if held.
    async fn abandon_reset(&mut self, address: IpAddr) {
        let Some(p) = self.pending.remove(&address) else {
            return;
        };
        if p.task.is_finished() {
            return;
        }
        p.task.abort();
        let _ = p.task.await;
        if let Some(leases) = &self.leases {
            leases.release_if_held(address).await;
        }
    }

    /// Gives the driver the plan's routes when they differ from what it has.
    fn sync_routes(
        &mut self,
        plan: &PeerPlan,
        interner: &mut HashMap<RouteAttrs, Arc<RouteAttributes>>,
    ) {
        let address = plan.key.address;
        let Some(active) = self.active.get_mut(&address) else {
            return;
        };
        if *active.routes == plan.routes {
            return;
        }
        let set = advertisement_set(plan, interner);
        let held = self.bfd.held(address);
        let mut held = held.as_deref().map(bfd::lock);
        if let Some(h) = held.as_mut() {
            h.routes = Arc::clone(&set);
            if h.down {
                // Kept for when BFD is Up again and the peer is added back.
                active.routes = Arc::new(plan.routes.clone());
                return;
            }
        }
        match self.speaker.set_advertisements(address, set) {
            Ok(()) => active.routes = Arc::new(plan.routes.clone()),
            Err(e) => warn!(peer = %plan.key, error = %e, "setting advertisements failed"),
        }
    }

    /// Removes the sessions of peers no longer wanted on this node (Cease/Peer De-configured).
    async fn remove_unwanted(&mut self, wanted: &BTreeSet<IpAddr>) {
        let gone: Vec<IpAddr> = self
            .active
            .keys()
            .filter(|a| !wanted.contains(a))
            .copied()
            .collect();
        for address in gone {
            self.abandon_reset(address).await;
            self.bfd.stop(&self.speaker, address, false);
            if let Some(a) = self.active.remove(&address) {
                info!(peer = %a.key, "session removed (peer no longer configured for this node)");
                if let Err(e) = self
                    .speaker
                    .remove_peer(address, "peer removed from the FerroLB configuration")
                    .await
                {
                    warn!(peer = %a.key, error = %e, "removing the peer failed");
                }
            }
        }
    }

    /// Builds the driver configuration of a peer (router id lookup, password from a Secret).
    async fn peer_config(
        &mut self,
        peer: &Peer,
        node: Option<&NodeView>,
    ) -> Result<PeerConfig, String> {
        let source = peer.source_address.or(self.default_source);
        let router_id = router_id::choose(
            peer.router_id,
            self.default_router_id,
            source,
            peer.address,
            node,
        )?;
        // The address as the driver and `PeerKey::of` key it (IPv4-mapped IPv6 is IPv4).
        let address = peer.address.to_canonical();
        let mut config = PeerConfig::new(address, peer.my_asn, peer.peer_asn, router_id);
        config.port = peer.port;
        config.local_address = source;
        config.ebgp_multihop = peer.ebgp_multihop.then_some(255);
        let hold = u16::try_from(peer.hold_time.as_secs()).unwrap_or(u16::MAX);
        config.session.hold_time = hold;
        let keepalive = u16::try_from(peer.keepalive_time.as_secs()).unwrap_or(u16::MAX);
        config.session.keepalive =
            (hold != 0 && keepalive != 0 && keepalive != hold / 3).then_some(keepalive);
        config.session.connect_retry = self.connect_retry;
        config.session.quick_retry = Some(QUICK_RETRY.min(self.connect_retry));
        config.session.max_prefixes = max_prefixes(peer.max_prefix);
        if peer.graceful_restart {
            offer_graceful_restart(&mut config, peer.restart_time, self.restart_state);
        }
        config.password = match (&peer.password, &peer.password_secret) {
            (Some(p), _) => Some(
                Password::new(p.expose().as_bytes().to_vec())
                    .map_err(|e| format!("peer {}: password: {e}", peer.address))?,
            ),
            (None, Some(secret)) => Some(self.secret_password(secret).await?),
            (None, None) => None,
        };
        Ok(config)
    }

    async fn secret_password(&mut self, secret: &SecretRef) -> Result<Password, String> {
        let ns = secret
            .namespace
            .clone()
            .unwrap_or_else(|| self.namespace.clone());
        let cache_key = (ns.clone(), secret.name.clone(), secret.key.clone());
        if let Some(found) = self.passwords.get(&cache_key) {
            return found.clone();
        }
        let what = format!("password-secret {ns}/{} key {:?}", secret.name, secret.key);
        let result = match &self.client {
            None => Err(format!("{what}: no Kubernetes client to read it with")),
            Some(client) => {
                let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
                match api.get_opt(&secret.name).await {
                    Err(e) => Err(format!("{what}: reading the Secret failed: {e}")),
                    Ok(None) => Err(format!("{what}: the Secret does not exist")),
                    Ok(Some(s)) => {
                        let bytes = s
                            .data
                            .as_ref()
                            .and_then(|d| d.get(&secret.key))
                            .map(|b| b.0.clone())
                            .or_else(|| {
                                s.string_data
                                    .as_ref()
                                    .and_then(|d| d.get(&secret.key))
                                    .map(|t| t.as_bytes().to_vec())
                            });
                        match bytes {
                            None => Err(format!("{what}: the Secret has no such key")),
                            Some(b) => Password::new(b).map_err(|e| format!("{what}: {e}")),
                        }
                    }
                }
            }
        };
        if let Ok(p) = &result {
            // Only successes are cached: a missing Secret is looked for again next time.
            self.passwords.insert(cache_key, Ok(p.clone()));
        }
        result
    }

    /// Stops every session as `mode` says (see [`StopMode`]); `message` goes with the
    /// Cease/Administrative Shutdown (inside a Hard Reset for a departure).
    pub async fn shutdown(&mut self, mode: StopMode, message: &str) {
        let pending: Vec<IpAddr> = self.pending.keys().copied().collect();
        for address in pending {
            self.abandon_reset(address).await;
        }
        match mode {
            StopMode::Restart => {
                // RFC 5882 §4.3.2: the BGP sessions close first (without NOTIFICATION where
                // graceful restart was offered), so the router is already helping the restart
                // when our BFD goes AdminDown; the other order makes a router reset BGP on the
                // BFD Down while Established and flush the routes (FRR 8.4 sends Hard Reset).
                self.speaker
                    .shutdown_for_restart_where_offered(message)
                    .await;
                self.bfd.shutdown().await;
            }
            StopMode::Depart(_) => {
                self.bfd.shutdown().await;
                self.speaker.shutdown_hard_reset(message).await;
            }
        }
        self.active.clear();
    }
}

/// The plan's routes as the driver takes them, equal attributes shared through `interner`.
fn advertisement_set(
    plan: &PeerPlan,
    interner: &mut HashMap<RouteAttrs, Arc<RouteAttributes>>,
) -> Arc<AdvertisementSet> {
    let set: AdvertisementSet = plan
        .routes
        .iter()
        .map(|(prefix, attrs)| {
            let shared = interner
                .entry(attrs.clone())
                .or_insert_with(|| Arc::new(to_bgp(attrs)))
                .clone();
            (*prefix, shared)
        })
        .collect();
    Arc::new(set)
}

fn to_bgp(attrs: &RouteAttrs) -> RouteAttributes {
    let link_bandwidth = attrs
        .weight
        .map(|w| LinkBandwidth::non_transitive(w.asn, w.bytes_per_second()).to_extended());
    RouteAttributes {
        extended_communities: link_bandwidth.into_iter().collect(),
        local_pref: attrs.local_pref,
        communities: attrs.communities.iter().map(|c| Community(c.0)).collect(),
        large_communities: attrs
            .large_communities
            .iter()
            .map(|l| LargeCommunity {
                global_admin: l.global_admin,
                local_data1: l.local_data1,
                local_data2: l.local_data2,
            })
            .collect(),
        ..RouteAttributes::default()
    }
}

/// Offers graceful restart as the restarting speaker (RFC 4724): the restart time, N
/// (RFC 8538) and F for every family of the session, since the node forwards Service traffic
/// without the speaker process; R when this process is a restart.
fn offer_graceful_restart(config: &mut PeerConfig, restart_time: Duration, restart_state: bool) {
    let session = &mut config.session;
    session.graceful_restart = true;
    session.restart_time = u16::try_from(restart_time.as_secs())
        .unwrap_or(u16::MAX)
        .min(ferrolb_bgp::wire::GracefulRestart::MAX_RESTART_TIME);
    session.forwarding_state = true;
    session.restart_state = restart_state;
}

/// The session's maximum-prefix limit from a peer's `max-prefix`: absent is the library's
/// default, 0 is no limit.
fn max_prefixes(configured: Option<u32>) -> Option<u32> {
    match configured {
        None => Some(ferrolb_bgp::session::DEFAULT_MAX_PREFIXES),
        Some(0) => None,
        Some(n) => Some(n),
    }
}

/// Resets the session to `address` while holding the peer's reset Lease: waits for the Lease,
/// applies the latest target configuration (again if it changed meanwhile), waits until the
/// session is Established with its routes sent plus [`RESET_SETTLE`] (bounded by the Lease
/// duration), then releases the Lease.
async fn ordered_reset(
    speaker: Speaker,
    leases: ResetLeases,
    address: IpAddr,
    target: Arc<Mutex<ResetTarget>>,
) {
    let held = leases.acquire(address).await;
    loop {
        let config = lock_target(&target).config.clone();
        match speaker.update_peer(config.clone()).await {
            Ok(true) => {
                info!(peer = %address, "session parameters changed; session reset");
                back_with_routes(&speaker, address).await;
            }
            Ok(false) => {}
            Err(e) => warn!(peer = %address, error = %e, "session not reset"),
        }
        let mut t = lock_target(&target);
        if t.config == config {
            t.done = true;
            break;
        }
    }
    if let Some(held) = held {
        leases.release(held).await;
    }
}

/// Waits (at most [`LEASE_DURATION`]) until the session is Established and every desired
/// route is sent (or cannot be sent), then [`RESET_SETTLE`] for the router to install them.
async fn back_with_routes(speaker: &Speaker, address: IpAddr) {
    let Some(mut rx) = speaker.watch(address) else {
        return;
    };
    let want = speaker.advertisements(address).map_or(0, |a| a.len());
    let back = tokio::time::timeout(
        LEASE_DURATION,
        rx.wait_for(|s| {
            let done = s.prefixes_sent.ipv4
                + s.prefixes_sent.ipv6
                + s.prefixes_unsendable.ipv4
                + s.prefixes_unsendable.ipv6;
            s.state == ferrolb_bgp::driver::State::Established && done >= want
        }),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    if back {
        tokio::time::sleep(RESET_SETTLE).await;
    } else {
        warn!(peer = %address, "session not back with its routes within the reset Lease duration");
    }
}

#[cfg(test)]
mod peer_config_tests {
    use super::{max_prefixes, offer_graceful_restart, Duration, PeerConfig};
    use ferrolb_bgp::wire::Family;

    #[test]
    fn graceful_restart_offers_time_n_and_f_for_each_family() {
        let mut c = PeerConfig::new(
            "10.255.0.1".parse().unwrap(),
            64512,
            64500,
            "10.255.0.2".parse().unwrap(),
        );
        // Without `graceful-restart`: helper only (no restart time, so nothing is kept).
        assert_eq!(c.session.graceful_restart_capability().restart_time, 0);
        offer_graceful_restart(&mut c, Duration::from_secs(120), false);
        let gr = c.session.graceful_restart_capability();
        assert_eq!(gr.restart_time, 120);
        assert!(gr.notification() && !gr.restart_state());
        for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
            assert!(gr.forwarding_preserved(family), "{family}");
        }
        offer_graceful_restart(&mut c, Duration::from_secs(4095), true);
        let gr = c.session.graceful_restart_capability();
        assert_eq!(gr.restart_time, 4095);
        assert!(gr.restart_state());
    }

    #[test]
    fn max_prefix_zero_is_no_limit_and_absent_is_the_default() {
        assert_eq!(max_prefixes(None), Some(10_000));
        assert_eq!(max_prefixes(Some(0)), None);
        assert_eq!(max_prefixes(Some(250)), Some(250));
    }
}

#[cfg(test)]
mod link_bandwidth_tests {
    use super::to_bgp;
    use crate::policy::{EndpointWeight, RouteAttrs};

    #[test]
    fn endpoint_weight_becomes_a_non_transitive_link_bandwidth() {
        let attrs = RouteAttrs {
            weight: Some(EndpointWeight {
                asn: 65001,
                endpoints: 3,
            }),
            ..RouteAttrs::default()
        };
        // 3 × 125,000 bytes/s = 375000.0 = 0x48b71b00; type 0x40, sub-type 0x04, AS 65001.
        let ext: Vec<[u8; 8]> = to_bgp(&attrs)
            .extended_communities
            .iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(ext, vec![[0x40, 0x04, 0xfd, 0xe9, 0x48, 0xb7, 0x1b, 0x00]]);
        assert!(to_bgp(&RouteAttrs::default())
            .extended_communities
            .is_empty());
    }
}
