//! PriorityClasses (`pkg/registry/scheduling/priorityclass`,
//! `pkg/apis/scheduling/validation`): a name for a pod priority. Names
//! starting `system-` are reserved for the two built-in classes, which
//! the server makes at start ([`system_classes`]) with their fixed values;
//! other classes go up to one billion; the built-in ones cannot be
//! deleted. `value` and `preemptionPolicy` never change. Only one class may be the global default (the Priority
//! admission plugin, [`crate::admission::priority`], checks that).

use serde_json::{Value, json};

use crate::admission::Plugin;
use crate::defaults::Context;
use crate::names::{BadValue, FieldError};
use crate::registry::Strategy;
use crate::table::{self, Printer};

/// The prefix of the reserved names.
const SYSTEM_PREFIX: &str = "system-";
/// The largest value a class that is not a system class may have.
pub(crate) const HIGHEST_USER_DEFINABLE: i64 = 1_000_000_000;
/// The priority of critical system pods.
const SYSTEM_CRITICAL: i64 = 2 * HIGHEST_USER_DEFINABLE;

/// The built-in classes: name, value, description.
const SYSTEM: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        SYSTEM_CRITICAL + 1000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        SYSTEM_CRITICAL,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// The built-in classes as the server makes them at start.
pub fn system_classes() -> impl Iterator<Item = Value> {
    SYSTEM.iter().map(|(name, value, description)| {
        json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": description,
        })
    })
}

#[derive(Debug)]
pub struct PriorityClassStrategy;

fn name(pc: &Value) -> &str {
    pc.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn value(pc: &Value) -> i64 {
    pc.get("value").and_then(Value::as_i64).unwrap_or(0)
}

fn global_default(pc: &Value) -> bool {
    pc.get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Upstream's `IsKnownSystemPriorityClass`: the error says why not.
fn known_system_class(name: &str, value: i64, global_default: bool) -> Result<(), String> {
    let Some((_, want, _)) = SYSTEM.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("{name} is not a known system priority class"));
    };
    if *want != value {
        return Err(format!("value of {name} PriorityClass must be {want}"));
    }
    if global_default {
        return Err(format!(
            "globalDefault of {name} PriorityClass must be false"
        ));
    }
    Ok(())
}

/// `ValidatePriorityClass` without the metadata.
fn validate(pc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = name(pc);
    if name.starts_with(SYSTEM_PREFIX) {
        if let Err(e) = known_system_class(name, value(pc), global_default(pc)) {
            errs.push(FieldError::forbidden(
                "metadata.name",
                format!(
                    "priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. error: {e}"
                ),
            ));
        }
    } else if value(pc) > HIGHEST_USER_DEFINABLE {
        errs.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}"),
        ));
    }
    if let Some(policy) = pc.get("preemptionPolicy").filter(|v| !v.is_null()) {
        match policy.as_str() {
            Some("PreemptLowerPriority" | "Never") => {}
            Some("") => errs.push(FieldError::required("preemptionPolicy", "")),
            _ => errs.push(FieldError::not_supported(
                "preemptionPolicy",
                BadValue::from_json(policy),
                &["Never", "PreemptLowerPriority"],
            )),
        }
    }
    errs
}

impl Strategy for PriorityClassStrategy {
    fn default(&self, object: &mut Value, _ctx: &Context) {
        if let Some(o) = object.as_object_mut()
            && o.get("preemptionPolicy").is_none_or(Value::is_null)
        {
            o.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
        }
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        validate(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if value(new) != value(old) {
            errs.push(FieldError::forbidden(
                "value",
                "may not be changed in an update.",
            ));
        }
        let policy = |v: &Value| v.get("preemptionPolicy").filter(|p| !p.is_null()).cloned();
        if policy(new) != policy(old) {
            errs.push(FieldError::invalid(
                "preemptionPolicy",
                policy(new)
                    .as_ref()
                    .map(BadValue::from_json)
                    .unwrap_or(BadValue::Null),
                "field is immutable",
            ));
        }
        errs
    }

    fn admission(&self) -> &'static [Plugin] {
        &[Plugin::Priority]
    }

    fn undeletable(&self, name: &str) -> Option<&'static str> {
        SYSTEM
            .iter()
            .any(|(n, _, _)| *n == name)
            .then_some("this is a system priority class and cannot be deleted")
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::PRIORITY_CLASS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pc(name: &str, value: i64) -> Value {
        json!({"metadata": {"name": name}, "value": value, "preemptionPolicy": "PreemptLowerPriority"})
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.detail))
            .collect()
    }

    #[test]
    fn system_names_are_reserved_and_user_values_bounded() {
        assert!(validate(&pc("high", HIGHEST_USER_DEFINABLE)).is_empty());
        assert_eq!(
            messages(&validate(&pc("higher", HIGHEST_USER_DEFINABLE + 1))),
            ["value: maximum allowed value of a user defined priority is 1000000000"]
        );
        assert_eq!(
            messages(&validate(&pc("system-mine", 5))),
            [
                "metadata.name: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
            ]
        );
        assert_eq!(
            messages(&validate(&pc("system-node-critical", 5))),
            [
                "metadata.name: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000"
            ]
        );
        for c in system_classes() {
            assert!(validate(&c).is_empty(), "{c}");
        }
        let mut bad = pc("x", 1);
        bad["preemptionPolicy"] = json!("Sometimes");
        assert_eq!(validate(&bad)[0].field, "preemptionPolicy");
    }

    #[test]
    fn value_and_policy_never_change() {
        let s = PriorityClassStrategy;
        let mut new = pc("x", 2);
        new["preemptionPolicy"] = json!("Never");
        let errs = s.validate_update(&pc("x", 1), &new);
        assert_eq!(
            messages(&errs),
            [
                "value: may not be changed in an update.",
                "preemptionPolicy: field is immutable"
            ]
        );
    }
}
