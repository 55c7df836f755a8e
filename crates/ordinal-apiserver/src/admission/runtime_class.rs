//! Upstream's `RuntimeClass` admission plugin, for new pods.
//!
//! A pod that names a RuntimeClass must name one that exists; the class's
//! fixed overhead becomes the pod's `spec.overhead` (so the scheduler and
//! the node count it), and its scheduling constraints are merged into the
//! pod's node selector and tolerations, so the pod lands only where the
//! class's handler is. A pod may not bring an overhead of its own that the
//! class does not define.
//!
//! Upstream runs this in two phases, and so does ordinal: [`admit`]
//! (mutating) after defaulting and before validation, [`check_overhead`]
//! (validating) after validation. The class is read from the store itself,
//! so unlike upstream's informer there is no cache to lag behind.

use ordinal_core::quantity::Quantity;
use serde_json::{Map, Value};

use crate::names::go_quote;

/// Why a pod is refused; each is a 403 with upstream's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("pod rejected: RuntimeClass {} not found", go_quote(.0))]
    NotFound(String),
    #[error("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")]
    OverheadMismatch,
    #[error("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")]
    OverheadWithoutClass,
    #[error(
        "conflict: runtimeClass.scheduling.nodeSelector[{key}] = {class}; pod.spec.nodeSelector[{key}] = {pod}"
    )]
    NodeSelectorConflict {
        key: String,
        class: String,
        pod: String,
    },
}

/// The `runtimeClassName` a pod asks for, if it names one.
pub fn class_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/runtimeClassName")
        .and_then(Value::as_str)
}

/// The mutating phase: `class` is the RuntimeClass the pod names, `None`
/// when it names none. A class that was asked for but does not exist is
/// the caller's [`Rejection::NotFound`].
pub fn admit(pod: &mut Value, class: Option<&Value>) -> Result<(), Rejection> {
    let Some(class) = class else {
        return Ok(());
    };
    set_overhead(pod, class)?;
    set_scheduling(pod, class)
}

/// The validating phase, on the pod as validation saw it.
pub fn check_overhead(pod: &Value, class: Option<&Value>) -> Result<(), Rejection> {
    let pod_overhead = present(pod.pointer("/spec/overhead"));
    match class.and_then(|c| present(c.get("overhead"))) {
        Some(overhead) => {
            if same_resources(present(overhead.get("podFixed")), pod_overhead) {
                Ok(())
            } else {
                Err(Rejection::OverheadMismatch)
            }
        }
        None if pod_overhead.is_some() => Err(Rejection::OverheadWithoutClass),
        None => Ok(()),
    }
}

/// A JSON value that Go would decode as set (not absent, not null).
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn spec_mut(pod: &mut Value) -> Option<&mut Map<String, Value>> {
    pod.get_mut("spec").and_then(Value::as_object_mut)
}

/// The class's overhead replaces the pod's; a pod that already carries a
/// different one is refused.
fn set_overhead(pod: &mut Value, class: &Value) -> Result<(), Rejection> {
    let Some(overhead) = present(class.get("overhead")) else {
        return Ok(());
    };
    let fixed = present(overhead.get("podFixed")).cloned();
    let pod_overhead = present(pod.pointer("/spec/overhead"));
    if pod_overhead.is_some() && !same_resources(fixed.as_ref(), pod_overhead) {
        return Err(Rejection::OverheadMismatch);
    }
    if let Some(spec) = spec_mut(pod) {
        match fixed {
            Some(fixed) => spec.insert("overhead".into(), fixed),
            None => spec.remove("overhead"),
        };
    }
    Ok(())
}

/// Go's semantic equality of two resource lists: the same names with
/// equal quantities (`1` equals `1000m`); absent and empty are equal.
fn same_resources(a: Option<&Value>, b: Option<&Value>) -> bool {
    let empty = Map::new();
    let a = a.and_then(Value::as_object).unwrap_or(&empty);
    let b = b.and_then(Value::as_object).unwrap_or(&empty);
    a.len() == b.len()
        && a.iter().all(|(name, qa)| {
            b.get(name).is_some_and(|qb| {
                match (
                    qa.as_str().and_then(Quantity::parse),
                    qb.as_str().and_then(Quantity::parse),
                ) {
                    (Some(x), Some(y)) => x == y,
                    _ => qa == qb,
                }
            })
        })
}

