//! Address allocator: pools of CIDRs and ranges, assignments per Service, sharing rules.
//!
//! A plain object with no Kubernetes client: the controller feeds it the config
//! ([`Allocator::set_pools`]), the addresses Services already have ([`Allocator::assign`], before
//! anything else after a restart) and then asks for decisions ([`Allocator::allocate`]).
//! Decisions depend only on the allocator's state and the Service, never on time or hashing, so
//! the same inputs in the same order give the same addresses.

mod outcome;
mod sharing;
mod used;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_config::{Config, IpFamily, Pool};
use ferrolb_view::{IpFamilyPolicy, ServiceKey, ServiceView};

pub use outcome::{AssignError, ConfigRejected, Outcome, PoolCounts, PoolUsage};
use sharing::SharingInfo;
use used::UsedSet;

/// One Service's addresses as the allocator records them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    pool: String,
    ips: Vec<IpAddr>,
    sharing: SharingInfo,
}

/// The allocator. See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct Allocator {
    pools: Vec<Pool>,
    lb_class: Option<String>,
    services: BTreeMap<ServiceKey, Assignment>,
    /// Holders of each used address, sorted (a Vec: almost always one holder, and a
    /// one-element BTreeSet would cost a whole B-tree node per address).
    owners: BTreeMap<IpAddr, Vec<ServiceKey>>,
    /// Addresses held per allow-shared-ip key (to find an address to share).
    shared: BTreeMap<String, BTreeSet<IpAddr>>,
    used: UsedSet,
    in_use: BTreeMap<String, u128>,
}

impl Allocator {
    /// An allocator with no pools that handles Services without a loadBalancerClass.
    pub fn new() -> Self {
        Allocator::default()
    }

    /// Also handle Services whose `spec.loadBalancerClass` is `class` (e.g.
    /// [`ferrolb_view::LOAD_BALANCER_CLASS`]); `None` handles only Services without a class.
    pub fn set_load_balancer_class(&mut self, class: Option<String>) {
        self.lb_class = class;
    }

    /// True when FerroLB is responsible for this Service's class.
    pub fn handles_class(&self, svc: &ServiceView) -> bool {
        match &svc.load_balancer_class {
            None => true,
            Some(c) => self.lb_class.as_deref() == Some(c.as_str()),
        }
    }

    /// The pools in force.
    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    /// Installs the pools of a new config. Refused, leaving the old pools in force, when an
    /// address some Service uses would no longer be allocatable (MetalLB does the same).
    pub fn set_pools(&mut self, config: &Config) -> Result<(), ConfigRejected> {
        let mut blocking = Vec::new();
        let mut new_pool_of: Vec<(ServiceKey, String)> = Vec::new();
        for (key, a) in &self.services {
            let mut pool_name: Option<&str> = None;
            for ip in &a.ips {
                match config.pool_for(*ip).filter(|p| p.can_allocate(*ip)) {
                    Some(p) if pool_name.is_none_or(|n| n == p.name) => {
                        pool_name = Some(&p.name);
                    }
                    _ => blocking.push((key.clone(), *ip)),
                }
            }
            if let Some(n) = pool_name {
                if n != a.pool {
                    new_pool_of.push((key.clone(), n.to_string()));
                }
            }
        }
        if !blocking.is_empty() {
            return Err(ConfigRejected { blocking });
        }
        self.pools = config.pools.clone();
        for (key, pool) in new_pool_of {
            if let Some(a) = self.services.get_mut(&key) {
                a.pool = pool;
            }
        }
        self.recount();
        Ok(())
    }

    /// Registers addresses a Service already has (from `status.loadBalancer.ingress`), e.g.
    /// after a restart, before allocating anything new. Returns the pool.
    pub fn assign(&mut self, svc: &ServiceView, ips: &[IpAddr]) -> Result<String, AssignError> {
        let key = svc.key();
        if let Some(a) = self.services.get(&key) {
            if same_set(&a.ips, ips) && a.sharing == SharingInfo::of(svc) {
                return Ok(a.pool.clone());
            }
        }
        let pool = self.check_existing(svc, ips).map_err(AssignError)?;
        self.release(&key);
        self.commit(key, svc, &pool, ips.to_vec());
        Ok(pool)
    }

