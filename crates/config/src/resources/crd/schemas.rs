//! Field types and constraints of each metallb.io kind and version (facts of MetalLB's API:
//! `api/v1beta1`, `api/v1beta2` and their kubebuilder markers).

use serde_json::{json, Map, Value};

use super::{Definition, Version};

fn string() -> Value {
    json!({"type": "string"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn strings() -> Value {
    json!({"type": "array", "items": string()})
}

fn int32(min: Option<i64>, max: Option<i64>) -> Value {
    bounded(json!({"type": "integer", "format": "int32"}), min, max)
}

fn bounded(mut v: Value, min: Option<i64>, max: Option<i64>) -> Value {
    if let Some(min) = min {
        v["minimum"] = json!(min);
    }
    if let Some(max) = max {
        v["maximum"] = json!(max);
    }
    v
}

/// An AS number: int64 format, 0..=2^32-1 (`localASN` starts at 1).
fn asn(min: i64) -> Value {
    json!({"type": "integer", "format": "int64", "minimum": min, "maximum": 4294967295u64})
}

fn with_default(mut v: Value, default: Value) -> Value {
    v["default"] = default;
    v
}

fn object(properties: Value, required: &[&str]) -> Value {
    let mut v = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        v["required"] = json!(required);
    }
    v
}

/// `metav1.LabelSelector`.
fn label_selector() -> Value {
    json!({
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchExpressions": {
                "type": "array",
                "x-kubernetes-list-type": "atomic",
                "items": object(json!({
                    "key": string(),
                    "operator": string(),
                    "values": {"type": "array", "x-kubernetes-list-type": "atomic", "items": string()},
                }), &["key", "operator"]),
            },
            "matchLabels": {"type": "object", "additionalProperties": string()},
        },
    })
}

fn label_selectors() -> Value {
    json!({"type": "array", "items": label_selector()})
}

/// The object around a spec and status; `description` says what the kind is for.
fn root(description: &str, spec: Value, status: Value, required: &[&str]) -> Value {
    let mut v = object(
        json!({
            "apiVersion": string(),
            "kind": string(),
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        }),
        required,
    );
    v["description"] = json!(description);
    v
}

fn column(name: &str, path: &str, kind: &str) -> Value {
    json!({"name": name, "jsonPath": path, "type": kind})
}

/// The printer columns of both advertisement kinds; `targets` is Peers or Interfaces.
fn advertisement_columns(targets: (&str, &str)) -> Vec<Value> {
    let mut node_column = column("Node Selectors", ".spec.nodeSelectors", "string");
    node_column["priority"] = json!(10);
    vec![
        column("IPAddressPools", ".spec.ipAddressPools", "string"),
        column(
            "IPAddressPool Selectors",
            ".spec.ipAddressPoolSelectors",
            "string",
        ),
        column(targets.0, targets.1, "string"),
        node_column,
    ]
}

fn version(name: &'static str, schema: Value, columns: Vec<Value>) -> Version {
    Version {
        name,
        storage: true,
        deprecation: None,
        schema,
        columns: Value::Array(columns),
    }
}

fn empty_status() -> Value {
    json!({"type": "object"})
}

pub(super) fn definitions() -> Vec<Definition> {
    vec![
        ip_address_pool(),
        bgp_advertisement(),
        bgp_peer(),
        community(),
        bfd_profile(),
        l2_advertisement(),
    ]
}

fn ip_address_pool() -> Definition {
    let spec = object(
        json!({
            "addresses": strings(),
            "autoAssign": with_default(boolean(), json!(true)),
            "avoidBuggyIPs": with_default(boolean(), json!(false)),
            "serviceAllocation": object(json!({
                "priority": {"type": "integer"},
                "namespaces": strings(),
                "namespaceSelectors": label_selectors(),
                "serviceSelectors": label_selectors(),
            }), &[]),
        }),
        &["addresses"],
    );
    let count = json!({"type": "integer", "format": "int64"});
    let status = object(
        json!({
            "assignedIPv4": count, "assignedIPv6": count,
            "availableIPv4": count, "availableIPv6": count,
        }),
        &[
            "assignedIPv4",
            "assignedIPv6",
            "availableIPv4",
            "availableIPv6",
        ],
    );
    let schema = root(
        "Addresses FerroLB (or MetalLB) hands out to LoadBalancer Services.",
        spec,
        status,
        &["spec"],
    );
    Definition {
        kind: "IPAddressPool",
        versions: vec![version(
            "v1beta1",
            schema,
            vec![
                column("Auto Assign", ".spec.autoAssign", "boolean"),
                column("Avoid Buggy IPs", ".spec.avoidBuggyIPs", "boolean"),
                column("Addresses", ".spec.addresses", "string"),
            ],
        )],
    }
}

fn bgp_advertisement() -> Definition {
    let mut spec = object(
        json!({
            "aggregationLength": with_default(int32(Some(1), None), json!(32)),
            "aggregationLengthV6": with_default(int32(None, None), json!(128)),
            "localPref": {"type": "integer", "format": "int32"},
            "communities": strings(),
            "ipAddressPools": strings(),
            "ipAddressPoolSelectors": label_selectors(),
            "nodeSelectors": label_selectors(),
            "peers": strings(),
            "serviceSelectors": label_selectors(),
        }),
        &[],
    );
    spec["x-kubernetes-validations"] = json!([{
        "rule": "!has(self.serviceSelectors) || self.serviceSelectors.size() == 0 || \
                 ((!has(self.aggregationLength) || self.aggregationLength == 32) && \
                 (!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))",
        "message": "serviceSelectors need the default aggregation lengths (32 and 128)",
    }]);
    let schema = root(
        "How the addresses of the selected pools are announced over BGP.",
        spec,
        empty_status(),
        &[],
    );
    Definition {
        kind: "BGPAdvertisement",
        versions: vec![version(
            "v1beta1",
            schema,
            advertisement_columns(("Peers", ".spec.peers")),
        )],
    }
}

