//! The metallb.io kinds FerroLB reads, and the field names of their specs.

/// One served version of a custom resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceKind {
    /// API group (`metallb.io`).
    pub group: &'static str,
    /// API version (`v1beta1`, `v1beta2`).
    pub version: &'static str,
    /// Kind (`IPAddressPool`).
    pub kind: &'static str,
    /// Plural resource name used in URLs (`ipaddresspools`).
    pub plural: &'static str,
}

impl ResourceKind {
    /// `group/version`, the object's `apiVersion`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }
}

/// MetalLB's API group.
pub const GROUP: &str = "metallb.io";

const fn kind(version: &'static str, kind: &'static str, plural: &'static str) -> ResourceKind {
    ResourceKind {
        group: GROUP,
        version,
        kind,
        plural,
    }
}

/// The metallb.io kinds read: (group, version, kind, plural), every served version.
pub const KINDS: &[ResourceKind] = &[
    kind("v1beta1", "IPAddressPool", "ipaddresspools"),
    kind("v1beta1", "BGPAdvertisement", "bgpadvertisements"),
    kind("v1beta2", "BGPPeer", "bgppeers"),
    kind("v1beta1", "BGPPeer", "bgppeers"),
    kind("v1beta1", "Community", "communities"),
    kind("v1beta1", "BFDProfile", "bfdprofiles"),
    kind("v1beta1", "L2Advertisement", "l2advertisements"),
];

/// The served kind for `apiVersion` and `kind`, if FerroLB reads it.
pub(crate) fn find(api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
    KINDS
        .iter()
        .find(|k| k.kind == kind && k.api_version() == api_version)
}

/// Spec fields of `IPAddressPool` v1beta1.
pub(crate) const POOL_FIELDS: &[&str] = &[
    "addresses",
    "autoAssign",
    "avoidBuggyIPs",
    "serviceAllocation",
];
/// Fields of `IPAddressPool.spec.serviceAllocation`.
pub(crate) const ALLOCATION_FIELDS: &[&str] = &[
    "priority",
    "namespaces",
    "namespaceSelectors",
    "serviceSelectors",
];
/// Spec fields of `BGPAdvertisement` v1beta1.
pub(crate) const BGP_ADV_FIELDS: &[&str] = &[
    "aggregationLength",
    "aggregationLengthV6",
    "localPref",
    "communities",
    "ipAddressPools",
    "ipAddressPoolSelectors",
    "nodeSelectors",
    "peers",
    "serviceSelectors",
];
/// Spec fields of `L2Advertisement` v1beta1.
pub(crate) const L2_ADV_FIELDS: &[&str] = &[
    "ipAddressPools",
    "ipAddressPoolSelectors",
    "nodeSelectors",
    "interfaces",
    "serviceSelectors",
    "preferredNodeSelectors",
];
/// Spec fields of `BGPPeer` v1beta1.
pub(crate) const PEER_V1BETA1_FIELDS: &[&str] = &[
    "myASN",
    "peerASN",
    "peerAddress",
    "sourceAddress",
    "peerPort",
    "holdTime",
    "keepaliveTime",
    "routerID",
    "nodeSelectors",
    "password",
    "bfdProfile",
    "ebgpMultiHop",
];
/// Spec fields of `BGPPeer` v1beta2.
pub(crate) const PEER_V1BETA2_FIELDS: &[&str] = &[
    "myASN",
    "peerASN",
    "localASN",
    "dynamicASN",
    "peerAddress",
    "interface",
    "sourceAddress",
    "peerPort",
    "holdTime",
    "keepaliveTime",
    "connectTime",
    "routerID",
    "nodeSelectors",
    "password",
    "passwordSecret",
    "bfdProfile",
    "enableGracefulRestart",
    "ebgpMultiHop",
    "vrf",
    "disableMP",
    "dualStackAddressFamily",
];
/// Spec fields of `BFDProfile` v1beta1.
pub(crate) const BFD_FIELDS: &[&str] = &[
    "receiveInterval",
    "transmitInterval",
    "detectMultiplier",
    "echoInterval",
    "echoMode",
    "passiveMode",
    "minimumTtl",
];
/// Spec fields of `Community` v1beta1.
pub(crate) const COMMUNITY_FIELDS: &[&str] = &["communities"];
/// Fields of a `Community.spec.communities[]` entry.
pub(crate) const ALIAS_FIELDS: &[&str] = &["name", "value"];
/// Fields of a label selector (`metav1.LabelSelector`).
pub(crate) const SELECTOR_FIELDS: &[&str] = &["matchLabels", "matchExpressions"];

/// Legacy ConfigMap key and custom-resource field name of the same setting.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("addresses", "addresses"),
    ("auto-assign", "autoAssign"),
    ("avoid-buggy-ips", "avoidBuggyIPs"),
    ("aggregation-length", "aggregationLength"),
    ("aggregation-length-v6", "aggregationLengthV6"),
    ("localpref", "localPref"),
    ("communities", "communities"),
    ("my-asn", "myASN"),
    ("peer-asn", "peerASN"),
    ("peer-address", "peerAddress"),
    ("source-address", "sourceAddress"),
    ("peer-port", "peerPort"),
    ("hold-time", "holdTime"),
    ("keepalive-time", "keepaliveTime"),
    ("router-id", "routerID"),
    ("node-selectors", "nodeSelectors"),
    ("password", "password"),
    ("password-secret", "passwordSecret"),
    ("bfd-profile", "bfdProfile"),
    ("ebgp-multihop", "ebgpMultiHop"),
    ("match-labels", "matchLabels"),
    ("match-expressions", "matchExpressions"),
    ("receive-interval", "receiveInterval"),
    ("transmit-interval", "transmitInterval"),
    ("detect-multiplier", "detectMultiplier"),
    ("echo-interval", "echoInterval"),
    ("echo-mode", "echoMode"),
    ("passive-mode", "passiveMode"),
    ("minimum-ttl", "minimumTtl"),
];

/// The custom-resource field name of a legacy key (the key itself when they agree).
pub(crate) fn crd_key(legacy: &str) -> &str {
    KEYS.iter()
        .find(|(l, _)| *l == legacy)
        .map_or(legacy, |(_, c)| c)
}

/// The legacy key of a custom-resource field, if the legacy format has one.
pub(crate) fn legacy_key(crd: &str) -> Option<&'static str> {
    KEYS.iter().find(|(_, c)| *c == crd).map(|(l, _)| *l)
}
