//! Volume benchmark against a real `ordinal up` process: 1,000 claims of
//! an Immediate local-path class are created by 32 concurrent clients,
//! and the time until every one is Bound to a provisioned volume (its
//! directory made) is measured; then the claims are deleted and the time
//! until every volume and directory is gone.
//! Run: `cargo bench -p ordinal --bench volumes`.
//!
//! Every loop is bounded in count and time.

#[path = "../../../benches/report.rs"]
mod report;
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

const CLAIMS: usize = 1_000;
const WRITERS: usize = 32;
const GOAL: Duration = Duration::from_secs(3);
const LIMIT: Duration = Duration::from_secs(120);

fn claim(i: usize) -> PersistentVolumeClaim {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("data-{i}"), "labels": {"bench": "volumes"}},
        "spec": {
            "storageClassName": "bench",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }))
    .unwrap()
}

async fn bound(claims: &Api<PersistentVolumeClaim>) -> usize {
    claims
        .list(&ListParams::default().labels("bench=volumes"))
        .await
        .map(|l| {
            l.items
                .iter()
                .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
                .count()
        })
        .unwrap_or(0)
}

/// Polls `count` until it reaches `want`; the time it took.
async fn until<F, Fut>(started: Instant, want: usize, mut count: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    loop {
        let n = count().await;
        if n == want {
            return started.elapsed();
        }
        assert!(started.elapsed() < LIMIT, "stuck at {n} of {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("volumes");
    let (mut child, _) = support::spawn(&dir);
    let c = support::client(&dir).await;
    let classes: Api<StorageClass> = Api::all(c.clone());
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(c.clone(), "default");
    let pvs: Api<PersistentVolume> = Api::all(c.clone());

    // The controllers are up once they made the default class.
    let waiting = Instant::now();
    while classes.get_opt("local-path").await.unwrap().is_none() {
        assert!(waiting.elapsed() < LIMIT, "no default class");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let class: StorageClass = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench"},
        "provisioner": "ordinal.dev/local-path",
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Delete",
    }))
    .unwrap();
    classes
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let created = futures::stream::iter(0..CLAIMS)
        .map(|i| {
            let claims = claims.clone();
            async move {
                claims
                    .create(&PostParams::default(), &claim(i))
                    .await
                    .is_ok()
            }
        })
        .buffer_unordered(WRITERS)
        .filter(|ok| futures::future::ready(*ok))
        .count()
        .await;
    assert_eq!(created, CLAIMS);
    let creating = started.elapsed();
    let all_bound = until(started, CLAIMS, || bound(&claims)).await;
    let volumes_dir = dir.join("volumes");
    let directories = std::fs::read_dir(&volumes_dir).unwrap().count();
    assert_eq!(directories, CLAIMS);

    let deleting = Instant::now();
    claims
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("bench=volumes"),
        )
        .await
        .unwrap();
    let all_gone = until(deleting, 0, || async {
        let volumes = pvs
            .list_metadata(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(usize::MAX);
        let dirs = std::fs::read_dir(&volumes_dir)
            .map(|d| d.count())
            .unwrap_or(usize::MAX);
        volumes.max(dirs)
    })
    .await;

    report::figure(
        "volumes.create_1000",
        report::ms(creating),
        "ms",
        report::Goal::None,
        "create 1,000 claims, 32 clients",
    );
    report::figure(
        "volumes.bound_1000",
        report::ms(all_bound),
        "ms",
        report::Goal::AtMost(report::ms(GOAL)),
        "first create → 1,000 claims Bound to provisioned volumes",
    );
    report::figure(
        "volumes.deleted_1000",
        report::ms(all_gone),
        "ms",
        report::Goal::None,
        "deletecollection of the claims → every PV and directory gone",
    );
    println!("volumes: {CLAIMS} claims of an Immediate local-path class, {WRITERS} writers");
    println!("  creating the claims: {} ms", creating.as_millis());
    println!(
        "  first create → all {CLAIMS} Bound to provisioned volumes: {} ms (goal ≤ {} ms) {}",
        all_bound.as_millis(),
        GOAL.as_millis(),
        if all_bound <= GOAL { "OK" } else { "MISSED" }
    );
    println!(
        "  delete the claims → every volume and directory gone: {} ms",
        all_gone.as_millis()
    );
    let _ = child.kill();
    let _ = child.wait();
}
