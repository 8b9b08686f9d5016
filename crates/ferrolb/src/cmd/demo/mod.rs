//! `ferrolb demo`: the whole system in one process on an embedded default. An in-memory
//! Kubernetes API, the controller, two speakers for two simulated nodes (127.0.0.2 and
//! 127.0.0.3), and a built-in BGP collector on 127.0.0.1 standing in for the router. It
//! creates Services, prints what happens, then deletes one and stops a speaker.

mod collector;
mod scenario;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ferrolb_apiserver::{ApiServer, RunningServer};
use ferrolb_controller::reconciler::ControllerEvent;
use ferrolb_controller::ControllerHandle;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::Value;
use tokio::sync::broadcast;

use collector::{Collector, Table};
use scenario::{NAMESPACE, NODES, SERVICES};

/// Flags of `ferrolb demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Serve the embedded Kubernetes API on ADDR:PORT and keep running after the scripted part,
    /// so that `kubectl --server http://ADDR:PORT` can create Services (Ctrl-C stops).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Port of the built-in BGP collector on 127.0.0.1 (0: a free unprivileged port).
    #[arg(long, default_value_t = 0)]
    pub router_port: u16,
    /// How long each step may take before the demo gives up (seconds).
    #[arg(long, default_value_t = 30)]
    pub step_timeout: u64,
    /// Configure with MetalLB's custom resources (metallb.io objects, as `ferrolb config
    /// migrate` writes them from the demo's ConfigMap) instead of the ConfigMap.
    #[arg(long)]
    pub crds: bool,
}

/// The CRDs of MetalLB's kinds as shipped in `manifests/crds.yaml`.
const METALLB_CRDS: &str = include_str!("../../../../../manifests/crds.yaml");

/// The collector on `port`, or for `--crds` without a port a free one MetalLB's BGPPeer
/// `peerPort` accepts (1..=16384): up to 50 tries in 10000..16384.
async fn start_collector(port: u16, crds: bool) -> anyhow::Result<Collector> {
    if port != 0 || !crds {
        return Collector::start(port)
            .await
            .context("cannot start the built-in BGP collector on 127.0.0.1");
    }
    let seed = std::process::id() as usize;
    for i in 0..50 {
        let candidate = 10_000 + (seed * 7 + i * 131) % 6_000;
        if let Ok(c) = Collector::start(candidate as u16).await {
            return Ok(c);
        }
    }
    bail!("no free port in 10000..16384 for the built-in BGP collector (use --router-port)")
}

/// Everything the demo runs.
struct Demo {
    api: RunningServer,
    client: kube::Client,
    collector: Collector,
    controller: Option<ControllerHandle>,
    speakers: BTreeMap<&'static str, ferrolb_speaker::Running>,
    events: broadcast::Receiver<ControllerEvent>,
    shown_table: Table,
    shown_decisions: BTreeMap<(String, String), String>,
    step_timeout: Duration,
}

/// Runs `ferrolb demo`; returns the exit code.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    // The demo's own output is the story; the components log only warnings unless RUST_LOG.
    super::logging::init_with("warn");
    let mut demo = Demo::start(&args).await?;
    let result = demo.script(args.listen.is_some()).await;
    if let Err(err) = &result {
        println!("\ndemo failed: {err:#}");
    } else if args.listen.is_some() {
        demo.serve().await?;
    }
    demo.stop().await;
    Ok(if result.is_ok() { 0 } else { 1 })
}

fn say(line: impl AsRef<str>) {
    println!("{}", line.as_ref());
}

fn heading(title: &str) {
    println!("\n== {title}");
}

