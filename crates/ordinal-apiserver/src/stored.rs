//! Objects as stored and as served.
//!
//! Most resources are stored in the form they are served in, and their
//! stored bytes go out as they are. A resource that is another's under
//! other field names (events.k8s.io Events, stored as core Events) says so
//! in its strategy ([`Strategy::storage_prefix`](crate::registry::Strategy::storage_prefix)),
//! and everything that turns stored objects into answers or writes into
//! stored objects goes through here, so the conversion happens in this one
//! place: on the way out [`value`] and [`bytes`], on the way in
//! [`into_storage`].

use bytes::Bytes;
use serde_json::Value;

use crate::resources::Resource;
use crate::status::{ApiError, ApiResult};

/// Whether `resource` is stored in another resource's form.
pub fn converts(resource: &Resource) -> bool {
    resource.strategy.storage_prefix().is_some()
}

/// A stored object (already parsed) in `resource`'s form.
pub fn from_storage(resource: &Resource, mut object: Value) -> Value {
    if converts(resource) {
        resource.strategy.served_form(&mut object);
    }
    object
}

/// A stored object's bytes parsed, in `resource`'s form.
pub fn value(resource: &Resource, stored: &[u8]) -> ApiResult<Value> {
    let object: Value = serde_json::from_slice(stored)
        .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
    Ok(from_storage(resource, object))
}

/// A stored object's JSON in `resource`'s form: the stored bytes
/// themselves (shared, not copied) unless it converts.
pub fn bytes(resource: &Resource, stored: &Bytes) -> Bytes {
    if !converts(resource) {
        return stored.clone();
    }
    match value(resource, stored) {
        Ok(object) => Bytes::from(object.to_string()),
        Err(_) => stored.clone(),
    }
}

/// An object of `resource` in the form it is stored in.
pub fn into_storage(resource: &Resource, mut object: Value) -> Value {
    if converts(resource) {
        resource.strategy.stored_form(&mut object);
    }
    object
}
