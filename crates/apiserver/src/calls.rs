//! A log of every request and counters of API calls by (verb, group, resource, subresource), so tests
//! can assert the exact calls a component makes and compare them with RBAC rules.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::faults::{Fault, Injected, Target};

/// One API call kind, named as RBAC names it: verb `get`/`list`/`watch`/`create`/`update`/`patch`/
/// `delete`/`deletecollection`, API group, resource plural and optional subresource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Call {
    /// RBAC verb.
    pub verb: String,
    /// API group ("" for core).
    pub group: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource (`status`), if any.
    pub subresource: Option<String>,
}

impl fmt::Display for Call {
    /// `patch services/status` or `get leases.coordination.k8s.io`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(s) = &self.subresource {
            write!(f, "/{s}")?;
        }
        if !self.group.is_empty() {
            write!(f, ".{}", self.group)?;
        }
        Ok(())
    }
}

/// One request as received, with the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string ("" if none).
    pub query: String,
    /// The API call, when the path named a resource.
    pub call: Option<Call>,
    /// Namespace in the path, if any.
    pub namespace: Option<String>,
    /// Object name in the path, if any.
    pub name: Option<String>,
    /// `fieldManager` query parameter, if any.
    pub field_manager: Option<String>,
    /// `Content-Type` of the body (tells the patch type), if any.
    pub content_type: Option<String>,
    /// HTTP status code of the response.
    pub status: u16,
    /// When the request arrived (for measuring a client's retry intervals).
    pub at: Instant,
    /// `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// Whether the response was an injected fault (see [`Fault`]).
    pub injected: bool,
    /// `Retry-After` seconds sent with an injected fault.
    pub retry_after: Option<u32>,
}

#[derive(Debug, Default)]
struct Inner {
    log: Vec<RequestRecord>,
    counts: BTreeMap<Call, u64>,
    faults: Vec<Fault>,
}

/// Shared call log; cloning gives another handle to the same log.
#[derive(Debug, Clone, Default)]
pub struct Calls {
    inner: Arc<Mutex<Inner>>,
}

/// Parse `services`, `services/status`, `leases.coordination.k8s.io` or `services/status` with a group
/// suffix (`leases.coordination.k8s.io/status`) into (group, resource, subresource).
fn parse_resource(resource: &str) -> (String, String, Option<String>) {
    let (res, sub) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let (plural, group) = res.split_once('.').unwrap_or((res, ""));
    (group.to_string(), plural.to_string(), sub)
}

impl Call {
    /// A call from a verb and an RBAC-style resource name (`services/status`, `leases.coordination.k8s.io`).
    pub fn new(verb: &str, resource: &str) -> Call {
        let (group, resource, subresource) = parse_resource(resource);
        Call {
            verb: verb.to_string(),
            group,
            resource,
            subresource,
        }
    }
}

impl Calls {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn record(&self, rec: RequestRecord) {
        let mut inner = self.lock();
        if let Some(call) = &rec.call {
            *inner.counts.entry(call.clone()).or_default() += 1;
        }
        inner.log.push(rec);
    }

    /// The fault this request is answered with, if a rule fires for it (the first rule that fires
    /// wins; every matching rule counts the request).
    pub(crate) fn take_injection(&self, target: Target<'_>) -> Option<Injected> {
        let mut inner = self.lock();
        let mut fired = None;
        for fault in inner.faults.iter_mut() {
            if let Some(inj) = fault.apply(target) {
                fired.get_or_insert(inj);
            }
        }
        inner.faults.retain(Fault::live);
        fired
    }

    /// How many times `verb` was called on `resource` (`services`, `services/status`,
    /// `leases.coordination.k8s.io`, `events.events.k8s.io`; a bare plural means the core group).
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        self.lock()
            .counts
            .get(&Call::new(verb, resource))
            .copied()
            .unwrap_or(0)
    }

    /// All counters.
    pub fn counts(&self) -> BTreeMap<Call, u64> {
        self.lock().counts.clone()
    }

    /// The distinct calls made so far (for comparing with RBAC rules).
    pub fn distinct(&self) -> Vec<Call> {
        self.lock().counts.keys().cloned().collect()
    }

    /// Every request so far, in order.
    pub fn log(&self) -> Vec<RequestRecord> {
        self.lock().log.clone()
    }

    /// Forget the log and counters (fault rules stay).
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.log.clear();
        inner.counts.clear();
    }

    /// Make the next `times` calls of `verb` on `resource` fail with HTTP `code` (e.g. 500, 503, 429)
    /// before touching the store.
    pub fn fail_next(&self, verb: &str, resource: &str, code: u16, times: u32) {
        self.inject(Fault::new(verb, resource, code).times(times));
    }

    /// Install a fault rule (429/500/503/409/410 with optional `Retry-After`, by count or rate,
    /// per object name or client); it stays until spent or [`Calls::clear_faults`].
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Remove every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The requests for `verb` on `resource` (optionally one object `name`), in arrival order.
    pub fn requests(&self, verb: &str, resource: &str, name: Option<&str>) -> Vec<RequestRecord> {
        let call = Call::new(verb, resource);
        self.lock()
            .log
            .iter()
            .filter(|r| r.call.as_ref() == Some(&call))
            .filter(|r| name.is_none_or(|n| r.name.as_deref() == Some(n)))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_names() {
        let c = Call::new("patch", "services/status");
        assert_eq!(
            (
                c.group.as_str(),
                c.resource.as_str(),
                c.subresource.as_deref()
            ),
            ("", "services", Some("status"))
        );
        assert_eq!(c.to_string(), "patch services/status");
        let l = Call::new("get", "leases.coordination.k8s.io");
        assert_eq!(l.group, "coordination.k8s.io");
        assert_eq!(l.to_string(), "get leases.coordination.k8s.io");
    }
}
