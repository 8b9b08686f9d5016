//! Offline planning (`ferrolb plan`): what the controller would do with a config and a list of
//! Services, computed with the same [`Allocator`] the controller uses.
//!
//! Like the controller after a restart, it first registers every address already in
//! `status.loadBalancer.ingress` (in sorted order, so conflicts resolve deterministically), then
//! allocates every LoadBalancer Service in `namespace/name` order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use ferrolb_config::Config;
use ferrolb_view::{ServiceKey, ServiceView};
use serde::Serialize;

use crate::allocator::{Allocator, ConfigRejected, Outcome, PoolUsage};

/// Options of a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Also handle Services of this `loadBalancerClass` (as `ferrolb controller --lb-class`).
    pub load_balancer_class: Option<String>,
}

/// What would happen to one LoadBalancer Service. Serializes to the `--output json` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanEntry {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pool of the addresses (null when none).
    pub pool: Option<String>,
    /// Addresses the Service would have.
    pub ips: Vec<IpAddr>,
    /// True when `ips` differ from the Service's current `status.loadBalancer.ingress`.
    pub changed: bool,
    /// Why the Service cannot get an address (null when it can).
    pub error: Option<String>,
    /// Addresses in the Service's status today.
    #[serde(skip)]
    pub previous: Vec<IpAddr>,
    /// Not FerroLB's Service (e.g. another loadBalancerClass): the reason. Not in JSON output.
    #[serde(skip)]
    pub skipped: Option<String>,
    /// Why the status address could not be kept, when it could not.
    #[serde(skip)]
    pub note: Option<String>,
}

impl PlanEntry {
    /// A one-word summary: `kept`, `new`, `moved`, `error`, `skipped`.
    pub fn action(&self) -> &'static str {
        if self.skipped.is_some() {
            "skipped"
        } else if self.error.is_some() {
            "error"
        } else if !self.changed {
            "kept"
        } else if self.previous.is_empty() {
            "new"
        } else {
            "moved"
        }
    }
}

/// The result of planning.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One entry per LoadBalancer Service, sorted by namespace/name.
    pub entries: Vec<PlanEntry>,
    /// Address accounting per pool after the plan.
    pub usage: Vec<PoolUsage>,
}

impl Plan {
    /// The entries of Services FerroLB handles (not skipped).
    pub fn handled(&self) -> Vec<&PlanEntry> {
        self.entries
            .iter()
            .filter(|e| e.skipped.is_none())
            .collect()
    }

    /// The `--output json` array: one object per LoadBalancer Service FerroLB handles.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.handled()).unwrap_or(serde_json::Value::Null)
    }

    /// [`Plan::to_json`] as pretty text, keys in the documented order
    /// (`namespace`, `name`, `pool`, `ips`, `changed`, `error`).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.handled()).unwrap_or_else(|_| "[]".into())
    }

    /// Entries that differ from the Services' status, or cannot be served.
    pub fn changes(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.skipped.is_none() && (e.changed || e.error.is_some()))
            .count()
    }

    /// The human table.
    pub fn render_table(&self) -> String {
        let rows: Vec<[String; 6]> = self
            .entries
            .iter()
            .map(|e| {
                let ips: Vec<String> = e.ips.iter().map(IpAddr::to_string).collect();
                let previous: Vec<String> = e.previous.iter().map(IpAddr::to_string).collect();
                let note = match (&e.skipped, &e.error, &e.note) {
                    (Some(s), _, _) => s.clone(),
                    (_, Some(err), _) => err.clone(),
                    (_, _, Some(n)) => n.clone(),
                    _ if e.changed && !previous.is_empty() => {
                        format!("was {}", previous.join(","))
                    }
                    _ => String::new(),
                };
                [
                    e.namespace.clone(),
                    e.name.clone(),
                    e.pool.clone().unwrap_or_else(|| "-".into()),
                    if ips.is_empty() {
                        "-".into()
                    } else {
                        ips.join(",")
                    },
                    e.action().to_string(),
                    note,
                ]
            })
            .collect();
        let header = ["NAMESPACE", "NAME", "POOL", "IPS", "ACTION", "NOTE"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.len());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[&str]| {
            let mut l = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(cell);
                } else {
                    let _ = write!(l, "{:<w$}  ", cell, w = widths[i]);
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&header);
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            line(&cells);
        }
        let _ = writeln!(
            out,
            "\n{} LoadBalancer Service(s), {} change(s)",
            self.entries.iter().filter(|e| e.skipped.is_none()).count(),
            self.changes()
        );
        for u in &self.usage {
            let _ = writeln!(
                out,
                "pool {}: {} of {} addresses in use",
                u.pool, u.in_use, u.total
            );
        }
        out
    }
}

/// Plans the Services against the config.
pub fn plan(
    config: &Config,
    services: &[ServiceView],
    options: &PlanOptions,
) -> Result<Plan, ConfigRejected> {
    let mut allocator = Allocator::new();
    allocator.set_load_balancer_class(options.load_balancer_class.clone());
    allocator.set_pools(config)?;

    // Sorted by namespace/name; the last one wins for duplicate keys.
    let mut sorted: Vec<&ServiceView> = services.iter().collect();
    sorted.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut unique: Vec<&ServiceView> = Vec::with_capacity(sorted.len());
    for svc in sorted {
        match unique.last_mut() {
            Some(last) if last.namespace == svc.namespace && last.name == svc.name => *last = svc,
            _ => unique.push(svc),
        }
    }

    // 1. Register addresses that Services already have.
    let mut notes: BTreeMap<ServiceKey, String> = BTreeMap::new();
    for svc in &unique {
        if svc.is_load_balancer && allocator.handles_class(svc) && !svc.ingress_ips.is_empty() {
            if let Err(e) = allocator.assign(svc, &svc.ingress_ips) {
                notes.insert(svc.key(), format!("status address not kept: {e}"));
            }
        }
    }

    // 2. Allocate.
    let mut entries = Vec::with_capacity(unique.len());
    for svc in &unique {
        if !svc.is_load_balancer {
            continue;
        }
        let key = &svc.key();
        let outcome = allocator.allocate(svc);
        let mut entry = PlanEntry {
            namespace: svc.namespace.clone(),
            name: svc.name.clone(),
            pool: None,
            ips: Vec::new(),
            changed: false,
            error: None,
            previous: svc.ingress_ips.clone(),
            skipped: None,
            note: notes.remove(key),
        };
        match outcome {
            Outcome::Assign { pool, ips } => {
                entry.pool = Some(pool);
                entry.ips = ips;
            }
            Outcome::Error(reason) => {
                entry.error = Some(reason);
                if let Some((pool, ips)) = allocator.ips_of(key) {
                    entry.pool = Some(pool.to_string());
                    entry.ips = ips.to_vec();
                }
            }
            Outcome::Skip(reason) => entry.skipped = Some(reason),
            Outcome::Clear => {}
        }
        entry.changed = entry.skipped.is_none() && !same_set(&entry.ips, &entry.previous);
        entries.push(entry);
    }
    Ok(Plan {
        entries,
        usage: allocator.usage(),
    })
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

#[cfg(test)]
mod tests;
