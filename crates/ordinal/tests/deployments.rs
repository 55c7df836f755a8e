//! Deployments end to end: real pods on ordinal's own node, driven and
//! watched with the real kubectl — `kubectl rollout status` through a
//! creation, a rolling update (`kubectl set image`), `kubectl rollout
//! undo` back onto the first ReplicaSet, `kubectl scale`, pause and
//! resume, a Recreate rollout that never runs old and new pods together,
//! a broken image that exceeds its progress deadline, and a bare
//! ReplicaSet adopting, releasing and replacing pods. The rollout
//! arithmetic itself (surge, unavailability, proportional scaling) is
//! tested through the planner (`ordinal_controllers::deployment::plan`).
//!
//! Every wait is a bounded poll or kubectl's own `--timeout`.

mod common;

use std::time::Duration;

use common::{Ordinal, eventually, get, peek};

const WAIT: Duration = Duration::from_secs(120);

/// A deployment of `name` running busybox's `sleep` under `image` (the
/// same image under two spellings makes two templates).
fn deployment(name: &str, replicas: u32, strategy: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  strategy: {strategy}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox:1.36
        command: [sleep, "3600"]
"#
    )
}

/// The same busybox image, spelt in full: a new template.
const OTHER_SPELLING: &str = "docker.io/library/busybox:1.36";

/// `kubectl rollout status` within two minutes; its output.
fn rollout_status(o: &Ordinal, what: &str) -> String {
    let out = o.run(&["rollout", "status", what, "--timeout=120s"]);
    assert!(
        out.status.success(),
        "kubectl rollout status {what}: {}{}\nreplica sets:\n{}\npods:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&o.run(&["get", "rs", "-o", "wide"]).stdout),
        String::from_utf8_lossy(&o.run(&["get", "pods", "-o", "wide"]).stdout),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A ReplicaSet as the test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rs {
    name: String,
    revision: String,
    image: String,
    spec: u32,
    status: u32,
}

/// The ReplicaSets of `app`.
fn sets(o: &Ordinal, app: &str) -> Vec<Rs> {
    let out = o.ok(&[
        "get",
        "rs",
        "-l",
        &format!("app={app}"),
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations.deployment\.kubernetes\.io/revision} {.spec.template.spec.containers[0].image} {.spec.replicas} {.status.replicas}{"\n"}{end}"#,
    ]);
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
            Rs {
                name: f[0].into(),
                revision: f.get(1).copied().unwrap_or("").into(),
                image: f.get(2).copied().unwrap_or("").into(),
                spec: n(3),
                status: n(4),
            }
        })
        .collect()
}

/// The set named `name` of `app` (two sets made within a second have the
/// same creationTimestamp, so the tests find sets by name, not order).
fn set(o: &Ordinal, app: &str, name: &str) -> Rs {
    let all = sets(o, app);
    all.iter()
        .find(|s| s.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no replica set {name}: {all:?}"))
}

/// The set of `app` other than `name` (there are two).
fn other(o: &Ordinal, app: &str, name: &str) -> Rs {
    let all = sets(o, app);
    assert_eq!(all.len(), 2, "{all:?}");
    all.into_iter().find(|s| s.name != name).unwrap()
}

fn events(o: &Ordinal, name: &str) -> String {
    o.ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.kind=Deployment,involvedObject.name={name}"),
        "-o",
        r#"jsonpath={range .items[*]}{.source.component} {.reason} {.message}{"\n"}{end}"#,
    ])
}

