//! The Job planner, alone: scenarios, a small simulated cluster that runs
//! plans to their end, and invariants over arbitrary pods.

use super::*;
use k8s_openapi::api::batch::v1::{PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, PodSpec, PodStatus,
};
use proptest::prelude::*;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

fn job(completions: Option<i32>, parallelism: i32) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("default".into()),
            uid: Some("job-uid".into()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            completions,
            parallelism: Some(parallelism),
            backoff_limit: Some(6),
            completion_mode: Some("NonIndexed".into()),
            suspend: Some(false),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("job-name".to_string(), "pi".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("busybox".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: Some(JobStatus::default()),
    }
}

fn indexed(completions: i32, parallelism: i32) -> Job {
    let mut j = job(Some(completions), parallelism);
    j.spec.as_mut().unwrap().completion_mode = Some("Indexed".into());
    j
}

fn pod(name: &str, phase: &str, exit: Option<i32>, finished: i64) -> Pod {
    let mut p = new_pod(
        &job(Some(1), 1),
        &job(Some(1), 1).spec.unwrap().template,
        None,
    );
    p.metadata.name = Some(name.into());
    p.metadata.uid = Some(format!("uid-{name}"));
    p.metadata.creation_timestamp = Some(Time(t(0)));
    let state = exit.map(|code| ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            finished_at: Some(Time(t(finished))),
            ..Default::default()
        }),
        ..Default::default()
    });
    p.status = Some(PodStatus {
        phase: Some(phase.into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "c".into(),
            state,
            ..Default::default()
        }]),
        ..Default::default()
    });
    p
}

fn status(plan: &Plan) -> &JobStatus {
    plan.status.as_ref().expect("a status write")
}

fn condition<'a>(s: &'a JobStatus, kind: &str) -> Option<&'a JobCondition> {
    find_condition(s, kind)
}

#[test]
fn a_new_job_starts_parallelism_pods() {
    let j = job(Some(3), 2);
    let p = plan(&j, &[], t(0));
    assert_eq!(p.create.len(), 2);
    let s = status(&p);
    assert_eq!(s.start_time, Some(Time(t(0))));
    assert_eq!(s.active, Some(2));
    assert_eq!(s.ready, Some(0));
    let made = &p.create[0];
    assert_eq!(made.metadata.generate_name.as_deref(), Some("pi-"));
    assert_eq!(
        made.metadata.finalizers,
        Some(vec![TRACKING_FINALIZER.to_string()])
    );
    let owner = &made.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Job", "job-uid", Some(true))
    );
}

#[test]
fn finished_pods_are_recorded_then_released_then_counted() {
    let mut j = job(Some(3), 2);
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let a = pod("pi-a", "Succeeded", Some(0), 5);
    let b = pod("pi-b", "Succeeded", Some(0), 6);
    let p = plan(&j, &[&a, &b], t(10));
    let record = p.record.as_ref().expect("recorded first");
    assert_eq!(
        record
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded
            .as_deref(),
        Some(&["uid-pi-a".to_string(), "uid-pi-b".to_string()][..])
    );
    assert_eq!(p.remove_finalizers.len(), 2);
    let s = status(&p);
    assert_eq!(s.succeeded, Some(2));
    assert_eq!(
        s.uncounted_terminated_pods,
        Some(UncountedTerminatedPods::default())
    );
    // One more to go.
    assert_eq!(p.create.len(), 1);
}

#[test]
fn enough_successes_meet_the_criteria_then_complete() {
    let mut j = job(Some(3), 2);
    let st = j.status.as_mut().unwrap();
    st.start_time = Some(Time(t(0)));
    st.succeeded = Some(3);
    let p = plan(&j, &[], t(20));
    let s = status(&p);
    let met = condition(s, "SuccessCriteriaMet").unwrap();
    assert_eq!(met.reason.as_deref(), Some(reason::COMPLETIONS_REACHED));
    let complete = condition(s, "Complete").unwrap();
    assert_eq!(complete.status, "True");
    assert_eq!(
        complete.message.as_deref(),
        Some(reason::COMPLETIONS_MESSAGE)
    );
    assert_eq!(s.completion_time, Some(Time(t(20))));
    assert!(p.create.is_empty());
    assert!(p.events.iter().any(|e| e.reason == "Completed"));
}

