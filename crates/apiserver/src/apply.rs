//! Server-side apply (`application/apply-patch+yaml`), simplified.
//!
//! Each applier's fields are recorded as one `Apply` entry per manager and subresource in
//! `metadata.managedFields` (`fieldsV1`; lists are atomic leaves). Applying:
//! 1. conflicts: a field this apply sets to a new value that another `Apply` manager of the same
//!    subresource owns is a 409 Conflict naming the manager and the field, unless `force=true`, which
//!    moves the field to this manager;
//! 2. fields this manager applied last time and no longer applies are removed (unless another applier
//!    owns them too);
//! 3. the applied configuration is merged in (lists replaced whole).
//!
//! Not modelled: ownership of fields written by `Update` operations (merge patches, PUTs), and per-key
//! ownership inside lists (`listType=map`).

use serde_json::{json, Map, Value};

use crate::meta;
use crate::patch;
use crate::registry::ResourceInfo;
use crate::status::ApiError;
use crate::store::set_meta;

/// Paths (without the `f:` prefixes) of the leaves of a `fieldsV1` set.
fn leaves(set: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match set.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                if let Some(name) = k.strip_prefix("f:") {
                    prefix.push(name.to_string());
                    leaves(child, prefix, out);
                    prefix.pop();
                }
            }
        }
        _ => out.push(prefix.clone()),
    }
}

fn set_has(set: &Value, path: &[String]) -> bool {
    let mut cur = set;
    for p in path {
        match cur.get(format!("f:{p}")) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    true
}

fn set_remove(set: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = set;
    for p in parents {
        match cur.get_mut(format!("f:{p}")) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(&format!("f:{last}"));
    }
}

fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, p| cur.get(p))
}

fn is_apply(e: &Value, subresource: Option<&str>) -> bool {
    e.get("operation").and_then(Value::as_str) == Some("Apply")
        && e.get("subresource").and_then(Value::as_str) == subresource
}

fn manager_of(e: &Value) -> &str {
    e.get("manager").and_then(Value::as_str).unwrap_or("")
}

/// Apply `applied` as `manager` to `old` (None: create). See the module documentation.
pub fn apply(
    old: Option<&Value>,
    applied: &Value,
    manager: &str,
    res: &ResourceInfo,
    subresource: Option<&str>,
    force: bool,
) -> Result<Value, ApiError> {
    let mut applied = applied.clone();
    // A resourceVersion in the applied configuration is a precondition, not a field anyone owns.
    let precondition = applied.pointer("/metadata/resourceVersion").cloned();
    if let Some(m) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    let new_set = patch::field_set(&applied);
    let mut obj = old.cloned().unwrap_or_else(|| json!({}));
    let mut entries: Vec<Value> = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mine = |e: &Value| is_apply(e, subresource) && manager_of(e) == manager;

    // 1. Conflicts with the other appliers of this subresource.
    let mut applied_leaves = Vec::new();
    leaves(&new_set, &mut Vec::new(), &mut applied_leaves);
    let mut conflicts = Vec::new();
    for entry in entries
        .iter_mut()
        .filter(|e| is_apply(e, subresource) && manager_of(e) != manager)
    {
        let other = manager_of(entry).to_string();
        for path in &applied_leaves {
            let owned = entry.get("fieldsV1").is_some_and(|s| set_has(s, path));
            let current = value_at(&obj, path);
            if !owned || current.is_none() || current == value_at(&applied, path) {
                continue;
            }
            if force {
                if let Some(set) = entry.get_mut("fieldsV1") {
                    set_remove(set, path);
                }
            } else {
                conflicts.push(format!("conflict with \"{other}\": .{}", path.join(".")));
            }
        }
    }
    if !conflicts.is_empty() {
        let n = conflicts.len();
        return Err(ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Apply failed with {n} conflict{}: {}",
                if n == 1 { "" } else { "s" },
                conflicts.join("; ")
            ),
            details: None,
        });
    }

    // 2. Fields this manager no longer applies.
    if let Some(old_set) = entries
        .iter()
        .find(|e| mine(e))
        .and_then(|e| e.get("fieldsV1"))
    {
        let others: Vec<&Value> = entries
            .iter()
            .filter(|e| is_apply(e, subresource) && !mine(e))
            .filter_map(|e| e.get("fieldsV1"))
            .collect();
        patch::prune(&mut obj, old_set, &new_set, &others);
    }

    // 3. Merge, and record this manager's fields.
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
    // Replace in place: re-applying the same configuration must be a no-op (no new version).
    match entries.iter().position(mine) {
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    if !obj.is_object() {
        obj = Value::Object(Map::new());
    }
    set_meta(&mut obj, "managedFields", Value::Array(entries));
    if let Some(rv) = precondition {
        set_meta(&mut obj, "resourceVersion", rv);
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    fn svc() -> &'static ResourceInfo {
        registry::find("", "v1", "services").unwrap()
    }

    #[test]
    fn conflicts_between_appliers_unless_forced() {
        let a = json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}});
        let obj = apply(None, &a, "a", svc(), Some("status"), false).unwrap();
        // Same value from another manager: shared ownership, no conflict.
        let obj = apply(Some(&obj), &a, "b", svc(), Some("status"), false).unwrap();
        let b = json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.2"}]}}});
        let err = apply(Some(&obj), &b, "c", svc(), Some("status"), false).unwrap_err();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert!(
            err.message
                .contains(r#"conflict with "a": .status.loadBalancer.ingress"#),
            "{}",
            err.message
        );
        assert!(
            err.message.starts_with("Apply failed with 2 conflicts"),
            "{}",
            err.message
        );
        let forced = apply(Some(&obj), &b, "c", svc(), Some("status"), true).unwrap();
        assert_eq!(
            forced["status"]["loadBalancer"]["ingress"][0]["ip"],
            "198.51.100.2"
        );
        // After the force, "a" no longer owns the field: "c" can change it again without conflict.
        let again = json!({"status": {"loadBalancer": {"ingress": []}}});
        apply(Some(&forced), &again, "c", svc(), Some("status"), false).unwrap();
        // The main resource's appliers are separate from the status subresource's.
        apply(Some(&forced), &b, "d", svc(), None, false).unwrap();
        // Re-applying keeps the entries in place (so the store sees a no-op).
        let first = apply(Some(&obj), &a, "a", svc(), Some("status"), false).unwrap();
        let managers = |o: &Value| -> Vec<String> {
            o["metadata"]["managedFields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| manager_of(e).to_string())
                .collect()
        };
        assert_eq!(managers(&first), managers(&obj));
    }
}
