//! Whether a DaemonSet runs its pod on a node: the rules of the Kubernetes DaemonSet
//! controller (`NodeShouldRunDaemonPod`, its "should run" answer), read as facts.
//!
//! A DaemonSet runs a pod on a node when all of these hold for its pod template:
//! - `spec.nodeName` is empty or names the node;
//! - every `spec.nodeSelector` label is on the node with that value;
//! - `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`, when set,
//!   has a term that matches: terms are ORed, a term's `matchExpressions` (labels) and
//!   `matchFields` (only `metadata.name`) are ANDed, an empty term matches nothing, and a term
//!   with an invalid requirement matches nothing (the other terms still count);
//! - every taint with effect `NoSchedule` or `NoExecute` is tolerated, counting the
//!   tolerations the controller adds to every daemon pod (not-ready and unreachable for
//!   NoExecute; disk-, memory-, pid-pressure and unschedulable for NoSchedule; and
//!   network-unavailable for a pod on the host network).

use std::collections::BTreeMap;
use std::fmt;

use ferrolb_config::{SelectorOperator, SelectorRequirement};
use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration,
};

/// The rule that keeps a DaemonSet's pod off a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementRule {
    /// The pod template names another node in `spec.nodeName`.
    NodeName,
    /// `spec.nodeSelector` does not match the node's labels.
    NodeSelector,
    /// The required node affinity matches none of its terms.
    NodeAffinity,
    /// A `NoSchedule` or `NoExecute` taint the pod does not tolerate.
    Taint,
}

impl fmt::Display for PlacementRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlacementRule::NodeName => "its pod template names another node",
            PlacementRule::NodeSelector => "its nodeSelector does not match the node's labels",
            PlacementRule::NodeAffinity => "its required node affinity does not match the node",
            PlacementRule::Taint => "the node has a taint the pod does not tolerate",
        })
    }
}

/// Why a pod template does not run on a node: the rule, and what exactly failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// The rule that failed.
    pub rule: PlacementRule,
    /// The failing part, e.g. `nodeSelector disktype=ssd (the node has disktype=hdd)`.
    pub detail: String,
}

impl Misfit {
    fn new(rule: PlacementRule, detail: String) -> Misfit {
        Misfit { rule, detail }
    }
}

/// A node's labels.
type Labels = BTreeMap<String, String>;

/// The only field `matchFields` can read on a node.
const NAME_FIELD: &str = "metadata.name";

/// Taints every daemon pod tolerates: (key, effect), plus network-unavailable on the host
/// network (see [`tolerated_by_default`]).
const DEFAULT_TOLERATED: [(&str, &str); 6] = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];

/// Whether the DaemonSet with pod template `template` runs a pod on `node`; if not, why.
pub fn daemon_pod_fits(template: &PodSpec, node: &Node) -> Result<(), Misfit> {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let labels = node.metadata.labels.clone().unwrap_or_default();
    fits_node_name(template, name)?;
    fits_node_selector(template, &labels)?;
    fits_node_affinity(template, name, &labels)?;
    fits_taints(template, node)
}

fn fits_node_name(template: &PodSpec, name: &str) -> Result<(), Misfit> {
    match template.node_name.as_deref() {
        Some(wanted) if !wanted.is_empty() && wanted != name => Err(Misfit::new(
            PlacementRule::NodeName,
            format!("spec.nodeName {wanted} (this node is {name})"),
        )),
        _ => Ok(()),
    }
}

fn fits_node_selector(template: &PodSpec, labels: &Labels) -> Result<(), Misfit> {
    for (key, want) in template.node_selector.iter().flatten() {
        if labels.get(key) != Some(want) {
            let have = labels
                .get(key)
                .map_or_else(|| "no such label".to_string(), |v| format!("{key}={v}"));
            return Err(Misfit::new(
                PlacementRule::NodeSelector,
                format!("nodeSelector {key}={want} (the node has {have})"),
            ));
        }
    }
    Ok(())
}

fn fits_node_affinity(template: &PodSpec, name: &str, labels: &Labels) -> Result<(), Misfit> {
    let required = template
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        Some(selector) if !selector_matches(selector, name, labels) => Err(Misfit::new(
            PlacementRule::NodeAffinity,
            format!(
                "none of the {} required nodeSelectorTerms matches",
                selector.node_selector_terms.len()
            ),
        )),
        _ => Ok(()),
    }
}

