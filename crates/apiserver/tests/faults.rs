//! Fault injection through the real kube client and raw HTTP: 429/503 with `Retry-After`, 409, 500,
//! forced relists (410 on a watch), rates, per-client rules, and the timestamped request log.

mod common;

use std::time::Duration;

use common::*;
use ferrolb_apiserver::Fault;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

/// One raw GET; returns the whole response text (status line, headers, body).
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: raw-test\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .expect("read");
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn injected_429_carries_retry_after_and_a_status_then_stops() {
    let f = fixture().await;
    f.server
        .calls()
        .inject(Fault::new("get", "services", 429).retry_after(2).times(1));
    let text = raw_get(f.server.addr(), "/api/v1/namespaces/default/services/web").await;
    let lower = text.to_ascii_lowercase();
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(lower.contains("\r\nretry-after: 2\r\n"), "{text}");
    assert!(text.contains("\"reason\":\"TooManyRequests\""), "{text}");
    assert!(text.contains("\"retryAfterSeconds\":2"), "{text}");
    // The budget of one is spent: the next request reaches the store (404, the Service is not there).
    let text = raw_get(f.server.addr(), "/api/v1/namespaces/default/services/web").await;
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    let log = f.server.calls().requests("get", "services", Some("web"));
    assert_eq!(
        log.iter()
            .map(|r| (r.status, r.injected, r.retry_after))
            .collect::<Vec<_>>(),
        [(429, true, Some(2)), (404, false, None)]
    );
    assert_eq!(log[0].user_agent.as_deref(), Some("raw-test"));
}

#[tokio::test]
async fn the_kube_client_waits_retry_after_and_the_log_shows_it() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    svcs.create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .expect("create");
    f.server
        .calls()
        .inject(Fault::new("get", "services", 503).retry_after(1).times(2));
    // kube retries 503 by itself, honouring Retry-After: three requests, one second apart.
    svcs.get("web").await.expect("get after two 503s");
    let log = f.server.calls().requests("get", "services", Some("web"));
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
    for pair in log.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(950),
            "retry came after {gap:?}, before Retry-After"
        );
    }
}

#[tokio::test]
async fn rules_match_by_rate_name_and_client() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    for name in ["a", "b"] {
        svcs.create(&PostParams::default(), &lb_service("default", name))
            .await
            .expect("create");
    }
    // A second client that names itself, as a test's own observer would.
    let mut config = kube::Config::new(f.server.url().parse().expect("url"));
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static("ferrolb-audit/1"),
    ));
    let audit: Api<Service> =
        Api::namespaced(kube::Client::try_from(config).expect("client"), "default");
    let calls = f.server.calls();
    calls.inject(
        Fault::new("patch", "services/status", 409)
            .name("a")
            .every(2),
    );
    calls.inject(Fault::new("get", "services", 500).except_user_agent("ferrolb-audit"));
    let status =
        |ip: &str| Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}));
    let pp = PatchParams::default();
    let mut codes = Vec::new();
    for i in 0..4 {
        let r = svcs
            .patch_status("a", &pp, &status(&format!("198.51.100.{i}")))
            .await;
        codes.push(r.map(|_| 200).unwrap_or_else(|e| code(e).0));
    }
    assert_eq!(
        codes,
        [200, 409, 200, 409],
        "every 2nd patch of a conflicts"
    );
    svcs.patch_status("b", &pp, &status("198.51.100.9"))
        .await
        .expect("b is not named by the rule");
    assert_eq!(code(svcs.get("a").await.unwrap_err()).0, 500);
    audit.get("a").await.expect("the observer is spared");
    calls.clear_faults();
    svcs.get("a").await.expect("no rule left");
    let log = calls.requests("patch", "services/status", Some("a"));
    assert_eq!(log.iter().filter(|r| r.injected).count(), 2);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
}

/// The first event of a watch from `rv` (as a one-element list).
async fn first_event(svcs: &Api<Service>, rv: &str) -> Vec<WatchEvent<Service>> {
    svcs.watch(&WatchParams::default().timeout(2), rv)
        .await
        .expect("watch request")
        .take(1)
        .try_collect()
        .await
        .expect("events")
}

#[tokio::test]
async fn an_injected_410_on_a_watch_is_an_expired_error_event() {
    let f = fixture().await;
    let svcs: Api<Service> = Api::namespaced(f.client.clone(), "default");
    let rv = svcs
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list resourceVersion");
    f.server
        .calls()
        .inject(Fault::new("watch", "services", 410).times(1));
    let events = first_event(&svcs, &rv).await;
    match &events[..] {
        [WatchEvent::Error(e)] => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected one 410 ERROR event, got {other:?}"),
    }
    // The next watch is served normally.
    svcs.create(&PostParams::default(), &lb_service("default", "web"))
        .await
        .expect("create");
    let events = first_event(&svcs, &rv).await;
    assert!(
        matches!(&events[..], [WatchEvent::Added(s)] if s.metadata.name.as_deref() == Some("web")),
        "{events:?}"
    );
}
