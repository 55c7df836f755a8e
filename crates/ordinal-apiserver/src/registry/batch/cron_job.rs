//! CronJobs: upstream's defaults, the schedule and time zone checks, the
//! table `kubectl get cronjobs` prints.

use serde_json::Value;

use crate::defaults::{self, Context};
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::table::{self, Printer};
use crate::validation::batch;

#[derive(Debug)]
pub struct CronJobStrategy;

impl Strategy for CronJobStrategy {
    fn default(&self, object: &mut Value, ctx: &Context) {
        defaults::batch::cron_job(object, ctx);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        batch::validate_cron_job(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        batch::validate_cron_job_update(old, new)
    }

    fn printer(&self) -> &'static Printer {
        &table::batch::CRON_JOB
    }
}