impl Demo {
    async fn start(args: &Args) -> anyhow::Result<Demo> {
        let addr = args
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let api = ApiServer::start(addr)
            .await
            .with_context(|| format!("cannot serve the embedded Kubernetes API on {addr}"))?;
        let collector = start_collector(args.router_port, args.crds).await?;
        heading("FerroLB demo: one process, no cluster, no root");
        say(format!(
            "embedded Kubernetes API   {} (in memory)",
            api.url()
        ));
        say(format!(
            "router (BGP collector)    127.0.0.1:{} AS {} (passive, keeps what it hears)",
            collector.port(),
            scenario::ROUTER_AS
        ));
        for n in &NODES {
            say(format!(
                "node {:<8}             speaker from {} AS {}, pod CIDR {}",
                n.name,
                n.address,
                scenario::CLUSTER_AS,
                n.pod_cidr
            ));
        }

        let store = api.store();
        store
            .seed_manifests(ferrolb_speaker::session_state::CRD_MANIFEST)
            .map_err(|e| anyhow::anyhow!("seeding the status CRDs: {e}"))?;
        // MetalLB's CRDs in every mode, so `kubectl apply -f` of metallb.io objects works
        // against `--listen` as against a cluster with MetalLB's CRDs installed.
        store
            .seed_manifests(METALLB_CRDS)
            .map_err(|e| anyhow::anyhow!("seeding MetalLB's CRDs: {e}"))?;
        let config_source = if args.crds {
            seed_resources(store, collector.port())?;
            Some("ferrolb-system".to_string())
        } else {
            store
                .seed(scenario::config_map(collector.port()))
                .map_err(|e| anyhow::anyhow!("seeding the ConfigMap: {e}"))?;
            None
        };
        for n in &NODES {
            store
                .seed(scenario::node(n))
                .map_err(|e| anyhow::anyhow!("seeding node {}: {e}", n.name))?;
        }
        store.ensure_namespace(NAMESPACE);
        if !args.crds {
            heading("ConfigMap ferrolb-system/config (MetalLB's legacy format)");
            for line in scenario::config_text(collector.port()).lines() {
                say(format!("  {line}"));
            }
        }

        let client =
            kube::Client::try_from(kube::Config::new(api.url().parse().context("API URL")?))
                .context("kube client for the embedded API")?;
        let mut options = ferrolb_controller::Options::new("demo-controller");
        options.metrics_addr = None;
        options.lease = None;
        if let Some(namespace) = &config_source {
            options.config_source = ferrolb_controller::ConfigSource::Resources {
                namespace: namespace.clone(),
            };
        }
        let controller = ferrolb_controller::start(client.clone(), options)
            .await
            .context("starting the controller")?;
        let events = controller.subscribe();

        let mut speakers = BTreeMap::new();
        for n in &NODES {
            let mut options = ferrolb_speaker::Options {
                http_addr: None,
                source_address: Some(IpAddr::V4(n.address)),
                router_id: Some(n.address),
                connect_retry: Duration::from_secs(1),
                namespace: "ferrolb-system".into(),
                ..ferrolb_speaker::Options::default()
            };
            if let Some(namespace) = &config_source {
                options.config_source = ferrolb_speaker::ConfigSource::Resources {
                    namespace: namespace.clone(),
                };
            }
            let running = ferrolb_speaker::start(client.clone(), n.name, options)
                .await
                .with_context(|| format!("starting the speaker of {}", n.name))?;
            speakers.insert(n.name, running);
        }
        Ok(Demo {
            api,
            client,
            collector,
            controller: Some(controller),
            speakers,
            events,
            shown_table: Table::new(),
            shown_decisions: BTreeMap::new(),
            step_timeout: Duration::from_secs(args.step_timeout),
        })
    }

