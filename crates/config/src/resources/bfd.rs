//! `BFDProfile` v1beta1: the legacy `bfd-profiles[]`, named by the object.

use serde_json::Value;

use super::kinds::BFD_FIELDS;
use super::legacy::{copy_fields, spec, Legacy};
use super::object::Objects;
use crate::parse::tree::{index, join, Ctx};

/// Adds every `BFDProfile` object.
pub(crate) fn add(ctx: &mut Ctx, objects: &Objects, out: &mut Legacy) {
    for obj in &objects.bfd_profiles {
        let path = obj.spec_path();
        let Some(spec) = spec(ctx, &path, obj.spec, BFD_FIELDS) else {
            continue;
        };
        let mut entry = copy_fields(spec, BFD_FIELDS);
        entry.insert("name".into(), Value::String(obj.name.clone()));
        let legacy_path = index("bfd-profiles", out.bfd_profiles.len());
        out.paths.add(
            join(&legacy_path, "name"),
            format!("{}: metadata.name", obj.id()),
        );
        out.paths.add(legacy_path, path);
        out.bfd_profiles.push(Value::Object(entry));
    }
}
