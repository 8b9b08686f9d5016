//! A 429 with `Retry-After` is handed back to the controller at once, with the server's wait:
//! the kube client built with `client_config` sends the write exactly once (the default kube
//! client would resend it up to 15 times, holding the caller). A bare HTTP server on loopback
//! plays an overloaded API server.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolb_controller::status::{write_ingress, WriteError};
use ferrolb_view::{CopyVersion, ServiceView};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const STATUS: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many requests, please try again later","reason":"TooManyRequests","code":429}"#;

/// Answers every request 429 with `Retry-After: 2`; counts the requests.
async fn overloaded_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut read = 0;
                // Headers and the small body arrive together; a request is answered once its
                // header block is complete.
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = format!(
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{STATUS}",
                    STATUS.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, requests)
}

#[tokio::test]
async fn a_throttled_write_comes_back_at_once_with_the_servers_wait() {
    let (url, requests) = overloaded_server().await;
    let config = ferrolb_controller::client_config(kube::Config::new(url.parse().expect("url")));
    let client = kube::Client::try_from(config).expect("client");
    let mut view = ServiceView::load_balancer("apps", "web");
    view.uid = Some("u-1".into());
    view.resource_version = CopyVersion(Some("7".into()));
    let ip: IpAddr = "198.51.100.7".parse().expect("literal address");

    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(5), write_ingress(&client, &view, &[ip]))
        .await
        .expect("the write came back");
    let took = started.elapsed();
    match result {
        Err(WriteError::Throttled {
            code, retry_after, ..
        }) => {
            assert_eq!(code, 429);
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("expected a throttled write, got {other:?}"),
    }
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "sent once, no retries hidden in the client"
    );
    assert!(took < Duration::from_secs(1), "came back after {took:?}");
}
