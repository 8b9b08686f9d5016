//! An auditor independent of the controller: its own list+watch of every Service, applied in
//! resourceVersion order, checking at every event that
//! (a) no address is shown by two Services that may not share it,
//! (b) every shown address is inside the pools,
//! (c) a Service that had an address never shows another one while it stays `LoadBalancer`,
//! (d) an address is not shown by a new holder before the old holder's clear or deletion is visible
//!     (the old holder is a Service that left `LoadBalancer` but still shows it).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};

/// The User-Agent of the auditor's client (fault rules spare `test-` clients).
pub const AUDIT_AGENT: &str = "test-audit";

/// Which rule an event broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// (a) one address on two Services that may not share it.
    Duplicate,
    /// (b) an address outside the pools.
    OutsidePools,
    /// (c) an address change on a Service that already had one.
    Moved,
    /// (d) an address reused before its holder's clear or deletion was visible.
    ReusedBeforeRelease,
}

/// One violation, with the resourceVersion of the event that showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// resourceVersion of the event.
    pub rv: u64,
    /// What was seen.
    pub what: String,
    /// When the auditor saw it.
    pub at: Instant,
}

/// What the auditor knows about one Service object (by uid).
#[derive(Debug, Clone, Default)]
struct Seen {
    key: String,
    load_balancer: bool,
    share: Option<String>,
    ips: BTreeSet<IpAddr>,
    /// The address it had while `LoadBalancer` (kept across a clear; reset when it leaves the type).
    had: Option<BTreeSet<IpAddr>>,
}

/// Event counts for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Watch events applied.
    pub events: u64,
    /// Times a Service went from no address to one.
    pub allocations: u64,
    /// Times a Service went from an address to none while it still existed.
    pub clears: u64,
    /// Relists after a 410 (events between the last one seen and the list are not observed).
    pub gaps: u64,
    /// Re-watches after a stream ended (no events lost: resumed from the last version).
    pub rewatches: u64,
    /// Events whose resourceVersion was not after the previous one (must stay 0).
    pub out_of_order: u64,
}

/// The checking state; feed it with [`Auditor::apply`] and [`Auditor::relist`].
#[derive(Debug, Default)]
pub struct Auditor {
    pools: Vec<IpNet>,
    services: BTreeMap<String, Seen>,
    last_rv: u64,
    /// Everything found so far.
    pub violations: Vec<Violation>,
    /// Counters.
    pub stats: Stats,
}

/// A watch event as the auditor needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// ADDED or MODIFIED.
    Upsert,
    /// DELETED.
    Deleted,
}

fn rv_of(svc: &Service) -> u64 {
    svc.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn seen_of(svc: &Service) -> (String, Seen) {
    let meta = &svc.metadata;
    let key = format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    );
    let uid = meta.uid.clone().unwrap_or_else(|| key.clone());
    // Parsed here rather than through ferrolb_view, so that the auditor shares no code with the
    // controller it checks.
    let share = meta.annotations.as_ref().and_then(|a| {
        a.get("ferrolb.io/allow-shared-ip")
            .or_else(|| a.get("metallb.universe.tf/allow-shared-ip"))
            .cloned()
    });
    let ips = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect();
    let load_balancer = svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    (
        uid,
        Seen {
            key,
            load_balancer,
            share,
            ips,
            had: None,
        },
    )
}

impl Auditor {
    /// An auditor for these pools.
    pub fn new(pools: Vec<IpNet>) -> Self {
        Auditor {
            pools,
            ..Auditor::default()
        }
    }

    fn violate(&mut self, rule: Rule, rv: u64, what: String) {
        self.violations.push(Violation {
            rule,
            rv,
            what,
            at: Instant::now(),
        });
    }

    /// Apply one watch event (in stream order; each must carry a newer resourceVersion).
    pub fn apply(&mut self, change: Change, svc: &Service) {
        let rv = rv_of(svc);
        if rv <= self.last_rv {
            self.stats.out_of_order += 1;
        }
        self.last_rv = rv;
        self.stats.events += 1;
        let (uid, mut now) = seen_of(svc);
        let before = self.services.remove(&uid);
        if change == Change::Deleted {
            return;
        }
        let had_ips = before.as_ref().is_some_and(|b| !b.ips.is_empty());
        if !had_ips && !now.ips.is_empty() {
            self.stats.allocations += 1;
        }
        if had_ips && now.ips.is_empty() {
            self.stats.clears += 1;
        }
        now.had = before.and_then(|b| b.had).filter(|_| now.load_balancer);
        self.check(rv, &uid, &mut now);
        self.services.insert(uid, now);
    }

