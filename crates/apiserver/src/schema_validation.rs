//! Custom resources checked against their CRD version's structural `openAPIV3Schema`, as the real
//! server does on create, update, patch and apply: unknown fields are pruned (unless
//! `x-kubernetes-preserve-unknown-fields`), `null` in a non-nullable field is dropped, and every
//! violation becomes one field error of a 422 Invalid, worded as kube-apiserver words them
//! (`spec.addresses[0]: Invalid value: "integer": spec.addresses[0] in body must be of type string:
//! "integer"`).
//!
//! The subset FerroLB's CRDs use: `type` (object, array, string, integer, number, boolean),
//! `x-kubernetes-int-or-string`, `required`, `enum`, `minimum`/`maximum` (and the exclusive
//! flags), `format` int32/int64 bounds, `minLength`/`maxLength`, `pattern`, `minItems`/`maxItems`,
//! `items`, `properties`, `additionalProperties`, `nullable`. Not done: defaults, CEL
//! `x-kubernetes-validations`, other formats, list-type uniqueness.

use serde_json::{Map, Value};

/// One rejected field: the `Status` cause (`reason`, `field`, `message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The cause type (`FieldValueTypeInvalid`, `FieldValueRequired`, `FieldValueNotSupported`,
    /// `FieldValueInvalid`, `FieldValueTooLong`, `FieldValueTooMany`).
    pub reason: &'static str,
    /// The field path (`spec.addresses[0]`).
    pub field: String,
    /// What is wrong, without the path (`Invalid value: ...`).
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The `openAPIV3Schema` of `version` in a CustomResourceDefinition object, if it has one.
pub fn version_schema<'a>(crd: &'a Value, version: &str) -> Option<&'a Value> {
    crd.pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))?
        .pointer("/schema/openAPIV3Schema")
}

/// Prunes `obj` in place to what `schema` declares and returns every violation (empty: valid).
/// `metadata` is left to the server's own checks, as the real server does.
pub fn validate(schema: &Value, obj: &mut Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check(schema, obj, "", &mut errors);
    errors
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// The JSON type of a value as the real server names it in messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as the real server quotes it: strings in quotes, numbers bare.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn flag(schema: &Value, name: &str) -> bool {
    schema.get(name).and_then(Value::as_bool) == Some(true)
}

fn push(errors: &mut Vec<FieldError>, reason: &'static str, field: &str, message: String) {
    errors.push(FieldError {
        reason,
        field: field.to_string(),
        message,
    });
}

fn invalid(errors: &mut Vec<FieldError>, path: &str, value: &Value, rule: String) {
    push(
        errors,
        "FieldValueInvalid",
        path,
        format!("Invalid value: {}: {path} in body {rule}", shown(value)),
    );
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

fn check(schema: &Value, value: &mut Value, path: &str, errors: &mut Vec<FieldError>) {
    let expected = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    let type_ok = if int_or_string {
        value.is_string() || value.is_i64() || value.is_u64()
    } else {
        type_matches(expected, value)
    };
    if value.is_null() && flag(schema, "nullable") {
        return;
    }
    if !type_ok {
        let actual = type_name(value);
        let expected = if int_or_string {
            "integer,string"
        } else {
            expected
        };
        push(
            errors,
            "FieldValueTypeInvalid",
            path,
            format!("Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""),
        );
        return;
    }
    check_enum(schema, value, path, errors);
    match value {
        Value::Number(_) => check_number(schema, value, path, errors),
        Value::String(_) => check_string(schema, value, path, errors),
        Value::Array(_) => check_array(schema, value, path, errors),
        Value::Object(map) if path != "metadata" => check_object(schema, map, path, errors),
        _ => {}
    }
}

fn check_enum(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if allowed.contains(value) {
        return;
    }
    let list: Vec<String> = allowed.iter().map(shown).collect();
    push(
        errors,
        "FieldValueNotSupported",
        path,
        format!(
            "Unsupported value: {}: supported values: {}",
            shown(value),
            list.join(", ")
        ),
    );
}

fn check_number(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let format_range = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX), "int32")),
        Some("int64") => Some((i64::MIN, i64::MAX, "int64")),
        _ => None,
    };
    if let Some((min, max, name)) = format_range {
        if !value.as_i64().is_some_and(|n| (min..=max).contains(&n)) {
            invalid(
                errors,
                path,
                value,
                format!("must be of type {name}: \"{value}\""),
            );
            return;
        }
    }
    let Some(n) = value.as_f64() else {
        return;
    };
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMinimum");
        if n < min || (exclusive && n == min) {
            let rule = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            invalid(
                errors,
                path,
                value,
                format!("should be {rule} {}", schema["minimum"]),
            );
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMaximum");
        if n > max || (exclusive && n == max) {
            let rule = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            invalid(
                errors,
                path,
                value,
                format!("should be {rule} {}", schema["maximum"]),
            );
        }
    }
}

fn check_string(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let text = value.as_str().unwrap_or("");
    let chars = text.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if chars < min {
            invalid(
                errors,
                path,
                value,
                format!("should be at least {min} chars long"),
            );
        }
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if chars > max {
            push(
                errors,
                "FieldValueTooLong",
                path,
                format!("Too long: may not be longer than {max}"),
            );
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        // A pattern that does not compile was the CRD author's error; it matches nothing.
        let matched = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(text));
        if !matched {
            invalid(errors, path, value, format!("should match '{pattern}'"));
        }
    }
}

