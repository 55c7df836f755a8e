//! Upstream's Priority admission plugin (`plugin/pkg/admission/priority`).
//!
//! - A new pod's `priorityClassName` is resolved to `spec.priority` and
//!   `spec.preemptionPolicy` from the class; a pod without one gets the
//!   global default class (the lowest-valued if several claim it), or
//!   priority 0 and `PreemptLowerPriority` when there is none. A class
//!   that does not exist, or a priority or policy in the pod that differs
//!   from the class's, refuses the pod (403).
//! - A PriorityClass may be the global default only while no other class
//!   is (403).
//!
//! It runs on a pod before the pod's defaults, so the defaults' own
//! priority (0 without a class) never stands in for the class's.

use ordinal_store::Store;
use serde_json::{Value, json};

use crate::resources;

fn class(store: &Store, name: &str) -> Option<Value> {
    let stored = store.get(&resources::PRIORITY_CLASSES.key(None, name))?;
    serde_json::from_slice(&stored.bytes).ok()
}

/// The global default class, if any: the lowest value among those marked.
fn default_class(store: &Store) -> Option<Value> {
    let snapshot = store.snapshot();
    snapshot
        .range(&resources::PRIORITY_CLASSES.key_prefix(), None)
        .filter_map(|o| serde_json::from_slice::<Value>(&o.bytes).ok())
        .filter(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .min_by_key(|c| c.get("value").and_then(Value::as_i64).unwrap_or(0))
}

/// Sets a new pod's priority from its class; the error is the reason of
/// upstream's 403.
pub fn admit_pod(store: &Store, pod: &mut Value) -> Result<(), String> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let named = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let (priority, policy) = match named {
        Some(name) => {
            let Some(c) = class(store, &name) else {
                return Err(format!("no PriorityClass with name {name} was found"));
            };
            (
                c.get("value").and_then(Value::as_i64).unwrap_or(0),
                c.get("preemptionPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            )
        }
        None => match default_class(store) {
            Some(c) => {
                if let Some(n) = c.pointer("/metadata/name").and_then(Value::as_str) {
                    spec.insert("priorityClassName".into(), json!(n));
                }
                (
                    c.get("value").and_then(Value::as_i64).unwrap_or(0),
                    c.get("preemptionPolicy")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                )
            }
            None => (0, Some("PreemptLowerPriority".to_string())),
        },
    };
    if let Some(given) = spec.get("priority").filter(|v| !v.is_null()) {
        let given_n = given.as_i64();
        if given_n != Some(priority) {
            return Err(format!(
                "the integer value of priority ({}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name",
                given_n.map_or_else(|| given.to_string(), |n| n.to_string())
            ));
        }
    }
    spec.insert("priority".into(), json!(priority));
    if let Some(policy) = policy {
        if let Some(given) = spec
            .get("preemptionPolicy")
            .filter(|v| !v.is_null())
            .and_then(Value::as_str)
            && given != policy
        {
            return Err(format!(
                "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            ));
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// A class marked as the global default while another one is.
pub fn check_class(store: &Store, pc: &Value) -> Result<(), String> {
    if pc.get("globalDefault").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let name = pc.pointer("/metadata/name").and_then(Value::as_str);
    match default_class(store) {
        Some(d) if d.pointer("/metadata/name").and_then(Value::as_str) != name => Err(format!(
            "PriorityClass {} is already marked as default. Only one default can exist",
            d.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::ensure;

    fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::server::open_store(dir.path(), 100).unwrap();
        (store, dir)
    }

    fn class(name: &str, value: i64, default: bool, policy: &str) -> Value {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
               "metadata": {"name": name}, "value": value, "globalDefault": default,
               "preemptionPolicy": policy})
    }

    fn pod(spec: Value) -> Value {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "c", "image": "i"}]);
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    #[tokio::test]
    async fn a_pods_class_sets_its_priority_and_policy() {
        let (store, _dir) = store();
        ensure(&store, class("batch", 10, false, "Never"))
            .await
            .unwrap();
        let mut p = pod(json!({"priorityClassName": "batch"}));
        admit_pod(&store, &mut p).unwrap();
        assert_eq!(p["spec"]["priority"], 10);
        assert_eq!(p["spec"]["preemptionPolicy"], "Never");

        let mut p = pod(json!({"priorityClassName": "nope"}));
        assert_eq!(
            admit_pod(&store, &mut p).unwrap_err(),
            "no PriorityClass with name nope was found"
        );
        let mut p = pod(json!({"priorityClassName": "batch", "priority": 7}));
        assert_eq!(
            admit_pod(&store, &mut p).unwrap_err(),
            "the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 10 from the given PriorityClass name"
        );
        let mut p =
            pod(json!({"priorityClassName": "batch", "preemptionPolicy": "PreemptLowerPriority"}));
        assert_eq!(
            admit_pod(&store, &mut p).unwrap_err(),
            "the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"
        );
        // No class and no default: priority 0.
        let mut p = pod(json!({}));
        admit_pod(&store, &mut p).unwrap();
        assert_eq!(p["spec"]["priority"], 0);
        assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        assert!(p["spec"].get("priorityClassName").is_none());
    }

    #[tokio::test]
    async fn one_global_default_names_the_class_of_pods_without_one() {
        let (store, _dir) = store();
        let default = class("normal", 100, true, "PreemptLowerPriority");
        check_class(&store, &default).unwrap();
        ensure(&store, default.clone()).await.unwrap();
        // Updating the default itself is fine; a second default is not.
        check_class(&store, &default).unwrap();
        assert_eq!(
            check_class(&store, &class("other", 5, true, "Never")).unwrap_err(),
            "PriorityClass normal is already marked as default. Only one default can exist"
        );
        check_class(&store, &class("other", 5, false, "Never")).unwrap();
        let mut p = pod(json!({}));
        admit_pod(&store, &mut p).unwrap();
        assert_eq!(p["spec"]["priorityClassName"], "normal");
        assert_eq!(p["spec"]["priority"], 100);
    }
}
