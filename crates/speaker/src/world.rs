//! What the speaker has seen of the cluster: Services, EndpointSlices, its Node, the config.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrolb_config::Config;
use ferrolb_view::{EndpointSliceView, EndpointView, NodeView, ServiceKey, ServiceView};

use crate::departure::Departure;

/// A change of one watched kind.
#[derive(Debug, Clone)]
pub enum Update<T> {
    /// A full (re)list: the complete current set.
    Reset(Vec<T>),
    /// Added or modified.
    Apply(T),
    /// Deleted.
    Delete(T),
}

/// What a config source saw.
#[derive(Debug, Clone)]
pub enum ConfigUpdate {
    /// A valid configuration.
    Valid(Config),
    /// A document with errors (all of them, one per line).
    Invalid(String),
    /// The ConfigMap or file does not exist.
    Missing(String),
}

/// A change delivered to the speaker's loop.
// One value at a time through a channel: boxing the Service variant would only add an
// allocation per watch event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Change {
    /// Services.
    Services(Update<ServiceView>),
    /// EndpointSlices.
    Slices(Update<EndpointSliceView>),
    /// This node.
    Node(Update<NodeView>),
    /// The configuration.
    Config(ConfigUpdate),
}

/// Which initial lists have arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Services listed.
    pub services: bool,
    /// EndpointSlices listed.
    pub slices: bool,
    /// The node listed (it may not exist).
    pub node: bool,
    /// A configuration seen (valid, invalid or missing).
    pub config: bool,
}

impl Synced {
    /// Everything listed once.
    pub fn all(&self) -> bool {
        self.services && self.slices && self.node && self.config
    }
}

/// The speaker's picture of the cluster.
#[derive(Debug, Default)]
pub struct World {
    /// This node, once seen.
    pub node: Option<NodeView>,
    /// Whether this node was ever seen (its later absence means it was deleted).
    pub node_seen: bool,
    /// The node as last seen, kept after it is deleted: its labels still select the peers,
    /// so the sessions stay up while the routes are withdrawn (a departure).
    pub last_node: Option<NodeView>,
    /// Services by key.
    pub services: BTreeMap<ServiceKey, ServiceView>,
    slices: BTreeMap<(String, String), EndpointSliceView>,
    endpoints: BTreeMap<ServiceKey, Vec<EndpointView>>,
    endpoints_dirty: bool,
    /// The configuration in force (the last valid one).
    pub config: Option<Arc<Config>>,
    /// Bumped whenever a new valid configuration is taken.
    pub config_generation: u64,
    /// Errors of the last rejected configuration, or why it is missing.
    pub config_error: Option<String>,
    /// Initial lists seen.
    pub synced: Synced,
}

fn slice_key(s: &EndpointSliceView) -> (String, String) {
    (s.namespace.clone(), s.name.clone())
}

