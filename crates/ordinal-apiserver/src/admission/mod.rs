//! Defaulting and validation of a write, as one step for the REST
//! handlers: what upstream's decoding, mutating admission and strategy
//! validation do between reading a body and storing it.
//!
//! Two of upstream's storage admission plugins live here:
//! StorageObjectInUseProtection (a new claim or volume gets its protection
//! finalizer, which the protection controllers remove once nothing uses
//! it) and PersistentVolumeClaimResize (a claim may grow only when bound
//! and its class allows expansion; 403 otherwise). The RuntimeClass plugin
//! has its own module, [`runtime_class`].

use ordinal_store::Store;
use serde_json::Value;

use crate::defaults::{self, Context};
use crate::objects::Scope;
use crate::resources::{self, Resource};
use crate::status::{ApiError, ApiResult, Cause};
use crate::validation;

pub mod priority;
pub mod runtime_class;
pub mod service_account;

/// The admission plugins that act on some resources only; each resource's
/// strategy lists the ones that act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    /// RuntimeClass: a new pod's class must exist; its overhead and
    /// scheduling are set on the pod, then checked.
    RuntimeClass,
    /// DefaultStorageClass: a new claim without a class gets the default.
    DefaultStorageClass,
    /// StorageObjectInUseProtection: a new object gets this finalizer.
    StorageProtection(&'static str),
    /// PersistentVolumeClaimResize.
    ClaimResize,
    /// ServiceAccount: a new pod gets its token volume.
    ServiceAccount,
    /// Priority: a new pod's priority from its PriorityClass; one global
    /// default class at most.
    Priority,
}

fn admits(resource: &Resource, plugin: Plugin) -> bool {
    resource.strategy.admission().contains(&plugin)
}

/// Defaults a new object and validates it: 422 Invalid with every field
/// cause when it is not valid.
pub fn create(store: &Store, resource: &Resource, name: &str, object: &mut Value) -> ApiResult<()> {
    let forbid = |e: String| ApiError::forbidden(resource, name, &e);
    if admits(resource, Plugin::Priority) && resource.kind == "Pod" {
        priority::admit_pod(store, object).map_err(forbid)?;
    }
    let ctx = Context::create(default_storage_class(store, resource));
    defaults::apply(resource, object, &ctx);
    protect_storage_object(resource, object);
    // Mutating admission, then validation, then validating admission, as
    // upstream orders them.
    if admits(resource, Plugin::ServiceAccount) {
        service_account::admit(store, object);
    }
    let class = pod_runtime_class(store, resource, name, object)?;
    if let Some(class) = &class {
        runtime_class::admit(object, class.as_ref())
            .map_err(|e| ApiError::forbidden(resource, name, &e.to_string()))?;
    }
    reject(
        resource,
        name,
        validation::validate_create(resource, object),
    )?;
    if let Some(class) = &class {
        runtime_class::check_overhead(object, class.as_ref())
            .map_err(|e| ApiError::forbidden(resource, name, &e.to_string()))?;
    }
    if admits(resource, Plugin::Priority) && resource.kind == "PriorityClass" {
        priority::check_class(store, object).map_err(forbid)?;
    }
    Ok(())
}

/// For a new pod, the RuntimeClass it names (`Some(None)` when it names
/// none); `None` for anything else. A class that does not exist refuses
/// the pod.
fn pod_runtime_class(
    store: &Store,
    resource: &Resource,
    name: &str,
    pod: &Value,
) -> ApiResult<Option<Option<Value>>> {
    if !admits(resource, Plugin::RuntimeClass) {
        return Ok(None);
    }
    let Some(class_name) = runtime_class::class_name(pod) else {
        return Ok(Some(None));
    };
    let classes = &resources::RUNTIME_CLASSES;
    let Some(stored) = store.get(&classes.key(None, class_name)) else {
        let e = runtime_class::Rejection::NotFound(class_name.to_string());
        return Err(ApiError::forbidden(resource, name, &e.to_string()));
    };
    let class = serde_json::from_slice(&stored.bytes)
        .map_err(|e| ApiError::internal(format!("decoding RuntimeClass {class_name}: {e}")))?;
    Ok(Some(Some(class)))
}

