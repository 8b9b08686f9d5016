//! The desired set of advertisements for one peer.

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::sync::Arc;

use ipnet::IpNet;

use super::RouteAttributes;

/// The full set of routes a peer should have from us: prefix -> attributes.
///
/// Prefixes are normalised (host bits cleared), so `10.0.0.1/24` and `10.0.0.0/24` are the same
/// entry. Share one `Arc<RouteAttributes>` between prefixes with equal attributes: it costs one
/// pointer per prefix and lets the packer put them into the same UPDATEs. The set is ordered
/// (IPv4 before IPv6, then by address), which keeps UPDATE streams deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvertisementSet {
    routes: BTreeMap<IpNet, Arc<RouteAttributes>>,
}

impl AdvertisementSet {
    /// An empty set (withdraws everything when given to a peer).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a route; returns the attributes it had before, if any.
    pub fn insert(
        &mut self,
        prefix: IpNet,
        attributes: Arc<RouteAttributes>,
    ) -> Option<Arc<RouteAttributes>> {
        self.routes.insert(prefix.trunc(), attributes)
    }

    /// Removes a route; returns its attributes if it was there.
    pub fn remove(&mut self, prefix: &IpNet) -> Option<Arc<RouteAttributes>> {
        self.routes.remove(&prefix.trunc())
    }

    /// The attributes of a prefix, if it is in the set.
    pub fn get(&self, prefix: &IpNet) -> Option<&Arc<RouteAttributes>> {
        self.routes.get(&prefix.trunc())
    }

    /// Whether the prefix is in the set.
    pub fn contains(&self, prefix: &IpNet) -> bool {
        self.routes.contains_key(&prefix.trunc())
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Number of IPv4 and of IPv6 routes.
    pub fn count_by_family(&self) -> (usize, usize) {
        let v4 = self
            .routes
            .range(..IpNet::V6(Default::default()))
            .filter(|(p, _)| p.addr().is_ipv4())
            .count();
        (v4, self.routes.len() - v4)
    }

    /// Routes in order (IPv4 first, then IPv6; by address, then prefix length).
    pub fn iter(&self) -> btree_map::Iter<'_, IpNet, Arc<RouteAttributes>> {
        self.routes.iter()
    }
}

impl FromIterator<(IpNet, Arc<RouteAttributes>)> for AdvertisementSet {
    fn from_iter<T: IntoIterator<Item = (IpNet, Arc<RouteAttributes>)>>(iter: T) -> Self {
        let mut set = Self::new();
        for (p, a) in iter {
            set.insert(p, a);
        }
        set
    }
}

impl<'a> IntoIterator for &'a AdvertisementSet {
    type Item = (&'a IpNet, &'a Arc<RouteAttributes>);
    type IntoIter = btree_map::Iter<'a, IpNet, Arc<RouteAttributes>>;
    fn into_iter(self) -> Self::IntoIter {
        self.routes.iter()
    }
}