#[test]
fn a_work_queue_completes_once_one_succeeded_and_none_run() {
    let mut j = job(None, 2);
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let done = pod("pi-a", "Succeeded", Some(0), 3);
    let running = pod("pi-b", "Running", None, 0);
    let p = plan(&j, &[&done, &running], t(5));
    assert!(p.create.is_empty(), "no new pod once one succeeded");
    assert!(condition(status(&p), "Complete").is_none());
    let p = plan(&j, &[&done], t(6));
    assert!(condition(status(&p), "Complete").is_some());
}

#[test]
fn failures_back_off_then_exceed_the_limit() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().backoff_limit = Some(1);
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let first = pod("pi-a", "Failed", Some(1), 10);
    let p = plan(&j, &[&first], t(12));
    assert_eq!(status(&p).failed, Some(1));
    assert!(p.create.is_empty(), "waits out the back-off");
    assert_eq!(p.requeue_after, Some(Duration::from_secs(8)));
    assert!(
        plan(&j, &[&first], t(21)).create.len() == 1,
        "then replaces"
    );

    // The replacement fails too: past the limit of one.
    let st = j.status.as_mut().unwrap();
    st.failed = Some(1);
    let mut counted = first.clone();
    counted.metadata.finalizers = None;
    let second = pod("pi-b", "Failed", Some(1), 30);
    let p = plan(&j, &[&counted, &second], t(31));
    let s = status(&p);
    assert_eq!(s.failed, Some(2));
    let target = condition(s, "FailureTarget").unwrap();
    assert_eq!(
        target.reason.as_deref(),
        Some(reason::BACKOFF_LIMIT_EXCEEDED)
    );
    let failed = condition(s, "Failed").unwrap();
    assert_eq!(
        failed.reason.as_deref(),
        Some(reason::BACKOFF_LIMIT_EXCEEDED)
    );
    assert_eq!(failed.message.as_deref(), Some(reason::BACKOFF_MESSAGE));
    assert!(s.completion_time.is_none());
    assert!(
        p.events
            .iter()
            .any(|e| e.warning && e.reason == "BackoffLimitExceeded")
    );
}

#[test]
fn on_failure_restarts_count_against_the_limit() {
    let mut j = job(Some(1), 1);
    let spec = j.spec.as_mut().unwrap();
    spec.backoff_limit = Some(2);
    spec.template.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let mut restarting = pod("pi-a", "Running", None, 0);
    restarting
        .status
        .as_mut()
        .unwrap()
        .container_statuses
        .as_mut()
        .unwrap()[0]
        .restart_count = 1;
    assert!(condition(status(&plan(&j, &[&restarting], t(5))), "FailureTarget").is_none());
    restarting
        .status
        .as_mut()
        .unwrap()
        .container_statuses
        .as_mut()
        .unwrap()[0]
        .restart_count = 2;
    let p = plan(&j, &[&restarting], t(6));
    assert_eq!(
        condition(status(&p), "FailureTarget")
            .unwrap()
            .reason
            .as_deref(),
        Some(reason::BACKOFF_LIMIT_EXCEEDED)
    );
    assert_eq!(p.delete.len(), 1);
}

#[test]
fn lowering_parallelism_deletes_the_least_advanced_pods_first() {
    let mut j = job(Some(10), 1);
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let mut scheduled = pod("pi-old", "Running", None, 0);
    scheduled.spec.as_mut().unwrap().node_name = Some("n1".into());
    let pending = pod("pi-new", "Pending", None, 0);
    let p = plan(&j, &[&scheduled, &pending], t(5));
    assert_eq!(
        p.delete,
        vec![PodRef {
            name: "pi-new".into(),
            uid: "uid-pi-new".into()
        }]
    );
    assert!(p.create.is_empty());
    assert_eq!(status(&p).active, Some(1));
    assert_eq!(status(&p).terminating, Some(1));
}