fn check_array(schema: &Value, value: &mut Value, path: &str, errors: &mut Vec<FieldError>) {
    let Value::Array(items) = value else {
        return;
    };
    let len = items.len() as u64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
        if len < min {
            let shown_len = Value::from(len);
            invalid(
                errors,
                path,
                &shown_len,
                format!("should have at least {min} items"),
            );
        }
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        if len > max {
            push(
                errors,
                "FieldValueTooMany",
                path,
                format!("Too many: {len}: must have at most {max} items"),
            );
        }
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter_mut().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
}

/// The schema of the values of unknown keys: `additionalProperties` as a schema, `Keep` when they
/// are kept unchecked, `Prune` when they are dropped.
enum Others<'a> {
    Schema(&'a Value),
    Keep,
    Prune,
}

fn others(schema: &Value) -> Others<'_> {
    match schema.get("additionalProperties") {
        Some(Value::Object(_)) => Others::Schema(&schema["additionalProperties"]),
        Some(Value::Bool(true)) => Others::Keep,
        _ if flag(schema, "x-kubernetes-preserve-unknown-fields") => Others::Keep,
        _ => Others::Prune,
    }
}

fn check_object(
    schema: &Value,
    map: &mut Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let others = others(schema);
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let field_schema = match (properties.get(&key), &others) {
            (Some(s), _) => Some(s),
            (None, Others::Schema(s)) => Some(*s),
            (None, Others::Keep) => None,
            (None, Others::Prune) => {
                map.remove(&key);
                continue;
            }
        };
        let Some(field_schema) = field_schema else {
            continue;
        };
        if map.get(&key).is_some_and(Value::is_null) && !flag(field_schema, "nullable") {
            // As the real server: a non-nullable null is dropped, not rejected.
            map.remove(&key);
            continue;
        }
        let child = if properties.contains_key(&key) {
            join(path, &key)
        } else {
            format!("{path}[{key}]")
        };
        if let Some(v) = map.get_mut(&key) {
            check(field_schema, v, &child, errors);
        }
    }
    for field in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(field) {
            push(
                errors,
                "FieldValueRequired",
                &join(path, field),
                "Required value".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "type": "object",
                    "required": ["addresses"],
                    "properties": {
                        "addresses": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[0-9a-f.:/-]+$"}},
                        "port": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 16384},
                        "mode": {"type": "string", "enum": ["internal", "external"]},
                        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
                        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "maybe": {"type": "string", "nullable": true},
                        "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
                    },
                },
            },
        })
    }

    fn messages(obj: &mut Value) -> Vec<String> {
        validate(&schema(), obj)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_valid_object_is_unchanged() {
        let mut obj = json!({"apiVersion": "x/v1", "metadata": {"name": "a", "anything": 1},
            "spec": {"addresses": ["198.51.100.0/24"], "port": 179, "mode": "internal",
                     "labels": {"a": "b"}, "free": {"x": {"y": 1}}, "maybe": null, "ratio": 0.5}});
        let before = obj.clone();
        assert_eq!(messages(&mut obj), Vec::<String>::new());
        assert_eq!(obj, before);
    }

    #[test]
    fn each_violation_names_its_field() {
        let mut obj = json!({"spec": {"addresses": [5, "UPPER"], "port": 0, "mode": "both",
            "labels": {"k": "long"}, "ratio": 0}});
        assert_eq!(
            messages(&mut obj),
            [
                "spec.addresses[0]: Invalid value: \"integer\": spec.addresses[0] in body must be of type string: \"integer\"",
                "spec.addresses[1]: Invalid value: \"UPPER\": spec.addresses[1] in body should match '^[0-9a-f.:/-]+$'",
                "spec.labels[k]: Too long: may not be longer than 3",
                "spec.mode: Unsupported value: \"both\": supported values: \"internal\", \"external\"",
                "spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1",
                "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0",
            ]
        );
    }

    #[test]
    fn required_bounds_and_formats() {
        let mut obj = json!({"spec": {"port": 4294967296u64}});
        assert_eq!(
            messages(&mut obj),
            [
                "spec.port: Invalid value: 4294967296: spec.port in body must be of type int32: \"4294967296\"",
                "spec.addresses: Required value",
            ]
        );
        let mut obj = json!({"spec": {"addresses": []}});
        assert_eq!(
            messages(&mut obj),
            ["spec.addresses: Invalid value: 0: spec.addresses in body should have at least 1 items"]
        );
    }

    #[test]
    fn unknown_fields_and_non_nullable_nulls_are_pruned() {
        let mut obj = json!({"spec": {"addresses": ["10.0.0.1/32"], "extra": 1, "port": null,
            "free": {"kept": true}}, "other": {}});
        assert!(messages(&mut obj).is_empty());
        assert_eq!(
            obj,
            json!({"spec": {"addresses": ["10.0.0.1/32"], "free": {"kept": true}}})
        );
    }
}