/// The class's node selector is added to the pod's (a key both set
/// differently is refused), and the tolerations are merged.
fn set_scheduling(pod: &mut Value, class: &Value) -> Result<(), Rejection> {
    let Some(scheduling) = present(class.get("scheduling")) else {
        return Ok(());
    };
    let Some(spec) = spec_mut(pod) else {
        return Ok(());
    };
    let class_selector = scheduling.get("nodeSelector").and_then(Value::as_object);
    match spec.get_mut("nodeSelector").and_then(Value::as_object_mut) {
        None => {
            if let Some(selector) = class_selector {
                spec.insert("nodeSelector".into(), Value::Object(selector.clone()));
            }
        }
        Some(selector) => {
            for (key, value) in class_selector.into_iter().flatten() {
                if let Some(theirs) = selector.get(key).filter(|v| *v != value) {
                    return Err(Rejection::NodeSelectorConflict {
                        key: key.clone(),
                        class: value.as_str().unwrap_or_default().to_string(),
                        pod: theirs.as_str().unwrap_or_default().to_string(),
                    });
                }
                selector.insert(key.clone(), value.clone());
            }
        }
    }
    let empty = Vec::new();
    let pod_tolerations = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let class_tolerations = scheduling
        .get("tolerations")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let merged = merge_tolerations(pod_tolerations, class_tolerations);
    if merged.is_empty() {
        spec.remove("tolerations");
    } else {
        spec.insert("tolerations".into(), Value::Array(merged));
    }
    Ok(())
}

/// A toleration's fields as Go reads them (absent is the zero value).
#[derive(Debug, PartialEq, Eq)]
struct Toleration<'a> {
    key: &'a str,
    operator: &'a str,
    value: &'a str,
    effect: &'a str,
    seconds: Option<i64>,
}

impl<'a> Toleration<'a> {
    fn of(v: &'a Value) -> Self {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
        Toleration {
            key: s("key"),
            operator: s("operator"),
            value: s("value"),
            effect: s("effect"),
            seconds: v.get("tolerationSeconds").and_then(Value::as_i64),
        }
    }

    /// Whether `self` tolerates every taint `t` tolerates (upstream's
    /// `isSuperset`).
    fn covers(&self, t: &Toleration) -> bool {
        if self == t {
            return true;
        }
        // An empty key with Exists matches every key.
        if t.key != self.key && (!self.key.is_empty() || self.operator != "Exists") {
            return false;
        }
        // An empty effect matches every effect.
        if t.effect != self.effect && !self.effect.is_empty() {
            return false;
        }
        if self.effect == "NoExecute"
            && let Some(mine) = self.seconds
            && t.seconds.is_none_or(|theirs| theirs > mine)
        {
            return false;
        }
        match self.operator {
            "Equal" | "" => t.operator == "Equal" && t.value == self.value,
            "Exists" => true,
            _ => false,
        }
    }
}

