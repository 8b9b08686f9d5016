//! MetalLB's custom resources (`metallb.io`: IPAddressPool, BGPAdvertisement, BGPPeer, Community,
//! BFDProfile, L2Advertisement) in one namespace, watched live, for the controller and the
//! speaker alike: every change of the objects becomes one update (each side turns the objects into
//! its configuration update, e.g. with `ferrolb_config::resources::config_from_objects`); and the
//! `auto` choice between them and the ConfigMap: the resources when any IPAddressPool exists in
//! the namespace, else the ConfigMap, decided again whenever that changes.

use std::collections::{BTreeMap, BTreeSet};

use ferrolb_config::resources::KINDS;
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

/// What the resources watcher saw: the update made from the objects, and how many
/// IPAddressPools exist.
#[derive(Clone, Debug)]
pub struct ResourcesSeen<U> {
    /// The update built from every object (or saying there is none).
    pub update: U,
    /// IPAddressPool objects in the namespace (`auto` uses the resources when > 0).
    pub pools: usize,
}

/// The plural of IPAddressPool.
const POOLS: &str = "ipaddresspools";

/// One watched resource per plural (the first, preferred, version listed in `KINDS`).
fn watched() -> Vec<ApiResource> {
    let mut seen = BTreeSet::new();
    KINDS
        .iter()
        .filter(|k| seen.insert(k.plural))
        .map(crate::api_kinds::metallb_resource)
        .collect()
}

/// Which metallb.io kinds [`watch_resources`] watches from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// Every kind at once (`resources`: the objects are the configuration).
    All,
    /// Only IPAddressPools until one exists, then every kind (`auto`: while no pool exists
    /// the ConfigMap is in force and the other kinds are not needed; this saves a node five
    /// watches, retried forever where the CRDs are not installed).
    PoolsFirst,
}

/// Watches the metallb.io kinds in `namespace` (which ones from the start: `start`); after all
/// watched kinds have been listed (or failed, e.g. the CRDs are not installed: no objects of that
/// kind), sends `to_update(all objects)` on every change of them.
pub async fn watch_resources<U>(
    client: Client,
    namespace: String,
    start: WatchStart,
    to_update: impl Fn(&[Value]) -> U,
    tx: mpsc::Sender<ResourcesSeen<U>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let resources = watched();
    let stream_of = |ar: &ApiResource| {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, ar);
        let plural = ar.plural.clone();
        watcher(api, watcher::Config::default())
            .default_backoff()
            .map(move |e| (plural.clone(), e))
            .boxed()
    };
    let first = |ar: &&ApiResource| start == WatchStart::All || ar.plural == POOLS;
    let mut events = futures::stream::select_all(resources.iter().filter(first).map(stream_of));
    let mut started = events.len();
    let mut objects: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut initial: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let mut failing: BTreeSet<String> = BTreeSet::new();
    let mut last_sent: Option<String> = None;
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            _ = shutdown.changed() => return,
        };
        let Some((plural, event)) = event else { return };
        let name_of = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
        let as_value = |o: &DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
        match event {
            Ok(watcher::Event::Init) => {
                initial.insert(plural.clone(), Vec::new());
            }
            Ok(watcher::Event::InitApply(o)) => {
                initial
                    .entry(plural.clone())
                    .or_default()
                    .push((name_of(&o), as_value(&o)));
            }
            Ok(watcher::Event::InitDone) => {
                objects.retain(|(p, _), _| *p != plural);
                for (name, v) in initial.remove(&plural).unwrap_or_default() {
                    objects.insert((plural.clone(), name), v);
                }
                failing.remove(&plural);
                listed.insert(plural.clone());
            }
            Ok(watcher::Event::Apply(o)) => {
                objects.insert((plural.clone(), name_of(&o)), as_value(&o));
            }
            Ok(watcher::Event::Delete(o)) => {
                objects.remove(&(plural.clone(), name_of(&o)));
            }
            Err(e) => {
                if failing.insert(plural.clone()) {
                    warn!(error = %e, kind = %plural, %namespace, "watching metallb.io objects failed (CRD not installed?); retrying");
                } else {
                    debug!(error = %e, kind = %plural, "watching metallb.io objects failed again");
                }
                // Not listable: counts as listed with no objects, so `auto` can decide.
                listed.insert(plural.clone());
            }
        }
        let pools = objects.keys().filter(|(p, _)| p == POOLS).count();
        if started < resources.len() && pools > 0 {
            debug!(%namespace, "an IPAddressPool exists: watching the other metallb.io kinds");
            for ar in resources.iter().filter(|ar| !first(ar)) {
                events.push(stream_of(ar));
            }
            started = resources.len();
        }
        if listed.len() < started {
            continue;
        }
        let values: Vec<Value> = objects.values().cloned().collect();
        // Only send when something changed (a relist of the same objects is not news).
        let fingerprint = serde_json::to_string(&values).unwrap_or_default();
        if last_sent.as_deref() == Some(fingerprint.as_str()) {
            continue;
        }
        last_sent = Some(fingerprint);
        let update = to_update(&values);
        if tx.send(ResourcesSeen { update, pools }).await.is_err() {
            return;
        }
    }
}

/// Which source `auto` uses now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chosen {
    ConfigMap,
    Resources,
}

/// `auto`: forwards the ConfigMap's updates while no IPAddressPool exists in the namespace, the
/// resources' updates while one does; logs every change of source and re-sends the chosen
/// source's latest update then.
pub async fn choose_auto<U: Clone>(
    mut config_map: mpsc::Receiver<U>,
    mut resources: mpsc::Receiver<ResourcesSeen<U>>,
    tx: mpsc::Sender<U>,
    describe: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last_cm: Option<U> = None;
    let mut last_res: Option<ResourcesSeen<U>> = None;
    let mut chosen: Option<Chosen> = None;
    loop {
        let from_resources = tokio::select! {
            u = config_map.recv() => match u {
                Some(u) => { last_cm = Some(u); false }
                None => return,
            },
            r = resources.recv() => match r {
                Some(r) => { last_res = Some(r); true }
                None => return,
            },
            _ = shutdown.changed() => return,
        };
        // Decide only once the resources have been listed (their absence is an answer too).
        let Some(res) = &last_res else { continue };
        let want = if res.pools > 0 {
            Chosen::Resources
        } else {
            Chosen::ConfigMap
        };
        let forward = if chosen != Some(want) {
            match want {
                Chosen::Resources => {
                    info!(source = %describe, pools = res.pools, "configuration source: metallb.io custom resources (IPAddressPool objects exist)")
                }
                Chosen::ConfigMap => {
                    info!(source = %describe, "configuration source: the ConfigMap (no IPAddressPool object)")
                }
            }
            chosen = Some(want);
            match want {
                Chosen::Resources => Some(res.update.clone()),
                Chosen::ConfigMap => last_cm.clone(),
            }
        } else if from_resources == (want == Chosen::Resources) {
            match want {
                Chosen::Resources => Some(res.update.clone()),
                Chosen::ConfigMap => last_cm.clone(),
            }
        } else {
            None
        };
        if let Some(update) = forward {
            if tx.send(update).await.is_err() {
                return;
            }
        }
    }
}
