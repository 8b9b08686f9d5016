//! `BGPSessionState` objects (`ferrolb.io/v1alpha1`, namespaced in FerroLB's namespace): one per node
//! and peer, so `kubectl get bgpsessionstates -A` and `ferrolb status --cluster` show every session
//! of the cluster without a shell on the nodes.
//!
//! Each object carries the session's state, when it was established, its last error, the prefixes
//! sent, the BFD state and the Services announced on it (one object per node and peer rather than one
//! per Service and node: N peers instead of N × Services objects). The speaker writes it only when
//! one of these changes (never for message counters), at most once per object per
//! [`MIN_WRITE_INTERVAL`] (changes in between are coalesced; the last state is always written), and
//! deletes the objects of peers this node no longer has, of an earlier run, and all of its own when
//! it stops.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::ApiResource;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::report::StatusReport;

/// `manifests/status-crds.yaml`: the CustomResourceDefinition of [`KIND`] (the demo and tests load it).
pub const CRD_MANIFEST: &str = include_str!("../../../manifests/status-crds.yaml");

pub use ferrolb_view::api_kinds::{
    SESSION_STATE_KIND as KIND, SESSION_STATE_NODE_LABEL as NODE_LABEL,
    SESSION_STATE_PLURAL as PLURAL, STATUS_GROUP as GROUP, STATUS_VERSION as VERSION,
};
/// Field manager of the speaker's server-side applies.
pub const FIELD_MANAGER: &str = "ferrolb-speaker";
/// At most one write per object per this interval.
pub const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);
/// How long after a failed list (e.g. the CRD is not installed) the speaker lists again.
pub const LIST_RETRY: Duration = Duration::from_secs(10);

/// The `status` of a `BGPSessionState`: what changes only with the session's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionState {
    /// The node running the session.
    pub node: String,
    /// Peer address (`addr` or `addr:port`).
    pub peer: String,
    /// The peer's AS.
    #[serde(rename = "peerASN")]
    pub peer_asn: u32,
    /// Our AS.
    #[serde(rename = "localASN")]
    pub local_asn: u32,
    /// RFC 4271 state (`Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`, `Established`).
    pub session_state: String,
    /// When the session reached Established (RFC 3339), when up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub established_since: Option<String>,
    /// The last error (a decoded NOTIFICATION, a transport error, or why it could not be set up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Prefixes the peer has from us.
    pub prefixes_sent: u64,
    /// The BFD session's state (`Up`, `Down`, `Init`, `AdminDown`), for a peer with a `bfd-profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bfd_status: Option<String>,
    /// The Services this node announces to this peer.
    #[serde(default)]
    pub services: Vec<AnnouncedService>,
}

/// One Service announced on a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnouncedService {
    /// `namespace/name`.
    pub service: String,
    /// Announced prefixes.
    pub prefixes: Vec<String>,
}

/// The kube resource of [`KIND`].
pub fn api_resource() -> ApiResource {
    ferrolb_view::api_kinds::session_state_resource()
}

/// The object name for a node and peer: `<node>-<peer>`, with `:` (IPv6, ports) as `-`.
pub fn object_name(node: &str, peer: &str) -> String {
    format!("{node}-{peer}")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches(|c| c == '-' || c == '.')
        .to_string()
}

/// The objects this node should have, by name, from its status report.
pub fn desired(report: &StatusReport) -> BTreeMap<String, SessionState> {
    report
        .peers
        .iter()
        .map(|p| {
            let services = report
                .services
                .iter()
                .filter(|s| s.announced && s.peers.contains(&p.peer))
                .map(|s| AnnouncedService {
                    service: s.service.clone(),
                    prefixes: s.prefixes.clone(),
                })
                .collect();
            let state = SessionState {
                node: report.node.clone(),
                peer: p.peer.clone(),
                peer_asn: p.peer_asn,
                local_asn: p.local_asn,
                session_state: p.state.clone(),
                established_since: p.established_since.clone(),
                last_error: p.setup_error.clone().or_else(|| p.last_error.clone()),
                prefixes_sent: p.prefixes_sent,
                bfd_status: p.bfd.as_ref().map(|b| b.state.clone()),
                services,
            };
            (object_name(&report.node, &p.peer), state)
        })
        .collect()
}

/// One API write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Create or update the object.
    Apply(String, SessionState),
    /// Delete the object.
    Delete(String),
}

/// Decides which writes are due: changed objects at most once per interval each (the latest state
/// wins), deletions of objects no longer desired at once. Pure: time is passed in.
#[derive(Debug)]
pub struct Coalescer {
    interval: Duration,
    /// What the API has (as far as we know), and when we last wrote each object.
    written: HashMap<String, (Option<SessionState>, Option<Instant>)>,
}