/// Defaults a replacement of `old` (unless only its status is written)
/// and validates the change.
pub fn update(
    store: &Store,
    resource: &Resource,
    name: &str,
    old: &Value,
    new: &mut Value,
    scope: Scope,
) -> ApiResult<()> {
    if scope == Scope::Main {
        defaults::apply(resource, new, &Context::update(old));
    }
    let status_only = scope == Scope::Status;
    reject(
        resource,
        name,
        validation::validate_update(resource, old, new, status_only),
    )?;
    if scope == Scope::Main {
        check_claim_resize(store, resource, name, old, new)?;
        if admits(resource, Plugin::Priority) && resource.kind == "PriorityClass" {
            priority::check_class(store, new)
                .map_err(|e| ApiError::forbidden(resource, name, &e))?;
        }
    }
    Ok(())
}

/// The finalizer StorageObjectInUseProtection gives a new object.
fn protection_finalizer(resource: &Resource) -> Option<&'static str> {
    resource
        .strategy
        .admission()
        .iter()
        .find_map(|plugin| match plugin {
            Plugin::StorageProtection(finalizer) => Some(*finalizer),
            _ => None,
        })
}

/// StorageObjectInUseProtection: adds the protection finalizer to a new
/// claim or volume, once.
fn protect_storage_object(resource: &Resource, object: &mut Value) {
    let Some(finalizer) = protection_finalizer(resource) else {
        return;
    };
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = meta
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if list.is_null() {
        *list = Value::Array(Vec::new());
    }
    if let Some(list) = list.as_array_mut()
        && !list.iter().any(|f| f.as_str() == Some(finalizer))
    {
        list.push(Value::from(finalizer));
    }
}

/// A claim's class: the beta annotation first, then `storageClassName`.
fn claim_class(claim: &Value) -> &str {
    claim
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .or_else(|| claim.pointer("/spec/storageClassName"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// PersistentVolumeClaimResize: a larger storage request needs a bound
/// claim whose class (unchanged) allows volume expansion.
fn check_claim_resize(
    store: &Store,
    resource: &Resource,
    name: &str,
    old: &Value,
    new: &Value,
) -> ApiResult<()> {
    if !admits(resource, Plugin::ClaimResize) {
        return Ok(());
    }
    let size = |v: &Value| {
        v.pointer("/spec/resources/requests/storage")
            .and_then(crate::quantity::from_json)
            .unwrap_or_default()
    };
    if size(new) <= size(old) {
        return Ok(());
    }
    if old.pointer("/status/phase").and_then(Value::as_str) != Some("Bound") {
        return Err(ApiError::forbidden(
            resource,
            name,
            "Only bound persistent volume claims can be expanded",
        ));
    }
    let class = claim_class(new);
    let expandable = !class.is_empty()
        && class == claim_class(old)
        && store
            .get(&resources::STORAGE_CLASSES.key(None, class))
            .and_then(|o| serde_json::from_slice::<Value>(&o.bytes).ok())
            .and_then(|c| c.get("allowVolumeExpansion").and_then(Value::as_bool))
            .unwrap_or(false);
    if !expandable {
        return Err(ApiError::forbidden(
            resource,
            name,
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
        ));
    }
    Ok(())
}

fn reject(resource: &Resource, name: &str, errs: Vec<crate::names::FieldError>) -> ApiResult<()> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            resource,
            name,
            errs.iter().map(Cause::from).collect(),
        ))
    }
}

/// The class new claims default to; only looked up for claims.
fn default_storage_class(store: &Store, resource: &Resource) -> Option<String> {
    if !admits(resource, Plugin::DefaultStorageClass) {
        return None;
    }
    let classes = &resources::STORAGE_CLASSES;
    let snapshot = store.snapshot();
    let values: Vec<Value> = snapshot
        .range(&classes.key_prefix(), None)
        .filter_map(|o| serde_json::from_slice(&o.bytes).ok())
        .collect();
    defaults::default_storage_class(&values)
}
