//! Deployments (`pkg/registry/apps/deployment`): apps/v1 defaults, upstream's
//! validation with the selector immutable on update, a generation that
//! moves with the spec and the annotations, the table `kubectl get deploy`
//! prints. Their `status` and `scale` subresources are the generic ones.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::apps;

#[derive(Debug)]
pub struct DeploymentStrategy;

impl Strategy for DeploymentStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::apps::deployment(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        apps::validate_deployment(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_deployment_update(old, new)
    }

    fn validate_status_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        apps::validate_deployment_status_update(old, new)
    }

    /// Upstream's `PrepareForUpdate`: annotations are copied to the
    /// ReplicaSets, so their change is a change for the controller.
    fn generation_follows_annotations(&self) -> bool {
        true
    }

    fn printer(&self) -> &'static Printer {
        &table::apps::DEPLOYMENT
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::objects;
    use crate::resources::lookup;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}
                }
            }
        })
    }

    #[test]
    fn defaults_are_upstreams() {
        let mut d = deployment();
        DeploymentStrategy.default(&mut d, &Context::create(None));
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(d["status"], json!({}));
        assert!(DeploymentStrategy.validate_create(&d).is_empty());

        // Recreate gets no rolling update; set values are kept.
        let mut r = deployment();
        r["spec"]["strategy"] = json!({"type": "Recreate"});
        r["spec"]["replicas"] = json!(0);
        DeploymentStrategy.default(&mut r, &Context::create(None));
        assert_eq!(r["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(r["spec"]["replicas"], 0);
        let mut partial = deployment();
        partial["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 2}});
        DeploymentStrategy.default(&mut partial, &Context::create(None));
        assert_eq!(
            partial["spec"]["strategy"]["rollingUpdate"],
            json!({"maxSurge": 2, "maxUnavailable": "25%"})
        );
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.body()))
            .collect()
    }

    fn invalid(edit: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut d = deployment();
        DeploymentStrategy.default(&mut d, &Context::create(None));
        edit(&mut d);
        messages(&DeploymentStrategy.validate_create(&d))
    }

    #[test]
    fn validation_messages_are_upstreams() {
        assert_eq!(
            invalid(|d| d["spec"]["strategy"]["rollingUpdate"] =
                json!({"maxSurge": 0, "maxUnavailable": "0%"})),
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = json!("150%")),
            [
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%"
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = json!(-1)),
            [
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        let bad_percent =
            invalid(|d| d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = json!("1"));
        assert_eq!(bad_percent.len(), 1);
        assert!(
            bad_percent[0].starts_with("spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"1\"}: a valid percent string must be"),
            "{bad_percent:?}"
        );
        assert_eq!(
            invalid(|d| d["spec"]["strategy"]["type"] = json!("Recreate")),
            [
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["strategy"] = json!({"type": "BlueGreen"})),
            [
                "spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"BlueGreen\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\""
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["minReadySeconds"] = json!(600)),
            [
                "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["selector"] = json!({"matchLabels": {"app": "db"}})),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            invalid(|d| {
                d["spec"].as_object_mut().unwrap().remove("selector");
            }),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["selector"] = json!({})),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never")),
            [
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
            ]
        );
        assert_eq!(
            invalid(|d| d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(5)),
            [
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported"
            ]
        );
        // The template is validated as a pod template.
        assert_eq!(
            invalid(|d| d["spec"]["template"]["spec"]["containers"] = json!([])),
            ["spec.template.spec.containers: Required value"]
        );
        assert_eq!(
            invalid(|d| d["spec"]["replicas"] = json!(-1)),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn the_selector_is_immutable_and_status_is_checked() {
        let mut old = deployment();
        DeploymentStrategy.default(&mut old, &Context::create(None));
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
        assert_eq!(
            messages(&DeploymentStrategy.validate_update(&old, &new)),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(5);
        assert!(DeploymentStrategy.validate_update(&old, &scaled).is_empty());

        let mut status = old.clone();
        status["status"] = json!({"replicas": 1, "readyReplicas": 2, "availableReplicas": 2,
                                  "updatedReplicas": -1, "collisionCount": 1});
        assert_eq!(
            messages(&DeploymentStrategy.validate_status_update(&old, &status)),
            [
                "status.updatedReplicas: Invalid value: -1: must be greater than or equal to 0",
                "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
                "status.availableReplicas: Invalid value: 2: cannot be greater than status.replicas",
            ]
        );
        let mut decremented = status.clone();
        decremented["status"] = json!({"collisionCount": 0});
        assert_eq!(
            messages(&DeploymentStrategy.validate_status_update(&status, &decremented)),
            ["status.collisionCount: Invalid value: 0: cannot be decremented"]
        );
    }

    /// An int-or-percent as a client may write it.
    fn int_or_percent() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        prop_oneof![
            (0i64..4).prop_map(Value::from),
            (0i64..150).prop_map(|p| Value::from(format!("{p}%"))),
        ]
    }

    proptest::proptest! {
        /// Defaulting twice is defaulting once, and a rolling update is
        /// refused for its zeros exactly when neither surge nor
        /// unavailability allows a step.
        #[test]
        fn defaulting_is_idempotent_and_a_rollout_must_move(
            surge in int_or_percent(),
            unavailable in int_or_percent(),
            replicas in 0i64..5,
        ) {
            let mut d = deployment();
            d["spec"]["replicas"] = json!(replicas);
            d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}});
            DeploymentStrategy.default(&mut d, &Context::create(None));
            let once = d.clone();
            DeploymentStrategy.default(&mut d, &Context::update(&once));
            proptest::prop_assert_eq!(&d, &once);
            let zero = |v: &Value| match v {
                Value::String(s) => s == "0%",
                other => other.as_i64() == Some(0),
            };
            let refused = messages(&DeploymentStrategy.validate_create(&d))
                .iter()
                .any(|m| m.ends_with("may not be 0 when `maxSurge` is 0"));
            proptest::prop_assert_eq!(refused, zero(&surge) && zero(&unavailable));
        }
    }

    #[test]
    fn annotations_move_the_generation() {
        let deployments = lookup("apps", "v1", "deployments").unwrap();
        let old = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 1}});
        let mut annotated = old.clone();
        annotated["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/restartedAt": "now"});
        objects::bump_generation(deployments, &old, &mut annotated).unwrap();
        assert_eq!(annotated["metadata"]["generation"], 3);
        let mut labelled = old.clone();
        labelled["metadata"]["labels"] = json!({"a": "b"});
        objects::bump_generation(deployments, &old, &mut labelled).unwrap();
        assert_eq!(labelled["metadata"]["generation"], 2);
        // ReplicaSets follow their spec only.
        let replica_sets = lookup("apps", "v1", "replicasets").unwrap();
        let mut rs = old.clone();
        rs["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "2"});
        objects::bump_generation(replica_sets, &old, &mut rs).unwrap();
        assert_eq!(rs["metadata"]["generation"], 2);
    }
}
