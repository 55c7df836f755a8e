//! Stored objects: the serialized JSON plus what the API server needs to
//! filter it without parsing it again.
//!
//! An [`Object`] is immutable and shared (`Arc<Object>`) between the cache,
//! the watch history and every watcher. Its `bytes` are exactly what a GET or
//! LIST returns, with `metadata.resourceVersion` already stamped, so the API
//! server never re-serializes a stored object.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::StoreError;

/// Small facts extracted from an object when it is written (or loaded), used
/// for label and field selectors without parsing the JSON again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// `metadata.labels`, as the attrs function chose to report them.
    pub labels: Vec<(String, String)>,
    /// Selectable fields, e.g. `("spec.nodeName", "n1")`.
    pub fields: Vec<(&'static str, String)>,
}

impl Attrs {
    /// The value of label `name`, if the object has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of field `name`, if the attrs function reported it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Computes the [`Attrs`] of an object from its key and JSON value.
///
/// It is called once per write (on the caller's task, before the write is
/// queued) and once per object when the store starts. It must not depend on
/// `metadata.resourceVersion`, which the store stamps afterwards.
pub type AttrsFn = Arc<dyn Fn(&str, &Value) -> Attrs + Send + Sync>;

/// One version of one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key it is stored under, e.g. `/core/pods/default/web-0`.
    pub key: Arc<str>,
    /// Its mod revision: the revision of the write that produced this
    /// version (for a deleted object handed out by a delete or a DELETED
    /// event: the revision of the delete).
    pub rev: u64,
    /// The JSON, with `metadata.resourceVersion == rev.to_string()`.
    pub bytes: Bytes,
    /// Pre-extracted selector facts.
    pub attrs: Attrs,
}

impl Object {
    /// Parses the stored JSON. The bytes were produced by `serde_json`, so
    /// this only fails if the process memory is corrupt.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.bytes).expect("stored object bytes are valid JSON")
    }
}

/// Checks that `value` can carry a resourceVersion: a JSON object whose
/// `metadata`, if present, is an object.
pub(crate) fn check_stampable(value: &Value) -> Result<(), StoreError> {
    let Some(map) = value.as_object() else {
        return Err(StoreError::Invalid("value is not a JSON object"));
    };
    match map.get("metadata") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(StoreError::Invalid("metadata is not a JSON object")),
    }
}

/// Sets `metadata.resourceVersion` to `rev` and serializes. `value` must have
/// passed [`check_stampable`].
pub(crate) fn stamp(value: &mut Value, rev: u64) -> Bytes {
    let map = value.as_object_mut().expect("checked: value is an object");
    let metadata = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let metadata = metadata
        .as_object_mut()
        .expect("checked: metadata is an object");
    metadata.insert("resourceVersion".to_owned(), Value::String(rev.to_string()));
    Bytes::from(serde_json::to_vec(value).expect("a serde_json::Value always serializes"))
}

/// The same object with a different resourceVersion: what a delete hands
/// out and records (the last state, stamped with the delete's revision).
pub(crate) fn restamp(object: &Object, rev: u64) -> Object {
    let mut value = object.value();
    Object {
        key: object.key.clone(),
        rev,
        bytes: stamp(&mut value, rev),
        attrs: object.attrs.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamp_sets_resource_version_and_creates_metadata() {
        let mut v = json!({"kind": "Pod"});
        let bytes = stamp(&mut v, 42);
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back["metadata"]["resourceVersion"], "42");
        assert_eq!(back["kind"], "Pod");

        let mut v = json!({"metadata": {"name": "a", "resourceVersion": "7"}});
        let back: Value = serde_json::from_slice(&stamp(&mut v, 8)).unwrap();
        assert_eq!(
            back["metadata"],
            json!({"name": "a", "resourceVersion": "8"})
        );
    }

    #[test]
    fn only_objects_with_object_metadata_are_stampable() {
        assert!(check_stampable(&json!({})).is_ok());
        assert!(check_stampable(&json!({"metadata": {}})).is_ok());
        assert!(check_stampable(&json!([1])).is_err());
        assert!(check_stampable(&json!("x")).is_err());
        assert!(check_stampable(&json!({"metadata": 3})).is_err());
    }

    #[test]
    fn restamp_keeps_content_and_attrs() {
        let mut v = json!({"metadata": {"name": "a"}, "spec": {"x": 1}});
        let attrs = Attrs {
            labels: vec![("app".into(), "web".into())],
            fields: vec![("metadata.name", "a".into())],
        };
        let obj = Object {
            key: "/k".into(),
            rev: 3,
            bytes: stamp(&mut v, 3),
            attrs: attrs.clone(),
        };
        let deleted = restamp(&obj, 9);
        assert_eq!(deleted.rev, 9);
        assert_eq!(deleted.attrs, attrs);
        assert_eq!(deleted.value()["metadata"]["resourceVersion"], "9");
        assert_eq!(deleted.value()["spec"], json!({"x": 1}));
        assert_eq!(attrs.label("app"), Some("web"));
        assert_eq!(attrs.field("metadata.name"), Some("a"));
        assert_eq!(attrs.field("spec.nodeName"), None);
    }
}
