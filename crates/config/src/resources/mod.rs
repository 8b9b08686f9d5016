//! MetalLB's custom resources (group `metallb.io`) to the one validated [`Config`].
//!
//! The objects are translated into the legacy ConfigMap tree and checked by the same validator
//! as the ConfigMap, so both formats accept and reject the same settings; errors and warnings
//! name the object and field they came from: `IPAddressPool/metallb-system/default:
//! spec.addresses[1]`. Fields MetalLB has but FerroLB does not implement are warnings (or
//! errors, when the session could not be what the user asked for), never silently dropped.

mod bfd;
mod community;
mod crd;
mod kinds;
mod legacy;
mod migrate;
mod object;
mod paths;
mod peer;
mod pool;
mod selection;

use serde_json::Value;

use crate::error::{ConfigError, ConfigErrors};
use crate::model::Config;
use crate::parse::tree::Ctx;
pub use crd::{crds, crds_yaml};
pub use kinds::{ResourceKind, GROUP, KINDS};
use legacy::Legacy;
pub use migrate::{migrate, Migration};
use object::Objects;
pub use peer::{PASSWORD_SECRET_KEY, PASSWORD_SECRET_TYPE};

/// All metallb.io objects of the namespace (any served version) plus the v1 Secrets that
/// BGPPeers' `passwordSecret` reference, as JSON objects (what the API returns) -> the one
/// validated Config. `Config.warnings` gets every accepted-but-not-implemented note, naming
/// the object and field. A `passwordSecret` stays a reference (the speaker reads the Secret);
/// a Secret given here is checked (type basic-auth, a `password` key).
pub fn config_from_objects(objects: &[Value]) -> Result<Config, ConfigErrors> {
    let mut ctx = Ctx::default();
    let set = Objects::read(&mut ctx, objects);
    let mut tree = Legacy::default();
    community::add(&mut ctx, &set, &mut tree);
    bfd::add(&mut ctx, &set, &mut tree);
    peer::add(&mut ctx, &set, &mut tree);
    pool::add(&mut ctx, &set, &mut tree);

    let (shared_errors, shared_warnings, config) = match crate::parse::validate(&tree.tree()) {
        Ok(mut config) => (Vec::new(), std::mem::take(&mut config.warnings), config),
        Err(errors) => (errors.0, Vec::new(), Config::default()),
    };
    let mut errors: Vec<ConfigError> = Vec::new();
    for e in ctx
        .errors
        .into_iter()
        .chain(shared_errors.into_iter().map(|e| tree.paths.error(e)))
    {
        if !errors.contains(&e) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let mut warnings = ctx.warnings;
    for w in shared_warnings {
        // The pool notes above replace the legacy layer2 note.
        if w.starts_with("address-pools[") && w.contains(": layer2 pool ") {
            continue;
        }
        let w = tree.paths.warning(&w);
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    Ok(Config { warnings, ..config })
}

/// A multi-document YAML file of such objects (what `kubectl apply -f` takes) -> the same.
/// `kind: List` documents are read item by item.
pub fn parse_resources(text: &str) -> Result<Config, ConfigErrors> {
    let docs = documents(text).map_err(|e| {
        ConfigErrors(vec![ConfigError::new(
            "",
            None,
            format!("not valid YAML: {e}"),
        )])
    })?;
    config_from_objects(&docs)
}

/// True when the text holds metallb.io objects (so CLI commands can accept either format).
pub fn looks_like_resources(text: &str) -> bool {
    match documents(text) {
        Ok(docs) => docs.iter().any(is_metallb_object),
        Err(_) => text.lines().any(|l| {
            l.trim_start().strip_prefix("apiVersion:").is_some_and(|v| {
                v.trim()
                    .trim_matches(['"', '\''])
                    .starts_with("metallb.io/")
            })
        }),
    }
}

/// True for an object whose `apiVersion` is in group metallb.io.
fn is_metallb_object(doc: &Value) -> bool {
    doc.get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("metallb.io/"))
}

/// The objects of a multi-document YAML text, `List`s flattened, empty documents dropped.
fn documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for doc in docs {
        if doc.is_null() {
            continue;
        }
        if doc.get("kind").and_then(Value::as_str) == Some("List") {
            if let Some(Value::Array(items)) = doc.get("items") {
                out.extend(items.iter().cloned());
                continue;
            }
        }
        out.push(doc);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
