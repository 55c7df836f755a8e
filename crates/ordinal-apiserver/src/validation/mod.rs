//! Validation of the served types, with upstream's field paths, reasons and
//! messages (`pkg/apis/core/validation`, `pkg/apis/apps/validation`,
//! `pkg/apis/storage/validation`, `pkg/apis/node/validation`, and the
//! discovery and coordination groups).
//!
//! Object metadata (names, labels, annotations) is checked by
//! [`crate::names::validate_object_meta`] as part of preparing a write;
//! these functions check everything else. They run on defaulted objects, as
//! upstream's do, and read the JSON defensively: a value of the wrong type
//! reads as unset.

mod apps;
mod common;
mod config;
mod diff;
mod network;
mod node;
mod pod;
mod storage;

use serde_json::Value;

use crate::names::FieldError;
use crate::resources::Resource;

pub use common::Path;

/// The problems with `object` as a new `resource`.
pub fn validate_create(resource: &Resource, object: &Value) -> Vec<FieldError> {
    match (resource.group, resource.plural) {
        ("", "pods") => pod::validate_pod(object),
        ("", "services") => network::validate_service(object),
        ("", "endpoints") => network::validate_endpoints(object),
        ("", "persistentvolumeclaims") => storage::validate_claim(object),
        ("", "persistentvolumes") => storage::validate_volume(object),
        ("", "configmaps") => config::validate_config_map(object),
        ("", "secrets") => config::validate_secret(object),
        ("apps", "statefulsets") => apps::validate_stateful_set(object),
        ("apps", "controllerrevisions") => apps::validate_revision(object),
        ("discovery.k8s.io", "endpointslices") => network::validate_endpoint_slice(object),
        ("coordination.k8s.io", "leases") => config::validate_lease(object),
        ("storage.k8s.io", "storageclasses") => storage::validate_storage_class(object),
        ("node.k8s.io", "runtimeclasses") => node::validate_runtime_class(object),
        _ => Vec::new(),
    }
}

/// The problems with replacing `old` by `new`. With `status_only`, the write
/// came through the `/status` subresource: only the status is checked.
pub fn validate_update(
    resource: &Resource,
    old: &Value,
    new: &Value,
    status_only: bool,
) -> Vec<FieldError> {
    if status_only {
        return match (resource.group, resource.plural) {
            ("", "pods") => pod::validate_pod_status_update(old, new),
            ("", "services") => network::validate_service_status(new),
            ("", "persistentvolumeclaims") => storage::validate_claim_status(new),
            ("apps", "statefulsets") => apps::validate_stateful_set_status_update(old, new),
            _ => Vec::new(),
        };
    }
    match (resource.group, resource.plural) {
        ("", "pods") => pod::validate_pod_update(old, new),
        ("", "services") => network::validate_service_update(old, new),
        ("", "persistentvolumeclaims") => storage::validate_claim_update(old, new),
        ("", "persistentvolumes") => storage::validate_volume_update(old, new),
        ("", "configmaps") => config::validate_config_map_update(old, new),
        ("", "secrets") => config::validate_secret_update(old, new),
        ("apps", "statefulsets") => apps::validate_stateful_set_update(old, new),
        ("apps", "controllerrevisions") => apps::validate_revision_update(old, new),
        ("discovery.k8s.io", "endpointslices") => network::validate_endpoint_slice_update(old, new),
        ("storage.k8s.io", "storageclasses") => storage::validate_storage_class_update(old, new),
        ("node.k8s.io", "runtimeclasses") => node::validate_runtime_class_update(old, new),
        _ => validate_create(resource, new),
    }
}

#[cfg(test)]
mod tests;
