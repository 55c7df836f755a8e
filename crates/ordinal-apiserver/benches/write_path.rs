//! The CPU a pod create spends in the API server's own steps, without I/O:
//! server-owned metadata, defaulting and validation, and field ownership
//! (managedFields). `cargo bench -p ordinal-apiserver --bench write_path`.

#[path = "../../../benches/report.rs"]
mod report;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ordinal_apiserver::defaults::{self, Context};
use ordinal_apiserver::request::Target;
use ordinal_apiserver::{fields, objects, resources, validation};
use serde_json::{Value, json};

const ROUNDS: usize = 20_000;

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
    let pods = resources::lookup("", "v1", "pods").expect("pods are served");
    let target = Target {
        resource: pods,
        namespace: Some("default".into()),
        name: Some("web-0".into()),
        subresource: None,
    };
    let mut prepared = pod();
    objects::prepare_create(pods, &mut prepared).expect("valid pod");
    let mut defaulted = prepared.clone();
    defaults::apply(pods, &mut defaulted, &Context::create(None));
    let tracked = fields::track_update(&target, None, defaulted.clone(), "bench");
    let mut relabelled = tracked.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("front");

    let rows = [
        (
            "server-owned metadata (prepare_create)",
            measure(|| {
                let mut p = pod();
                black_box(objects::prepare_create(pods, &mut p).is_ok());
            }),
        ),
        (
            "defaulting + validation of a new pod",
            measure(|| {
                let mut p = prepared.clone();
                defaults::apply(pods, &mut p, &Context::create(None));
                black_box(validation::validate_create(pods, &p));
            }),
        ),
        (
            "managedFields of a create",
            measure(|| {
                black_box(fields::track_update(
                    &target,
                    None,
                    defaulted.clone(),
                    "bench",
                ));
            }),
        ),
        (
            "managedFields of an update (one label)",
            measure(|| {
                black_box(fields::track_update(
                    &target,
                    Some(&tracked),
                    relabelled.clone(),
                    "bench",
                ));
            }),
        ),
    ];
    let ids = [
        "prepare_create",
        "defaults_validation",
        "fields_create",
        "fields_update",
    ];
    for ((what, (median, _)), id) in rows.iter().zip(ids) {
        report::figure(
            &format!("write_path.{id}"),
            report::us(*median),
            "µs",
            report::Goal::None,
            &format!("API server CPU per write, 2-container pod: {what}, median"),
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
