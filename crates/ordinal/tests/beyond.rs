//! End to end, with real pods and the real kubectl: where ordinal's
//! StatefulSet controller goes beyond upstream's — a broken rollout that
//! recovers after `kubectl rollout undo`, the set's conditions for
//! `kubectl wait`, reserved ordinals, in-place updates — upstream's newer
//! semantics (`Recreate`, `currentRevision` under `OnDelete`), and the API
//! server refusing a bad ordinal annotation with its field path.
//!
//! Every wait is bounded.

mod common;

use std::time::Duration;

use common::images::BUSYBOX;
use common::{Ordinal, apply, eventually, get, peek};

const WAIT: Duration = Duration::from_secs(60);

/// A busybox set without volumes whose pods are Ready once their
/// readiness file exists (a container that exits at once never is);
/// `annotations` are added to the set's metadata (YAML flow map
/// entries), `extra` to its spec.
fn set(name: &str, replicas: u32, annotations: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  annotations: {{{annotations}}}
spec:
  serviceName: {name}
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
{extra}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {BUSYBOX}
        command: [sh, -c, "touch /tmp/ready; exec sleep 3600"]
        readinessProbe:
          exec: {{command: [cat, /tmp/ready]}}
          periodSeconds: 1
"#
    )
}

/// name → uid of the namespace's pods.
fn uids(o: &Ordinal) -> Vec<(String, String)> {
    let out = o.ok(&[
        "get",
        "pods",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.uid}{"\n"}{end}"#,
    ]);
    let mut pairs: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, u)| (n.to_string(), u.to_string()))
        .collect();
    pairs.sort();
    pairs
}

fn live_pods(o: &Ordinal) -> Vec<String> {
    let out = o.ok(&[
        "get",
        "pods",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.deletionTimestamp}{"\n"}{end}"#,
    ]);
    let mut names: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, deleting)| deleting.trim().is_empty())
        .map(|(name, _)| name.to_string())
        .collect();
    names.sort();
    names
}

fn condition(o: &Ordinal, set: &str, type_: &str, field: &str) -> String {
    peek(
        o,
        &format!("sts/{set}"),
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].{field}}}"),
    )
}

/// Updates the set's container to a command that exits at once: web-2
/// comes back at the broken revision and crash-loops.
fn break_it(o: &Ordinal) {
    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type=json",
        "-p",
        r#"[{"op": "replace", "path": "/spec/template/spec/containers/0/command", "value": ["sh", "-c", "exit 1"]}]"#,
    ]);
    eventually("the rollout is stuck at web-2", WAIT, || {
        condition(o, "web", "Progressing", "reason") == "RolloutStuck"
    });
}

#[test]
fn a_broken_rollout_recovers_after_rollout_undo_with_no_pod_deleted_by_hand() {
    let o = Ordinal::start();
    apply(&o, &set("web", 3, "", ""));
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    o.ok(&[
        "wait",
        "--for=condition=Available",
        "sts/web",
        "--timeout=10s",
    ]);
    let before = uids(&o);

    break_it(&o);
    let message = condition(&o, "web", "Progressing", "message");
    assert!(
        message.starts_with("Pod web-2 is not progressing: container app is in CrashLoopBackOff"),
        "{message}"
    );
    // Available needs every replica: the wait times out, and says so.
    let waited = o.run(&[
        "wait",
        "--for=condition=Available",
        "sts/web",
        "--timeout=2s",
    ]);
    assert!(
        !waited.status.success(),
        "Available while web-2 crash-loops"
    );

    o.ok(&["rollout", "undo", "sts/web"]);
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    o.ok(&[
        "wait",
        "--for=condition=Available",
        "sts/web",
        "--timeout=10s",
    ]);
    assert_eq!(
        condition(&o, "web", "Progressing", "reason"),
        "RolloutComplete"
    );
    let after = uids(&o);
    // web-0 and web-1 were never touched; web-2 was replaced by the
    // controller, not by hand.
    assert_eq!(after[..2], before[..2]);
    assert_ne!(after[2], before[2]);
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=StatefulSet,reason=RecoveringRollout",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains("replacing Pod web-2"), "{events}");
    assert_eq!(
        get(&o, "sts/web", "{.status.currentRevision}"),
        get(&o, "sts/web", "{.status.updateRevision}")
    );
}

