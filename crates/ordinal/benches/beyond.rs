//! Where ordinal's StatefulSet controller goes beyond upstream's, timed
//! against a real `ordinal up` with real pods (busybox) and the real
//! kubectl.
//!
//! - Broken-rollout recovery: a 3-replica OrderedReady set is updated to a
//!   command that exits at once; once its `Progressing` condition says the
//!   rollout is stuck on web-2, `kubectl rollout undo` is run and the time
//!   until the set is all Ready at one revision again is measured (median
//!   of 3 rounds). The same with `ordinal.dev/rollout-recovery: Manual`,
//!   upstream's behaviour, side by side: it does not recover by itself,
//!   which is shown as the pods still stuck after a bounded wait.
//!
//! - In-place update: a 100-replica Parallel set, a 1Gi claim per pod as
//!   a StatefulSet has, moves to another image tag — one pod at a time, as a rolling update without maxUnavailable
//!   goes — under `ordinal.dev/pod-update-policy: InPlaceIfPossible` and
//!   under upstream's delete-and-create, side by side in one run; the time
//!   from `kubectl set image` to all Ready at the new revision, for each.
//!   The pods' containers exit on SIGTERM, so the grace period (the same
//!   on both sides) does not swamp what differs.
//!
//! Run: `cargo bench -p ordinal --bench beyond` (as root: pods run in
//! namespaces). Every wait is bounded.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::Api;
use report::Goal;
use support::Kubectl;

const ROUNDS: usize = 3;
const LIMIT: Duration = Duration::from_secs(300);
/// How long the Manual side is given to recover by itself.
const MANUAL_WAIT: Duration = Duration::from_secs(10);
/// Replicas of the in-place comparison.
const MANY: i32 = 100;
/// The tag the in-place comparison moves to.
const NEXT: &str = "busybox:1.37";

/// A busybox set whose pods are Ready once their readiness file exists (a
/// container that exits at once never is), with `annotation` and `spec`
/// lines added, and with a 1Gi claim per pod when `claims`.
fn manifest(name: &str, replicas: i32, annotation: &str, spec: &str, claims: bool) -> String {
    let claims = if claims {
        "  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"
    } else {
        ""
    };
    format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  annotations: {{{annotation}}}
spec:
  serviceName: {name}
  replicas: {replicas}
{spec}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {image}
        command: [sh, -c, "trap 'exit 0' TERM; touch /tmp/ready; sleep 3600 & wait"]
        readinessProbe:
          exec: {{command: [cat, /tmp/ready]}}
          periodSeconds: 1
        volumeMounts: {mounts}
{claims}"#,
        image = support::images::BUSYBOX,
        mounts = if claims.is_empty() {
            "[]"
        } else {
            "[{name: data, mountPath: /data}]"
        },
    )
}

/// Whether the set is done: every replica Ready and updated, and the
/// update revision is the current one.
fn settled(set: &StatefulSet) -> bool {
    let (Some(spec), Some(status)) = (&set.spec, &set.status) else {
        return false;
    };
    let want = spec.replicas.unwrap_or(1);
    status.observed_generation >= set.metadata.generation
        && status.ready_replicas == Some(want)
        && status.updated_replicas == Some(want)
        && status.replicas == want
        && status.current_revision == status.update_revision
}

fn stuck(set: &StatefulSet) -> bool {
    set.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("RolloutStuck"))
}