fn fits_taints(template: &PodSpec, node: &Node) -> Result<(), Misfit> {
    let host_network = template.host_network.unwrap_or(false);
    let tolerations = template.tolerations.as_deref().unwrap_or_default();
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref());
    let untolerated = taints.unwrap_or_default().iter().find(|t| {
        matches!(t.effect.as_str(), "NoSchedule" | "NoExecute")
            && !tolerated_by_default(t, host_network)
            && !tolerations.iter().any(|tol| tolerates(tol, t))
    });
    match untolerated {
        Some(taint) => Err(Misfit::new(
            PlacementRule::Taint,
            format!(
                "taint {}={}:{}",
                taint.key,
                taint.value.as_deref().unwrap_or_default(),
                taint.effect
            ),
        )),
        None => Ok(()),
    }
}

/// A required node selector: its terms ORed; an empty term or one with an invalid
/// requirement matches nothing.
fn selector_matches(selector: &NodeSelector, name: &str, labels: &Labels) -> bool {
    selector
        .node_selector_terms
        .iter()
        .any(|term| term_matches(term, name, labels))
}

fn term_matches(term: &NodeSelectorTerm, name: &str, labels: &Labels) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    // Every requirement must be valid (else the term matches nothing) and hold.
    let labels_hold = expressions
        .iter()
        .map(|r| label_requirement(r, labels))
        .collect::<Option<Vec<bool>>>();
    let fields_hold = fields
        .iter()
        .map(|r| field_requirement(r, name))
        .collect::<Option<Vec<bool>>>();
    match (labels_hold, fields_hold) {
        (Some(l), Some(f)) => l.into_iter().chain(f).all(|ok| ok),
        _ => false,
    }
}

/// One `matchExpressions` requirement against the node's labels: `None` when invalid (an
/// unknown operator, values missing where needed or given where not, Gt/Lt without exactly
/// one integer). In, NotIn, Exists and DoesNotExist match as in a peer's node selector
/// ([`SelectorRequirement`]); Gt and Lt compare the label read as an integer.
fn label_requirement(r: &NodeSelectorRequirement, labels: &Labels) -> Option<bool> {
    let values = r.values.clone().unwrap_or_default();
    match r.operator.as_str() {
        op @ ("Gt" | "Lt") => {
            let [bound] = values.as_slice() else {
                return None;
            };
            let bound: i64 = bound.parse().ok()?;
            let have = labels.get(&r.key).and_then(|v| v.parse::<i64>().ok());
            Some(have.is_some_and(|v| if op == "Gt" { v > bound } else { v < bound }))
        }
        op @ ("In" | "NotIn" | "Exists" | "DoesNotExist") => {
            let operator = SelectorOperator::parse(op)?;
            let needs_values = matches!(operator, SelectorOperator::In | SelectorOperator::NotIn);
            if needs_values == values.is_empty() {
                return None;
            }
            let requirement = SelectorRequirement {
                key: r.key.clone(),
                operator,
                values,
            };
            Some(requirement.matches(labels))
        }
        _ => None,
    }
}

/// One `matchFields` requirement: In or NotIn with exactly one value; a node has only the
/// field `metadata.name`, any other key reads as empty.
fn field_requirement(r: &NodeSelectorRequirement, name: &str) -> Option<bool> {
    let [value] = r.values.as_deref().unwrap_or_default() else {
        return None;
    };
    let field = if r.key == NAME_FIELD { name } else { "" };
    match r.operator.as_str() {
        "In" => Some(field == value),
        "NotIn" => Some(field != value),
        _ => None,
    }
}

/// Whether the controller's own daemon-pod tolerations cover `taint`.
fn tolerated_by_default(taint: &Taint, host_network: bool) -> bool {
    let default = |(key, effect): &(&str, &str)| taint.key == *key && taint.effect == *effect;
    DEFAULT_TOLERATED.iter().any(default)
        || (host_network && default(&("node.kubernetes.io/network-unavailable", "NoSchedule")))
}

