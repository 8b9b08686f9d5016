//! Parsing and validation: YAML text -> loose tree -> validated [`Config`], collecting all errors.

pub(crate) mod bfd;
mod duration;
mod peer_identity;
pub(crate) mod peers;
mod pools;
pub(crate) mod tree;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::community::CommunityValue;
use crate::error::{ConfigError, ConfigErrors};
use crate::model::Config;
use tree::{join, Ctx};

const TOP_KEYS: &[&str] = &["peers", "address-pools", "bgp-communities", "bfd-profiles"];

/// Parses the bare config text (what the ConfigMap holds under `data.config`).
///
/// Every error of the document is reported, each with its field path and value.
pub fn parse_config(text: &str) -> Result<Config, ConfigErrors> {
    let tree = parse_yaml(text)?;
    validate(&tree)
}

/// Parses either a ConfigMap manifest (YAML with `kind: ConfigMap` and `data.config`) or the
/// bare config text.
pub fn parse_document(text: &str) -> Result<Config, ConfigErrors> {
    match extract(text)? {
        Document::Bare(tree) => validate(&tree),
        Document::ConfigMap(config_text) => parse_config(&config_text),
    }
}

/// The config text of a document: `data.config` of a ConfigMap manifest, or the text itself.
pub fn config_text_from_document(text: &str) -> Result<String, ConfigErrors> {
    match extract(text)? {
        Document::Bare(_) => Ok(text.to_string()),
        Document::ConfigMap(config_text) => Ok(config_text),
    }
}

enum Document {
    Bare(Value),
    ConfigMap(String),
}

fn one_error(path: &str, value: Option<String>, message: impl Into<String>) -> ConfigErrors {
    ConfigErrors(vec![ConfigError::new(path, value, message)])
}

fn parse_yaml(text: &str) -> Result<Value, ConfigErrors> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| one_error("", None, format!("not valid YAML: {e}")))
}

fn extract(text: &str) -> Result<Document, ConfigErrors> {
    let docs: Vec<Value> = match serde_saphyr::from_multiple::<Value>(text) {
        Ok(docs) => docs,
        Err(_) => vec![parse_yaml(text)?],
    };
    let is_manifest = |v: &Value| v.get("kind").is_some() || v.get("apiVersion").is_some();
    if docs.len() > 1 || docs.first().is_some_and(is_manifest) {
        let configmaps: Vec<&Value> = docs
            .iter()
            .filter(|d| d.get("kind").and_then(Value::as_str) == Some("ConfigMap"))
            .collect();
        let chosen = configmaps
            .iter()
            .find(|d| {
                d.get("data")
                    .and_then(|d| d.get(crate::CONFIGMAP_KEY))
                    .is_some()
            })
            .or(configmaps.first());
        let Some(cm) = chosen else {
            let kind = docs
                .iter()
                .filter_map(|d| d.get("kind"))
                .map(tree::show)
                .next();
            return Err(one_error("kind", kind, "expected a ConfigMap manifest"));
        };
        return match cm.get("data").and_then(|d| d.get(crate::CONFIGMAP_KEY)) {
            Some(Value::String(s)) => Ok(Document::ConfigMap(s.clone())),
            Some(other) => Err(one_error(
                "data.config",
                Some(tree::show(other)),
                "expected the config as a string (use `config: |`)",
            )),
            None => Err(one_error(
                "data.config",
                None,
                "the ConfigMap has no `config` key under `data`",
            )),
        };
    }
    Ok(Document::Bare(
        docs.into_iter().next().unwrap_or(Value::Null),
    ))
}

/// Validates a legacy config tree (what `parse_config` reads) into a [`Config`].
pub(crate) fn validate(tree: &Value) -> Result<Config, ConfigErrors> {
    let mut ctx = Ctx::default();
    let mut config = Config::default();
    if tree.is_null() {
        return Ok(config);
    }
    let Some(top) = ctx.object("", tree, TOP_KEYS) else {
        return Err(ConfigErrors(ctx.errors));
    };

    if let Some(v) = top.get("bgp-communities") {
        config.communities = communities(&mut ctx, v);
    }
    if let Some(v) = top.get("bfd-profiles") {
        config.bfd_profiles = bfd::profiles(&mut ctx, v);
    }
    if let Some(v) = top.get("peers") {
        config.peers = peers::peers(&mut ctx, v, &config.bfd_profiles);
    }
    if let Some(v) = top.get("address-pools") {
        config.pools = pools::pools(&mut ctx, v, &config.communities);
    }
    pools::warn_local_pref(&mut ctx, &config);
    pools::check_advertisement_peers(&mut ctx, &config);

    if ctx.errors.is_empty() {
        config.warnings = ctx.warnings;
        Ok(config)
    } else {
        Err(ConfigErrors(ctx.errors))
    }
}

fn communities(ctx: &mut Ctx, value: &Value) -> BTreeMap<String, CommunityValue> {
    let mut out = BTreeMap::new();
    let path = "bgp-communities";
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return out,
        other => {
            ctx.error(path, Some(other), "expected a mapping of alias: a:b");
            return out;
        }
    };
    for (name, v) in map {
        let p = join(path, name);
        let Some(text) = ctx.string(&p, v) else {
            continue;
        };
        match CommunityValue::parse(text.trim()) {
            Ok(c) => {
                out.insert(name.clone(), c);
            }
            Err(e) => ctx.error_text(&p, &text, e),
        }
    }
    out
}

#[cfg(test)]
mod tests;
