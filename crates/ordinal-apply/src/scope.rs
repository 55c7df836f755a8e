//! Which fields a write may touch and which fields are tracked.
//!
//! Metadata the server owns (`uid`, `resourceVersion`, `generation`,
//! `creationTimestamp`, `deletionTimestamp`, `deletionGracePeriodSeconds`,
//! `managedFields`, `selfLink`) is never applied and never owned.
//! `apiVersion`, `kind`, `metadata.name` and `metadata.namespace` are
//! applied but, as upstream, never owned.
//!
//! For a type with a status subresource ([`Schema::has_status_subresource`]),
//! writes to the main resource neither apply nor track `status`, and
//! writes to the `status` subresource apply and track only `status` and
//! `metadata`, the split upstream's reset fields make for StatefulSets,
//! Pods and the other built-in types.

use crate::Schema;
use crate::fieldset::FieldSet;
use crate::path::{Path, PathElement};

/// Metadata fields that only the server writes.
pub(crate) const SERVER_OWNED_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Identity fields: applied, but owned by nobody.
const IDENTITY_FIELDS: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
];

/// Metadata fields nobody owns: the identity ones and the server's.
fn untracked_metadata(name: &str) -> bool {
    matches!(name, "name" | "namespace") || SERVER_OWNED_METADATA.contains(&name)
}

/// What one write (to the main resource or to a subresource) covers.
pub(crate) struct Scope {
    status_split: bool,
    subresource: Option<String>,
}

impl Scope {
    pub fn new(subresource: Option<&str>, schema: &dyn Schema) -> Scope {
        Scope {
            status_split: schema.has_status_subresource(),
            subresource: subresource.filter(|s| !s.is_empty()).map(str::to_string),
        }
    }

    /// Whether the configuration's value at `path` is left out of the merge.
    pub fn skips(&self, path: &[&str]) -> bool {
        match path {
            ["metadata", name] => SERVER_OWNED_METADATA.contains(name),
            [top] => self.excludes_top_level(top),
            _ => false,
        }
    }

    /// Top-level fields this write neither applies nor tracks.
    fn excludes_top_level(&self, name: &str) -> bool {
        if !self.status_split {
            return false;
        }
        match self.subresource.as_deref() {
            None => name == "status",
            Some("status") => !matches!(name, "status" | "metadata" | "apiVersion" | "kind"),
            Some(_) => false,
        }
    }

    /// Whether a manager may own `path`: the per-path form of
    /// [`Scope::trackable`].
    pub fn tracks(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [PathElement::Field(top), rest @ ..] => {
                if self.excludes_top_level(top) {
                    return false;
                }
                match (top.as_str(), rest) {
                    ("apiVersion" | "kind", _) => false,
                    ("metadata", []) => false,
                    ("metadata", [PathElement::Field(name), ..]) => !untracked_metadata(name),
                    _ => true,
                }
            }
            _ => true,
        }
    }

    /// Whether nothing at or below field `name` of the object at `parent`
    /// is tracked.
    pub fn drops_subtree(&self, parent: &[PathElement], name: &str) -> bool {
        match parent {
            [] => self.excludes_top_level(name) || matches!(name, "apiVersion" | "kind"),
            [PathElement::Field(top)] if top == "metadata" => untracked_metadata(name),
            _ => false,
        }
    }

    /// `set` without the paths no manager may own.
    pub fn trackable(&self, set: &FieldSet) -> FieldSet {
        let field = |n: &str| PathElement::Field(n.to_string());
        let mut untracked = FieldSet::from_paths(
            IDENTITY_FIELDS
                .iter()
                .map(|names| Path(names.iter().map(|n| field(n)).collect())),
        );
        for name in SERVER_OWNED_METADATA {
            untracked.insert(&[field("metadata"), field(name)]);
        }
        for step in set.steps() {
            if let PathElement::Field(name) = step
                && self.excludes_top_level(name)
            {
                untracked.insert(std::slice::from_ref(step));
            }
        }
        let metadata_itself = FieldSet::from_paths([Path(vec![field("metadata")])]);
        set.without_subtrees(&untracked)
            .difference(&metadata_itself)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::fields_of;
    use crate::test_schema::PodSchema;
    use serde_json::json;

    #[test]
    fn main_resource_leaves_status_and_server_metadata_alone() {
        let scope = Scope::new(None, &PodSchema);
        let set = fields_of(
            &json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "p", "uid": "u", "labels": {"a": "b"}},
                "spec": {"nodeName": "n"}, "status": {"phase": "Running"}
            }),
            &PodSchema,
        )
        .expect("valid");
        assert_eq!(
            scope.trackable(&set).to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:nodeName": {}}})
        );
        assert!(scope.skips(&["status"]));
        assert!(scope.skips(&["metadata", "resourceVersion"]));
        assert!(!scope.skips(&["metadata", "name"]));
        assert!(!scope.skips(&["spec"]));
    }

    #[test]
    fn status_subresource_tracks_only_status_and_metadata() {
        let scope = Scope::new(Some("status"), &PodSchema);
        let set = fields_of(
            &json!({"metadata": {"labels": {"a": "b"}}, "spec": {"nodeName": "n"}, "status": {"phase": "Running"}}),
            &PodSchema,
        )
        .expect("valid");
        assert_eq!(
            scope.trackable(&set).to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:status": {"f:phase": {}}})
        );
        assert!(scope.skips(&["spec"]));
        assert!(!scope.skips(&["status"]));
    }
}
