//! Prometheus metrics of the controller (`ferrolb_allocator_*`, `ferrolb_config_*`).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label set with one `pool` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    /// Pool name.
    pub pool: String,
}

/// Usage of one pool, as published in the metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolUsage {
    /// Pool name.
    pub pool: String,
    /// Addresses the pool can hand out (a float: an IPv6 /64 has 2^64).
    pub total: f64,
    /// Addresses in use by Services.
    pub in_use: f64,
}

/// The controller's metrics; cheap to clone (all handles share the same values).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    addresses_total: Family<PoolLabel, Gauge<f64, AtomicU64>>,
    addresses_in_use: Family<PoolLabel, Gauge<f64, AtomicU64>>,
    config_loaded: Gauge,
    config_stale: Gauge,
    is_leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let addresses_total = Family::<PoolLabel, Gauge<f64, AtomicU64>>::default();
        let addresses_in_use = Family::<PoolLabel, Gauge<f64, AtomicU64>>::default();
        let config_loaded = Gauge::default();
        let config_stale = Gauge::default();
        let is_leader = Gauge::default();
        registry.register(
            "ferrolb_allocator_addresses_total",
            "Number of usable addresses in each pool",
            addresses_total.clone(),
        );
        registry.register(
            "ferrolb_allocator_addresses_in_use_total",
            "Number of addresses of each pool in use by Services",
            addresses_in_use.clone(),
        );
        registry.register(
            "ferrolb_config_loaded",
            "1 when a valid configuration has been loaded",
            config_loaded.clone(),
        );
        registry.register(
            "ferrolb_config_stale",
            "1 when the running configuration is not the latest one (the latest is broken or was rejected)",
            config_stale.clone(),
        );
        registry.register(
            "ferrolb_controller_is_leader",
            "1 when this replica holds the lease and writes",
            is_leader.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            addresses_total,
            addresses_in_use,
            config_loaded,
            config_stale,
            is_leader,
        }
    }

    /// Replaces the per-pool gauges with `usage` (pools no longer configured disappear).
    pub fn set_pools(&self, usage: &[PoolUsage]) {
        self.addresses_total.clear();
        self.addresses_in_use.clear();
        for pool in usage {
            let label = PoolLabel {
                pool: pool.pool.clone(),
            };
            self.addresses_total.get_or_create(&label).set(pool.total);
            self.addresses_in_use.get_or_create(&label).set(pool.in_use);
        }
    }

    /// Sets `ferrolb_config_loaded`.
    pub fn set_config_loaded(&self, loaded: bool) {
        self.config_loaded.set(i64::from(loaded));
    }

    /// Sets `ferrolb_config_stale`.
    pub fn set_config_stale(&self, stale: bool) {
        self.config_stale.set(i64::from(stale));
    }

    /// Sets `ferrolb_controller_is_leader`.
    pub fn set_leader(&self, leader: bool) {
        self.is_leader.set(i64::from(leader));
    }

    /// Current value of `ferrolb_config_stale` (0 or 1).
    pub fn config_stale(&self) -> i64 {
        self.config_stale.get()
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_pool_gauges_and_drops_removed_pools() {
        let metrics = Metrics::new();
        metrics.set_pools(&[
            PoolUsage {
                pool: "a".into(),
                total: 256.0,
                in_use: 3.0,
            },
            PoolUsage {
                pool: "b".into(),
                total: 1.0,
                in_use: 0.0,
            },
        ]);
        metrics.set_config_stale(true);
        let text = metrics.encode();
        assert!(
            text.contains("ferrolb_allocator_addresses_total{pool=\"a\"} 256.0"),
            "{text}"
        );
        assert!(
            text.contains("ferrolb_allocator_addresses_in_use_total{pool=\"a\"} 3.0"),
            "{text}"
        );
        assert!(text.contains("ferrolb_config_stale 1"), "{text}");
        metrics.set_pools(&[PoolUsage {
            pool: "a".into(),
            total: 256.0,
            in_use: 4.0,
        }]);
        let text = metrics.encode();
        assert!(!text.contains("pool=\"b\""), "{text}");
        assert!(
            text.contains("ferrolb_allocator_addresses_in_use_total{pool=\"a\"} 4.0"),
            "{text}"
        );
    }
}
