//! PersistentVolumeClaim, PersistentVolume and StorageClass validation
//! (`pkg/apis/core/validation` and `pkg/apis/storage/validation`),
//! including what each lets an update change.

use ordinal_core::quantity::{self as grammar, Quantity};
use serde_json::Value;

use super::common::{self, Path, dns_subdomain, immutable};
use super::diff::json_diff;
use crate::lenient::{list, obj, string};
use crate::names::{self, BadValue, FieldError};
use crate::quantity;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const NOT_POSITIVE: &str = "must be greater than zero";
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The sources a PersistentVolume may use, in upstream's checking order.
const PV_SOURCES: &[&str] = &[
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "hostPath",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cinder",
    "cephfs",
    "fc",
    "flexVolume",
    "azureFile",
    "vsphereVolume",
    "photonPersistentDisk",
    "portworxVolume",
    "azureDisk",
    "scaleIO",
    "local",
    "storageos",
    "csi",
    "iscsi",
];

/// Access modes: required, known, and ReadWriteOncePod alone.
fn access_modes(spec: &Value, path: &Path, required_detail: &str, errs: &mut Vec<FieldError>) {
    let modes = list(spec, "accessModes");
    let p = path.child("accessModes");
    if modes.is_empty() {
        errs.push(FieldError::required(&p, required_detail));
    }
    let (mut rwop, mut other) = (false, false);
    for mode in modes {
        match mode.as_str() {
            Some(m) if ACCESS_MODES.contains(&m) => {
                if m == "ReadWriteOncePod" {
                    rwop = true;
                } else {
                    other = true;
                }
            }
            _ => errs.push(FieldError::not_supported(
                &p,
                BadValue::from_json(mode),
                ACCESS_MODES,
            )),
        }
    }
    if rwop && other {
        errs.push(FieldError::forbidden(
            &p,
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn volume_mode(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(mode) = spec.get("volumeMode").filter(|m| !m.is_null())
        && !mode.as_str().is_some_and(|m| VOLUME_MODES.contains(&m))
    {
        errs.push(FieldError::not_supported(
            path.child("volumeMode"),
            BadValue::from_json(mode),
            VOLUME_MODES,
        ));
    }
}

fn class_name(spec: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    let class = string(spec, "storageClassName");
    if !class.is_empty() {
        dns_subdomain(class, &path.child("storageClassName"), errs);
    }
}

/// A positive storage size (`ValidatePositiveQuantityValue`).
fn positive(value: &Value, path: &Path, errs: &mut Vec<FieldError>) -> Option<Quantity> {
    let Some(q) = quantity::from_json(value) else {
        errs.push(FieldError::invalid(
            path,
            quantity::text(value),
            grammar::FORMAT_ERROR,
        ));
        return None;
    };
    if !q.is_positive() {
        errs.push(FieldError::invalid(
            path,
            quantity::text(value),
            NOT_POSITIVE,
        ));
    }
    Some(q)
}

/// `ValidatePersistentVolumeClaim` without the metadata.
pub fn validate_claim(pvc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = pvc.get("spec").unwrap_or(&null);
    let path = Path::new("spec");
    access_modes(spec, &path, "at least 1 access mode is required", &mut errs);
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        common::label_selector(sel, &path.child("selector"), &mut errs);
    }
    let storage_path = path.child("resources").key("storage");
    match spec
        .get("resources")
        .and_then(|r| r.get("requests"))
        .and_then(|r| r.get("storage"))
    {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(v) => {
            positive(v, &storage_path, &mut errs);
        }
    }
    class_name(spec, &path, &mut errs);
    volume_mode(spec, &path, &mut errs);
    errs
}

fn requested_storage(pvc: &Value) -> Option<Quantity> {
    pvc.pointer("/spec/resources/requests/storage")
        .and_then(quantity::from_json)
}

/// `ValidatePersistentVolumeClaimUpdate` without the metadata.
pub fn validate_claim_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_claim(new);
    let null = Value::Null;
    let mut new_spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let annotated = |v: &Value| {
        v.pointer("/metadata/annotations")
            .and_then(|a| a.get(BETA_CLASS_ANNOTATION))
            .is_some()
    };
    // A claim without a class may be given one later (the retroactive
    // default StorageClass).
    if old_spec.get("storageClassName").is_none_or(Value::is_null)
        && !annotated(old)
        && !annotated(new)
        && let Some(m) = new_spec.as_object_mut()
    {
        m.remove("storageClassName");
    }
    let bound = new.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    if bound
        && let Some(requests) = new_spec
            .pointer_mut("/resources/requests")
            .and_then(Value::as_object_mut)
    {
        match old_spec.pointer("/resources/requests/storage") {
            Some(v) => {
                requests.insert("storage".into(), v.clone());
            }
            None => {
                requests.remove("storage");
            }
        }
    }
    if bound && let Some(m) = new_spec.as_object_mut() {
        match old_spec.get("volumeAttributesClassName") {
            Some(v) => m.insert("volumeAttributesClassName".into(), v.clone()),
            None => m.remove("volumeAttributesClassName"),
        };
    }
    let mut old_compared = old_spec.clone();
    if let (Some(o), true) = (
        old_compared.as_object_mut(),
        old_spec.get("storageClassName").is_none_or(Value::is_null),
    ) {
        o.remove("storageClassName");
    }
    // The binder sets volumeName once.
    if string(&old_spec, "volumeName").is_empty()
        && let Some(o) = old_compared.as_object_mut()
    {
        match new_spec.get("volumeName") {
            Some(v) => o.insert("volumeName".into(), v.clone()),
            None => o.remove("volumeName"),
        };
    }
    if !common::semantic_eq(&new_spec, &old_compared) {
        errs.push(FieldError::forbidden(
            "spec",
            format!(
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                json_diff(&old_compared, &new_spec)
            ),
        ));
    }
    if let (Some(new_size), Some(old_size)) = (requested_storage(new), requested_storage(old))
        && new_size < old_size
    {
        let capacity = old
            .pointer("/status/capacity/storage")
            .and_then(quantity::from_json)
            .unwrap_or_default();
        if new_size <= capacity {
            errs.push(FieldError::forbidden(
                "spec.resources.requests.storage",
                "field can not be less than status.capacity",
            ));
        }
    }
    errs.extend(immutable(
        new.get("spec").unwrap_or(&null).get("volumeMode"),
        old.get("spec").unwrap_or(&null).get("volumeMode"),
        &Path::new("volumeMode"),
    ));
    errs
}

/// The status checks of a claim: sizes that parse and are not negative.
pub fn validate_claim_status(new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let path = Path::new("status");
    for key in ["capacity", "allocatedResources"] {
        if let Some(m) = new.get("status").and_then(|s| obj(s, key)) {
            for (name, value) in m {
                super::pod::resource_quantity(value, &path.child(key).key(name), &mut errs);
            }
        }
    }
    errs
}

/// `ValidatePersistentVolume` without the metadata.
pub fn validate_volume(pv: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let null = Value::Null;
    let spec = pv.get("spec").unwrap_or(&null);
    let path = Path::new("spec");
    access_modes(spec, &path, "", &mut errs);
    let capacity_path = path.child("capacity");
    match obj(spec, "capacity") {
        None => errs.push(FieldError::required(&capacity_path, "")),
        Some(c) if c.is_empty() => errs.push(FieldError::required(&capacity_path, "")),
        Some(c) => {
            if !c.contains_key("storage") || c.len() > 1 {
                errs.push(FieldError::not_supported(
                    &capacity_path,
                    BadValue::Raw(Value::Object(c.clone()).to_string()),
                    &["storage"],
                ));
            }
            for (name, value) in c {
                positive(value, &capacity_path.key(name), &mut errs);
            }
        }
    }
    class_name(spec, &path, &mut errs);
    if let Some(policy) = spec
        .get("persistentVolumeReclaimPolicy")
        .filter(|p| !p.is_null() && p.as_str() != Some(""))
        && !policy
            .as_str()
            .is_some_and(|p| ["Delete", "Recycle", "Retain"].contains(&p))
    {
        errs.push(FieldError::not_supported(
            path.child("persistentVolumeReclaimPolicy"),
            BadValue::from_json(policy),
            &["Delete", "Recycle", "Retain"],
        ));
    }
    let mut count = 0;
    for source in PV_SOURCES {
        let Some(s) = spec.get(*source).filter(|s| !s.is_null()) else {
            continue;
        };
        let p = path.child(source);
        if count > 0 {
            errs.push(FieldError::forbidden(
                p,
                "may not specify more than 1 volume type",
            ));
            continue;
        }
        count += 1;
        match *source {
            "hostPath" => {
                let host_path = string(s, "path");
                if host_path.is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                } else if host_path.split('/').any(|c| c == "..") {
                    errs.push(FieldError::invalid(
                        p.child("path"),
                        host_path,
                        "must not contain '..'",
                    ));
                }
            }
            "local" => {
                let local_path = string(s, "path");
                if local_path.is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                } else if local_path.split('/').any(|c| c == "..") {
                    // validatePathNoBacksteps
                    errs.push(FieldError::invalid(
                        p.child("path"),
                        local_path,
                        "must not contain '..'",
                    ));
                }
                if spec.get("nodeAffinity").is_none_or(Value::is_null) {
                    errs.push(FieldError::required(
                        path.child("nodeAffinity"),
                        "Local volume requires node affinity",
                    ));
                }
            }
            "nfs" => {
                if string(s, "server").is_empty() {
                    errs.push(FieldError::required(p.child("server"), ""));
                }
                let nfs_path = string(s, "path");
                if nfs_path.is_empty() {
                    errs.push(FieldError::required(p.child("path"), ""));
                } else if !nfs_path.starts_with('/') {
                    errs.push(FieldError::invalid(
                        p.child("path"),
                        nfs_path,
                        "must be an absolute path",
                    ));
                }
            }
            "csi" => {
                for key in ["driver", "volumeHandle"] {
                    if string(s, key).is_empty() {
                        errs.push(FieldError::required(p.child(key), ""));
                    }
                }
            }
            _ => {}
        }
    }
    if count == 0 {
        errs.push(FieldError::required(&path, "must specify a volume type"));
    }
    volume_mode(spec, &path, &mut errs);
    errs
}

