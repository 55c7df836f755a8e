//! Defaulting: the fields a real API server fills in before it stores an
//! object, so that what ordinal stores reads like what a cluster stores.
//!
//! Three upstream layers are reproduced here, in upstream's order:
//!
//! 1. the scheme defaults of `pkg/apis/*/v1/defaults.go` (and the
//!    declarative ones in the generated defaulters), applied on every write;
//! 2. the v1 conversion's mirroring of paired fields (`serviceAccount` and
//!    `serviceAccountName`, `clusterIP` and `clusterIPs`);
//! 3. on create, the default admission plugins (ServiceAccount, Priority,
//!    DefaultTolerationSeconds, DefaultStorageClass) and each registry's
//!    initial status; on update, the service registry's carrying over of
//!    allocated values the client left out.
//!
//! Defaulting is idempotent and never panics; a field of the wrong JSON type
//! is left as it is for validation to report.

pub(crate) mod apps;
pub(crate) mod batch;
mod image;
pub(crate) mod pod;
pub(crate) mod service;
pub(crate) mod storage;

use serde_json::Value;

use crate::resources::Resource;

pub use image::default_pull_policy;

/// What defaulting needs to know beyond the object itself.
#[derive(Debug, Clone, Default)]
pub struct Context<'a> {
    /// The StorageClass new claims without a class get (the
    /// DefaultStorageClass admission plugin); see [`default_storage_class`].
    pub default_storage_class: Option<String>,
    /// The stored object when this write is an update; `None` on create.
    pub old: Option<&'a Value>,
}

impl<'a> Context<'a> {
    /// The context of a create.
    pub fn create(default_storage_class: Option<String>) -> Self {
        Context {
            default_storage_class,
            old: None,
        }
    }

    /// The context of an update of `old`.
    pub fn update(old: &'a Value) -> Self {
        Context {
            default_storage_class: None,
            old: Some(old),
        }
    }

    fn creating(&self) -> bool {
        self.old.is_none()
    }
}

/// Fills in upstream's defaults for a write of `object` as `resource` (its
/// strategy's).
pub fn apply(resource: &Resource, object: &mut Value, ctx: &Context) {
    if !object.is_object() {
        return;
    }
    resource.strategy.default(object, ctx);
}

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS_ANNOTATION: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// The name of the default StorageClass among `classes`, as the
/// DefaultStorageClass admission plugin picks it: classes annotated
/// `storageclass.kubernetes.io/is-default-class: "true"` (or the beta
/// annotation), the newest first, ties broken by name.
pub fn default_storage_class<'a>(classes: impl IntoIterator<Item = &'a Value>) -> Option<String> {
    let mut best: Option<(jiff::Timestamp, &str)> = None;
    for class in classes {
        let Some(meta) = class.get("metadata") else {
            continue;
        };
        let annotated = [DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION]
            .iter()
            .any(|a| {
                meta.pointer(&format!("/annotations/{}", a.replace('/', "~1")))
                    == Some(&Value::from("true"))
            });
        let name = crate::lenient::string(meta, "name");
        if !annotated || name.is_empty() {
            continue;
        }
        let created = crate::lenient::string(meta, "creationTimestamp")
            .parse::<jiff::Timestamp>()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let better = match best {
            None => true,
            Some((t, n)) => created > t || (created == t && name < n),
        };
        if better {
            best = Some((created, name));
        }
    }
    best.map(|(_, name)| name.to_string())
}

#[cfg(test)]
mod tests;
