//! Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), a strategic merge patch subset, and
//! the field-set bookkeeping behind server-side apply.
//!
//! Strategic merge patch: like a merge patch, except that lists of objects under a field name with a
//! well-known merge key (`containers`/`name`, `ports`/`port` or `containerPort`, `conditions`/`type`, ...)
//! are merged element by element, `$patch: delete` removes an element, and the other `$` directives
//! (`$setElementOrder/...`, `$retainKeys`, `$deleteFromPrimitiveList/...`) are ignored. Every other list
//! is replaced, as in a merge patch.

use serde_json::{Map, Value};

use crate::status::ApiError;

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, everything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The merge key of a list of objects under `field`, for the strategic merge patch subset.
fn merge_key(field: &str, elements: &[Value]) -> Option<&'static str> {
    let candidates: &[&str] = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => &["name"],
        "volumeMounts" => &["mountPath"],
        "ports" => &["containerPort", "port"],
        "conditions" => &["type"],
        "tolerations" => &["key"],
        _ => return None,
    };
    candidates.iter().copied().find(|k| {
        elements
            .iter()
            .all(|e| e.get(k).is_some() || e.get("$patch").is_some())
    })
}

/// Strategic merge patch (the subset described in the module documentation).
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                let existing = t
                    .get(k)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                match merge_key(k, items) {
                    Some(key) => {
                        let mut merged = existing;
                        for item in items {
                            let id = item.get(key).cloned();
                            let pos = merged.iter().position(|e| e.get(key) == id.as_ref());
                            let delete =
                                item.get("$patch").and_then(Value::as_str) == Some("delete");
                            match (pos, delete) {
                                (Some(i), true) => {
                                    merged.remove(i);
                                }
                                (None, true) => {}
                                (Some(i), false) => strategic_merge(&mut merged[i], item),
                                (None, false) => {
                                    let mut fresh = Value::Object(Map::new());
                                    strategic_merge(&mut fresh, item);
                                    merged.push(fresh);
                                }
                            }
                        }
                        t.insert(k.clone(), Value::Array(merged));
                    }
                    None => {
                        t.insert(k.clone(), strip_directives(v));
                    }
                }
            }
            Value::Object(_) => strategic_merge(t.entry(k.clone()).or_insert(Value::Null), v),
            other => {
                t.insert(k.clone(), other.clone());
            }
        }
    }
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Decode one RFC 6901 JSON pointer into its reference tokens.
fn pointer_tokens(path: &str) -> Result<Vec<String>, ApiError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let rest = path.strip_prefix('/').ok_or_else(|| {
        ApiError::bad_request(format!("json patch: path {path:?} must start with '/'"))
    })?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent_mut<'a>(
    doc: &'a mut Value,
    tokens: &[String],
    path: &str,
) -> Result<&'a mut Value, ApiError> {
    let mut cur = doc;
    for t in tokens {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(move |i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| ApiError::invalid_patch(format!("path {path:?} does not exist")))?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    let tokens = pointer_tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let idx = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| {
                        ApiError::invalid_patch(format!("array index in {path:?} out of range"))
                    })?
            };
            a.insert(idx, value);
        }
        _ => {
            return Err(ApiError::invalid_patch(format!(
                "parent of {path:?} is not an object or array"
            )))
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, ApiError> {
    let tokens = pointer_tokens(path)?;
    let (last, parents) = tokens
        .split_last()
        .ok_or_else(|| ApiError::invalid_patch("cannot remove the whole document"))?;
    let missing = || ApiError::invalid_patch(format!("path {path:?} does not exist"));
    match parent_mut(doc, parents, path)? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

fn field_str<'a>(op: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    op.get(name).and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(format!(
            "json patch: operation {op} has no string field {name:?}"
        ))
    })
}

/// RFC 6902 JSON patch: `add`, `remove`, `replace`, `move`, `copy`, `test`.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), ApiError> {
    let ops = ops
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch: body must be an array"))?;
    for op in ops {
        let path = field_str(op, "path")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| ApiError::bad_request(format!("json patch: {op} has no value")))
        };
        match field_str(op, "op")? {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove(doc, path)?;
            }
            "replace" => {
                remove(doc, path)?;
                add(doc, path, value()?)?;
            }
            "move" => {
                let v = remove(doc, field_str(op, "from")?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let from = field_str(op, "from")?;
                let v = doc.pointer(from).cloned().ok_or_else(|| {
                    ApiError::invalid_patch(format!("path {from:?} does not exist"))
                })?;
                add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(ApiError::invalid_patch(format!("test failed at {path:?}")));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "json patch: unknown op {other:?}"
                )))
            }
        }
    }
    Ok(())
}

