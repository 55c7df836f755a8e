//! The Job controller, as upstream's (`pkg/controller/job`) and its
//! TTL-after-finished companion: pods from a Job's template until enough
//! succeed (`completions`, `parallelism`, Indexed or not), replacements
//! after failures with an exponential back-off until `backoffLimit`,
//! `activeDeadlineSeconds`, `suspend`, the pod failure policy, and the
//! deletion of finished jobs after `ttlSecondsAfterFinished`.
//!
//! [`plan`] decides from one job, its pods and the time; the controller
//! ([`run`]) gathers them from the shared caches and carries the plan out.
//! The conditions follow upstream 1.33: a job first gets the
//! `FailureTarget` or `SuccessCriteriaMet` condition, its remaining pods
//! are deleted, and once none is left it becomes `Failed` or `Complete`
//! with the same reason.
//!
//! Not done: adopting orphan pods that match a manual selector,
//! `backoffLimitPerIndex`/`maxFailedIndexes` (FailIndex) and
//! `successPolicy`. A job whose `managedBy` names another controller is
//! left to it.

mod controller;
pub mod plan;

pub use controller::{COMPONENT, run};
pub use plan::{Plan, plan};