impl World {
    /// Applies a change. Returns false when it changed nothing the policy reads.
    pub fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::Services(u) => {
                self.synced.services |= matches!(u, Update::Reset(_));
                match u {
                    Update::Reset(all) => {
                        self.services = all.into_iter().map(|s| (s.key(), s)).collect();
                        true
                    }
                    Update::Apply(s) => {
                        let key = s.key();
                        if self.services.get(&key) == Some(&s) {
                            return false;
                        }
                        self.services.insert(key, s);
                        true
                    }
                    Update::Delete(s) => self.services.remove(&s.key()).is_some(),
                }
            }
            Change::Slices(u) => {
                self.synced.slices |= matches!(u, Update::Reset(_));
                let changed = match u {
                    Update::Reset(all) => {
                        self.slices = all.into_iter().map(|s| (slice_key(&s), s)).collect();
                        true
                    }
                    Update::Apply(s) => {
                        let key = slice_key(&s);
                        if self.slices.get(&key) == Some(&s) {
                            false
                        } else {
                            self.slices.insert(key, s);
                            true
                        }
                    }
                    Update::Delete(s) => self.slices.remove(&slice_key(&s)).is_some(),
                };
                self.endpoints_dirty |= changed;
                changed
            }
            Change::Node(u) => {
                self.synced.node |= matches!(u, Update::Reset(_));
                let new = match u {
                    Update::Reset(all) => all.into_iter().next(),
                    Update::Apply(n) => Some(n),
                    Update::Delete(_) => None,
                };
                self.node_seen |= new.is_some();
                if new.is_some() {
                    self.last_node.clone_from(&new);
                }
                if new == self.node {
                    return false;
                }
                self.node = new;
                true
            }
            Change::Config(c) => {
                self.synced.config = true;
                match c {
                    ConfigUpdate::Valid(config) => {
                        self.config_error = None;
                        if self.config.as_deref() == Some(&config) {
                            return false;
                        }
                        self.config = Some(Arc::new(config));
                        self.config_generation += 1;
                        true
                    }
                    ConfigUpdate::Invalid(errors) => {
                        self.config_error = Some(errors);
                        false
                    }
                    ConfigUpdate::Missing(reason) => {
                        self.config_error = Some(reason);
                        false
                    }
                }
            }
        }
    }

    /// The node the policy works with: as it is, else as last seen (deleted), else `None`.
    pub fn policy_node(&self) -> Option<&NodeView> {
        self.node.as_ref().or(self.last_node.as_ref())
    }

    /// Whether this node is leaving the load-balancer pool, as the watch shows it.
    pub fn departure(&self) -> Option<Departure> {
        Departure::of(self.node_seen, self.node.as_ref())
    }

    /// Regroups endpoints per Service after EndpointSlice changes; call before [`Self::endpoints`].
    pub fn refresh(&mut self) {
        if self.endpoints_dirty {
            self.endpoints = ferrolb_view::endpoints_by_service(self.slices.values());
            // Kept until the next change: no spare capacity from growing (most have one entry).
            for endpoints in self.endpoints.values_mut() {
                endpoints.shrink_to_fit();
            }
            self.endpoints_dirty = false;
        }
    }

    /// Endpoints per Service, merged over their slices (as of the last [`Self::refresh`]).
    pub fn endpoints(&self) -> &BTreeMap<ServiceKey, Vec<EndpointView>> {
        &self.endpoints
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_config_keeps_the_last_good_one() {
        let mut w = World::default();
        assert!(w.apply(Change::Config(ConfigUpdate::Valid(Config::default()))));
        assert_eq!(w.config_generation, 1);
        assert!(!w.apply(Change::Config(ConfigUpdate::Invalid(
            "peers[0]: bad".into()
        ))));
        assert!(w.config.is_some());
        assert_eq!(w.config_error.as_deref(), Some("peers[0]: bad"));
        assert!(!w.apply(Change::Config(ConfigUpdate::Valid(Config::default()))));
        assert_eq!(w.config_error, None);
        assert_eq!(w.config_generation, 1);
    }

    #[test]
    fn a_node_seen_then_gone_is_deleted() {
        let mut w = World::default();
        assert!(!w.apply(Change::Node(Update::Reset(vec![]))));
        assert_eq!(w.departure(), None, "never seen: not departing");
        let n = NodeView {
            name: "n1".into(),
            ..NodeView::default()
        };
        assert!(w.apply(Change::Node(Update::Apply(n.clone()))));
        assert_eq!(w.departure(), None);
        assert!(w.apply(Change::Node(Update::Delete(n.clone()))));
        assert_eq!(w.departure(), Some(Departure::Deleted));
        assert_eq!(
            w.policy_node(),
            Some(&n),
            "labels kept for the peers' selectors"
        );
    }

    #[test]
    fn identical_updates_change_nothing() {
        let mut w = World::default();
        let s = ServiceView::load_balancer("a", "b");
        assert!(w.apply(Change::Services(Update::Apply(s.clone()))));
        assert!(!w.apply(Change::Services(Update::Apply(s.clone()))));
        assert!(w.apply(Change::Services(Update::Delete(s))));
        assert!(!w.synced.services);
        w.apply(Change::Services(Update::Reset(vec![])));
        assert!(w.synced.services);
    }
}
