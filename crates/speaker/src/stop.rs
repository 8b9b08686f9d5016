//! The speaker's stop: a restart or a departure (see [`crate::departure`]), decided from the
//! Node as watched and from the API once more (the watch may lag behind a deletion or the
//! kubelet's shutdown report; a deleted DaemonSet, or one whose pod template no longer fits
//! this Node, is seen only here).

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{Api, Client};
use tracing::{info, warn};

use ferrolb_view::daemon_placement::daemon_pod_fits;
use ferrolb_view::NodeView;

use crate::departure::{Departure, StopMode};
use crate::restart_marker::RestartMarker;
use crate::sessions::SessionManager;
use crate::world::World;

/// How long the stop waits for the API before deciding (then: a restart).
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Who is stopping: the node, and the speaker's own pod when known (`POD_NAME`).
pub(crate) struct Identity<'a> {
    pub node: &'a str,
    pub namespace: &'a str,
    pub pod: Option<&'a str>,
}

/// Ends the sessions for a restart or a departure and leaves or clears the restart marker.
pub(crate) async fn stop_sessions(
    world: &World,
    manager: &mut SessionManager,
    client: &Client,
    who: &Identity<'_>,
    marker: Option<RestartMarker>,
) {
    let mut departure = world.departure();
    if departure.is_none() {
        match tokio::time::timeout(READ_TIMEOUT, read_departure(client, who, world.node_seen)).await
        {
            Ok(Ok(found)) => departure = found,
            Ok(Err(e)) => warn!(error = %e, "reading the API at stop failed; taken as a restart"),
            Err(_) => warn!("reading the API at stop timed out; taken as a restart"),
        }
    }
    let mode = StopMode::for_departure(departure);
    let node = who.node;
    let message = match departure {
        Some(d) => {
            info!(reason = %d, "departure: Cease/Hard Reset, the routes leave at once");
            format!("FerroLB speaker on node {node} is leaving: {d}")
        }
        None => {
            info!("restart: sessions with graceful restart close without NOTIFICATION");
            format!("FerroLB speaker on node {node} is shutting down")
        }
    };
    manager.shutdown(mode, &message).await;
    if let Some(marker) = marker {
        match mode {
            StopMode::Restart => marker.leave(),
            StopMode::Depart(_) => marker.clear(),
        }
    }
}

/// The departure the API shows now: the Node deleted or shutting down (when it was seen
/// before), or the DaemonSet owning this pod gone, being deleted, or no longer running a pod
/// on this Node.
async fn read_departure(
    client: &Client,
    who: &Identity<'_>,
    node_seen: bool,
) -> Result<Option<Departure>, kube::Error> {
    let node = Api::<Node>::all(client.clone()).get_opt(who.node).await?;
    let view = node.as_ref().map(NodeView::from_node);
    if let Some(d) = Departure::of(node_seen, view.as_ref()) {
        return Ok(Some(d));
    }
    Ok(match owning_daemonset(client, who).await? {
        Owner::Unknown => None,
        Owner::Removed => Some(Departure::SpeakerRemoved),
        Owner::Present(ds) => node.as_ref().and_then(|n| not_selected(&ds, n)),
    })
}

/// The DaemonSet owning this speaker's pod, as the API shows it now.
enum Owner {
    /// No pod name given, the pod gone, or no DaemonSet among its owners.
    Unknown,
    /// The DaemonSet is gone or being deleted.
    Removed,
    /// The DaemonSet as it is now.
    Present(Box<DaemonSet>),
}

async fn owning_daemonset(client: &Client, who: &Identity<'_>) -> Result<Owner, kube::Error> {
    let Some(pod_name) = who.pod else {
        return Ok(Owner::Unknown);
    };
    let Some(pod) = Api::<Pod>::namespaced(client.clone(), who.namespace)
        .get_opt(pod_name)
        .await?
    else {
        return Ok(Owner::Unknown);
    };
    let owner = pod
        .metadata
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .find(|o| o.kind == "DaemonSet");
    let Some(owner) = owner else {
        return Ok(Owner::Unknown);
    };
    let daemonset = Api::<DaemonSet>::namespaced(client.clone(), who.namespace)
        .get_opt(&owner.name)
        .await?;
    Ok(match daemonset {
        Some(ds) if ds.metadata.deletion_timestamp.is_none() => Owner::Present(Box::new(ds)),
        _ => Owner::Removed,
    })
}

/// The departure when the DaemonSet's pod template no longer fits `node`, so the DaemonSet
/// controller starts no new pod here (its rules: [`daemon_pod_fits`]).
fn not_selected(daemonset: &DaemonSet, node: &Node) -> Option<Departure> {
    let template = daemonset.spec.as_ref()?.template.spec.as_ref()?;
    let misfit = daemon_pod_fits(template, node).err()?;
    info!(rule = %misfit.rule, detail = %misfit.detail, "the speaker's DaemonSet no longer runs on this node");
    Some(Departure::NotSelected(misfit.rule))
}
