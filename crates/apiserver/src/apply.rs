//! Server-side apply (`application/apply-patch+yaml`), simplified; see the function documentation.

use serde_json::{json, Value};

use crate::meta;
use crate::patch;
use crate::registry::ResourceInfo;
use crate::store::set_meta;

/// Server-side apply, simplified: fields this manager applied before and no longer applies are removed
/// (unless another applier applies them too), then the applied configuration is merged in (lists
/// replaced). Conflicts with other managers are not detected (`force` is accepted and has no effect).
pub fn apply(
    old: Option<&Value>,
    applied: &Value,
    manager: &str,
    res: &ResourceInfo,
    subresource: Option<&str>,
) -> Value {
    let mut applied = applied.clone();
    if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    let new_set = patch::field_set(&applied);
    let mut obj = old.cloned().unwrap_or_else(|| json!({}));
    let entries: Vec<Value> = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let same_sub = |e: &Value| e.get("subresource").and_then(Value::as_str) == subresource;
    let is_mine = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && same_sub(e)
    };
    if let Some(mine) = entries.iter().find(|e| is_mine(e)) {
        let others: Vec<&Value> = entries
            .iter()
            .filter(|e| {
                !is_mine(e)
                    && e.get("operation").and_then(Value::as_str) == Some("Apply")
                    && same_sub(e)
            })
            .filter_map(|e| e.get("fieldsV1"))
            .collect();
        if let Some(old_set) = mine.get("fieldsV1") {
            patch::prune(&mut obj, old_set, &new_set, &others);
        }
    }
    patch::merge(&mut obj, &applied);
    let mut entry = json!({
        "manager": manager,
        "operation": "Apply",
        "apiVersion": res.api_version(),
        "time": meta::now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": new_set,
    });
    if let Some(sub) = subresource {
        entry["subresource"] = json!(sub);
    }
    let mut entries: Vec<Value> = entries.into_iter().filter(|e| !is_mine(e)).collect();
    entries.push(entry);
    set_meta(&mut obj, "managedFields", Value::Array(entries));
    obj
}
