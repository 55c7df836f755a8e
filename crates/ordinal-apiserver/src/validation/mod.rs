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

pub(crate) mod apps;
pub(crate) mod batch;
mod claim_templates;
mod common;
pub(crate) mod config;
mod diff;
pub(crate) mod network;
pub(crate) mod node;
pub(crate) mod pod;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod storage;

use serde_json::Value;

use crate::names::FieldError;
use crate::resources::Resource;

/// The problems with `object` as a new `resource` (its strategy's rules).
pub fn validate_create(resource: &Resource, object: &Value) -> Vec<FieldError> {
    resource.strategy.validate_create(object)
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
        resource.strategy.validate_status_update(old, new)
    } else {
        resource.strategy.validate_update(old, new)
    }
}

#[cfg(test)]
mod tests;