#[test]
fn the_back_off_doubles_and_is_capped() {
    let pods: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("p{i}"), "Failed", Some(1), i * 2))
        .collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    // Three failures since the last success: 40 s from the last one.
    assert_eq!(
        backoff_remaining(&refs, t(4)),
        Some(Duration::from_secs(40))
    );
    let many: Vec<Pod> = (0..12)
        .map(|i| pod(&format!("p{i}"), "Failed", Some(1), 0))
        .collect();
    let refs: Vec<&Pod> = many.iter().collect();
    assert_eq!(backoff_remaining(&refs, t(0)), Some(MAX_BACKOFF));
    let success = pod("ok", "Succeeded", Some(0), 100);
    let mut with_success = refs.clone();
    with_success.push(&success);
    assert_eq!(backoff_remaining(&with_success, t(100)), None);
}

#[test]
fn the_deadline_fails_the_job_once_its_pods_are_gone() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().active_deadline_seconds = Some(60);
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let running = pod("pi-a", "Running", None, 0);
    let early = plan(&j, &[&running], t(30));
    assert_eq!(
        early.requeue_after,
        Some(Duration::from_secs(30)),
        "looks again at the deadline"
    );
    let p = plan(&j, &[&running], t(61));
    assert_eq!(
        p.delete,
        vec![PodRef {
            name: "pi-a".into(),
            uid: "uid-pi-a".into()
        }]
    );
    let s = status(&p);
    assert_eq!(
        condition(s, "FailureTarget").unwrap().reason.as_deref(),
        Some(reason::DEADLINE_EXCEEDED)
    );
    assert!(condition(s, "Failed").is_none(), "its pod is still going");
    assert_eq!(s.terminating, Some(1));

    j.status = Some(s.clone());
    let mut going = running.clone();
    going.metadata.deletion_timestamp = Some(Time(t(61)));
    let p = plan(&j, &[&going], t(62));
    assert_eq!(p.remove_finalizers.len(), 1);
    let s = status(&p);
    assert_eq!(s.failed, Some(1), "a deleted pod counts as failed");
    assert!(condition(s, "Failed").is_none());
    j.status = Some(s.clone());
    let p = plan(&j, &[], t(63));
    let failed = condition(status(&p), "Failed").unwrap();
    assert_eq!(failed.message.as_deref(), Some(reason::DEADLINE_MESSAGE));
}

