//! Node selectors of a peer (`node-selectors`): `match-labels` and `match-expressions`.

use std::collections::BTreeMap;
use std::fmt;

/// Operator of a `match-expressions` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is absent or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl SelectorOperator {
    /// Parses `In`, `NotIn`, `Exists`, `DoesNotExist` (case-insensitive, as MetalLB does).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "in" => Some(SelectorOperator::In),
            "notin" => Some(SelectorOperator::NotIn),
            "exists" => Some(SelectorOperator::Exists),
            "doesnotexist" => Some(SelectorOperator::DoesNotExist),
            _ => None,
        }
    }
}

impl fmt::Display for SelectorOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SelectorOperator::In => "In",
            SelectorOperator::NotIn => "NotIn",
            SelectorOperator::Exists => "Exists",
            SelectorOperator::DoesNotExist => "DoesNotExist",
        })
    }
}

/// One `match-expressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorRequirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub operator: SelectorOperator,
    /// Values (non-empty for In/NotIn, empty for Exists/DoesNotExist).
    pub values: Vec<String>,
}

impl SelectorRequirement {
    /// True when the labels satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            SelectorOperator::In => value.is_some_and(|v| self.values.contains(v)),
            SelectorOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
        }
    }
}

/// A node selector: every label and every expression must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelector {
    /// Labels that must be present with exactly these values.
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must all hold.
    pub match_expressions: Vec<SelectorRequirement>,
}

impl NodeSelector {
    /// True when the node labels satisfy the selector (an empty selector matches every node).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| e.matches(labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, op: SelectorOperator, values: &[&str]) -> SelectorRequirement {
        SelectorRequirement {
            key: key.into(),
            operator: op,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn operators() {
        let l = labels(&[("rack", "a"), ("zone", "z1")]);
        assert!(req("rack", SelectorOperator::In, &["a", "b"]).matches(&l));
        assert!(!req("rack", SelectorOperator::In, &["b"]).matches(&l));
        assert!(!req("missing", SelectorOperator::In, &["a"]).matches(&l));
        assert!(req("rack", SelectorOperator::NotIn, &["b"]).matches(&l));
        assert!(req("missing", SelectorOperator::NotIn, &["b"]).matches(&l));
        assert!(!req("rack", SelectorOperator::NotIn, &["a"]).matches(&l));
        assert!(req("zone", SelectorOperator::Exists, &[]).matches(&l));
        assert!(!req("zone", SelectorOperator::DoesNotExist, &[]).matches(&l));
        assert!(req("gpu", SelectorOperator::DoesNotExist, &[]).matches(&l));
    }

    #[test]
    fn selector_ands_labels_and_expressions() {
        let sel = NodeSelector {
            match_labels: labels(&[("rack", "a")]),
            match_expressions: vec![req("zone", SelectorOperator::Exists, &[])],
        };
        assert!(sel.matches(&labels(&[("rack", "a"), ("zone", "z")])));
        assert!(!sel.matches(&labels(&[("rack", "a")])));
        assert!(!sel.matches(&labels(&[("rack", "b"), ("zone", "z")])));
        assert!(NodeSelector::default().matches(&labels(&[])));
    }
}
