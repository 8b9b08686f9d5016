//! Serve an empty in-memory API on an address until Ctrl-C:
//! `cargo run -p ferrolb-apiserver --example serve -- 127.0.0.1:8080`, then
//! `kubectl --server http://127.0.0.1:8080 get ns`.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()?;
    let server = ferrolb_apiserver::ApiServer::start(addr).await?;
    println!("serving on {}", server.url());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
