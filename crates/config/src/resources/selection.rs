//! Which pools an advertisement applies to: `ipAddressPools` (names) and
//! `ipAddressPoolSelectors` (labels); neither means every pool.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::legacy::legacy_selectors;
use super::object::Object;
use super::paths::PathMap;
use crate::parse::tree::{index, join, Ctx};
use crate::selector::NodeSelector;

/// The pools an advertisement selects.
pub(crate) struct PoolSelection {
    names: Vec<String>,
    selectors: Vec<NodeSelector>,
}

impl PoolSelection {
    /// Reads `ipAddressPools` and `ipAddressPoolSelectors` of an advertisement's spec.
    pub fn read(ctx: &mut Ctx, path: &str, spec: &Map<String, Value>) -> Self {
        let mut names = Vec::new();
        let names_path = join(path, "ipAddressPools");
        let items = ctx.list(
            &names_path,
            spec.get("ipAddressPools").unwrap_or(&Value::Null),
        );
        let mut seen = BTreeSet::new();
        for (i, item) in items.iter().enumerate() {
            let p = index(&names_path, i);
            let Some(name) = ctx.string(&p, item) else {
                continue;
            };
            if !seen.insert(name.clone()) {
                ctx.error_text(&p, &name, "duplicate pool name in ipAddressPools");
                continue;
            }
            names.push(name);
        }
        let selectors = match spec.get("ipAddressPoolSelectors") {
            Some(v) => label_selectors(ctx, &join(path, "ipAddressPoolSelectors"), v),
            None => Vec::new(),
        };
        PoolSelection { names, selectors }
    }

    /// True when the advertisement applies to `pool`.
    pub fn selects(&self, pool: &Object) -> bool {
        (self.names.is_empty() && self.selectors.is_empty())
            || self.names.contains(&pool.name)
            || self.selectors.iter().any(|s| s.matches(&pool.labels))
    }

    /// Warns about names in `ipAddressPools` that no `IPAddressPool` has.
    pub fn warn_unknown(&self, ctx: &mut Ctx, path: &str, pools: &[Object]) {
        for name in &self.names {
            if !pools.iter().any(|p| &p.name == name) {
                ctx.warnings.push(format!(
                    "{path}.ipAddressPools: no IPAddressPool named {name:?}; nothing is selected by this name"
                ));
            }
        }
    }
}

/// Parses `metav1.LabelSelector`s with the legacy selector parser, errors named in CRD fields.
pub(crate) fn label_selectors(ctx: &mut Ctx, path: &str, value: &Value) -> Vec<NodeSelector> {
    let mut scratch = Ctx::default();
    let selectors = crate::parse::peers::selectors(&mut scratch, path, &legacy_selectors(value));
    let mut paths = PathMap::default();
    paths.add(path, path);
    ctx.errors
        .extend(scratch.errors.into_iter().map(|e| paths.error(e)));
    selectors
}
