//! Which sets a change to a pod, claim or revision concerns, as upstream's
//! `getPodStatefulSets`: the set named by the object's controller reference
//! (when that set still has the referenced UID), or, for an orphan, every set
//! of its namespace whose selector matches its labels (one of them may adopt
//! it). Claims are also followed through their owner references to a set or
//! to a pod, since retention policies make a set or a pod their owner
//! without a controller reference.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use ordinal_core::labels::Selector;

/// A set's work-queue key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetKey {
    pub namespace: String,
    pub name: String,
}

impl SetKey {
    pub fn of(meta: &ObjectMeta) -> SetKey {
        SetKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for SetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

fn is_statefulset(r: &OwnerReference) -> bool {
    r.kind == "StatefulSet" && (r.api_version == "apps/v1" || r.api_version.starts_with("apps/"))
}

/// The set `r` names in `namespace`, if one with that UID is known.
fn resolve(namespace: &str, r: &OwnerReference, sets: &[Arc<StatefulSet>]) -> Option<SetKey> {
    sets.iter()
        .find(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata.name.as_deref() == Some(r.name.as_str())
                && s.metadata.uid.as_deref() == Some(r.uid.as_str())
        })
        .map(|s| SetKey::of(&s.metadata))
}

/// Every set of `namespace` whose selector matches `meta`'s labels.
fn selecting(namespace: &str, meta: &ObjectMeta, sets: &[Arc<StatefulSet>]) -> Vec<SetKey> {
    sets.iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
        .filter(|s| {
            let Some(spec) = &s.spec else { return false };
            // An empty selector would select everything; upstream skips such
            // sets when looking for a pod's sets.
            let empty = spec
                .selector
                .match_labels
                .as_ref()
                .is_none_or(|m| m.is_empty())
                && spec
                    .selector
                    .match_expressions
                    .as_ref()
                    .is_none_or(|e| e.is_empty());
            !empty
                && Selector::compile(&spec.selector)
                    .is_ok_and(|sel| sel.matches(meta.labels.as_ref()))
        })
        .map(|s| SetKey::of(&s.metadata))
        .collect()
}

/// The sets a pod or revision concerns. `sets` may hold sets of any
/// namespace.
pub(crate) fn sets_for(meta: &ObjectMeta, sets: &[Arc<StatefulSet>]) -> Vec<SetKey> {
    let namespace = meta.namespace.as_deref().unwrap_or("");
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    match controller {
        Some(r) if is_statefulset(r) => resolve(namespace, r, sets).into_iter().collect(),
        Some(_) => Vec::new(),
        None => selecting(namespace, meta, sets),
    }
}

/// The sets a claim concerns: those its owner references name directly or
/// through a pod, else those selecting it.
pub(crate) fn sets_for_claim(
    meta: &ObjectMeta,
    sets: &[Arc<StatefulSet>],
    pod: impl Fn(&str, &str) -> Option<Arc<Pod>>,
) -> Vec<SetKey> {
    let namespace = meta.namespace.as_deref().unwrap_or("");
    let mut out: Vec<SetKey> = Vec::new();
    let mut owned = false;
    for r in meta.owner_references.iter().flatten() {
        if is_statefulset(r) {
            owned = true;
            out.extend(resolve(namespace, r, sets));
        } else if r.kind == "Pod" && r.api_version == "v1" {
            owned = true;
            if let Some(p) = pod(namespace, &r.name)
                && p.metadata.uid.as_deref() == Some(r.uid.as_str())
            {
                out.extend(sets_for(&p.metadata, sets));
            }
        }
    }
    if !owned {
        out = selecting(namespace, meta, sets);
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(ns: &str, name: &str, uid: &str, app: &str) -> Arc<StatefulSet> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": ns, "uid": uid},
                "spec": {
                    "selector": {"matchLabels": {"app": app}},
                    "serviceName": name,
                    "template": {"metadata": {"labels": {"app": app}}}
                }
            }))
            .unwrap(),
        )
    }

    fn meta(v: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(v).unwrap()
    }

    fn key(ns: &str, name: &str) -> SetKey {
        SetKey {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn owner(kind: &str, name: &str, uid: &str, controller: bool) -> serde_json::Value {
        let api = if kind == "StatefulSet" {
            "apps/v1"
        } else {
            "v1"
        };
        json!({"apiVersion": api, "kind": kind, "name": name, "uid": uid, "controller": controller})
    }

    #[test]
    fn controlled_objects_go_to_their_controller_only_if_the_uid_matches() {
        let sets = vec![
            set("default", "web", "u-web", "web"),
            set("default", "other", "u-other", "web"),
            set("prod", "web", "u-prod", "web"),
        ];
        let pod = meta(json!({
            "name": "web-0", "namespace": "default", "labels": {"app": "web"},
            "ownerReferences": [owner("StatefulSet", "web", "u-web", true)]
        }));
        assert_eq!(sets_for(&pod, &sets), vec![key("default", "web")]);
        // A set recreated under the same name is another set.
        let stale = meta(json!({
            "name": "web-0", "namespace": "default", "labels": {"app": "web"},
            "ownerReferences": [owner("StatefulSet", "web", "u-old", true)]
        }));
        assert!(sets_for(&stale, &sets).is_empty());
        // Controlled by something else: none of ours.
        let foreign = meta(json!({
            "name": "web-0", "namespace": "default", "labels": {"app": "web"},
            "ownerReferences": [owner("ReplicaSet", "rs", "u-rs", true)]
        }));
        assert!(sets_for(&foreign, &sets).is_empty());
    }

    #[test]
    fn orphans_go_to_every_selecting_set_of_their_namespace() {
        let mut sets = vec![
            set("default", "web", "u-web", "web"),
            set("default", "other", "u-other", "web"),
            set("default", "db", "u-db", "db"),
            set("prod", "web", "u-prod", "web"),
        ];
        let orphan =
            meta(json!({"name": "web-0", "namespace": "default", "labels": {"app": "web"}}));
        let mut got = sets_for(&orphan, &sets);
        got.sort();
        assert_eq!(got, vec![key("default", "other"), key("default", "web")]);
        // A set selecting everything is not asked.
        sets.push(Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "all", "namespace": "default", "uid": "u-all"},
                "spec": {"selector": {}, "template": {}}
            }))
            .unwrap(),
        ));
        assert_eq!(sets_for(&orphan, &sets).len(), 2);
        let unlabelled = meta(json!({"name": "x", "namespace": "default"}));
        assert!(sets_for(&unlabelled, &sets).is_empty());
    }

    #[test]
    fn claims_follow_their_owners_to_the_set_or_through_the_pod() {
        let sets = vec![
            set("default", "web", "u-web", "web"),
            set("default", "db", "u-db", "db"),
        ];
        let pod: Arc<Pod> = Arc::new(
            serde_json::from_value(json!({"metadata": {
                "name": "web-1", "namespace": "default", "uid": "u-pod",
                "ownerReferences": [owner("StatefulSet", "web", "u-web", true)]
            }}))
            .unwrap(),
        );
        let lookup =
            |ns: &str, name: &str| (ns == "default" && name == "web-1").then(|| Arc::clone(&pod));
        let by_set = meta(json!({
            "name": "data-web-0", "namespace": "default",
            "ownerReferences": [owner("StatefulSet", "web", "u-web", true)]
        }));
        assert_eq!(
            sets_for_claim(&by_set, &sets, lookup),
            vec![key("default", "web")]
        );
        let by_pod = meta(json!({
            "name": "data-web-1", "namespace": "default",
            "ownerReferences": [owner("Pod", "web-1", "u-pod", false)]
        }));
        assert_eq!(
            sets_for_claim(&by_pod, &sets, lookup),
            vec![key("default", "web")]
        );
        let by_gone_pod = meta(json!({
            "name": "data-web-1", "namespace": "default", "labels": {"app": "db"},
            "ownerReferences": [owner("Pod", "web-1", "u-older-pod", false)]
        }));
        assert!(sets_for_claim(&by_gone_pod, &sets, lookup).is_empty());
        let orphan =
            meta(json!({"name": "data-db-0", "namespace": "default", "labels": {"app": "db"}}));
        assert_eq!(
            sets_for_claim(&orphan, &sets, lookup),
            vec![key("default", "db")]
        );
    }
}
