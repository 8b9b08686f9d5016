//! Adj-RIB-In for display: the routes a peer announced, with their attributes, kept only when
//! the peer's session has `keep_updates` set (collectors, looking glasses, the demo's router).
//! Nothing here is ever installed anywhere.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use crate::wire::{PathAttributes, Update};

/// One route received from a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRoute {
    /// The announced prefix.
    pub prefix: IpNet,
    /// Its path attributes as received (shared by every prefix of the same UPDATE).
    pub attributes: Arc<PathAttributes>,
}

/// The received routes of one peer, shared between its task and the `Speaker` handle.
#[derive(Debug, Default)]
pub(crate) struct AdjRibIn {
    routes: Mutex<BTreeMap<IpNet, Arc<PathAttributes>>>,
}

impl AdjRibIn {
    fn routes(&self) -> std::sync::MutexGuard<'_, BTreeMap<IpNet, Arc<PathAttributes>>> {
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies one UPDATE: withdrawals first, then announcements (RFC 4271 §9.1).
    pub(crate) fn apply(&self, update: &Update) {
        let mut routes = self.routes();
        for prefix in update.withdrawn_prefixes() {
            routes.remove(&prefix);
        }
        let announced = update.announced();
        if announced.is_empty() {
            return;
        }
        let mut attributes = update.attributes.clone();
        if let Some(reach) = attributes.mp_reach.as_mut() {
            // The prefixes are the table's keys; keep only the next hop and family.
            reach.nlri.clear();
        }
        attributes.mp_unreach = None;
        let attributes = Arc::new(attributes);
        for prefix in announced {
            routes.insert(prefix, Arc::clone(&attributes));
        }
    }

    /// Forgets everything (the session went down).
    pub(crate) fn clear(&self) {
        self.routes().clear();
    }

    /// The routes, sorted by prefix.
    pub(crate) fn snapshot(&self) -> Vec<ReceivedRoute> {
        self.routes()
            .iter()
            .map(|(prefix, attributes)| ReceivedRoute {
                prefix: *prefix,
                attributes: Arc::clone(attributes),
            })
            .collect()
    }
}