/// The field set of an applied configuration in the `fieldsV1` form (`{"f:spec":{"f:type":{}}}`).
/// Lists are atomic: a list is one leaf.
pub fn field_set(applied: &Value) -> Value {
    match applied {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind"))
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (format!("f:{k}"), field_set(v)))
                .collect(),
        ),
        _ => Value::Object(Map::new()),
    }
}

/// Remove from `obj` every field in `old` (a `fieldsV1` set) that is absent from `new` and not in `keep`
/// (the sets of the other appliers): what server-side apply does when a manager stops applying a field.
pub fn prune(obj: &mut Value, old: &Value, new: &Value, keep: &[&Value]) {
    let (Value::Object(old_m), Value::Object(obj_m)) = (old, obj) else {
        return;
    };
    for (fk, old_child) in old_m {
        let Some(k) = fk.strip_prefix("f:") else {
            continue;
        };
        let new_child = new.get(fk);
        let kept: Vec<&Value> = keep.iter().filter_map(|s| s.get(fk)).collect();
        match new_child {
            None if kept.is_empty() => {
                obj_m.remove(k);
            }
            None => {
                if let Some(child) = obj_m.get_mut(k) {
                    prune(child, old_child, &Value::Object(Map::new()), &kept);
                }
            }
            Some(new_child) => {
                if let Some(child) = obj_m.get_mut(k) {
                    prune(child, old_child, new_child, &kept);
                }
            }
        }
    }
}

impl ApiError {
    /// 422 for a patch that cannot be applied.
    pub fn invalid_patch(message: impl Into<String>) -> Self {
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("the patch cannot be applied: {}", message.into()),
            details: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3]}));
    }

    #[test]
    fn strategic_merges_by_key_and_ignores_directives() {
        let mut doc = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}],
                             "selector": {"app": "a"}}});
        strategic_merge(
            &mut doc,
            &json!({"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                             "ports": [{"port": 80, "name": "web"}, {"port": 443, "$patch": "delete"}]}}),
        );
        assert_eq!(
            doc,
            json!({"spec": {"ports": [{"port": 80, "name": "web"}], "selector": {"app": "a"}}})
        );
    }

    #[test]
    fn json_patch_ops() {
        let mut doc = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(
            &mut doc,
            &json!([
                {"op": "add", "path": "/a/-", "value": 3},
                {"op": "replace", "path": "/b/c", "value": 2},
                {"op": "copy", "from": "/b", "path": "/d"},
                {"op": "move", "from": "/d/c", "path": "/e"},
                {"op": "remove", "path": "/a/0"},
                {"op": "test", "path": "/e", "value": 2}
            ]),
        )
        .unwrap();
        assert_eq!(doc, json!({"a": [2, 3], "b": {"c": 2}, "d": {}, "e": 2}));
        let err =
            json_patch(&mut doc, &json!([{"op": "test", "path": "/e", "value": 9}])).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }

    #[test]
    fn prune_removes_fields_no_longer_applied() {
        let mut obj =
            json!({"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}, "other": 1}});
        let old = field_set(&json!({"status": {"loadBalancer": {"ingress": []}}}));
        let new = field_set(&json!({"status": {"loadBalancer": {}}}));
        prune(&mut obj, &old, &new, &[]);
        assert_eq!(obj, json!({"status": {"loadBalancer": {}, "other": 1}}));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c$/]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// RFC 7386: applying the same merge patch twice changes nothing more.
        #[test]
        fn merge_patch_is_idempotent(doc in json_value(), p in json_value()) {
            let mut once = doc;
            merge(&mut once, &p);
            let mut twice = once.clone();
            merge(&mut twice, &p);
            prop_assert_eq!(once, twice);
        }

        /// Strategic merge, JSON patch and pruning never panic, whatever the input.
        #[test]
        fn patches_never_panic(doc in json_value(), p in json_value(), ops in proptest::collection::vec(
            ("(add|remove|replace|move|copy|test|x)", "(/[a-c0-9-]{0,2}){0,3}", json_value()), 0..4)) {
            let mut d = doc.clone();
            strategic_merge(&mut d, &p);
            let ops: Vec<Value> = ops.into_iter()
                .map(|(op, path, value)| serde_json::json!({"op": op, "path": path, "from": path, "value": value}))
                .collect();
            let mut d = doc.clone();
            let _ = json_patch(&mut d, &Value::Array(ops));
            let mut d = doc;
            prune(&mut d, &field_set(&p), &serde_json::json!({}), &[]);
        }
    }
}
