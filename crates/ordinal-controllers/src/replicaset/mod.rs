//! The ReplicaSet controller, as upstream's (`pkg/controller/replicaset`):
//! pods from a set's template until `spec.replicas` are active, the
//! surplus deleted in upstream's order (unscheduled, pending, not ready,
//! younger first), orphans that match the selector adopted and pods that
//! no longer match released, and the status (`replicas`,
//! `fullyLabeledReplicas`, `readyReplicas`, `availableReplicas` after
//! `minReadySeconds`, `observedGeneration`, the `ReplicaFailure`
//! condition).
//!
//! [`plan`] decides from one set, the pods of its namespace and the time;
//! the controller ([`run`]) gathers them from the shared caches and
//! carries the plan out: creations in slow-start batches (1, 2, 4, …,
//! stopping at the first batch with a failure), then the status from the
//! caches as the writes left them. Every answer is written back into the
//! pod cache before the next plan reads it, so a sync sees the pods the
//! last one created; [`expectations`] holds a set's creations and
//! deletions while a relist has briefly undone that, as upstream's
//! expectations do, so a set never creates twice.

mod controller;
pub mod expectations;
pub mod plan;

pub use controller::{COMPONENT, run};
pub use plan::{Plan, plan};
