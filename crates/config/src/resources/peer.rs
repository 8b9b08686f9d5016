//! `BGPPeer` v1beta2 and v1beta1: the legacy `peers[]`.

use serde_json::{Map, Value};

use super::kinds::{PEER_V1BETA1_FIELDS, PEER_V1BETA2_FIELDS};
use super::legacy::{
    copy_fields, reject_duplicates, reject_unimplemented, spec, warn_unimplemented, Legacy,
};
use super::object::{id, Object, Objects};
use crate::parse::tree::{index, join, Ctx};

/// The key of the password in a `passwordSecret` Secret (MetalLB: a basic-auth Secret).
pub const PASSWORD_SECRET_KEY: &str = "password";
/// The Secret type MetalLB requires for `passwordSecret`.
pub const PASSWORD_SECRET_TYPE: &str = "kubernetes.io/basic-auth";
/// The highest `peerPort` MetalLB's schema accepts.
const MAX_PEER_PORT: u64 = 16384;

/// Adds every `BGPPeer` object.
pub(crate) fn add(ctx: &mut Ctx, objects: &Objects, out: &mut Legacy) {
    for obj in &objects.peers {
        let path = obj.spec_path();
        let v1beta1 = obj.kind.version == "v1beta1";
        let fields = if v1beta1 {
            PEER_V1BETA1_FIELDS
        } else {
            PEER_V1BETA2_FIELDS
        };
        let Some(spec) = spec(ctx, &path, obj.spec, fields) else {
            continue;
        };
        let mut entry = copy_fields(spec, fields);
        reject_duplicates(ctx, &path, spec, "nodeSelectors");
        unimplemented(ctx, &path, spec);
        if let Some(v) = spec.get("peerPort") {
            let min = if v1beta1 { 0 } else { 1 };
            let p = join(&path, "peerPort");
            if let Some(port) = ctx.uint(&p, v, u64::from(u16::MAX)) {
                if !(min..=MAX_PEER_PORT).contains(&port) {
                    let message = format!("must be in {min}..={MAX_PEER_PORT} (MetalLB's schema)");
                    ctx.error(&p, Some(v), message);
                }
            }
        }
        entry.remove("password-secret");
        if let Some(secret) = password_secret(ctx, objects, obj, spec) {
            entry.insert("password-secret".into(), secret);
        }
        let legacy_path = index("peers", out.peers.len());
        out.paths.add(legacy_path, path);
        out.peers.push(Value::Object(entry));
    }
}

/// What FerroLB does with a set field MetalLB has but FerroLB does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unimplemented {
    /// An error: the session could not be what the user asked for; the text is the hint.
    Rejected(&'static str),
    /// A warning: the session works without it; the text says what happens instead.
    Ignored(&'static str),
}

const NO_PEER: &str = "the peer needs peerAddress and peerASN";
const OWN_FAMILY: &str = "each address family is announced on a session of its own family";

/// The `BGPPeer` fields MetalLB has for its FRR modes that FerroLB does not implement, and what
/// FerroLB does when one is set (the CRD descriptions say the same).
pub(crate) const PEER_UNIMPLEMENTED: &[(&str, Unimplemented)] = &[
    ("dynamicASN", Unimplemented::Rejected(NO_PEER)),
    ("interface", Unimplemented::Rejected(NO_PEER)),
    (
        "localASN",
        Unimplemented::Rejected(
            "the session would use myASN; set myASN to the AS the peer expects",
        ),
    ),
    (
        "connectTime",
        Unimplemented::Ignored("the BGP library's connect-retry time is used"),
    ),
    (
        "vrf",
        Unimplemented::Ignored("the session is opened in the node's default VRF"),
    ),
    ("disableMP", Unimplemented::Ignored(OWN_FAMILY)),
    ("dualStackAddressFamily", Unimplemented::Ignored(OWN_FAMILY)),
];

/// Reports each set field of [`PEER_UNIMPLEMENTED`] as its error or warning.
fn unimplemented(ctx: &mut Ctx, path: &str, spec: &Map<String, Value>) {
    for (field, outcome) in PEER_UNIMPLEMENTED {
        match outcome {
            Unimplemented::Rejected(hint) => reject_unimplemented(ctx, path, spec, field, hint),
            Unimplemented::Ignored(effect) => warn_unimplemented(ctx, path, spec, field, effect),
        }
    }
}

/// The legacy `password-secret` of `spec.passwordSecret`; checks the Secret when it is given
/// with the objects (type basic-auth, a `password` key). Never reads the password into errors.
fn password_secret(
    ctx: &mut Ctx,
    objects: &Objects,
    peer: &Object,
    spec: &Map<String, Value>,
) -> Option<Value> {
    let reference = spec.get("passwordSecret")?;
    let path = join(&peer.spec_path(), "passwordSecret");
    let map = ctx.object(&path, reference, &["name", "namespace"])?;
    let name = map.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        return None;
    }
    let namespace = map
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let wanted_ns = namespace.or(peer.namespace.as_deref());
    if let Some(secret) = objects.secrets.iter().find(|s| {
        s.name == name
            && (wanted_ns.is_none() || s.namespace.is_none() || s.namespace.as_deref() == wanted_ns)
    }) {
        let secret_id = id("Secret", secret.namespace.as_deref(), &secret.name);
        let kind = secret.raw.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != PASSWORD_SECRET_TYPE {
            ctx.error_text(
                &format!("{secret_id}: type"),
                kind,
                format!("{path} needs a Secret of type {PASSWORD_SECRET_TYPE}"),
            );
        }
        let has_password = ["data", "stringData"].iter().any(|field| {
            secret
                .raw
                .get(field)
                .and_then(|d| d.get(PASSWORD_SECRET_KEY))
                .is_some()
        });
        if !has_password {
            ctx.error(
                &format!("{secret_id}: data.{PASSWORD_SECRET_KEY}"),
                None,
                format!("missing: {path} reads the password from this key"),
            );
        }
    }
    let mut out = Map::new();
    out.insert("name".into(), Value::String(name.to_string()));
    if let Some(ns) = namespace {
        out.insert("namespace".into(), Value::String(ns.to_string()));
    }
    out.insert("key".into(), Value::String(PASSWORD_SECRET_KEY.into()));
    Some(Value::Object(out))
}
