//! Request paths: which resource, namespace, name and subresource a path names, and the RBAC verb a
//! method means on it.

use std::collections::HashMap;

use axum::http::Method;

use crate::registry::{Registry, ResourceInfo};

/// A resource path: `/api/v1/namespaces/{ns}/services/{name}/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// The resource.
    pub res: &'static ResourceInfo,
    /// Namespace in the path (None: cluster-scoped, or all namespaces).
    pub namespace: Option<String>,
    /// Object name (None: the collection).
    pub name: Option<String>,
    /// Subresource (`status`).
    pub subresource: Option<String>,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/readyz`, `/livez`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: (group, version).
    Resources(String, String),
    /// A resource, collection or object.
    Resource(ResourcePath),
    /// `/openapi/v3`.
    OpenApiRoot,
    /// `/openapi/v3/<group version path>`.
    OpenApiDoc(String),
    /// Anything else.
    Unknown,
}

/// Parse a request path against the resources `registry` serves.
pub fn route(path: &str, registry: &Registry) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "readyz" | "livez"] => return Route::Health,
        ["api"] => return Route::CoreVersions,
        ["apis"] => return Route::Groups,
        ["apis", g] => return Route::Group(g.to_string()),
        ["openapi", "v3"] => return Route::OpenApiRoot,
        ["openapi", "v3", rest @ ..] => return Route::OpenApiDoc(rest.join("/")),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Route::Unknown,
    };
    if rest.is_empty() {
        return Route::Resources(group.to_string(), version.to_string());
    }
    let namespaced = match rest {
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => registry
            .find(group, version, plural)
            .filter(|r| r.namespaced)
            .map(|r| (r, Some(*ns), tail)),
        _ => None,
    };
    let (res, namespace, tail) = match namespaced {
        Some(x) => x,
        None => match rest {
            [plural, tail @ ..] if tail.len() <= 2 => match registry.find(group, version, plural) {
                Some(r) => (r, None, tail),
                None => return Route::Unknown,
            },
            _ => return Route::Unknown,
        },
    };
    Route::Resource(ResourcePath {
        res,
        namespace: namespace.map(str::to_string),
        name: tail.first().map(|s| s.to_string()),
        subresource: tail.get(1).map(|s| s.to_string()),
    })
}

/// The RBAC verb of a request (None: method not allowed on this path).
pub fn verb(
    method: &Method,
    p: &ResourcePath,
    q: &HashMap<String, String>,
) -> Option<&'static str> {
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    Some(match (method.as_str(), p.name.is_some()) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) if watch => "watch",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |p: &str| match route(p, Registry::builtin()) {
            Route::Resource(rp) => {
                format!(
                    "{} {:?} {:?} {:?}",
                    rp.res.qualified_name(),
                    rp.namespace,
                    rp.name,
                    rp.subresource
                )
            }
            other => format!("{other:?}"),
        };
        assert_eq!(
            r("/api/v1/namespaces/ns/services/web/status"),
            r#"services Some("ns") Some("web") Some("status")"#
        );
        assert_eq!(r("/api/v1/services"), "services None None None");
        assert_eq!(r("/api/v1/namespaces"), "namespaces None None None");
        assert_eq!(
            r("/api/v1/namespaces/x"),
            r#"namespaces None Some("x") None"#
        );
        assert_eq!(
            r("/api/v1/namespaces/x/status"),
            r#"namespaces None Some("x") Some("status")"#
        );
        assert_eq!(
            r("/apis/coordination.k8s.io/v1/namespaces/a/leases/l"),
            r#"leases.coordination.k8s.io Some("a") Some("l") None"#
        );
        assert_eq!(r("/api/v1"), r#"Resources("", "v1")"#);
        assert_eq!(r("/api/v1/widgets"), "Unknown");
        assert_eq!(r("/openapi/v2"), "Unknown");
    }
}
