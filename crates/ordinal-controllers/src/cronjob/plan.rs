//! The CronJob controller's decision, as upstream's `syncCronJob`: from
//! one CronJob, the Jobs it controls, the controller's own time zone and
//! the time, which job to start (if any), which to delete, what status to
//! write, and when to look again — a pure function ([`plan`]).

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job, JobStatus};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use ordinal_core::cron::{Schedule, load_zone};

/// The annotation with the time a job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Missed start times beyond which upstream warns.
const TOO_MANY_MISSED: i64 = 100;

/// A job the plan deletes, and an Event on the CronJob: as the Job
/// controller's plan has them.
pub use crate::job::plan::{Event, PodRef as JobRef};

/// What one sync does, in order: delete [`Plan::delete`] (each with its
/// event), create [`Plan::create`] and, once made, add it to the active
/// list with `lastScheduleTime` at [`Plan::scheduled`]; write the status
/// when it differs from the stored one.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Jobs to delete (replaced, or beyond the history limits).
    pub delete: Vec<JobRef>,
    /// The job to start.
    pub create: Option<Job>,
    /// The time it was scheduled for.
    pub scheduled: Option<Timestamp>,
    /// The status without the new job.
    pub status: CronJobStatus,
    /// Events to record.
    pub events: Vec<Event>,
    /// When the next start time is due.
    pub requeue_after: Option<Duration>,
}

fn event(warning: bool, reason: &str, message: String) -> Event {
    Event {
        warning,
        reason: reason.into(),
        message,
    }
}

fn condition_true(status: Option<&JobStatus>, kind: &str) -> bool {
    status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

/// The finished condition of a job: `Complete` or `Failed`.
fn finished(job: &Job) -> Option<&'static str> {
    let status = job.status.as_ref();
    if condition_true(status, "Complete") {
        Some("Complete")
    } else if condition_true(status, "Failed") {
        Some("Failed")
    } else {
        None
    }
}

/// The name of the job scheduled at `t`: the CronJob's name and the
/// minutes since the epoch.
pub fn job_name(cron_job: &str, t: Timestamp) -> String {
    format!("{cron_job}-{}", t.as_second().div_euclid(60))
}

