//! Deletes the `BGPSessionState` objects (ferrolb.io/v1alpha1, written by the speakers) of nodes
//! that no longer exist: a speaker deletes its own objects when it stops, but a node that
//! disappears without its speaker stopping (power loss, a deleted VM) leaves them behind. The
//! writing replica (the leader) watches Nodes and the objects and deletes the objects whose
//! `ferrolb.io/node` label names no Node, as soon as both lists are known.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, DeleteParams, DynamicObject};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::Client;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::runner::ControllerState;

/// The label the speakers put on their objects.
pub use ferrolb_view::api_kinds::SESSION_STATE_NODE_LABEL as NODE_LABEL;

enum Seen {
    Nodes(Box<watcher::Event<Node>>),
    Sessions(Box<watcher::Event<DynamicObject>>),
    Failed(String),
    /// The controller's state changed (e.g. it became the writer).
    State,
}

/// The objects (name -> node) whose node is not in `nodes`.
pub fn orphans(objects: &BTreeMap<String, String>, nodes: &BTreeSet<String>) -> Vec<String> {
    objects
        .iter()
        .filter(|(_, node)| !nodes.contains(*node))
        .map(|(name, _)| name.clone())
        .collect()
}

fn node_of(o: &DynamicObject) -> Option<(String, String)> {
    Some((
        o.metadata.name.clone()?,
        o.metadata.labels.as_ref()?.get(NODE_LABEL)?.clone(),
    ))
}

/// Runs until `shutdown`; deletes orphaned objects in `namespace` while this replica writes.
pub async fn run(
    client: Client,
    namespace: String,
    mut state: watch::Receiver<ControllerState>,
    mut shutdown: watch::Receiver<bool>,
) {
    let ar = ferrolb_view::api_kinds::session_state_resource();
    let sessions: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &ar);
    let nodes_stream = watcher(Api::<Node>::all(client), watcher::Config::default())
        .default_backoff()
        .map(|e| {
            e.map_or_else(
                |e| Seen::Failed(e.to_string()),
                |n| Seen::Nodes(Box::new(n)),
            )
        });
    let sessions_stream = watcher(
        sessions.clone(),
        watcher::Config::default().labels(NODE_LABEL),
    )
    .default_backoff()
    .map(|e| {
        e.map_or_else(
            |e| Seen::Failed(e.to_string()),
            |o| Seen::Sessions(Box::new(o)),
        )
    });
    let mut events = futures::stream::select(nodes_stream.boxed(), sessions_stream.boxed());
    let (mut nodes, mut nodes_init) = (BTreeSet::new(), BTreeSet::new());
    let (mut objects, mut objects_init) = (BTreeMap::new(), BTreeMap::new());
    let (mut nodes_listed, mut objects_listed) = (false, false);
    let mut last_error = String::new();
    loop {
        let seen = tokio::select! {
            e = events.next() => match e { Some(e) => e, None => return },
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
                Seen::State
            }
            _ = shutdown.changed() => return,
        };
        match seen {
            Seen::Nodes(event) => match *event {
                watcher::Event::Init => nodes_init.clear(),
                watcher::Event::InitApply(n) => nodes_init.extend(n.metadata.name),
                watcher::Event::InitDone => {
                    nodes = std::mem::take(&mut nodes_init);
                    nodes_listed = true;
                }
                watcher::Event::Apply(n) => nodes.extend(n.metadata.name),
                watcher::Event::Delete(n) => {
                    if let Some(name) = n.metadata.name {
                        nodes.remove(&name);
                    }
                }
            },
            Seen::Sessions(event) => match *event {
                watcher::Event::Init => objects_init.clear(),
                watcher::Event::InitApply(o) => objects_init.extend(node_of(&o)),
                watcher::Event::InitDone => {
                    objects = std::mem::take(&mut objects_init);
                    objects_listed = true;
                }
                watcher::Event::Apply(o) => objects.extend(node_of(&o)),
                watcher::Event::Delete(o) => {
                    if let Some(name) = o.metadata.name {
                        objects.remove(&name);
                    }
                }
            },
            Seen::Failed(e) => {
                if e != last_error {
                    debug!(error = %e, "watching Nodes or BGPSessionStates failed; retrying");
                    last_error = e;
                }
            }
            Seen::State => {}
        }
        if !(nodes_listed && objects_listed && state.borrow().writing) {
            continue;
        }
        for name in orphans(&objects, &nodes) {
            match sessions.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {
                    info!(object = %name, node = %objects[&name], "deleted the BGPSessionState of a node that no longer exists")
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => warn!(object = %name, error = %e, "deleting a BGPSessionState failed"),
            }
            objects.remove(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_of_missing_nodes_are_orphans() {
        let objects = BTreeMap::from([
            ("a-10.255.0.1".to_string(), "a".to_string()),
            ("b-10.255.0.1".to_string(), "b".to_string()),
        ]);
        let nodes = BTreeSet::from(["a".to_string()]);
        assert_eq!(orphans(&objects, &nodes), ["b-10.255.0.1"]);
    }
}
