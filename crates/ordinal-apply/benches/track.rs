//! The CPU `update` and `apply` spend on a 2-container pod (the pod of the
//! API server's `write_path` benchmark, with the fields defaulting adds):
//! `cargo bench -p ordinal-apply --bench track`.

#[path = "../../../benches/report.rs"]
mod report;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ordinal_apply::{ListType, Schema, apply, update};
use serde_json::{Value, json};

const ROUNDS: usize = 20_000;

/// The list types of a pod that these objects use.
struct Pods;

impl Schema for Pods {
    fn list_type(&self, path: &[&str]) -> ListType {
        let keyed = |keys: &[&str]| ListType::Map(keys.iter().map(|k| k.to_string()).collect());
        match path {
            ["spec", "containers"] | ["spec", "initContainers"] => keyed(&["name"]),
            ["spec", "containers", "env"] => keyed(&["name"]),
            ["spec", "containers", "ports"] => keyed(&["containerPort", "protocol"]),
            ["spec", "containers", "volumeMounts"] => keyed(&["mountPath"]),
            ["spec", "volumes"] => keyed(&["name"]),
            ["metadata", "finalizers"] => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    fn is_atomic(&self, _path: &[&str]) -> bool {
        false
    }
}

/// What a client sends.
fn pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [
            {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80, "name": "http"}],
             "env": [{"name": "MODE", "value": "fast"}],
             "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
             "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]}],
            "volumes": [{"name": "data", "emptyDir": {}}]}})
}

/// The pod as the server stores it: server metadata and defaults added.
fn stored_pod() -> Value {
    let mut p = pod();
    let defaults = json!({
        "imagePullPolicy": "IfNotPresent", "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File"});
    p["metadata"]["uid"] = json!("6b1f4f5e-8a0e-4c39-9d61-3f0d6f0c2b11");
    p["metadata"]["resourceVersion"] = json!("42");
    p["metadata"]["creationTimestamp"] = json!("2024-05-01T10:00:00Z");
    let spec = &mut p["spec"];
    for container in spec["containers"].as_array_mut().into_iter().flatten() {
        for (k, v) in defaults.as_object().into_iter().flatten() {
            container[k] = v.clone();
        }
    }
    spec["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    spec["containers"][0]["readinessProbe"]["httpGet"]["scheme"] = json!("HTTP");
    for (k, v) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        spec["containers"][0]["readinessProbe"][k] = json!(v);
    }
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
        ("enableServiceLinks", json!(true)),
        ("preemptionPolicy", json!("PreemptLowerPriority")),
        ("priority", json!(0)),
    ] {
        spec[k] = v;
    }
    p["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    p
}

/// Median and p99 of `f` over ROUNDS runs, after a warm-up.
fn measure(mut f: impl FnMut()) -> (Duration, Duration) {
    for _ in 0..ROUNDS / 10 {
        f();
    }
    let mut samples: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort();
    (samples[ROUNDS / 2], samples[ROUNDS * 99 / 100])
}

fn main() {
    let stored = stored_pod();
    let created = update(None, &stored, "bench", "v1", None, &Pods);
    let mut relabelled = created.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("front");
    let config = pod();
    let applied = apply(None, &config, "bench", false, "v1", None, &Pods).expect("applies");

    let rows = [
        (
            "update: create",
            measure(|| {
                black_box(update(None, &stored, "bench", "v1", None, &Pods));
            }),
        ),
        (
            "update: one label changed",
            measure(|| {
                black_box(update(
                    Some(&created),
                    &relabelled,
                    "bench",
                    "v1",
                    None,
                    &Pods,
                ));
            }),
        ),
        (
            "update: nothing changed",
            measure(|| {
                black_box(update(Some(&created), &created, "bench", "v1", None, &Pods));
            }),
        ),
        (
            "apply: create",
            measure(|| {
                black_box(apply(None, &config, "bench", false, "v1", None, &Pods).is_ok());
            }),
        ),
        (
            "apply: same configuration again",
            measure(|| {
                black_box(
                    apply(Some(&applied), &config, "bench", false, "v1", None, &Pods).is_ok(),
                );
            }),
        ),
    ];
    let ids = [
        "update_create",
        "update_label",
        "update_noop",
        "apply_create",
        "apply_again",
    ];
    for ((what, (median, _)), id) in rows.iter().zip(ids) {
        report::figure(
            &format!("track.{id}"),
            report::us(*median),
            "µs",
            report::Goal::None,
            &format!("field tracking, 2-container pod: {what}, median"),
        );
    }
    println!("| step (2-container pod) | median | p99 |");
    println!("|---|---|---|");
    for (what, (median, p99)) in rows {
        println!(
            "| {what} | {:.1} µs | {:.1} µs |",
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
