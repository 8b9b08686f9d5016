//! The event loop: netlink events and probe results in, default-route changes out.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use futures::{FutureExt, StreamExt, TryStreamExt};
use netlink_packet_route::route::{RouteMessage, RouteProtocol};
use netlink_packet_route::AddressFamily;
use rtnetlink::{Handle, MulticastGroup, RouteMessageBuilder};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::config::ManagerConfig;
use super::plan::{plan, Action, OwnedRoute, UplinkView};
use super::probe::Prober;
use super::selector;
use super::{dhcp, ROUTE_PROTOCOL};
use crate::caps::{self, Capability};
use crate::netlink::{dump_addresses, dump_links, route_from_message};
use crate::snapshot::Route;
use crate::Error;
use ipnet::IpNet;

/// What the manager reports about itself (for logs, metrics and a speaker's status).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Status {
    /// The preferred IPv4 uplink.
    pub preferred_v4: Option<String>,
    /// The preferred IPv6 uplink.
    pub preferred_v6: Option<String>,
    /// Route changes made since start.
    pub route_changes: u64,
    /// Per uplink.
    pub uplinks: Vec<UplinkStatus>,
}

/// One uplink's state.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UplinkStatus {
    /// Uplink name.
    pub name: String,
    /// Resolved interface.
    pub interface: Option<String>,
    /// Gateway in use (configured or learned).
    pub gateway: Option<IpAddr>,
    /// Link up with carrier.
    pub link_up: bool,
    /// Probes say healthy.
    pub healthy: bool,
    /// Metric of its installed default route.
    pub metric: Option<u32>,
    /// Successful probes.
    pub probes_ok: u64,
    /// Failed probes.
    pub probes_failed: u64,
    /// Last round-trip time in milliseconds.
    pub last_rtt_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProbeTarget {
    interface: String,
    gateway: IpAddr,
}

struct ProbeResult {
    uplink: usize,
    rtt: Option<Duration>,
}

#[derive(Default)]
struct UplinkState {
    index: Option<u32>,
    interface: Option<String>,
    link_up: bool,
    learned_gateway: Option<IpAddr>,
    healthy: bool,
    fails: u32,
    oks: u32,
}

/// The uplink manager. Build it with [`UplinkManager::new`], watch it with
/// [`UplinkManager::status`], run it with [`UplinkManager::run`].
pub struct UplinkManager {
    config: ManagerConfig,
    sys_class_net: PathBuf,
    status_tx: watch::Sender<Status>,
}

impl UplinkManager {
    /// Validates the configuration.
    pub fn new(config: ManagerConfig) -> Result<Self, Error> {
        config.validate()?;
        let (status_tx, _) = watch::channel(Status::default());
        Ok(UplinkManager {
            config,
            sys_class_net: PathBuf::from("/sys/class/net"),
            status_tx,
        })
    }

