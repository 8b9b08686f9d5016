//! Kubernetes Events (core/v1) on Services and on the config ConfigMap.
//!
//! Only `create` is used: the controller remembers the last Event per object and does not repeat
//! it, so no update or patch of Events is needed. Events are written by their own task, in order,
//! so a slow or failing Event never delays a status write.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
use tokio::sync::mpsc;
use tracing::warn;

use crate::options::FIELD_MANAGER;

/// The object an Event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventTarget {
    /// API version of the object (`v1`).
    pub api_version: String,
    /// Kind of the object (`Service`, `ConfigMap`).
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// UID of the object, when known.
    pub uid: Option<String>,
}

impl EventTarget {
    /// A core/v1 Service.
    pub fn service(namespace: &str, name: &str, uid: Option<String>) -> Self {
        EventTarget {
            api_version: "v1".into(),
            kind: "Service".into(),
            namespace: namespace.into(),
            name: name.into(),
            uid,
        }
    }

    /// A core/v1 ConfigMap.
    pub fn config_map(namespace: &str, name: &str, uid: Option<String>) -> Self {
        EventTarget {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: namespace.into(),
            name: name.into(),
            uid,
        }
    }
}

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something needs attention.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Hands Events to a writer task, so that no status write waits on an Event; skips an Event
/// identical to the last one sent for the same object (whatever its reason, so an Event that
/// was followed by another one on that object is written again when it happens again).
pub struct EventRecorder {
    queue: mpsc::Sender<Event>,
    instance: String,
    last: HashMap<(String, String, String), (String, String)>,
    counter: u64,
}

/// Events waiting for the writer task at most; more are dropped with a warning (Events are
/// informational, status writes must not wait for them).
const QUEUE: usize = 1024;

impl EventRecorder {
    /// A recorder that names `instance` (the pod name) as the reporting instance; spawns the
    /// writer task, which ends once the recorder is dropped and the queue is written.
    pub fn new(client: Client, instance: impl Into<String>) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(client, rx));
        EventRecorder {
            queue,
            instance: instance.into(),
            last: HashMap::new(),
            counter: 0,
        }
    }

    /// Forgets what was sent for an object (it was deleted), so a new object of the same name
    /// gets its Events again.
    pub fn forget(&mut self, namespace: &str, name: &str) {
        self.last
            .retain(|(_, ns, n), _| !(ns == namespace && n == name));
    }

    /// Queues an Event unless the last one queued for `target` had the same reason and message.
    pub fn publish(&mut self, target: &EventTarget, kind: EventType, reason: &str, message: &str) {
        let key = (
            target.kind.clone(),
            target.namespace.clone(),
            target.name.clone(),
        );
        let entry = (reason.to_string(), message.to_string());
        if self.last.get(&key) == Some(&entry) {
            return;
        }
        let event = self.event(target, kind, reason, message);
        match self.queue.try_send(event) {
            Ok(()) => {
                self.last.insert(key, entry);
            }
            Err(err) => warn!(
                error = %err,
                object = %format!("{}/{}", target.namespace, target.name),
                reason,
                "Event not queued"
            ),
        }
    }

    fn event(
        &mut self,
        target: &EventTarget,
        kind: EventType,
        reason: &str,
        message: &str,
    ) -> Event {
        let now = Timestamp::now();
        let seq = self.counter;
        self.counter = self.counter.wrapping_add(1);
        let name = format!(
            "{}.{:x}{:04x}",
            target.name,
            now.as_nanosecond().unsigned_abs() & 0xffff_ffff_ffff,
            seq & 0xffff
        );
        Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(target.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(target.api_version.clone()),
                kind: Some(target.kind.clone()),
                namespace: Some(target.namespace.clone()),
                name: Some(target.name.clone()),
                uid: target.uid.clone(),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            type_: Some(kind.as_str().to_string()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: Some(MicroTime(now)),
            action: Some(reason.to_string()),
            reporting_component: Some(FIELD_MANAGER.to_string()),
            reporting_instance: Some(self.instance.clone()),
            source: Some(EventSource {
                component: Some(FIELD_MANAGER.to_string()),
                host: None,
            }),
            ..Event::default()
        }
    }
}

/// The writer task: creates the queued Events in order; a failure is logged, not retried.
async fn write_events(client: Client, mut rx: mpsc::Receiver<Event>) {
    while let Some(event) = rx.recv().await {
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        if let Err(err) = api.create(&PostParams::default(), &event).await {
            warn!(
                error = %err,
                object = %format!(
                    "{namespace}/{}",
                    event.involved_object.name.as_deref().unwrap_or_default()
                ),
                reason = event.reason.as_deref().unwrap_or_default(),
                "could not write Event"
            );
        }
    }
}
