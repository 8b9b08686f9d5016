//! `ferrolb config migrate`: a legacy ConfigMap (or its bare config text) to the equivalent
//! metallb.io objects, as MetalLB's own converter lays them out: one `IPAddressPool` per pool,
//! one `BGPAdvertisement` per `bgp-advertisements[]` entry (an empty one for a bgp pool without
//! any), one `L2Advertisement` per layer2 pool, `BGPPeer` v1beta2 `peer1..n`, one `Community`
//! named `communities`, one `BFDProfile` per profile.

use serde_json::{json, Map, Value};

use super::kinds::{crd_key, KINDS};
use super::peer::PASSWORD_SECRET_KEY;
use crate::error::{ConfigError, ConfigErrors};
use crate::parse::tree::{index, join};

/// The objects of a migration and the notes about what changed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// The objects, in the order they should be applied.
    pub objects: Vec<Value>,
    /// Renamed objects and settings the custom resources cannot express.
    pub notes: Vec<String>,
}

impl Migration {
    /// The objects as multi-document YAML (what `kubectl apply -f` takes).
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        for object in &self.objects {
            out.push_str("---\n");
            match serde_saphyr::to_string(object) {
                Ok(text) => out.push_str(&text),
                // A JSON value always serializes; keep the document valid YAML regardless.
                Err(_) => out.push_str(&object.to_string()),
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// Converts a legacy ConfigMap manifest or bare config text into metallb.io objects in
/// `namespace`. The input is validated first: an invalid config is refused with its errors.
pub fn migrate(text: &str, namespace: &str) -> Result<Migration, ConfigErrors> {
    let config_text = crate::config_text_from_document(text)?;
    crate::parse_config(&config_text)?;
    let tree: Value = if config_text.trim().is_empty() {
        Value::Null
    } else {
        serde_saphyr::from_str(&config_text).map_err(|e| {
            ConfigErrors(vec![ConfigError::new(
                "",
                None,
                format!("not valid YAML: {e}"),
            )])
        })?
    };
    let mut m = Migrator {
        namespace,
        out: Migration {
            objects: Vec::new(),
            notes: Vec::new(),
        },
        errors: Vec::new(),
    };
    m.communities(tree.get("bgp-communities"));
    m.bfd_profiles(list(tree.get("bfd-profiles")));
    let peers = list(tree.get("peers"));
    m.peers(peers);
    m.pools(list(tree.get("address-pools")), peers);
    if m.errors.is_empty() {
        Ok(m.out)
    } else {
        Err(ConfigErrors(m.errors))
    }
}

fn list(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

struct Migrator<'n> {
    namespace: &'n str,
    out: Migration,
    errors: Vec<ConfigError>,
}

impl Migrator<'_> {
    fn object(&mut self, kind: &str, name: &str, spec: Map<String, Value>) {
        let api_version = KINDS
            .iter()
            .find(|k| k.kind == kind)
            .map(|k| k.api_version())
            .unwrap_or_default();
        self.out.objects.push(json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": Value::Object(spec),
        }));
    }

