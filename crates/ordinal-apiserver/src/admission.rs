//! Defaulting and validation of a write, as one step for the REST
//! handlers: what upstream's decoding, mutating admission and strategy
//! validation do between reading a body and storing it.

use ordinal_store::Store;
use serde_json::Value;

use crate::defaults::{self, Context};
use crate::objects::Scope;
use crate::resources::{self, Resource};
use crate::status::{ApiError, ApiResult, Cause};
use crate::validation;

/// Defaults a new object and validates it: 422 Invalid with every field
/// cause when it is not valid.
pub fn create(store: &Store, resource: &Resource, name: &str, object: &mut Value) -> ApiResult<()> {
    let ctx = Context::create(default_storage_class(store, resource));
    defaults::apply(resource, object, &ctx);
    reject(
        resource,
        name,
        validation::validate_create(resource, object),
    )
}

/// Defaults a replacement of `old` (unless only its status is written)
/// and validates the change.
pub fn update(
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
    )
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
    if !(resource.group.is_empty() && resource.plural == "persistentvolumeclaims") {
        return None;
    }
    let classes = resources::lookup("storage.k8s.io", "v1", "storageclasses")?;
    let snapshot = store.snapshot();
    let values: Vec<Value> = snapshot
        .range(&classes.key_prefix(), None)
        .filter_map(|o| serde_json::from_slice(&o.bytes).ok())
        .collect();
    defaults::default_storage_class(&values)
}
