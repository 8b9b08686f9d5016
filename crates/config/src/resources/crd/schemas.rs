//! Field types and constraints of each metallb.io kind and version (facts of MetalLB's API:
//! `api/v1beta1`, `api/v1beta2` and their kubebuilder markers), and a description of every
//! field in FerroLB's words: what it means, its unit and default, which ConfigMap key FerroLB
//! maps it to, and what FerroLB does when it does not implement it (`kubectl explain`).

use serde_json::{json, Map, Value};

use super::{Definition, Version};
use crate::parse::bfd::{ECHO_MODE_REJECTED, ECHO_UNIMPLEMENTED};
use crate::resources::kinds::legacy_key;
use crate::resources::peer::{
    Unimplemented, PASSWORD_SECRET_KEY, PASSWORD_SECRET_TYPE, PEER_UNIMPLEMENTED,
};
use crate::resources::pool::NAMESPACE_SELECTORS_IGNORED;

/// `schema` with a `description`.
fn doc(mut schema: Value, text: &str) -> Value {
    schema["description"] = json!(text);
    schema
}

/// The `properties` of a spec from (field, schema, description); a field with a ConfigMap twin
/// says which key it maps to, under `section` (where the kind lands in the ConfigMap:
/// `peers[]`), and a field FerroLB does not implement says what happens when it is set.
fn fields(section: Option<&str>, list: Vec<(&str, Value, &str)>) -> Value {
    let mut out = Map::new();
    for (name, schema, text) in list {
        let mut text = text.to_string();
        if let (Some(section), Some(key)) = (section, legacy_key(name)) {
            text.push_str(&format!(" FerroLB maps it to {section}.{key}."));
        }
        if section == Some("peers[]") {
            text.push_str(&unimplemented_note(name));
        }
        out.insert(name.to_string(), doc(schema, &text));
    }
    Value::Object(out)
}

/// What FerroLB does with a set `BGPPeer` field it does not implement ("" for the others).
fn unimplemented_note(field: &str) -> String {
    match PEER_UNIMPLEMENTED.iter().find(|(f, _)| *f == field) {
        Some((_, Unimplemented::Rejected(hint))) => {
            format!(" Not implemented by FerroLB: setting it is an error ({hint}).")
        }
        Some((_, Unimplemented::Ignored(effect))) => {
            format!(" Not implemented by FerroLB: setting it is a warning ({effect}).")
        }
        None => String::new(),
    }
}

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

const SELECTOR_KEY: &str = "The label key the requirement is about.";
const SELECTOR_OPERATOR: &str =
    "How the label relates to values: In, NotIn, Exists or DoesNotExist.";
const SELECTOR_VALUES: &str = "Label values for In and NotIn; empty for Exists and DoesNotExist.";
const SELECTOR_EXPRESSIONS: &str =
    "Requirements on labels; an object matches when all of them hold.";
const SELECTOR_LABELS: &str =
    "Labels the object must carry with exactly these values (the same as In with one value).";

/// `metav1.LabelSelector`.
fn label_selector() -> Value {
    json!({
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": fields(None, vec![
            ("matchExpressions", json!({
                "type": "array",
                "x-kubernetes-list-type": "atomic",
                "items": object(fields(None, vec![
                    ("key", string(), SELECTOR_KEY),
                    ("operator", string(), SELECTOR_OPERATOR),
                    ("values", json!({"type": "array", "x-kubernetes-list-type": "atomic", "items": string()}), SELECTOR_VALUES),
                ]), &["key", "operator"]),
            }), SELECTOR_EXPRESSIONS),
            ("matchLabels", json!({"type": "object", "additionalProperties": string()}), SELECTOR_LABELS),
        ]),
    })
}

fn label_selectors() -> Value {
    json!({"type": "array", "items": label_selector()})
}

