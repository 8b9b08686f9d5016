//! Shared helpers for the integration tests: a server plus a real kube client pointed at it.

#![allow(dead_code)]

use std::time::Duration;

use ferrolb_apiserver::{ApiServer, Options, RunningServer};

/// A started server and a kube client for it.
pub struct Fixture {
    pub server: RunningServer,
    pub client: kube::Client,
}

/// Start a server on a free loopback port with `options` and build a kube client with `kube::Config::new`.
pub async fn fixture_with(options: Options) -> Fixture {
    let server = ApiServer::start_with("127.0.0.1:0".parse().expect("addr"), options)
        .await
        .expect("start");
    let config = kube::Config::new(server.url().parse().expect("url"));
    let client = kube::Client::try_from(config).expect("client");
    Fixture { server, client }
}

/// A fixture with 200 ms bookmarks.
pub async fn fixture() -> Fixture {
    fixture_with(Options {
        bookmark_interval: Duration::from_millis(200),
        ..Options::default()
    })
    .await
}

/// The API error code of a kube error (panics on other errors: tests only).
pub fn code(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A LoadBalancer Service named `name` in `ns`.
pub fn lb_service(ns: &str, name: &str) -> k8s_openapi::api::core::v1::Service {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .expect("service")
}

/// One raw HTTP/1.1 request (Connection: close); returns the status code and the body text.
pub async fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}