    /// Decides the Service's addresses, keeping valid existing ones, and records the result.
    pub fn allocate(&mut self, svc: &ServiceView) -> Outcome {
        let key = svc.key();
        if !svc.is_load_balancer {
            // Not released here: the caller releases once the status no longer shows it.
            let had = self.services.contains_key(&key);
            return if had || !svc.ingress_ips.is_empty() {
                Outcome::Clear
            } else {
                Outcome::Skip("not a LoadBalancer Service".into())
            };
        }
        if !self.handles_class(svc) {
            // Held while the Service still shows one of its addresses (another controller may
            // replace it; until then nobody else may get it).
            let shown = self
                .services
                .get(&key)
                .is_some_and(|a| a.ips.iter().any(|ip| svc.ingress_ips.contains(ip)));
            if !shown {
                self.release(&key);
            }
            let class = svc.load_balancer_class.as_deref().unwrap_or_default();
            return Outcome::Skip(format!(
                "loadBalancerClass {class:?} is handled by another controller"
            ));
        }
        if let Some(err) = &svc.requested_ips_error {
            return Outcome::Error(err.clone());
        }
        if self.pools.is_empty() {
            return Outcome::Error("no address pools are configured".into());
        }

        // Keep what the Service has when it is still valid.
        if let Some(current) = self.services.get(&key).cloned() {
            if self.check_existing(svc, &current.ips).is_ok() {
                let a = self.services.get_mut(&key).map(|a| {
                    a.sharing = SharingInfo::of(svc);
                    a.clone()
                });
                if let Some(a) = a {
                    self.reindex_shared(&key, &current, &a);
                    return Outcome::Assign {
                        pool: a.pool,
                        ips: a.ips,
                    };
                }
            }
            self.release(&key);
        } else if !svc.ingress_ips.is_empty() {
            if let Ok(pool) = self.check_existing(svc, &svc.ingress_ips) {
                self.commit(key, svc, &pool, svc.ingress_ips.clone());
                return Outcome::Assign {
                    pool,
                    ips: svc.ingress_ips.clone(),
                };
            }
        }

        let result = if svc.requested_ips.is_empty() {
            self.pick(svc)
        } else {
            self.check_requested(svc)
        };
        match result {
            Ok((pool, ips)) => {
                self.commit(key, svc, &pool, ips.clone());
                Outcome::Assign { pool, ips }
            }
            Err(reason) => Outcome::Error(reason),
        }
    }

    /// Forgets a Service's addresses. Returns true when it had any.
    pub fn release(&mut self, key: &ServiceKey) -> bool {
        let Some(a) = self.services.remove(key) else {
            return false;
        };
        for ip in &a.ips {
            let emptied = match self.owners.get_mut(ip) {
                Some(set) => {
                    set.retain(|k| k != key);
                    set.is_empty()
                }
                None => false,
            };
            if emptied {
                self.owners.remove(ip);
                self.used.remove(*ip);
                if let Some(n) = self.in_use.get_mut(&a.pool) {
                    *n = n.saturating_sub(1);
                }
            }
            if let Some(k) = &a.sharing.key {
                self.unshare(k, *ip);
            }
        }
        true
    }

    /// The addresses recorded for a Service.
    pub fn ips_of(&self, key: &ServiceKey) -> Option<(&str, &[IpAddr])> {
        self.services
            .get(key)
            .map(|a| (a.pool.as_str(), a.ips.as_slice()))
    }

    /// The Services using an address.
    pub fn owners_of(&self, ip: IpAddr) -> impl Iterator<Item = &ServiceKey> {
        self.owners.get(&ip).into_iter().flatten()
    }

    /// Number of Services with addresses.
    pub fn assigned_count(&self) -> usize {
        self.services.len()
    }

    /// Address accounting per pool, in config order.
    pub fn usage(&self) -> Vec<PoolUsage> {
        self.pools
            .iter()
            .map(|p| PoolUsage {
                pool: p.name.clone(),
                total: p.total_size(),
                in_use: self.in_use.get(&p.name).copied().unwrap_or(0),
            })
            .collect()
    }

    /// Addresses assigned and available per pool and family, in config order.
    pub fn counts(&self) -> Vec<PoolCounts> {
        let clamp = |n: u128| u64::try_from(n).unwrap_or(u64::MAX);
        self.pools
            .iter()
            .map(|p| {
                let used = |family| {
                    p.ranges
                        .iter()
                        .filter(|r| r.family() == family)
                        .fold(0u128, |n, r| n.saturating_add(self.used.count_in(r)))
                };
                let (v4, v6) = (used(IpFamily::V4), used(IpFamily::V6));
                PoolCounts {
                    pool: p.name.clone(),
                    assigned_v4: clamp(v4),
                    assigned_v6: clamp(v6),
                    available_v4: clamp(p.size(IpFamily::V4).saturating_sub(v4)),
                    available_v6: clamp(p.size(IpFamily::V6).saturating_sub(v6)),
                }
            })
            .collect()
    }