#[test]
fn suspend_deletes_pods_and_resume_restarts_the_clock() {
    let mut j = job(Some(2), 2);
    j.spec.as_mut().unwrap().suspend = Some(true);
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    let running = pod("pi-a", "Running", None, 0);
    let p = plan(&j, &[&running], t(10));
    assert_eq!(p.delete.len(), 1);
    assert!(p.create.is_empty());
    let s = status(&p);
    let suspended = condition(s, "Suspended").unwrap();
    assert_eq!(
        (suspended.status.as_str(), suspended.reason.as_deref()),
        ("True", Some("JobSuspended"))
    );
    assert_eq!(s.start_time, None);

    // Its pod went while suspended: not a failure.
    j.status = Some(s.clone());
    let mut going = running.clone();
    going.metadata.deletion_timestamp = Some(Time(t(10)));
    let p = plan(&j, &[&going], t(11));
    assert_eq!(p.remove_finalizers.len(), 1);
    assert_eq!(p.status.as_ref().and_then(|s| s.failed), None);

    if let Some(s) = &p.status {
        j.status = Some(s.clone());
    }
    j.spec.as_mut().unwrap().suspend = Some(false);
    let p = plan(&j, &[], t(100));
    let s = status(&p);
    let resumed = condition(s, "Suspended").unwrap();
    assert_eq!(
        (resumed.status.as_str(), resumed.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
    assert_eq!(s.start_time, Some(Time(t(100))));
    assert_eq!(p.create.len(), 2);
}

#[test]
fn indexed_pods_carry_their_index() {
    let j = indexed(3, 2);
    let p = plan(&j, &[], t(0));
    assert_eq!(p.create.len(), 2);
    let first = &p.create[0];
    assert_eq!(first.metadata.generate_name.as_deref(), Some("pi-0-"));
    assert_eq!(
        first.metadata.annotations.as_ref().unwrap()[COMPLETION_INDEX],
        "0"
    );
    assert_eq!(
        first.metadata.labels.as_ref().unwrap()[COMPLETION_INDEX],
        "0"
    );
    let spec = first.spec.as_ref().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("pi-0"));
    let env = &spec.containers[0].env.as_ref().unwrap()[0];
    assert_eq!(env.name, COMPLETION_INDEX_ENV);
    assert_eq!(
        env.value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap()
            .field_path,
        "metadata.labels['batch.kubernetes.io/job-completion-index']"
    );
    assert_eq!(
        p.create[1].spec.as_ref().unwrap().hostname.as_deref(),
        Some("pi-1")
    );

    // Index 0 succeeded, 1 runs: 2 is next.
    let mut done = p.create[0].clone();
    done.metadata.name = Some("pi-0-x".into());
    done.metadata.uid = Some("u0".into());
    done.status = Some(PodStatus {
        phase: Some("Succeeded".into()),
        ..Default::default()
    });
    let mut running = p.create[1].clone();
    running.metadata.name = Some("pi-1-x".into());
    running.metadata.uid = Some("u1".into());
    running.status = Some(PodStatus {
        phase: Some("Running".into()),
        ..Default::default()
    });
    let mut j = j.clone();
    j.status = Some(status(&p).clone());
    let p = plan(&j, &[&done, &running], t(5));
    let s = status(&p);
    assert_eq!(s.completed_indexes.as_deref(), Some("0"));
    assert_eq!(s.succeeded, Some(1));
    assert_eq!(p.create.len(), 1);
    assert_eq!(
        p.create[0].metadata.annotations.as_ref().unwrap()[COMPLETION_INDEX],
        "2"
    );
}

#[test]
fn index_sets_read_and_print_as_upstream() {
    let set = parse_indexes("0-2,5,7-8");
    assert_eq!(set, [0, 1, 2, 5, 7, 8].into_iter().collect());
    assert_eq!(format_indexes(&set), "0-2,5,7-8");
    assert_eq!(format_indexes(&BTreeSet::new()), "");
}

fn with_policy(action: &str, codes: Vec<i32>) -> Job {
    let mut j = job(Some(1), 1);
    let spec = j.spec.as_mut().unwrap();
    spec.pod_failure_policy = Some(PodFailurePolicy {
        rules: vec![PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: None,
                operator: "In".into(),
                values: codes,
            }),
            on_pod_conditions: None,
        }],
    });
    spec.pod_replacement_policy = Some("Failed".into());
    j.status.as_mut().unwrap().start_time = Some(Time(t(0)));
    j
}

#[test]
fn the_pod_failure_policy_fails_the_job_or_ignores_the_pod() {
    let j = with_policy("FailJob", vec![42]);
    let failed = pod("pi-a", "Failed", Some(42), 1);
    let p = plan(&j, &[&failed], t(2));
    let s = status(&p);
    let target = condition(s, "FailureTarget").unwrap();
    assert_eq!(target.reason.as_deref(), Some(reason::POD_FAILURE_POLICY));
    assert_eq!(
        target.message.as_deref(),
        Some(
            "Container c for pod default/pi-a failed with exit code 42 matching FailJob rule at index 0"
        )
    );
    assert!(condition(s, "Failed").is_some());

    let other = pod("pi-b", "Failed", Some(1), 1);
    let p = plan(&j, &[&other], t(2));
    assert!(
        condition(status(&p), "FailureTarget").is_none(),
        "exit 1 is counted"
    );
    assert_eq!(status(&p).failed, Some(1));

    let j = with_policy("Ignore", vec![42]);
    let p = plan(&j, &[&failed], t(2));
    assert_eq!(p.remove_finalizers.len(), 1);
    assert_eq!(status(&p).failed, None, "ignored");
    assert_eq!(p.create.len(), 1, "and replaced at once");
}

