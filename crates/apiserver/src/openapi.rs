//! A minimal OpenAPI v3 surface, enough for kubectl's field-validation check: `/openapi/v3` lists one
//! document per group version, and each document declares, for every resource, a PATCH operation tagged
//! with its group/version/kind that accepts the `fieldValidation` query parameter. kubectl then uses
//! server-side field validation instead of downloading schemas, so plain `kubectl apply -f` works.
//! Built-in kinds have permissive schemas (`x-kubernetes-preserve-unknown-fields`); a custom
//! resource's schema is its CRD version's `openAPIV3Schema`, so `kubectl explain` shows its field
//! descriptions. Each document's hash follows its content, so kubectl's cache sees new schemas.

use serde_json::{json, Map, Value};

use crate::registry::{Registry, ResourceInfo};

/// The schema of a resource when it has one (a custom resource's CRD version schema).
pub type SchemaOf<'a> = &'a dyn Fn(&'static ResourceInfo) -> Option<Value>;

/// The hash part of a document's URL: changes when the document does.
fn hash(document: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    document.to_string().hash(&mut h);
    format!("{:016x}", h.finish())
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the discovery root.
pub fn root(registry: &Registry, schema_of: SchemaOf) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    for (g, versions) in registry.groups() {
        gvs.extend(versions.into_iter().map(|v| (g, v)));
    }
    for (g, v) in gvs {
        let p = gv_path(g, v);
        let h = document(registry, &p, schema_of).map_or_else(String::new, |d| hash(&d));
        paths.insert(
            p.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{p}?hash={h}") }),
        );
    }
    json!({ "paths": paths })
}

fn schema_name(r: &ResourceInfo) -> String {
    let group = match r.group {
        "" => "core".to_string(),
        g => g.split('.').next().unwrap_or(g).to_string(),
    };
    format!("io.k8s.api.{group}.{}.{}", r.version, r.kind)
}

fn operation(r: &ResourceInfo, verb: &str) -> Value {
    json!({
        "operationId": format!("{verb}{}", r.kind),
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": { "group": r.group, "version": r.version, "kind": r.kind },
        "parameters": [
            { "name": "dryRun", "in": "query", "schema": { "type": "string" } },
            { "name": "fieldManager", "in": "query", "schema": { "type": "string" } },
            { "name": "fieldValidation", "in": "query", "schema": { "type": "string" } },
            { "name": "force", "in": "query", "schema": { "type": "boolean" } }
        ],
        "responses": { "200": { "description": "OK", "content": { "application/json": {
            "schema": { "$ref": format!("#/components/schemas/{}", schema_name(r)) } } } } }
    })
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`, if served.
pub fn document(registry: &Registry, path: &str, schema_of: SchemaOf) -> Option<Value> {
    let gv = path.trim_start_matches('/');
    let resources: Vec<&ResourceInfo> = registry
        .all()
        .filter(|r| gv_path(r.group, r.version) == gv)
        .collect();
    if resources.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in resources {
        let prefix = if r.group.is_empty() {
            format!("/api/{}", r.version)
        } else {
            format!("/apis/{}/{}", r.group, r.version)
        };
        let (collection, item) = if r.namespaced {
            (
                format!("{prefix}/namespaces/{{namespace}}/{}", r.plural),
                format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural),
            )
        } else {
            (
                format!("{prefix}/{}", r.plural),
                format!("{prefix}/{}/{{name}}", r.plural),
            )
        };
        paths.insert(collection, json!({ "post": operation(r, "post") }));
        paths.insert(
            item,
            json!({ "put": operation(r, "put"), "patch": operation(r, "patch") }),
        );
        let gvk = json!([{ "group": r.group, "version": r.version, "kind": r.kind }]);
        let schema = match schema_of(r) {
            Some(mut schema) if schema.is_object() => {
                schema["x-kubernetes-group-version-kind"] = gvk;
                schema
            }
            _ => json!({
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "x-kubernetes-group-version-kind": gvk,
                "properties": {
                    "apiVersion": { "type": "string" },
                    "kind": { "type": "string" },
                    "metadata": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
                }
            }),
        };
        schemas.insert(schema_name(r), schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes (ferrolb in-memory API)", "version": "v1.33.0" },
        "paths": paths,
        "components": { "schemas": schemas }
    }))
}
