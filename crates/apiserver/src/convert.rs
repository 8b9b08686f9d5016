//! Conversion between a resource's view and its storage form, for resources stored as another one:
//! events.k8s.io/v1 Events are kept as core v1 Events (as the real server does), so `kubectl get events`
//! and `kubectl describe` show what a controller published through `events.k8s.io`.
//!
//! Field mapping (events.k8s.io/v1 <-> v1): `regarding` <-> `involvedObject`, `note` <-> `message`,
//! `reportingController` <-> `reportingComponent`, `deprecatedSource` <-> `source`,
//! `deprecatedFirstTimestamp` <-> `firstTimestamp`, `deprecatedLastTimestamp` <-> `lastTimestamp`,
//! `deprecatedCount` <-> `count`; the other fields have the same names in both.

use serde_json::{json, Value};

use crate::registry::ResourceInfo;

const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn is_new_event(res: &ResourceInfo) -> bool {
    res.group == "events.k8s.io" && res.plural == "events"
}

fn rename(mut v: Value, pairs: impl Iterator<Item = (&'static str, &'static str)>) -> Value {
    if let Some(m) = v.as_object_mut() {
        for (from, to) in pairs {
            if let Some(x) = m.remove(from) {
                m.insert(to.to_string(), x);
            }
        }
    }
    v
}

/// The storage form of an object given in `res`'s view.
pub fn to_storage(res: &ResourceInfo, v: Value) -> Value {
    if !is_new_event(res) || !v.is_object() {
        return v;
    }
    let mut v = rename(v, EVENT_FIELDS.iter().copied());
    v["apiVersion"] = json!("v1");
    v
}

/// `res`'s view of an object in storage form.
pub fn from_storage(res: &ResourceInfo, v: Value) -> Value {
    if !v.is_object() {
        return v;
    }
    if !is_new_event(res) {
        // Other versions of a custom resource: the same object under the requested apiVersion (the
        // real server's `None` conversion strategy).
        let mut v = v;
        let api_version = res.api_version();
        if v.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str()) {
            v["apiVersion"] = json!(api_version);
        }
        return v;
    }
    let mut v = rename(v, EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)));
    v["apiVersion"] = json!(res.api_version());
    v["kind"] = json!(res.kind);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn events_round_trip_between_views() {
        let new = registry::find("events.k8s.io", "v1", "events").unwrap();
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"name": "web"}, "note": "hi", "reason": "IPAllocated", "reportingController": "c"});
        let core = to_storage(new, ev.clone());
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "hi");
        assert_eq!(core["reportingComponent"], "c");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(from_storage(new, core), ev);
    }
}
