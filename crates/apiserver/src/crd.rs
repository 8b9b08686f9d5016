//! CustomResourceDefinitions (`apiextensions.k8s.io/v1`): the resources a definition serves, checked as
//! the real server checks them, and the `status` the real server writes (`acceptedNames`, conditions
//! `NamesAccepted` and `Established`).
//!
//! Entries are interned: each distinct definition is allocated once per process and then shared by every
//! store that defines it, so redefining the same CRD (every `kubectl apply`) allocates nothing new.

use std::sync::Mutex;

use serde_json::{json, Value};

use crate::meta;
use crate::registry::{PrinterColumn, ResourceInfo};
use crate::status::ApiError;

/// The group and plural of CustomResourceDefinitions themselves.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
/// See [`CRD_GROUP`].
pub const CRD_PLURAL: &str = "customresourcedefinitions";

/// Whether `res` is the CustomResourceDefinition resource.
pub fn is_crd(res: &ResourceInfo) -> bool {
    res.group == CRD_GROUP && res.plural == CRD_PLURAL
}

static STRINGS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
static NAME_LISTS: Mutex<Vec<&'static [&'static str]>> = Mutex::new(Vec::new());
static COLUMN_LISTS: Mutex<Vec<&'static [PrinterColumn]>> = Mutex::new(Vec::new());
static ENTRIES: Mutex<Vec<&'static ResourceInfo>> = Mutex::new(Vec::new());

/// The interned copy of `value` in `pool`, leaking a new one (made by `leak`) only the first time.
fn intern_in<T: PartialEq + ?Sized>(
    pool: &Mutex<Vec<&'static T>>,
    value: &T,
    leak: impl FnOnce() -> &'static T,
) -> &'static T {
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = pool.iter().find(|x| **x == value) {
        return found;
    }
    let leaked = leak();
    pool.push(leaked);
    leaked
}

fn intern_str(s: &str) -> &'static str {
    intern_in(&STRINGS, s, || Box::leak(s.to_string().into_boxed_str()))
}

fn intern_slice<T: Clone + PartialEq>(
    pool: &Mutex<Vec<&'static [T]>>,
    items: Vec<T>,
) -> &'static [T] {
    if items.is_empty() {
        return &[];
    }
    intern_in(pool, items.as_slice(), || {
        Box::leak(items.clone().into_boxed_slice())
    })
}

fn intern(info: ResourceInfo) -> &'static ResourceInfo {
    intern_in(&ENTRIES, &info, || Box::leak(Box::new(info.clone())))
}