    /// Prints what happened since the last call: allocations, announce decisions, routes.
    fn report_changes(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(ControllerEvent::Allocated {
                    namespace,
                    name,
                    ips,
                    pool,
                }) => {
                    let ips: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
                    say(format!(
                        "[controller] {namespace}/{name}: assigned {} from pool {pool}",
                        ips.join(", ")
                    ));
                }
                Ok(ControllerEvent::Cleared { namespace, name }) => {
                    say(format!("[controller] {namespace}/{name}: address released"));
                }
                Ok(ControllerEvent::Failed {
                    namespace,
                    name,
                    reason,
                }) => say(format!(
                    "[controller] {namespace}/{name}: AllocationFailed: {reason}"
                )),
                Ok(ControllerEvent::ConfigApplied) => say("[controller] configuration applied"),
                Ok(ControllerEvent::ConfigRejected { errors }) => {
                    say(format!("[controller] configuration rejected: {errors}"))
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    say(format!("[controller] ({n} events not shown)"))
                }
                Err(_) => break,
            }
        }
        let mut decisions = BTreeMap::new();
        for (node, running) in &self.speakers {
            for svc in running.status().services {
                // Before the controller assigns an address there is nothing to decide.
                let Some(ip) = svc.ip.clone() else { continue };
                let line = if svc.announced {
                    format!(
                        "{} -> {}: {}",
                        svc.prefixes.join(", "),
                        svc.peers.join(", "),
                        svc.reason
                    )
                } else {
                    format!("{ip}: {}", svc.reason)
                };
                decisions.insert((node.to_string(), svc.service.clone()), line);
            }
        }
        for (key, line) in &decisions {
            if self.shown_decisions.get(key) != Some(line) {
                say(format!("[speaker {}] {}: {line}", key.0, key.1));
            }
        }
        for key in self.shown_decisions.keys() {
            if !decisions.contains_key(key) {
                say(format!("[speaker {}] {}: gone", key.0, key.1));
            }
        }
        self.shown_decisions = decisions;
        let table = self.collector.table();
        for line in collector::diff(&self.shown_table, &table) {
            say(format!("[router] {line}"));
        }
        self.shown_table = table;
    }

    /// Reports changes until `done` holds or the step times out.
    async fn until(
        &mut self,
        what: &str,
        mut done: impl FnMut(&Demo) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.step_timeout;
        loop {
            self.report_changes();
            if done(self) {
                // What made it true may have arrived after the report above: print it too.
                self.report_changes();
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("timed out after {:?} waiting for {what}", self.step_timeout);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The ingress IPs the controller wrote for a demo Service.
    fn ingress(&self, name: &str) -> Vec<IpAddr> {
        ingress_of(
            self.api
                .store()
                .get_object("services", NAMESPACE, name)
                .as_ref(),
        )
    }

    /// What the router should have: prefix -> the nodes announcing it, from the Services'
    /// status and where their endpoints are.
    fn expected_routes(
        &self,
        nodes_up: &[&str],
        deleted: &[&str],
    ) -> BTreeMap<IpNet, BTreeSet<IpAddr>> {
        let mut want: BTreeMap<IpNet, BTreeSet<IpAddr>> = BTreeMap::new();
        for svc in SERVICES.iter().filter(|s| !deleted.contains(&s.name)) {
            if svc.annotations.iter().any(|(_, v)| *v == "printers") {
                continue; // layer2 pool: not announced over BGP
            }
            let announcers: Vec<&str> = if svc.policy == "Local" {
                svc.endpoints_on.to_vec()
            } else {
                NODES.iter().map(|n| n.name).collect()
            };
            for ip in self.ingress(svc.name) {
                let entry = want.entry(IpNet::from(ip)).or_default();
                for n in NODES
                    .iter()
                    .filter(|n| announcers.contains(&n.name) && nodes_up.contains(&n.name))
                {
                    entry.insert(IpAddr::V4(n.address));
                }
            }
        }
        want.retain(|_, nodes| !nodes.is_empty());
        want
    }

    fn routes_match(&self, want: &BTreeMap<IpNet, BTreeSet<IpAddr>>) -> bool {
        let have: BTreeMap<IpNet, BTreeSet<IpAddr>> = self
            .collector
            .table()
            .into_iter()
            .map(|(p, paths)| (p, paths.iter().map(|x| x.from).collect()))
            .collect();
        &have == want
    }

    async fn script(&mut self, keep_running: bool) -> anyhow::Result<()> {
        heading("Sessions: each node's speaker peers with the router");
        let all_nodes = NODES.len();
        self.until("both speakers to reach Established at the router", |d| {
            d.collector.established().len() == all_nodes
        })
        .await?;
        for ip in self.collector.established() {
            say(format!("[router] session with {ip} Established"));
        }

        heading("Services: created through the Kubernetes API");
        let services: Api<Service> = Api::namespaced(self.client.clone(), NAMESPACE);
        for svc in &SERVICES {
            say(format!(
                "create {NAMESPACE}/{:<8} {}",
                svc.name, svc.purpose
            ));
            let obj: Service = serde_json::from_value(scenario::service(svc))?;
            services
                .create(&PostParams::default(), &obj)
                .await
                .with_context(|| format!("creating Service {}", svc.name))?;
            self.api
                .store()
                .seed(scenario::endpoint_slice(
                    NAMESPACE,
                    svc.name,
                    svc.endpoints_on,
                ))
                .map_err(|e| anyhow::anyhow!("seeding endpoints of {}: {e}", svc.name))?;
        }
        let up: Vec<&str> = NODES.iter().map(|n| n.name).collect();
        self.until("every announceable Service to reach the router", |d| {
            let assigned = SERVICES
                .iter()
                .filter(|s| s.name != "wishful")
                .all(|s| !d.ingress(s.name).is_empty());
            assigned && d.routes_match(&d.expected_routes(&up, &[]))
        })
        .await?;
        heading("The router's table (show ip bgp)");
        say(collector::render(&self.collector.table()));
        if keep_running {
            return Ok(());
        }

        heading("Delete Service web, then stop node-b's speaker (SIGTERM-style graceful stop)");
        services
            .delete("web", &DeleteParams::default())
            .await
            .context("deleting Service web")?;
        self.until("web's route to be withdrawn", |d| {
            d.routes_match(&d.expected_routes(&up, &["web"]))
        })
        .await?;
        if let Some(speaker) = self.speakers.remove("node-b") {
            say("[speaker node-b] stopping: NOTIFICATION Cease/Administrative Shutdown to the router");
            speaker.stop().await;
        }
        self.until("node-b's routes to be gone from the router", |d| {
            d.routes_match(&d.expected_routes(&["node-a"], &["web"]))
        })
        .await?;
        heading("The router's table after the withdrawals");
        say(collector::render(&self.collector.table()));
        say("\ndemo finished: every step checked against the router's table");
        Ok(())
    }

    /// `--listen`: keep running; give kubectl-created Services simulated endpoints and print
    /// what happens until Ctrl-C or SIGTERM.
    async fn serve(&mut self) -> anyhow::Result<()> {
        let url = self.api.url();
        heading("Serving: try it with kubectl (Ctrl-C stops)");
        say(format!("  kubectl --server {url} apply -f my-service.yaml"));
        say(format!("  kubectl --server {url} get svc -A"));
        say(format!(
            "  kubectl --server {url} get bgpsessionstates -A      # every BGP session"
        ));
        say(format!("  ferrolb status --cluster --server {url}"));
        say("Services without endpoints get a simulated ready pod on both nodes (the demo plays the endpoints controller).");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            self.simulate_endpoints();
            self.report_changes();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        say("\nstopping");
        Ok(())
    }

    fn simulate_endpoints(&self) {
        let store = self.api.store();
        let node_names: Vec<&str> = NODES.iter().map(|n| n.name).collect();
        for svc in store.list_objects("services", None) {
            if svc.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
                continue;
            }
            let (Some(ns), Some(name)) = (
                svc.pointer("/metadata/namespace").and_then(Value::as_str),
                svc.pointer("/metadata/name").and_then(Value::as_str),
            ) else {
                continue;
            };
            let has_slice = store
                .list_objects("endpointslices.discovery.k8s.io", Some(ns))
                .iter()
                .any(|s| {
                    s.pointer("/metadata/labels/kubernetes.io~1service-name")
                        .and_then(Value::as_str)
                        == Some(name)
                });
            if !has_slice {
                if let Err(e) = store.seed(scenario::endpoint_slice(ns, name, &node_names)) {
                    say(format!(
                        "[demo] cannot create endpoints for {ns}/{name}: {e}"
                    ));
                } else {
                    say(format!(
                        "[demo] {ns}/{name}: simulated ready pods on node-a and node-b"
                    ));
                }
            }
        }
    }

    async fn stop(mut self) {
        for (_, speaker) in std::mem::take(&mut self.speakers) {
            speaker.stop().await;
        }
        if let Some(controller) = self.controller.take() {
            let _ = controller.shutdown().await;
        }
        self.collector.shutdown().await;
        self.api.shutdown().await;
    }
}

fn ingress_of(svc: Option<&Value>) -> Vec<IpAddr> {
    svc.and_then(|s| s.pointer("/status/loadBalancer/ingress"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|i| i.get("ip").and_then(Value::as_str))
                .filter_map(|ip| ip.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `--crds`: the demo's configuration as metallb.io objects (what `ferrolb config migrate` makes
/// of the ConfigMap), printed as applied.
fn seed_resources(store: &ferrolb_apiserver::Store, router_port: u16) -> anyhow::Result<()> {
    let migration =
        ferrolb_config::resources::migrate(&scenario::config_text(router_port), "ferrolb-system")
            .map_err(|e| anyhow::anyhow!("migrating the demo configuration: {e}"))?;
    heading("MetalLB custom resources in ferrolb-system (ferrolb config migrate of the demo's ConfigMap)");
    for line in migration.to_yaml().lines() {
        say(format!("  {line}"));
    }
    for object in migration.objects {
        store
            .seed(object)
            .map_err(|e| anyhow::anyhow!("seeding a metallb.io object: {e}"))?;
    }
    Ok(())
}