/// Fields both BGPPeer versions have.
fn peer_common() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "myASN": asn(0),
        "peerASN": asn(0),
        "peerAddress": string(),
        "sourceAddress": string(),
        "holdTime": string(),
        "keepaliveTime": string(),
        "routerID": string(),
        "password": string(),
        "bfdProfile": string(),
        "ebgpMultiHop": boolean(),
    }) else {
        return Map::new();
    };
    map
}

fn bgp_peer() -> Definition {
    let columns = || {
        vec![
            column("Address", ".spec.peerAddress", "string"),
            column("ASN", ".spec.peerASN", "string"),
            column("BFD Profile", ".spec.bfdProfile", "string"),
            column("Multi Hops", ".spec.ebgpMultiHop", "string"),
        ]
    };
    let description = "A BGP router the speakers open sessions to.";

    let mut v1 = peer_common();
    v1.insert(
        "peerPort".into(),
        json!({"type": "integer", "minimum": 0, "maximum": 16384}),
    );
    v1.insert(
        "nodeSelectors".into(),
        json!({"type": "array", "items": object(json!({
            "matchExpressions": {"type": "array", "items": object(json!({
                "key": string(),
                "operator": string(),
                "values": {"type": "array", "minItems": 1, "items": string()},
            }), &["key", "operator", "values"])},
            "matchLabels": {"type": "object", "additionalProperties": string()},
        }), &[])}),
    );
    let v1_spec = object(Value::Object(v1), &["myASN", "peerASN", "peerAddress"]);

    let mut v2 = peer_common();
    let more = json!({
        "peerPort": with_default(
            json!({"type": "integer", "minimum": 1, "maximum": 16384}),
            json!(179),
        ),
        "localASN": asn(1),
        "dynamicASN": {"type": "string", "enum": ["internal", "external"]},
        "interface": string(),
        "connectTime": {
            "type": "string",
            "x-kubernetes-validations": [
                {"rule": "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535",
                 "message": "connectTime must be 1s to 65535s"},
                {"rule": "duration(self).getMilliseconds() % 1000 == 0",
                 "message": "connectTime must be whole seconds"},
            ],
        },
        "nodeSelectors": label_selectors(),
        "passwordSecret": {
            "type": "object",
            "x-kubernetes-map-type": "atomic",
            "properties": {"name": string(), "namespace": string()},
        },
        "enableGracefulRestart": {
            "type": "boolean",
            "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "enableGracefulRestart cannot be changed"},
            ],
        },
        "vrf": string(),
        "disableMP": with_default(boolean(), json!(false)),
        "dualStackAddressFamily": with_default(boolean(), json!(false)),
    });
    if let Value::Object(more) = more {
        v2.extend(more);
    }
    let v2_spec = object(Value::Object(v2), &["myASN"]);
    let mut old = version(
        "v1beta1",
        root(description, v1_spec, empty_status(), &[]),
        columns(),
    );
    old.storage = false;
    old.deprecation = Some("metallb.io/v1beta1 BGPPeer is deprecated; use metallb.io/v1beta2");
    Definition {
        kind: "BGPPeer",
        versions: vec![
            old,
            version(
                "v1beta2",
                root(description, v2_spec, empty_status(), &[]),
                columns(),
            ),
        ],
    }
}

fn community() -> Definition {
    let spec = object(
        json!({"communities": {"type": "array", "items": object(json!({
            "name": string(),
            "value": string(),
        }), &[])}}),
        &[],
    );
    Definition {
        kind: "Community",
        versions: vec![version(
            "v1beta1",
            root(
                "Names for BGP communities, usable in BGPAdvertisement.spec.communities.",
                spec,
                empty_status(),
                &[],
            ),
            Vec::new(),
        )],
    }
}

fn bfd_profile() -> Definition {
    let interval = || int32(Some(10), Some(60000));
    let spec = object(
        json!({
            "receiveInterval": interval(),
            "transmitInterval": interval(),
            "detectMultiplier": int32(Some(2), Some(255)),
            "echoInterval": interval(),
            "echoMode": boolean(),
            "passiveMode": boolean(),
            "minimumTtl": int32(Some(1), Some(254)),
        }),
        &[],
    );
    Definition {
        kind: "BFDProfile",
        versions: vec![version(
            "v1beta1",
            root(
                "BFD settings a BGPPeer can name in bfdProfile.",
                spec,
                empty_status(),
                &[],
            ),
            vec![
                column("Passive Mode", ".spec.passiveMode", "boolean"),
                column("Transmit Interval", ".spec.transmitInterval", "integer"),
                column("Receive Interval", ".spec.receiveInterval", "integer"),
                column("Multiplier", ".spec.detectMultiplier", "integer"),
            ],
        )],
    }
}

fn l2_advertisement() -> Definition {
    let spec = object(
        json!({
            "ipAddressPools": strings(),
            "ipAddressPoolSelectors": label_selectors(),
            "nodeSelectors": label_selectors(),
            "interfaces": strings(),
            "serviceSelectors": label_selectors(),
            "preferredNodeSelectors": {"type": "array", "items": object(json!({
                "preference": label_selector(),
                "weight": int32(Some(1), Some(100)),
            }), &["preference", "weight"])},
        }),
        &[],
    );
    Definition {
        kind: "L2Advertisement",
        versions: vec![version(
            "v1beta1",
            root(
                "Layer 2 announcement of the selected pools (FerroLB allocates, does not announce).",
                spec,
                empty_status(),
                &[],
            ),
            advertisement_columns(("Interfaces", ".spec.interfaces")),
        )],
    }
}
