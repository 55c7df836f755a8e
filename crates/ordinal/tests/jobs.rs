//! Jobs and CronJobs end to end: real pods on ordinal's own node, driven
//! and watched with the real kubectl — a Job runs to `Complete`
//! (`kubectl wait --for=condition=complete`), a failing one stops at its
//! back-off limit with `BackoffLimitExceeded`, an Indexed one gives each
//! pod its index, a finished one with a TTL goes, a CronJob starts jobs,
//! and the API refuses what upstream refuses. The
//! CronJob's timing is tested through its planner with a fake clock
//! (`ordinal_controllers::cronjob::plan`), not by waiting for minutes.
//!
//! Every wait is a bounded poll or kubectl's own `--timeout`.

mod common;

use std::time::Duration;

use common::{Ordinal, eventually, get};

const JOBS: &str = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: ok}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, "exit 0"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, "exit 1"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, "echo index=$JOB_COMPLETION_INDEX host=$(hostname)"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: brief}
spec:
  ttlSecondsAfterFinished: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        command: [sh, -c, "exit 0"]
"#;

/// `kubectl wait` on `what` for `condition`, within two minutes.
fn wait(o: &Ordinal, what: &str, condition: &str) {
    let out = o.run(&[
        "wait",
        &format!("--for=condition={condition}"),
        what,
        "--timeout=120s",
    ]);
    assert!(
        out.status.success(),
        "kubectl wait {what} {condition}: {}{}\npods:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&o.run(&["get", "pods", "-o", "wide"]).stdout),
    );
}

/// The pods of job `job`: name, phase, finalizers.
fn pods_of(o: &Ordinal, job: &str) -> Vec<(String, String, String)> {
    let out = o.ok(&[
        "get",
        "pods",
        "-l",
        &format!("batch.kubernetes.io/job-name={job}"),
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.status.phase} [{.metadata.finalizers}]{"\n"}{end}"#,
    ]);
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(3, ' ').collect();
            (f.len() == 3).then(|| (f[0].into(), f[1].into(), f[2].into()))
        })
        .collect()
}

#[test]
fn jobs_complete_fail_and_index_their_pods() {
    let o = Ordinal::start();
    common::node_name(&o);
    o.ok_stdin(&["apply", "-f", "-"], JOBS);

    // completions 3 / parallelism 2 of `exit 0`.
    wait(&o, "job/ok", "complete");
    assert_eq!(get(&o, "job/ok", "{.status.succeeded}"), "3");
    assert_eq!(
        get(
            &o,
            "job/ok",
            r#"{.status.conditions[?(@.type=="Complete")].reason}"#
        ),
        "CompletionsReached"
    );
    let ok_pods = pods_of(&o, "ok");
    assert_eq!(ok_pods.len(), 3, "{ok_pods:?}");
    for (name, phase, finalizers) in &ok_pods {
        assert_eq!(phase, "Succeeded", "{name}");
        assert!(
            !finalizers.contains("job-tracking"),
            "{name} still tracked: {finalizers}"
        );
    }
    let table = o.ok(&["get", "job", "ok"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["ok", "Complete", "3/3"]);

    // Indexed: each pod knows its index and has its own host name.
    wait(&o, "job/idx", "complete");
    assert_eq!(get(&o, "job/idx", "{.status.completedIndexes}"), "0-2");
    let mut seen: Vec<String> = pods_of(&o, "idx")
        .iter()
        .map(|(name, _, _)| o.ok(&["logs", name]).trim().to_string())
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "index=0 host=idx-0",
            "index=1 host=idx-1",
            "index=2 host=idx-2"
        ]
    );

    // backoffLimit 1 of `exit 1`: two failures, then Failed.
    wait(&o, "job/bad", "failed");
    assert_eq!(
        get(
            &o,
            "job/bad",
            r#"{.status.conditions[?(@.type=="Failed")].reason}"#
        ),
        "BackoffLimitExceeded"
    );
    assert_eq!(get(&o, "job/bad", "{.status.failed}"), "2");
    let row = o.ok(&["get", "job", "bad", "--no-headers"]);
    assert_eq!(row.split_whitespace().nth(1), Some("Failed"), "{row}");

    // A CronJob every two seconds: its job runs and is seen complete.
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: often}
spec:
  schedule: "@every 2s"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers: [{name: c, image: "busybox:1.36", command: [sh, -c, "exit 0"]}]
