//! Applying a `kubectl apply`-shaped strategic merge patch to a Pod with
//! three containers. Prints the median and 99th percentile in µs.
//!
//! `cargo bench -p ordinal-merge`

#[path = "../../../benches/report.rs"]
mod report;

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Value, json};

const WARMUP: usize = 2_000;
const N: usize = 20_000;

fn container(name: &str, image: &str, port: u16) -> Value {
    json!({
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/server", "--config=/etc/app/config.yaml"],
        "ports": [{"containerPort": port, "name": "http", "protocol": "TCP"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "REGION", "value": "eu-west-1"}
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "config", "mountPath": "/etc/app", "readOnly": true}
        ],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": port}, "periodSeconds": 5},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File"
    })
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0", "namespace": "default", "uid": "5f1c7c1e-0000-4000-8000-000000000001",
            "resourceVersion": "12345", "creationTimestamp": "2025-05-01T10:00:00Z",
            "labels": {"app": "web", "apps.kubernetes.io/pod-index": "0", "statefulset.kubernetes.io/pod-name": "web-0"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-05-01T09:00:00Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "5f1c7c1e-0000-4000-8000-000000000002", "controller": true, "blockOwnerDeletion": true}]
        },
        "spec": {
            "containers": [container("app", "app:1.0", 8080), container("sidecar", "proxy:2.1", 15000), container("metrics", "exporter:0.9", 9100)],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                {"name": "config", "configMap": {"name": "web-config"}}
            ],
            "hostname": "web-0", "subdomain": "web", "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst"
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]}
    })
}

/// What `kubectl apply` sends after bumping the app's image, adding an env
/// var, dropping another and changing an annotation.
fn patch() -> Value {
    json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"v1\"}\n", "kubectl.kubernetes.io/restartedAt": null}},
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "metrics"}],
            "containers": [{
                "$setElementOrder/env": [{"name": "POD_NAME"}, {"name": "LOG_LEVEL"}, {"name": "FEATURE_X"}],
                "env": [{"name": "FEATURE_X", "value": "on"}, {"$patch": "delete", "name": "REGION"}],
                "image": "app:1.1",
                "name": "app"
            }]
        }
    })
}

fn main() {
    let (pod, patch) = (pod(), patch());
    let out = ordinal_merge::apply(&pod, &patch, "", "Pod").expect("the bench patch applies");
    assert_eq!(out["spec"]["containers"][0]["image"], "app:1.1");
    assert_eq!(out["spec"]["containers"][0]["env"][2]["name"], "FEATURE_X");

    for _ in 0..WARMUP {
        black_box(ordinal_merge::apply(black_box(&pod), black_box(&patch), "", "Pod").ok());
    }
    let mut samples: Vec<f64> = Vec::with_capacity(N);
    for _ in 0..N {
        let start = Instant::now();
        black_box(ordinal_merge::apply(black_box(&pod), black_box(&patch), "", "Pod").ok());
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    report::figure(
        "merge.smp_p50",
        at(0.5),
        "µs",
        report::Goal::None,
        "strategic merge patch (kubectl apply's) of a 3-container pod, median",
    );
    report::figure(
        "merge.smp_p99",
        at(0.99),
        "µs",
        report::Goal::AtMost(20.0),
        "strategic merge patch (kubectl apply's) of a 3-container pod, p99",
    );
    println!(
        "strategic merge patch, 3-container pod: median {:.2} µs, p99 {:.2} µs ({N} iterations)",
        at(0.5),
        at(0.99)
    );
}
