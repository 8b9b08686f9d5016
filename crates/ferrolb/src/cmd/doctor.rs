//! `ferrolb doctor`: diagnose the node's network (read-only; never changes anything).

use std::net::IpAddr;

use anyhow::Context as _;
use ferrolb_fabric::doctor::pod_cidrs::PodCidr;
use ferrolb_fabric::doctor::{self, Inputs};
use ferrolb_fabric::{GatherOptions, Snapshot};
use ipnet::IpNet;

/// Flags of `ferrolb doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// A pod CIDR of this node (repeatable). Default: the Node's spec.podCIDRs when running in a
    /// cluster (env NODE_NAME), plus the CIDRs routed through CNI interfaces (cni0, flannel,
    /// cilium, calico).
    #[arg(long = "pod-cidr", value_name = "CIDR")]
    pub pod_cidrs: Vec<IpNet>,
    /// A LoadBalancer / virtual IP that this node should serve (repeatable).
    #[arg(long = "vip", value_name = "ADDR")]
    pub vips: Vec<IpAddr>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Runs `ferrolb doctor`; exit code 1 when a finding has severity error.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    super::logging::init();
    let options = GatherOptions {
        vips: args.vips.clone(),
        ..GatherOptions::default()
    };
    let snapshot = ferrolb_fabric::gather(&options)
        .await
        .context("reading the node's network")?;
    let (sources, notes) = pod_cidr_sources(&args, &snapshot).await;
    let mut pod_cidrs: Vec<IpNet> = Vec::new();
    for s in &sources {
        if !pod_cidrs.contains(&s.cidr) {
            pod_cidrs.push(s.cidr);
        }
    }
    let inputs = Inputs {
        pod_cidrs: pod_cidrs.clone(),
        vips: args.vips.clone(),
    };
    let mut report = doctor::diagnose(&snapshot, &inputs);
    report.notes.splice(0..0, notes);
    if args.json {
        let out = serde_json::json!({
            "clean": !report.has_errors(),
            "pod_cidrs": pod_cidrs,
            "pod_cidr_sources": sources,
            "vips": args.vips,
            "findings": report.findings,
            "notes": report.notes,
            "conntrack_source": snapshot.conntrack.source,
            "egress_nat": report.egress_nat,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report.render_human());
    }
    Ok(if report.has_errors() { 1 } else { 0 })
}

/// The pod CIDRs and where each came from: `--pod-cidr` when given; else the Node's
/// spec.podCIDRs (in a cluster) and the CIDRs routed through CNI interfaces. Also the notes
/// that say so.
async fn pod_cidr_sources(args: &Args, snapshot: &Snapshot) -> (Vec<PodCidr>, Vec<String>) {
    let mut notes = Vec::new();
    if !args.pod_cidrs.is_empty() {
        let given = args
            .pod_cidrs
            .iter()
            .map(|&cidr| PodCidr {
                cidr,
                source: "--pod-cidr".into(),
            })
            .collect();
        return (given, notes);
    }
    let mut sources = Vec::new();
    match node_pod_cidrs().await {
        Ok(Some((node, cidrs))) => {
            notes.push(format!("pod CIDRs read from Node {node}"));
            sources.extend(cidrs.into_iter().map(|cidr| PodCidr {
                cidr,
                source: format!("Node {node} spec.podCIDRs"),
            }));
        }
        Ok(None) => {}
        Err(err) => notes.push(format!("cannot read the pod CIDRs from the Node: {err:#}")),
    }
    for found in doctor::pod_cidrs::from_routes(snapshot) {
        notes.push(format!(
            "pod CIDR {} found on the node: {}",
            found.cidr, found.source
        ));
        sources.push(found);
    }
    (sources, notes)
}

/// The Node's pod CIDRs when the API is configured (see [`node_name`]; the API from the
/// in-cluster environment or KUBECONFIG); `None` when there is no Node name to ask for.
async fn node_pod_cidrs() -> anyhow::Result<Option<(String, Vec<IpNet>)>> {
    let Some(node_name) = node_name() else {
        return Ok(None);
    };
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
    let node = nodes
        .get(&node_name)
        .await
        .with_context(|| format!("reading Node {node_name}"))?;
    let spec = node.spec.unwrap_or_default();
    let mut raw = spec.pod_cidrs.unwrap_or_default();
    if raw.is_empty() {
        raw.extend(spec.pod_cidr);
    }
    let mut cidrs = Vec::new();
    for c in raw {
        cidrs
            .push(c.parse::<IpNet>().with_context(|| {
                format!("Node {node_name} spec.podCIDRs has {c:?}, not a CIDR")
            })?);
    }
    Ok(Some((node_name, cidrs)))
}

/// The Node to read: env NODE_NAME; else, when an API is configured (KUBECONFIG or the
/// in-cluster KUBERNETES_SERVICE_HOST), this host's name (what kubeadm names the Node).
fn node_name() -> Option<String> {
    if let Ok(name) = std::env::var("NODE_NAME") {
        return Some(name);
    }
    let configured = std::env::var_os("KUBECONFIG").is_some()
        || std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if !configured {
        return None;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let host = host.trim();
    (!host.is_empty()).then(|| host.to_lowercase())
}