    /// A receiver of the manager's status.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status_tx.subscribe()
    }

    /// Runs until `shutdown` completes; then removes the routes it installed unless
    /// `leave_routes` is set.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        // Routes need CAP_NET_ADMIN, the ICMP probes (raw sockets) CAP_NET_RAW: say so at once
        // rather than warn on every failed route change or probe socket.
        let mut needed = vec![Capability::NetAdmin];
        if self.config.uplinks.iter().any(|u| u.probe) {
            needed.push(Capability::NetRaw);
        }
        caps::require("the uplink manager", &needed)?;
        let (conn, _events_handle, mut events) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
            MulticastGroup::Ipv4Route,
            MulticastGroup::Ipv6Route,
        ])
        .map_err(|source| Error::Socket {
            what: "rtnetlink multicast",
            source,
        })?;
        tokio::spawn(conn);
        let handle = crate::netlink::connect()?;

        let (probe_tx, mut probe_rx) = mpsc::channel::<ProbeResult>(64);
        let mut targets = Vec::new();
        let mut probe_tasks = Vec::new();
        for (i, spec) in self.config.uplinks.iter().enumerate() {
            let (tx, rx) = watch::channel(None::<ProbeTarget>);
            targets.push(tx);
            if spec.probe {
                probe_tasks.push(tokio::spawn(probe_loop(
                    i,
                    spec.name.clone(),
                    rx,
                    probe_tx.clone(),
                    self.config.probe.interval,
                )));
            }
        }
        let mut rt = Runtime {
            config: self.config.clone(),
            sys_class_net: self.sys_class_net.clone(),
            handle,
            states: self
                .config
                .uplinks
                .iter()
                .map(|_| UplinkState {
                    healthy: true,
                    ..UplinkState::default()
                })
                .collect(),
            targets,
            status: Status::default(),
            status_tx: self.status_tx.clone(),
        };
        for (i, spec) in self.config.uplinks.iter().enumerate() {
            rt.status.uplinks.push(UplinkStatus {
                name: spec.name.clone(),
                healthy: true,
                ..UplinkStatus::default()
            });
            let _ = i;
        }
        info!(
            uplinks = self.config.uplinks.len(),
            protocol = ROUTE_PROTOCOL,
            interval_ms = self.config.probe.interval.as_millis() as u64,
            count = self.config.probe.count,
            "uplink manager starting"
        );
        rt.reconcile("start").await;

        let mut resync = tokio::time::interval(Duration::from_secs(30));
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resync.tick().await;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                event = events.next() => {
                    if event.is_none() {
                        warn!("netlink event stream ended; relying on periodic resync");
                        // Avoid a busy loop: wait for the next resync instead.
                        resync.tick().await;
                        rt.reconcile("periodic resync").await;
                        continue;
                    }
                    // Coalesce a burst of events into one reconcile (bounded drain).
                    for _ in 0..1024 {
                        match events.next().now_or_never() {
                            Some(Some(_)) => continue,
                            _ => break,
                        }
                    }
                    rt.reconcile("netlink event").await;
                }
                Some(result) = probe_rx.recv() => {
                    if let Some(reason) = rt.record_probe(result) {
                        rt.reconcile(&reason).await;
                    }
                }
                _ = resync.tick() => rt.reconcile("periodic resync").await,
            }
        }
        for t in probe_tasks {
            t.abort();
        }
        if self.config.leave_routes {
            info!("leaving the installed routes in place (--leave-routes)");
        } else {
            rt.remove_all().await;
        }
        Ok(())
    }
}

async fn probe_loop(
    uplink: usize,
    name: String,
    mut target_rx: watch::Receiver<Option<ProbeTarget>>,
    results: mpsc::Sender<ProbeResult>,
    interval: Duration,
) {
    let timeout = interval.mul_f64(0.8).max(Duration::from_millis(5));
    let ident = (std::process::id() as u16).wrapping_add((uplink as u16).wrapping_mul(257));
    let mut prober: Option<(ProbeTarget, Prober)> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let target = target_rx.borrow_and_update().clone();
        let Some(target) = target else {
            prober = None;
            continue;
        };
        if prober.as_ref().map(|(t, _)| t) != Some(&target) {
            match Prober::new(&target.interface, target.gateway, ident) {
                Ok(p) => prober = Some((target.clone(), p)),
                Err(e) => {
                    warn!(uplink = %name, error = %e, "cannot open the probe socket");
                    prober = None;
                }
            }
        }
        let rtt = match prober.as_mut() {
            Some((_, p)) => p.probe(timeout).await,
            None => None,
        };
        // The target may have gone (link down) while probing: then the result says nothing.
        if target_rx.borrow().as_ref() != Some(&target) {
            continue;
        }
        if results.send(ProbeResult { uplink, rtt }).await.is_err() {
            return;
        }
    }
}

struct Runtime {
    config: ManagerConfig,
    sys_class_net: PathBuf,
    handle: Handle,
    states: Vec<UplinkState>,
    targets: Vec<watch::Sender<Option<ProbeTarget>>>,
    status: Status,
    status_tx: watch::Sender<Status>,
}

impl Runtime {
    /// Updates health from one probe; returns a reason when the health changed.
    fn record_probe(&mut self, r: ProbeResult) -> Option<String> {
        let count = self.config.probe.count;
        let name = self.config.uplinks[r.uplink].name.clone();
        let st = &mut self.states[r.uplink];
        let us = &mut self.status.uplinks[r.uplink];
        match r.rtt {
            Some(rtt) => {
                us.probes_ok += 1;
                us.last_rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                st.oks += 1;
                st.fails = 0;
            }
            None => {
                us.probes_failed += 1;
                st.fails += 1;
                st.oks = 0;
            }
        }
        let reason = if st.healthy && st.fails >= count {
            st.healthy = false;
            Some(format!(
                "uplink {name}: gateway stopped answering ({} probes failed)",
                st.fails
            ))
        } else if !st.healthy && st.oks >= count {
            st.healthy = true;
            Some(format!(
                "uplink {name}: gateway answers again ({} probes ok)",
                st.oks
            ))
        } else {
            None
        };
        us.healthy = st.healthy;
        if let Some(reason) = &reason {
            info!("{reason}");
        }
        self.status_tx.send_replace(self.status.clone());
        reason
    }

