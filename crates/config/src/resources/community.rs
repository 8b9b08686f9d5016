//! `Community` v1beta1: named community aliases, the legacy `bgp-communities`.

use serde_json::Value;

use super::kinds::{ALIAS_FIELDS, COMMUNITY_FIELDS};
use super::legacy::{spec, Legacy};
use super::object::Objects;
use crate::parse::tree::{index, join, Ctx};

/// Adds every alias of every `Community` object; a name defined twice is an error.
pub(crate) fn add(ctx: &mut Ctx, objects: &Objects, out: &mut Legacy) {
    let mut owners: Vec<(String, String)> = Vec::new();
    for obj in &objects.communities {
        let path = obj.spec_path();
        let Some(spec) = spec(ctx, &path, obj.spec, COMMUNITY_FIELDS) else {
            continue;
        };
        let list_path = join(&path, "communities");
        let items = ctx.list(&list_path, spec.get("communities").unwrap_or(&Value::Null));
        for (k, item) in items.iter().enumerate() {
            let p = index(&list_path, k);
            let Some(alias) = ctx.object(&p, item, ALIAS_FIELDS) else {
                continue;
            };
            let name = alias
                .get("name")
                .and_then(|v| ctx.string(&join(&p, "name"), v))
                .unwrap_or_default();
            if name.is_empty() {
                ctx.error(&join(&p, "name"), None, "missing (required)");
                continue;
            }
            let Some(value) = alias.get("value").filter(|v| !v.is_null()) else {
                ctx.error(&join(&p, "value"), None, "missing (required)");
                continue;
            };
            if let Some((_, first)) = owners.iter().find(|(n, _)| *n == name) {
                ctx.error_text(
                    &join(&p, "name"),
                    &name,
                    format!("community alias already defined at {first}"),
                );
                continue;
            }
            owners.push((name.clone(), p.clone()));
            out.paths
                .add(join("bgp-communities", &name), join(&p, "value"));
            out.communities.insert(name, value.clone());
        }
    }
}