/// A toleration matches a taint: the same effect (or none given), the same key (or none
/// given), and operator Exists, or Equal (the default) with the same value.
fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    let effect_ok = tol
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key_ok = tol
        .key
        .as_deref()
        .is_none_or(|k| k.is_empty() || k == taint.key);
    let value_ok = match tol.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => {
            tol.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    };
    effect_ok && key_ok && value_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A worker node as a kubelet registers it, with `taints`.
    fn node(taints: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "worker-2", "labels": {
                "kubernetes.io/hostname": "worker-2", "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": "rack-b", "ferrolb.io/generation": "7"}},
            "spec": {"podCIDR": "10.244.2.0/24", "taints": taints}
        }))
        .expect("a Node")
    }

    fn template(spec: Value) -> PodSpec {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "speaker", "image": "ferrolb"}]);
        serde_json::from_value(spec).expect("a PodSpec")
    }

    fn fits(spec: Value) -> Result<(), PlacementRule> {
        daemon_pod_fits(&template(spec), &node(json!([]))).map_err(|m| m.rule)
    }

    /// The template with one required affinity term made of these expressions and fields.
    fn affinity(expressions: Value, fields: Value) -> Result<(), PlacementRule> {
        fits(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": expressions, "matchFields": fields}]}}}}),
        )
    }

    fn expr(key: &str, operator: &str, values: &[&str]) -> Value {
        json!([{"key": key, "operator": operator, "values": values}])
    }

    fn tainted(spec: Value, taints: Value) -> Result<(), Misfit> {
        daemon_pod_fits(&template(spec), &node(taints))
    }

    const AFFINITY: PlacementRule = PlacementRule::NodeAffinity;

    #[test]
    fn no_constraints_run_everywhere() {
        assert_eq!(fits(json!({})), Ok(()));
    }

    #[test]
    fn node_name_and_node_selector() {
        assert_eq!(fits(json!({"nodeName": "worker-2"})), Ok(()));
        assert_eq!(
            fits(json!({"nodeName": "worker-3"})),
            Err(PlacementRule::NodeName)
        );
        let selector = |s: Value| fits(json!({"nodeSelector": s}));
        assert_eq!(
            selector(json!({"kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "rack-b"})),
            Ok(())
        );
        assert_eq!(
            selector(json!({"topology.kubernetes.io/zone": "rack-a"})),
            Err(PlacementRule::NodeSelector)
        );
        let missing = daemon_pod_fits(
            &template(json!({"nodeSelector": {"ferrolb.io/speaker": "true"}})),
            &node(json!([])),
        );
        assert_eq!(
            missing.map_err(|m| m.detail),
            Err("nodeSelector ferrolb.io/speaker=true (the node has no such label)".into())
        );
    }

    #[test]
    fn affinity_operators() {
        let none = json!([]);
        let zone = "topology.kubernetes.io/zone";
        let cases: [(Value, bool); 18] = [
            (expr(zone, "In", &["rack-a", "rack-b"]), true),
            (expr(zone, "In", &["rack-a"]), false),
            (expr("absent", "In", &["x"]), false),
            (expr(zone, "NotIn", &["rack-a"]), true),
            (expr(zone, "NotIn", &["rack-b"]), false),
            (expr("absent", "NotIn", &["x"]), true),
            (expr(zone, "Exists", &[]), true),
            (expr("absent", "Exists", &[]), false),
            (expr("absent", "DoesNotExist", &[]), true),
            (expr(zone, "DoesNotExist", &[]), false),
            (expr("ferrolb.io/generation", "Gt", &["6"]), true),
            (expr("ferrolb.io/generation", "Gt", &["7"]), false),
            (expr("ferrolb.io/generation", "Lt", &["8"]), true),
            (expr("ferrolb.io/generation", "Lt", &["7"]), false),
            // The label is not an integer, or absent: Gt/Lt do not match.
            (expr(zone, "Gt", &["1"]), false),
            (expr("absent", "Lt", &["1"]), false),
            // Two requirements in one term: both must hold.
            (
                json!([{"key": zone, "operator": "In", "values": ["rack-b"]},
                       {"key": "kubernetes.io/os", "operator": "NotIn", "values": ["linux"]}]),
                false,
            ),
            (
                json!([{"key": zone, "operator": "In", "values": ["rack-b"]},
                       {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]),
                true,
            ),
        ];
        for (expressions, want) in cases {
            let got = affinity(expressions.clone(), none.clone());
            assert_eq!(
                got,
                if want { Ok(()) } else { Err(AFFINITY) },
                "{expressions}"
            );
        }
    }

    #[test]
    fn invalid_requirements_match_nothing() {
        let none = json!([]);
        let zone = "topology.kubernetes.io/zone";
        for invalid in [
            expr(zone, "In", &[]),
            expr("absent", "NotIn", &[]),
            expr(zone, "Exists", &["rack-b"]),
            expr("absent", "DoesNotExist", &["x"]),
            expr("ferrolb.io/generation", "Gt", &["6", "5"]),
            expr("ferrolb.io/generation", "Lt", &["eight"]),
            expr(zone, "Matches", &["rack-b"]),
            // Operators are case-sensitive in the API.
            expr(zone, "in", &["rack-b"]),
        ] {
            assert_eq!(
                affinity(invalid.clone(), none.clone()),
                Err(AFFINITY),
                "{invalid}"
            );
        }
    }

    #[test]
    fn affinity_fields_and_terms() {
        let none = json!([]);
        let name = "metadata.name";
        assert_eq!(
            affinity(none.clone(), expr(name, "In", &["worker-2"])),
            Ok(())
        );
        assert_eq!(
            affinity(none.clone(), expr(name, "In", &["worker-3"])),
            Err(AFFINITY)
        );
        assert_eq!(
            affinity(none.clone(), expr(name, "NotIn", &["worker-3"])),
            Ok(())
        );
        assert_eq!(
            affinity(none.clone(), expr(name, "NotIn", &["worker-2"])),
            Err(AFFINITY)
        );
        // matchFields takes exactly one value, In or NotIn only.
        let two = expr(name, "In", &["worker-2", "worker-3"]);
        assert_eq!(affinity(none.clone(), two), Err(AFFINITY));
        assert_eq!(
            affinity(none.clone(), expr(name, "Exists", &[])),
            Err(AFFINITY)
        );
        // Labels and fields in one term are ANDed.
        let zone_b = expr("topology.kubernetes.io/zone", "In", &["rack-b"]);
        assert_eq!(
            affinity(zone_b.clone(), expr(name, "In", &["worker-2"])),
            Ok(())
        );
        assert_eq!(
            affinity(zone_b, expr(name, "In", &["worker-9"])),
            Err(AFFINITY)
        );

        let terms = |terms: Value| {
            fits(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": terms}}}}),
            )
        };
        // Terms are ORed; an empty term, and an invalid one, match nothing.
        let miss = json!({"matchExpressions": expr("kubernetes.io/os", "In", &["windows"])});
        let hit = json!({"matchFields": expr(name, "In", &["worker-2"])});
        let invalid = json!({"matchExpressions": expr("kubernetes.io/os", "In", &[])});
        assert_eq!(terms(json!([miss.clone(), hit.clone()])), Ok(()));
        assert_eq!(terms(json!([invalid.clone(), hit])), Ok(()));
        assert_eq!(terms(json!([miss, invalid])), Err(AFFINITY));
        assert_eq!(terms(json!([{}])), Err(AFFINITY));
        assert_eq!(terms(json!([])), Err(AFFINITY));
        // Preferred affinity does not keep a pod off a node.
        let preferred = json!({"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 10,
                "preference": {"matchExpressions": expr("kubernetes.io/os", "In", &["windows"])}}]}}});
        assert_eq!(fits(preferred), Ok(()));
    }

    #[test]
    fn taints_and_tolerations() {
        let dedicated = json!([{"key": "dedicated", "value": "storage", "effect": "NoExecute"}]);
        let refused = tainted(json!({}), dedicated.clone());
        assert_eq!(
            refused,
            Err(Misfit::new(
                PlacementRule::Taint,
                "taint dedicated=storage:NoExecute".into()
            ))
        );
        let no_schedule = json!([{"key": "dedicated", "value": "storage", "effect": "NoSchedule"}]);
        assert!(tainted(json!({}), no_schedule.clone()).is_err());
        let prefer =
            json!([{"key": "dedicated", "value": "storage", "effect": "PreferNoSchedule"}]);
        assert_eq!(tainted(json!({}), prefer), Ok(()));

        let with = |tolerations: Value| json!({ "tolerations": tolerations });
        let tolerating = [
            json!([{"key": "dedicated", "operator": "Exists"}]),
            json!([{"key": "dedicated", "operator": "Equal", "value": "storage"}]),
            json!([{"key": "dedicated", "value": "storage", "effect": "NoExecute"}]),
            json!([{"operator": "Exists"}]),
            json!([{"operator": "Exists", "effect": "NoExecute"}]),
        ];
        for t in tolerating {
            assert_eq!(tainted(with(t.clone()), dedicated.clone()), Ok(()), "{t}");
        }
        let not_tolerating = [
            json!([{"key": "dedicated", "operator": "Equal", "value": "compute"}]),
            json!([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]),
            json!([{"key": "other", "operator": "Exists"}]),
            json!([{"key": "dedicated", "operator": "Gt", "value": "1"}]),
        ];
        for t in not_tolerating {
            assert!(tainted(with(t.clone()), dedicated.clone()).is_err(), "{t}");
        }
    }

    #[test]
    fn the_controllers_own_tolerations_do_not_count() {
        for (key, effect) in DEFAULT_TOLERATED {
            let taint = json!([{"key": key, "effect": effect}]);
            assert_eq!(tainted(json!({}), taint), Ok(()), "{key}:{effect}");
        }
        // Only for the effect the controller tolerates: not-ready with NoSchedule keeps new
        // daemon pods off (the controller tolerates it with NoExecute only).
        let not_ready = json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]);
        assert!(tainted(json!({}), not_ready).is_err());
        // network-unavailable is tolerated only on the host network.
        let network =
            json!([{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]);
        assert!(tainted(json!({}), network.clone()).is_err());
        assert_eq!(tainted(json!({"hostNetwork": true}), network), Ok(()));
    }
}
