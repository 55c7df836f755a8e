//! Garbage collector benchmark against a real `ordinal up` process: an
//! owner with 1,000 pods owned by it is deleted (background propagation),
//! and the time until the last dependent is gone is measured.
//! Run: `cargo bench -p ordinal --bench gc`.
//!
//! Every loop is bounded in count and time.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

const DEPENDENTS: usize = 1_000;
const WRITERS: usize = 32;
const GOAL: Duration = Duration::from_secs(2);
const LIMIT: Duration = Duration::from_secs(120);

fn pod(name: &str, owner_uid: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"bench": "gc"},
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner_uid, "blockOwnerDeletion": true,
            }],
        },
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    }))
    .unwrap()
}

async fn remaining(pods: &Api<Pod>) -> usize {
    pods.list_metadata(&ListParams::default().labels("bench=gc"))
        .await
        .map(|l| l.items.len())
        .unwrap_or(usize::MAX)
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gc");
    let (mut child, _) = support::spawn_with(&dir, &["--no-node"]);
    let c = support::client(&dir).await;
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");

    let owner: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "owner"}})).unwrap();
    let owner = cms.create(&PostParams::default(), &owner).await.unwrap();
    let owner_uid = owner.metadata.uid.unwrap();

    let created = Instant::now();
    let results = futures::stream::iter(0..DEPENDENTS)
        .map(|i| {
            let pods = pods.clone();
            let p = pod(&format!("dep-{i:04}"), &owner_uid);
            async move { pods.create(&PostParams::default(), &p).await }
        })
        .buffer_unordered(WRITERS)
        .collect::<Vec<_>>()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "creating dependents failed");
    let create_time = created.elapsed();
    assert_eq!(remaining(&pods).await, DEPENDENTS);
    // Let the collector see every dependent before the owner goes.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    cms.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    let mut left = DEPENDENTS;
    while left > 0 && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = remaining(&pods).await;
    }
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();

    println!();
    println!("| measure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| create {DEPENDENTS} owned pods, {WRITERS} clients | {:.0} ms | - |",
        create_time.as_secs_f64() * 1e3
    );
    let ok = left == 0 && took <= GOAL;
    report::figure(
        "gc.create_1000",
        report::ms(create_time),
        "ms",
        report::Goal::None,
        "create 1,000 owned pods, 32 clients",
    );
    report::figure(
        "gc.collect_1000",
        if left == 0 {
            report::ms(took)
        } else {
            f64::NAN
        },
        "ms",
        report::Goal::AtMost(report::ms(GOAL)),
        "delete owner (background) → last of 1,000 dependents gone",
    );
    println!(
        "| delete owner (background) until the last of {DEPENDENTS} dependents is gone | {:.0} ms{} | <= {} ms {} |",
        took.as_secs_f64() * 1e3,
        if left > 0 {
            format!(" ({left} left)")
        } else {
            String::new()
        },
        GOAL.as_millis(),
        if ok { "ok" } else { "MISSED" }
    );
}