    fn check(&mut self, rv: u64, uid: &str, now: &mut Seen) {
        for ip in now.ips.clone() {
            if !self.pools.iter().any(|p| p.contains(&ip)) {
                self.violate(
                    Rule::OutsidePools,
                    rv,
                    format!("{} shows {ip}, outside the pools", now.key),
                );
            }
            let others: Vec<(bool, String)> = self
                .services
                .iter()
                .filter(|(u, s)| u.as_str() != uid && s.ips.contains(&ip))
                .filter(|(_, s)| {
                    !(s.load_balancer
                        && now.load_balancer
                        && s.share.is_some()
                        && s.share == now.share)
                })
                .map(|(_, s)| (s.load_balancer, s.key.clone()))
                .collect();
            for (other_lb, other) in others {
                let (rule, how) = if other_lb {
                    (Rule::Duplicate, "LoadBalancer")
                } else {
                    (
                        Rule::ReusedBeforeRelease,
                        "no longer LoadBalancer, not yet cleared",
                    )
                };
                self.violate(
                    rule,
                    rv,
                    format!("{} shows {ip}, still shown by {other} ({how})", now.key),
                );
            }
        }
        if now.load_balancer && !now.ips.is_empty() {
            match &now.had {
                Some(had) if had != &now.ips => self.violate(
                    Rule::Moved,
                    rv,
                    format!("{} moved from {had:?} to {:?}", now.key, now.ips),
                ),
                _ => now.had = Some(now.ips.clone()),
            }
        }
    }

    /// Replace the state with a fresh list at `rv` (after a 410: changes in between were not seen,
    /// so (c) restarts from the listed addresses: a flip to ClusterIP and back may have happened).
    pub fn relist(&mut self, items: &[Service], rv: u64) {
        self.services.clear();
        self.last_rv = rv;
        for svc in items {
            let (uid, mut now) = seen_of(svc);
            self.check(rv, &uid, &mut now);
            self.services.insert(uid, now);
        }
    }

    /// The last resourceVersion applied.
    pub fn resource_version(&self) -> u64 {
        self.last_rv
    }

    /// Services shown with an address, by `namespace/name` (for the final-state check).
    pub fn shown(&self) -> BTreeMap<String, (bool, BTreeSet<IpAddr>)> {
        self.services
            .values()
            .map(|s| (s.key.clone(), (s.load_balancer, s.ips.clone())))
            .collect()
    }
}

/// A running auditor: its own kube client (User-Agent [`AUDIT_AGENT`]) list+watching every Service.
pub struct Running {
    /// The shared state (read it while it runs).
    pub state: Arc<Mutex<Auditor>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stop watching and return the final state.
    pub async fn stop(self) -> Auditor {
        self.task.abort();
        let _ = self.task.await;
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *guard)
    }
}

/// Start auditing the API at `url` against `pools`.
pub async fn start(url: &str, pools: Vec<IpNet>) -> Running {
    let mut config = kube::Config::new(url.parse().expect("server URL"));
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(AUDIT_AGENT),
    ));
    let api: Api<Service> = Api::all(kube::Client::try_from(config).expect("auditor client"));
    let state = Arc::new(Mutex::new(Auditor::new(pools)));
    relist(&api, &state).await.expect("auditor's first list");
    let task = tokio::spawn(watch_loop(api, state.clone()));
    Running { state, task }
}

async fn relist(api: &Api<Service>, state: &Mutex<Auditor>) -> Result<(), kube::Error> {
    let list = api.list(&ListParams::default()).await?;
    let rv = list
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .relist(&list.items, rv);
    Ok(())
}