#[test]
fn rolling_update_undo_scale_pause_and_resume() {
    let o = Ordinal::start();
    common::node_name(&o);
    o.ok_stdin(
        &["apply", "-f", "-"],
        &deployment(
            "web",
            2,
            "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}",
        ),
    );
    let out = rollout_status(&o, "deployment/web");
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
    let first = sets(&o, "web");
    assert_eq!(first.len(), 1, "{first:?}");
    let first = first[0].clone();
    assert_eq!(
        (first.revision.as_str(), first.spec, first.status),
        ("1", 2, 2)
    );
    let hash = get(
        &o,
        &format!("rs/{}", first.name),
        "{.metadata.labels.pod-template-hash}",
    );
    assert_eq!(first.name, format!("web-{hash}"));
    let pod_hashes = get(
        &o,
        "pods",
        "{range .items[*]}{.metadata.labels.pod-template-hash} {end}",
    );
    assert_eq!(pod_hashes.trim(), format!("{hash} {hash}"));
    assert_eq!(
        get(&o, "deployment/web", "{.status.availableReplicas}"),
        "2"
    );

    // A rolling update: a second set takes over, the first goes to zero.
    o.ok(&[
        "set",
        "image",
        "deployment/web",
        &format!("c={OTHER_SPELLING}"),
    ]);
    rollout_status(&o, "deployment/web");
    assert_eq!(set(&o, "web", &first.name).spec, 0);
    let after = other(&o, "web", &first.name);
    assert_eq!(
        (after.revision.as_str(), after.image.as_str(), after.spec),
        ("2", OTHER_SPELLING, 2)
    );
    eventually("the old set's pods are gone", WAIT, || {
        set(&o, "web", &first.name).status == 0
    });
    let second = after.name.clone();
    eventually("the scaling events", WAIT, || {
        let e = events(&o, "web");
        e.contains(&format!(
            "deployment-controller ScalingReplicaSet Scaled up replica set {second} to 1"
        )) && e.contains(&format!("Scaled down replica set {} to 0 from", first.name))
    });

    // Undo: back onto the first set, which becomes revision 3.
    o.ok(&["rollout", "undo", "deployment/web"]);
    rollout_status(&o, "deployment/web");
    assert_eq!(sets(&o, "web").len(), 2, "no third set");
    let undone = set(&o, "web", &first.name);
    assert_eq!((undone.revision.as_str(), undone.spec), ("3", 2));
    assert_eq!(set(&o, "web", &second).spec, 0);
    assert_eq!(
        get(
            &o,
            "deployment/web",
            r"{.metadata.annotations.deployment\.kubernetes\.io/revision}"
        ),
        "3"
    );
    let history = o.ok(&["rollout", "history", "deployment/web"]);
    let revisions: Vec<&str> = history
        .lines()
        .skip_while(|l| !l.starts_with("REVISION"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");

    // Scale.
    o.ok(&["scale", "deployment/web", "--replicas=3"]);
    rollout_status(&o, "deployment/web");
    assert_eq!(get(&o, "deployment/web", "{.status.readyReplicas}"), "3");
    assert_eq!(set(&o, "web", &first.name).spec, 3);

    // Paused: a new template waits; scaling still applies.
    o.ok(&["rollout", "pause", "deployment/web"]);
    o.ok(&[
        "set",
        "image",
        "deployment/web",
        &format!("c={OTHER_SPELLING}"),
    ]);
    o.ok(&["scale", "deployment/web", "--replicas=2"]);
    eventually("the paused deployment is observed", WAIT, || {
        peek(&o, "deployment/web", "{.metadata.generation}")
            == peek(&o, "deployment/web", "{.status.observedGeneration}")
            && peek(
                &o,
                "deployment/web",
                r#"{.status.conditions[?(@.type=="Progressing")].reason}"#,
            ) == "DeploymentPaused"
    });
    eventually("the paused deployment scales", WAIT, || {
        sets(&o, "web").len() == 2
            && set(&o, "web", &first.name).spec == 2
            && set(&o, "web", &second).spec == 0
    });

    // Resumed: the rollout goes on to the template of revision 2's set.
    o.ok(&["rollout", "resume", "deployment/web"]);
    rollout_status(&o, "deployment/web");
    assert_eq!(sets(&o, "web").len(), 2, "no third set");
    let resumed = set(&o, "web", &second);
    assert_eq!((resumed.revision.as_str(), resumed.spec), ("4", 2));
    assert_eq!(set(&o, "web", &first.name).spec, 0);
}

#[test]
fn recreate_never_runs_old_and_new_pods_together() {
    let o = Ordinal::start();
    common::node_name(&o);
    o.ok_stdin(
        &["apply", "-f", "-"],
        &deployment("rec", 2, "{type: Recreate}"),
    );
    rollout_status(&o, "deployment/rec");
    o.ok(&[
        "set",
        "image",
        "deployment/rec",
        &format!("c={OTHER_SPELLING}"),
    ]);
    // Every pod of the deployment, terminating ones included, by template
    // hash, until the new set's pods are all that is left.
    let deadline = std::time::Instant::now() + WAIT;
    let mut seen_new = false;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout never finished"
        );
        let out = o.ok(&[
            "get",
            "pods",
            "-l",
            "app=rec",
            "-o",
            r#"jsonpath={range .items[*]}{.spec.containers[0].image}{"\n"}{end}"#,
        ]);
        let old = out.lines().filter(|l| *l == "busybox:1.36").count();
        let new = out.lines().filter(|l| *l == OTHER_SPELLING).count();
        assert!(
            old == 0 || new == 0,
            "{old} old and {new} new pods together"
        );
        seen_new |= new > 0;
        if seen_new && old == 0 && new == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    rollout_status(&o, "deployment/rec");
    let mut s: Vec<(String, u32)> = sets(&o, "rec")
        .into_iter()
        .map(|r| (r.image, r.spec))
        .collect();
    s.sort();
    assert_eq!(s, [("busybox:1.36".into(), 0), (OTHER_SPELLING.into(), 2)]);
}

#[test]
fn a_broken_image_exceeds_the_progress_deadline() {
    let o = Ordinal::start();
    common::node_name(&o);
    o.ok(&[
        "create",
        "deployment",
        "broken",
        "--image=busybox:1.36",
        "--",
        "sleep",
        "3600",
    ]);
    rollout_status(&o, "deployment/broken");
    o.ok(&[
        "patch",
        "deployment/broken",
        "-p",
        r#"{"spec":{"progressDeadlineSeconds":5}}"#,
    ]);
    o.ok(&[
        "set",
        "image",
        "deployment/broken",
        "busybox=registry.invalid/nothing:1",
    ]);
    let out = o.run(&["rollout", "status", "deployment/broken", "--timeout=120s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("deployment \"broken\" exceeded its progress deadline"),
        "{stderr}"
    );
    let reason = get(
        &o,
        "deployment/broken",
        r#"{.status.conditions[?(@.type=="Progressing")].reason}"#,
    );
    assert_eq!(reason, "ProgressDeadlineExceeded");
    // The old pod still serves.
    assert_eq!(
        get(
            &o,
            "deployment/broken",
            r#"{.status.conditions[?(@.type=="Available")].status}"#,
        ),
        "True"
    );
}

#[test]
fn a_replica_set_adopts_releases_and_replaces_pods() {
    let o = Ordinal::start();
    common::node_name(&o);
    o.ok_stdin(
        &["apply", "-f", "-"],
        r#"
apiVersion: v1
kind: Pod
metadata: {name: orphan, labels: {app: bare}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: "busybox:1.36", command: [sleep, "3600"]}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: bare}
spec:
  replicas: 2
  selector: {matchLabels: {app: bare}}
  template:
    metadata: {labels: {app: bare}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: "busybox:1.36", command: [sleep, "3600"]}]
"#,
    );
    let owner = |pod: &str| {
        peek(
            &o,
            &format!("pod/{pod}"),
            "{.metadata.ownerReferences[0].name}",
        )
    };
    let members = || {
        o.ok(&[
            "get",
            "pods",
            "-l",
            "app=bare",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .split_whitespace()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    eventually("the orphan is adopted and one pod made", WAIT, || {
        owner("orphan") == "bare"
            && members().len() == 2
            && peek(&o, "rs/bare", "{.status.readyReplicas}") == "2"
    });
    let made: Vec<String> = members().into_iter().filter(|p| p != "orphan").collect();
    assert!(
        made[0].starts_with("bare-") && made[0].len() == "bare-".len() + 5,
        "{made:?}"
    );

    // A pod that stops matching is let go and replaced.
    o.ok(&["label", "pod", "orphan", "app=gone", "--overwrite"]);
    eventually("the orphan is released and replaced", WAIT, || {
        owner("orphan").is_empty()
            && members().len() == 2
            && peek(&o, "rs/bare", "{.status.readyReplicas}") == "2"
    });

    o.ok(&["scale", "rs/bare", "--replicas=1"]);
    eventually("the set shrinks to one pod", WAIT, || {
        members().len() == 1
            && peek(&o, "rs/bare", "{.status.replicas}") == "1"
            && peek(&o, "rs/bare", "{.status.observedGeneration}")
                == peek(&o, "rs/bare", "{.metadata.generation}")
    });
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=ReplicaSet",
        "-o",
        r#"jsonpath={range .items[*]}{.source.component} {.reason} {.message}{"\n"}{end}"#,
    ]);
    assert!(
        events.contains(&format!(
            "replicaset-controller SuccessfulCreate Created pod: {}",
            made[0]
        )),
        "{events}"
    );
    assert!(
        events.contains("replicaset-controller SuccessfulDelete Deleted pod: bare-"),
        "{events}"
    );
}
