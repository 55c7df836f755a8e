//! The Deployment controller, as upstream's (`pkg/controller/deployment`):
//! a ReplicaSet per pod template (labelled and selected by
//! `pod-template-hash`), revisions, RollingUpdate within `maxSurge` and
//! `maxUnavailable`, Recreate, proportional scaling of a resize in the
//! middle of a rollout, pausing, rollback by template (the template's old
//! set is reused and gets the next revision), `revisionHistoryLimit`, and
//! the status with the `Progressing` (`progressDeadlineSeconds`) and
//! `Available` conditions.
//!
//! [`plan`] decides from one deployment and the ReplicaSets and pods of
//! its namespace; the controller ([`run`]) gathers them from the shared
//! caches and carries the plan out. The pods themselves are the
//! ReplicaSet controller's ([`crate::replicaset`]).

mod controller;
pub mod plan;

pub use controller::{COMPONENT, run};
pub use plan::{Plan, plan};
