//! The metallb.io objects of a document set, sorted by kind, with their identities.

use std::collections::BTreeMap;

use serde_json::Value;

use super::kinds::{self, ResourceKind};
use crate::parse::tree::{show, Ctx};

/// One metallb.io object: its kind, identity, labels and spec.
pub(crate) struct Object<'a> {
    /// The served kind and version.
    pub kind: &'static ResourceKind,
    /// `metadata.namespace` (absent in files applied with `kubectl apply -n`).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `spec` (null when absent).
    pub spec: &'a Value,
}

impl Object<'_> {
    /// `Kind/namespace/name` (or `Kind/name` without a namespace).
    pub fn id(&self) -> String {
        id(self.kind.kind, self.namespace.as_deref(), &self.name)
    }

    /// The path prefix of the spec: `Kind/namespace/name: spec`.
    pub fn spec_path(&self) -> String {
        format!("{}: spec", self.id())
    }
}

/// `Kind/namespace/name` (or `Kind/name`).
pub(crate) fn id(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// A v1 Secret given with the objects (for `passwordSecret`).
pub(crate) struct Secret<'a> {
    pub namespace: Option<String>,
    pub name: String,
    pub raw: &'a Value,
}

/// The objects of a document set, by kind, in document order.
#[derive(Default)]
pub(crate) struct Objects<'a> {
    pub pools: Vec<Object<'a>>,
    pub bgp_advertisements: Vec<Object<'a>>,
    pub l2_advertisements: Vec<Object<'a>>,
    pub peers: Vec<Object<'a>>,
    pub communities: Vec<Object<'a>>,
    pub bfd_profiles: Vec<Object<'a>>,
    pub secrets: Vec<Secret<'a>>,
}

impl<'a> Objects<'a> {
    /// Sorts `values` by kind; reports objects without a name and metallb.io kinds or versions
    /// FerroLB does not read; other kinds are skipped with a warning.
    pub fn read(ctx: &mut Ctx, values: &'a [Value]) -> Self {
        let mut out = Objects::default();
        for (i, value) in values.iter().enumerate() {
            out.add(ctx, i, value);
        }
        out
    }

    fn add(&mut self, ctx: &mut Ctx, index: usize, value: &'a Value) {
        let doc = format!("object #{}", index + 1);
        let Value::Object(map) = value else {
            ctx.error(
                &doc,
                Some(value),
                "expected a Kubernetes object (a mapping)",
            );
            return;
        };
        let api_version = map.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
        let metadata = map.get("metadata").unwrap_or(&Value::Null);
        let namespace = metadata
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let name = metadata.get("name").and_then(Value::as_str).unwrap_or("");
        if api_version == "v1" && kind == "Secret" {
            self.secrets.push(Secret {
                namespace,
                name: name.to_string(),
                raw: value,
            });
            return;
        }
        let group = api_version.split('/').next().unwrap_or("");
        if group != kinds::GROUP {
            let what = if kind.is_empty() { "a document" } else { kind };
            ctx.warnings.push(format!(
                "{doc}: {what} ({}) is not a metallb.io object; ignored",
                show(map.get("apiVersion").unwrap_or(&Value::Null))
            ));
            return;
        }
        let Some(served) = kinds::find(api_version, kind) else {
            let versions: Vec<String> = kinds::KINDS
                .iter()
                .filter(|k| k.kind == kind)
                .map(|k| k.api_version())
                .collect();
            let message = if versions.is_empty() {
                "FerroLB does not read this metallb.io kind".to_string()
            } else {
                format!(
                    "not a served version of {kind}; use {}",
                    versions.join(" or ")
                )
            };
            ctx.error_text(
                &format!("{}: apiVersion", id(kind, namespace.as_deref(), name)),
                api_version,
                message,
            );
            return;
        };
        if name.is_empty() {
            ctx.error(
                &format!("{kind} ({doc}): metadata.name"),
                None,
                "missing (required)",
            );
            return;
        }
        let labels = metadata
            .get("labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), show(v)))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default();
        let object = Object {
            kind: served,
            namespace,
            name: name.to_string(),
            labels,
            spec: map.get("spec").unwrap_or(&Value::Null),
        };
        let list = match served.kind {
            "IPAddressPool" => &mut self.pools,
            "BGPAdvertisement" => &mut self.bgp_advertisements,
            "L2Advertisement" => &mut self.l2_advertisements,
            "BGPPeer" => &mut self.peers,
            "Community" => &mut self.communities,
            _ => &mut self.bfd_profiles,
        };
        if let Some(first) = list.iter().find(|o| o.id() == object.id()) {
            ctx.error(
                &format!("{}: metadata.name", object.id()),
                None,
                format!("{} is defined twice", first.id()),
            );
            return;
        }
        list.push(object);
    }
}
