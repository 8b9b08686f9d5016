//! Kubernetes `Status` error bodies (`kind: Status`, `status: Failure`), as the real API server sends them.

use serde_json::{json, Value};

use crate::schema_validation::FieldError;

/// An API error: HTTP code, machine-readable reason and a human message, rendered as a `Status` object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code (404, 409, 410, 422, ...).
    pub code: u16,
    /// The `reason` field (`NotFound`, `AlreadyExists`, `Conflict`, `Expired`, `Invalid`, `BadRequest`, ...).
    pub reason: &'static str,
    /// The human-readable message.
    pub message: String,
    /// `details` (name, group, kind) when the error concerns one object.
    pub details: Option<Box<Details>>,
}

/// The `details` part of a `Status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    /// Object name.
    pub name: String,
    /// API group ("" for core).
    pub group: String,
    /// Resource plural (the real server puts the resource in `details.kind`), or the kind for
    /// a custom resource that failed its schema.
    pub kind: String,
    /// `details.causes`: one per rejected field.
    pub causes: Vec<FieldError>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, group: &str, resource: &str, name: &str) -> Self {
        self.details = Some(Box::new(Details {
            name: name.to_string(),
            group: group.to_string(),
            kind: resource.to_string(),
            causes: Vec::new(),
        }));
        self
    }

    /// 404 NotFound for one object: `services "web" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 404 NotFound for a path the server does not serve.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource (path {path})"),
        )
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 409 Conflict: optimistic concurrency failure on a stale `resourceVersion`.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified(group, resource)
            ),
        )
        .with_details(group, resource, name)
    }

    /// 410 Gone / Expired: a watch asked for a resourceVersion older than the retained history.
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 422 Invalid (a field has a bad value).
    pub fn invalid(group: &str, resource: &str, name: &str, message: impl Into<String>) -> Self {
        Self::new(
            422,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {}",
                qualified(group, resource),
                message.into()
            ),
        )
        .with_details(group, resource, name)
    }

    /// 422 Invalid for a custom resource that does not match its schema, one cause per field, as
    /// the real server words it: `IPAddressPool.metallb.io "p" is invalid: spec.addresses: Required
    /// value` (several causes in brackets, comma-separated).
    pub fn invalid_fields(group: &str, kind: &str, name: &str, causes: Vec<FieldError>) -> Self {
        let list: Vec<String> = causes.iter().map(ToString::to_string).collect();
        let list = match list.as_slice() {
            [one] => one.clone(),
            _ => format!("[{}]", list.join(", ")),
        };
        let mut error = Self::new(
            422,
            "Invalid",
            format!("{kind}.{group} \"{name}\" is invalid: {list}"),
        )
        .with_details(group, kind, name);
        if let Some(d) = error.details.as_mut() {
            d.causes = causes;
        }
        error
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    /// 500 InternalError, used by failure injection.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The error as a `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            status["details"] = json!({ "name": d.name, "group": d.group, "kind": d.kind });
            if !d.causes.is_empty() {
                let causes: Vec<Value> = d
                    .causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
                status["details"]["causes"] = Value::Array(causes);
            }
        }
        status
    }
}

/// `services` or `leases.coordination.k8s.io`, as the real server names resources in messages.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// A `Status` object for a successful delete of a resource that returns no object.
pub fn success() -> Value {
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" })
}
