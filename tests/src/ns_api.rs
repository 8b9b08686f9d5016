//! The in-process Kubernetes API fixture served from inside a network namespace, so that
//! processes in other namespaces (speakers on simulated nodes) reach it over veth links.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

use ferrolb_apiserver::{ApiServer, Store};

use crate::Netns;

/// A running API fixture inside a namespace; stopped on drop.
pub struct NsApi {
    /// Direct access to its objects.
    pub store: Store,
    /// Its port on every address of the namespace.
    pub port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NsApi {
    /// Starts the fixture on `0.0.0.0:0` inside `ns`, from a thread that entered it with
    /// setns(2): only that thread moves, and the sockets it creates live in the namespace.
    /// Panics when it cannot.
    pub fn start(ns: &Netns) -> NsApi {
        let path = format!("/var/run/netns/{}", ns.name());
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open the namespace file");
            nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("setns into the namespace");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let addr = SocketAddr::from(([0, 0, 0, 0], 0));
                let server = ApiServer::start(addr).await.expect("API fixture starts");
                let _ = tx.send((server.store().clone(), server.addr().port()));
                let _ = stop_rx.await;
                server.shutdown().await;
            });
        });
        let (store, port) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("API fixture started in the namespace");
        NsApi {
            store,
            port,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for NsApi {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
