//! Matching nodes, shared by the scheduler and the volume controllers
//! (label selectors are `ordinal_core::labels`):
//!
//! - node selectors (`nodeSelectorTerms`), as a volume's node affinity and
//!   a pod's required node affinity choose nodes;
//! - taints against tolerations.
//!
//! Upstream's rules (`component-helpers/scheduling/corev1`): node selector
//! terms are ORed, the requirements inside one term ANDed, and a term with
//! no requirement matches nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration,
};

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// One node selector requirement against a value (`None`: the label is
/// absent). Malformed requirements match nothing.
fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or(&[]);
    let int = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => values.is_empty() && value.is_some(),
        "DoesNotExist" => values.is_empty() && value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), [bound]) = (value.and_then(int), values) else {
                return false;
            };
            let Some(bound) = int(bound) else {
                return false;
            };
            if r.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            r.key == "metadata.name"
                && matches!(r.operator.as_str(), "In" | "NotIn")
                && requirement_matches(r, Some(name))
        })
}

/// Whether `node` satisfies any of the selector's terms.
pub fn node_selector_matches(selector: &NodeSelector, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
    let name = node.metadata.name.as_deref().unwrap_or("");
    selector
        .node_selector_terms
        .iter()
        .any(|t| term_matches(t, labels, name))
}

/// Upstream's `ToleratesTaint`: the effect (an empty toleration effect
/// matches all), the key (an empty key with `Exists` matches all keys) and
/// the value (`Equal`, the default operator, compares it).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
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

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn node(name: &str, l: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.labels = Some(labels(l));
        n
    }

    #[test]
    fn node_selector_terms_are_ored_requirements_anded() {
        let sel = NodeSelector {
            node_selector_terms: vec![
                NodeSelectorTerm {
                    match_expressions: Some(vec![
                        req("kubernetes.io/hostname", "In", &["a"]),
                        req("disk", "Exists", &[]),
                    ]),
                    match_fields: None,
                },
                NodeSelectorTerm {
                    match_expressions: None,
                    match_fields: Some(vec![req("metadata.name", "In", &["c"])]),
                },
            ],
        };
        assert!(node_selector_matches(
            &sel,
            &node("a", &[("kubernetes.io/hostname", "a"), ("disk", "ssd")])
        ));
        assert!(!node_selector_matches(
            &sel,
            &node("a", &[("kubernetes.io/hostname", "a")])
        ));
        assert!(node_selector_matches(&sel, &node("c", &[])));
        assert!(!node_selector_matches(&sel, &node("b", &[])));
        let empty_term = NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm::default()],
        };
        assert!(!node_selector_matches(&empty_term, &node("a", &[])));
    }

    #[test]
    fn numeric_operators_compare_integers() {
        let n = node("a", &[("cores", "8")]);
        let sel = |op: &str, v: &str| NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![req("cores", op, &[v])]),
                match_fields: None,
            }],
        };
        assert!(node_selector_matches(&sel("Gt", "4"), &n));
        assert!(!node_selector_matches(&sel("Lt", "4"), &n));
        assert!(!node_selector_matches(&sel("Gt", "four"), &n));
    }

    #[test]
    fn tolerations_match_effect_key_and_value() {
        let taint = Taint {
            key: "node.kubernetes.io/not-ready".into(),
            effect: "NoSchedule".into(),
            value: None,
            time_added: None,
        };
        let t = |key: Option<&str>, op: Option<&str>, effect: Option<&str>| Toleration {
            key: key.map(Into::into),
            operator: op.map(Into::into),
            effect: effect.map(Into::into),
            ..Default::default()
        };
        assert!(tolerates(&t(None, Some("Exists"), None), &taint));
        assert!(tolerates(
            &t(
                Some("node.kubernetes.io/not-ready"),
                Some("Exists"),
                Some("NoSchedule")
            ),
            &taint
        ));
        assert!(!tolerates(
            &t(
                Some("node.kubernetes.io/not-ready"),
                Some("Exists"),
                Some("NoExecute")
            ),
            &taint
        ));
        assert!(tolerates(
            &t(Some("node.kubernetes.io/not-ready"), None, None),
            &taint
        ));
        assert!(!tolerates(&t(Some("other"), None, None), &taint));
    }
}