#[test]
fn finished_jobs_expire_after_their_ttl() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().ttl_seconds_after_finished = Some(60);
    let st = j.status.as_mut().unwrap();
    st.completion_time = Some(Time(t(0)));
    st.conditions = Some(vec![JobCondition {
        type_: "Complete".into(),
        status: "True".into(),
        ..Default::default()
    }]);
    let p = plan(&j, &[], t(10));
    assert!(!p.delete_job);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(50)));
    assert!(plan(&j, &[], t(60)).delete_job);
    assert!(p.status.is_none(), "a finished job's status stays");
}

#[test]
fn a_job_managed_elsewhere_is_left_alone() {
    let mut j = job(Some(1), 1);
    j.spec.as_mut().unwrap().managed_by = Some("example.com/batch".into());
    let p = plan(&j, &[], t(0));
    assert!(p.create.is_empty() && p.status.is_none());
    j.spec.as_mut().unwrap().managed_by = Some(JOB_CONTROLLER.into());
    assert_eq!(plan(&j, &[], t(0)).create.len(), 1);
}

#[test]
fn a_job_being_deleted_lets_go_of_its_pods() {
    let mut j = job(Some(1), 1);
    j.metadata.deletion_timestamp = Some(Time(t(0)));
    let running = pod("pi-a", "Running", None, 0);
    let p = plan(&j, &[&running], t(1));
    assert_eq!(p.remove_finalizers.len(), 1);
    assert!(p.create.is_empty() && p.delete.is_empty() && p.status.is_none());
}

/// A small cluster: the plan's writes applied, each running pod finishing
/// with `exit(n)`; time moves to the next requeue when nothing happens.
fn simulate(mut j: Job, exit: impl Fn(usize) -> i32) -> (Job, usize) {
    let mut pods: Vec<Pod> = Vec::new();
    let mut made = 0usize;
    let mut now = t(0);
    for _ in 0..200 {
        if is_finished(&j) {
            return (j, made);
        }
        let refs: Vec<&Pod> = pods.iter().collect();
        let p = plan(&j, &refs, now);
        if let Some(record) = &p.record {
            j.status = Some(record.clone());
        }
        for r in &p.remove_finalizers {
            let pod = pods
                .iter_mut()
                .find(|x| x.metadata.uid.as_deref() == Some(&r.uid))
                .unwrap();
            pod.metadata.finalizers = None;
        }
        for r in &p.delete {
            pods.retain(|x| x.metadata.uid.as_deref() != Some(&r.uid));
        }
        for new in &p.create {
            let mut pod = new.clone();
            pod.metadata.name = Some(format!("pod-{made}"));
            pod.metadata.uid = Some(format!("uid-{made}"));
            pod.metadata.creation_timestamp = Some(Time(now));
            pod.status = Some(PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            });
            pods.push(pod);
            made += 1;
        }
        if let Some(s) = &p.status {
            j.status = Some(s.clone());
        }
        // The node: every running pod finishes a second later.
        now += SignedDuration::from_secs(1);
        let mut finished_any = false;
        for running in pods.iter_mut().filter(|p| phase(p) == "Running") {
            let n: usize = running.metadata.name.as_deref().unwrap()[4..]
                .parse()
                .unwrap();
            let code = exit(n);
            let phase = if code == 0 { "Succeeded" } else { "Failed" };
            running.status = pod("x", phase, Some(code), now.as_second() - 1_700_000_000).status;
            finished_any = true;
        }
        if !finished_any && p.create.is_empty() && p.status.is_none() && p.record.is_none() {
            match p.requeue_after {
                Some(d) => now += SignedDuration::try_from(d).unwrap(),
                None => now += SignedDuration::from_secs(1),
            }
        }
        // Counted pods without a finalizer are garbage to the test.
        pods.retain(|p| has_finalizer(p) || phase(p) == "Running");
    }
    panic!("job never finished: {:?}", j.status);
}

#[test]
fn a_simulated_job_runs_to_completion() {
    let (j, made) = simulate(job(Some(3), 2), |_| 0);
    assert!(is_complete(&j));
    let s = j.status.unwrap();
    assert_eq!(s.succeeded, Some(3));
    assert_eq!(made, 3, "no pod more than needed");
    assert!(s.completion_time.is_some());
}

