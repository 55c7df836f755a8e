//! PersistentVolumeClaim, PersistentVolume and StorageClass defaults, the
//! DefaultStorageClass admission plugin, and the initial status the volume
//! registries store.

use serde_json::{Map, Value, json};

use super::Context;
use crate::lenient::{absent, default_ptr, default_str, ensure_obj, obj_mut};

/// The annotation that named a claim's class before `storageClassName`.
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// `SetDefaults_PersistentVolumeClaimSpec`, plus the always-written
/// `resources` struct.
pub(super) fn claim_spec(spec: &mut Map<String, Value>) {
    default_ptr(spec, "volumeMode", json!("Filesystem"));
    ensure_obj(spec, "resources");
}

pub(crate) fn claim(object: &mut Value, ctx: &Context) {
    let has_beta_annotation = object
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
        .is_some();
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = ensure_obj(root, "spec") {
        claim_spec(spec);
        if ctx.creating()
            && !has_beta_annotation
            && absent(spec, "storageClassName")
            && let Some(class) = &ctx.default_storage_class
        {
            spec.insert("storageClassName".into(), json!(class));
        }
    }
    if ctx.creating() {
        root.insert("status".into(), json!({}));
    }
    if let Some(status) = ensure_obj(root, "status") {
        default_str(status, "phase", "Pending");
    }
}

pub(crate) fn volume(object: &mut Value, ctx: &Context) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = ensure_obj(root, "spec") {
        default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_ptr(spec, "volumeMode", json!("Filesystem"));
        if let Some(host_path) = obj_mut(spec, "hostPath") {
            default_ptr(host_path, "type", json!(""));
        }
    }
    if ctx.creating() {
        // The registry starts every volume Pending and records when.
        let since = root
            .get("status")
            .and_then(|s| s.get("lastPhaseTransitionTime"))
            .filter(|t| t.is_string())
            .cloned()
            .unwrap_or_else(|| json!(crate::objects::now_rfc3339()));
        root.insert(
            "status".into(),
            json!({"phase": "Pending", "lastPhaseTransitionTime": since}),
        );
    }
    if let Some(status) = ensure_obj(root, "status") {
        default_str(status, "phase", "Pending");
    }
}

pub(crate) fn storage_class(object: &mut Value) {
    let Some(root) = object.as_object_mut() else {
        return;
    };
    default_ptr(root, "reclaimPolicy", json!("Delete"));
    default_ptr(root, "volumeBindingMode", json!("Immediate"));
}