    // ---- internals ----

    fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    fn pool_for(&self, ip: IpAddr) -> Option<&Pool> {
        self.pools.iter().find(|p| p.contains(ip))
    }

    fn commit(&mut self, key: ServiceKey, svc: &ServiceView, pool: &str, ips: Vec<IpAddr>) {
        let sharing = SharingInfo::of(svc);
        for ip in &ips {
            let set = self.owners.entry(*ip).or_default();
            if set.is_empty() {
                self.used.insert(*ip);
                *self.in_use.entry(pool.to_string()).or_default() += 1;
            }
            if let Err(pos) = set.binary_search(&key) {
                set.insert(pos, key.clone());
            }
            if let Some(k) = &sharing.key {
                self.shared.entry(k.clone()).or_default().insert(*ip);
            }
        }
        self.services.insert(
            key,
            Assignment {
                pool: pool.to_string(),
                ips,
                sharing,
            },
        );
    }

    /// Drops `ip` from the sharing index of `k` unless another holder with key `k` remains.
    fn unshare(&mut self, k: &str, ip: IpAddr) {
        let still = self.owners.get(&ip).is_some_and(|set| {
            set.iter().any(|o| {
                self.services
                    .get(o)
                    .is_some_and(|a| a.sharing.key.as_deref() == Some(k))
            })
        });
        if !still {
            if let Some(set) = self.shared.get_mut(k) {
                set.remove(&ip);
                if set.is_empty() {
                    self.shared.remove(k);
                }
            }
        }
    }

    fn reindex_shared(&mut self, _key: &ServiceKey, before: &Assignment, after: &Assignment) {
        if before.sharing.key == after.sharing.key {
            return;
        }
        for ip in &after.ips {
            if let Some(k) = &before.sharing.key {
                self.unshare(k, *ip);
            }
            if let Some(k) = &after.sharing.key {
                self.shared.entry(k.clone()).or_default().insert(*ip);
            }
        }
    }

    fn recount(&mut self) {
        self.in_use.clear();
        for (ip, owners) in &self.owners {
            if let Some(pool) = owners
                .iter()
                .next()
                .and_then(|o| self.services.get(o))
                .map(|a| a.pool.clone())
            {
                let _ = ip;
                *self.in_use.entry(pool).or_default() += 1;
            }
        }
    }

    /// May `svc` use `ip` alongside its current holders (other than itself)?
    fn check_sharing(&self, svc: &ServiceView, ip: IpAddr) -> Result<(), String> {
        let me = svc.key();
        let info = SharingInfo::of(svc);
        for other in self.owners_of(ip) {
            if *other == me {
                continue;
            }
            if let Some(a) = self.services.get(other) {
                info.compatible(other, &a.sharing)
                    .map_err(|e| format!("{ip}: {e}"))?;
            }
        }
        Ok(())
    }

    /// Is `ips` a valid set of addresses for `svc` under the current pools? Returns the pool.
    fn check_existing(&self, svc: &ServiceView, ips: &[IpAddr]) -> Result<String, String> {
        if ips.is_empty() {
            return Err("no addresses".into());
        }
        let mut pool: Option<&Pool> = None;
        let mut families = BTreeSet::new();
        for ip in ips {
            let p = self
                .pool_for(*ip)
                .ok_or_else(|| format!("{ip} is not in any pool"))?;
            if !p.can_allocate(*ip) {
                return Err(format!(
                    "{ip} ends in .0 or .255 and pool {} avoids them",
                    p.name
                ));
            }
            if pool.is_some_and(|q| q.name != p.name) {
                return Err("the addresses come from different pools".into());
            }
            pool = Some(p);
            if !families.insert(IpFamily::of(*ip)) {
                return Err("two addresses of the same family".into());
            }
        }
        let pool = pool.ok_or_else(|| "no addresses".to_string())?;
        if let Some(wanted) = &svc.address_pool {
            if *wanted != pool.name {
                return Err(format!("addresses are in pool {}, not {wanted}", pool.name));
            }
        }
        if !svc.requested_ips.is_empty() && !same_set(&svc.requested_ips, ips) {
            return Err("not the requested addresses".into());
        }
        if !svc.ip_families.is_empty() && families.iter().any(|f| !svc.ip_families.contains(f)) {
            return Err("address family not in spec.ipFamilies".into());
        }
        match svc.ip_family_policy {
            IpFamilyPolicy::SingleStack => {
                if ips.len() != 1 {
                    return Err("single-stack Service with two addresses".into());
                }
                if let Some(first) = svc.ip_families.first() {
                    if IpFamily::of(ips[0]) != *first {
                        return Err("address family is not the Service's primary family".into());
                    }
                }
            }
            IpFamilyPolicy::RequireDualStack => {
                if ips.len() != 2 {
                    return Err("RequireDualStack needs an IPv4 and an IPv6 address".into());
                }
            }
            IpFamilyPolicy::PreferDualStack => {}
        }
        for ip in ips {
            self.check_sharing(svc, *ip)?;
        }
        Ok(pool.name.clone())
    }