#[test]
fn a_simulated_failing_job_stops_at_its_limit() {
    let mut failing = job(Some(1), 1);
    failing.spec.as_mut().unwrap().backoff_limit = Some(2);
    let (j, made) = simulate(failing, |_| 1);
    let s = j.status.unwrap();
    assert_eq!(s.failed, Some(3));
    assert_eq!(made, 3);
    assert!(condition(&s, "Failed").is_some());
}

#[test]
fn a_simulated_indexed_job_completes_every_index() {
    let (j, made) = simulate(indexed(5, 2), |n| if n == 1 { 1 } else { 0 });
    let s = j.status.unwrap();
    assert_eq!(s.completed_indexes.as_deref(), Some("0-4"));
    assert_eq!(s.failed, Some(1));
    assert_eq!(made, 6);
}

fn arb_pod() -> impl Strategy<Value = Pod> {
    (
        0usize..40,
        prop_oneof![
            Just("Pending"),
            Just("Running"),
            Just("Succeeded"),
            Just("Failed")
        ],
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(0i32..4),
    )
        .prop_map(|(n, phase, tracked, deleted, index)| {
            let code = match phase {
                "Succeeded" => Some(0),
                "Failed" => Some(1),
                _ => None,
            };
            let mut p = pod(&format!("p{n}"), phase, code, 0);
            if !tracked {
                p.metadata.finalizers = None;
            }
            if deleted {
                p.metadata.deletion_timestamp = Some(Time(t(0)));
            }
            if let Some(i) = index {
                p.metadata
                    .annotations
                    .get_or_insert_default()
                    .insert(COMPLETION_INDEX.into(), i.to_string());
            }
            p
        })
}

proptest! {
    /// Whatever the pods: counts never go down, no more pods run than
    /// parallelism allows, a finished job starts nothing, Complete and
    /// Failed never both hold, and every pod released was counted or
    /// finished.
    #[test]
    fn plans_keep_the_invariants(
        pods in proptest::collection::vec(arb_pod(), 0..12),
        completions in proptest::option::of(0i32..5),
        parallelism in 0i32..4,
        index_mode in any::<bool>(),
        succeeded in 0i32..3,
        failed in 0i32..3,
        suspend in any::<bool>(),
    ) {
        let mut pods = pods;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        pods.dedup_by(|a, b| a.metadata.name == b.metadata.name);
        let mut j = if index_mode { indexed(completions.unwrap_or(3), parallelism) } else { job(completions, parallelism) };
        j.spec.as_mut().unwrap().suspend = Some(suspend);
        let st = j.status.as_mut().unwrap();
        st.succeeded = (succeeded > 0 && !index_mode).then_some(succeeded);
        st.failed = (failed > 0).then_some(failed);
        let refs: Vec<&Pod> = pods.iter().collect();
        let p = plan(&j, &refs, t(100));
        let stored = j.status.clone().unwrap();
        if let Some(s) = &p.status {
            prop_assert!(s.succeeded.unwrap_or(0) >= stored.succeeded.unwrap_or(0));
            prop_assert!(s.failed.unwrap_or(0) >= stored.failed.unwrap_or(0));
            prop_assert!(!(condition_true(s, "Complete") && condition_true(s, "Failed")));
            let running = s.active.unwrap_or(0);
            if !index_mode || running > 0 {
                prop_assert!(running <= parallelism.max(0) || p.create.is_empty(), "{} > {}", running, parallelism);
            }
            prop_assert!(s.ready.unwrap_or(0) <= s.active.unwrap_or(0));
        }
        if suspend {
            prop_assert!(p.create.is_empty());
        }
        for r in &p.remove_finalizers {
            let pod = pods.iter().find(|x| x.metadata.uid.as_deref() == Some(r.uid.as_str())).unwrap();
            prop_assert!(
                matches!(phase(pod), "Succeeded" | "Failed") || pod.metadata.deletion_timestamp.is_some(),
                "released a running pod"
            );
        }
    }
}
