//! ReplicaSets (`pkg/registry/apps/replicaset`): apps/v1 defaults,
//! upstream's validation with the selector immutable on update, the table
//! `kubectl get rs` prints. Their `status` and `scale` subresources are the
//! generic ones.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::apps;

#[derive(Debug)]
pub struct ReplicaSetStrategy;

impl Strategy for ReplicaSetStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::apps::replica_set(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        apps::validate_replica_set(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_replica_set_update(old, new)
    }

    fn validate_status_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_replica_set_status_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::apps::REPLICA_SET
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn replica_set() -> Value {
        let mut rs = json!({
            "metadata": {"name": "web-5d4f", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}},
                "template": {
                    "metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
                }
            }
        });
        ReplicaSetStrategy.default(&mut rs, &Context::create(None));
        rs
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect()
    }

    #[test]
    fn defaults_and_validation_are_upstreams() {
        let rs = replica_set();
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(rs["status"], json!({"replicas": 0}));
        assert_eq!(
            rs["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert!(ReplicaSetStrategy.validate_create(&rs).is_empty());

        let mut bad = rs.clone();
        bad["spec"]["replicas"] = json!(-2);
        bad["spec"]["minReadySeconds"] = json!(-1);
        bad["spec"]["selector"] = json!({"matchExpressions": [{"key": "app", "operator": "Near"}]});
        assert_eq!(
            messages(&ReplicaSetStrategy.validate_create(&bad)),
            [
                "spec.replicas: Invalid value: -2: must be greater than or equal to 0",
                "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Near\": not a valid selector operator",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"Near\", Values:[]string(nil)}}}: invalid label selector",
            ]
        );
    }

    #[test]
    fn updates_keep_the_selector_and_status_stays_consistent() {
        let old = replica_set();
        let mut new = old.clone();
        new["spec"]["selector"]["matchLabels"]["pod-template-hash"] = json!("other");
        let errs = messages(&ReplicaSetStrategy.validate_update(&old, &new));
        assert!(
            errs.iter().any(
                |e| e.starts_with("spec.selector: Invalid value: v1.LabelSelector{")
                    && e.ends_with(": field is immutable")
            ),
            "{errs:?}"
        );
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(3);
        assert!(ReplicaSetStrategy.validate_update(&old, &scaled).is_empty());

        let mut status = old.clone();
        status["status"] = json!({"replicas": 2, "fullyLabeledReplicas": 3, "readyReplicas": 1,
                                  "availableReplicas": 2, "observedGeneration": -1});
        assert_eq!(
            messages(&ReplicaSetStrategy.validate_status_update(&old, &status)),
            [
                "status.observedGeneration: Invalid value: -1: must be greater than or equal to 0",
                "status.fullyLabeledReplicas: Invalid value: 3: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 2: cannot be greater than readyReplicas",
            ]
        );
    }
}