/// The object around a spec and status; `description` says what the kind is for.
fn root(description: &str, spec: Value, status: Value, required: &[&str]) -> Value {
    let api_version = "The API group and version of the object: metallb.io/ and this version.";
    let mut v = object(
        fields(
            None,
            vec![
                ("apiVersion", string(), api_version),
                (
                    "kind",
                    string(),
                    "The kind of the object, as in the CRD's names.",
                ),
                (
                    "metadata",
                    json!({"type": "object"}),
                    "Standard object metadata: name, namespace, labels (advertisements select \
                     pools by these labels).",
                ),
                ("spec", spec, "The desired settings."),
                (
                    "status",
                    status,
                    "Observed state, written by the controller when it has any.",
                ),
            ],
        ),
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

fn service_allocation() -> Value {
    let namespace_selectors =
        format!("Namespaces selected by their labels. {NAMESPACE_SELECTORS_IGNORED} (a warning).");
    object(
        fields(
            None,
            vec![
                (
                    "priority",
                    json!({"type": "integer"}),
                    "Order among the pools that may serve a Service: lower is tried first; \
                     unset or 0 comes after every pool with a priority.",
                ),
                (
                    "namespaces",
                    strings(),
                    "Only Services of these namespaces get addresses from the pool (any \
                     namespace when empty).",
                ),
                (
                    "namespaceSelectors",
                    label_selectors(),
                    &namespace_selectors,
                ),
                (
                    "serviceSelectors",
                    label_selectors(),
                    "Only Services whose labels match one of these selectors get addresses \
                     from the pool (any Service when empty).",
                ),
            ],
        ),
        &[],
    )
}

fn ip_address_pool() -> Definition {
    let spec = object(
        fields(
            Some("address-pools[]"),
            vec![
                (
                    "addresses",
                    strings(),
                    "The addresses to hand out, each a CIDR (198.51.100.0/24, 2001:db8::/120) \
                     or an inclusive range (198.51.100.10-198.51.100.20).",
                ),
                (
                    "autoAssign",
                    with_default(boolean(), json!(true)),
                    "Whether any Service may get an address from this pool; false hands them \
                     out only on request (pool annotation or a requested IP). Default true.",
                ),
                (
                    "avoidBuggyIPs",
                    with_default(boolean(), json!(false)),
                    "Never hand out IPv4 addresses ending in .0 or .255, which some old \
                     devices drop. Default false.",
                ),
                (
                    "serviceAllocation",
                    service_allocation(),
                    "Which Services the pool is for: a pool with it is tried (by priority) \
                     before pools without, for the Services it allows, and never chosen \
                     automatically for other Services.",
                ),
            ],
        ),
        &["addresses"],
    );
    let count = |text| doc(json!({"type": "integer", "format": "int64"}), text);
    let status = object(
        json!({
            "assignedIPv4": count("IPv4 addresses of the pool assigned to Services."),
            "assignedIPv6": count("IPv6 addresses of the pool assigned to Services."),
            "availableIPv4": count("IPv4 addresses of the pool still free."),
            "availableIPv6": count("IPv6 addresses of the pool still free."),
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

const POOLS_BY_NAME: &str = "Names of the IPAddressPools this advertisement applies to.";
const POOLS_BY_LABEL: &str = "IPAddressPools selected by their labels. With neither this nor \
     ipAddressPools the advertisement applies to every pool.";

fn bgp_advertisement() -> Definition {
    let mut spec = object(
        fields(
            Some("address-pools[].bgp-advertisements[]"),
            vec![
                (
                    "aggregationLength",
                    with_default(int32(Some(1), None), json!(32)),
                    "Prefix length IPv4 addresses are announced with: 32 announces each \
                     address alone, shorter announces the covering prefix. Default 32.",
                ),
                (
                    "aggregationLengthV6",
                    with_default(int32(None, None), json!(128)),
                    "Prefix length IPv6 addresses are announced with; default 128.",
                ),
                (
                    "localPref",
                    json!({"type": "integer", "format": "int32"}),
                    "LOCAL_PREF of the routes; sent to iBGP peers only (myASN equal to \
                     peerASN), 0 means not set.",
                ),
                (
                    "communities",
                    strings(),
                    "BGP communities attached to the routes: a:b (two 16-bit numbers), \
                     large:a:b:c (three 32-bit numbers, a FerroLB addition) or the name of \
                     an entry of a Community object.",
                ),
                ("ipAddressPools", strings(), POOLS_BY_NAME),
                ("ipAddressPoolSelectors", label_selectors(), POOLS_BY_LABEL),
                (
                    "nodeSelectors",
                    label_selectors(),
                    "Only nodes whose labels match one of these selectors announce (every \
                     node when empty).",
                ),
                (
                    "peers",
                    strings(),
                    "Names of the BGPPeers to announce to (every peer when empty); a name \
                     without a BGPPeer announces to no one, with a warning.",
                ),
                (
                    "serviceSelectors",
                    label_selectors(),
                    "Only Services whose labels match one of these selectors are announced \
                     (every Service when empty); needs the default aggregation lengths.",
                ),
            ],
        ),
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

const PEER_NODES: &str =
    "Only nodes whose labels match one of these selectors open the session (every node when empty).";

/// Fields both BGPPeer versions have.
fn peer_common() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "myASN",
            asn(0),
            "The AS number the speakers use in this session (1 to 4294967295; 0 is reserved).",
        ),
        (
            "peerASN",
            asn(0),
            "The AS number of the router; equal to myASN for iBGP.",
        ),
        (
            "peerAddress",
            string(),
            "The IPv4 or IPv6 address of the router.",
        ),
        (
            "sourceAddress",
            string(),
            "Local address the session's TCP connection starts from (default: the kernel's \
             choice for the route to the peer).",
        ),
        (
            "holdTime",
            string(),
            "BGP hold time: a Kubernetes duration such as 90s, 0s (no keepalives) or at \
             least 3s. Default 90s.",
        ),
        (
            "keepaliveTime",
            string(),
            "Time between KEEPALIVE messages, a duration such as 30s; default a third of the \
             hold time, never above it.",
        ),
        (
            "routerID",
            string(),
            "BGP identifier sent in OPEN, an IPv4 address (default: chosen by the speaker).",
        ),
        (
            "password",
            string(),
            "TCP MD5 signature password (RFC 2385) written in the object; prefer \
             passwordSecret. FerroLB never logs it.",
        ),
        (
            "bfdProfile",
            string(),
            "Name of a BFDProfile: run BFD with the router using its timers, so a dead link \
             takes the session down fast.",
        ),
        (
            "ebgpMultiHop",
            boolean(),
            "The eBGP router is more than one hop away (TTL above 1); not for iBGP peers.",
        ),
    ]
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

    let v1_spec = peer_v1beta1_spec();
    let v2_spec = peer_v1beta2_spec();
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
    let alias = object(
        fields(
            None,
            vec![
                (
                    "name",
                    string(),
                    "The name BGPAdvertisement.spec.communities can use instead of the value; \
                     unique across all Community objects.",
                ),
                (
                    "value",
                    string(),
                    "The community: a:b (two 16-bit numbers) or large:a:b:c (three 32-bit \
                     numbers).",
                ),
            ],
        ),
        &[],
    );
    let spec = object(
        fields(
            None,
            vec![(
                "communities",
                json!({"type": "array", "items": alias}),
                "Named community values. FerroLB maps them to bgp-communities.",
            )],
        ),
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
    let echo_interval = format!(
        "Interval of echo packets in milliseconds (10-60000). Ignored with a warning: \
         {ECHO_UNIMPLEMENTED}."
    );
    let echo_mode =
        format!("Use the BFD Echo function. Setting it true is an error: {ECHO_MODE_REJECTED}.");
    let spec = object(
        fields(
            Some("bfd-profiles[]"),
            vec![
                (
                    "receiveInterval",
                    interval(),
                    "Shortest interval between received BFD control packets this end accepts, \
                     in milliseconds (10-60000). Default 300.",
                ),
                (
                    "transmitInterval",
                    interval(),
                    "Shortest interval between sent BFD control packets, in milliseconds \
                     (10-60000). Default 300.",
                ),
                (
                    "detectMultiplier",
                    int32(Some(2), Some(255)),
                    "How many control packets may be missed before the session is declared \
                     down (2-255). Default 3.",
                ),
                ("echoInterval", interval(), &echo_interval),
                ("echoMode", boolean(), &echo_mode),
                (
                    "passiveMode",
                    boolean(),
                    "Wait for the router to send BFD control packets first instead of \
                     starting the session.",
                ),
                (
                    "minimumTtl",
                    int32(Some(1), Some(254)),
                    "Lowest TTL accepted on received packets, for multi-hop sessions (1-254). \
                     Default 254.",
                ),
            ],
        ),
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

const NO_LAYER2: &str = "No effect in FerroLB (layer2 announcement is not implemented).";

fn l2_advertisement() -> Definition {
    let preference = object(
        fields(
            None,
            vec![
                (
                    "preference",
                    label_selector(),
                    "The nodes this preference is for.",
                ),
                (
                    "weight",
                    int32(Some(1), Some(100)),
                    "How strongly these nodes are preferred (1-100).",
                ),
            ],
        ),
        &["preference", "weight"],
    );
    let interfaces = format!("Interfaces to answer ARP/NDP on (all when empty). {NO_LAYER2}");
    let preferred = format!("Nodes preferred as the announcing node. {NO_LAYER2}");
    let nodes = format!("Nodes that may announce (every node when empty). {NO_LAYER2}");
    let services = format!("Services announced (every Service when empty). {NO_LAYER2}");
    let spec = object(
        fields(
            None,
            vec![
                ("ipAddressPools", strings(), POOLS_BY_NAME),
                ("ipAddressPoolSelectors", label_selectors(), POOLS_BY_LABEL),
                ("nodeSelectors", label_selectors(), &nodes),
                ("interfaces", strings(), &interfaces),
                ("serviceSelectors", label_selectors(), &services),
                (
                    "preferredNodeSelectors",
                    json!({"type": "array", "items": preference}),
                    &preferred,
                ),
            ],
        ),
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

/// `BGPPeer` v1beta1: peerASN and peerAddress required, its own node selector type.
fn peer_v1beta1_spec() -> Value {
    let expression = object(
        fields(
            None,
            vec![
                ("key", string(), SELECTOR_KEY),
                ("operator", string(), SELECTOR_OPERATOR),
                (
                    "values",
                    json!({"type": "array", "minItems": 1, "items": string()}),
                    SELECTOR_VALUES,
                ),
            ],
        ),
        &["key", "operator", "values"],
    );
    let selector = object(
        fields(
            None,
            vec![
                (
                    "matchExpressions",
                    json!({"type": "array", "items": expression}),
                    SELECTOR_EXPRESSIONS,
                ),
                (
                    "matchLabels",
                    json!({"type": "object", "additionalProperties": string()}),
                    SELECTOR_LABELS,
                ),
            ],
        ),
        &[],
    );
    let mut list: Vec<(&str, Value, &str)> = peer_common();
    list.push((
        "peerPort",
        json!({"type": "integer", "minimum": 0, "maximum": 16384}),
        "TCP port of the router (0-16384 in this version). Default 179.",
    ));
    list.push((
        "nodeSelectors",
        json!({"type": "array", "items": selector}),
        PEER_NODES,
    ));
    object(
        fields(Some("peers[]"), list),
        &["myASN", "peerASN", "peerAddress"],
    )
}

/// `BGPPeer` v1beta2: only myASN required (peerASN or dynamicASN, address or interface).
fn peer_v1beta2_spec() -> Value {
    let secret_text = format!(
        "A Secret of type {PASSWORD_SECRET_TYPE} whose {PASSWORD_SECRET_KEY} key holds the TCP \
         MD5 password; give this or password, not both."
    );
    let secret = json!({
        "type": "object",
        "x-kubernetes-map-type": "atomic",
        "properties": fields(None, vec![
            ("name", string(), "Name of the Secret."),
            ("namespace", string(), "Namespace of the Secret (default: the BGPPeer's namespace)."),
        ]),
    });
    let connect_time = json!({
        "type": "string",
        "x-kubernetes-validations": [
            {"rule": "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535",
             "message": "connectTime must be 1s to 65535s"},
            {"rule": "duration(self).getMilliseconds() % 1000 == 0",
             "message": "connectTime must be whole seconds"},
        ],
    });
    let graceful = json!({
        "type": "boolean",
        "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "enableGracefulRestart cannot be changed"},
        ],
    });
    let mut list: Vec<(&str, Value, &str)> = peer_common();
    list.extend([
        (
            "peerPort",
            with_default(
                json!({"type": "integer", "minimum": 1, "maximum": 16384}),
                json!(179),
            ),
            "TCP port of the router (1-16384). Default 179.",
        ),
        (
            "localASN",
            asn(1),
            "The AS number to present to the router instead of myASN.",
        ),
        (
            "dynamicASN",
            json!({"type": "string", "enum": ["internal", "external"]}),
            "Instead of peerASN: whether the router is in the speakers' AS (internal) or \
             another one (external).",
        ),
        (
            "interface",
            string(),
            "Unnumbered BGP: reach the router over this node interface instead of peerAddress.",
        ),
        (
            "connectTime",
            connect_time,
            "Time between attempts to connect, whole seconds from 1s to 65535s.",
        ),
        ("nodeSelectors", label_selectors(), PEER_NODES),
        ("passwordSecret", secret, &secret_text),
        (
            "enableGracefulRestart",
            graceful,
            "Offer graceful restart (RFC 4724) so the router keeps a restarting speaker's \
             routes as stale; cannot be changed once set.",
        ),
        ("vrf", string(), "The VRF the session is opened in."),
        (
            "disableMP",
            with_default(boolean(), json!(false)),
            "When true, no multiprotocol: each address family only on a session of its own \
             family. Default false.",
        ),
        (
            "dualStackAddressFamily",
            with_default(boolean(), json!(false)),
            "When true, IPv4 and IPv6 routes both on this one session. Default false.",
        ),
    ]);
    object(fields(Some("peers[]"), list), &["myASN"])
}
