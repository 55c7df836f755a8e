//! How long planning one sync of a settled 1,000-replica StatefulSet takes:
//! every pod present, Running and Ready, every claim bound, one revision.
//! Goal: at most 1 ms.
//!
//!     cargo bench -p ordinal-controllers --bench plan

#[path = "../../../benches/report.rs"]
mod report;

use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use ordinal_controllers::statefulset::{Action, Observed, plan};

const REPLICAS: usize = 1000;

fn set(policy: &str) -> StatefulSet {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "set-uid", "generation": 1},
        "spec": {
            "replicas": REPLICAS,
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": "web"}},
            "serviceName": "web",
            "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete", "whenDeleted": "Delete"},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx", "image": "nginx:1.27",
                        "ports": [{"containerPort": 80, "name": "web"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/usr/share/nginx/html"}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 80}}
                    }]
                }
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
            }]
        }
    }))
    .expect("a valid StatefulSet")
}

/// The settled cluster: what the planner asked for on an empty one, created
/// and made ready.
fn settled(
    policy: &str,
) -> (
    StatefulSet,
    Vec<Pod>,
    Vec<PersistentVolumeClaim>,
    Vec<ControllerRevision>,
) {
    let mut set = set(policy);
    let now = jiff::Timestamp::from_second(1_700_000_000).expect("a valid time");
    // A Parallel set asks for every pod at once.
    let burst = self::set("Parallel");
    let first = plan(&Observed {
        set: &burst,
        pods: vec![],
        claims: vec![],
        revisions: vec![],
        now,
    });
    let mut pods = Vec::new();
    let mut claims = Vec::new();
    let mut revisions = Vec::new();
    for action in first.actions() {
        match action {
            Action::CreateRevision(r) => {
                let mut r = r.clone();
                r.metadata.uid = Some("rev-1".into());
                revisions.push(r);
            }
            Action::CreatePod { pod, claims: new } => {
                let mut pod = pod.clone();
                pod.metadata.uid = Some(format!("uid-{}", pods.len()));
                pod.metadata.resource_version = Some("1".into());
                pod.status = Some(PodStatus {
                    phase: Some("Running".into()),
                    conditions: Some(vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(now)),
                        ..PodCondition::default()
                    }]),
                    ..PodStatus::default()
                });
                pods.push(pod);
                claims.extend(new.iter().cloned());
            }
            _ => {}
        }
    }
    // Record the status the planner computes, so the measured sync is the
    // steady state where nothing is written.
    let observed = Observed {
        set: &set,
        pods: pods.iter().collect(),
        claims: claims.iter().collect(),
        revisions: revisions.iter().collect(),
        now,
    };
    let status = plan(&observed).status;
    set.status = status;
    (set, pods, claims, revisions)
}

fn measure(policy: &str) {
    let (set, pods, claims, revisions) = settled(policy);
    assert_eq!(pods.len(), REPLICAS, "{policy}: one pod per replica");
    let now = jiff::Timestamp::from_second(1_700_000_100).expect("a valid time");
    let observed = Observed {
        set: &set,
        pods: pods.iter().collect(),
        claims: claims.iter().collect(),
        revisions: revisions.iter().collect(),
        now,
    };
    let steady = plan(&observed);
    assert!(
        steady.is_idle(),
        "{policy}: a settled set needs nothing: {steady:?}"
    );

    for _ in 0..50 {
        black_box(plan(black_box(&observed)));
    }
    let mut samples: Vec<Duration> = (0..1000)
        .map(|_| {
            let start = Instant::now();
            black_box(plan(black_box(&observed)));
            start.elapsed()
        })
        .collect();
    samples.sort();
    let median = samples[samples.len() / 2];
    let p99 = samples[samples.len() * 99 / 100];
    let id = policy.to_lowercase();
    report::figure(
        &format!("plan.{id}_p50"),
        report::us(median),
        "µs",
        report::Goal::None,
        &format!("plan one sync of a settled 1,000-replica {policy} set, median"),
    );
    report::figure(
        &format!("plan.{id}_p99"),
        report::us(p99),
        "µs",
        report::Goal::AtMost(1000.0),
        &format!("plan one sync of a settled 1,000-replica {policy} set, p99"),
    );
    println!(
        "plan one sync, {REPLICAS} ready pods, {policy:<12} median {:>7.1} µs   p99 {:>7.1} µs   (goal ≤ 1000 µs)",
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
}

fn main() {
    measure("OrderedReady");
    measure("Parallel");
}