/// Upstream's `MergeTolerations`: both lists, in order, without the
/// tolerations another one already covers (of two equal ones, the first
/// stays).
pub fn merge_tolerations(first: &[Value], second: &[Value]) -> Vec<Value> {
    let all: Vec<(&Value, Toleration)> = first
        .iter()
        .chain(second)
        .map(|v| (v, Toleration::of(v)))
        .collect();
    let mut merged: Vec<(&Value, &Toleration)> = Vec::new();
    for (i, (value, t)) in all.iter().enumerate() {
        let covered_before = merged.iter().any(|(_, m)| m.covers(t));
        let covered_after = all[i + 1..]
            .iter()
            .any(|(_, later)| later != t && later.covers(t));
        if !covered_before && !covered_after {
            merged.push((value, t));
        }
    }
    merged.into_iter().map(|(v, _)| v.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merge(first: Vec<Value>, second: Vec<Value>) -> Vec<Value> {
        merge_tolerations(&first, &second)
    }

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    fn class(extra: Value) -> Value {
        let mut c = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn not_found_is_worded_as_upstream() {
        assert_eq!(
            Rejection::NotFound("x".into()).to_string(),
            "pod rejected: RuntimeClass \"x\" not found"
        );
    }

    #[test]
    fn a_pod_without_a_class_is_left_alone_unless_it_brings_an_overhead() {
        let mut p = pod(json!({"containers": []}));
        let before = p.clone();
        admit(&mut p, None).unwrap();
        assert_eq!(p, before);
        assert_eq!(check_overhead(&p, None), Ok(()));
        let p = pod(json!({"overhead": {"cpu": "1"}}));
        assert_eq!(
            check_overhead(&p, None),
            Err(Rejection::OverheadWithoutClass)
        );
        // A class without an overhead does not excuse one.
        let c = class(json!({}));
        assert_eq!(
            check_overhead(&p, Some(&c)),
            Err(Rejection::OverheadWithoutClass)
        );
        assert_eq!(
            Rejection::OverheadWithoutClass.to_string(),
            "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"
        );
    }

    #[test]
    fn the_class_overhead_becomes_the_pods() {
        let c = class(json!({"overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}}}));
        let mut p = pod(json!({}));
        admit(&mut p, Some(&c)).unwrap();
        assert_eq!(
            p["spec"]["overhead"],
            json!({"cpu": "250m", "memory": "120Mi"})
        );
        assert_eq!(check_overhead(&p, Some(&c)), Ok(()));
        // The same amounts written differently are the same overhead.
        let mut p = pod(json!({"overhead": {"cpu": "0.25", "memory": "120Mi"}}));
        admit(&mut p, Some(&c)).unwrap();
        assert_eq!(p["spec"]["overhead"]["cpu"], "250m");
        // A different one is refused, in either phase.
        let mut p = pod(json!({"overhead": {"cpu": "1"}}));
        assert_eq!(admit(&mut p, Some(&c)), Err(Rejection::OverheadMismatch));
        assert_eq!(
            check_overhead(&p, Some(&c)),
            Err(Rejection::OverheadMismatch)
        );
        assert_eq!(
            Rejection::OverheadMismatch.to_string(),
            "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"
        );
        // An overhead without podFixed clears the pod's (empty one).
        let c = class(json!({"overhead": {}}));
        let mut p = pod(json!({"overhead": {}}));
        admit(&mut p, Some(&c)).unwrap();
        assert!(p["spec"].get("overhead").is_none());
        assert_eq!(check_overhead(&p, Some(&c)), Ok(()));
    }

    #[test]
    fn the_class_node_selector_is_added_and_may_not_be_contradicted() {
        let c = class(json!({"scheduling": {"nodeSelector": {"sandbox": "gvisor"}}}));
        let mut p = pod(json!({}));
        admit(&mut p, Some(&c)).unwrap();
        assert_eq!(p["spec"]["nodeSelector"], json!({"sandbox": "gvisor"}));
        assert!(p["spec"].get("tolerations").is_none());
        let mut p = pod(json!({"nodeSelector": {"disk": "ssd", "sandbox": "gvisor"}}));
        admit(&mut p, Some(&c)).unwrap();
        assert_eq!(
            p["spec"]["nodeSelector"],
            json!({"disk": "ssd", "sandbox": "gvisor"})
        );
        let mut p = pod(json!({"nodeSelector": {"sandbox": "kata"}}));
        let e = admit(&mut p, Some(&c)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "conflict: runtimeClass.scheduling.nodeSelector[sandbox] = gvisor; pod.spec.nodeSelector[sandbox] = kata"
        );
    }

    #[test]
    fn tolerations_merge_keeping_only_the_broadest() {
        let not_ready = json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                               "effect": "NoExecute", "tolerationSeconds": 300});
        let sandbox = json!({"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"});
        let c = class(json!({"scheduling": {"tolerations": [sandbox]}}));
        let mut p = pod(json!({"tolerations": [not_ready]}));
        admit(&mut p, Some(&c)).unwrap();
        assert_eq!(p["spec"]["tolerations"], json!([not_ready, sandbox]));

        // Everything tolerated covers the rest, wherever it comes from.
        let all = json!({"operator": "Exists"});
        assert_eq!(
            merge(vec![not_ready.clone(), sandbox.clone()], vec![all.clone()]),
            vec![all.clone()]
        );
        // Equal ones appear once; a NoExecute toleration that stays longer
        // covers a shorter one of the same key, not the other way round.
        let longer = json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                            "effect": "NoExecute", "tolerationSeconds": 600});
        assert_eq!(
            merge(
                vec![not_ready.clone(), sandbox.clone()],
                vec![sandbox.clone(), longer.clone()]
            ),
            vec![sandbox.clone(), longer.clone()]
        );
        assert_eq!(
            merge(vec![longer.clone()], vec![not_ready.clone()]),
            vec![longer]
        );
        // Equal keys with Equal need equal values. An empty operator means
        // Equal in the covering toleration, but a covered one must say
        // Equal (as upstream's isSuperset reads them).
        let a = json!({"key": "k", "operator": "Equal", "value": "a"});
        let b = json!({"key": "k", "operator": "Equal", "value": "b"});
        let bare = json!({"key": "k", "value": "a"});
        assert_eq!(merge(vec![a.clone()], vec![b.clone()]), vec![a.clone(), b]);
        assert_eq!(
            merge(vec![bare.clone()], vec![a.clone()]),
            vec![bare.clone()]
        );
        assert_eq!(merge(vec![a.clone()], vec![bare.clone()]), vec![bare]);
    }
}