async fn watch_loop(api: Api<Service>, state: Arc<Mutex<Auditor>>) {
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let from = lock().resource_version().to_string();
        let stream = match api.watch(&WatchParams::default().timeout(290), &from).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "auditor watch failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut stream = stream.boxed();
        let mut expired = false;
        while let Ok(Some(event)) = stream.try_next().await {
            match event {
                WatchEvent::Added(s) | WatchEvent::Modified(s) => lock().apply(Change::Upsert, &s),
                WatchEvent::Deleted(s) => lock().apply(Change::Deleted, &s),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(e) => {
                    expired = e.code == 410;
                    break;
                }
            }
        }
        if expired {
            lock().stats.gaps += 1;
            while relist(&api, &state).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        } else {
            lock().stats.rewatches += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(name: &str, uid: &str, rv: u64, lb: bool, ips: &[&str]) -> Service {
        let ingress: Vec<_> = ips.iter().map(|ip| json!({ "ip": ip })).collect();
        serde_json::from_value(json!({
            "metadata": { "namespace": "ns", "name": name, "uid": uid, "resourceVersion": rv.to_string() },
            "spec": { "type": if lb { "LoadBalancer" } else { "ClusterIP" } },
            "status": { "loadBalancer": { "ingress": ingress } },
        }))
        .expect("service")
    }

    fn auditor() -> Auditor {
        Auditor::new(vec!["198.51.100.0/27".parse().expect("pool")])
    }

    fn rules(a: &Auditor) -> Vec<Rule> {
        a.violations.iter().map(|v| v.rule).collect()
    }

    #[test]
    fn a_clean_history_has_no_violation() {
        let mut a = auditor();
        let x = "198.51.100.1";
        a.apply(Change::Upsert, &svc("a", "u1", 1, true, &[]));
        a.apply(Change::Upsert, &svc("a", "u1", 2, true, &[x]));
        a.apply(Change::Upsert, &svc("a", "u1", 3, false, &[x])); // flipped, status not yet cleared
        a.apply(Change::Upsert, &svc("a", "u1", 4, false, &[])); // cleared
        a.apply(Change::Upsert, &svc("b", "u2", 5, true, &[x])); // reuse after the clear: fine
        a.apply(Change::Deleted, &svc("b", "u2", 6, true, &[x]));
        a.apply(Change::Upsert, &svc("b", "u3", 7, true, &[x])); // same name, new object, after delete
        a.apply(Change::Upsert, &svc("a", "u1", 8, true, &["198.51.100.2"])); // back to LB: new address ok
        assert_eq!(rules(&a), []);
        assert_eq!((a.stats.allocations, a.stats.clears), (4, 1));
    }

    #[test]
    fn two_load_balancers_on_one_address_is_a_duplicate() {
        let mut a = auditor();
        a.apply(Change::Upsert, &svc("a", "u1", 1, true, &["198.51.100.1"]));
        a.apply(Change::Upsert, &svc("b", "u2", 2, true, &["198.51.100.1"]));
        assert_eq!(rules(&a), [Rule::Duplicate]);
        assert_eq!(a.violations[0].rv, 2);
    }

    #[test]
    fn an_address_outside_the_pools_is_reported() {
        let mut a = auditor();
        a.apply(
            Change::Upsert,
            &svc("a", "u1", 1, true, &["198.51.100.200"]),
        );
        assert_eq!(rules(&a), [Rule::OutsidePools]);
    }

    #[test]
    fn a_changed_address_is_a_move_even_through_a_clear() {
        let mut a = auditor();
        a.apply(Change::Upsert, &svc("a", "u1", 1, true, &["198.51.100.1"]));
        a.apply(Change::Upsert, &svc("a", "u1", 2, true, &["198.51.100.2"]));
        a.apply(Change::Upsert, &svc("a", "u1", 3, true, &[]));
        a.apply(Change::Upsert, &svc("a", "u1", 4, true, &["198.51.100.3"]));
        assert_eq!(rules(&a), [Rule::Moved, Rule::Moved]);
    }

    #[test]
    fn reuse_while_a_converted_service_still_shows_it() {
        let mut a = auditor();
        a.apply(Change::Upsert, &svc("a", "u1", 1, true, &["198.51.100.1"]));
        a.apply(Change::Upsert, &svc("a", "u1", 2, false, &["198.51.100.1"]));
        a.apply(Change::Upsert, &svc("b", "u2", 3, true, &["198.51.100.1"]));
        assert_eq!(rules(&a), [Rule::ReusedBeforeRelease]);
    }

    #[test]
    fn services_with_one_sharing_key_may_share() {
        let mut a = auditor();
        let shared = |name: &str, uid: &str, rv: u64| {
            let mut s = svc(name, uid, rv, true, &["198.51.100.1"]);
            s.metadata.annotations =
                Some([("ferrolb.io/allow-shared-ip".to_string(), "k".to_string())].into());
            s
        };
        a.apply(Change::Upsert, &shared("a", "u1", 1));
        a.apply(Change::Upsert, &shared("b", "u2", 2));
        assert_eq!(rules(&a), []);
    }

    #[test]
    fn a_relist_checks_duplicates_and_moves_after_it() {
        let mut a = auditor();
        a.apply(Change::Upsert, &svc("a", "u1", 1, true, &["198.51.100.1"]));
        a.relist(
            &[
                svc("a", "u1", 9, true, &["198.51.100.2"]),
                svc("b", "u2", 9, true, &["198.51.100.2"]),
            ],
            9,
        );
        assert_eq!(rules(&a), [Rule::Duplicate]);
        assert_eq!(a.resource_version(), 9);
        a.apply(Change::Upsert, &svc("a", "u1", 10, true, &["198.51.100.3"]));
        assert_eq!(rules(&a), [Rule::Duplicate, Rule::Moved]);
    }
}
