//! The CronJob planner with a fake clock: scenarios and invariants.

use super::*;
use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobSpec, JobTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use proptest::prelude::*;

/// 2024-07-01T00:00:00Z plus `secs`.
fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_719_792_000 + secs).unwrap()
}

fn cron(schedule: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some("tick".into()),
            namespace: Some("default".into()),
            uid: Some("cj-uid".into()),
            creation_timestamp: Some(Time(t(30))),
            ..Default::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            concurrency_policy: Some("Allow".into()),
            suspend: Some(false),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "tick".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(JobSpec::default()),
            },
            ..Default::default()
        }),
        status: Some(CronJobStatus::default()),
    }
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

/// What the executor does with a plan whose job was created.
fn apply(cj: &mut CronJob, p: &Plan) -> Option<Job> {
    let mut status = p.status.clone();
    let made = p.create.clone().map(|mut j| {
        j.metadata.uid = Some(format!("uid-{}", j.metadata.name.clone().unwrap()));
        status.active.get_or_insert_default().push(reference(&j));
        status.last_schedule_time = p.scheduled.map(Time);
        j
    });
    cj.status = Some(status);
    made
}

fn finished_job(name: &str, kind: &str, start: i64, end: i64) -> Job {
    let mut j = job_from_template(&cron("* * * * *"), name, t(start), &utc());
    j.metadata.uid = Some(format!("uid-{name}"));
    j.status = Some(JobStatus {
        start_time: Some(Time(t(start))),
        completion_time: (kind == "Complete").then_some(Time(t(end))),
        conditions: Some(vec![JobCondition {
            type_: kind.into(),
            status: "True".into(),
            ..Default::default()
        }]),
        ..Default::default()
    });
    j
}

#[test]
fn every_minute_starts_a_job_named_for_its_minute() {
    let mut cj = cron("* * * * *");
    // Created at :30; nothing due until the next minute.
    let p = plan(&cj, &[], &utc(), t(40));
    assert!(p.create.is_none());
    assert_eq!(p.requeue_after, Some(Duration::from_secs(20)));

    let p = plan(&cj, &[], &utc(), t(65));
    let job = p.create.clone().expect("a job at 00:01");
    assert_eq!(p.scheduled, Some(t(60)));
    let minutes = t(60).as_second() / 60;
    assert_eq!(
        job.metadata.name.as_deref(),
        Some(format!("tick-{minutes}").as_str())
    );
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[SCHEDULED_TIMESTAMP],
        "2024-07-01T00:01:00Z"
    );
    assert_eq!(job.metadata.labels.as_ref().unwrap()["app"], "tick");
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    assert_eq!(p.requeue_after, Some(Duration::from_secs(55)));
    let made = apply(&mut cj, &p).unwrap();

    // The same minute again: nothing new.
    let p = plan(&cj, &[&made], &utc(), t(90));
    assert!(p.create.is_none());
    assert_eq!(
        cj.status.as_ref().unwrap().last_schedule_time,
        Some(Time(t(60)))
    );

    // Next minute, Allow: another one beside the running one.
    let p = plan(&cj, &[&made], &utc(), t(121));
    assert_eq!(p.scheduled, Some(t(120)));
    assert!(p.create.is_some());
}

#[test]
fn forbid_waits_and_replace_replaces() {
    let mut cj = cron("* * * * *");
    let p = plan(&cj, &[], &utc(), t(61));
    let running = apply(&mut cj, &p).unwrap();

    cj.spec.as_mut().unwrap().concurrency_policy = Some("Forbid".into());
    let p = plan(&cj, &[&running], &utc(), t(121));
    assert!(p.create.is_none());
    assert!(p.events.iter().any(|e| e.reason == "JobAlreadyActive"));

    cj.spec.as_mut().unwrap().concurrency_policy = Some("Replace".into());
    let p = plan(&cj, &[&running], &utc(), t(121));
    assert_eq!(
        p.delete,
        vec![JobRef {
            name: running.metadata.name.clone().unwrap(),
            uid: running.metadata.uid.clone().unwrap()
        }]
    );
    assert!(p.create.is_some());
    assert_eq!(p.status.active, None, "the replaced job leaves the list");
}

