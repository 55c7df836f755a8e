//! Pods: upstream's pod strategy.

use serde_json::{Value, json};

use crate::admission::Plugin;
use crate::defaults::{self, Context};
use crate::deletion::Deletion;
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::selector::{Fields, bool_at, str_at};
use crate::table::{self, Printer};
use crate::validation::pod;

#[derive(Debug)]
pub struct PodStrategy;

impl Strategy for PodStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::pod::pod(object, ctx);
    }

    /// A new pod is Pending until a node reports on it.
    fn prepare_for_create(&self, object: &mut Value) {
        object["status"] = json!({"phase": "Pending"});
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        pod::validate_pod(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        pod::validate_pod_update(old, new)
    }

    fn validate_status_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        pod::validate_pod_status_update(old, new)
    }

    fn admission(&self) -> &'static [Plugin] {
        &[
            Plugin::ServiceAccount,
            Plugin::RuntimeClass,
            Plugin::Priority,
        ]
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(&[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ])
    }

    /// `spec.host` is an old name of `spec.nodeName`.
    fn field_label_alias(&self, label: &str) -> Option<&'static str> {
        (label == "spec.host").then_some("spec.nodeName")
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        let s = |path: &[&str]| str_at(object, path).to_string();
        out.push(("spec.nodeName", s(&["spec", "nodeName"])));
        out.push(("spec.restartPolicy", s(&["spec", "restartPolicy"])));
        out.push(("spec.schedulerName", s(&["spec", "schedulerName"])));
        out.push((
            "spec.serviceAccountName",
            s(&["spec", "serviceAccountName"]),
        ));
        out.push((
            "spec.hostNetwork",
            bool_at(object, &["spec", "hostNetwork"]).to_string(),
        ));
        out.push(("status.phase", s(&["status", "phase"])));
        let pod_ip = object
            .pointer("/status/podIPs/0/ip")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| str_at(object, &["status", "podIP"]));
        out.push(("status.podIP", pod_ip.to_string()));
        out.push((
            "status.nominatedNodeName",
            s(&["status", "nominatedNodeName"]),
        ));
    }

    fn printer(&self) -> &'static Printer {
        &table::pods::POD
    }

    fn deletion(&self) -> Deletion {
        Deletion::Graceful
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
