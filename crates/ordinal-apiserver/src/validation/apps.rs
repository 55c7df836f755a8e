//! StatefulSet, Deployment, ReplicaSet and ControllerRevision validation
//! (`pkg/apis/apps/validation`). As upstream, a StatefulSet's pod template
//! is checked for its labels, restart policy and deadline only (the pods
//! the controller creates from it are validated as pods), while a
//! Deployment's or ReplicaSet's template is validated as a pod template.

use serde_json::{Map, Value};

use super::claim_templates;
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

/// `ValidateStatefulSet` without the metadata, plus ordinal's own
/// annotations (`ordinal_core::set_policy`), which must parse.
pub fn validate_stateful_set(sts: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    validate_spec(
        sts.get("spec").unwrap_or(&null),
        &Path::new("spec"),
        &mut errs,
    );
    policy_annotations(sts, &mut errs);
    errs
}

/// Each of ordinal's annotations on the set that does not parse, at its
/// field path (`metadata.annotations[ordinal.dev/reserved-ordinals]`).
fn policy_annotations(sts: &Value, errs: &mut Vec<FieldError>) {
    let Some(annotations) = sts
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return;
    };
    let ours: std::collections::BTreeMap<String, String> = annotations
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .filter(|(k, _)| k.starts_with("ordinal.dev/"))
        .collect();
    if let Err(invalid) = ordinal_core::set_policy::Policies::parse(Some(&ours)) {
        let path = Path::new("metadata").child("annotations");
        for bad in invalid {
            errs.push(FieldError::invalid(
                path.key(bad.key),
                bad.value.as_str(),
                &bad.message,
            ));
        }
    }
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
        // KEP-3541's strategy: every outdated pod goes at once.
        "Recreate" => {
            if let Some(r) = rolling {
                errs.push(FieldError::invalid(
                    strategy_path.child("rollingUpdate"),
                    BadValue::Raw(go_rolling_update(r)),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        _ => errs.push(FieldError::invalid(
            &strategy_path,
            BadValue::Raw(go_update_strategy(strategy)),
            "must be 'RollingUpdate', 'OnDelete' or 'Recreate'",
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
    long_running(template, &template_path, "StatefulSet", errs);
}

/// The pods of a workload controller run for good: restart policy
/// `Always` and no `activeDeadlineSeconds`. `kind` names the controller in
/// the message as upstream words it (`ReplicaSet` for Deployments too).
fn long_running(template: &Value, template_path: &Path, kind: &str, errs: &mut Vec<FieldError>) {
    let null = Value::Null;
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
            format!("activeDeadlineSeconds in {kind} is not Supported"),
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

/// `ValidateStatefulSetUpdate` without the metadata, except that
/// `volumeClaimTemplates` may change as [`claim_templates`] allows.
pub fn validate_stateful_set_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_stateful_set(new);
    let null = Value::Null;
    let mut template_errs = Vec::new();
    let (old_templates, new_templates) = claim_templates::check_update(
        old.get("spec").unwrap_or(&null),
        new.get("spec").unwrap_or(&null),
        &mut template_errs,
    );
    let strip = |v: &Value, templates: Value| -> Value {
        let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = spec.as_object_mut() {
            for key in MUTABLE_SPEC_FIELDS {
                m.remove(*key);
            }
            m.insert("volumeClaimTemplates".into(), templates);
        }
        spec
    };
    if !common::semantic_eq(&strip(new, new_templates), &strip(old, old_templates)) {
        errs.push(FieldError::forbidden("spec", FORBIDDEN_UPDATE));
    }
    errs.extend(template_errs);
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

/// Go's `%#v` of an `intstr.IntOrString` (field errors print it so: its
/// `String()` has a pointer receiver).
fn go_int_or_string(v: Option<&Value>) -> String {
    match v.filter(|v| !v.is_null()) {
        Some(Value::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.and_then(Value::as_i64).unwrap_or(0)
        ),
    }
}

/// Go's `%#v` of an `apps.DeploymentStrategy`. A set `rollingUpdate` is a
/// pointer, which Go prints as an address; a fixed one stands in for it.
fn go_deployment_strategy(v: &Value) -> String {
    let rolling = match v.get("rollingUpdate").filter(|r| !r.is_null()) {
        None => "(*apps.RollingUpdateDeployment)(nil)",
        Some(_) => "(*apps.RollingUpdateDeployment)(0xc000000000)",
    };
    format!(
        "apps.DeploymentStrategy{{Type:{}, RollingUpdate:{rolling}}}",
        go_quote(string(v, "type"))
    )
}

/// The value of an int-or-percent for the zero checks
/// (`getIntOrPercentValue`): a percentage's number, an integer, or 0.
fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v.filter(|v| !v.is_null()) {
        Some(Value::String(s)) => percent(s).unwrap_or(0),
        Some(other) => other.as_i64().unwrap_or(0),
        None => 0,
    }
}

/// `ValidatePositiveIntOrPercent`.
fn positive_int_or_percent(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    match v.filter(|v| !v.is_null()) {
        Some(Value::String(s)) if percent(s).is_none() => {
            errs.push(FieldError::invalid(
                path,
                BadValue::Raw(go_int_or_string(v)),
                percent_error(),
            ));
        }
        Some(Value::String(_)) => {}
        Some(other) => {
            let n = other.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(path, n, NON_NEGATIVE));
            }
        }
        None => {}
    }
}

/// `IsNotMoreThan100Percent`.
fn not_more_than_100_percent(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(Value::String(s)) = v
        && percent(s).is_some_and(|p| p > 100)
    {
        errs.push(FieldError::invalid(
            path,
            BadValue::Raw(go_int_or_string(v)),
            "must not be greater than 100%",
        ));
    }
}

/// `ValidateRollingUpdateDeployment`.
fn rolling_update_deployment(r: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let unavailable = r.get("maxUnavailable");
    let surge = r.get("maxSurge");
    positive_int_or_percent(unavailable, &path.child("maxUnavailable"), errs);
    positive_int_or_percent(surge, &path.child("maxSurge"), errs);
    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
        errs.push(FieldError::invalid(
            path.child("maxUnavailable"),
            BadValue::Raw(go_int_or_string(unavailable)),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    not_more_than_100_percent(unavailable, &path.child("maxUnavailable"), errs);
}

/// `ValidateDeploymentStrategy`.
fn deployment_strategy(strategy: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match string(strategy, "type") {
        "Recreate" => {
            if rolling.is_some() {
                errs.push(FieldError::forbidden(
                    path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match rolling {
            None => errs.push(FieldError::required(
                path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(r) => rolling_update_deployment(r, &path.child("rollingUpdate"), errs),
        },
        _ => errs.push(FieldError::not_supported(
            path,
            BadValue::Raw(go_deployment_strategy(strategy)),
            &["Recreate", "RollingUpdate"],
        )),
    }
}

/// The selector checks `ValidateDeploymentSpec` and
/// `ValidateReplicaSetSpec` share, then `ValidatePodTemplateSpecForReplicaSet`.
fn selector_and_template(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let null = Value::Null;
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
                // Upstream words it so for ReplicaSets too.
                errs.push(FieldError::invalid(
                    &selector_path,
                    BadValue::Raw(go_label_selector(sel)),
                    "empty selector is invalid for deployment",
                ));
            }
        }
    }
    // A missing selector selects nothing, so no template matches it.
    let parsed = match selector {
        None => Some(None),
        Some(sel) => common::parse_selector(sel).map(Some),
    };
    let Some(parsed) = parsed else {
        errs.push(FieldError::invalid(
            &selector_path,
            BadValue::Raw(go_label_selector(selector.unwrap_or(&null))),
            "invalid label selector",
        ));
        return;
    };
    let template = spec.get("template").unwrap_or(&null);
    let template_path = path.child("template");
    let template_labels = template.get("metadata").and_then(|m| m.get("labels"));
    let matches = match &parsed {
        None => false,
        Some(s) => s.is_empty() || s.matches(&common::owned_pairs(template_labels)),
    };
    if !matches {
        errs.push(FieldError::invalid(
            template_path.child("metadata").child("labels"),
            BadValue::Raw(go_string_map(template_labels)),
            "`selector` does not match template `labels`",
        ));
    }
    super::batch::pod_template(template, &template_path, errs);
    // Upstream words it so for Deployments too.
    long_running(template, &template_path, "ReplicaSet", errs);
}

/// `ValidateDeploymentSpec`.
fn deployment_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    non_negative(spec, "replicas", path, errs);
    selector_and_template(spec, path, errs);
    let null = Value::Null;
    deployment_strategy(
        spec.get("strategy").unwrap_or(&null),
        &path.child("strategy"),
        errs,
    );
    non_negative(spec, "minReadySeconds", path, errs);
    non_negative(spec, "revisionHistoryLimit", path, errs);
    if let Some(deadline) = int(spec, "progressDeadlineSeconds") {
        non_negative(spec, "progressDeadlineSeconds", path, errs);
        if deadline <= int(spec, "minReadySeconds").unwrap_or(0) {
            errs.push(FieldError::invalid(
                path.child("progressDeadlineSeconds"),
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

/// `ValidateDeployment` without the metadata.
pub fn validate_deployment(deployment: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    deployment_spec(
        deployment.get("spec").unwrap_or(&null),
        &Path::new("spec"),
        &mut errs,
    );
    errs
}

/// The apps/v1 registries' rule on update: the selector never changes.
fn immutable_selector(old: &Value, new: &Value, errs: &mut Vec<FieldError>) {
    let selector = |v: &Value| v.pointer("/spec/selector").cloned().unwrap_or(Value::Null);
    let (old_sel, new_sel) = (selector(old), selector(new));
    if !common::semantic_eq(&old_sel, &new_sel) {
        let shown = match &new_sel {
            Value::Null => BadValue::Null,
            sel => BadValue::Raw(go_label_selector(sel)),
        };
        errs.push(FieldError::invalid(
            "spec.selector",
            shown,
            common::IMMUTABLE,
        ));
    }
}

/// `ValidateDeploymentUpdate` without the metadata, and the registry's
/// immutable selector.
pub fn validate_deployment_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_deployment(new);
    immutable_selector(old, new, &mut errs);
    errs
}

/// Non-negative counts (`counts`, in upstream's order), none of `bounded`
/// above `status.replicas`, and availability within readiness: what
/// Deployment and ReplicaSet statuses share.
fn replica_counts(
    status: &Value,
    path: &Path,
    counts: &[&str],
    bounded: &[&str],
    errs: &mut Vec<FieldError>,
) {
    for key in counts {
        non_negative(status, key, path, errs);
    }
    let count = |key: &str| int(status, key).unwrap_or(0);
    let replicas = count("replicas");
    for key in bounded {
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
            "cannot be greater than readyReplicas",
        ));
    }
}

/// `ValidateDeploymentStatusUpdate` without the metadata.
pub fn validate_deployment_status_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let status = new.get("status").unwrap_or(&null);
    let path = Path::new("status");
    replica_counts(
        status,
        &path,
        &[
            "observedGeneration",
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
            "collisionCount",
        ],
        &["updatedReplicas", "readyReplicas", "availableReplicas"],
        &mut errs,
    );
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

/// `ValidateReplicaSetSpec`.
fn replica_set_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    non_negative(spec, "replicas", path, errs);
    non_negative(spec, "minReadySeconds", path, errs);
    selector_and_template(spec, path, errs);
}

/// `ValidateReplicaSet` without the metadata.
pub fn validate_replica_set(replica_set: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    replica_set_spec(
        replica_set.get("spec").unwrap_or(&null),
        &Path::new("spec"),
        &mut errs,
    );
    errs
}

/// `ValidateReplicaSetUpdate` without the metadata, and the registry's
/// immutable selector.
pub fn validate_replica_set_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_replica_set(new);
    immutable_selector(old, new, &mut errs);
    errs
}

/// `ValidateReplicaSetStatusUpdate` without the metadata.
pub fn validate_replica_set_status_update(_old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    replica_counts(
        new.get("status").unwrap_or(&null),
        &Path::new("status"),
        &[
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
        ],
        &["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
        &mut errs,
    );
    errs
}
