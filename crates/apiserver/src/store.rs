//! The object store: every object as `serde_json::Value`, keyed by resource, namespace and name, with a
//! global monotonically increasing resourceVersion and a bounded history of watch events.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::watch;

use crate::convert;
use crate::crd::{self, CRD_GROUP, CRD_PLURAL};
use crate::defaults::{self, Allocators};
use crate::meta;
use crate::registry::{self, Registry, ResourceInfo};
use crate::schema_validation;
use crate::status::ApiError;

/// Kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was deleted.
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change in the store's history.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// The resource the object belongs to.
    pub resource: &'static ResourceInfo,
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (for a delete: the last state, with the delete's resourceVersion).
    pub object: Value,
    /// The object before the change (None for ADDED).
    pub previous: Option<Value>,
}

/// What open watches are told when the store changes; compared by epoch counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signal {
    /// Latest resourceVersion.
    pub rv: u64,
    /// Bumped by [`Store::expire_watches`]: open watches send a 410 ERROR event and end.
    pub expire_epoch: u64,
    /// Bumped by [`Store::close_watches`]: open watches end (as after a dropped connection).
    pub close_epoch: u64,
}

/// How long a deleted namespace stays Terminating before it and its contents are removed (when a tokio
/// runtime is running; otherwise removal is immediate).
pub const NAMESPACE_FINALIZE_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

type Key = (&'static str, &'static str, String, String);

#[derive(Debug)]
struct Inner {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Event>,
    /// The oldest resourceVersion a watch may resume from.
    floor: u64,
    history_limit: usize,
    alloc: Allocators,
    /// Built-in resources plus those the stored CustomResourceDefinitions define.
    registry: Registry,
}

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The main resource: `.status` is ignored for resources with a status subresource.
    Main,
    /// The `/status` subresource: only `.status` (and `metadata.managedFields`) change.
    Status,
    /// The whole object, `.status` included, in one write (store seeding; no HTTP request does this).
    Whole,
}

/// The shared in-memory object store. Cloning gives another handle to the same store.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    signal: Arc<watch::Sender<Signal>>,
}

