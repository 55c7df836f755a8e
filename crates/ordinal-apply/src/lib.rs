//! Server-side apply and `metadata.managedFields` for Kubernetes objects
//! held as JSON, with the semantics of kube-apiserver's field manager and
//! structured-merge-diff.
//!
//! Two entry points cover every write:
//!
//! - [`apply`] for `PATCH` with `Content-Type: application/apply-patch+yaml`:
//!   merges the configuration, removes what the manager stopped applying,
//!   refuses to change other managers' fields unless forced.
//! - [`update`] for create, update and the other patches: records who
//!   changed what.
//!
//! How a type's lists merge comes from a [`Schema`]: a map-list merges its
//! elements by key (containers by `name`), a set by value (finalizers),
//! an atomic list is replaced whole, as is a map marked atomic.
//!
//! ```
//! use ordinal_apply::{ListType, Schema, apply};
//! use serde_json::json;
//!
//! struct Pods;
//! impl Schema for Pods {
//!     fn list_type(&self, path: &[&str]) -> ListType {
//!         match path {
//!             ["spec", "containers"] => ListType::Map(vec!["name".into()]),
//!             _ => ListType::Atomic,
//!         }
//!     }
//!     fn is_atomic(&self, _path: &[&str]) -> bool { false }
//! }
//!
//! let config = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
//!                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
//! let created = apply(None, &config, "kubectl", false, "v1", None, &Pods).unwrap();
//! assert_eq!(created["metadata"]["managedFields"][0]["fieldsV1"],
//!            json!({"f:spec": {"f:containers": {"k:{\"name\":\"c\"}":
//!                  {".": {}, "f:name": {}, "f:image": {}}}}}));
//! ```
//!
//! Modules: `path` and `fieldset` (field paths and sets of them),
//! `fields_v1` (their JSON encoding), `extract`, `compare`, `merge` and
//! `prune` (walks over objects guided by the schema), `items` (naming list
//! elements), `scope` (fields a write may not touch), `managed` (the
//! managedFields entries), `apply`, `update`, and `error`.

mod apply;
mod canonical;
mod compare;
mod error;
mod extract;
mod fields_v1;
mod fieldset;
mod go_text;
mod items;
mod managed;
mod merge;
mod path;
mod prune;
mod scope;
mod update;

#[cfg(test)]
mod test_schema;
#[cfg(test)]
mod tests;

pub use apply::apply;
pub use error::{ApplyError, Conflict, ValidationErrors};
pub use update::update;

use serde_json::Value;

/// How the elements of a list are told apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced and owned as a whole (also every list the schema does not
    /// know).
    Atomic,
    /// A set of scalars, merged by value (`x-kubernetes-list-type: set`).
    Set,
    /// Objects merged by the given key fields
    /// (`x-kubernetes-list-type: map`, `x-kubernetes-list-map-keys`).
    Map(Vec<String>),
}

/// What this crate needs to know about a type.
pub trait Schema {
    /// `path`: object field names from the root, list elements omitted,
    /// e.g. `["spec","template","spec","containers","ports"]`. Unknown
    /// lists are [`ListType::Atomic`].
    fn list_type(&self, path: &[&str]) -> ListType;

    /// A struct or map marked `x-kubernetes-map-type: atomic` (owned and
    /// replaced as a whole). For the path of a map-list, whether its
    /// elements are atomic (as `imagePullSecrets` elements are).
    fn is_atomic(&self, path: &[&str]) -> bool;

    /// The default of a map-list key field, used when an element leaves
    /// the key out. By default `protocol` is `"TCP"`, as for container,
    /// service and endpoint ports, and no other key has one.
    fn key_default(&self, path: &[&str], key: &str) -> Option<Value> {
        let _ = path;
        (key == "protocol").then(|| Value::from("TCP"))
    }

    /// Whether `status` is written through a `status` subresource (true
    /// for every built-in type that has a status). When true, writes to
    /// the main resource leave `status` alone and writes to `status` touch
    /// only `status` and `metadata`.
    fn has_status_subresource(&self) -> bool {
        true
    }
}

/// The name upstream records for a write without `fieldManager`: the
/// User-Agent up to its first `/`, printable characters only, at most 128
/// bytes (`kubectl/v1.33.0 (linux/amd64)` gives `kubectl`).
pub fn manager_from_user_agent(user_agent: &str) -> String {
    const MAX_LEN: usize = 128;
    let prefix = user_agent.split('/').next().unwrap_or("");
    let mut out = String::new();
    for c in prefix.chars() {
        if c.is_control() {
            continue;
        }
        if out.len() + c.len_utf8() > MAX_LEN {
            break;
        }
        out.push(c);
    }
    out
}

/// Removes `metadata.managedFields`, which never takes part in merging or
/// comparing.
pub(crate) fn strip_managed_fields(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
}
