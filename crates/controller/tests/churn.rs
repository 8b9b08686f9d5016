//! Two controllers under churn (creates, deletes, same-name re-creates, LoadBalancer <->
//! ClusterIP flips, forced 410 relists, injected 429/500/409 on status writes), watched by an
//! auditor with its own list+watch that checks every event in order: no address on two Services,
//! none outside the pool, no address change on a Service that had one. A short smoke run of
//! the promise; the long harness with the independent auditor lives in `tests/`.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ferrolb_view::ServiceView;
use futures::StreamExt;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::watcher::{self, watcher, Event};
use kube::Api;
use serde_json::json;

const POOL: &str = "198.51.100.0/27";
const NAMES: usize = 24;
const CHURN: Duration = Duration::from_secs(15);

/// What the auditor knows of one Service: its uid and the addresses it shows.
#[derive(Clone, Debug)]
struct Seen {
    uid: String,
    ips: Vec<IpAddr>,
}

#[derive(Default)]
struct Auditor {
    services: BTreeMap<String, Seen>,
    buffer: Option<BTreeMap<String, Seen>>,
    violations: Vec<String>,
    events: u64,
}

impl Auditor {
    fn seen(service: &Service) -> (String, Seen) {
        let view = ServiceView::from_service(service);
        let uid = view.uid.unwrap_or_default();
        (
            view.name,
            Seen {
                uid,
                ips: view.ingress_ips,
            },
        )
    }

    fn check_all(&mut self, context: &str) {
        let pool: IpNet = POOL.parse().expect("literal network");
        let mut owners: BTreeMap<IpAddr, &str> = BTreeMap::new();
        for (name, seen) in &self.services {
            for ip in &seen.ips {
                if !pool.contains(ip) {
                    self.violations
                        .push(format!("{context}: {name} shows {ip}, outside {POOL}"));
                }
                if let Some(other) = owners.insert(*ip, name) {
                    self.violations
                        .push(format!("{context}: {ip} shown by {other} and {name}"));
                }
            }
        }
    }

    fn on(&mut self, event: Event<Service>) {
        self.events += 1;
        match event {
            Event::Init => self.buffer = Some(BTreeMap::new()),
            Event::InitApply(service) => {
                let (name, seen) = Self::seen(&service);
                self.buffer
                    .get_or_insert_with(BTreeMap::new)
                    .insert(name, seen);
            }
            Event::InitDone => {
                self.services = self.buffer.take().unwrap_or_default();
                self.check_all("list");
            }
            Event::Apply(service) => {
                let (name, seen) = Self::seen(&service);
                if let Some(before) = self.services.get(&name) {
                    if before.uid == seen.uid
                        && !before.ips.is_empty()
                        && !seen.ips.is_empty()
                        && before.ips != seen.ips
                    {
                        self.violations.push(format!(
                            "{name}: address changed from {:?} to {:?}",
                            before.ips, seen.ips
                        ));
                    }
                }
                self.services.insert(name.clone(), seen);
                self.check_all(&format!("after {name} changed"));
            }
            Event::Delete(service) => {
                let (name, _) = Self::seen(&service);
                self.services.remove(&name);
            }
        }
    }
}

/// A small deterministic generator (the same churn every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_never_shows_one_address_on_two_services() {
    let server = api_server().await;
    server
        .store()
        .seed(config_map(&config_text(&[("p", &[POOL])])))
        .expect("seed config");
    let a = ferrolb_controller::start(client(&server), options("ctl-a", Some(2)))
        .await
        .expect("start ctl-a");
    wait_writing(&a).await;
    let b = ferrolb_controller::start(client(&server), options("ctl-b", Some(2)))
        .await
        .expect("start ctl-b");

    let auditor = Arc::new(Mutex::new(Auditor::default()));
    let audit_task = {
        let auditor = auditor.clone();
        let api: Api<Service> = Api::all(client(&server));
        tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default()).boxed();
            while let Some(event) = stream.next().await {
                if let Ok(event) = event {
                    auditor.lock().expect("auditor").on(event);
                }
            }
        })
    };

    let services: Api<Service> = Api::namespaced(client(&server), "default");
    let mut rng = Lcg(7);
    let started = Instant::now();
    let mut ops = 0u64;
    while started.elapsed() < CHURN {
        let name = format!("svc-{}", rng.next(NAMES as u64));
        match rng.next(100) {
            0..=34 => {
                let _ = server.store().seed(lb_service("default", &name));
            }
            35..=54 => {
                let _ = services.delete(&name, &Default::default()).await;
            }
            55..=69 => {
                // delete and re-create under the same name at once
                let _ = services.delete(&name, &Default::default()).await;
                let _ = server.store().seed(lb_service("default", &name));
            }
            70..=89 => {
                let kind = if rng.next(2) == 0 {
                    "ClusterIP"
                } else {
                    "LoadBalancer"
                };
                let _ = services
                    .patch(
                        &name,
                        &kube::api::PatchParams::default(),
                        &kube::api::Patch::Merge(json!({ "spec": { "type": kind } })),
                    )
                    .await;
            }
            90..=93 => server.store().expire_watches(),
            94..=95 => server.calls().fail_next("patch", "services/status", 429, 3),
            96..=97 => server.calls().fail_next("patch", "services/status", 500, 3),
            _ => server.calls().fail_next("patch", "services/status", 409, 2),
        }
        ops += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Converged: every LoadBalancer Service has an address (fewer names than addresses), every
    // other Service shows none.
    let converged = wait_for("the controllers to converge", || {
        let list = server.store().list_objects("services", Some("default"));
        let lb: Vec<_> = list
            .iter()
            .filter(|s| s.pointer("/spec/type").and_then(|t| t.as_str()) == Some("LoadBalancer"))
            .collect();
        let shown =
            |s: &&serde_json::Value| s.pointer("/status/loadBalancer/ingress/0/ip").is_some();
        let others_clear = list
            .iter()
            .filter(|s| s.pointer("/spec/type").and_then(|t| t.as_str()) != Some("LoadBalancer"))
            .all(|s| !shown(&s));
        let with_ip = lb.iter().filter(|s| shown(s)).count();
        let all_served = with_ip == lb.len();
        (others_clear && all_served).then_some((lb.len(), with_ip))
    })
    .await;
    audit_task.abort();
    let (events, violations) = {
        let auditor = auditor.lock().expect("auditor");
        (auditor.events, auditor.violations.clone())
    };
    eprintln!(
        "churn: {ops} operations in {CHURN:?}; auditor saw {events} events; end: {} LoadBalancer Services, {} with an address; {} status writes answered 200",
        converged.0,
        converged.1,
        status_patches(&server, Some(200)).len()
    );
    assert!(
        violations.is_empty(),
        "{} violations: {:#?}",
        violations.len(),
        violations.iter().take(20).collect::<Vec<_>>()
    );
    a.shutdown().await.expect("clean shutdown");
    b.shutdown().await.expect("clean shutdown");
}
