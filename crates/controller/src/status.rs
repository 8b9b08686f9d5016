//! Writes `status.loadBalancer.ingress` through the Service's status subresource.
//!
//! A JSON merge patch of the status subresource replaces the whole `ingress` list (a list in a
//! merge patch is replaced, not merged), and `null` removes it: exactly the two writes the
//! controller needs, with one verb (`patch` on `services/status`).
//!
//! Every write carries the `metadata.uid` and `metadata.resourceVersion` of the copy of the
//! Service it was decided from. The API server applies a merge patch with a resourceVersion only
//! to that exact version and answers 409 Conflict otherwise, so a write decided from an old copy,
//! or addressed to a name that now belongs to a re-created object, never lands.
//!
//! The request is sent once: the kube client of the controller has its own retries turned off
//! (see [`crate::client_config`]) and the answer's `Retry-After` (header, or
//! `details.retryAfterSeconds` in the Status) is handed back, so the reconciler decides when to
//! try again while the lease is checked before every attempt.

use std::net::IpAddr;
use std::time::Duration;

use ferrolb_view::ServiceView;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::client::Body;
use kube::core::Status;
use kube::{Client, Resource};
use serde_json::{json, Value};

use crate::options::FIELD_MANAGER;

/// The longest `Retry-After` honoured; a larger value is treated as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why a status write did not land.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The Service is gone (404).
    #[error("the Service is gone")]
    NotFound,
    /// The Service changed since the copy the write was decided from, or is a new object of the
    /// same name (409 Conflict on the uid/resourceVersion precondition).
    #[error("the Service changed since it was read (409 Conflict): {0}")]
    Conflict(String),
    /// The API server asks to slow down (429, or 503/504 when overloaded).
    #[error("the API server is throttling ({code}): {message}")]
    Throttled {
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
        /// The server's `Retry-After`, capped at [`MAX_RETRY_AFTER`].
        retry_after: Option<Duration>,
    },
    /// Any other failure (other status codes, transport errors).
    #[error("{0}")]
    Other(String),
}

impl WriteError {
    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WriteError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The merge patch that sets `status.loadBalancer.ingress` to `ips` (empty: removes it), with
/// `view`'s uid and resourceVersion as preconditions.
pub fn ingress_patch(view: &ServiceView, ips: &[IpAddr]) -> Value {
    let ingress = if ips.is_empty() {
        Value::Null
    } else {
        Value::Array(
            ips.iter()
                .map(|ip| json!({ "ip": ip.to_string(), "ipMode": "VIP" }))
                .collect(),
        )
    };
    let mut metadata = serde_json::Map::new();
    if let Some(uid) = &view.uid {
        metadata.insert("uid".into(), json!(uid));
    }
    if let Some(rv) = view.resource_version.as_str() {
        metadata.insert("resourceVersion".into(), json!(rv));
    }
    json!({
        "metadata": metadata,
        "status": { "loadBalancer": { "ingress": ingress } },
    })
}

/// Sets (or with no IPs, clears) the ingress of the Service `view` was made from, only if it is
/// still that version. Returns the Service as written (its new resourceVersion included).
pub async fn write_ingress(
    client: &Client,
    view: &ServiceView,
    ips: &[IpAddr],
) -> Result<Service, WriteError> {
    let url = Service::url_path(&(), Some(&view.namespace));
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    let request = kube::core::Request::new(url)
        .patch_subresource(
            "status",
            &view.name,
            &params,
            &Patch::Merge(ingress_patch(view, ips)),
        )
        .map_err(|err| WriteError::Other(err.to_string()))?;
    let response = client
        .send(request.map(Body::from))
        .await
        .map_err(|err| WriteError::Other(err.to_string()))?;
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(|err| WriteError::Other(err.to_string()))?;
    if (200..300).contains(&code) {
        return serde_json::from_slice(&body)
            .map_err(|err| WriteError::Other(format!("unreadable answer: {err}")));
    }
    Err(classify(code, &body, retry_after))
}

/// Turns an error answer into a [`WriteError`].
fn classify(code: u16, body: &[u8], header_retry_after: Option<Duration>) -> WriteError {
    let status: Option<Status> = serde_json::from_slice(body).ok();
    let message = status
        .as_ref()
        .map(|s| s.message.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let body_retry_after = status
        .as_ref()
        .and_then(|s| s.details.as_ref())
        .map(|d| d.retry_after_seconds)
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(u64::from(s)));
    match code {
        404 => WriteError::NotFound,
        409 => WriteError::Conflict(message),
        429 | 503 | 504 => WriteError::Throttled {
            code,
            message,
            retry_after: header_retry_after
                .or(body_retry_after)
                .map(|d| d.min(MAX_RETRY_AFTER)),
        },
        _ => WriteError::Other(format!("{code}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrolb_view::CopyVersion;

    #[test]
    fn patch_lists_every_ip_clears_with_null_and_carries_the_preconditions() {
        let ips: Vec<IpAddr> = vec![
            "198.51.100.7".parse().unwrap(),
            "2001:db8::7".parse().unwrap(),
        ];
        let mut view = ServiceView::load_balancer("apps", "web");
        view.uid = Some("u-1".into());
        view.resource_version = CopyVersion(Some("42".into()));
        let patch = ingress_patch(&view, &ips);
        assert_eq!(
            patch["status"]["loadBalancer"]["ingress"][1]["ip"],
            json!("2001:db8::7")
        );
        assert_eq!(
            patch["metadata"],
            json!({ "uid": "u-1", "resourceVersion": "42" })
        );
        assert_eq!(
            ingress_patch(&view, &[])["status"],
            json!({ "loadBalancer": { "ingress": null } })
        );
    }

    #[test]
    fn throttling_keeps_the_servers_wait_capped() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"slow down","reason":"TooManyRequests","code":429,"details":{"retryAfterSeconds":3}}"#;
        let err = classify(429, body, None);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let err = classify(429, body, Some(Duration::from_secs(600)));
        assert_eq!(err.retry_after(), Some(MAX_RETRY_AFTER));
        assert!(matches!(
            classify(409, b"{}", None),
            WriteError::Conflict(_)
        ));
        assert!(matches!(classify(500, b"boom", None), WriteError::Other(m) if m.contains("500")));
    }
}
