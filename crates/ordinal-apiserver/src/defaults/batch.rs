//! Job and CronJob defaults (`pkg/apis/batch/v1/defaults.go`), their pod
//! templates' pod-spec defaults, and the empty status the registry stores
//! on create.

use serde_json::{Map, Value, json};

use super::Context;
use crate::lenient::{default_ptr, default_str, ensure_obj, objs_mut};

/// `SetDefaults_Job` and the template's pod defaults.
pub(crate) fn job(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    let template_labels = root
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(spec) = ensure_obj(root, "spec") {
        job_spec(spec);
    }
    // A job without labels of its own takes its template's.
    if let Some(labels) = template_labels
        && let Some(meta) = ensure_obj(root, "metadata")
        && meta
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
    {
        meta.insert("labels".into(), labels);
    }
    if ctx.creating() {
        root.insert("status".into(), json!({}));
    }
}

fn job_spec(spec: &mut Map<String, Value>) {
    let unset = |spec: &Map<String, Value>, key: &str| spec.get(key).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    let per_index = !unset(spec, "backoffLimitPerIndex");
    default_ptr(
        spec,
        "backoffLimit",
        json!(if per_index { i32::MAX } else { 6 }),
    );
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));
    let has_failure_policy = !unset(spec, "podFailurePolicy");
    if let Some(policy) = spec
        .get_mut("podFailurePolicy")
        .and_then(Value::as_object_mut)
    {
        for rule in objs_mut(policy, "rules") {
            for pattern in objs_mut(rule, "onPodConditions") {
                default_str(pattern, "status", "True");
            }
        }
    }
    default_ptr(
        spec,
        "podReplacementPolicy",
        json!(if has_failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        }),
    );
    template(spec);
}

/// A pod template's defaults: Go always writes its metadata and spec.
fn template(spec: &mut Map<String, Value>) {
    if let Some(template) = ensure_obj(spec, "template") {
        ensure_obj(template, "metadata");
        if let Some(pod_spec) = ensure_obj(template, "spec") {
            super::pod::pod_spec(pod_spec);
        }
    }
}

/// `SetDefaults_CronJob` and the job template's pod defaults.
pub(crate) fn cron_job(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = ensure_obj(root, "spec") {
        default_str(spec, "concurrencyPolicy", "Allow");
        default_ptr(spec, "suspend", json!(false));
        default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
        default_ptr(spec, "failedJobsHistoryLimit", json!(1));
        if let Some(job_template) = ensure_obj(spec, "jobTemplate") {
            ensure_obj(job_template, "metadata");
            if let Some(job_spec) = ensure_obj(job_template, "spec") {
                template(job_spec);
            }
        }
    }
    if ctx.creating() {
        root.insert("status".into(), json!({}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_defaults() {
        let mut pi = json!({"metadata": {"name": "pi"}, "spec": {"template": {
            "metadata": {"labels": {"app": "pi"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
        job(&mut pi, &Context::create(None));
        let spec = &pi["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(pi["metadata"]["labels"]["app"], "pi");
        assert_eq!(pi["status"], json!({}));

        // Parallelism alone leaves completions unset.
        let mut work_queue = json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1,
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}});
        job(&mut work_queue, &Context::create(None));
        let spec = &work_queue["spec"];
        assert!(spec.get("completions").is_none());
        assert_eq!(spec["backoffLimit"], i32::MAX);
        assert_eq!(spec["podReplacementPolicy"], "Failed");
        assert_eq!(
            spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );
    }

    #[test]
    fn cron_job_defaults() {
        let mut cj = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {}}}}}});
        super::cron_job(&mut cj, &Context::create(None));
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        assert_eq!(spec["jobTemplate"]["metadata"], json!({}));
        assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
        assert_eq!(
            spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
            "Always"
        );
    }
}