    /// A Kubernetes name for `name` (MetalLB's converter rules: at most 63 characters,
    /// lowercase, `_` as `-`, starting at the first letter); a change is noted.
    fn k8s_name(&mut self, path: &str, kind: &str, name: &str) -> String {
        if is_k8s_name(name) {
            return name.to_string();
        }
        let converted: String = name
            .chars()
            .take(63)
            .map(|c| {
                if c == '_' {
                    '-'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let start = converted.find(|c: char| c.is_ascii_lowercase());
        let converted = start.map(|s| converted[s..].to_string());
        match converted.filter(|c| is_k8s_name(c)) {
            Some(c) => {
                self.out
                    .notes
                    .push(format!("{path}: {kind} name {name:?} becomes {c:?}"));
                c
            }
            None => {
                self.errors.push(ConfigError::new(
                    path,
                    Some(name.to_string()),
                    format!("cannot be turned into a Kubernetes name for a {kind}; rename it"),
                ));
                name.to_string()
            }
        }
    }

    fn communities(&mut self, value: Option<&Value>) {
        let Some(Value::Object(aliases)) = value else {
            return;
        };
        if aliases.is_empty() {
            return;
        }
        let list: Vec<Value> = aliases
            .iter()
            .map(|(name, v)| json!({"name": name, "value": v}))
            .collect();
        let mut spec = Map::new();
        spec.insert("communities".into(), Value::Array(list));
        self.object("Community", "communities", spec);
    }

    fn bfd_profiles(&mut self, profiles: &[Value]) {
        for (i, profile) in profiles.iter().enumerate() {
            let path = index("bfd-profiles", i);
            let Some(map) = profile.as_object() else {
                continue;
            };
            let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
            let name = self.k8s_name(&join(&path, "name"), "BFDProfile", name);
            let spec = crd_fields(map, &["name"]);
            self.object("BFDProfile", &name, spec);
        }
    }

    fn peers(&mut self, peers: &[Value]) {
        for (i, peer) in peers.iter().enumerate() {
            let path = index("peers", i);
            let Some(map) = peer.as_object() else {
                continue;
            };
            let mut spec = crd_fields(
                map,
                &["password-secret", "advertise-pod-cidr", "max-prefix"],
            );
            for key in ["advertise-pod-cidr", "max-prefix"] {
                if let Some(v) = map.get(key) {
                    self.out.notes.push(format!(
                        "{}: {}: BGPPeer has no such field (a FerroLB addition); dropped",
                        join(&path, key),
                        crate::parse::tree::show(v)
                    ));
                }
            }
            if let Some(Value::String(profile)) = map.get("bfd-profile") {
                let name = self.k8s_name(&join(&path, "bfd-profile"), "BFDProfile", profile);
                spec.insert("bfdProfile".into(), Value::String(name));
            }
            if let Some(secret) = map.get("password-secret").and_then(Value::as_object) {
                let key = secret
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if key != PASSWORD_SECRET_KEY {
                    self.out.notes.push(format!(
                        "{}: {key:?}: BGPPeer reads the key {PASSWORD_SECRET_KEY:?} of a \
                         kubernetes.io/basic-auth Secret; move the password there",
                        join(&path, "password-secret.key")
                    ));
                }
                let mut reference = Map::new();
                for field in ["name", "namespace"] {
                    if let Some(v) = secret.get(field) {
                        reference.insert(field.into(), v.clone());
                    }
                }
                spec.insert("passwordSecret".into(), Value::Object(reference));
            }
            self.object("BGPPeer", &format!("peer{}", i + 1), spec);
        }
    }

    fn pools(&mut self, pools: &[Value], peers: &[Value]) {
        let mut bgp_ads = Vec::new();
        let mut l2_ads = Vec::new();
        for (i, pool) in pools.iter().enumerate() {
            let path = index("address-pools", i);
            let Some(map) = pool.as_object() else {
                continue;
            };
            let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
            let name = self.k8s_name(&join(&path, "name"), "IPAddressPool", name);
            let spec = crd_fields(map, &["name", "protocol", "bgp-advertisements"]);
            self.object("IPAddressPool", &name, spec);
            let selects = json!([name]);
            if map.get("protocol").and_then(Value::as_str) == Some("layer2") {
                l2_ads.push(selects);
                continue;
            }
            let advertisements = list(map.get("bgp-advertisements"));
            if advertisements.is_empty() {
                bgp_ads.push(Map::from_iter([(
                    "ipAddressPools".to_string(),
                    selects.clone(),
                )]));
            }
            for adv in advertisements {
                let mut spec = adv
                    .as_object()
                    .map(|a| crd_fields(a, &["peers"]))
                    .unwrap_or_default();
                if let Some(addresses) = adv.get("peers").and_then(Value::as_array) {
                    spec.insert("peers".into(), peer_names(addresses, peers));
                }
                spec.insert("ipAddressPools".into(), selects.clone());
                bgp_ads.push(spec);
            }
        }
        for (i, spec) in bgp_ads.into_iter().enumerate() {
            self.object(
                "BGPAdvertisement",
                &format!("bgpadvertisement{}", i + 1),
                spec,
            );
        }
        for (i, pools) in l2_ads.into_iter().enumerate() {
            let spec = Map::from_iter([("ipAddressPools".to_string(), pools)]);
            self.object(
                "L2Advertisement",
                &format!("l2advertisement{}", i + 1),
                spec,
            );
        }
    }
}

/// The BGPPeer names (`peer<n>`, as `Migrator::peers` names them) of peer addresses.
fn peer_names(addresses: &[Value], peers: &[Value]) -> Value {
    let canonical = |v: &Value| {
        v.as_str()
            .and_then(|s| s.trim().parse::<std::net::IpAddr>().ok())
            .map(|ip| ip.to_canonical())
    };
    let names = addresses
        .iter()
        .filter_map(|a| {
            let wanted = canonical(a)?;
            let i = peers
                .iter()
                .position(|p| p.get("peer-address").and_then(canonical) == Some(wanted))?;
            Some(Value::String(format!("peer{}", i + 1)))
        })
        .collect();
    Value::Array(names)
}

/// The legacy entry's keys as custom-resource fields (selectors too), `skip` left out.
fn crd_fields(map: &Map<String, Value>, skip: &[&str]) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let value = if k == "node-selectors" {
                crd_selectors(v)
            } else {
                v.clone()
            };
            (crd_key(k).to_string(), value)
        })
        .collect()
}

fn crd_selectors(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| match item {
                    Value::Object(m) => Value::Object(
                        m.iter()
                            .map(|(k, v)| (crd_key(k).to_string(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A DNS-1123 label starting with a letter, as MetalLB's converter wants its names.
fn is_k8s_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 63
        && first.is_ascii_lowercase()
        && (last.is_ascii_lowercase() || last.is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}
