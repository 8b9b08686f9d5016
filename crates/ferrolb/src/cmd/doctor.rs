//! `ferrolb doctor`: diagnose the node's network (read-only; never changes anything).

use std::net::IpAddr;

use anyhow::Context as _;
use ferrolb_fabric::doctor::{self, Inputs};
use ferrolb_fabric::GatherOptions;
use ipnet::IpNet;

/// Flags of `ferrolb doctor`.
#[derive(clap::Args)]
pub struct Args {
    /// A pod CIDR of this node (repeatable). Default: the Node's spec.podCIDRs when running in a
    /// cluster (env NODE_NAME).
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
    let mut notes = Vec::new();
    let mut pod_cidrs = args.pod_cidrs.clone();
    if pod_cidrs.is_empty() {
        match node_pod_cidrs().await {
            Ok(Some((node, cidrs))) => {
                notes.push(format!("pod CIDRs read from Node {node}"));
                pod_cidrs = cidrs;
            }
            Ok(None) => {}
            Err(err) => notes.push(format!("cannot read the pod CIDRs from the Node: {err:#}")),
        }
    }
    let options = GatherOptions {
        vips: args.vips.clone(),
        ..GatherOptions::default()
    };
    let snapshot = ferrolb_fabric::gather(&options)
        .await
        .context("reading the node's network")?;
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
            "vips": args.vips,
            "findings": report.findings,
            "notes": report.notes,
            "conntrack_source": snapshot.conntrack.source,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report.render_human());
    }
    Ok(if report.has_errors() { 1 } else { 0 })
}

/// The Node's pod CIDRs when running in a cluster (env NODE_NAME set; the API from the
/// in-cluster environment or KUBECONFIG); `None` when NODE_NAME is not set.
async fn node_pod_cidrs() -> anyhow::Result<Option<(String, Vec<IpNet>)>> {
    let Ok(node_name) = std::env::var("NODE_NAME") else {
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