#[test]
fn manual_recovery_waits_for_the_stuck_pod_as_upstream_does() {
    let o = Ordinal::start();
    apply(
        &o,
        &set("web", 3, "ordinal.dev/rollout-recovery: Manual", ""),
    );
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    break_it(&o);
    let stuck = uids(&o)[2].clone();
    o.ok(&["rollout", "undo", "sts/web"]);
    // Upstream waits for web-2 forever; give the controller time to (not)
    // act, then delete it by hand as upstream's users must.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(uids(&o)[2], stuck);
    o.ok(&["delete", "pod", "web-2", "--wait=false"]);
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
}

#[test]
fn reserving_ordinal_1_leaves_web_0_2_and_3() {
    let o = Ordinal::start();
    apply(&o, &set("web", 3, "", "  podManagementPolicy: Parallel"));
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    o.ok(&["annotate", "sts", "web", "ordinal.dev/reserved-ordinals=1"]);
    eventually("web-1 is retired and web-3 runs", WAIT, || {
        live_pods(&o) == ["web-0", "web-2", "web-3"]
            && get(&o, "sts/web", "{.status.readyReplicas}") == "3"
    });
    o.ok(&["scale", "sts/web", "--replicas=4"]);
    eventually("scale-up takes the next free ordinal", WAIT, || {
        live_pods(&o) == ["web-0", "web-2", "web-3", "web-4"]
    });
    o.ok(&[
        "wait",
        "--for=condition=Available",
        "sts/web",
        "--timeout=60s",
    ]);
}

