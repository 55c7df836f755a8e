//! PodDisruptionBudget validation (`pkg/apis/policy/validation`), and the
//! metav1 `Condition` rules its status shares with every type that uses
//! standard conditions.

use serde_json::Value;

use super::common::{self, NON_NEGATIVE, Path, int_or_string_value, percent, percent_error};
use crate::lenient::{int, list, string};
use crate::names::{self, BadValue, FieldError, go_quote};

/// The values `spec.unhealthyPodEvictionPolicy` may take, as upstream's
/// sorted set lists them.
const EVICTION_POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];

/// The statuses a metav1 `Condition` may have.
const CONDITION_STATUSES: &[&str] = &["False", "True", "Unknown"];
const MAX_REASON_LEN: usize = 1024;
const MAX_MESSAGE_LEN: usize = 32 * 1024;

/// `ValidatePodDisruptionBudget` without the metadata.
pub fn validate_pdb(pdb: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    validate_spec(
        pdb.get("spec").unwrap_or(&null),
        &Path::new("spec"),
        &mut errs,
    );
    errs
}

/// Go's `%#v` of the spec, which upstream prints when both bounds are set.
/// Upstream's text shows the pointers' addresses, which differ on every
/// request; this shows what they point at instead.
fn go_spec(spec: &Value) -> String {
    let int_or_string = |key: &str| match spec.get(key).filter(|v| !v.is_null()) {
        None => "(*intstr.IntOrString)(nil)".to_string(),
        Some(Value::String(s)) => format!(
            "&intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(other) => format!(
            "&intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    };
    let selector = match spec.get("selector").filter(|v| !v.is_null()) {
        None => "(*v1.LabelSelector)(nil)".to_string(),
        Some(sel) => format!("&{}", common::go_label_selector(sel)),
    };
    let policy = match spec
        .get("unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
    {
        None => "(*policy.UnhealthyPodEvictionPolicyType)(nil)".to_string(),
        Some(p) => format!("&{}", go_quote(p)),
    };
    format!(
        "policy.PodDisruptionBudgetSpec{{MinAvailable:{}, Selector:{selector}, MaxUnavailable:{}, UnhealthyPodEvictionPolicy:{policy}}}",
        int_or_string("minAvailable"),
        int_or_string("maxUnavailable"),
    )
}

/// `ValidatePodDisruptionBudgetSpec`.
fn validate_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let set = |key: &str| spec.get(key).filter(|v| !v.is_null());
    if set("minAvailable").is_some() && set("maxUnavailable").is_some() {
        errs.push(FieldError::invalid(
            path.as_str(),
            BadValue::Raw(go_spec(spec)),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for key in ["minAvailable", "maxUnavailable"] {
        if let Some(value) = set(key) {
            positive_int_or_percent(value, &path.child(key), errs);
        }
    }
    if let Some(selector) = set("selector") {
        common::label_selector(selector, &path.child("selector"), errs);
    }
    if let Some(policy) = set("unhealthyPodEvictionPolicy") {
        let name = policy.as_str().unwrap_or("");
        if !EVICTION_POLICIES.contains(&name) {
            errs.push(FieldError::not_supported(
                path.child("unhealthyPodEvictionPolicy"),
                name,
                EVICTION_POLICIES,
            ));
        }
    }
}

/// `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent`.
fn positive_int_or_percent(value: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    match value {
        Value::String(s) => match percent(s) {
            None => errs.push(FieldError::invalid(
                path,
                int_or_string_value(value),
                percent_error(),
            )),
            Some(p) if p > 100 => errs.push(FieldError::invalid(
                path,
                int_or_string_value(value),
                "must not be greater than 100%",
            )),
            Some(_) => {}
        },
        other => {
            let n = other.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(path, n, NON_NEGATIVE));
            }
        }
    }
}

/// `ValidatePodDisruptionBudgetStatusUpdate` (policy/v1).
pub fn validate_pdb_status(pdb: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let status = pdb.get("status").unwrap_or(&null);
    let path = Path::new("status");
    conditions(
        list(status, "conditions"),
        &path.child("conditions"),
        &mut errs,
    );
    for key in [
        "disruptionsAllowed",
        "currentHealthy",
        "desiredHealthy",
        "expectedPods",
    ] {
        common::non_negative(status, key, &path, &mut errs);
    }
    errs
}

/// metav1 `ValidateConditions`: types unique, each condition complete.
pub fn conditions(conditions: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    let mut seen = std::collections::HashSet::new();
    for (i, condition) in conditions.iter().enumerate() {
        let p = path.index(i);
        let kind = string(condition, "type");
        if !seen.insert(kind) {
            errs.push(FieldError::duplicate(p.child("type"), kind));
        }
        errs.extend(names::validate_label_key(kind, p.child("type").as_str()));
        let status = string(condition, "status");
        if !CONDITION_STATUSES.contains(&status) {
            errs.push(FieldError::not_supported(
                p.child("status"),
                status,
                CONDITION_STATUSES,
            ));
        }
        if let Some(generation) = int(condition, "observedGeneration")
            && generation < 0
        {
            errs.push(FieldError::invalid(
                p.child("observedGeneration"),
                generation,
                "must be greater than or equal to zero",
            ));
        }
        if string(condition, "lastTransitionTime").is_empty() {
            errs.push(FieldError::required(
                p.child("lastTransitionTime"),
                "must be set",
            ));
        }
        let reason = string(condition, "reason");
        if reason.is_empty() {
            errs.push(FieldError::required(p.child("reason"), "must be set"));
        } else {
            if !is_condition_reason(reason) {
                errs.push(FieldError::invalid(
                    p.child("reason"),
                    reason,
                    names::regex_error(
                        "a condition reason must start with alphabetic character, optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'",
                        "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?",
                        &["my_name", "MY_NAME", "MyName", "ReasonA,ReasonB", "ReasonA:ReasonB"],
                    ),
                ));
            }
            if reason.len() > MAX_REASON_LEN {
                errs.push(FieldError::too_long(p.child("reason"), MAX_REASON_LEN));
            }
        }
        if string(condition, "message").len() > MAX_MESSAGE_LEN {
            errs.push(FieldError::too_long(p.child("message"), MAX_MESSAGE_LEN));
        }
    }
}

/// `[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?`.
fn is_condition_reason(reason: &str) -> bool {
    let bytes = reason.as_bytes();
    let Some((first, rest)) = bytes.split_first() else {
        return false;
    };
    if !first.is_ascii_alphabetic() {
        return false;
    }
    let inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b',' | b':');
    match rest.split_last() {
        None => true,
        Some((last, middle)) => {
            (last.is_ascii_alphanumeric() || *last == b'_') && middle.iter().all(inner)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect()
    }

    fn pdb(spec: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": spec})
    }

    #[test]
    fn a_budget_names_one_bound_as_a_count_or_a_percentage() {
        for spec in [
            json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
            json!({"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "web"}}}),
            json!({"maxUnavailable": 0, "unhealthyPodEvictionPolicy": "AlwaysAllow"}),
            json!({"minAvailable": "100%", "unhealthyPodEvictionPolicy": "IfHealthyBudget"}),
            json!({}),
        ] {
            assert!(validate_pdb(&pdb(spec.clone())).is_empty(), "{spec}");
        }
        let both = validate_pdb(&pdb(json!({"minAvailable": 1, "maxUnavailable": 1})));
        assert_eq!(both.len(), 1);
        assert_eq!(both[0].field, "spec");
        assert!(
            both[0]
                .body()
                .ends_with("minAvailable and maxUnavailable cannot be both set"),
            "{}",
            both[0].body()
        );
        assert_eq!(
            messages(&validate_pdb(&pdb(json!({"minAvailable": -1})))),
            ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            messages(&validate_pdb(&pdb(json!({"maxUnavailable": "150%"})))),
            ["spec.maxUnavailable: Invalid value: 150%: must not be greater than 100%"]
        );
        let bad = validate_pdb(&pdb(json!({"maxUnavailable": "half"})));
        assert_eq!(bad[0].field, "spec.maxUnavailable");
        assert!(bad[0].body().contains("a valid percent string"));
    }

    #[test]
    fn the_eviction_policy_and_selector_are_checked() {
        assert_eq!(
            messages(&validate_pdb(&pdb(
                json!({"unhealthyPodEvictionPolicy": "Sometimes"})
            ))),
            [
                "spec.unhealthyPodEvictionPolicy: Unsupported value: \"Sometimes\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""
            ]
        );
        let errs = validate_pdb(&pdb(json!({"selector": {"matchExpressions": [
            {"key": "app", "operator": "Near", "values": ["a"]}
        ]}})));
        assert_eq!(errs[0].field, "spec.selector.matchExpressions[0].operator");
    }

    #[test]
    fn status_counts_are_non_negative_and_conditions_complete() {
        let good = json!({"status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2,
            "expectedPods": 3, "conditions": [{"type": "DisruptionAllowed", "status": "True",
            "reason": "SufficientPods", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        assert!(validate_pdb_status(&good).is_empty());
        let bad = json!({"status": {"disruptionsAllowed": -1, "conditions": [
            {"type": "DisruptionAllowed", "status": "Maybe", "reason": "not ok"},
            {"type": "DisruptionAllowed", "status": "True", "reason": "X", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ]}});
        let fields: Vec<String> = validate_pdb_status(&bad)
            .iter()
            .map(|e| e.field.clone())
            .collect();
        assert_eq!(
            fields,
            [
                "status.conditions[0].status",
                "status.conditions[0].lastTransitionTime",
                "status.conditions[0].reason",
                "status.conditions[1].type",
                "status.disruptionsAllowed",
            ]
        );
    }

    #[test]
    fn condition_reasons() {
        for ok in ["A", "SufficientPods", "a_b", "A,B", "A:B", "x_"] {
            assert!(is_condition_reason(ok), "{ok}");
        }
        for bad in ["", "1a", "a b", "a,", "a:", "_a"] {
            assert!(!is_condition_reason(bad), "{bad}");
        }
    }
}
