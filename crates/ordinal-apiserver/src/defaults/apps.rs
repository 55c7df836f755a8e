//! apps/v1 defaults (`pkg/apis/apps/v1/defaults.go`): StatefulSets (with
//! their claim templates' claim defaults), Deployments and ReplicaSets,
//! each with its template's pod-spec defaults, and the empty status each
//! registry stores on create.

use serde_json::{Map, Value, json};

use super::Context;
use crate::lenient::{default_ptr, default_str, empty_str, ensure_obj, objs_mut};

pub(crate) fn stateful_set(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = ensure_obj(root, "spec") {
        spec_defaults(spec);
    }
    if ctx.creating() {
        // The registry clears status on create; Go writes the two counts
        // that have no `omitempty`.
        root.insert(
            "status".into(),
            json!({"replicas": 0, "availableReplicas": 0}),
        );
    }
}

fn spec_defaults(spec: &mut Map<String, Value>) {
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = ensure_obj(spec, "updateStrategy") {
        if empty_str(strategy, "type") {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_ptr(strategy, "rollingUpdate", json!({}));
        }
        if strategy.get("type") == Some(&json!("RollingUpdate"))
            && let Some(rolling) = strategy
                .get_mut("rollingUpdate")
                .and_then(Value::as_object_mut)
        {
            default_ptr(rolling, "partition", json!(0));
        }
    }
    if let Some(policy) = ensure_obj(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_ptr(spec, "replicas", json!(1));
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    if let Some(template) = ensure_obj(spec, "template") {
        // ObjectMeta and PodSpec are structs: Go always writes both.
        ensure_obj(template, "metadata");
        if let Some(pod_spec) = ensure_obj(template, "spec") {
            super::pod::pod_spec(pod_spec);
        }
    }
    for claim in objs_mut(spec, "volumeClaimTemplates") {
        // The v1 conversion writes each template's type meta.
        default_str(claim, "apiVersion", "v1");
        default_str(claim, "kind", "PersistentVolumeClaim");
        ensure_obj(claim, "metadata");
        if let Some(claim_spec) = ensure_obj(claim, "spec") {
            super::storage::claim_spec(claim_spec);
        }
        if let Some(status) = ensure_obj(claim, "status") {
            default_str(status, "phase", "Pending");
        }
    }
}

/// `SetDefaults_Deployment` and its template's pod defaults.
pub(crate) fn deployment(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = ensure_obj(root, "spec") {
        default_ptr(spec, "replicas", json!(1));
        if let Some(strategy) = ensure_obj(spec, "strategy") {
            default_str(strategy, "type", "RollingUpdate");
            if strategy.get("type") == Some(&json!("RollingUpdate"))
                && let Some(rolling) = ensure_obj(strategy, "rollingUpdate")
            {
                default_ptr(rolling, "maxUnavailable", json!("25%"));
                default_ptr(rolling, "maxSurge", json!("25%"));
            }
        }
        default_ptr(spec, "revisionHistoryLimit", json!(10));
        default_ptr(spec, "progressDeadlineSeconds", json!(600));
        template_defaults(spec);
    }
    if ctx.creating() {
        // The registry clears status on create; every count of a
        // DeploymentStatus is `omitempty`.
        root.insert("status".into(), json!({}));
    }
}

/// `SetDefaults_ReplicaSet` and its template's pod defaults.
pub(crate) fn replica_set(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = ensure_obj(root, "spec") {
        default_ptr(spec, "replicas", json!(1));
        template_defaults(spec);
    }
    if ctx.creating() {
        // The registry clears status on create; `replicas` is the one
        // count without `omitempty`.
        root.insert("status".into(), json!({"replicas": 0}));
    }
}

/// A controller's pod template: Go always writes its metadata and spec,
/// and the pod spec gets the pod defaults.
fn template_defaults(spec: &mut Map<String, Value>) {
    if let Some(template) = ensure_obj(spec, "template") {
        ensure_obj(template, "metadata");
        if let Some(pod_spec) = ensure_obj(template, "spec") {
            super::pod::pod_spec(pod_spec);
        }
    }
}