/// `ValidatePersistentVolumeUpdate` without the metadata.
pub fn validate_volume_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_volume(new);
    let null = Value::Null;
    let (new_spec, old_spec) = (
        new.get("spec").unwrap_or(&null),
        old.get("spec").unwrap_or(&null),
    );
    let sources = |spec: &Value| -> Value {
        Value::Object(
            PV_SOURCES
                .iter()
                .filter_map(|s| spec.get(*s).map(|v| (s.to_string(), v.clone())))
                .collect(),
        )
    };
    let (n, o) = (sources(new_spec), sources(old_spec));
    if !common::semantic_eq(&n, &o) {
        errs.push(FieldError::forbidden(
            "spec.persistentvolumesource",
            format!(
                "spec.persistentvolumesource is immutable after creation\n{}",
                json_diff(&o, &n)
            ),
        ));
    }
    errs.extend(immutable(
        new_spec.get("volumeMode"),
        old_spec.get("volumeMode"),
        &Path::new("volumeMode"),
    ));
    if old_spec.get("nodeAffinity").is_some_and(|a| !a.is_null()) {
        errs.extend(immutable(
            new_spec.get("nodeAffinity"),
            old_spec.get("nodeAffinity"),
            &Path::new("nodeAffinity"),
        ));
    }
    errs
}

