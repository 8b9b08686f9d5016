//! The pure decision: which default routes should exist (one per usable uplink, metrics by
//! health then priority), and the ordered changes from the routes the manager owns now.

use std::net::IpAddr;

/// What the planner knows about an uplink right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkView {
    /// Uplink name.
    pub name: String,
    /// Resolved interface index, if the interface exists.
    pub index: Option<u32>,
    /// Interface is administratively up with carrier.
    pub link_up: bool,
    /// Gateway (configured or learned).
    pub gateway: Option<IpAddr>,
    /// Probes say the gateway answers (or probes are off).
    pub healthy: bool,
    /// Higher is preferred.
    pub priority: u32,
}

/// A default route the manager owns (protocol [`super::ROUTE_PROTOCOL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRoute {
    /// Gateway.
    pub gateway: IpAddr,
    /// Output interface.
    pub oif: u32,
    /// Metric.
    pub metric: u32,
}

/// A route that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRoute {
    /// The uplink it belongs to.
    pub uplink: String,
    /// The route.
    pub route: OwnedRoute,
    /// Why it has this metric (for logs).
    pub reason: String,
}

/// One change, in the order to apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Install a route.
    Add(DesiredRoute),
    /// Remove an owned route.
    Delete {
        /// The route.
        route: OwnedRoute,
        /// Why (for logs).
        reason: String,
    },
}

/// The planner's result for one address family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The routes that should exist, preferred first.
    pub desired: Vec<DesiredRoute>,
    /// Ordered changes: a default route exists at every step when one existed before.
    pub actions: Vec<Action>,
}

impl Plan {
    /// The preferred uplink's name.
    pub fn preferred(&self) -> Option<&str> {
        self.desired.first().map(|d| d.uplink.as_str())
    }
}