#[test]
fn finished_jobs_leave_the_active_list_and_old_ones_are_deleted() {
    let mut cj = cron("* * * * *");
    let jobs: Vec<Job> = (0..5)
        .map(|i| finished_job(&format!("tick-{i}"), "Complete", i * 60, i * 60 + 10))
        .chain([
            finished_job("tick-f1", "Failed", 0, 0),
            finished_job("tick-f2", "Failed", 60, 0),
        ])
        .collect();
    let st = cj.status.as_mut().unwrap();
    st.active = Some(vec![reference(&jobs[4])]);
    st.last_schedule_time = Some(Time(t(240)));
    let refs: Vec<&Job> = jobs.iter().collect();
    let p = plan(&cj, &refs, &utc(), t(250));
    assert_eq!(p.status.active, None);
    assert_eq!(p.status.last_successful_time, Some(Time(t(250))));
    assert!(p.events.iter().any(|e| e.reason == "SawCompletedJob"
        && e.message == "Saw completed job: tick-4, condition: Complete"));
    let deleted: Vec<&str> = p.delete.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deleted, vec!["tick-0", "tick-1", "tick-f1"]);
}

#[test]
fn a_missing_active_job_is_dropped() {
    let mut cj = cron("0 * * * *");
    let ghost = finished_job("tick-9", "Complete", 0, 1);
    cj.status.as_mut().unwrap().active = Some(vec![reference(&ghost)]);
    let p = plan(&cj, &[], &utc(), t(100));
    assert_eq!(p.status.active, None);
    assert!(p.events.iter().any(|e| e.reason == "MissingJob"));
}

#[test]
fn suspend_and_the_starting_deadline_hold_back() {
    let mut cj = cron("* * * * *");
    cj.spec.as_mut().unwrap().suspend = Some(true);
    assert!(plan(&cj, &[], &utc(), t(61)).create.is_none());
    cj.spec.as_mut().unwrap().suspend = Some(false);
    cj.spec.as_mut().unwrap().starting_deadline_seconds = Some(10);
    // Due at 00:01, looked at 00:01:30: too late for this one.
    assert!(plan(&cj, &[], &utc(), t(90)).create.is_none());
    assert!(plan(&cj, &[], &utc(), t(65)).create.is_some());
}

#[test]
fn a_long_outage_starts_only_the_most_recent() {
    let cj = cron("*/5 * * * *");
    let p = plan(&cj, &[], &utc(), t(3 * 86_400 + 7 * 60));
    assert_eq!(p.scheduled, Some(t(3 * 86_400 + 5 * 60)));
    assert!(p.events.iter().any(|e| e.reason == "TooManyMissedTimes"));
}

#[test]
fn the_time_zone_is_the_cron_jobs() {
    let mut cj = cron("0 3 * * *");
    cj.spec.as_mut().unwrap().time_zone = Some("Europe/Paris".into());
    // 03:00 in Paris on 1 July is 01:00 UTC.
    let p = plan(&cj, &[], &utc(), t(3600 + 5));
    assert_eq!(p.scheduled, Some(t(3600)));
    let job = p.create.unwrap();
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[SCHEDULED_TIMESTAMP],
        "2024-07-01T03:00:00+02:00"
    );
    cj.spec.as_mut().unwrap().time_zone = Some("Mars/Olympus".into());
    let p = plan(&cj, &[], &utc(), t(3600 + 5));
    assert!(p.create.is_none());
    assert_eq!(p.events[0].reason, "UnknownTimeZone");
    assert_eq!(
        p.events[0].message,
        "invalid timeZone: \"Mars/Olympus\": unknown time zone Mars/Olympus"
    );
}

proptest! {
    /// Whatever the schedule's step and the time: a job starts only for
    /// a start time not after now nor before the last, and is named for it.
    #[test]
    fn jobs_start_for_due_times_only(step in 1u32..30, created in 0i64..3600, later in 0i64..20_000) {
        let mut cj = cron(&format!("*/{step} * * * *"));
        cj.metadata.creation_timestamp = Some(Time(t(created)));
        let now = t(created + later);
        let p = plan(&cj, &[], &utc(), now);
        let next = Schedule::parse(&format!("*/{step} * * * *")).unwrap().next(t(created), &utc()).unwrap();
        match p.scheduled {
            Some(s) => {
                prop_assert!(s <= now && s > t(created));
                prop_assert!(next <= now);
                prop_assert_eq!(p.create.unwrap().metadata.name.unwrap(), job_name("tick", s));
                let minute = TimeZone::UTC.to_datetime(s).minute() as u32;
                prop_assert!(minute.is_multiple_of(step));
            }
            None => prop_assert!(next > now),
        }
        prop_assert!(p.requeue_after.is_some_and(|d| d <= Duration::from_secs(3600)));
    }
}
