//! Watches on the Kubernetes API (Services, EndpointSlices, this Node, the ConfigMap) and the
//! config file, turned into [`Change`]s on one channel.

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use ferrolb_view::{EndpointSliceView, NodeView, ServiceView};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use ferrolb_view::metallb_source::{self, WatchStart};

use crate::options::ConfigSource;
use crate::world::{Change, ConfigUpdate, Update};

/// Starts every watch; changes go to `tx` until `stop` turns true.
pub fn spawn_all(
    client: &Client,
    node_name: &str,
    source: &ConfigSource,
    poll_interval: Duration,
    tx: mpsc::Sender<Change>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(watch_kind(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
        |s: &Service| ServiceView::from_service(s),
        Change::Services,
        tx.clone(),
        stop.clone(),
        "services",
    )));
    tasks.push(tokio::spawn(watch_kind(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default(),
        EndpointSliceView::from_slice,
        Change::Slices,
        tx.clone(),
        stop.clone(),
        "endpointslices",
    )));
    tasks.push(tokio::spawn(watch_kind(
        Api::<Node>::all(client.clone()),
        watcher::Config::default().fields(&format!("metadata.name={node_name}")),
        NodeView::from_node,
        Change::Node,
        tx.clone(),
        stop.clone(),
        "node",
    )));
    match source {
        ConfigSource::ConfigMap { namespace, name } => {
            tasks.push(tokio::spawn(watch_config_map(
                client.clone(),
                namespace.clone(),
                name.clone(),
                tx,
                stop,
            )));
        }
        ConfigSource::Resources { namespace } => {
            let (res_tx, mut res_rx) = mpsc::channel(16);
            tasks.push(tokio::spawn(metallb_source::watch_resources(
                client.clone(),
                namespace.clone(),
                WatchStart::All,
                from_objects(namespace.clone()),
                res_tx,
                stop,
            )));
            tasks.push(tokio::spawn(async move {
                while let Some(seen) = res_rx.recv().await {
                    if tx.send(Change::Config(seen.update)).await.is_err() {
                        return;
                    }
                }
            }));
        }
        ConfigSource::Auto { namespace, name } => {
            tasks.extend(spawn_auto(
                client,
                namespace,
                name,
                source.to_string(),
                tx,
                stop,
            ));
        }
        ConfigSource::File(path) => {
            tasks.push(tokio::spawn(poll_file(
                path.clone(),
                poll_interval,
                tx,
                stop,
            )));
        }
    }
    tasks
}

/// Parses the `config` key of a ConfigMap.
/// The ConfigMap `namespace/name`, watched: each version becomes a `Change::Config`.
fn watch_config_map(
    client: Client,
    namespace: String,
    name: String,
    tx: mpsc::Sender<Change>,
    stop: watch::Receiver<bool>,
) -> impl std::future::Future<Output = ()> {
    let what = format!("ConfigMap {namespace}/{name}");
    watch_kind(
        Api::<ConfigMap>::namespaced(client, &namespace),
        watcher::Config::default().fields(&format!("metadata.name={name}")),
        config_update,
        move |u: Update<ConfigUpdate>| {
            Change::Config(match u {
                Update::Reset(mut all) => all
                    .pop()
                    .unwrap_or_else(|| ConfigUpdate::Missing(format!("{what} does not exist"))),
                Update::Apply(c) => c,
                Update::Delete(_) => ConfigUpdate::Missing(format!(
                    "{what} was deleted; keeping the last good configuration"
                )),
            })
        },
        tx,
        stop,
        "configmap",
    )
}

/// `auto`: the ConfigMap and the metallb.io objects both watched, the chosen one forwarded.
fn spawn_auto(
    client: &Client,
    namespace: &str,
    name: &str,
    describe: String,
    tx: mpsc::Sender<Change>,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (cm_changes_tx, mut cm_changes_rx) = mpsc::channel::<Change>(16);
    let (cm_tx, cm_rx) = mpsc::channel(16);
    let (res_tx, res_rx) = mpsc::channel(16);
    let (out_tx, mut out_rx) = mpsc::channel(16);
    vec![
        tokio::spawn(watch_config_map(
            client.clone(),
            namespace.to_string(),
            name.to_string(),
            cm_changes_tx,
            stop.clone(),
        )),
        tokio::spawn(async move {
            while let Some(change) = cm_changes_rx.recv().await {
                if let Change::Config(update) = change {
                    if cm_tx.send(update).await.is_err() {
                        return;
                    }
                }
            }
        }),
        tokio::spawn(metallb_source::watch_resources(
            client.clone(),
            namespace.to_string(),
            WatchStart::PoolsFirst,
            from_objects(namespace.to_string()),
            res_tx,
            stop.clone(),
        )),
        tokio::spawn(metallb_source::choose_auto(
            cm_rx, res_rx, out_tx, describe, stop,
        )),
        tokio::spawn(async move {
            while let Some(update) = out_rx.recv().await {
                if tx.send(Change::Config(update)).await.is_err() {
                    return;
                }
            }
        }),
    ]
}