/// Plans one family (`v4`): `owned` are the manager's current default routes of that family,
/// `foreign_metrics` the metrics of default routes it does not own (never reused, never
/// touched).
pub fn plan(
    uplinks: &[UplinkView],
    owned: &[OwnedRoute],
    foreign_metrics: &[u32],
    base_metric: u32,
    metric_step: u32,
    v4: bool,
) -> Plan {
    let mut usable: Vec<(usize, &UplinkView)> = uplinks
        .iter()
        .enumerate()
        .filter(|(_, u)| {
            u.index.is_some() && u.link_up && u.gateway.is_some_and(|g| g.is_ipv4() == v4)
        })
        .collect();
    // Healthy first, then higher priority, then configuration order.
    usable.sort_by_key(|(i, u)| (!u.healthy, std::cmp::Reverse(u.priority), *i));
    let mut desired = Vec::new();
    let mut metric = base_metric;
    for (rank, (_, u)) in usable.iter().enumerate() {
        while foreign_metrics.contains(&metric) {
            metric = metric.saturating_add(1);
        }
        let (Some(index), Some(gateway)) = (u.index, u.gateway) else {
            continue;
        };
        let reason = if rank == 0 {
            format!(
                "preferred: {}, priority {}",
                if u.healthy {
                    "healthy"
                } else {
                    "no healthy uplink left"
                },
                u.priority
            )
        } else if u.healthy {
            format!("fallback #{rank}: healthy, priority {}", u.priority)
        } else {
            format!("fallback #{rank}: gateway not answering probes")
        };
        desired.push(DesiredRoute {
            uplink: u.name.clone(),
            route: OwnedRoute {
                gateway,
                oif: index,
                metric,
            },
            reason,
        });
        metric = metric.saturating_add(metric_step);
    }
    let mut to_delete: Vec<OwnedRoute> = owned
        .iter()
        .filter(|o| !desired.iter().any(|d| &d.route == *o))
        .cloned()
        .collect();
    let mut actions = Vec::new();
    for d in desired.iter().filter(|d| !owned.contains(&d.route)) {
        // Free the metric first (make-before-break: the route being replaced at this metric
        // goes, the others stay until their own turn).
        if let Some(pos) = to_delete.iter().position(|o| o.metric == d.route.metric) {
            let route = to_delete.remove(pos);
            actions.push(Action::Delete {
                route,
                reason: format!(
                    "metric {} now belongs to uplink {}",
                    d.route.metric, d.uplink
                ),
            });
        }
        actions.push(Action::Add(d.clone()));
    }
    for route in to_delete {
        let reason = match uplinks.iter().find(|u| u.index == Some(route.oif)) {
            Some(u) if !u.link_up => format!("uplink {} link is down", u.name),
            Some(u) if u.gateway != Some(route.gateway) => {
                format!("uplink {} gateway changed", u.name)
            }
            Some(u) => format!("uplink {} moves to another metric", u.name),
            None => "no configured uplink uses this interface any more".to_string(),
        };
        actions.push(Action::Delete { route, reason });
    }
    Plan { desired, actions }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(name: &str, index: u32, gw: &str, prio: u32, healthy: bool) -> UplinkView {
        UplinkView {
            name: name.into(),
            index: Some(index),
            link_up: true,
            gateway: Some(gw.parse().unwrap()),
            healthy,
            priority: prio,
        }
    }

    fn r(gw: &str, oif: u32, metric: u32) -> OwnedRoute {
        OwnedRoute {
            gateway: gw.parse().unwrap(),
            oif,
            metric,
        }
    }

    #[test]
    fn healthy_highest_priority_gets_the_lowest_metric() {
        let u = [
            up("mgmt", 2, "10.255.2.1", 10, true),
            up("dpu", 3, "10.255.1.1", 100, true),
        ];
        let p = plan(&u, &[], &[], 10, 10, true);
        assert_eq!(p.preferred(), Some("dpu"));
        assert_eq!(p.desired[0].route, r("10.255.1.1", 3, 10));
        assert_eq!(p.desired[1].route, r("10.255.2.1", 2, 20));
        assert_eq!(p.actions.len(), 2);
    }

    #[test]
    fn unhealthy_preferred_swaps_without_ever_leaving_no_default() {
        let u = [
            up("mgmt", 2, "10.255.2.1", 10, true),
            up("dpu", 3, "10.255.1.1", 100, false),
        ];
        let owned = [r("10.255.1.1", 3, 10), r("10.255.2.1", 2, 20)];
        let p = plan(&u, &owned, &[], 10, 10, true);
        assert_eq!(p.preferred(), Some("mgmt"));
        // Simulate the actions and check a default route exists after every step.
        let mut table: Vec<OwnedRoute> = owned.to_vec();
        for a in &p.actions {
            match a {
                Action::Add(d) => {
                    assert!(
                        !table.iter().any(|t| t.metric == d.route.metric),
                        "metric clash"
                    );
                    table.push(d.route.clone());
                }
                Action::Delete { route, .. } => table.retain(|t| t != route),
            }
            assert!(!table.is_empty(), "no default route after {a:?}");
        }
        table.sort_by_key(|t| t.metric);
        assert_eq!(table, vec![r("10.255.2.1", 2, 10), r("10.255.1.1", 3, 20)]);
    }

    #[test]
    fn nothing_to_do_when_in_place() {
        let u = [up("a", 2, "10.255.2.1", 10, true)];
        let p = plan(&u, &[r("10.255.2.1", 2, 10)], &[], 10, 10, true);
        assert!(p.actions.is_empty());
    }

    #[test]
    fn link_down_uplink_is_removed_and_foreign_metrics_are_skipped() {
        let mut down = up("a", 2, "10.255.2.1", 100, true);
        down.link_up = false;
        let u = [down, up("b", 3, "10.255.3.1", 1, true)];
        let p = plan(&u, &[r("10.255.2.1", 2, 10)], &[10, 11], 10, 10, true);
        assert_eq!(p.desired.len(), 1);
        assert_eq!(
            p.desired[0].route.metric, 12,
            "foreign metrics 10 and 11 are left alone"
        );
        assert!(p.actions.iter().any(
            |a| matches!(a, Action::Delete { reason, .. } if reason.contains("link is down"))
        ));
    }

    #[test]
    fn family_filter_and_missing_gateway() {
        let mut nogw = up("a", 2, "10.255.2.1", 1, true);
        nogw.gateway = None;
        let u = [nogw, up("v6", 3, "fd00:255:1::1", 1, true)];
        assert!(plan(&u, &[], &[], 10, 10, true).desired.is_empty());
        assert_eq!(plan(&u, &[], &[], 10, 10, false).preferred(), Some("v6"));
    }
}