"#,
    );
    let owned = |o: &Ordinal| -> Vec<String> {
        let out = o.ok(&[
            "get",
            "jobs",
            "-o",
            r#"jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="often")]}{.metadata.name}={.status.succeeded}{"\n"}{end}"#,
        ]);
        out.lines().map(str::to_string).collect()
    };
    eventually("a scheduled job succeeds", Duration::from_secs(90), || {
        !get(&o, "cronjob/often", "{.status.lastSuccessfulTime}").is_empty()
    });
    let jobs = owned(&o);
    // Named for the minute it was scheduled for, as upstream.
    assert!(
        !jobs.is_empty()
            && jobs.iter().all(|j| {
                let minutes = j.split('=').next().unwrap().strip_prefix("often-");
                minutes.is_some_and(|m| m.len() >= 8 && m.bytes().all(|c| c.is_ascii_digit()))
            }),
        "{jobs:?}"
    );
    // ttlSecondsAfterFinished: 0 — gone once finished, pods and all.
    eventually("the finished job expires", Duration::from_secs(60), || {
        !o.run(&["get", "job", "brief"]).status.success() && pods_of(&o, "brief").is_empty()
    });

    let described = o.ok(&["describe", "job", "ok"]);
    assert!(
        described.contains("0 Active (0 Ready) / 3 Succeeded / 0 Failed"),
        "{described}"
    );
    assert!(described.contains("Created pod: ok-"), "{described}");

    // Deleting a job takes its pods along, finished or still running
    // (their tracking finalizer comes off).
    o.ok(&["delete", "job", "ok", "--wait=false"]);
    o.ok(&[
        "create",
        "job",
        "sleeper",
        "--image=busybox:1.36",
        "--",
        "sleep",
        "3600",
    ]);
    eventually("the sleeper runs", Duration::from_secs(60), || {
        pods_of(&o, "sleeper")
            .iter()
            .any(|(_, phase, _)| phase == "Running")
    });
    o.ok(&[
        "delete",
        "job",
        "sleeper",
        "--cascade=foreground",
        "--wait=false",
    ]);
    eventually("the jobs' pods go", Duration::from_secs(60), || {
        pods_of(&o, "ok").is_empty() && pods_of(&o, "sleeper").is_empty()
    });
    eventually(
        "the foreground deletion ends",
        Duration::from_secs(30),
        || !o.run(&["get", "job", "sleeper"]).status.success(),
    );
}

#[test]
fn the_api_refuses_what_upstream_refuses() {
    let o = Ordinal::start_with(&["--no-node"]);
    let always = r#"
apiVersion: batch/v1
kind: Job
metadata: {name: forever}
spec:
  template:
    spec:
      containers: [{name: c, image: busybox:1.36}]
"#;
    let out = o.run_stdin(&["apply", "-f", "-"], always);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "The Job \"forever\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    let out = o.run(&[
        "create",
        "cronjob",
        "bad",
        "--image=busybox:1.36",
        "--schedule=61 * * * *",
    ]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: failed to create cronjob: CronJob.batch \"bad\" is invalid: spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
    );
    o.ok(&[
        "create",
        "cronjob",
        "tick",
        "--image=busybox:1.36",
        "--schedule=*/5 * * * *",
        "--",
        "true",
    ]);
    let table = o.ok(&["get", "cj"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ]
    );
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..8],
        ["tick", "*/5", "*", "*", "*", "*", "<none>", "False"]
    );
    assert_eq!(
        get(
            &o,
            "cronjob/tick",
            "{.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit} {.spec.failedJobsHistoryLimit}"
        ),
        "Allow 3 1"
    );
    // Upstream's immutability: a job's template cannot change.
    let never = always.replace("containers:", "restartPolicy: Never\n      containers:");
    o.ok_stdin(&["apply", "-f", "-"], &never);
    // Applying it again changes nothing; suspending it is allowed.
    let again = o.ok_stdin(&["apply", "-f", "-"], &never);
    assert_eq!(again.trim(), "job.batch/forever unchanged");
    o.ok(&[
        "patch",
        "job",
        "forever",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    let out = o.run(&[
        "patch",
        "job",
        "forever",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"busybox:2"}]"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.template: Invalid value") && err.contains("field is immutable"),
        "{err}"
    );
    let described = o.ok(&["describe", "cronjob", "tick"]);
    for line in ["Schedule:", "*/5 * * * *", "Concurrency Policy:", "Allow"] {
        assert!(described.contains(line), "{described}");
    }
    // A job from a CronJob's template, by hand.
    o.ok(&["create", "job", "manual", "--from=cronjob/tick"]);
    assert_eq!(
        get(
            &o,
            "job/manual",
            "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.spec.backoffLimit}"
        ),
        "CronJob/tick 6"
    );
    let selector = get(&o, "job/forever", "{.spec.selector.matchLabels}");
    assert!(
        selector.contains("batch.kubernetes.io/controller-uid"),
        "{selector}"
    );
}