/// The update for the metallb.io objects of `namespace` (all of them at once).
fn from_objects(namespace: String) -> impl Fn(&[serde_json::Value]) -> ConfigUpdate {
    move |objects| {
        if objects.is_empty() {
            return ConfigUpdate::Missing(format!(
                "no metallb.io objects in namespace {namespace}"
            ));
        }
        match ferrolb_config::resources::config_from_objects(objects) {
            Ok(config) => ConfigUpdate::Valid(config),
            Err(errors) => {
                let errors = errors.to_string();
                warn!(namespace = %namespace, %errors, "metallb.io objects rejected; keeping the last good configuration");
                ConfigUpdate::Invalid(format!("metallb.io objects in {namespace}: {errors}"))
            }
        }
    }
}

pub fn config_update(cm: &ConfigMap) -> ConfigUpdate {
    let ns = cm.metadata.namespace.clone().unwrap_or_default();
    let name = cm.metadata.name.clone().unwrap_or_default();
    match ferrolb_view::config_text_from_configmap(cm, ferrolb_config::CONFIGMAP_KEY) {
        Some(text) => from_text(text, &format!("ConfigMap {ns}/{name}")),
        None => ConfigUpdate::Missing(format!(
            "ConfigMap {ns}/{name} has no key {:?} in data",
            ferrolb_config::CONFIGMAP_KEY
        )),
    }
}

fn from_text(text: &str, origin: &str) -> ConfigUpdate {
    // Also MetalLB's metallb.io objects (a `--config-file` written for `kubectl apply -f`).
    match ferrolb_config::resources::parse_either(text) {
        Ok(config) => ConfigUpdate::Valid(config),
        Err(errors) => {
            let errors = errors.to_string();
            warn!(origin, %errors, "configuration rejected; keeping the last good one");
            ConfigUpdate::Invalid(format!("{origin}: {errors}"))
        }
    }
}

async fn watch_kind<K, V>(
    api: Api<K>,
    config: watcher::Config,
    view: impl Fn(&K) -> V + Send + 'static,
    wrap: impl Fn(Update<V>) -> Change + Send + 'static,
    tx: mpsc::Sender<Change>,
    mut stop: watch::Receiver<bool>,
    what: &'static str,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    V: Send + 'static,
{
    let mut stream = watcher(api, config).default_backoff().boxed();
    let mut buffer: Vec<V> = Vec::new();
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = stop.changed() => return,
        };
        let Some(event) = event else { return };
        let update = match event {
            Ok(watcher::Event::Init) => {
                buffer.clear();
                None
            }
            Ok(watcher::Event::InitApply(obj)) => {
                buffer.push(view(&obj));
                None
            }
            Ok(watcher::Event::InitDone) => {
                debug!(what, count = buffer.len(), "listed");
                Some(Update::Reset(std::mem::take(&mut buffer)))
            }
            Ok(watcher::Event::Apply(obj)) => Some(Update::Apply(view(&obj))),
            Ok(watcher::Event::Delete(obj)) => Some(Update::Delete(view(&obj))),
            Err(err) => {
                warn!(what, error = %err, "watch failed; retrying");
                None
            }
        };
        if let Some(update) = update {
            if tx.send(wrap(update)).await.is_err() {
                return;
            }
        }
    }
}

async fn poll_file(
    path: PathBuf,
    interval: Duration,
    tx: mpsc::Sender<Change>,
    mut stop: watch::Receiver<bool>,
) {
    let origin = format!("file {}", path.display());
    let mut last: Option<Result<String, String>> = None;
    loop {
        let current = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| format!("{origin}: {e}"));
        if last.as_ref() != Some(&current) {
            let update = match &current {
                Ok(text) => from_text(text, &origin),
                Err(e) => ConfigUpdate::Missing(e.clone()),
            };
            if tx.send(Change::Config(update)).await.is_err() {
                return;
            }
            last = Some(current);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