    fn check_requested(&self, svc: &ServiceView) -> Result<(String, Vec<IpAddr>), String> {
        let mut pool: Option<&Pool> = None;
        for ip in &svc.requested_ips {
            let p = self
                .pool_for(*ip)
                .ok_or_else(|| format!("requested IP {ip} is not in any pool"))?;
            if !p.can_allocate(*ip) {
                return Err(format!(
                    "requested IP {ip} ends in .0 or .255 and pool {} has avoid-buggy-ips",
                    p.name
                ));
            }
            if let Some(wanted) = &svc.address_pool {
                if *wanted != p.name {
                    return Err(format!(
                        "requested IP {ip} is in pool {}, not in the annotated pool {wanted}",
                        p.name
                    ));
                }
            }
            if pool.is_some_and(|q| q.name != p.name) {
                return Err("requested IPs are in different pools".into());
            }
            pool = Some(p);
            if let Err(e) = self.check_sharing(svc, *ip) {
                return Err(format!("requested IP {e}"));
            }
        }
        let pool = pool.ok_or_else(|| "no requested IP".to_string())?;
        let v4 = svc.requested_ips.iter().any(IpAddr::is_ipv4);
        let v6 = svc.requested_ips.iter().any(IpAddr::is_ipv6);
        if svc.ip_family_policy == IpFamilyPolicy::RequireDualStack && !(v4 && v6) {
            return Err(
                "RequireDualStack needs one IPv4 and one IPv6 requested address".to_string(),
            );
        }
        if svc.ip_family_policy == IpFamilyPolicy::SingleStack && v4 && v6 {
            return Err("a SingleStack Service can have only one requested IP".into());
        }
        if let Some(f) = svc
            .requested_ips
            .iter()
            .map(|ip| IpFamily::of(*ip))
            .find(|f| !svc.ip_families.is_empty() && !svc.ip_families.contains(f))
        {
            return Err(format!(
                "requested {f} address but spec.ipFamilies does not include {f}"
            ));
        }
        Ok((pool.name.clone(), svc.requested_ips.clone()))
    }

    /// Picks addresses from the annotated pool or the first auto-assign pool that can serve.
    fn pick(&self, svc: &ServiceView) -> Result<(String, Vec<IpAddr>), String> {
        let candidates: Vec<&Pool> = match &svc.address_pool {
            Some(name) => {
                let pool = self
                    .pool(name)
                    .ok_or_else(|| format!("address pool {name:?} does not exist"))?;
                if let Some(a) = &pool.service_allocation {
                    if !a.allows(&svc.namespace, &svc.labels) {
                        return Err(format!(
                            "address pool {name:?} is not for this Service (its \
                             serviceAllocation names other namespaces or labels)"
                        ));
                    }
                }
                vec![pool]
            }
            None => self.automatic_candidates(svc),
        };
        if candidates.is_empty() {
            return Err(
                "no auto-assign pool is for this Service; request a pool with the \
                 ferrolb.io/address-pool annotation"
                    .into(),
            );
        }
        let mut reasons = Vec::new();
        for pool in &candidates {
            match self.pick_from(svc, pool) {
                Ok(ips) => return Ok((pool.name.clone(), ips)),
                Err(r) => reasons.push(r),
            }
        }
        if reasons.len() == 1 {
            Err(reasons.remove(0))
        } else {
            Err(format!(
                "no pool can serve this Service: {}",
                reasons.join("; ")
            ))
        }
    }