/// The most recent start time in `(earliest, now]` with how many were
/// missed, as upstream's `mostRecentScheduleTime` (which estimates the
/// count from the first interval rather than walking years of minutes).
pub fn most_recent(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> Result<(Option<Timestamp>, i64), String> {
    let Some(t1) = schedule.next(earliest, tz) else {
        return Ok((None, 0));
    };
    if now < t1 {
        return Ok((None, 0));
    }
    let Some(t2) = schedule.next(t1, tz) else {
        return Ok((Some(t1), 1));
    };
    if now < t2 {
        return Ok((Some(t1), 1));
    }
    let between = t2.duration_since(t1).as_secs();
    if between < 1 {
        return Err("time difference between two schedules is less than 1 second".into());
    }
    let missed = now.duration_since(t1).as_secs() / between + 1;
    let start = t1 + SignedDuration::from_secs((missed - 2).max(0) * between);
    let mut latest = None;
    let mut t = schedule.next(start, tz);
    while let Some(at) = t.filter(|at| *at <= now) {
        latest = Some(at);
        t = schedule.next(at, tz);
    }
    // The estimate may overshoot for irregular schedules: walk from t1.
    if latest.is_none() {
        let mut t = Some(t1);
        while let Some(at) = t.filter(|at| *at <= now) {
            latest = Some(at);
            t = schedule.next(at, tz);
        }
    }
    Ok((latest, missed))
}

/// Go's `time.RFC3339` of `t` in `tz`: `Z` for UTC, the offset otherwise.
fn rfc3339_in(t: Timestamp, tz: &TimeZone) -> String {
    let zoned = t.to_zoned(tz.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// Go's `time.RFC1123Z` in UTC, for the MissSchedule event.
fn rfc1123z(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Decides one sync of `cj` given the jobs it controls, the controller's
/// time zone (for CronJobs without `timeZone`) and the time.
pub fn plan(cj: &CronJob, jobs: &[&Job], local: &TimeZone, now: Timestamp) -> Plan {
    let mut plan = Plan {
        status: cj.status.clone().unwrap_or_default(),
        ..Plan::default()
    };
    if cj.metadata.deletion_timestamp.is_some() {
        return plan;
    }
    let spec = cj.spec.clone().unwrap_or_default();
    let uid_of = |j: &Job| j.metadata.uid.clone().unwrap_or_default();
    let name_of = |j: &Job| j.metadata.name.clone().unwrap_or_default();

    // 1. The active list against the jobs that exist.
    let mut active: Vec<ObjectReference> = plan.status.active.clone().unwrap_or_default();
    for job in jobs {
        let uid = uid_of(job);
        let listed = active
            .iter()
            .any(|r| r.uid.as_deref() == Some(uid.as_str()));
        match finished(job) {
            Some(condition) if listed => {
                active.retain(|r| r.uid.as_deref() != Some(uid.as_str()));
                plan.events.push(event(
                    false,
                    "SawCompletedJob",
                    format!(
                        "Saw completed job: {}, condition: {condition}",
                        name_of(job)
                    ),
                ));
            }
            None if !listed => plan.events.push(event(
                true,
                "UnexpectedJob",
                format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    name_of(job)
                ),
            )),
            _ => {}
        }
        if finished(job) == Some("Complete")
            && let Some(done) = job.status.as_ref().and_then(|s| s.completion_time.as_ref())
            && plan
                .status
                .last_successful_time
                .as_ref()
                .is_none_or(|t| done.0 > t.0)
        {
            plan.status.last_successful_time = Some(done.clone());
        }
    }
    let missing: Vec<ObjectReference> = active
        .iter()
        .filter(|r| {
            !jobs
                .iter()
                .any(|j| j.metadata.uid.as_deref() == r.uid.as_deref())
        })
        .cloned()
        .collect();
    for r in missing {
        plan.events.push(event(
            false,
            "MissingJob",
            format!(
                "Active job went missing: {}",
                r.name.as_deref().unwrap_or("")
            ),
        ));
        active.retain(|a| a.uid != r.uid);
    }

    // 2. History limits (finished jobs only, oldest first).
    let history = |kind: &str, limit: Option<i32>, plan: &mut Plan| {
        let Some(limit) = limit else { return };
        let mut done: Vec<&&Job> = jobs.iter().filter(|j| finished(j) == Some(kind)).collect();
        done.sort_by_key(|j| {
            (
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0),
                j.metadata.name.clone(),
            )
        });
        let excess = done.len().saturating_sub(limit.max(0) as usize);
        for job in done.into_iter().take(excess) {
            plan.delete.push(JobRef::of(*job));
        }
    };
    history("Complete", spec.successful_jobs_history_limit, &mut plan);
    history("Failed", spec.failed_jobs_history_limit, &mut plan);

    plan.status.active = (!active.is_empty()).then(|| active.clone());
    if spec.suspend == Some(true) {
        return plan;
    }

    // 3. The schedule, in its zone.
    let tz = match spec.time_zone.as_deref() {
        None => local.clone(),
        Some(name) => match load_zone(name) {
            Ok(tz) => tz,
            Err(e) => {
                plan.events.push(event(
                    true,
                    "UnknownTimeZone",
                    format!(
                        "invalid timeZone: {}: {e}",
                        ordinal_core::go_text::quote(name)
                    ),
                ));
                return plan;
            }
        },
    };
    let invalid_schedule = |e: &dyn std::fmt::Display| {
        event(
            true,
            "InvalidSchedule",
            format!("invalid schedule: {} : {e}", spec.schedule),
        )
    };
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            plan.events.push(invalid_schedule(&e));
            return plan;
        }
    };
    let next_after_now = schedule
        .next(now, &tz)
        .and_then(|n| Duration::try_from(n.duration_since(now)).ok());
    plan.requeue_after = next_after_now;

    let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let mut earliest = plan
        .status
        .last_schedule_time
        .as_ref()
        .map_or(created, |t| t.0);
    if let Some(deadline) = spec.starting_deadline_seconds {
        let limit = now - SignedDuration::from_secs(deadline);
        if limit > earliest {
            earliest = limit;
        }
    }
    let scheduled = match most_recent(&schedule, &tz, earliest, now) {
        Ok((Some(t), missed)) => {
            if missed > TOO_MANY_MISSED {
                plan.events.push(event(
                    true,
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
                ));
            }
            t
        }
        Ok((None, _)) => return plan,
        Err(e) => {
            plan.events.push(invalid_schedule(&e));
            return plan;
        }
    };
    if let Some(deadline) = spec.starting_deadline_seconds
        && scheduled + SignedDuration::from_secs(deadline) < now
    {
        plan.events.push(event(
            true,
            "MissSchedule",
            format!(
                "Missed scheduled time to start a job: {}",
                rfc1123z(scheduled)
            ),
        ));
        return plan;
    }
    let cj_name = cj.metadata.name.clone().unwrap_or_default();
    let name = job_name(&cj_name, scheduled);
    if active
        .iter()
        .any(|r| r.name.as_deref() == Some(name.as_str()))
        || plan
            .status
            .last_schedule_time
            .as_ref()
            .is_some_and(|t| t.0 == scheduled)
    {
        return plan;
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            plan.events.push(event(
                false,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            ));
            return plan;
        }
        Some("Replace") => {
            for r in &active {
                plan.delete.push(JobRef {
                    name: r.name.clone().unwrap_or_default(),
                    uid: r.uid.clone().unwrap_or_default(),
                });
            }
            active.clear();
            plan.status.active = None;
        }
        _ => {}
    }
    plan.create = Some(job_from_template(cj, &name, scheduled, &tz));
    plan.scheduled = Some(scheduled);
    plan
}

/// upstream's `getJobFromTemplate2`.
pub fn job_from_template(cj: &CronJob, name: &str, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339_in(scheduled, tz));
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: cj.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![crate::runtime::controller_ref(cj)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// The reference the active list keeps of a job.
pub fn reference(job: &Job) -> ObjectReference {
    crate::runtime::reference(job)
}

#[cfg(test)]
mod tests;
