//! The CronJob controller, as upstream's (`pkg/controller/cronjob`, the
//! v2 controller): a Job per start time of the schedule, read in the
//! CronJob's `timeZone` (the controller's own zone without one), named
//! `<cronjob>-<minutes since the epoch>`; `concurrencyPolicy` (Allow,
//! Forbid, Replace), `startingDeadlineSeconds`, `suspend`, the history
//! limits, and the status's `active`, `lastScheduleTime` and
//! `lastSuccessfulTime`.
//!
//! [`plan`] decides from one CronJob, its jobs, the zone and the time; the
//! controller ([`run`]) gathers them from the shared caches, carries the
//! plan out, and comes back at the next start time.

mod controller;
pub mod plan;

pub use controller::{COMPONENT, run};
pub use plan::{Plan, plan};
