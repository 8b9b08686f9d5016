//! `ferrolb status --cluster`: every BGP session of the cluster from the API (the speakers'
//! `BGPSessionState` objects), as one table, and per Service which nodes announce it to which peers.
//! No shell on the nodes is needed.

use std::collections::BTreeMap;

use anyhow::Context;
use ferrolb_speaker::session_state::{self, SessionState};
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

/// Where a Service is announced: one node to one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement {
    /// The announcing node.
    pub node: String,
    /// The peer it announces to.
    pub peer: String,
    /// The prefixes.
    pub prefixes: Vec<String>,
}

/// The `--json` document of `ferrolb status --cluster` (field names are stable).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterStatus {
    /// Every session, ordered by node and peer.
    pub sessions: Vec<SessionState>,
    /// Per Service (`namespace/name`), where it is announced.
    pub services: BTreeMap<String, Vec<Announcement>>,
}

/// Builds the cluster view from the sessions.
pub fn from_sessions(mut sessions: Vec<SessionState>) -> ClusterStatus {
    sessions.sort_by(|a, b| (&a.node, &a.peer).cmp(&(&b.node, &b.peer)));
    let mut services: BTreeMap<String, Vec<Announcement>> = BTreeMap::new();
    for s in &sessions {
        for a in &s.services {
            services
                .entry(a.service.clone())
                .or_default()
                .push(Announcement {
                    node: s.node.clone(),
                    peer: s.peer.clone(),
                    prefixes: a.prefixes.clone(),
                });
        }
    }
    ClusterStatus { sessions, services }
}

/// Lists the `BGPSessionState` objects (in `namespace`, or all namespaces).
pub async fn fetch(client: kube::Client, namespace: Option<&str>) -> anyhow::Result<ClusterStatus> {
    let ar = session_state::api_resource();
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let list = api.list(&ListParams::default()).await.with_context(|| {
        format!(
            "cannot list {}.{} (are manifests/status-crds.yaml installed and the speakers running?)",
            session_state::PLURAL,
            session_state::GROUP
        )
    })?;
    let mut sessions = Vec::new();
    for o in list.items {
        let name = o.metadata.name.clone().unwrap_or_default();
        let Some(status) = o.data.get("status") else {
            continue;
        };
        let state: SessionState = serde_json::from_value(status.clone())
            .with_context(|| format!("{} {name}: unreadable status", session_state::KIND))?;
        sessions.push(state);
    }
    Ok(from_sessions(sessions))
}

