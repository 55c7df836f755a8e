//! Strategic merge patch, as kube-apiserver applies it and kubectl computes it.
//!
//! A strategic merge patch is a JSON merge patch that knows the object's
//! types: lists tagged `patchStrategy: merge` are merged element by element
//! (by a merge key such as a container's `name`) instead of being replaced,
//! and a few `$`-directives delete list elements, replace whole maps, fix the
//! order of merged lists or clear fields. kubectl sends these for `apply`,
//! `edit`, `patch`, `rollout restart` and `rollout undo`.
//!
//! - [`schema`]: the patch metadata (merge strategies, merge keys, list
//!   types) of every served kind, for the patcher and for server-side apply.
//! - [`strategic::apply`]: apply a patch to a stored object.
//! - [`diff::two_way`] / [`diff::three_way`]: compute the patch kubectl would.
//!
//! ```
//! use serde_json::json;
//! let pod = json!({"spec": {"containers": [
//!     {"name": "app", "image": "app:1"},
//!     {"name": "sidecar", "image": "proxy:1"},
//! ]}});
//! let patch = json!({"spec": {"containers": [{"name": "app", "image": "app:2"}]}});
//! let out = ordinal_merge::strategic::apply(&pod, &patch, "", "Pod").unwrap();
//! assert_eq!(out["spec"]["containers"][0]["image"], "app:2");
//! assert_eq!(out["spec"]["containers"][1]["image"], "proxy:1");
//! ```

pub mod diff;
mod directive;
mod gofmt;
mod order;
pub mod schema;
pub mod strategic;

pub use strategic::{PatchError, apply};
