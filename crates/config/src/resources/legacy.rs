//! The legacy config tree the objects are translated into, so that one validator (the
//! ConfigMap's) checks both formats, plus the helpers every kind uses.

use serde_json::{Map, Value};

use super::kinds::{legacy_key, SELECTOR_FIELDS};
use super::paths::PathMap;
use crate::parse::tree::Ctx;

/// The translated tree and where each of its entries came from.
#[derive(Default)]
pub(crate) struct Legacy {
    pub peers: Vec<Value>,
    pub pools: Vec<Value>,
    pub communities: Map<String, Value>,
    pub bfd_profiles: Vec<Value>,
    pub paths: PathMap,
}

impl Legacy {
    /// The tree as the ConfigMap's `config` text would hold it.
    pub fn tree(&self) -> Value {
        let mut top = Map::new();
        top.insert("peers".into(), Value::Array(self.peers.clone()));
        top.insert("address-pools".into(), Value::Array(self.pools.clone()));
        top.insert(
            "bgp-communities".into(),
            Value::Object(self.communities.clone()),
        );
        top.insert(
            "bfd-profiles".into(),
            Value::Array(self.bfd_profiles.clone()),
        );
        Value::Object(top)
    }
}

/// The spec as a mapping (an absent spec is an empty one); unknown fields are errors.
pub(crate) fn spec<'a>(
    ctx: &mut Ctx,
    path: &str,
    spec: &'a Value,
    fields: &[&str],
) -> Option<&'a Map<String, Value>> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    if spec.is_null() {
        return Some(EMPTY.get_or_init(Map::new));
    }
    ctx.object(path, spec, fields)
}

/// The `fields` of `spec`, under their legacy keys (fields without one are left out).
pub(crate) fn copy_fields(spec: &Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in spec {
        if !fields.contains(&key.as_str()) {
            continue;
        }
        let Some(legacy) = legacy_key(key) else {
            continue;
        };
        let value = if key == "nodeSelectors" {
            legacy_selectors(value)
        } else {
            value.clone()
        };
        out.insert(legacy.to_string(), value);
    }
    out
}

/// Label selectors with legacy keys (`matchLabels` -> `match-labels`); other keys kept, so the
/// validator reports them.
pub(crate) fn legacy_selectors(value: &Value) -> Value {
    let Value::Array(items) = value else {
        return value.clone();
    };
    let items = items
        .iter()
        .map(|item| match item {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let key = if SELECTOR_FIELDS.contains(&k.as_str()) {
                            legacy_key(k).unwrap_or(k).to_string()
                        } else {
                            k.clone()
                        };
                        (key, v.clone())
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
        .collect();
    Value::Array(items)
}

/// True when a field is set to something other than its zero value (Go's `omitempty`).
pub(crate) fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Reports a set field FerroLB does not implement as a warning naming it.
pub(crate) fn warn_unimplemented(
    ctx: &mut Ctx,
    path: &str,
    spec: &Map<String, Value>,
    field: &str,
    effect: &str,
) {
    if is_set(spec.get(field)) {
        ctx.warnings.push(format!(
            "{path}.{field}: not implemented by FerroLB; {effect}"
        ));
    }
}

/// Reports a set field FerroLB cannot honour at all as an error naming it.
pub(crate) fn reject_unimplemented(
    ctx: &mut Ctx,
    path: &str,
    spec: &Map<String, Value>,
    field: &str,
    hint: &str,
) {
    if is_set(spec.get(field)) {
        ctx.error(
            &format!("{path}.{field}"),
            spec.get(field),
            format!("not implemented by FerroLB; {hint}"),
        );
    }
}
