//! Where the configuration comes from: a watched ConfigMap or a file, delivered as
//! [`ConfigUpdate`]s on a channel. Parsing happens here; deciding whether to apply happens in the
//! reconciler (the allocator may still reject a valid config).

use std::path::PathBuf;
use std::time::Duration;

use ferrolb_config::{resources::parse_either, Config};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::sync::{mpsc, watch};
use tracing::warn;

use crate::events::EventTarget;
use crate::options::ConfigSource;
use ferrolb_view::metallb_source::{self, WatchStart};

/// What the config source saw.
#[derive(Clone, Debug)]
pub enum ConfigUpdate {
    /// A valid configuration.
    Valid {
        /// The parsed configuration.
        config: Config,
        /// The ConfigMap it came from (for Events), if any.
        target: Option<EventTarget>,
    },
    /// A document with errors (every error, one per line, each naming the field and value).
    Invalid {
        /// The errors as text.
        errors: String,
        /// The ConfigMap it came from (for Events), if any.
        target: Option<EventTarget>,
    },
    /// The ConfigMap or file does not exist (or has no `config` key).
    Missing {
        /// What is missing, for the log.
        reason: String,
    },
}

/// Spawns the task that watches `source` and sends updates on the returned channel until
/// `shutdown` turns true.
pub fn spawn(
    client: Client,
    source: ConfigSource,
    poll_interval: Duration,
    shutdown: watch::Receiver<bool>,
) -> (mpsc::Receiver<ConfigUpdate>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(16);
    let task = match source {
        ConfigSource::ConfigMap { namespace, name } => {
            tokio::spawn(watch_config_map(client, namespace, name, tx, shutdown))
        }
        ConfigSource::File(path) => tokio::spawn(poll_file(path, poll_interval, tx, shutdown)),
        ConfigSource::Resources { namespace } => tokio::spawn(async move {
            let (res_tx, mut res_rx) = mpsc::channel(16);
            let to_update = update_from_objects(namespace.clone());
            let watch = metallb_source::watch_resources(
                client,
                namespace,
                WatchStart::All,
                to_update,
                res_tx,
                shutdown,
            );
            let forward = async move {
                while let Some(seen) = res_rx.recv().await {
                    if tx.send(seen.update).await.is_err() {
                        return;
                    }
                }
            };
            tokio::join!(watch, forward);
        }),
        ConfigSource::Auto { namespace, name } => {
            let describe = ConfigSource::Auto {
                namespace: namespace.clone(),
                name: name.clone(),
            }
            .to_string();
            tokio::spawn(async move {
                let (cm_tx, cm_rx) = mpsc::channel(16);
                let (res_tx, res_rx) = mpsc::channel(16);
                tokio::join!(
                    watch_config_map(
                        client.clone(),
                        namespace.clone(),
                        name,
                        cm_tx,
                        shutdown.clone()
                    ),
                    metallb_source::watch_resources(
                        client,
                        namespace.clone(),
                        WatchStart::PoolsFirst,
                        update_from_objects(namespace),
                        res_tx,
                        shutdown.clone()
                    ),
                    metallb_source::choose_auto(cm_rx, res_rx, tx, describe, shutdown),
                );
            })
        }
    };
    (rx, task)
}

/// Turns a ConfigMap into an update (the `config` key, MetalLB's and FerroLB's).
pub fn update_from_config_map(cm: &ConfigMap) -> ConfigUpdate {
    let namespace = cm.metadata.namespace.clone().unwrap_or_default();
    let name = cm.metadata.name.clone().unwrap_or_default();
    let target = Some(EventTarget::config_map(
        &namespace,
        &name,
        cm.metadata.uid.clone(),
    ));
    match ferrolb_view::config_text_from_configmap(cm, ferrolb_config::CONFIGMAP_KEY) {
        Some(text) => update_from_text(text, target),
        None => ConfigUpdate::Missing {
            reason: format!(
                "ConfigMap {namespace}/{name} has no key {:?} in data",
                ferrolb_config::CONFIGMAP_KEY
            ),
        },
    }
}

