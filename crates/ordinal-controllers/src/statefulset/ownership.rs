//! Which pods and revisions belong to the set: label-selector matching, and
//! the adopt/release decisions upstream's ControllerRefManager makes before
//! every sync.
//!
//! A pod is a member when its name is `<set>-<ordinal>`, it matches the
//! selector and the set controls it. Orphans that qualify are adopted (not
//! while the set or the pod is being deleted); pods the set controls that no
//! longer qualify are released. Pods controlled by anything else are never
//! touched.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use super::identity::{controller_ref, ordinal_of};
use super::spec::SetSpec;
use super::{Action, Failure};

/// One `matchExpressions` entry, validated.
#[derive(Debug)]
enum Requirement<'a> {
    In(&'a str, &'a [String]),
    NotIn(&'a str, &'a [String]),
    Exists(&'a str),
    DoesNotExist(&'a str),
}

/// A compiled label selector.
#[derive(Debug)]
pub(crate) struct Selector<'a> {
    labels: &'a BTreeMap<String, String>,
    requirements: Vec<Requirement<'a>>,
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

impl<'a> Selector<'a> {
    /// Upstream's `LabelSelectorAsSelector`: an empty selector matches
    /// everything; a malformed expression is an error.
    pub(crate) fn compile(selector: &'a LabelSelector) -> Result<Self, Failure> {
        let mut requirements = Vec::new();
        for e in selector.match_expressions.iter().flatten() {
            let values = e.values.as_deref().unwrap_or(&[]);
            let requirement = match e.operator.as_str() {
                "In" if !values.is_empty() => Requirement::In(&e.key, values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(&e.key, values),
                "Exists" if values.is_empty() => Requirement::Exists(&e.key),
                "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(&e.key),
                other => {
                    return Err(Failure::InvalidSelector(format!(
                        "{:?} is not a valid label selector operator with {} values",
                        other,
                        values.len()
                    )));
                }
            };
            requirements.push(requirement);
        }
        Ok(Selector {
            labels: selector.match_labels.as_ref().unwrap_or(&NO_LABELS),
            requirements,
        })
    }

    pub(crate) fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let labels = labels.unwrap_or(&NO_LABELS);
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.requirements.iter().all(|r| match r {
                Requirement::In(k, vs) => labels.get(*k).is_some_and(|v| vs.contains(v)),
                Requirement::NotIn(k, vs) => labels.get(*k).is_none_or(|v| !vs.contains(v)),
                Requirement::Exists(k) => labels.contains_key(*k),
                Requirement::DoesNotExist(k) => !labels.contains_key(*k),
            })
    }
}

fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// The set's pods after adoption and release, by ordinal.
pub(crate) struct Members<'a> {
    pub pods: Vec<(i64, &'a Pod)>,
}

/// Sorts pods into the set's members, adding adopt and release actions.
pub(crate) fn claim_pods<'a>(
    spec: &SetSpec<'_>,
    selector: &Selector<'_>,
    pods: &[&'a Pod],
    actions: &mut Vec<Action>,
) -> Members<'a> {
    let mut members = Vec::new();
    for &pod in pods {
        if pod.metadata.namespace.as_deref().unwrap_or("") != spec.namespace {
            continue;
        }
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let uid = pod.metadata.uid.as_deref().unwrap_or("");
        let ordinal = ordinal_of(spec.name, name);
        let qualifies = ordinal.is_some() && selector.matches(pod.metadata.labels.as_ref());
        match controller_of(&pod.metadata) {
            Some(owner) if owner.uid == spec.uid => match ordinal {
                Some(ordinal) if qualifies => members.push((ordinal, pod)),
                _ if spec.deleting => {}
                _ => actions.push(Action::ReleasePod {
                    name: name.into(),
                    uid: uid.into(),
                }),
            },
            Some(_) => {}
            None => {
                if let Some(ordinal) = ordinal
                    && qualifies
                    && !spec.deleting
                    && pod.metadata.deletion_timestamp.is_none()
                {
                    actions.push(Action::AdoptPod {
                        name: name.into(),
                        uid: uid.into(),
                        owner: controller_ref(spec),
                    });
                    members.push((ordinal, pod));
                }
            }
        }
    }
    members.sort_unstable_by_key(|(ordinal, _)| *ordinal);
    Members { pods: members }
}

/// The set's revision history: revisions matching the selector that the set
/// controls or that nobody controls (orphans are adopted).
pub(crate) fn claim_revisions<'a>(
    spec: &SetSpec<'_>,
    selector: &Selector<'_>,
    revisions: &[&'a ControllerRevision],
    actions: &mut Vec<Action>,
) -> Vec<&'a ControllerRevision> {
    let mut owned = Vec::new();
    for &revision in revisions {
        if revision.metadata.namespace.as_deref().unwrap_or("") != spec.namespace
            || !selector.matches(revision.metadata.labels.as_ref())
        {
            continue;
        }
        match controller_of(&revision.metadata) {
            Some(owner) if owner.uid == spec.uid => owned.push(revision),
            Some(_) => {}
            None => {
                if !spec.deleting {
                    actions.push(Action::AdoptRevision {
                        name: revision.metadata.name.clone().unwrap_or_default(),
                        uid: revision.metadata.uid.clone().unwrap_or_default(),
                        owner: controller_ref(spec),
                    });
                }
                owned.push(revision);
            }
        }
    }
    owned
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn selector_matches_labels_and_expressions() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["db", "cache"]),
                expr("canary", "NotIn", &["true"]),
                expr("team", "Exists", &[]),
                expr("legacy", "DoesNotExist", &[]),
            ]),
        };
        let s = Selector::compile(&selector).unwrap();
        assert!(s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "db"),
            ("team", "a")
        ]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "ui"),
            ("team", "a")
        ]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "db"),
            ("team", "a"),
            ("canary", "true")
        ]))));
        assert!(!s.matches(Some(&labels(&[("app", "web"), ("tier", "db")]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "db"),
            ("team", "a"),
            ("legacy", "1")
        ]))));
        assert!(!s.matches(None));
    }

    #[test]
    fn empty_selector_matches_everything_and_bad_operators_are_errors() {
        let everything = LabelSelector::default();
        assert!(Selector::compile(&everything).unwrap().matches(None));
        let bad = LabelSelector {
            match_expressions: Some(vec![expr("a", "Near", &["b"])]),
            ..LabelSelector::default()
        };
        assert!(Selector::compile(&bad).is_err());
        let in_without_values = LabelSelector {
            match_expressions: Some(vec![expr("a", "In", &[])]),
            ..LabelSelector::default()
        };
        assert!(Selector::compile(&in_without_values).is_err());
    }
}