#[test]
fn bad_ordinal_annotations_are_refused_with_their_field_path() {
    let o = Ordinal::start_with(&["--no-node"]);
    apply(&o, &set("web", 1, "", ""));
    let out = o.run(&["annotate", "sts", "web", "ordinal.dev/reserved-ordinals=x-"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            r#"metadata.annotations[ordinal.dev/reserved-ordinals]: Invalid value: "x-""#
        ),
        "{stderr}"
    );
    let out = o.run_stdin(
        &["apply", "-f", "-"],
        &set(
            "db",
            1,
            "ordinal.dev/pod-update-policy: Sometimes, ordinal.dev/rollout-recovery: manual",
            "",
        ),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is invalid"), "{stderr}");
    for key in [
        "ordinal.dev/pod-update-policy",
        "ordinal.dev/rollout-recovery",
    ] {
        assert!(
            stderr.contains(&format!("metadata.annotations[{key}]")),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains(r#"supported values: "Automatic", "Manual""#),
        "{stderr}"
    );
    assert!(peek(&o, "sts/db", "{.metadata.name}").is_empty());
}

/// (uid, pod IP, restart count) of each of the namespace's pods, by name.
fn identities(o: &Ordinal) -> Vec<(String, String, String, String)> {
    let out = o.ok(&[
        "get",
        "pods",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.status.podIP} {.status.containerStatuses[0].restartCount}{"\n"}{end}"#,
    ]);
    let mut rows: Vec<(String, String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4).then(|| (f[0].into(), f[1].into(), f[2].into(), f[3].into()))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn an_in_place_image_update_keeps_each_pods_uid_and_ip() {
    in_place_update(&[]);
}

/// The same where each container has a private copy of its image instead
/// of an overlay: the copy is of the new image after the update.
#[test]
fn an_in_place_image_update_under_the_copy_snapshotter_runs_the_new_image() {
    in_place_update(&["--snapshotter", "copy"]);
}

fn in_place_update(up: &[&str]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The image the update moves to: the test image with one more file.
    let image = ordinal_image::build::ImageBuilder::busybox()
        .expect("the busybox image")
        .add_bytes("/etc/next", b"1.37\n", 0o644)
        .build();
    common::images::import(
        tmp.path(),
        "busybox-next",
        &common::images::archive(&image, "busybox:1.37"),
    );
    let o = Ordinal::start_on_with(tmp.path(), up);
    apply(
        &o,
        &set(
            "web",
            3,
            "ordinal.dev/pod-update-policy: InPlaceIfPossible",
            "",
        ),
    );
    o.ok(&["rollout", "status", "sts/web", "--timeout=60s"]);
    let before = identities(&o);
    assert_eq!(before.len(), 3);
    // Written into the container's own root, which outlives a restart but
    // not a change of image.
    o.ok(&["exec", "web-0", "--", "sh", "-c", "echo old > /written"]);

    o.ok(&["set", "image", "sts/web", "app=busybox:1.37"]);
    o.ok(&["rollout", "status", "sts/web", "--timeout=90s"]);
    let after = identities(&o);
    assert_eq!(o.ok(&["exec", "web-0", "--", "cat", "/etc/next"]), "1.37\n");
    let old = o.run(&["exec", "web-0", "--", "cat", "/written"]);
    assert!(
        !old.status.success(),
        "the new container's root is the new image's alone: {}",
        String::from_utf8_lossy(&old.stdout)
    );
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (&old.0, &old.1, &old.2),
            (&new.0, &new.1, &new.2),
            "same pod, UID and IP"
        );
        let (was, is): (u32, u32) = (old.3.parse().unwrap(), new.3.parse().unwrap());
        assert!(
            is > was,
            "{}: the container restarted on the new image",
            new.0
        );
    }
    let images = o.ok(&[
        "get",
        "pods",
        "-o",
        "jsonpath={.items[*].spec.containers[0].image}",
    ]);
    assert_eq!(images, "busybox:1.37 busybox:1.37 busybox:1.37");
    let events = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "reason=SuccessfulUpdateInPlace",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    for pod in ["web-0", "web-1", "web-2"] {
        assert!(
            events.contains(&format!("update Pod {pod} in StatefulSet web in place")),
            "{events}"
        );
    }
    assert_eq!(
        get(&o, "sts/web", "{.status.currentRevision}"),
        get(&o, "sts/web", "{.status.updateRevision}")
    );

    // Back again, in place too: a container restarted because its image
    // changed starts at once each time, never in CrashLoopBackOff.
    o.ok(&["rollout", "undo", "sts/web"]);
    o.ok(&["rollout", "status", "sts/web", "--timeout=90s"]);
    let back = identities(&o);
    for (old, new) in after.iter().zip(&back) {
        assert_eq!((&old.0, &old.1), (&new.0, &new.1), "same pod and UID");
        assert!(new.3.parse::<u32>().unwrap() > old.3.parse::<u32>().unwrap());
    }
    let gone = o.run(&["exec", "web-0", "--", "cat", "/etc/next"]);
    assert!(!gone.status.success(), "back on the first image's files");
    let back_offs = o.ok(&[
        "get",
        "events",
        "--field-selector",
        "reason=BackOff",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert_eq!(back_offs, "", "no container waited out a back-off");
}

/// Waits until every replica of `set` is Ready at the update revision and
/// that revision is the current one (`kubectl rollout status` only reads
/// RollingUpdate sets).
fn settled(o: &Ordinal, set: &str, replicas: u32) {
    let what = format!("sts/{set}");
    eventually(&format!("{set} settles"), WAIT, || {
        let n = replicas.to_string();
        get(o, &what, "{.status.observedGeneration}") == get(o, &what, "{.metadata.generation}")
            && get(o, &what, "{.status.readyReplicas}") == n
            && get(o, &what, "{.status.updatedReplicas}") == n
            && get(o, &what, "{.status.currentRevision}")
                == get(o, &what, "{.status.updateRevision}")
    });
}

#[test]
fn recreate_and_on_delete_complete_their_updates_as_upstreams_newer_semantics_say() {
    let o = Ordinal::start();
    // Recreate (KEP-3541): every pod replaced, none at the new revision
    // while an old one is still there.
    apply(
        &o,
        &set(
            "web",
            3,
            "",
            "  podManagementPolicy: Parallel\n  updateStrategy: {type: Recreate}",
        ),
    );
    settled(&o, "web", 3);
    let before = uids(&o);
    o.ok(&[
        "patch",
        "sts",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}"#,
    ]);
    settled(&o, "web", 3);
    let after = uids(&o);
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old.1, new.1, "{} was recreated", new.0);
    }
    assert_eq!(
        get(&o, "sts/web", "{.status.currentRevision}"),
        get(&o, "sts/web", "{.status.updateRevision}")
    );

    // OnDelete (kubernetes/kubernetes#73492): once the user has replaced
    // every pod, the update revision becomes the current one.
    apply(&o, &set("db", 2, "", "  updateStrategy: {type: OnDelete}"));
    settled(&o, "db", 2);
    o.ok(&[
        "patch",
        "sts",
        "db",
        "--type=merge",
        "-p",
        r#"{"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}}"#,
    ]);
    eventually("the update revision is recorded", WAIT, || {
        get(&o, "sts/db", "{.status.updateRevision}")
            != get(&o, "sts/db", "{.status.currentRevision}")
    });
    o.ok(&[
        "delete",
        "pod",
        "db-0",
        "db-1",
        "--wait=true",
        "--timeout=60s",
    ]);
    eventually("currentRevision follows the replaced pods", WAIT, || {
        get(&o, "sts/db", "{.status.readyReplicas}") == "2"
            && get(&o, "sts/db", "{.status.currentRevision}")
                == get(&o, "sts/db", "{.status.updateRevision}")
    });
}
