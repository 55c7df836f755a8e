//! Jobs: the generated selector and pod labels on create, upstream's
//! defaults and validation, the table `kubectl get jobs` prints.

use serde_json::{Map, Value, json};

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::batch::{
    self, CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};

#[derive(Debug)]
pub struct JobStrategy;

impl Strategy for JobStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::batch::job(object, ctx);
    }

    /// Upstream's `PrepareForCreate`: unless the selector is manual, the
    /// pods are labelled with the job's name and uid and the selector
    /// picks them by uid.
    fn prepare_for_create(&self, object: &mut Value) {
        let Some(root) = object.as_object_mut() else {
            return;
        };
        let meta = root.get("metadata").cloned().unwrap_or(Value::Null);
        let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
        let uid = meta.get("uid").and_then(Value::as_str).unwrap_or("");
        let Some(spec) = crate::lenient::ensure_obj(root, "spec") else {
            return;
        };
        if spec.get("manualSelector").is_none_or(Value::is_null) {
            spec.insert("manualSelector".into(), json!(false));
        }
        if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
            return;
        }
        generate_selector(spec, name, uid);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        batch::validate_job(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        batch::validate_job_update(old, new)
    }

    fn validate_status_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        batch::validate_job_status_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::batch::JOB
    }
}

/// `generateSelector`: labels the user already set are left for
/// validation to judge.
fn generate_selector(spec: &mut Map<String, Value>, name: &str, uid: &str) {
    if let Some(template) = crate::lenient::ensure_obj(spec, "template")
        && let Some(meta) = crate::lenient::ensure_obj(template, "metadata")
        && let Some(labels) = crate::lenient::ensure_obj(meta, "labels")
    {
        for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
    }
    if let Some(selector) = crate::lenient::ensure_obj(spec, "selector")
        && let Some(match_labels) = crate::lenient::ensure_obj(selector, "matchLabels")
    {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| json!(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_and_labels_are_generated() {
        let mut job = json!({"metadata": {"name": "pi", "uid": "u1"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}}}}});
        JobStrategy.prepare_for_create(&mut job);
        assert_eq!(job["spec"]["manualSelector"], false);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {CONTROLLER_UID_LABEL: "u1"}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"],
            json!({"app": "pi", CONTROLLER_UID_LABEL: "u1", JOB_NAME_LABEL: "pi",
                   "controller-uid": "u1", "job-name": "pi"})
        );
        let mut manual = json!({"metadata": {"name": "m", "uid": "u2"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}}}});
        JobStrategy.prepare_for_create(&mut manual);
        assert_eq!(
            manual["spec"]["selector"],
            json!({"matchLabels": {"a": "b"}})
        );
    }
}
