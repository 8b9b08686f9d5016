//! Kubernetes Events (core/v1) on Services and on the config ConfigMap.
//!
//! Only `create` is used: the controller remembers the last Event per object and reason, and
//! does not repeat an identical one, so no update or patch of Events is needed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::Client;
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

/// Writes Events; skips an Event identical to the last one sent for the same object and reason.
pub struct EventRecorder {
    client: Client,
    instance: String,
    sent: HashMap<(String, String, String), String>,
    counter: AtomicU64,
}

impl EventRecorder {
    /// A recorder that names `instance` (the pod name) as the reporting instance.
    pub fn new(client: Client, instance: impl Into<String>) -> Self {
        EventRecorder {
            client,
            instance: instance.into(),
            sent: HashMap::new(),
            counter: AtomicU64::new(0),
        }
    }

    /// Forgets what was sent for an object (it was deleted), so a new object of the same name
    /// gets its Events again.
    pub fn forget(&mut self, namespace: &str, name: &str) {
        self.sent
            .retain(|(ns, n, _), _| !(ns == namespace && n == name));
    }

    /// Publishes an Event unless the same reason and message were the last sent for `target`.
    /// Failures are logged, not returned: an Event is informational.
    pub async fn publish(
        &mut self,
        target: &EventTarget,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let key = (
            target.namespace.clone(),
            target.name.clone(),
            reason.to_string(),
        );
        if self.sent.get(&key).map(String::as_str) == Some(message) {
            return;
        }
        let now = Timestamp::now();
        let seq = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}.{:x}{:04x}",
            target.name,
            now.as_nanosecond().unsigned_abs() & 0xffff_ffff_ffff,
            seq & 0xffff
        );
        let event = Event {
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
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &target.namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                self.sent.insert(key, message.to_string());
            }
            Err(err) => warn!(
                error = %err,
                object = %format!("{}/{}", target.namespace, target.name),
                reason,
                "could not write Event"
            ),
        }
    }
}