/// Polls the set until `done` holds; when it first did, or None after `limit`.
async fn until(
    sets: &Api<StatefulSet>,
    name: &str,
    limit: Duration,
    done: impl Fn(&StatefulSet) -> bool,
) -> Option<Instant> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(set) = sets.get(name).await
            && done(&set)
        {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// One round: apply, break, undo. The time from `rollout undo` to settled,
/// or None if it did not settle within `limit`.
async fn round(
    kubectl: &Arc<Kubectl>,
    sets: &Api<StatefulSet>,
    dir: &std::path::Path,
    name: &str,
    recovery: &str,
    limit: Duration,
) -> Option<Duration> {
    let file = dir.join(format!("{name}.yaml"));
    let annotation = format!("ordinal.dev/rollout-recovery: {recovery}");
    std::fs::write(&file, manifest(name, 3, &annotation, "", false)).expect("manifest");
    let file = file.to_string_lossy().into_owned();
    kubectl.run_async(&["apply", "-f", &file]).await;
    until(sets, name, LIMIT, settled)
        .await
        .expect("the set comes up");
    kubectl
        .run_async(&[
            "patch",
            "sts",
            name,
            "--type=json",
            "-p",
            r#"[{"op": "replace", "path": "/spec/template/spec/containers/0/command", "value": ["sh", "-c", "exit 1"]}]"#,
        ])
        .await;
    until(sets, name, LIMIT, stuck)
        .await
        .expect("the rollout gets stuck");
    let started = Instant::now();
    kubectl
        .run_async(&["rollout", "undo", &format!("sts/{name}")])
        .await;
    let done = until(sets, name, limit, settled)
        .await
        .map(|at| at - started);
    kubectl
        .run_async(&["delete", "-f", &file, "--wait=true", "--timeout=60s"])
        .await;
    done
}

/// The time from `kubectl set image` to the set settled at the new image,
/// for a fresh 100-replica set under `policy`.
async fn image_update(
    kubectl: &Arc<Kubectl>,
    sets: &Api<StatefulSet>,
    dir: &std::path::Path,
    name: &str,
    policy: &str,
) -> Option<Duration> {
    let file = dir.join(format!("{name}.yaml"));
    let annotation = format!("ordinal.dev/pod-update-policy: {policy}");
    let spec = "  podManagementPolicy: Parallel";
    std::fs::write(&file, manifest(name, MANY, &annotation, spec, true)).expect("manifest");
    let file = file.to_string_lossy().into_owned();
    kubectl.run_async(&["apply", "-f", &file]).await;
    until(sets, name, LIMIT, settled)
        .await
        .expect("the set comes up");
    let started = Instant::now();
    kubectl
        .run_async(&[
            "set",
            "image",
            &format!("sts/{name}"),
            &format!("app={NEXT}"),
        ])
        .await;
    let done = until(sets, name, LIMIT, settled)
        .await
        .map(|at| at - started);
    kubectl
        .run_async(&["delete", "-f", &file, "--wait=true", "--timeout=120s"])
        .await;
    done
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("beyond");
    support::images::prepare(&dir);
    let image = ordinal_image::build::ImageBuilder::busybox()
        .expect("the busybox image")
        .build();
    support::images::import(
        &dir,
        "busybox-next",
        &support::images::archive(&image, NEXT),
    );
    let (child, _) = support::spawn(&dir);
    let _up = support::Up(child);
    let client = support::client(&dir).await;
    let kubectl = Arc::new(Kubectl::for_dir(&dir));
    let sets: Api<StatefulSet> = Api::namespaced(client, "default");

    let mut times = Vec::new();
    for i in 0..ROUNDS {
        match round(
            &kubectl,
            &sets,
            tmp.path(),
            &format!("auto{i}"),
            "Automatic",
            LIMIT,
        )
        .await
        {
            Some(took) => {
                println!(
                    "round {i}: rollout undo → all Ready: {:.0} ms",
                    report::ms(took)
                );
                times.push(took);
            }
            None => println!("round {i}: did not recover within {LIMIT:?}"),
        }
    }
    let manual = round(&kubectl, &sets, tmp.path(), "manual", "Manual", MANUAL_WAIT).await;
    match manual {
        Some(took) => println!(
            "Manual: recovered in {:.0} ms (unexpected)",
            report::ms(took)
        ),
        None => println!(
            "Manual (upstream's behaviour): still stuck {MANUAL_WAIT:?} after rollout undo"
        ),
    }

    // Side by side: upstream's delete-and-create first, then in place.
    let recreate = image_update(&kubectl, &sets, tmp.path(), "recreate", "ReCreate").await;
    let in_place = image_update(&kubectl, &sets, tmp.path(), "inplace", "InPlaceIfPossible").await;
    for (what, took) in [("ReCreate", recreate), ("InPlaceIfPossible", in_place)] {
        match took {
            Some(t) => println!(
                "{what}: kubectl set image → {MANY} Ready: {:.0} ms",
                report::ms(t)
            ),
            None => println!("{what}: not settled within {LIMIT:?}"),
        }
    }

    times.sort();
    let median = (times.len() == ROUNDS).then(|| report::ms(times[ROUNDS / 2]));
    report::figure(
        "beyond.rollout_undo_recovery",
        median.unwrap_or(f64::NAN),
        "ms",
        Goal::AtMost(2000.0),
        "broken rollout of a 3-replica OrderedReady set: `kubectl rollout undo` → all Ready (median of 3)",
    );
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, report::ms);
    // The goal: the in-place update within 3 s, and faster than
    // recreating, side by side in one run.
    report::figure(
        "beyond.in_place_update",
        ms(in_place),
        "ms",
        Goal::AtMost(3000.0),
        "100-replica Parallel set with a claim per pod, one pod at a time: `kubectl set image` → all Ready, in place (`ordinal.dev/pod-update-policy: InPlaceIfPossible`)",
    );
    report::figure(
        "beyond.in_place_saving",
        ms(recreate) - ms(in_place),
        "ms",
        Goal::AtLeast(0.0),
        "… faster than delete and create: recreate minus in place (same run)",
    );
    report::figure(
        "beyond.recreate_update",
        ms(recreate),
        "ms",
        Goal::None,
        "… delete and create (upstream's behaviour)",
    );
    report::figure(
        "beyond.rollout_undo_manual",
        manual.map_or(f64::NAN, report::ms),
        "ms",
        Goal::None,
        "the same under `ordinal.dev/rollout-recovery: Manual` (upstream's behaviour): nan = not recovered within 10 s",
    );
}
