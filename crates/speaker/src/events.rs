//! Events on Services naming the node that announces them (or why a layer2 pool is not
//! announced). Only transitions produce an Event; creation runs in its own task so a slow API
//! never delays announcements.

use std::collections::HashMap;

use ferrolb_view::ServiceKey;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
use tokio::sync::mpsc;
use tracing::debug;

use crate::policy::{Decision, Reason};

/// Component name on Events.
pub const COMPONENT: &str = "ferrolb-speaker";

/// One Event to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The Service.
    pub service: ServiceKey,
    /// Its uid, when known.
    pub uid: Option<String>,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// CamelCase reason.
    pub reason: &'static str,
    /// Text.
    pub message: String,
}

/// Remembers the last state per Service address and yields Events for changes.
#[derive(Debug, Default)]
pub struct EventTracker {
    last: HashMap<(ServiceKey, Option<std::net::IpAddr>), &'static str>,
}

impl EventTracker {
    /// Events for the decisions that changed since the previous call.
    pub fn changes(
        &mut self,
        node: &str,
        decisions: &[Decision],
        uid_of: impl Fn(&ServiceKey) -> Option<String>,
    ) -> Vec<PendingEvent> {
        let mut out = Vec::new();
        let mut seen = HashMap::with_capacity(decisions.len());
        for d in decisions {
            let key = (d.service.clone(), d.ip);
            let code = d.reason.code();
            let previous = self.last.get(&key).copied();
            seen.insert(key, code);
            if previous == Some(code) {
                continue;
            }
            let ip = d.ip.map(|i| i.to_string()).unwrap_or_default();
            let event = match &d.reason {
                Reason::Announced { .. } => Some((
                    "Normal",
                    "Announced",
                    format!(
                        "node {node} announces {ip} ({}) to {}",
                        join(&d.prefixes),
                        join(&d.peers)
                    ),
                )),
                Reason::Layer2Pool { .. } => Some((
                    "Normal",
                    "NotAnnounced",
                    format!("node {node}: {ip} {}", d.reason),
                )),
                other if previous == Some("announced") => Some((
                    "Normal",
                    "Withdrawn",
                    format!("node {node} withdrew {ip}: {other}"),
                )),
                _ => None,
            };
            if let Some((type_, reason, message)) = event {
                out.push(PendingEvent {
                    service: d.service.clone(),
                    uid: uid_of(&d.service),
                    type_,
                    reason,
                    message,
                });
            }
        }
        self.last = seen;
        out
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starts the task that creates Events; returns its queue (full queue: Events are dropped).
pub fn spawn_sender(client: Client, node: String) -> mpsc::Sender<PendingEvent> {
    let (tx, mut rx) = mpsc::channel::<PendingEvent>(1024);
    tokio::spawn(async move {
        let mut seq: u64 = 0;
        while let Some(e) = rx.recv().await {
            seq += 1;
            let api: Api<Event> = Api::namespaced(client.clone(), &e.service.namespace);
            let now = Time(Timestamp::now());
            let name = format!(
                "{}.{}-{}-{seq}",
                e.service.name,
                node,
                Timestamp::now().as_nanosecond()
            );
            let event = Event {
                metadata: ObjectMeta {
                    name: Some(name),
                    namespace: Some(e.service.namespace.clone()),
                    ..ObjectMeta::default()
                },
                involved_object: ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Service".into()),
                    name: Some(e.service.name.clone()),
                    namespace: Some(e.service.namespace.clone()),
                    uid: e.uid.clone(),
                    ..ObjectReference::default()
                },
                reason: Some(e.reason.into()),
                message: Some(e.message.clone()),
                type_: Some(e.type_.into()),
                source: Some(EventSource {
                    component: Some(COMPONENT.into()),
                    host: Some(node.clone()),
                }),
                reporting_component: Some(COMPONENT.into()),
                reporting_instance: Some(node.clone()),
                first_timestamp: Some(now.clone()),
                last_timestamp: Some(now),
                count: Some(1),
                ..Event::default()
            };
            if let Err(err) = api.create(&PostParams::default(), &event).await {
                debug!(service = %e.service, error = %err, "creating an Event failed");
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(reason: Reason) -> Decision {
        Decision {
            service: ServiceKey::new("web", "a"),
            ip: Some("198.51.100.1".parse().unwrap()),
            pool: Some("default".into()),
            reason,
            prefixes: vec!["198.51.100.1/32".parse().unwrap()],
            peers: vec![],
            weight: None,
            weight_ignored: None,
        }
    }

    #[test]
    fn only_transitions_make_events() {
        let mut t = EventTracker::default();
        let announced = decision(Reason::Announced {
            traffic_policy: "Cluster".into(),
            endpoints: 1,
        });
        let e = t.changes("n1", std::slice::from_ref(&announced), |_| None);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].reason, "Announced");
        assert!(e[0].message.contains("node n1"));
        assert!(t
            .changes("n1", std::slice::from_ref(&announced), |_| None)
            .is_empty());
        let e = t.changes("n1", &[decision(Reason::NodeExcluded)], |_| None);
        assert_eq!(e[0].reason, "Withdrawn");
        // A Service that was never announced and still is not: no Event.
        assert!(t
            .changes("n1", &[decision(Reason::NoPeers)], |_| None)
            .is_empty());
        let e = t.changes(
            "n1",
            &[decision(Reason::Layer2Pool { pool: "l2".into() })],
            |_| None,
        );
        assert_eq!(e[0].reason, "NotAnnounced");
        assert!(e[0].message.contains("layer2"));
    }
}
