//! Prometheus metrics of the speaker (names modelled on MetalLB's).

use std::sync::Mutex;

use ferrolb_bgp::driver::{Direction, PeerError, PeerStatus};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::report::BfdReport;

/// Label set `{peer}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    /// Peer address.
    pub peer: String,
}

/// Label set `{peer, direction, code}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// Peer address.
    pub peer: String,
    /// `sent` or `received`.
    pub direction: String,
    /// `code/subcode`, e.g. `6/2`.
    pub code: String,
}

/// The speaker's metrics.
pub struct Metrics {
    registry: Registry,
    /// `ferrolb_bgp_session_up{peer}`: 1 while Established.
    pub session_up: Family<PeerLabels, Gauge>,
    /// `ferrolb_bgp_graceful_restart_negotiated{peer}`: 1 while Established with graceful
    /// restart in effect (we offered a restart time and the peer sent the capability).
    pub graceful_restart: Family<PeerLabels, Gauge>,
    /// `ferrolb_bgp_updates_total{peer}`: UPDATE messages sent.
    pub updates: Family<PeerLabels, Counter>,
    /// `ferrolb_bgp_announced_prefixes_total{peer}`: prefixes the peer has from us.
    pub announced: Family<PeerLabels, Gauge>,
    /// `ferrolb_bgp_notifications_total{peer,direction,code}`.
    pub notifications: Family<NotificationLabels, Counter>,
    /// `ferrolb_config_loaded`: 1 once a valid configuration is in force.
    pub config_loaded: Gauge,
    /// `ferrolb_config_stale`: 1 while the latest configuration is rejected.
    pub config_stale: Gauge,
    /// `ferrolb_speaker_announced_services`: Service addresses this node announces.
    pub announced_services: Gauge,
    /// BFD gauges per peer (MetalLB's `bfd_*` names; the values are the session's cumulative
    /// counts, exported as gauges so the names carry no `_total` suffix, as in MetalLB).
    pub bfd: BfdMetrics,
    /// Last seen counters per peer, to turn the driver's cumulative values into increments.
    last: Mutex<std::collections::HashMap<String, PeerStatus>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ferrolb");
        let session_up = Family::<PeerLabels, Gauge>::default();
        let updates = Family::<PeerLabels, Counter>::default();
        let graceful_restart = Family::<PeerLabels, Gauge>::default();
        let announced = Family::<PeerLabels, Gauge>::default();
        let notifications = Family::<NotificationLabels, Counter>::default();
        let config_loaded = Gauge::default();
        let config_stale = Gauge::default();
        let announced_services = Gauge::default();
        registry.register(
            "bgp_session_up",
            "BGP session state (1 = Established)",
            session_up.clone(),
        );
        registry.register(
            "bgp_graceful_restart_negotiated",
            "1 while the session is Established with graceful restart in effect",
            graceful_restart.clone(),
        );
        registry.register("bgp_updates", "BGP UPDATE messages sent", updates.clone());
        registry.register(
            "bgp_announced_prefixes_total",
            "Prefixes currently announced to the peer",
            announced.clone(),
        );
        registry.register(
            "bgp_notifications",
            "BGP NOTIFICATION messages sent and received",
            notifications.clone(),
        );
        registry.register(
            "config_loaded",
            "1 when a valid configuration is in force",
            config_loaded.clone(),
        );
        registry.register(
            "config_stale",
            "1 when the latest configuration was rejected and the last good one is in force",
            config_stale.clone(),
        );
        registry.register(
            "speaker_announced_services",
            "Service addresses this node announces",
            announced_services.clone(),
        );
        let bfd = BfdMetrics::register(&mut registry);
        Metrics {
            bfd,
            registry,
            session_up,
            graceful_restart,
            updates,
            announced,
            notifications,
            config_loaded,
            config_stale,
            announced_services,
            last: Mutex::new(Default::default()),
        }
    }

    /// Updates the per-peer metrics from a status snapshot of the driver.
    pub fn observe(&self, peer: &str, status: &PeerStatus) {
        let labels = PeerLabels {
            peer: peer.to_string(),
        };
        self.session_up
            .get_or_create(&labels)
            .set(i64::from(status.is_established()));
        self.graceful_restart.get_or_create(&labels).set(i64::from(
            status.graceful_restart.is_some_and(|g| g.negotiated()),
        ));
        self.announced
            .get_or_create(&labels)
            .set((status.prefixes_sent.ipv4 + status.prefixes_sent.ipv6) as i64);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let previous = last.get(peer);
        // The driver's counters restart when a session is reset by a config change.
        let prev_updates = previous.map_or(0, |p| p.updates_out);
        let delta = if status.updates_out >= prev_updates {
            status.updates_out - prev_updates
        } else {
            status.updates_out
        };
        if delta > 0 {
            self.updates.get_or_create(&labels).inc_by(delta);
        }
        let new_error = match (previous, &status.last_error) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(p), Some(e)) => {
                p.last_error.as_ref() != Some(e) || p.established_count != status.established_count
            }
        };
        if new_error {
            if let Some(PeerError::Notification {
                direction,
                notification,
            }) = &status.last_error
            {
                let direction = match direction {
                    Direction::Sent => "sent",
                    Direction::Received => "received",
                };
                self.notifications
                    .get_or_create(&NotificationLabels {
                        peer: peer.to_string(),
                        direction: direction.into(),
                        code: format!("{}/{}", notification.code, notification.subcode),
                    })
                    .inc();
            }
        }
        last.insert(peer.to_string(), status.clone());
    }

    /// Sets the BFD series to `sessions` (peer label, report); other peers' series go.
    pub fn set_bfd(&self, sessions: &[(String, BfdReport)]) {
        let b = &self.bfd;
        for f in [
            &b.session_up,
            &b.packets_in,
            &b.packets_out,
            &b.up_events,
            &b.down_events,
        ] {
            f.clear();
        }
        for (peer, r) in sessions {
            let labels = PeerLabels { peer: peer.clone() };
            let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            b.session_up
                .get_or_create(&labels)
                .set(i64::from(r.state == "Up"));
            b.packets_in.get_or_create(&labels).set(n(r.packets_in));
            b.packets_out.get_or_create(&labels).set(n(r.packets_out));
            b.up_events.get_or_create(&labels).set(n(r.up_events));
            b.down_events.get_or_create(&labels).set(n(r.down_events));
        }
    }

    /// The peer's session is gone: its gauges are removed.
    pub fn forget(&self, peer: &str) {
        let labels = PeerLabels {
            peer: peer.to_string(),
        };
        self.session_up.remove(&labels);
        self.graceful_restart.remove(&labels);
        self.announced.remove(&labels);
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(peer);
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The BFD metrics, `{peer}` each.
pub struct BfdMetrics {
    /// `ferrolb_bfd_session_up`: 1 while the BFD session is Up.
    pub session_up: Family<PeerLabels, Gauge>,
    /// `ferrolb_bfd_control_packet_input`: Control packets received.
    pub packets_in: Family<PeerLabels, Gauge>,
    /// `ferrolb_bfd_control_packet_output`: Control packets sent.
    pub packets_out: Family<PeerLabels, Gauge>,
    /// `ferrolb_bfd_session_up_events`: transitions to Up.
    pub up_events: Family<PeerLabels, Gauge>,
    /// `ferrolb_bfd_session_down_events`: transitions from Up to Down.
    pub down_events: Family<PeerLabels, Gauge>,
}

impl BfdMetrics {
    fn register(registry: &mut Registry) -> Self {
        let m = BfdMetrics {
            session_up: Family::default(),
            packets_in: Family::default(),
            packets_out: Family::default(),
            up_events: Family::default(),
            down_events: Family::default(),
        };
        for (name, help, family) in [
            (
                "bfd_session_up",
                "BFD session state (1 = Up)",
                &m.session_up,
            ),
            (
                "bfd_control_packet_input",
                "BFD Control packets received (cumulative count of the session)",
                &m.packets_in,
            ),
            (
                "bfd_control_packet_output",
                "BFD Control packets sent (cumulative count of the session)",
                &m.packets_out,
            ),
            (
                "bfd_session_up_events",
                "BFD transitions to Up (cumulative count of the session)",
                &m.up_events,
            ),
            (
                "bfd_session_down_events",
                "BFD transitions from Up to Down (cumulative count of the session)",
                &m.down_events,
            ),
        ] {
            registry.register(name, help, family.clone());
        }
        m
    }
}