/// The table: one line per session, then the last errors, then the Services.
pub fn render(c: &ClusterStatus) -> String {
    if c.sessions.is_empty() {
        return "No BGP sessions reported (no BGPSessionState objects).\n".into();
    }
    let mut out = String::new();
    let rows: Vec<[String; 8]> = c
        .sessions
        .iter()
        .map(|s| {
            [
                s.node.clone(),
                s.peer.clone(),
                s.peer_asn.to_string(),
                s.local_asn.to_string(),
                s.session_state.clone(),
                s.established_since
                    .clone()
                    .unwrap_or_else(|| "never".into()),
                s.prefixes_sent.to_string(),
                s.bfd_status.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    out.push_str(&super::status::table(
        &[
            "Node",
            "Neighbor",
            "AS",
            "LocalAS",
            "State",
            "Established",
            "PfxSnt",
            "BFD",
        ],
        &rows,
    ));
    let up = c
        .sessions
        .iter()
        .filter(|s| s.session_state == "Established")
        .count();
    out.push_str(&format!(
        "\n{} sessions, {up} Established\n",
        c.sessions.len()
    ));
    for s in &c.sessions {
        if let Some(e) = &s.last_error {
            out.push_str(&format!("{} -> {}: last error: {e}\n", s.node, s.peer));
        }
    }
    out.push('\n');
    if c.services.is_empty() {
        out.push_str("No Service is announced.\n");
        return out;
    }
    let rows: Vec<[String; 3]> = c
        .services
        .iter()
        .map(|(svc, anns)| {
            let mut prefixes: Vec<&str> = anns
                .iter()
                .flat_map(|a| a.prefixes.iter().map(String::as_str))
                .collect();
            prefixes.sort_unstable();
            prefixes.dedup();
            let by = anns
                .iter()
                .map(|a| format!("{} -> {}", a.node, a.peer))
                .collect::<Vec<_>>()
                .join(", ");
            [svc.clone(), prefixes.join(","), by]
        })
        .collect();
    out.push_str(&super::status::table(
        &["Service", "Prefixes", "Announced by (node -> peer)"],
        &rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrolb_speaker::session_state::AnnouncedService;
    use serde_json::json;

    fn session(node: &str, peer: &str, state: &str, services: &[&str]) -> SessionState {
        SessionState {
            node: node.into(),
            peer: peer.into(),
            peer_asn: 65000,
            local_asn: 65001,
            session_state: state.into(),
            established_since: (state == "Established").then(|| "2026-12-06T09:00:00Z".into()),
            prefixes_sent: services.len() as u64,
            services: services
                .iter()
                .map(|s| AnnouncedService {
                    service: (*s).into(),
                    prefixes: vec!["198.51.100.1/32".into()],
                })
                .collect(),
            ..SessionState::default()
        }
    }

    #[test]
    fn one_table_of_sessions_and_services_by_node() {
        let mut down = session("node2", "10.255.2.1", "Active", &[]);
        down.last_error = Some("NOTIFICATION received: Cease/Administrative Shutdown".into());
        let c = from_sessions(vec![
            down,
            session("node1", "10.255.1.1", "Established", &["web/front"]),
            session("node3", "10.255.3.1", "Established", &["web/front"]),
        ]);
        let text = render(&c);
        let expected = "\
Node   Neighbor    AS     LocalAS  State        Established           PfxSnt  BFD
node1  10.255.1.1  65000  65001    Established  2026-12-06T09:00:00Z  1       -
node2  10.255.2.1  65000  65001    Active       never                 0       -
node3  10.255.3.1  65000  65001    Established  2026-12-06T09:00:00Z  1       -

3 sessions, 2 Established
node2 -> 10.255.2.1: last error: NOTIFICATION received: Cease/Administrative Shutdown

Service    Prefixes         Announced by (node -> peer)
web/front  198.51.100.1/32  node1 -> 10.255.1.1, node3 -> 10.255.1.1
";
        assert_eq!(
            text,
            expected.replace("node3 -> 10.255.1.1", "node3 -> 10.255.3.1")
        );
    }

    #[tokio::test]
    async fn reads_the_objects_from_the_api() {
        let api = ferrolb_apiserver::ApiServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let store = api.store();
        store.seed_manifests(session_state::CRD_MANIFEST).unwrap();
        for (ns, s) in [
            (
                "ferrolb-system",
                session("node1", "10.255.1.1", "Established", &["web/front"]),
            ),
            ("other", session("node2", "10.255.2.1", "Connect", &[])),
        ] {
            store
                .seed(json!({"apiVersion": "ferrolb.io/v1alpha1", "kind": "BGPSessionState",
                    "metadata": {"name": session_state::object_name(&s.node, &s.peer), "namespace": ns},
                    "status": s}))
                .unwrap();
        }
        let client = kube::Client::try_from(kube::Config::new(api.url().parse().unwrap())).unwrap();
        let all = fetch(client.clone(), None).await.unwrap();
        assert_eq!(all.sessions.len(), 2);
        assert_eq!(all.services["web/front"][0].node, "node1");
        let one = fetch(client, Some("ferrolb-system")).await.unwrap();
        assert_eq!(one.sessions.len(), 1);
        let json = serde_json::to_value(&one).unwrap();
        assert_eq!(json["sessions"][0]["sessionState"], "Established");
        assert_eq!(json["services"]["web/front"][0]["peer"], "10.255.1.1");
    }
}