    /// The auto-assign pools for a Service without a pool annotation, in the order MetalLB
    /// tries them: pools whose `serviceAllocation` is for this Service, by priority (lower
    /// first, unset last, then in config order), then the pools without a `serviceAllocation`.
    fn automatic_candidates(&self, svc: &ServiceView) -> Vec<&Pool> {
        let mut pinned: Vec<&Pool> = self
            .pools
            .iter()
            .filter(|p| p.auto_assign)
            .filter(|p| {
                p.service_allocation
                    .as_ref()
                    .is_some_and(|a| a.pins(&svc.namespace, &svc.labels))
            })
            .collect();
        pinned.sort_by_key(|p| {
            let priority = p.service_allocation.as_ref().map_or(0, |a| a.priority);
            if priority == 0 {
                u32::MAX
            } else {
                priority
            }
        });
        let general = self
            .pools
            .iter()
            .filter(|p| p.auto_assign && p.service_allocation.is_none());
        pinned.into_iter().chain(general).collect()
    }

    fn pick_from(&self, svc: &ServiceView, pool: &Pool) -> Result<Vec<IpAddr>, String> {
        let declared: Vec<IpFamily> = svc.ip_families.clone();
        let (families, all_required): (Vec<IpFamily>, bool) = match svc.ip_family_policy {
            IpFamilyPolicy::SingleStack => {
                let fam = declared
                    .first()
                    .copied()
                    .or_else(|| {
                        [IpFamily::V4, IpFamily::V6]
                            .into_iter()
                            .find(|f| pool.has_family(*f))
                    })
                    .unwrap_or(IpFamily::V4);
                (vec![fam], true)
            }
            IpFamilyPolicy::PreferDualStack => {
                let fams = if declared.is_empty() {
                    vec![IpFamily::V4, IpFamily::V6]
                } else {
                    declared
                };
                (fams, false)
            }
            IpFamilyPolicy::RequireDualStack => (vec![IpFamily::V4, IpFamily::V6], true),
        };
        let mut ips = Vec::new();
        let mut failures = Vec::new();
        for fam in families {
            if !pool.has_family(fam) {
                failures.push(format!("pool {} has no {fam} addresses", pool.name));
                continue;
            }
            match self.find_address(svc, pool, fam) {
                Some(ip) => ips.push(ip),
                None => failures.push(format!(
                    "no available {fam} address in pool {} ({} of {} in use)",
                    pool.name,
                    self.in_use_of(pool, fam),
                    pool.size(fam)
                )),
            }
        }
        if ips.is_empty() || (all_required && !failures.is_empty()) {
            return Err(failures.join("; "));
        }
        Ok(ips)
    }

    /// Number of `fam` addresses of the pool held by Services.
    fn in_use_of(&self, pool: &Pool, fam: IpFamily) -> u128 {
        pool.ranges
            .iter()
            .filter(|r| r.family() == fam)
            .fold(0u128, |n, r| n.saturating_add(self.used.count_in(r)))
    }

    /// An address to share (same sharing key, compatible) or else the lowest free one.
    fn find_address(&self, svc: &ServiceView, pool: &Pool, fam: IpFamily) -> Option<IpAddr> {
        if let Some(k) = &svc.sharing_key {
            if let Some(ips) = self.shared.get(k) {
                for ip in ips {
                    if IpFamily::of(*ip) == fam
                        && pool.can_allocate(*ip)
                        && self.check_sharing(svc, *ip).is_ok()
                    {
                        return Some(*ip);
                    }
                }
            }
        }
        self.lowest_free(pool, fam)
    }

    /// The lowest free address of `fam` in the pool's ranges (document order), skipping used
    /// runs in one step each.
    fn lowest_free(&self, pool: &Pool, fam: IpFamily) -> Option<IpAddr> {
        for range in pool.ranges.iter().filter(|r| r.family() == fam) {
            let end = range.end_u128();
            let mut cand = range.start_u128();
            loop {
                if cand > end {
                    break;
                }
                if pool.avoid_buggy_ips && fam == IpFamily::V4 && matches!(cand % 256, 0 | 255) {
                    match cand.checked_add(1) {
                        Some(n) => {
                            cand = n;
                            continue;
                        }
                        None => break,
                    }
                }
                match self.used.run_end(fam, cand) {
                    Some(run_end) => match run_end.checked_add(1) {
                        Some(n) => cand = n,
                        None => break,
                    },
                    None => return Some(fam.addr(cand)),
                }
            }
        }
        None
    }
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let a: BTreeSet<_> = a.iter().collect();
    let b: BTreeSet<_> = b.iter().collect();
    a == b
}
