//! StatefulSet and ControllerRevision validation
//! (`pkg/apis/apps/validation`). As upstream, a StatefulSet's pod template
//! is checked for its labels, restart policy and deadline only: the pods
//! the controller creates from it are validated as pods.

use serde_json::{Map, Value};

use super::common::{
    self, NON_NEGATIVE, Path, go_label_selector, go_string_map, int_or_string_value, labels,
    non_negative, percent, percent_error,
};
use crate::lenient::{int, obj, string};
use crate::names::{self, BadValue, FieldError, go_quote};

/// The spec fields an update may change, as upstream's message lists them.
const MUTABLE_SPEC_FIELDS: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

pub const FORBIDDEN_UPDATE: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// `ValidateStatefulSet` without the metadata.
pub fn validate_stateful_set(sts: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    validate_spec(
        sts.get("spec").unwrap_or(&null),
        &Path::new("spec"),
        &mut errs,
    );
    errs
}

/// Go's `%#v` of a `*intstr.IntOrString`.
fn go_int_or_string_ptr(v: Option<&Value>) -> String {
    match v.filter(|v| !v.is_null()) {
        None => "(*intstr.IntOrString)(nil)".to_string(),
        Some(Value::String(s)) => format!(
            "&intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(other) => format!(
            "&intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    }
}

/// Go's `%#v` of an `apps.RollingUpdateStatefulSetStrategy`.
fn go_rolling_update(v: &Value) -> String {
    format!(
        "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{}}}",
        int(v, "partition").unwrap_or(0),
        go_int_or_string_ptr(v.get("maxUnavailable"))
    )
}

/// Go's `%#v` of an `apps.StatefulSetUpdateStrategy`.
fn go_update_strategy(v: &Value) -> String {
    let rolling = match v.get("rollingUpdate").filter(|r| !r.is_null()) {
        None => "(*apps.RollingUpdateStatefulSetStrategy)(nil)".to_string(),
        Some(r) => format!("&{}", go_rolling_update(r)),
    };
    format!(
        "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:{rolling}}}",
        go_quote(string(v, "type"))
    )
}

/// `ValidateStatefulSetSpec`.
fn validate_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    match string(spec, "podManagementPolicy") {
        "" => errs.push(FieldError::required(path.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            path.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let null = Value::Null;
    let strategy = spec.get("updateStrategy").unwrap_or(&null);
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    let strategy_path = path.child("updateStrategy");
    match string(strategy, "type") {
        "" => errs.push(FieldError::required(&strategy_path, "")),
        "OnDelete" => {
            if let Some(r) = rolling {
                errs.push(FieldError::invalid(
                    strategy_path.child("rollingUpdate"),
                    BadValue::Raw(go_rolling_update(r)),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(r) = rolling {
                rolling_update(r, &strategy_path.child("rollingUpdate"), errs);
            }
        }
        _ => errs.push(FieldError::invalid(
            &strategy_path,
            BadValue::Raw(go_update_strategy(strategy)),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = spec
        .get("persistentVolumeClaimRetentionPolicy")
        .filter(|p| !p.is_null())
    {
        let p = path.child("persistentVolumeClaimRetentionPolicy");
        for key in ["whenDeleted", "whenScaled"] {
            let value = string(policy, key);
            if value != "Retain" && value != "Delete" {
                errs.push(FieldError::not_supported(
                    p.child(key),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    non_negative(spec, "replicas", path, errs);
    non_negative(spec, "minReadySeconds", path, errs);
    if let Some(start) = spec.get("ordinals").and_then(|o| int(o, "start"))
        && start < 0
    {
        errs.push(FieldError::invalid(
            path.child("ordinals.start"),
            start,
            NON_NEGATIVE,
        ));
    }
    let selector = spec.get("selector").filter(|s| !s.is_null());
    let selector_path = path.child("selector");
    match selector {
        None => errs.push(FieldError::required(&selector_path, "")),
        Some(sel) => {
            common::label_selector(sel, &selector_path, errs);
            let rules = obj(sel, "matchLabels").map_or(0, Map::len)
                + sel
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
            if rules == 0 {
                errs.push(FieldError::invalid(
                    &selector_path,
                    BadValue::Raw(go_label_selector(sel)),
                    "empty selector is invalid for statefulset",
                ));
            }
        }
    }
    let template = spec.get("template").unwrap_or(&null);
    let template_path = path.child("template");
    let template_labels = template.get("metadata").and_then(|m| m.get("labels"));
    // A missing selector selects nothing, so no template matches it.
    let parsed = match selector {
        None => Some(None),
        Some(sel) => common::parse_selector(sel).map(Some),
    };
    match parsed {
        None => errs.push(FieldError::invalid(
            &selector_path,
            BadValue::Raw(go_label_selector(selector.unwrap_or(&null))),
            "",
        )),
        Some(parsed) => {
            let matches = match &parsed {
                None => false,
                Some(s) if s.is_empty() => true,
                Some(s) => s.matches(&common::owned_pairs(template_labels)),
            };
            if !matches {
                errs.push(FieldError::invalid(
                    template_path.child("metadata").child("labels"),
                    BadValue::Raw(go_string_map(template_labels)),
                    "`selector` does not match template `labels`",
                ));
            }
            labels(template_labels, &template_path.child("labels"), errs);
            let annotations = template.get("metadata").and_then(|m| m.get("annotations"));
            errs.extend(names::validate_annotations(
                common::string_pairs(annotations),
                template_path.child("annotations").as_str(),
            ));
        }
    }
    let pod_spec = template.get("spec").unwrap_or(&null);
    let restart = pod_spec.get("restartPolicy").unwrap_or(&null);
    if restart != "Always" {
        let value = match restart {
            Value::Null => BadValue::Str(String::new()),
            other => BadValue::from_json(other),
        };
        errs.push(FieldError::not_supported(
            template_path.child("spec").child("restartPolicy"),
            value,
            &["Always"],
        ));
    }
    if pod_spec
        .get("activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(FieldError::forbidden(
            template_path.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
}

/// `validateRollingUpdateStatefulSet`.
fn rolling_update(r: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    non_negative(r, "partition", path, errs);
    let Some(max) = r.get("maxUnavailable").filter(|m| !m.is_null()) else {
        return;
    };
    let p = path.child("maxUnavailable");
    let shown = int_or_string_value(max);
    let value = match max {
        Value::String(s) => match percent(s) {
            Some(v) => v,
            None => {
                errs.push(FieldError::invalid(&p, shown.clone(), percent_error()));
                s.parse().unwrap_or(0)
            }
        },
        other => {
            let n = other.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(&p, n, NON_NEGATIVE));
            }
            n
        }
    };
    if value == 0 {
        errs.push(FieldError::invalid(&p, shown.clone(), "cannot be 0"));
    }
    if let Value::String(s) = max
        && percent(s).is_some_and(|v| v > 100)
    {
        errs.push(FieldError::invalid(
            &p,
            shown,
            "must not be greater than 100%",
        ));
    }
}

/// `ValidateStatefulSetUpdate` without the metadata.
pub fn validate_stateful_set_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_stateful_set(new);
    let strip = |v: &Value| -> Value {
        let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = spec.as_object_mut() {
            for key in MUTABLE_SPEC_FIELDS {
                m.remove(*key);
            }
        }
        spec
    };
    if !common::semantic_eq(&strip(new), &strip(old)) {
        errs.push(FieldError::forbidden("spec", FORBIDDEN_UPDATE));
    }
    errs
}

/// `ValidateStatefulSetStatusUpdate` without the metadata.
pub fn validate_stateful_set_status_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let status = new.get("status").unwrap_or(&null);
    let path = Path::new("status");
    for key in [
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
        "observedGeneration",
        "collisionCount",
    ] {
        non_negative(status, key, &path, &mut errs);
    }
    let count = |key: &str| int(status, key).unwrap_or(0);
    let replicas = count("replicas");
    for key in [
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
    ] {
        if count(key) > replicas {
            errs.push(FieldError::invalid(
                path.child(key),
                count(key),
                "cannot be greater than status.replicas",
            ));
        }
    }
    if count("availableReplicas") > count("readyReplicas") {
        errs.push(FieldError::invalid(
            path.child("availableReplicas"),
            count("availableReplicas"),
            "cannot be greater than status.readyReplicas",
        ));
    }
    let old_collisions = old.get("status").and_then(|s| int(s, "collisionCount"));
    let new_collisions = int(status, "collisionCount");
    if let Some(o) = old_collisions
        && new_collisions.is_none_or(|n| n < o)
    {
        errs.push(FieldError::invalid(
            path.child("collisionCount"),
            new_collisions.unwrap_or(0),
            "cannot be decremented",
        ));
    }
    errs
}

/// `ValidateControllerRevision` without the metadata.
pub fn validate_revision(rev: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if rev.get("data").is_none_or(Value::is_null) {
        errs.push(FieldError::required("data", "data is mandatory"));
    }
    non_negative(rev, "revision", &Path::new(""), &mut errs);
    errs
}

/// `ValidateControllerRevisionUpdate` without the metadata.
pub fn validate_revision_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_revision(new);
    errs.extend(common::immutable(
        new.get("data"),
        old.get("data"),
        &Path::new("data"),
    ));
    errs
}