fn key(res: &'static ResourceInfo, ns: &str, name: &str) -> Key {
    (
        res.group,
        res.plural,
        if res.namespaced {
            ns.to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

fn rv_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Set `metadata.<field>`, making `metadata` an object first if needed. `obj` must be an object (or null).
pub(crate) fn set_meta(obj: &mut Value, field: &str, value: Value) {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"][field] = value;
}

fn is_namespace(res: &ResourceInfo) -> bool {
    res.plural == "namespaces" && res.group.is_empty()
}

fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// The object without `metadata` and `status`: what `metadata.generation` tracks.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

/// The object without its resourceVersion and managedFields timestamps, to detect no-op writes.
fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(Value::Array(mf)) = m.get_mut("managedFields") {
            for e in mf.iter_mut().filter_map(Value::as_object_mut) {
                e.remove("time");
            }
        }
    }
    v
}

impl Default for Store {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Store {
    /// An empty store keeping up to `history_limit` events for watches to resume from, with the
    /// namespaces every cluster has (`default`, `kube-system`, `kube-public`, `kube-node-lease`).
    pub fn new(history_limit: usize) -> Self {
        let (tx, _) = watch::channel(Signal::default());
        let store = Store {
            inner: Arc::new(Mutex::new(Inner {
                objects: BTreeMap::new(),
                rv: 0,
                history: VecDeque::new(),
                floor: 0,
                history_limit: history_limit.max(1),
                alloc: Allocators::default(),
                registry: Registry::default(),
            })),
            signal: Arc::new(tx),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            store.ensure_namespace(ns);
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is applied at the end).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Signal> {
        self.signal.subscribe()
    }

    fn notify(&self, rv: u64) {
        self.signal.send_modify(|s| s.rv = rv);
    }

    /// The served resources now: the built-in ones and those of the stored CustomResourceDefinitions.
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// The oldest resourceVersion a watch may resume from; older ones get 410 Gone.
    pub fn oldest_resource_version(&self) -> u64 {
        self.lock().floor
    }

    /// Drop the whole watch history: a watch resuming from any earlier resourceVersion gets 410 Gone
    /// and must relist (open watches are not affected; see [`Store::expire_watches`]).
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.floor = inner.rv;
    }

    /// Drop the watch history up to and including `rv` (etcd's compaction at a revision; capped at
    /// the latest): a watch resuming from before `rv` gets 410 Gone, later ones resume normally.
    pub fn compact_to(&self, rv: u64) {
        let mut inner = self.lock();
        let rv = rv.min(inner.rv);
        let keep = inner.history.partition_point(|e| e.rv <= rv);
        inner.history.drain(..keep);
        inner.floor = inner.floor.max(rv);
    }

    /// Compact the history and make every open watch send an ERROR event with a 410 `Expired` Status
    /// and end, as a real API server does when a watcher falls out of its watch cache: clients relist.
    pub fn expire_watches(&self) {
        {
            let mut inner = self.lock();
            inner.history.clear();
            // Make the open watches' positions too old: they are all at or below rv.
            inner.floor = inner.rv;
        }
        self.signal.send_modify(|s| s.expire_epoch += 1);
    }

    /// End every open watch stream cleanly (as a dropped connection or an elapsed timeout).
    pub fn close_watches(&self) {
        self.signal.send_modify(|s| s.close_epoch += 1);
    }

    /// Create the namespace if it does not exist.
    pub fn ensure_namespace(&self, name: &str) {
        let exists =
            self.lock()
                .objects
                .contains_key(&("", "namespaces", String::new(), name.to_string()));
        if exists {
            return;
        }
        if let Some(ns) = registry::find("", "v1", "namespaces") {
            let _ = self.write(ns, "", name, Target::Main, false, |old| {
                Ok(old
                    .cloned()
                    .unwrap_or_else(|| json!({"metadata": {"name": name}})))
            });
        }
    }

    /// Create or replace an object given as JSON with `apiVersion`, `kind` and `metadata.name`
    /// (and `metadata.namespace` for namespaced kinds, else `default`), including its `status`.
    /// Watches see ADDED or MODIFIED. For seeding tests; no resourceVersion check.
    pub fn seed(&self, obj: Value) -> Result<Value, ApiError> {
        let api_version = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let res = self
            .registry()
            .find_kind(api_version, kind)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "seed: no resource for apiVersion {api_version:?} kind {kind:?}"
                ))
            })?;
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("seed: metadata.name is missing"))?
            .to_string();
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        if res.namespaced {
            self.ensure_namespace(&ns);
        }
        let mut obj = obj;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        self.write(res, &ns, &name, Target::Whole, false, |_| Ok(obj))
    }

    /// [`Store::seed`] every document of a multi-document YAML manifest (`---` separated), in order,
    /// as `kubectl apply -f` would create them (e.g. CustomResourceDefinitions, then their objects).
    pub fn seed_manifests(&self, yaml: &str) -> Result<Vec<Value>, ApiError> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
            .map_err(|e| ApiError::bad_request(format!("seed: manifest is not YAML: {e}")))?;
        docs.into_iter()
            .filter(|d| !d.is_null())
            .map(|d| self.seed(d))
            .collect()
    }

    /// Wait until `cond(self)` holds, re-checking after every change (no polling), for at most
    /// `timeout`. Returns whether it held.
    pub async fn wait_until(
        &self,
        timeout: std::time::Duration,
        mut cond: impl FnMut(&Store) -> bool,
    ) -> bool {
        let mut signal = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            signal.borrow_and_update();
            if cond(self) {
                return true;
            }
            tokio::select! {
                changed = signal.changed() => {
                    if changed.is_err() {
                        return cond(self);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return cond(self),
            }
        }
    }

    /// Wait until the object (resource named as in [`Store::get_object`]; None when absent) satisfies
    /// `pred`, for at most `timeout`. Ok with the object's state, or Err with the last state seen.
    pub async fn wait_for(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        timeout: std::time::Duration,
        pred: impl Fn(Option<&Value>) -> bool,
    ) -> Result<Option<Value>, Option<Value>> {
        let mut last = None;
        let held = self
            .wait_until(timeout, |store| {
                last = store.get_object(resource, namespace, name);
                pred(last.as_ref())
            })
            .await;
        if held {
            Ok(last)
        } else {
            Err(last)
        }
    }

    /// One object by resource name (`services`, `svc`, `leases.coordination.k8s.io`), namespace ("" for
    /// cluster-scoped) and name.
    pub fn get_object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = self.registry().find_name(resource)?;
        self.get(res, namespace, name).ok()
    }

    /// Every object of a resource (by name as in [`Store::get_object`]), in one namespace or all (None).
    pub fn list_objects(&self, resource: &str, namespace: Option<&str>) -> Vec<Value> {
        self.registry()
            .find_name(resource)
            .map(|res| self.list(res, namespace).0)
            .unwrap_or_default()
    }

    /// Delete an object by resource name; watches see DELETED. Returns the deleted object.
    pub fn remove(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = self.registry().find_name(resource)?;
        self.delete(res, namespace, name, None).ok()
    }

    /// Get one object.
    pub fn get(&self, res: &'static ResourceInfo, ns: &str, name: &str) -> Result<Value, ApiError> {
        let inner = self.lock();
        let stored = inner.registry.storage(res);
        inner
            .objects
            .get(&key(stored, ns, name))
            .cloned()
            .map(|v| convert::from_storage(res, v))
            .ok_or_else(|| ApiError::not_found(res.group, res.plural, name))
    }

    /// All objects of a resource in one namespace (or all), sorted by namespace and name, and the
    /// resourceVersion of this snapshot.
    pub fn list(&self, res: &'static ResourceInfo, ns: Option<&str>) -> (Vec<Value>, u64) {
        let inner = self.lock();
        let stored = inner.registry.storage(res);
        let items = inner
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == stored.group && *p == stored.plural && ns.is_none_or(|ns| ns == n)
            })
            .map(|(_, v)| convert::from_storage(res, v.clone()))
            .collect();
        (items, inner.rv)
    }

    /// One page of a list: the objects of `res` in `ns` (None: all namespaces), in (namespace, name)
    /// order, after the key `after` (exclusive), for which `keep` holds, at most `limit` of them.
    /// Returns the page, the snapshot's resourceVersion, and how many more objects match after it.
    /// Objects outside the page are not copied.
    pub fn list_page(
        &self,
        res: &'static ResourceInfo,
        ns: Option<&str>,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Value>, u64, usize) {
        use std::borrow::Cow;
        use std::ops::Bound;
        let inner = self.lock();
        let stored = inner.registry.storage(res);
        let aliased = !std::ptr::eq(stored, res);
        let start = match after {
            Some((n, name)) => {
                Bound::Excluded((stored.group, stored.plural, n.to_string(), name.to_string()))
            }
            None => Bound::Included((stored.group, stored.plural, String::new(), String::new())),
        };
        let (mut items, mut remaining) = (Vec::new(), 0);
        for ((g, p, n, _), v) in inner.objects.range((start, Bound::Unbounded)) {
            if *g != stored.group || *p != stored.plural {
                break;
            }
            if ns.is_some_and(|ns| ns != n) {
                continue;
            }
            let view = if aliased {
                Cow::Owned(convert::from_storage(res, v.clone()))
            } else {
                Cow::Borrowed(v)
            };
            if !keep(&view) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                remaining += 1;
            } else {
                items.push(view.into_owned());
            }
        }
        (items, inner.rv, remaining)
    }

    /// Events after `after` for `res` (all namespaces), or 410 Expired if `after` is older than the history.
    /// Also returns the resourceVersion the caller has now seen up to.
    pub(crate) fn events_since(
        &self,
        res: &'static ResourceInfo,
        after: u64,
    ) -> Result<(Vec<Event>, u64), ApiError> {
        let inner = self.lock();
        if after < inner.floor {
            return Err(ApiError::expired(after, inner.floor));
        }
        let stored = inner.registry.storage(res);
        let start = inner.history.partition_point(|e| e.rv <= after);
        let events = inner
            .history
            .iter()
            .skip(start)
            // By group and plural: a redefined CustomResourceDefinition keeps its objects' history.
            .filter(|e| e.resource.group == stored.group && e.resource.plural == stored.plural)
            .map(|e| Event {
                object: convert::from_storage(res, e.object.clone()),
                previous: e.previous.clone().map(|p| convert::from_storage(res, p)),
                ..e.clone()
            })
            .collect();
        Ok((events, inner.rv.max(after)))
    }

    fn push_event(inner: &mut Inner, event: Event) {
        inner.history.push_back(event);
        while inner.history.len() > inner.history_limit {
            if let Some(e) = inner.history.pop_front() {
                inner.floor = e.rv;
            }
        }
    }

    /// The one write path (create, update, patch, apply, status). `f` gets the current object (None if
    /// absent) and returns the desired object; this fills metadata, enforces resourceVersion
    /// preconditions, status-subresource rules, defaults and generation, skips no-op writes, and records
    /// the event. `dry_run` computes the result without storing it.
    pub fn write(
        &self,
        res: &'static ResourceInfo,
        ns: &str,
        name: &str,
        target: Target,
        dry_run: bool,
        f: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        // A custom resource is checked (and pruned) against the schema of the version asked for.
        let schema = self.schema_of(res);
        let f = |old: Option<&Value>| {
            let mut obj = f(old)?;
            if let Some(schema) = &schema {
                let errors = schema_validation::validate(schema, &mut obj);
                if !errors.is_empty() {
                    return Err(ApiError::invalid_fields(res.group, res.kind, name, errors));
                }
            }
            Ok(obj)
        };
        let stored = self.registry().storage(res);
        if std::ptr::eq(stored, res) {
            return self.write_stored(res, ns, name, target, dry_run, f);
        }
        let written = self.write_stored(stored, ns, name, target, dry_run, |old| {
            let view = old.map(|o| convert::from_storage(res, o.clone()));
            f(view.as_ref()).map(|v| convert::to_storage(res, v))
        })?;
        Ok(convert::from_storage(res, written))
    }

    /// The `openAPIV3Schema` of a custom resource's version, from its stored definition.
    pub fn schema_of(&self, res: &'static ResourceInfo) -> Option<Value> {
        let crd_name = res.crd?;
        let inner = self.lock();
        let k = (CRD_GROUP, CRD_PLURAL, String::new(), crd_name.to_string());
        let crd = inner.objects.get(&k)?;
        schema_validation::version_schema(crd, res.version).cloned()
    }

    fn write_stored(
        &self,
        res: &'static ResourceInfo,
        ns: &str,
        name: &str,
        target: Target,
        dry_run: bool,
        f: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let k = key(res, ns, name);
        let old = inner.objects.get(&k).cloned();
        let mut new = f(old.as_ref())?;
        if !new.is_object() {
            return Err(ApiError::bad_request(format!(
                "{} {name:?}: body must be a JSON object",
                res.kind
            )));
        }
        new["apiVersion"] = json!(res.api_version());
        new["kind"] = json!(res.kind);
        set_meta(&mut new, "name", json!(name));
        if res.namespaced {
            set_meta(&mut new, "namespace", json!(ns));
        } else if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("namespace");
        }
        let result = match &old {
            None => {
                if target == Target::Status {
                    return Err(ApiError::not_found(res.group, res.plural, name));
                }
                if !meta::valid_name(name) {
                    return Err(ApiError::invalid(
                        res.group,
                        res.plural,
                        name,
                        format!("metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"),
                    ));
                }
                if res.namespaced {
                    let ns_key = ("", "namespaces", String::new(), ns.to_string());
                    match inner.objects.get(&ns_key) {
                        None => return Err(ApiError::not_found("", "namespaces", ns)),
                        Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
                            return Err(ApiError::forbidden(format!(
                                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                                res.qualified_name()
                            )))
                        }
                        Some(_) => {}
                    }
                }
                set_meta(&mut new, "uid", json!(meta::new_uid()));
                set_meta(&mut new, "creationTimestamp", json!(meta::now_rfc3339()));
                set_meta(&mut new, "generation", json!(1));
                match res.plural {
                    "services" if res.group.is_empty() => {
                        defaults::service(&mut new, None, &mut inner.alloc);
                        if target != Target::Whole || new.get("status").is_none() {
                            new["status"] = json!({"loadBalancer": {}});
                        }
                    }
                    "namespaces" if res.group.is_empty() => defaults::namespace(&mut new),
                    _ => {}
                }
                if res.crd.is_some() && res.status_subresource && target == Target::Main {
                    // As the real server: a custom resource's status is set through /status only.
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
                new
            }
            Some(old) => {
                if let Some(want) = rv_of(&new) {
                    if Some(want) != rv_of(old) {
                        return Err(ApiError::conflict(res.group, res.plural, name));
                    }
                }
                let mut result = match target {
                    Target::Status => {
                        let mut r = old.clone();
                        match new.get("status") {
                            Some(s) => r["status"] = s.clone(),
                            None => {
                                if let Some(m) = r.as_object_mut() {
                                    m.remove("status");
                                }
                            }
                        }
                        if let Some(mf) = new.pointer("/metadata/managedFields") {
                            set_meta(&mut r, "managedFields", mf.clone());
                        }
                        r
                    }
                    Target::Whole => new,
                    Target::Main => {
                        let mut r = new;
                        if res.status_subresource {
                            match old.get("status") {
                                Some(s) => r["status"] = s.clone(),
                                None => {
                                    if let Some(m) = r.as_object_mut() {
                                        m.remove("status");
                                    }
                                }
                            }
                        }
                        r
                    }
                };
                for field in [
                    "uid",
                    "creationTimestamp",
                    "generation",
                    "resourceVersion",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                ] {
                    match old.pointer(&format!("/metadata/{field}")) {
                        Some(v) => set_meta(&mut result, field, v.clone()),
                        None => {
                            if let Some(m) =
                                result.get_mut("metadata").and_then(Value::as_object_mut)
                            {
                                m.remove(field);
                            }
                        }
                    }
                }
                if res.plural == "services" && res.group.is_empty() {
                    defaults::service(&mut result, Some(old), &mut inner.alloc);
                }
                if spec_part(&result) != spec_part(old) {
                    let generation = old
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(0);
                    set_meta(&mut result, "generation", json!(generation + 1));
                }
                if comparable(&result) == comparable(old) {
                    return Ok(old.clone());
                }
                result
            }
        };
        let mut result = result;
        let defines = if crd::is_crd(res) {
            let entries = crd::resources(name, &result)?;
            result["status"] = crd::status(&result, old.as_ref().and_then(|o| o.get("status")));
            Some(entries)
        } else {
            None
        };
        if dry_run {
            return Ok(result);
        }
        inner.rv += 1;
        let rv = inner.rv;
        set_meta(&mut result, "resourceVersion", json!(rv.to_string()));
        // An object being deleted goes away when its last finalizer is removed.
        let finalized = !is_namespace(res)
            && result.pointer("/metadata/deletionTimestamp").is_some()
            && !has_finalizers(&result);
        let kind = if finalized {
            inner.objects.remove(&k);
            EventType::Deleted
        } else if let Some(entries) = defines {
            inner.registry.define(name, entries);
            let kind = if old.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            };
            inner.objects.insert(k, result.clone());
            kind
        } else if old.is_some() {
            inner.objects.insert(k, result.clone());
            EventType::Modified
        } else {
            inner.objects.insert(k, result.clone());
            EventType::Added
        };
        let event = Event {
            rv,
            resource: res,
            namespace: ns.to_string(),
            kind,
            object: result.clone(),
            previous: old,
        };
        Self::push_event(&mut inner, event);
        if finalized && crd::is_crd(res) {
            self.purge_definition(inner, name);
            return Ok(result);
        }
        drop(inner);
        self.notify(rv);
        Ok(result)
    }

    /// Remove the resources a deleted CustomResourceDefinition defined, and all their objects (as the
    /// real server's cleanup finalizer does), with DELETED events.
    fn purge_definition(&self, mut inner: MutexGuard<'_, Inner>, crd_name: &str) -> Option<Value> {
        let defined = inner.registry.defined_by(crd_name);
        let doomed: Vec<(&'static ResourceInfo, Key)> = defined
            .iter()
            .filter(|r| r.stored_as.is_none())
            .flat_map(|r| {
                inner
                    .objects
                    .keys()
                    .filter(|k| k.0 == r.group && k.1 == r.plural)
                    .map(|k| (*r, k.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        inner.registry.define(crd_name, Vec::new());
        self.remove_with_events(inner, doomed)
    }

    /// Delete one object, checking an optional `(uid, resourceVersion)` precondition. Deleting a
    /// namespace deletes every object in it. Returns the deleted object.
    pub fn delete(
        &self,
        res: &'static ResourceInfo,
        ns: &str,
        name: &str,
        precondition: Option<(Option<String>, Option<String>)>,
    ) -> Result<Value, ApiError> {
        let stored = self.registry().storage(res);
        self.delete_stored(stored, ns, name, precondition)
            .map(|v| convert::from_storage(res, v))
    }

    fn delete_stored(
        &self,
        res: &'static ResourceInfo,
        ns: &str,
        name: &str,
        precondition: Option<(Option<String>, Option<String>)>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let k = key(res, ns, name);
        let old = inner
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(res.group, res.plural, name))?;
        if let Some((uid, rv)) = precondition {
            let uid_ok = uid.is_none_or(|u| {
                old.pointer("/metadata/uid").and_then(Value::as_str) == Some(u.as_str())
            });
            let rv_ok = rv.is_none_or(|r| rv_of(&old) == Some(r.as_str()));
            if !uid_ok || !rv_ok {
                return Err(ApiError::conflict(res.group, res.plural, name));
            }
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(old);
        }
        if !is_namespace(res) && has_finalizers(&old) {
            // Like the real server: mark for deletion; it goes when the last finalizer is removed.
            let mut marked = old.clone();
            set_meta(&mut marked, "deletionTimestamp", json!(meta::now_rfc3339()));
            set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
            inner.rv += 1;
            let rv = inner.rv;
            set_meta(&mut marked, "resourceVersion", json!(rv.to_string()));
            inner.objects.insert(k, marked.clone());
            let event = Event {
                rv,
                resource: res,
                namespace: if res.namespaced {
                    ns.to_string()
                } else {
                    String::new()
                },
                kind: EventType::Modified,
                object: marked.clone(),
                previous: Some(old),
            };
            Self::push_event(&mut inner, event);
            drop(inner);
            self.notify(rv);
            return Ok(marked);
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if is_namespace(res) => {
                // Like the real namespace controller: Terminating first, contents removed shortly after.
                let mut marked = old.clone();
                set_meta(&mut marked, "deletionTimestamp", json!(meta::now_rfc3339()));
                marked["status"] = json!({"phase": "Terminating"});
                inner.rv += 1;
                let rv = inner.rv;
                set_meta(&mut marked, "resourceVersion", json!(rv.to_string()));
                inner.objects.insert(k, marked.clone());
                let event = Event {
                    rv,
                    resource: res,
                    namespace: String::new(),
                    kind: EventType::Modified,
                    object: marked.clone(),
                    previous: Some(old),
                };
                Self::push_event(&mut inner, event);
                drop(inner);
                self.notify(rv);
                let store = self.clone();
                let name = name.to_string();
                handle.spawn(async move {
                    tokio::time::sleep(NAMESPACE_FINALIZE_DELAY).await;
                    let inner = store.lock();
                    let k = key(res, "", &name);
                    store.purge(inner, res, k);
                });
                Ok(marked)
            }
            _ => Ok(self.purge(inner, res, k).unwrap_or(old)),
        }
    }

    /// Remove an object now (a namespace with everything in it), with DELETED events.
    fn purge(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        res: &'static ResourceInfo,
        k: Key,
    ) -> Option<Value> {
        let name = k.3.clone();
        if crd::is_crd(res) {
            let deleted = self.remove_with_events_locked(&mut inner, vec![(res, k)]);
            self.purge_definition(inner, &name);
            return deleted;
        }
        let mut doomed = vec![(res, k)];
        if res.plural == "namespaces" && res.group.is_empty() {
            for (gk, _) in inner.objects.iter() {
                if gk.2 == name {
                    if let Some(r) = inner
                        .registry
                        .all()
                        .find(|r| r.group == gk.0 && r.plural == gk.1 && r.stored_as.is_none())
                    {
                        doomed.insert(0, (r, gk.clone()));
                    }
                }
            }
        }
        self.remove_with_events(inner, doomed)
    }

    /// Remove `doomed` objects with DELETED events, then wake the watches. Returns the last one removed.
    fn remove_with_events(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        doomed: Vec<(&'static ResourceInfo, Key)>,
    ) -> Option<Value> {
        let last = self.remove_with_events_locked(&mut inner, doomed);
        let rv = inner.rv;
        drop(inner);
        self.notify(rv);
        last
    }

    fn remove_with_events_locked(
        &self,
        inner: &mut Inner,
        doomed: Vec<(&'static ResourceInfo, Key)>,
    ) -> Option<Value> {
        let mut last = None;
        for (r, dk) in doomed {
            let Some(mut obj) = inner.objects.remove(&dk) else {
                continue;
            };
            inner.rv += 1;
            let rv = inner.rv;
            let previous = obj.clone();
            set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
            let event = Event {
                rv,
                resource: r,
                namespace: dk.2.clone(),
                kind: EventType::Deleted,
                object: obj.clone(),
                previous: Some(previous),
            };
            Self::push_event(inner, event);
            last = Some(obj);
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> &'static ResourceInfo {
        registry::find("", "v1", "services").unwrap()
    }

    #[test]
    fn write_fills_metadata_and_bumps_versions() {
        let store = Store::new(100);
        let base = store.resource_version();
        let svc = store
            .write(services(), "default", "web", Target::Main, false, |_| {
                Ok(json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}, "status": {"x": 1}}))
            })
            .unwrap();
        assert_eq!(
            svc["metadata"]["resourceVersion"],
            json!((base + 1).to_string())
        );
        assert_eq!(svc["metadata"]["generation"], json!(1));
        assert_eq!(
            svc["status"],
            json!({"loadBalancer": {}}),
            "create drops a Service's status"
        );
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], json!(30000));
        // Main-resource write ignores status; a no-op write does not bump the version.
        let same = store
            .write(services(), "default", "web", Target::Main, false, |old| {
                let mut o = old.unwrap().clone();
                o["status"] = json!({"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}});
                Ok(o)
            })
            .unwrap();
        assert_eq!(
            same["metadata"]["resourceVersion"],
            svc["metadata"]["resourceVersion"]
        );
        // Stale resourceVersion conflicts.
        let err = store
            .write(services(), "default", "web", Target::Main, false, |_| {
                Ok(json!({"metadata": {"resourceVersion": "1"}, "spec": {}}))
            })
            .unwrap_err();
        assert_eq!(err.code, 409);
        // Namespaces must exist.
        let err = store
            .write(services(), "nope", "web", Target::Main, false, |_| {
                Ok(json!({}))
            })
            .unwrap_err();
        assert_eq!((err.code, err.reason), (404, "NotFound"));
    }

    #[test]
    fn history_window_and_expiry() {
        let store = Store::new(2);
        for i in 0..5 {
            store.seed(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}})).unwrap();
        }
        let rv = store.resource_version();
        let cms = registry::find("", "v1", "configmaps").unwrap();
        assert_eq!(store.events_since(cms, rv - 2).unwrap().0.len(), 2);
        assert_eq!(store.events_since(cms, rv - 3).unwrap_err().code, 410);
        store.compact();
        assert!(store.events_since(cms, rv).unwrap().0.is_empty());
        assert_eq!(store.events_since(cms, rv - 1).unwrap_err().code, 410);
    }

    #[test]
    fn compaction_at_a_version_keeps_the_later_history() {
        let store = Store::new(100);
        for i in 0..5 {
            store.seed(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}})).unwrap();
        }
        let rv = store.resource_version();
        let cms = registry::find("", "v1", "configmaps").unwrap();
        store.compact_to(rv - 2);
        assert_eq!(store.events_since(cms, rv - 2).unwrap().0.len(), 2);
        assert_eq!(store.events_since(cms, rv - 3).unwrap_err().code, 410);
        store.compact_to(rv + 10);
        assert_eq!(
            store.oldest_resource_version(),
            rv,
            "capped at the latest version"
        );
        assert!(store.events_since(cms, rv).unwrap().0.is_empty());
    }

    #[test]
    fn namespace_delete_cascades() {
        let store = Store::new(100);
        store.seed(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "x"}})).unwrap();
        assert!(store.get_object("cm", "x", "c").is_some());
        store.remove("namespaces", "", "x").unwrap();
        assert!(store.get_object("configmaps", "x", "c").is_none());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap as Map;

    #[derive(Debug, Clone)]
    enum Op {
        Put(u8, u8),
        Delete(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4, 0u8..3).prop_map(|(n, v)| Op::Put(n, v)),
            (0u8..4).prop_map(Op::Delete),
        ]
    }

    type State = Map<String, Value>;

    fn snapshot(store: &Store, res: &'static ResourceInfo) -> State {
        store
            .list(res, None)
            .0
            .into_iter()
            .map(|o| (o["metadata"]["name"].as_str().unwrap_or("").to_string(), o))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The watch invariant: the state at any resourceVersion plus the events after it is the
        /// final state, and every event's version is above the start and increasing.
        #[test]
        fn state_plus_events_is_final_state(ops in proptest::collection::vec(op(), 1..40)) {
            let store = Store::new(1000);
            let res = registry::find("", "v1", "configmaps").unwrap();
            let mut snapshots = vec![(store.resource_version(), snapshot(&store, res))];
            for op in ops {
                match op {
                    Op::Put(n, v) => {
                        let name = format!("c{n}");
                        store.write(res, "default", &name, Target::Main, false, |_| {
                            Ok(json!({"data": {"v": v.to_string()}}))
                        }).unwrap();
                    }
                    Op::Delete(n) => {
                        let _ = store.delete(res, "default", &format!("c{n}"), None);
                    }
                }
                snapshots.push((store.resource_version(), snapshot(&store, res)));
            }
            let last = snapshot(&store, res);
            for (rv, state) in snapshots {
                let (events, upto) = store.events_since(res, rv).unwrap();
                prop_assert_eq!(upto, store.resource_version());
                let mut replay = state;
                let mut prev = rv;
                for ev in events {
                    prop_assert!(ev.rv > prev);
                    prev = ev.rv;
                    let name = ev.object["metadata"]["name"].as_str().unwrap_or("").to_string();
                    let rv_text = ev.rv.to_string();
                    prop_assert_eq!(ev.object["metadata"]["resourceVersion"].as_str(), Some(rv_text.as_str()));
                    match ev.kind {
                        EventType::Added => prop_assert!(replay.insert(name, ev.object).is_none()),
                        EventType::Modified => prop_assert!(replay.insert(name, ev.object).is_some()),
                        EventType::Deleted => prop_assert!(replay.remove(&name).is_some()),
                    }
                }
                let strip = |m: &State| -> Map<String, Value> {
                    m.iter().map(|(k, v)| {
                        let mut v = v.clone();
                        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                            meta.remove("resourceVersion");
                        }
                        (k.clone(), v)
                    }).collect()
                };
                prop_assert_eq!(strip(&replay), strip(&last));
            }
        }
    }
}
