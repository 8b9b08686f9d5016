//! Restart or departure: what stopping the speaker means for the routes (issue 11).
//!
//! A *restart* (the DaemonSet pod replaced on the same node, the process killed and started
//! again) leaves the routes at the routers that help with graceful restart as stale until the
//! new process sends End-of-RIB. A *departure* (the node excluded from load balancers, the Node
//! deleted or shutting down) takes them away at once: while the speaker runs, by withdrawing
//! them (UPDATE); when it stops, with Cease/Hard Reset (RFC 8538), which ends the routers'
//! helper mode. The speaker removed for good (its DaemonSet deleted, or its pod template no
//! longer fitting this node: see [`ferrolb_view::daemon_placement`]) is a departure found at
//! the stop. Cordoning is neither: an unschedulable node still forwards Service traffic.

use std::fmt;

use ferrolb_view::daemon_placement::PlacementRule;
use ferrolb_view::NodeView;

/// Why this node leaves the load-balancer pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The Node carries `node.kubernetes.io/exclude-from-external-load-balancers`.
    Excluded,
    /// The Node object was deleted (it had been seen before).
    Deleted,
    /// The kubelet reports a graceful node shutdown (see [`NodeView::shutting_down`]).
    ShuttingDown,
    /// The speaker's DaemonSet is gone or being deleted (known only when the speaker stops:
    /// its pod names the DaemonSet that owns it).
    SpeakerRemoved,
    /// The speaker's DaemonSet no longer runs a pod on this node (its pod template's
    /// nodeSelector, required node affinity or tolerations no longer fit the Node; known only
    /// when the speaker stops): the DaemonSet controller will not start a new one here.
    NotSelected(PlacementRule),
}

impl Departure {
    /// The departure shown by the Node, if any. `seen` is whether the Node was ever seen: a
    /// speaker started before its Node exists (or without one) is not departing.
    pub fn of(seen: bool, node: Option<&NodeView>) -> Option<Departure> {
        match node {
            None if seen => Some(Departure::Deleted),
            None => None,
            Some(n) if n.shutting_down => Some(Departure::ShuttingDown),
            Some(n) if n.excluded => Some(Departure::Excluded),
            Some(_) => None,
        }
    }
}

impl fmt::Display for Departure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Departure::Excluded => {
                "the node is labelled node.kubernetes.io/exclude-from-external-load-balancers"
            }
            Departure::Deleted => "the Node object was deleted",
            Departure::ShuttingDown => "the node is shutting down",
            Departure::SpeakerRemoved => "the speaker's DaemonSet was deleted",
            Departure::NotSelected(rule) => {
                return write!(
                    f,
                    "the speaker's DaemonSet no longer runs on this node: {rule}"
                );
            }
        })
    }
}

/// How the speaker ends its sessions when it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    /// A restart: sessions with graceful restart close without a NOTIFICATION (the routes
    /// stay as stale for the restart time), the others get Cease/Administrative Shutdown.
    Restart,
    /// A departure: Cease/Hard Reset (the Administrative Shutdown inside) where N was
    /// exchanged, else Cease/Administrative Shutdown: the routes go at once.
    Depart(Departure),
}

impl StopMode {
    /// The stop for what is known of the node: its departure, if any, else a restart.
    pub fn for_departure(departure: Option<Departure>) -> StopMode {
        departure.map_or(StopMode::Restart, StopMode::Depart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(excluded: bool, shutting_down: bool, unschedulable: bool) -> NodeView {
        NodeView {
            name: "n1".into(),
            excluded,
            shutting_down,
            unschedulable,
            ..NodeView::default()
        }
    }

    #[test]
    fn restart_versus_departure() {
        assert_eq!(Departure::of(false, None), None);
        assert_eq!(Departure::of(true, None), Some(Departure::Deleted));
        assert_eq!(
            Departure::of(true, Some(&node(true, false, false))),
            Some(Departure::Excluded)
        );
        assert_eq!(
            Departure::of(true, Some(&node(true, true, false))),
            Some(Departure::ShuttingDown)
        );
        // Cordoned (unschedulable) is not a departure.
        assert_eq!(Departure::of(true, Some(&node(false, false, true))), None);
        assert_eq!(
            StopMode::for_departure(Departure::of(true, Some(&node(false, false, true)))),
            StopMode::Restart
        );
        assert_eq!(
            StopMode::for_departure(Some(Departure::Deleted)),
            StopMode::Depart(Departure::Deleted)
        );
        assert_eq!(
            Departure::NotSelected(PlacementRule::NodeSelector).to_string(),
            "the speaker's DaemonSet no longer runs on this node: its nodeSelector does not \
             match the node's labels"
        );
    }
}