impl Coalescer {
    /// A coalescer allowing one write per object per `interval`.
    pub fn new(interval: Duration) -> Self {
        Coalescer {
            interval,
            written: HashMap::new(),
        }
    }

    /// Objects the API already has (from a list at start), so unchanged ones are not rewritten and
    /// stale ones are deleted.
    pub fn existing(&mut self, name: String, state: Option<SessionState>) {
        self.written.insert(name, (state, None));
    }

    /// The writes due at `now` for the `desired` objects; they count as done (see [`Self::failed`]).
    pub fn due(&mut self, now: Instant, desired: &BTreeMap<String, SessionState>) -> Vec<Write> {
        let mut gone: Vec<String> = self
            .written
            .keys()
            .filter(|name| !desired.contains_key(*name))
            .cloned()
            .collect();
        gone.sort();
        for name in &gone {
            self.written.remove(name);
        }
        let mut out: Vec<Write> = gone.into_iter().map(Write::Delete).collect();
        for (name, state) in desired {
            let (known, last) = self.written.get(name).cloned().unwrap_or((None, None));
            if known.as_ref() == Some(state) {
                continue;
            }
            if last.is_some_and(|t| now < t + self.interval) {
                continue;
            }
            self.written
                .insert(name.clone(), (Some(state.clone()), Some(now)));
            out.push(Write::Apply(name.clone(), state.clone()));
        }
        out
    }

    /// A write failed: the object's state is unknown, so the next due pass writes it again (still
    /// no sooner than the interval after this attempt).
    pub fn failed(&mut self, write: &Write, now: Instant) {
        match write {
            Write::Apply(name, _) => {
                self.written.insert(name.clone(), (None, Some(now)));
            }
            Write::Delete(name) => {
                self.written.insert(name.clone(), (None, Some(now)));
            }
        }
    }

    /// Every object written so far (to delete them all on stop).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.written.keys().cloned().collect();
        v.sort();
        v
    }
}

/// Writes this node's `BGPSessionState` objects in `namespace` from its status reports until
/// `stop`, then deletes them.
pub async fn run(
    client: kube::Client,
    namespace: String,
    node: String,
    report: impl Fn() -> StatusReport + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let api: Api<DynamicObject> = Api::namespaced_with(client, &namespace, &api_resource());
    let mut coalescer = Coalescer::new(MIN_WRITE_INTERVAL);
    let mut listed = false;
    let mut list_after = Instant::now();
    let mut last_error = String::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        if !listed {
            if Instant::now() < list_after {
                continue;
            }
            match list_own(&api, &node).await {
                Ok(existing) => {
                    for (name, state) in existing {
                        coalescer.existing(name, state);
                    }
                    listed = true;
                }
                Err(e) => {
                    // E.g. the CRD is not installed: nothing is written until a list works.
                    note_error(&mut last_error, &e, "listing");
                    list_after = Instant::now() + LIST_RETRY;
                    continue;
                }
            }
        }
        let now = Instant::now();
        for write in coalescer.due(now, &desired(&report())) {
            if let Err(e) = execute(&api, &namespace, &node, &write).await {
                note_error(&mut last_error, &e, "writing");
                coalescer.failed(&write, now);
            }
        }
    }
    for name in coalescer.names() {
        if let Err(e) = execute(&api, &namespace, &node, &Write::Delete(name)).await {
            debug!(error = %e, "could not delete a BGPSessionState on stop");
        }
    }
}

/// Logs an API error once until it changes (a missing CRD would otherwise log every second).
fn note_error(last: &mut String, e: &kube::Error, doing: &str) {
    let text = e.to_string();
    if *last != text {
        warn!(error = %text, "{doing} BGPSessionState objects failed (are the ferrolb.io CRDs installed? manifests/status-crds.yaml); retrying");
        *last = text;
    }
}

async fn list_own(
    api: &Api<DynamicObject>,
    node: &str,
) -> Result<Vec<(String, Option<SessionState>)>, kube::Error> {
    let list = api
        .list(&ListParams::default().labels(&format!("{NODE_LABEL}={node}")))
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| {
            let state = o
                .data
                .get("status")
                .and_then(|s| serde_json::from_value(s.clone()).ok());
            Some((o.metadata.name?, state))
        })
        .collect())
}