/// The update for the metallb.io objects of `namespace` (all of them at once).
pub fn update_from_objects(namespace: String) -> impl Fn(&[serde_json::Value]) -> ConfigUpdate {
    move |objects| {
        if objects.is_empty() {
            return ConfigUpdate::Missing {
                reason: format!("no metallb.io objects in namespace {namespace}"),
            };
        }
        match ferrolb_config::resources::config_from_objects(objects) {
            Ok(config) => ConfigUpdate::Valid {
                config,
                target: None,
            },
            Err(errors) => ConfigUpdate::Invalid {
                target: errors
                    .errors()
                    .first()
                    .and_then(|e| object_named_by(&e.path, objects)),
                errors: errors.to_string(),
            },
        }
    }
}

/// The object an error path such as `IPAddressPool/ferrolb-system/default: spec.addresses[1]`
/// names, as an Event target (the Warning Event goes on it, as on the ConfigMap otherwise).
fn object_named_by(path: &str, objects: &[serde_json::Value]) -> Option<EventTarget> {
    let head = path.split(':').next()?;
    let mut parts = head.splitn(3, '/');
    let (kind, namespace, name) = (parts.next()?, parts.next()?, parts.next()?);
    let object = objects.iter().find(|o| {
        o.get("kind").and_then(serde_json::Value::as_str) == Some(kind)
            && o.pointer("/metadata/name")
                .and_then(serde_json::Value::as_str)
                == Some(name)
    })?;
    let text = |ptr: &str| {
        object
            .pointer(ptr)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    Some(EventTarget {
        api_version: text("/apiVersion")?,
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: text("/metadata/uid"),
    })
}

/// Parses a document (a ConfigMap manifest, the bare config text, or metallb.io objects as a
/// `--config-file` may hold them).
pub fn update_from_text(text: &str, target: Option<EventTarget>) -> ConfigUpdate {
    match parse_either(text) {
        Ok(config) => ConfigUpdate::Valid { config, target },
        Err(errors) => ConfigUpdate::Invalid {
            errors: errors.to_string(),
            target,
        },
    }
}

async fn watch_config_map(
    client: Client,
    namespace: String,
    name: String,
    tx: mpsc::Sender<ConfigUpdate>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher(api, config)
        .backoff(crate::retry::watch_backoff())
        .boxed();
    let mut seen_in_init = false;
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = shutdown.changed() => return,
        };
        let Some(event) = event else { return };
        let update = match event {
            Ok(watcher::Event::Init) => {
                seen_in_init = false;
                None
            }
            Ok(watcher::Event::InitApply(cm)) | Ok(watcher::Event::Apply(cm)) => {
                if cm.metadata.name.as_deref() != Some(name.as_str()) {
                    None
                } else {
                    seen_in_init = true;
                    Some(update_from_config_map(&cm))
                }
            }
            Ok(watcher::Event::InitDone) => (!seen_in_init).then(|| ConfigUpdate::Missing {
                reason: format!("ConfigMap {namespace}/{name} does not exist"),
            }),
            Ok(watcher::Event::Delete(cm)) => (cm.metadata.name.as_deref() == Some(name.as_str()))
                .then(|| ConfigUpdate::Missing {
                    reason: format!("ConfigMap {namespace}/{name} was deleted"),
                }),
            Err(err) => {
                warn!(error = %err, configmap = %format!("{namespace}/{name}"), "watching the ConfigMap failed; retrying");
                None
            }
        };
        if let Some(update) = update {
            if tx.send(update).await.is_err() {
                return;
            }
        }
    }
}

async fn poll_file(
    path: PathBuf,
    interval: Duration,
    tx: mpsc::Sender<ConfigUpdate>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last: Option<Result<String, String>> = None;
    loop {
        let current = tokio::fs::read_to_string(&path)
            .await
            .map_err(|err| format!("cannot read {}: {err}", path.display()));
        if last.as_ref() != Some(&current) {
            let update = match &current {
                Ok(text) => update_from_text(text, None),
                Err(reason) => ConfigUpdate::Missing {
                    reason: reason.clone(),
                },
            };
            last = Some(current);
            if tx.send(update).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}