/// A CRD field read as text, or a 422 naming the field.
fn text<'a>(crd: &'a Value, name: &str, path: &str) -> Result<&'a str, ApiError> {
    crd.pointer(&format!("/{}", path.replace('.', "/")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(name, format!("{path}: Required value")))
}

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::invalid(CRD_GROUP, CRD_PLURAL, name, message)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn columns(version: &Value) -> Vec<PrinterColumn> {
    version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .filter_map(|c| {
                    Some(PrinterColumn {
                        name: intern_str(c.get("name")?.as_str()?),
                        type_: intern_str(
                            c.get("type").and_then(Value::as_str).unwrap_or("string"),
                        ),
                        json_path: intern_str(c.get("jsonPath")?.as_str()?),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Check a CustomResourceDefinition (named `name`) as the real server does and return the resources
/// it serves: one per served version, the storage version first (the others are stored as it).
pub fn resources(name: &str, crd: &Value) -> Result<Vec<&'static ResourceInfo>, ApiError> {
    let group = text(crd, name, "spec.group")?;
    let plural = text(crd, name, "spec.names.plural")?;
    let kind = text(crd, name, "spec.names.kind")?;
    if name != format!("{plural}.{group}") {
        return Err(invalid(
            name,
            format!("metadata.name: Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if !group.contains('.') || !meta::valid_name(group) {
        return Err(invalid(
            name,
            format!(
                "spec.group: Invalid value: {group:?}: should be a domain with at least one dot"
            ),
        ));
    }
    if !meta::valid_name(plural) || plural.contains('.') {
        return Err(invalid(
            name,
            format!("spec.names.plural: Invalid value: {plural:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"),
        ));
    }
    let namespaced = match crd.pointer("/spec/scope").and_then(Value::as_str) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(invalid(
                name,
                format!("spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""),
            ))
        }
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid(name, "spec.versions: Invalid value: must have exactly one version marked as storage version".into()))?;
    let storage_count = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage_count != 1 {
        return Err(invalid(
            name,
            format!("spec.versions: Invalid value: {storage_count}: must have exactly one version marked as storage version"),
        ));
    }
    let short_names = strings(crd.pointer("/spec/names/shortNames"));
    let in_all = strings(crd.pointer("/spec/names/categories"))
        .iter()
        .any(|c| c == "all");
    let crd_name = intern_str(name);
    let short: &'static [&'static str] = intern_slice(
        &NAME_LISTS,
        short_names.iter().map(|s| intern_str(s)).collect(),
    );
    let (group, plural, kind) = (intern_str(group), intern_str(plural), intern_str(kind));
    let mut out = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let version = v
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| meta::valid_name(n) && !n.contains('.'))
            .ok_or_else(|| {
                invalid(
                    name,
                    format!(
                        "spec.versions[{i}].name: Invalid value: {:?}",
                        v.get("name")
                    ),
                )
            })?;
        let storage = v.get("storage").and_then(Value::as_bool) == Some(true);
        let served = v.get("served").and_then(Value::as_bool) == Some(true);
        if !served && !storage {
            continue;
        }
        let info = ResourceInfo {
            group,
            version: intern_str(version),
            plural,
            kind,
            namespaced,
            status_subresource: v.pointer("/subresources/status").is_some(),
            short_names: short,
            in_all,
            stored_as: (!storage).then_some((group, plural)),
            crd: Some(crd_name),
            columns: intern_slice(&COLUMN_LISTS, columns(v)),
        };
        let entry = intern(info);
        if storage {
            out.insert(0, entry);
        } else {
            out.push(entry);
        }
    }
    Ok(out)
}

/// The `status` the real server writes for an accepted definition.
pub fn status(crd: &Value, old_status: Option<&Value>) -> Value {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let kind = names.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut accepted = names.clone();
    if accepted.get("singular").is_none() {
        accepted["singular"] = json!(kind.to_ascii_lowercase());
    }
    if accepted.get("listKind").is_none() {
        accepted["listKind"] = json!(format!("{kind}List"));
    }
    let since = |t: &str| {
        old_status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(t))
            })
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(meta::now_rfc3339()))
    };
    let condition = |t: &str, reason: &str, message: &str| json!({"type": t, "status": "True", "lastTransitionTime": since(t), "reason": reason, "message": message});
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_crd() -> Value {
        json!({
            "metadata": {"name": "ipaddresspools.metallb.io"},
            "spec": {
                "group": "metallb.io", "scope": "Namespaced",
                "names": {"kind": "IPAddressPool", "plural": "ipaddresspools", "shortNames": ["pool"]},
                "versions": [
                    {"name": "v1beta1", "served": true, "storage": true, "subresources": {"status": {}},
                     "additionalPrinterColumns": [{"name": "Auto Assign", "type": "boolean", "jsonPath": ".spec.autoAssign"}]},
                    {"name": "v1alpha1", "served": false, "storage": false}
                ]
            }
        })
    }

    #[test]
    fn served_versions_become_resources_interned_once() {
        let a = resources("ipaddresspools.metallb.io", &pool_crd()).unwrap();
        let b = resources("ipaddresspools.metallb.io", &pool_crd()).unwrap();
        assert_eq!(a.len(), 1, "v1alpha1 is not served");
        assert!(
            std::ptr::eq(a[0], b[0]),
            "the same definition is allocated once"
        );
        let r = a[0];
        assert_eq!(
            (r.group, r.version, r.plural, r.kind),
            ("metallb.io", "v1beta1", "ipaddresspools", "IPAddressPool")
        );
        assert!(r.namespaced && r.status_subresource);
        assert_eq!(r.short_names, ["pool"]);
        assert_eq!(r.columns[0].json_path, ".spec.autoAssign");
    }

    #[test]
    fn invalid_definitions_name_the_field() {
        let mut crd = pool_crd();
        let err = resources("pools.metallb.io", &crd).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.contains("metadata.name"), "{}", err.message);
        crd["spec"]["scope"] = json!("Galaxy");
        let err = resources("ipaddresspools.metallb.io", &crd).unwrap_err();
        assert!(
            err.message.contains("spec.scope: Unsupported value"),
            "{}",
            err.message
        );
        crd["spec"]["scope"] = json!("Cluster");
        crd["spec"]["versions"][1]["storage"] = json!(true);
        let err = resources("ipaddresspools.metallb.io", &crd).unwrap_err();
        assert!(
            err.message
                .contains("exactly one version marked as storage"),
            "{}",
            err.message
        );
        crd["spec"]["names"].as_object_mut().unwrap().remove("kind");
        let err = resources("ipaddresspools.metallb.io", &crd).unwrap_err();
        assert!(
            err.message.contains("spec.names.kind: Required value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn status_accepts_names_and_keeps_transition_times() {
        let crd = pool_crd();
        let first = status(&crd, None);
        assert_eq!(first["acceptedNames"]["listKind"], "IPAddressPoolList");
        assert_eq!(first["acceptedNames"]["singular"], "ipaddresspool");
        assert_eq!(first["conditions"][1]["type"], "Established");
        assert_eq!(first["storedVersions"], json!(["v1beta1"]));
        let mut old = first.clone();
        old["conditions"][1]["lastTransitionTime"] = json!("2020-01-01T00:00:00Z");
        assert_eq!(
            status(&crd, Some(&old))["conditions"][1]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
    }
}
