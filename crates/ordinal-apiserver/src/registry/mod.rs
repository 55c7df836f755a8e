//! Per-resource strategies: everything the API server does differently for
//! one resource, as upstream's `pkg/registry/<group>/<resource>/strategy.go`.
//!
//! Each row of [`crate::resources::RESOURCES`] names its [`Strategy`]; the
//! generic code (defaulting, validation, selectors, tables, deletion,
//! admission) asks the row's strategy and never matches on a resource's
//! name. A resource that needs nothing special uses [`Plain`]. Adding a
//! resource is one module here and one row there.
//!
//! The strategies are thin: the rules themselves live in the libraries of
//! each type family (`validation`, `defaults`, `table`), which several
//! resources share; a strategy names which of them apply.

use serde_json::Value;

use crate::admission::Plugin;
use crate::defaults::Context;
use crate::deletion::Deletion;
use crate::names::{FieldError, NameRule};
use crate::selector::Fields;
use crate::table::Printer;

pub(crate) mod apiextensions;
pub(crate) mod apps;
pub(crate) mod autoscaling;
pub(crate) mod batch;
pub(crate) mod coordination;
pub(crate) mod core;
pub(crate) mod discovery;
pub(crate) mod events;
pub(crate) mod node;
pub(crate) mod policy;
pub(crate) mod rbac;
pub(crate) mod scheduling;
pub(crate) mod storage;

/// What is particular to one resource. Every method has the behaviour of a
/// resource without rules of its own, so a strategy says only what differs.
pub trait Strategy: Sync + std::fmt::Debug {
    /// How the names of its objects are validated.
    fn name_rule(&self) -> NameRule {
        NameRule::Dns1123Subdomain
    }

    /// Upstream's defaulting of a write (scheme defaults, conversion,
    /// the default admission plugins); `object` is a JSON object.
    fn default(&self, _object: &mut Value, _ctx: &Context) {}

    /// Rewrites applied to every write, after defaulting.
    fn normalize(&self, _object: &mut Value) {}

    /// Server-owned state of a new object (upstream's `PrepareForCreate`).
    fn prepare_for_create(&self, _object: &mut Value) {}

    /// The problems with `object` as a new object.
    fn validate_create(&self, _object: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// The problems with replacing `old` by `new`.
    fn validate_update(&self, _old: &Value, new: &Value) -> Vec<FieldError> {
        self.validate_create(new)
    }

    /// The problems with a write of `new` through the `status` subresource.
    fn validate_status_update(&self, _old: &Value, _new: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// Whether a change of its annotations bumps `metadata.generation` as
    /// a spec change does (Deployments: their controller copies them to
    /// the ReplicaSets).
    fn generation_follows_annotations(&self) -> bool {
        false
    }

    /// The admission plugins that act on its creates and updates.
    fn admission(&self) -> &'static [Plugin] {
        &[]
    }

    /// Whether the service registry allocates cluster IPs and node ports
    /// for its objects.
    fn allocates_service_addresses(&self) -> bool {
        false
    }

    /// The field labels it registers a conversion for, or `None` for
    /// upstream's default set (`metadata.name`, `metadata.namespace`).
    fn field_labels(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// The canonical name of an old alias of a field label.
    fn field_label_alias(&self, _label: &str) -> Option<&'static str> {
        None
    }

    /// The values of its own selectable fields (beyond `metadata.name` and
    /// `metadata.namespace`), as upstream's `ToSelectableFields`.
    fn selectable_fields(&self, _object: &Value, _out: &mut Fields) {}

    /// The table `kubectl get` prints.
    fn printer(&self) -> &'static Printer {
        &crate::table::DEFAULT
    }

    /// What a DELETE does beyond the generic registry.
    fn deletion(&self) -> Deletion {
        Deletion::Immediate
    }

    /// Why the object called `name` may never be deleted (the reason of
    /// upstream's 403), when it may not.
    fn undeletable(&self, _name: &str) -> Option<&'static str> {
        None
    }

    /// Whether a removed object is answered with itself (upstream's
    /// `ReturnDeletedObject`) rather than a `Status` of success.
    fn returns_deleted_object(&self) -> bool {
        false
    }

    /// The storage key prefix of its objects when they are another
    /// resource's, stored in that resource's form (events.k8s.io Events
    /// are core Events); `None` for a resource stored as itself. With it,
    /// [`stored_form`](Self::stored_form) and
    /// [`served_form`](Self::served_form) convert at the edges (see
    /// [`crate::stored`]).
    fn storage_prefix(&self) -> Option<&'static str> {
        None
    }

    /// Turns an object of this API into the stored form.
    fn stored_form(&self, _object: &mut Value) {}

    /// Turns a stored object into this API's form.
    fn served_form(&self, _object: &mut Value) {}

    /// Removes the fields its schema does not know from a write and
    /// returns their paths (`spec.foo`), for a resource whose schema is
    /// not a k8s-openapi type (a custom resource's); `None` leaves it to
    /// `decode`'s typed check.
    fn prune_unknown(&self, _object: &mut Value) -> Option<Vec<String>> {
        None
    }

    /// Whether new objects may be created now; the error is the
    /// `MethodNotAllowed` message (a custom resource whose CRD is being
    /// deleted).
    fn creatable(&self) -> Result<(), String> {
        Ok(())
    }

    /// The table's columns (the printer's, unless the columns come from
    /// data, as a CRD's printer columns do).
    fn table_columns(&self) -> &'static [crate::table::Column] {
        self.printer().columns
    }

    /// One object's cells, in [`table_columns`](Self::table_columns)' order.
    fn table_cells(&self, object: &Value, now: jiff::Timestamp) -> Vec<Value> {
        (self.printer().cells)(object, now)
    }

    /// The custom resource strategy, when this is one.
    fn custom(&self) -> Option<&crate::custom::CustomStrategy> {
        None
    }
}

/// The strategy of resources without rules of their own (and of resources
/// the server does not know).
#[derive(Debug)]
pub struct Plain;

impl Strategy for Plain {}