async fn execute(
    api: &Api<DynamicObject>,
    namespace: &str,
    node: &str,
    write: &Write,
) -> Result<(), kube::Error> {
    match write {
        Write::Apply(name, state) => {
            let obj = serde_json::json!({
                "apiVersion": format!("{GROUP}/{VERSION}"),
                "kind": KIND,
                "metadata": {"name": name, "namespace": namespace, "labels": {NODE_LABEL: node}},
                "status": state,
            });
            api.patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(obj),
            )
            .await?;
            debug!(object = %name, state = %state.session_state, "BGPSessionState written");
        }
        Write::Delete(name) => match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => info!(object = %name, "BGPSessionState deleted"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PeerReport, ServiceReport};

    fn state(s: &str) -> SessionState {
        SessionState {
            node: "n1".into(),
            peer: "10.255.0.1".into(),
            session_state: s.into(),
            ..SessionState::default()
        }
    }

    fn one(s: &str) -> BTreeMap<String, SessionState> {
        BTreeMap::from([("n1-10.255.0.1".to_string(), state(s))])
    }

    #[test]
    fn names_are_valid_object_names() {
        assert_eq!(object_name("node-a", "10.255.0.1"), "node-a-10.255.0.1");
        assert_eq!(
            object_name("Node-A", "[fd00:255::1]:1790"),
            "node-a--fd00-255--1--1790"
        );
        assert_eq!(object_name("n1", "fd00:255::1"), "n1-fd00-255--1");
    }

    #[test]
    fn a_flapping_session_is_written_at_most_once_per_interval_and_ends_on_its_last_state() {
        let mut c = Coalescer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let mut writes = Vec::new();
        // 40 state changes in 2 s (a change every 50 ms), passes every 50 ms.
        for i in 0..40u64 {
            let s = if i % 2 == 0 { "Established" } else { "Active" };
            let now = t0 + Duration::from_millis(50 * i);
            writes.extend(c.due(now, &one(s)).into_iter().map(|w| (now, w)));
        }
        assert_eq!(writes.len(), 2, "40 changes in 2 s: one write per second");
        assert!(writes[1].0 - writes[0].0 >= Duration::from_secs(1));
        // Quiet afterwards on the last state (Active): written once the interval allows, then nothing.
        let mut after = Vec::new();
        for ms in (2_000..6_000).step_by(250) {
            after.extend(c.due(t0 + Duration::from_millis(ms), &one("Active")));
        }
        assert!(after.len() <= 1, "{after:?}");
        let last = after.last().or(writes.last().map(|(_, w)| w));
        assert_eq!(
            last,
            Some(&Write::Apply("n1-10.255.0.1".into(), state("Active"))),
            "the last state is what the API has"
        );
        // And a change after a quiet second is written at once.
        let t = t0 + Duration::from_secs(10);
        assert_eq!(c.due(t, &one("Idle")).len(), 1);
    }

    #[test]
    fn unchanged_objects_are_not_rewritten_and_gone_peers_are_deleted() {
        let mut c = Coalescer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        c.existing("n1-10.255.0.1".into(), Some(state("Established")));
        c.existing("n1-10.255.9.9".into(), None);
        assert_eq!(
            c.due(t0, &one("Established")),
            vec![Write::Delete("n1-10.255.9.9".into())]
        );
        assert!(c
            .due(t0 + Duration::from_secs(3), &one("Established"))
            .is_empty());
        assert_eq!(
            c.due(t0 + Duration::from_secs(4), &BTreeMap::new()),
            vec![Write::Delete("n1-10.255.0.1".into())]
        );
    }

    #[test]
    fn a_failed_write_is_retried_after_the_interval() {
        let mut c = Coalescer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let w = c.due(t0, &one("Established"));
        c.failed(&w[0], t0);
        assert!(c
            .due(t0 + Duration::from_millis(500), &one("Established"))
            .is_empty());
        assert_eq!(
            c.due(t0 + Duration::from_secs(1), &one("Established"))
                .len(),
            1
        );
    }

    #[test]
    fn counters_do_not_change_the_object() {
        let peer = |messages: u64| PeerReport {
            peer: "10.255.0.1".into(),
            state: "Established".into(),
            uptime_seconds: Some(messages),
            established_since: Some("2026-01-01T00:00:00Z".into()),
            prefixes_sent: 1,
            messages_in: messages,
            messages_out: messages,
            ..PeerReport::default()
        };
        let report = |messages: u64| StatusReport {
            node: "n1".into(),
            peers: vec![peer(messages)],
            services: vec![ServiceReport {
                service: "web/front".into(),
                announced: true,
                prefixes: vec!["198.51.100.1/32".into()],
                peers: vec!["10.255.0.1".into()],
                ..ServiceReport::default()
            }],
            ..StatusReport::default()
        };
        let a = desired(&report(10));
        assert_eq!(a, desired(&report(500)));
        let s = &a["n1-10.255.0.1"];
        assert_eq!(s.services[0].prefixes, ["198.51.100.1/32"]);
        assert_eq!(s.established_since.as_deref(), Some("2026-01-01T00:00:00Z"));
    }
}
