//! Watch streams: newline-delimited JSON `WatchEvent`s (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR) after a
//! resourceVersion, with periodic bookmarks, timeouts, and 410 Gone for versions out of the history.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::registry::ResourceInfo;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{EventType, Store};

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `resourceVersion` unset or "0": synthetic ADDED events for the current objects, then changes.
    Current,
    /// After this resourceVersion: only changes after it (410 if it is older than the history).
    After(u64),
}

/// Turns an object into what the stream carries (the object itself, or a one-row Table for kubectl).
pub type Render = fn(&'static ResourceInfo, &Value) -> Value;

/// One watch request.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// The watched resource.
    pub resource: &'static ResourceInfo,
    /// Only this namespace (None: all).
    pub namespace: Option<String>,
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Start point.
    pub start: Start,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: synthetic ADDED events, then a bookmark annotated `k8s.io/initial-events-end`.
    pub send_initial_events: bool,
    /// Interval between bookmarks.
    pub bookmark_interval: Duration,
    /// End the stream after this long (`timeoutSeconds`).
    pub timeout: Option<Duration>,
    /// Object rendering.
    pub render: Render,
}

impl WatchRequest {
    fn in_scope(&self, obj: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                == ns
        });
        ns_ok && self.labels.matches(obj) && self.fields.matches(obj)
    }

    fn line(&self, kind: &str, obj: &Value) -> Bytes {
        let ev = json!({ "type": kind, "object": (self.render)(self.resource, obj) });
        let mut s = ev.to_string();
        s.push('\n');
        Bytes::from(s)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({ "resourceVersion": rv.to_string() });
        if initial_end {
            meta["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let obj = json!({ "kind": self.resource.kind, "apiVersion": self.resource.api_version(), "metadata": meta });
        let mut s = json!({ "type": "BOOKMARK", "object": obj }).to_string();
        s.push('\n');
        Bytes::from(s)
    }
}

fn error_line(err: &ApiError) -> Bytes {
    let mut s = json!({ "type": "ERROR", "object": err.to_status() }).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Start streaming; the returned body ends when the watch ends (timeout, expiry, close, client gone).
pub fn stream(store: Store, req: WatchRequest) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    tokio::spawn(run(store, req, tx));
    Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>))
}

async fn run(store: Store, req: WatchRequest, tx: mpsc::Sender<Bytes>) {
    let mut signal = store.subscribe();
    let initial = *signal.borrow_and_update();
    let send_list = req.start == Start::Current || req.send_initial_events;
    let mut pos = match req.start {
        Start::After(rv) => rv,
        Start::Current => 0,
    };
    if send_list {
        let (items, rv) = store.list(req.resource, req.namespace.as_deref());
        for obj in items.iter().filter(|o| req.in_scope(o)) {
            if tx.send(req.line("ADDED", obj)).await.is_err() {
                return;
            }
        }
        pos = pos.max(rv);
        if req.send_initial_events && tx.send(req.bookmark(pos, true)).await.is_err() {
            return;
        }
    }
    let deadline = req.timeout.map(|t| Instant::now() + t);
    let mut ticker = tokio::time::interval_at(
        Instant::now() + req.bookmark_interval,
        req.bookmark_interval,
    );
    loop {
        match store.events_since(req.resource, pos) {
            Err(err) => {
                let _ = tx.send(error_line(&err)).await;
                return;
            }
            Ok((events, upto)) => {
                for ev in events {
                    let now_in = req.in_scope(&ev.object);
                    let was_in = ev.previous.as_ref().is_some_and(|p| req.in_scope(p));
                    let kind = match (ev.kind, was_in, now_in) {
                        (EventType::Deleted, true, _) => "DELETED",
                        (EventType::Deleted, false, _) => continue,
                        (_, true, true) => "MODIFIED",
                        (_, false, true) => "ADDED",
                        (_, true, false) => "DELETED",
                        (_, false, false) => continue,
                    };
                    if tx.send(req.line(kind, &ev.object)).await.is_err() {
                        return;
                    }
                }
                pos = upto;
            }
        }
        tokio::select! {
            changed = signal.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = *signal.borrow_and_update();
                if now.expire_epoch != initial.expire_epoch {
                    let _ = tx.send(error_line(&ApiError::expired(pos, store.oldest_resource_version()))).await;
                    return;
                }
                if now.close_epoch != initial.close_epoch {
                    return;
                }
            }
            _ = ticker.tick() => {
                if req.bookmarks && tx.send(req.bookmark(pos, false)).await.is_err() {
                    return;
                }
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => return,
            _ = tx.closed() => return,
        }
    }
}
