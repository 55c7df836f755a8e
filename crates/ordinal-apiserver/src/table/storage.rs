//! PersistentVolumes, PersistentVolumeClaims and StorageClasses.

use jiff::Timestamp;
use serde_json::Value;

use super::{
    AGE, Column, NAME, Printer, age_of, annotation, array_at, at, col, desc,
    has_deletion_timestamp, name_of, str_at, wide,
};

/// The pre-GA storage class annotation, which upstream still reads first.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// upstream's `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| has(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// A resource quantity's text: Go prints a missing quantity as `0`.
///
/// The quantity is shown as stored; upstream shows its canonical form
/// (`1024Mi` as `1Gi`), which is what the server stores once it canonicalizes.
fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".into(),
    }
}

fn phase(object: &Value) -> String {
    if has_deletion_timestamp(object) {
        "Terminating".into()
    } else {
        str_at(object, "status.phase").to_string()
    }
}

fn string_or_unset(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or("<unset>").to_string()
}

pub(super) const PV_COLUMNS: &[Column] = &[
    NAME,
    col("Capacity", desc::PV_CAPACITY),
    col("Access Modes", desc::PV_ACCESS),
    col("Reclaim Policy", desc::PV_RECLAIM),
    col("Status", desc::PV_PHASE),
    col("Claim", desc::PV_CLAIM),
    col("StorageClass", "StorageClass of the pv"),
    col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    col("Reason", desc::PV_REASON),
    AGE,
    wide("VolumeMode", desc::PV_MODE),
];

pub(super) fn pv_cells(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match at(pv, "spec.claimRef").filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", str_at(c, "namespace"), str_at(c, "name")),
        None => String::new(),
    };
    let class = annotation(pv, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| str_at(pv, "spec.storageClassName"));
    vec![
        name_of(pv),
        Value::String(quantity(at(pv, "spec.capacity.storage"))),
        Value::String(access_modes(array_at(pv, "spec.accessModes"))),
        Value::String(str_at(pv, "spec.persistentVolumeReclaimPolicy").to_string()),
        Value::String(phase(pv)),
        Value::String(claim),
        Value::String(class.to_string()),
        Value::String(string_or_unset(at(pv, "spec.volumeAttributesClassName"))),
        Value::String(str_at(pv, "status.reason").to_string()),
        age_of(pv, now),
        Value::String(string_or_unset(at(pv, "spec.volumeMode"))),
    ]
}

/// The table of PersistentVolumes.
pub(crate) static PV: Printer = Printer {
    columns: PV_COLUMNS,
    cells: pv_cells,
};

pub(super) const PVC_COLUMNS: &[Column] = &[
    NAME,
    col("Status", desc::PVC_PHASE),
    col("Volume", desc::PVC_VOLUME),
    col("Capacity", desc::PVC_CAPACITY),
    col("Access Modes", desc::PVC_ACCESS),
    col("StorageClass", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", desc::PVC_MODE),
];

pub(super) fn pvc_cells(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let volume = str_at(pvc, "spec.volumeName");
    // Capacity and modes show only once the claim names its volume.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(pvc, "status.capacity.storage")),
            access_modes(array_at(pvc, "status.accessModes")),
        )
    };
    let class = annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION)
        .unwrap_or_else(|| str_at(pvc, "spec.storageClassName"));
    vec![
        name_of(pvc),
        Value::String(phase(pvc)),
        Value::String(volume.to_string()),
        Value::String(capacity),
        Value::String(modes),
        Value::String(class.to_string()),
        Value::String(string_or_unset(at(pvc, "spec.volumeAttributesClassName"))),
        age_of(pvc, now),
        Value::String(string_or_unset(at(pvc, "spec.volumeMode"))),
    ]
}

/// The table of PersistentVolumeClaims.
pub(crate) static PVC: Printer = Printer {
    columns: PVC_COLUMNS,
    cells: pvc_cells,
};

pub(super) const STORAGE_CLASS_COLUMNS: &[Column] = &[
    NAME,
    col("Provisioner", desc::SC_PROVISIONER),
    col("ReclaimPolicy", desc::SC_RECLAIM),
    col("VolumeBindingMode", desc::SC_BINDING),
    col("AllowVolumeExpansion", desc::SC_EXPANSION),
    AGE,
];

/// A StorageClass is the default when either annotation says `"true"`.
fn is_default_class(class: &Value) -> bool {
    [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|key| annotation(class, key) == Some("true"))
}

pub(super) fn storage_class_cells(class: &Value, now: Timestamp) -> Vec<Value> {
    let mut name = str_at(class, "metadata.name").to_string();
    if is_default_class(class) {
        name.push_str(" (default)");
    }
    let or = |field: &str, default: &str| match at(class, field).and_then(Value::as_str) {
        Some(v) => v.to_string(),
        None => default.to_string(),
    };
    vec![
        Value::String(name),
        Value::String(str_at(class, "provisioner").to_string()),
        Value::String(or("reclaimPolicy", "Delete")),
        Value::String(or("volumeBindingMode", "Immediate")),
        Value::Bool(
            at(class, "allowVolumeExpansion")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
        age_of(class, now),
    ]
}

/// The table of StorageClasses.
pub(crate) static STORAGE_CLASS: Printer = Printer {
    columns: STORAGE_CLASS_COLUMNS,
    cells: storage_class_cells,
};
