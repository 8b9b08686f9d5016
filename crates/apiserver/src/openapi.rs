//! A minimal OpenAPI v3 surface, enough for kubectl's field-validation check: `/openapi/v3` lists one
//! document per group version, and each document declares, for every resource, a PATCH operation tagged
//! with its group/version/kind that accepts the `fieldValidation` query parameter. kubectl then uses
//! server-side field validation instead of downloading schemas, so plain `kubectl apply -f` works.
//! The server accepts `fieldValidation` and does not check unknown fields (there are no schemas).
//! Object schemas are permissive (`x-kubernetes-preserve-unknown-fields`).

use serde_json::{json, Map, Value};

use crate::registry::{Registry, ResourceInfo};

/// The hash part of the document URLs; constant because the documents never change.
const HASH: &str = "ferrolb0001";

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the discovery root.
pub fn root(registry: &Registry) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    for (g, versions) in registry.groups() {
        gvs.extend(versions.into_iter().map(|v| (g, v)));
    }
    for (g, v) in gvs {
        let p = gv_path(g, v);
        paths.insert(
            p.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{p}?hash={HASH}") }),
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
pub fn document(registry: &Registry, path: &str) -> Option<Value> {
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
        schemas.insert(
            schema_name(r),
            json!({
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": true,
                "x-kubernetes-group-version-kind": [{ "group": r.group, "version": r.version, "kind": r.kind }],
                "properties": {
                    "apiVersion": { "type": "string" },
                    "kind": { "type": "string" },
                    "metadata": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
                }
            }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes (ferrolb in-memory API)", "version": "v1.33.0" },
        "paths": paths,
        "components": { "schemas": schemas }
    }))
}
