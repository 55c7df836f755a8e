//! Job and CronJob validation (`pkg/apis/batch/validation`): the spec's
//! counts and modes, the pod failure policy, the generated selector, the
//! whole pod template (a Job's pods are made from it as they are), the
//! fields an update may not change, and a CronJob's schedule and time zone.

use serde_json::{Map, Value};

use super::common::{
    self, IMMUTABLE, Path, go_label_selector, go_string_map, labels, non_negative,
};
use crate::lenient::{int, list, string};
use crate::names::{self, BadValue, FieldError, go_quote};

/// The generated selector's label, and the pod template's labels.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

const MAX_PARALLELISM_INDEXED: i64 = 100_000;
const MAX_FAILED_INDEXES: i64 = 100_000;
const MAX_FAILURE_POLICY_RULES: usize = 20;
const MAX_EXIT_CODE_VALUES: usize = 255;
const MAX_CONDITION_PATTERNS: usize = 20;
const MAX_MANAGED_BY: usize = 63;

fn is_set(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|v| !v.is_null())
}

/// `ValidateJob` without the metadata.
pub fn validate_job(job: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = job.get("spec").unwrap_or(&null);
    generated_selector(job, true, &mut errs);
    job_spec_with_selector(spec, &Path::new("spec"), &mut errs);
    if string(spec, "completionMode") == "Indexed"
        && let Some(completions) = int(spec, "completions")
        && completions > 0
    {
        let name = job.get("metadata").map(|m| string(m, "name")).unwrap_or("");
        let hostname = format!("{name}-{}", completions - 1);
        if !names::is_dns1123_label(&hostname).is_empty() {
            errs.push(FieldError::invalid(
                "metadata.name",
                name,
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errs
}

/// `validateGeneratedSelector`.
fn generated_selector(job: &Value, prefixed: bool, errs: &mut Vec<FieldError>) {
    let null = Value::Null;
    let spec = job.get("spec").unwrap_or(&null);
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) else {
        return;
    };
    let meta = job.get("metadata").unwrap_or(&null);
    let uid = string(meta, "uid");
    let name = string(meta, "name");
    if uid.is_empty() {
        errs.push(FieldError::required("metadata.uid", ""));
    }
    let template_meta = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .unwrap_or(&null);
    let template_path = Path::new("spec.template.metadata");
    let mut expected = vec![
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
    ];
    if prefixed {
        expected.push((CONTROLLER_UID_LABEL, uid));
        expected.push((JOB_NAME_LABEL, name));
    }
    for (key, value) in &expected {
        has_label(template_meta, &template_path, key, value, errs);
    }
    if let Some(parsed) = common::parse_selector(selector) {
        let pairs: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !parsed.matches(&pairs) {
            errs.push(FieldError::invalid(
                "spec.selector",
                BadValue::Raw(go_label_selector(selector)),
                "`selector` not auto-generated",
            ));
        }
    }
}

/// `ValidateHasLabel`.
fn has_label(meta: &Value, path: &Path, key: &str, expected: &str, errs: &mut Vec<FieldError>) {
    let labels = meta.get("labels");
    let p = path.child("labels").key(key);
    match labels.and_then(|l| l.get(key)).and_then(Value::as_str) {
        None => errs.push(FieldError::required(&p, format!("must be '{expected}'"))),
        Some(v) if v != expected => errs.push(FieldError::invalid(
            &p,
            BadValue::Raw(go_string_map(labels)),
            format!("must be '{expected}'"),
        )),
        Some(_) => {}
    }
}

/// `ValidateJobSpec`: the spec, its selector, and that they agree.
fn job_spec_with_selector(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    job_spec(spec, path, errs);
    let selector_path = path.child("selector");
    let selector = spec.get("selector").filter(|s| !s.is_null());
    match selector {
        None => errs.push(FieldError::required(&selector_path, "")),
        Some(sel) => common::label_selector(sel, &selector_path, errs),
    }
    if let Some(parsed) = selector.and_then(common::parse_selector) {
        let template_labels = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"));
        if !parsed.matches(&common::owned_pairs(template_labels)) {
            errs.push(FieldError::invalid(
                path.child("template.metadata.labels"),
                BadValue::Raw(go_string_map(template_labels)),
                "`selector` does not match template `labels`",
            ));
        }
    }
}

/// `validateJobSpec`: everything but the selector.
fn job_spec(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for key in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ] {
        non_negative(spec, key, path, errs);
    }
    if is_set(spec, "maxFailedIndexes") && !is_set(spec, "backoffLimitPerIndex") {
        errs.push(FieldError::required(
            path.child("backoffLimitPerIndex"),
            "when maxFailedIndexes is specified",
        ));
    }
    if let Some(managed_by) = spec.get("managedBy").and_then(Value::as_str) {
        domain_prefixed_path(managed_by, &path.child("managedBy"), errs);
        if managed_by.len() > MAX_MANAGED_BY {
            errs.push(FieldError::too_long(
                path.child("managedBy"),
                MAX_MANAGED_BY,
            ));
        }
    }
    let mode = spec.get("completionMode").and_then(Value::as_str);
    match mode {
        Some("NonIndexed") | None => {
            for key in ["backoffLimitPerIndex", "maxFailedIndexes"] {
                if let Some(v) = int(spec, key) {
                    errs.push(FieldError::invalid(
                        path.child(key),
                        v,
                        "requires indexed completion mode",
                    ));
                }
            }
        }
        Some("Indexed") => {
            if !is_set(spec, "completions") {
                errs.push(FieldError::required(
                    path.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
            if let Some(p) = int(spec, "parallelism")
                && p > MAX_PARALLELISM_INDEXED
            {
                errs.push(FieldError::invalid(
                    path.child("parallelism"),
                    p,
                    format!(
                        "must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"
                    ),
                ));
            }
            if let Some(max) = int(spec, "maxFailedIndexes") {
                if int(spec, "completions").is_some_and(|c| max > c) {
                    errs.push(FieldError::invalid(
                        path.child("maxFailedIndexes"),
                        max,
                        "must be less than or equal to completions",
                    ));
                }
                if max > MAX_FAILED_INDEXES {
                    errs.push(FieldError::invalid(
                        path.child("maxFailedIndexes"),
                        max,
                        format!("must be less than or equal to {MAX_FAILED_INDEXES}"),
                    ));
                }
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            path.child("completionMode"),
            other,
            &["NonIndexed", "Indexed"],
        )),
    }
    let null = Value::Null;
    let template = spec.get("template").unwrap_or(&null);
    let pod_spec = template.get("spec").unwrap_or(&null);
    if let Some(policy) = spec.get("podFailurePolicy").filter(|p| !p.is_null()) {
        pod_failure_policy(
            spec,
            policy,
            pod_spec,
            &path.child("podFailurePolicy"),
            errs,
        );
    }
    if let Some(success) = spec.get("successPolicy").filter(|p| !p.is_null())
        && mode != Some("Indexed")
    {
        errs.push(FieldError::invalid(
            path.child("successPolicy"),
            BadValue::Raw(success.to_string()),
            "requires indexed completion mode",
        ));
    }
    if let Some(replacement) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        let p = path.child("podReplacementPolicy");
        if is_set(spec, "podFailurePolicy") {
            if replacement != "Failed" {
                errs.push(FieldError::not_supported(&p, replacement, &["Failed"]));
            }
        } else if replacement != "Failed" && replacement != "TerminatingOrFailed" {
            errs.push(FieldError::not_supported(
                &p,
                replacement,
                &["Failed", "TerminatingOrFailed"],
            ));
        }
    }
    pod_template(template, &path.child("template"), errs);
    let restart = string(pod_spec, "restartPolicy");
    let restart_path = path.child("template.spec.restartPolicy");
    match restart {
        "" | "Always" => errs.push(FieldError::required(
            &restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )),
        "OnFailure" if is_set(spec, "podFailurePolicy") => errs.push(FieldError::invalid(
            &restart_path,
            restart,
            "only \"Never\" is supported when podFailurePolicy is specified",
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(
            &restart_path,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

/// `IsDomainPrefixedPath`.
fn domain_prefixed_path(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    let Some((host, rest)) = value.split_once('/') else {
        errs.push(FieldError::invalid(
            path,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return;
    };
    for msg in names::is_dns1123_subdomain(host) {
        errs.push(FieldError::invalid(path, host, msg));
    }
    let valid = rest
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
    if !valid {
        errs.push(FieldError::invalid(
            path,
            value,
            "segment of path must only contain valid path characters",
        ));
    }
}

/// `ValidatePodTemplateSpec`: labels, annotations, the pod spec.
pub(super) fn pod_template(template: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let meta = template.get("metadata");
    labels(
        meta.and_then(|m| m.get("labels")),
        &path.child("labels"),
        errs,
    );
    errs.extend(names::validate_annotations(
        common::string_pairs(meta.and_then(|m| m.get("annotations"))),
        path.child("annotations").as_str(),
    ));
    let null = Value::Null;
    let pod_spec = template.get("spec").unwrap_or(&null);
    super::pod::validate_pod_spec(pod_spec, &path.child("spec"), errs);
    if !list(pod_spec, "ephemeralContainers").is_empty() {
        errs.push(FieldError::forbidden(
            path.child("spec.ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
}

/// `validatePodFailurePolicy`.
fn pod_failure_policy(
    spec: &Value,
    policy: &Value,
    pod_spec: &Value,
    path: &Path,
    errs: &mut Vec<FieldError>,
) {
    let rules = list(policy, "rules");
    let rules_path = path.child("rules");
    if rules.len() > MAX_FAILURE_POLICY_RULES {
        errs.push(FieldError::too_many(
            &rules_path,
            rules.len(),
            MAX_FAILURE_POLICY_RULES,
        ));
    }
    let containers: Vec<&str> = list(pod_spec, "containers")
        .iter()
        .chain(list(pod_spec, "initContainers"))
        .map(|c| string(c, "name"))
        .collect();
    const ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];
    for (i, rule) in rules.iter().enumerate() {
        let p = rules_path.index(i);
        let action = string(rule, "action");
        match action {
            "" => errs.push(FieldError::required(
                p.child("action"),
                format!("valid values: {}", go_string_list(ACTIONS)),
            )),
            "FailIndex" if !is_set(spec, "backoffLimitPerIndex") => errs.push(FieldError::invalid(
                p.child("action"),
                action,
                "requires the backoffLimitPerIndex to be set",
            )),
            a if ACTIONS.contains(&a) => {}
            other => errs.push(FieldError::not_supported(p.child("action"), other, ACTIONS)),
        }
        let on_exit = rule.get("onExitCodes").filter(|v| !v.is_null());
        let on_conditions = list(rule, "onPodConditions");
        if let Some(req) = on_exit {
            exit_codes(req, &containers, &p.child("onExitCodes"), errs);
        }
        if !on_conditions.is_empty() {
            condition_patterns(on_conditions, &p.child("onPodConditions"), errs);
        }
        if on_exit.is_some() && !on_conditions.is_empty() {
            errs.push(FieldError::invalid(
                &p,
                BadValue::Omit,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ));
        }
        if on_exit.is_none() && on_conditions.is_empty() {
            errs.push(FieldError::invalid(
                &p,
                BadValue::Omit,
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_string_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

fn exit_codes(req: &Value, containers: &[&str], path: &Path, errs: &mut Vec<FieldError>) {
    let operator = string(req, "operator");
    match operator {
        "" => errs.push(FieldError::required(
            path.child("operator"),
            format!("valid values: {}", go_string_list(&["In", "NotIn"])),
        )),
        "In" | "NotIn" => {}
        other => errs.push(FieldError::not_supported(
            path.child("operator"),
            other,
            &["In", "NotIn"],
        )),
    }
    if let Some(name) = req.get("containerName").and_then(Value::as_str)
        && !containers.contains(&name)
    {
        errs.push(FieldError::invalid(
            path.child("containerName"),
            name,
            "must be one of the container or initContainer names in the pod template",
        ));
    }
    let values: Vec<i64> = list(req, "values")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let values_path = path.child("values");
    let shown = || {
        BadValue::Raw(format!(
            "[]int32{{{}}}",
            values
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    if values.is_empty() {
        errs.push(FieldError::invalid(
            &values_path,
            BadValue::Raw("[]int32(nil)".into()),
            "at least one value is required",
        ));
    } else if values.len() > MAX_EXIT_CODE_VALUES {
        errs.push(FieldError::too_many(
            &values_path,
            values.len(),
            MAX_EXIT_CODE_VALUES,
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (j, v) in values.iter().enumerate() {
        if operator == "In" && *v == 0 {
            errs.push(FieldError::invalid(
                values_path.index(j),
                *v,
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*v) {
            errs.push(FieldError::duplicate(values_path.index(j), *v));
        }
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        errs.push(FieldError::invalid(
            &values_path,
            shown(),
            "must be ordered",
        ));
    }
}

fn condition_patterns(patterns: &[Value], path: &Path, errs: &mut Vec<FieldError>) {
    if patterns.len() > MAX_CONDITION_PATTERNS {
        errs.push(FieldError::too_many(
            path,
            patterns.len(),
            MAX_CONDITION_PATTERNS,
        ));
    }
    const STATUSES: &[&str] = &["False", "True", "Unknown"];
    for (j, pattern) in patterns.iter().enumerate() {
        let p = path.index(j);
        let kind = string(pattern, "type");
        for msg in names::is_qualified_name(kind) {
            errs.push(FieldError::invalid(p.child("type"), kind, msg));
        }
        match string(pattern, "status") {
            "" => errs.push(FieldError::required(
                p.child("status"),
                format!("valid values: {}", go_string_list(STATUSES)),
            )),
            s if STATUSES.contains(&s) => {}
            other => errs.push(FieldError::not_supported(
                p.child("status"),
                other,
                STATUSES,
            )),
        }
    }
}

/// Whether a condition of `kind` is `True` in `job`'s status.
fn condition_true(job: &Value, kind: &str) -> bool {
    job.get("status")
        .map(|s| list(s, "conditions"))
        .unwrap_or_default()
        .iter()
        .any(|c| string(c, "type") == kind && string(c, "status") == "True")
}

/// `ValidateJobUpdate` without the metadata.
pub fn validate_job_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = new.get("spec").unwrap_or(&null);
    let old_spec = old.get("spec").unwrap_or(&null);
    let path = Path::new("spec");
    // Old jobs without the prefixed labels are not asked for them.
    let prefixed = old
        .pointer("/spec/template/metadata/labels")
        .and_then(|l| l.get(CONTROLLER_UID_LABEL))
        .is_some();
    generated_selector(new, prefixed, &mut errs);
    job_spec_with_selector(spec, &path, &mut errs);
    let immutable = |key: &str, errs: &mut Vec<FieldError>| {
        errs.extend(common::immutable(
            spec.get(key),
            old_spec.get(key),
            &path.child(key),
        ));
    };
    // Completions of an Indexed job may change in tandem with parallelism
    // (elastic indexed jobs).
    if string(spec, "completionMode") == "Indexed" {
        let (c, o) = (int(spec, "completions"), int(old_spec, "completions"));
        if c != o
            && let Some(c) = c
            && Some(c) != int(spec, "parallelism")
        {
            errs.push(FieldError::invalid(
                path.child("completions"),
                c,
                "can only be modified in tandem with spec.parallelism",
            ));
        }
    } else {
        immutable("completions", &mut errs);
    }
    immutable("selector", &mut errs);
    // A suspended job that never started may change where its pods run.
    let mutable_scheduling = old_spec.get("suspend").and_then(Value::as_bool) == Some(true)
        && old
            .get("status")
            .is_none_or(|s| s.get("startTime").is_none_or(Value::is_null));
    let template = spec.get("template").cloned().unwrap_or(Value::Null);
    let mut old_template = old_spec.get("template").cloned().unwrap_or(Value::Null);
    if mutable_scheduling
        && let (Some(o), Some(n)) = (old_template.as_object_mut(), template.as_object())
    {
        carry_scheduling(o, n);
    }
    if !common::semantic_eq(&template, &old_template) {
        errs.push(FieldError::invalid(
            path.child("template"),
            BadValue::Raw(template.to_string()),
            IMMUTABLE,
        ));
    }
    for key in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        immutable(key, &mut errs);
    }
    errs
}

/// The scheduling directives of a suspended job's template, taken from
/// the new template into the old before comparing.
fn carry_scheduling(old: &mut Map<String, Value>, new: &Map<String, Value>) {
    let copy =
        |old: &mut Map<String, Value>, new: &Map<String, Value>, key: &str| match new.get(key) {
            Some(v) => {
                old.insert(key.into(), v.clone());
            }
            None => {
                old.remove(key);
            }
        };
    if let (Some(Value::Object(om)), Some(Value::Object(nm))) =
        (old.get_mut("metadata"), new.get("metadata"))
    {
        copy(om, nm, "labels");
        copy(om, nm, "annotations");
    }
    if let (Some(Value::Object(os)), Some(Value::Object(ns))) =
        (old.get_mut("spec"), new.get("spec"))
    {
        copy(os, ns, "nodeSelector");
        copy(os, ns, "tolerations");
        copy(os, ns, "schedulingGates");
        let node_affinity = ns
            .get("affinity")
            .and_then(|a| a.get("nodeAffinity"))
            .cloned();
        let mut affinity = os
            .get("affinity")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        match node_affinity {
            Some(n) => {
                affinity.insert("nodeAffinity".into(), n);
            }
            None => {
                affinity.remove("nodeAffinity");
            }
        }
        if affinity.is_empty() && ns.get("affinity").is_none() {
            os.remove("affinity");
        } else {
            os.insert("affinity".into(), Value::Object(affinity));
        }
    }
}

/// `ValidateJobStatusUpdate`: the counts and the terminal conditions.
pub fn validate_job_status_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let status = new.get("status").unwrap_or(&null);
    let path = Path::new("status");
    for key in ["active", "succeeded", "failed", "ready", "terminating"] {
        non_negative(status, key, &path, &mut errs);
    }
    let complete = condition_true(new, "Complete");
    let failed = condition_true(new, "Failed");
    if complete && failed {
        errs.push(FieldError::invalid(
            path.child("conditions"),
            BadValue::Omit,
            "cannot set Complete=True and Failed=true conditions",
        ));
    }
    if complete && condition_true(new, "FailureTarget") {
        errs.push(FieldError::invalid(
            path.child("conditions"),
            BadValue::Omit,
            "cannot set Complete=True and FailureTarget=true conditions",
        ));
    }
    if complete && !is_set(status, "completionTime") {
        errs.push(FieldError::required(
            path.child("completionTime"),
            "completionTime is required for Complete jobs",
        ));
    }
    if (complete || failed) && !is_set(status, "startTime") {
        errs.push(FieldError::required(
            path.child("startTime"),
            "startTime is required for finished job",
        ));
    }
    if (complete || failed)
        && let Some(active) = int(status, "active")
        && active > 0
    {
        errs.push(FieldError::invalid(
            path.child("active"),
            active,
            "active>0 is invalid for finished job",
        ));
    }
    if let (Some(ready), active) = (int(status, "ready"), int(status, "active").unwrap_or(0))
        && ready > active
    {
        errs.push(FieldError::invalid(
            path.child("ready"),
            ready,
            "cannot set more ready pods than active",
        ));
    }
    for kind in ["Failed", "Complete", "FailureTarget"] {
        if condition_true(old, kind) && !condition_true(new, kind) {
            errs.push(FieldError::invalid(
                path.child("conditions"),
                BadValue::Omit,
                format!("cannot disable the terminal {kind}=True condition"),
            ));
        }
    }
    let old_status = old.get("status").unwrap_or(&null);
    for (key, what) in [("failed", "failed"), ("succeeded", "succeeded")] {
        let (n, o) = (
            int(status, key).unwrap_or(0),
            int(old_status, key).unwrap_or(0),
        );
        if n < o {
            errs.push(FieldError::invalid(
                path.child(key),
                n,
                format!("cannot decrease the {what} counter"),
            ));
        }
    }
    errs
}

/// `ValidateCronJobCreate` without the metadata.
pub fn validate_cron_job(cj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    cron_job_spec(cj.get("spec").unwrap_or(&null), None, &mut errs);
    let name = cj.get("metadata").map(|m| string(m, "name")).unwrap_or("");
    if name.len() > 52 {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    errs
}

/// `ValidateCronJobUpdate` without the metadata.
pub fn validate_cron_job_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    cron_job_spec(
        new.get("spec").unwrap_or(&null),
        Some(old.get("spec").unwrap_or(&null)),
        &mut errs,
    );
    errs
}

fn cron_job_spec(spec: &Value, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let path = Path::new("spec");
    let schedule = string(spec, "schedule");
    let zone = spec.get("timeZone").and_then(Value::as_str);
    if schedule.is_empty() {
        errs.push(FieldError::required(path.child("schedule"), ""));
    } else {
        let allow_tz = old.is_some_and(|o| string(o, "schedule").contains("TZ"));
        if let Err(e) = ordinal_core::cron::Schedule::parse(schedule) {
            errs.push(FieldError::invalid(path.child("schedule"), schedule, e));
        }
        if allow_tz && schedule.contains("TZ") && zone.is_some() {
            errs.push(FieldError::invalid(
                path.child("schedule"),
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && schedule.contains("TZ") {
            errs.push(FieldError::invalid(
                path.child("schedule"),
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    non_negative(spec, "startingDeadlineSeconds", &path, errs);
    let old_zone = old.and_then(|o| o.get("timeZone")).and_then(Value::as_str);
    if old.is_none() || old_zone != zone {
        time_zone(zone, &path.child("timeZone"), errs);
    }
    match string(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(path.child("concurrencyPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            path.child("concurrencyPolicy"),
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    let null = Value::Null;
    let job_template = spec.get("jobTemplate").unwrap_or(&null);
    let job_spec_value = job_template.get("spec").unwrap_or(&null);
    let template_path = path.child("jobTemplate");
    job_spec(job_spec_value, &template_path.child("spec"), errs);
    if let Some(sel) = job_spec_value.get("selector").filter(|s| !s.is_null()) {
        errs.push(FieldError::invalid(
            template_path.child("spec.selector"),
            BadValue::Raw(format!("&{}", go_label_selector(sel))),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec_value
        .get("manualSelector")
        .and_then(Value::as_bool)
        == Some(true)
    {
        errs.push(FieldError::not_supported(
            template_path.child("spec.manualSelector"),
            BadValue::Raw("true".into()),
            &["nil", "false"],
        ));
    }
    non_negative(spec, "successfulJobsHistoryLimit", &path, errs);
    non_negative(spec, "failedJobsHistoryLimit", &path, errs);
}

/// `validateTimeZone`.
fn time_zone(zone: Option<&str>, path: &Path, errs: &mut Vec<FieldError>) {
    let Some(zone) = zone else {
        return;
    };
    if zone.is_empty() {
        errs.push(FieldError::invalid(
            path,
            zone,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let part_ok = |part: &str| {
        part != "."
            && part != ".."
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c))
    };
    if !zone.split('/').all(part_ok) {
        errs.push(FieldError::invalid(
            path,
            zone,
            format!("unknown time zone {zone}"),
        ));
        return;
    }
    if zone.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path,
            zone,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if let Err(e) = ordinal_core::cron::load_zone(zone) {
        errs.push(FieldError::invalid(path, zone, e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> Value {
        json!({
            "metadata": {"name": "pi", "uid": "u1"},
            "spec": {
                "parallelism": 1, "completions": 1, "backoffLimit": 6,
                "completionMode": "NonIndexed", "suspend": false,
                "manualSelector": false,
                "podReplacementPolicy": "TerminatingOrFailed",
                "selector": {"matchLabels": {CONTROLLER_UID_LABEL: "u1"}},
                "template": {
                    "metadata": {"labels": {
                        CONTROLLER_UID_LABEL: "u1", JOB_NAME_LABEL: "pi",
                        "controller-uid": "u1", "job-name": "pi"}},
                    "spec": {"restartPolicy": "Never", "dnsPolicy": "ClusterFirst",
                             "terminationGracePeriodSeconds": 30,
                             "containers": [{"name": "c", "image": "busybox",
                                             "imagePullPolicy": "Always",
                                             "terminationMessagePolicy": "File"}]}
                }
            }
        })
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::body).collect()
    }

    #[test]
    fn a_valid_job_passes() {
        assert_eq!(messages(&validate_job(&job())), Vec::<String>::new());
    }

    #[test]
    fn restart_policy_must_be_on_failure_or_never() {
        let mut j = job();
        j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let errs = validate_job(&j);
        assert_eq!(errs.len(), 1, "{:?}", messages(&errs));
        assert_eq!(errs[0].field, "spec.template.spec.restartPolicy");
        assert_eq!(
            errs[0].body(),
            "Required value: valid values: \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn counts_and_policies() {
        let mut j = job();
        j["spec"]["backoffLimit"] = json!(-1);
        j["spec"]["completionMode"] = json!("Sometimes");
        j["spec"]["podFailurePolicy"] = json!({"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 0, 2]}},
            {"action": "Ignore"}
        ]});
        j["spec"]["podReplacementPolicy"] = json!("Failed");
        let fields: Vec<String> = validate_job(&j).iter().map(|e| e.field.clone()).collect();
        assert!(fields.contains(&"spec.backoffLimit".into()), "{fields:?}");
        assert!(fields.contains(&"spec.completionMode".into()), "{fields:?}");
        assert!(
            fields.contains(&"spec.podFailurePolicy.rules[0].onExitCodes.values[1]".into()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"spec.podFailurePolicy.rules[0].onExitCodes.values".into()),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"spec.podFailurePolicy.rules[1]".into()),
            "{fields:?}"
        );
    }

    #[test]
    fn the_generated_selector_is_checked() {
        let mut j = job();
        j["spec"]["template"]["metadata"]["labels"]["job-name"] = json!("other");
        let errs = validate_job(&j);
        assert!(
            errs.iter()
                .any(|e| e.field == "spec.template.metadata.labels[job-name]"
                    && e.detail == "must be 'pi'"),
            "{:?}",
            messages(&errs)
        );
    }

    #[test]
    fn the_template_is_immutable_unless_suspended_before_start() {
        let old = job();
        let mut new = job();
        new["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
        let errs = validate_job_update(&old, &new);
        assert_eq!(errs.len(), 1, "{:?}", messages(&errs));
        assert_eq!(errs[0].field, "spec.template");
        let mut suspended = job();
        suspended["spec"]["suspend"] = json!(true);
        assert!(validate_job_update(&suspended, &new).is_empty());
        new["spec"]["completions"] = json!(2);
        let errs = validate_job_update(&old, &new);
        assert!(errs.iter().any(|e| e.field == "spec.completions"));
    }

    #[test]
    fn status_rules() {
        let old = json!({"status": {"failed": 2, "conditions": [{"type": "FailureTarget", "status": "True"}]}});
        let new = json!({"status": {"failed": 1}});
        let errs = messages(&validate_job_status_update(&old, &new));
        assert!(
            errs.contains(&"Invalid value: 1: cannot decrease the failed counter".into()),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"Invalid value: cannot disable the terminal FailureTarget=True condition".into()
            ),
            "{errs:?}"
        );
    }

    fn cron_job(schedule: &str) -> Value {
        let mut template = job()["spec"].clone();
        let t = template.as_object_mut().unwrap();
        t.remove("selector");
        t.remove("manualSelector");
        json!({"metadata": {"name": "tick"}, "spec": {
            "schedule": schedule, "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {}, "spec": template}}})
    }

    #[test]
    fn schedules_and_time_zones() {
        assert!(validate_cron_job(&cron_job("* * * * *")).is_empty());
        assert!(validate_cron_job(&cron_job("@hourly")).is_empty());
        let errs = validate_cron_job(&cron_job("61 * * * *"));
        assert_eq!(
            messages(&errs),
            vec!["Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"]
        );
        let errs = validate_cron_job(&cron_job("CRON_TZ=UTC * * * * *"));
        assert_eq!(
            messages(&errs),
            vec![
                "Invalid value: \"CRON_TZ=UTC * * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            ]
        );
        let mut cj = cron_job("0 3 * * *");
        cj["spec"]["timeZone"] = json!("Europe/Paris");
        assert!(validate_cron_job(&cj).is_empty());
        cj["spec"]["timeZone"] = json!("Europe/Pariss");
        assert_eq!(
            messages(&validate_cron_job(&cj)),
            vec!["Invalid value: \"Europe/Pariss\": unknown time zone Europe/Pariss"]
        );
        cj["spec"]["timeZone"] = json!("Local");
        assert!(messages(&validate_cron_job(&cj))[0].contains("must be an explicit time zone"));
        let mut selected = cron_job("* * * * *");
        selected["spec"]["jobTemplate"]["spec"]["selector"] = json!({"matchLabels": {"a": "b"}});
        let errs = validate_cron_job(&selected);
        assert_eq!(errs[0].field, "spec.jobTemplate.spec.selector");
        let mut long = cron_job("* * * * *");
        long["metadata"]["name"] = json!("a".repeat(53));
        assert_eq!(
            validate_cron_job(&long)[0].detail,
            "must be no more than 52 characters"
        );
    }
}