    async fn default_routes(&self) -> Result<Vec<Route>, Error> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut msg = RouteMessage::default();
            msg.header.address_family = family;
            msg.header.table = 0;
            let msgs: Vec<RouteMessage> = self
                .handle
                .route()
                .get(msg)
                .execute()
                .try_collect()
                .await
                .map_err(|e| Error::netlink("dump routes", e))?;
            out.extend(
                msgs.iter().filter_map(route_from_message).filter(|r| {
                    r.is_default() && r.table == self.config.table && r.kind == "unicast"
                }),
            );
        }
        Ok(out)
    }

    async fn reconcile(&mut self, why: &str) {
        if let Err(e) = self.try_reconcile(why).await {
            warn!(error = %e, trigger = why, "reconcile failed; will retry on the next event");
        }
    }

    async fn try_reconcile(&mut self, why: &str) -> Result<(), Error> {
        let links = dump_links(&self.handle).await?;
        let routes = self.default_routes().await?;
        let mut views = Vec::new();
        // dumped only when a lease has to be checked against the interface's addresses
        let mut addresses: Option<Vec<crate::snapshot::Address>> = None;
        for (i, spec) in self.config.uplinks.iter().enumerate() {
            let st = &mut self.states[i];
            let link = selector::resolve(&spec.selector, &links, &self.sys_class_net);
            let (index, name, up) = match link {
                Some(l) => (Some(l.index), Some(l.name.clone()), l.is_up()),
                None => (None, None, false),
            };
            if st.interface != name {
                info!(uplink = %spec.name, interface = ?name, "uplink interface resolved");
            }
            if st.link_up != up && st.interface == name {
                info!(uplink = %spec.name, interface = ?name, "link {}", if up { "up" } else { "down" });
            }
            st.index = index;
            st.interface = name.clone();
            st.link_up = up;
            if spec.gateway.is_none() {
                // Learn from any default route on this interface (ours or not).
                if let Some(gw) = routes.iter().find_map(|r| {
                    r.nexthops
                        .iter()
                        .find(|n| n.oif.is_some() && n.oif == index)
                        .and_then(|n| n.gateway)
                }) {
                    if st.learned_gateway != Some(gw) {
                        info!(uplink = %spec.name, gateway = %gw, "gateway learned from the existing default route");
                    }
                    st.learned_gateway = Some(gw);
                } else if st.learned_gateway.is_none() {
                    // No route shows one (e.g. at start, after a flap removed the DHCP
                    // client's route): the client's lease does.
                    if addresses.is_none() && !self.config.dhcp_lease_dirs.is_empty() {
                        addresses = Some(dump_addresses(&self.handle).await?);
                    }
                    let on_link: Vec<IpNet> = addresses
                        .iter()
                        .flatten()
                        .filter(|a| Some(a.index) == index)
                        .map(|a| a.net)
                        .collect();
                    if let Some((gw, file)) = name.as_deref().and_then(|n| {
                        dhcp::gateway_from_leases(&self.config.dhcp_lease_dirs, n, index, &on_link)
                    }) {
                        info!(uplink = %spec.name, gateway = %gw, lease = %file.display(), "gateway learned from the DHCP lease");
                        st.learned_gateway = Some(gw);
                    }
                }
            }
            let gateway = spec.gateway.or(st.learned_gateway);
            let target = match (&name, gateway, up) {
                (Some(n), Some(g), true) => Some(ProbeTarget {
                    interface: n.clone(),
                    gateway: g,
                }),
                _ => None,
            };
            self.targets[i].send_if_modified(|t| {
                if *t != target {
                    *t = target;
                    true
                } else {
                    false
                }
            });
            views.push(UplinkView {
                name: spec.name.clone(),
                index,
                link_up: up,
                gateway,
                healthy: st.healthy || !spec.probe,
                priority: spec.priority,
            });
            let us = &mut self.status.uplinks[i];
            us.interface = name;
            us.gateway = gateway;
            us.link_up = up;
        }
        let mut preferred = [None, None];
        let mut metrics: Vec<Option<u32>> = vec![None; views.len()];
        for (fam, v4) in [(0, true), (1, false)] {
            let of_family: Vec<&Route> = routes
                .iter()
                .filter(|r| r.dst.addr().is_ipv4() == v4)
                .collect();
            let owned: Vec<OwnedRoute> = of_family
                .iter()
                .filter(|r| r.protocol == ROUTE_PROTOCOL)
                .filter_map(|r| {
                    let nh = r.nexthops.first()?;
                    Some(OwnedRoute {
                        gateway: nh.gateway?,
                        oif: nh.oif?,
                        metric: r.metric_or_zero(),
                    })
                })
                .collect();
            let foreign: Vec<u32> = of_family
                .iter()
                .filter(|r| r.protocol != ROUTE_PROTOCOL)
                .map(|r| r.metric_or_zero())
                .collect();
            let p = plan(
                &views,
                &owned,
                &foreign,
                self.config.base_metric,
                self.config.metric_step,
                v4,
            );
            if let (Some(best), Some(foreign_min)) = (p.desired.first(), foreign.iter().min()) {
                if *foreign_min <= best.route.metric && !p.actions.is_empty() {
                    warn!(
                        metric = foreign_min,
                        "a default route not owned by ferrolb has metric {foreign_min}, at or below the managed ones: it wins; give it a higher metric or remove it"
                    );
                }
            }
            for a in &p.actions {
                self.apply(a, why).await;
            }
            for d in &p.desired {
                if let Some(i) = views.iter().position(|v| v.name == d.uplink) {
                    metrics[i] = Some(d.route.metric);
                }
            }
            preferred[fam] = p.preferred().map(str::to_string);
        }
        for (i, m) in metrics.into_iter().enumerate() {
            self.status.uplinks[i].metric = m;
        }
        for (fam, label) in [(0, "IPv4"), (1, "IPv6")] {
            let old = if fam == 0 {
                &self.status.preferred_v4
            } else {
                &self.status.preferred_v6
            };
            if *old != preferred[fam] {
                info!(
                    family = label,
                    from = old.as_deref().unwrap_or("none"),
                    to = preferred[fam].as_deref().unwrap_or("none"),
                    trigger = why,
                    "preferred uplink changed"
                );
            }
        }
        let [v4, v6] = preferred;
        self.status.preferred_v4 = v4;
        self.status.preferred_v6 = v6;
        self.status_tx.send_replace(self.status.clone());
        Ok(())
    }

    fn message(&self, r: &OwnedRoute) -> RouteMessage {
        let proto = RouteProtocol::from(ROUTE_PROTOCOL);
        match r.gateway {
            IpAddr::V4(gw) => RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(r.oif)
                .priority(r.metric)
                .table_id(self.config.table)
                .protocol(proto)
                .build(),
            IpAddr::V6(gw) => RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(r.oif)
                .priority(r.metric)
                .table_id(self.config.table)
                .protocol(proto)
                .build(),
        }
    }

    fn ifname(&self, oif: u32) -> String {
        self.states
            .iter()
            .find(|s| s.index == Some(oif))
            .and_then(|s| s.interface.clone())
            .unwrap_or_else(|| format!("if{oif}"))
    }

    async fn apply(&mut self, action: &Action, why: &str) {
        match action {
            Action::Add(d) => {
                let r = &d.route;
                match self.handle.route().add(self.message(r)).execute().await {
                    Ok(()) => {
                        self.status.route_changes += 1;
                        info!(
                            uplink = %d.uplink,
                            trigger = why,
                            "added default via {} dev {} metric {} ({})",
                            r.gateway,
                            self.ifname(r.oif),
                            r.metric,
                            d.reason
                        );
                    }
                    Err(e) => warn!(
                        uplink = %d.uplink,
                        error = %e,
                        "cannot add default via {} dev {} metric {}",
                        r.gateway,
                        self.ifname(r.oif),
                        r.metric
                    ),
                }
            }
            Action::Delete { route, reason } => {
                match self.handle.route().del(self.message(route)).execute().await {
                    Ok(()) => {
                        self.status.route_changes += 1;
                        info!(
                            trigger = why,
                            "removed default via {} dev {} metric {} ({reason})",
                            route.gateway,
                            self.ifname(route.oif),
                            route.metric
                        );
                    }
                    // Already gone (the kernel flushed it with its link): nothing to do.
                    Err(e) => debug!(error = %e, "delete of an owned route failed"),
                }
            }
        }
    }

    async fn remove_all(&mut self) {
        let routes = match self.default_routes().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "cannot list routes to remove on exit");
                return;
            }
        };
        for r in routes.iter().filter(|r| r.protocol == ROUTE_PROTOCOL) {
            let Some(nh) = r.nexthops.first() else {
                continue;
            };
            let (Some(gateway), Some(oif)) = (nh.gateway, nh.oif) else {
                continue;
            };
            let owned = OwnedRoute {
                gateway,
                oif,
                metric: r.metric_or_zero(),
            };
            self.apply(
                &Action::Delete {
                    route: owned,
                    reason: "shutting down".into(),
                },
                "exit",
            )
            .await;
        }
    }
}