/// Upstream's limits on a class's parameters.
const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

/// `ValidateStorageClass` without the metadata.
pub fn validate_storage_class(sc: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let provisioner = string(sc, "provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required("provisioner", ""));
    } else {
        for m in names::is_qualified_name(&provisioner.to_lowercase()) {
            errs.push(FieldError::invalid("provisioner", provisioner, m));
        }
    }
    if let Some(params) = obj(sc, "parameters") {
        if params.len() > MAX_PARAMETERS {
            errs.push(FieldError::too_long("parameters", MAX_PARAMETERS));
        } else {
            let mut size = 0usize;
            for (k, v) in params {
                if k.is_empty() {
                    errs.push(FieldError::invalid(
                        "parameters",
                        "",
                        "field can not be empty.",
                    ));
                }
                size += k.len() + v.as_str().map_or(0, str::len);
            }
            if size > MAX_PARAMETERS_SIZE {
                errs.push(FieldError::too_long("parameters", MAX_PARAMETERS_SIZE));
            }
        }
    }
    if let Some(policy) = sc
        .get("reclaimPolicy")
        .filter(|p| !p.is_null() && p.as_str() != Some(""))
        && !policy
            .as_str()
            .is_some_and(|p| p == "Delete" || p == "Retain")
    {
        errs.push(FieldError::not_supported(
            "reclaimPolicy",
            BadValue::from_json(policy),
            &["Delete", "Retain"],
        ));
    }
    match sc.get("volumeBindingMode") {
        None | Some(Value::Null) => errs.push(FieldError::required("volumeBindingMode", "")),
        Some(Value::String(m)) if m == "Immediate" || m == "WaitForFirstConsumer" => {}
        Some(other) => errs.push(FieldError::not_supported(
            "volumeBindingMode",
            BadValue::from_json(other),
            &["Immediate", "WaitForFirstConsumer"],
        )),
    }
    errs
}

/// `ValidateStorageClassUpdate` without the metadata.
pub fn validate_storage_class_update(old: &Value, new: &Value) -> Vec<FieldError> {
    let mut errs = validate_storage_class(new);
    let empty = serde_json::Map::new();
    let params = |v: &Value| obj(v, "parameters").unwrap_or(&empty).clone();
    if params(old) != params(new) {
        errs.push(FieldError::forbidden(
            "parameters",
            "updates to parameters are forbidden.",
        ));
    }
    if string(old, "provisioner") != string(new, "provisioner") {
        errs.push(FieldError::forbidden(
            "provisioner",
            "updates to provisioner are forbidden.",
        ));
    }
    if string(old, "reclaimPolicy") != string(new, "reclaimPolicy") {
        errs.push(FieldError::forbidden(
            "reclaimPolicy",
            "updates to reclaimPolicy are forbidden.",
        ));
    }
    errs.extend(immutable(
        new.get("volumeBindingMode"),
        old.get("volumeBindingMode"),
        &Path::new("volumeBindingMode"),
    ));
    errs
}
