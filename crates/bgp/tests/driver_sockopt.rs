//! Socket options on real TCP over loopback: TCP MD5 (RFC 2385) with equal and different keys,
//! for IPv4 and IPv6, and GTSM (RFC 5082) minimum TTL on the listener.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferrolb_bgp::driver::sockopt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

fn listener(
    addr: IpAddr,
    md5_for_peer: Option<(&IpAddr, &[u8])>,
    min_ttl: Option<u8>,
) -> TcpListener {
    let v6 = addr.is_ipv6();
    let sock = if v6 {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .expect("socket");
    sockopt::set_reuse_address(&sock).expect("reuseaddr");
    if let Some((peer, key)) = md5_for_peer {
        sockopt::set_md5_key(&sock, v6, *peer, Some(key)).expect("md5 on listener");
    }
    if let Some(min) = min_ttl {
        sockopt::set_min_ttl(&sock, v6, min).expect("min ttl");
    }
    sockopt::bind(&sock, SocketAddr::new(addr, 0)).expect("bind");
    sock.listen(16).expect("listen")
}

async fn connect(target: SocketAddr, md5: Option<&[u8]>, ttl: Option<u32>) -> Option<TcpStream> {
    let v6 = target.is_ipv6();
    let sock = if v6 {
        TcpSocket::new_v6()
    } else {
        TcpSocket::new_v4()
    }
    .expect("socket");
    if let Some(key) = md5 {
        sockopt::set_md5_key(&sock, v6, target.ip(), Some(key)).expect("md5 on connector");
    }
    if let Some(ttl) = ttl {
        sockopt::set_ttl(&sock, v6, ttl).expect("ttl");
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, sock.connect(target)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(_)) | Err(_) => None,
    }
}

async fn accepts_within(listener: &TcpListener, wait: Duration) -> bool {
    tokio::time::timeout(wait, listener.accept())
        .await
        .is_ok_and(|r| r.is_ok())
}

async fn md5_case(addr: IpAddr) {
    let server_key: &[u8] = b"s3cret-key";
    let l = listener(addr, Some((&addr, server_key)), None);
    let target = l.local_addr().expect("addr");

    let good = connect(target, Some(server_key), None).await;
    assert!(good.is_some(), "{addr}: same MD5 key must connect");
    assert!(
        accepts_within(&l, CONNECT_TIMEOUT).await,
        "{addr}: listener must accept"
    );

    let bad = connect(target, Some(b"other-key"), None).await;
    assert!(
        bad.is_none(),
        "{addr}: a different MD5 key must not connect"
    );
    let none = connect(target, None, None).await;
    assert!(
        none.is_none(),
        "{addr}: no MD5 key must not connect to an MD5 listener"
    );
    assert!(
        !accepts_within(&l, Duration::from_millis(200)).await,
        "{addr}: nothing more may be accepted"
    );
}

#[tokio::test]
async fn md5_same_key_connects_different_key_fails_v4() {
    md5_case("127.0.0.1".parse().expect("ip")).await;
}

#[tokio::test]
async fn md5_same_key_connects_different_key_fails_v6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("skipped: no IPv6 loopback (::1) in this environment");
        return;
    }
    md5_case("::1".parse().expect("ip")).await;
}

#[tokio::test]
async fn gtsm_min_ttl_drops_low_ttl_and_accepts_255() {
    // Loopback does not decrement the TTL: what the client sends is what the listener sees.
    let addr: IpAddr = "127.0.0.1".parse().expect("ip");
    let l = listener(addr, None, Some(sockopt::GTSM_MIN_TTL));
    let target = l.local_addr().expect("addr");
    let low = connect(target, None, Some(10)).await;
    assert!(low.is_none(), "TTL 10 must be dropped by IP_MINTTL 254");
    let ok = connect(target, None, Some(sockopt::GTSM_SEND_TTL)).await;
    assert!(ok.is_some(), "TTL 255 must pass IP_MINTTL 254");
    assert!(accepts_within(&l, CONNECT_TIMEOUT).await);
}

#[tokio::test]
async fn gtsm_min_hopcount_v6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        println!("skipped: no IPv6 loopback (::1) in this environment");
        return;
    }
    let addr: IpAddr = "::1".parse().expect("ip");
    let l = listener(addr, None, Some(sockopt::GTSM_MIN_TTL));
    let target = l.local_addr().expect("addr");
    assert!(
        connect(target, None, Some(3)).await.is_none(),
        "hop limit 3 must be dropped"
    );
    assert!(
        connect(target, None, Some(255)).await.is_some(),
        "hop limit 255 must pass"
    );
}
