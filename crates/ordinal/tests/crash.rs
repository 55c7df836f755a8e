//! Durability: a bounded write load, SIGKILL mid-load, restart on the same
//! data dir. Every acknowledged write survives, revisions keep increasing,
//! and a watch resumes from the last revision a client saw.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Ordinal;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams, WatchEvent, WatchParams};

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("payload".to_string(), "x".repeat(512))].into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on(tmp.path());
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    // 16 writers, each at most 200 creates: bounded in count; the kill comes
    // once 400 are acknowledged, while the others are still in flight.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16 {
        let api = api.clone();
        let acked = acked.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..200 {
                let name = format!("w{w}-{i}");
                match tokio::time::timeout(
                    Duration::from_secs(10),
                    api.create(&PostParams::default(), &configmap(&name)),
                )
                .await
                {
                    Ok(Ok(cm)) => {
                        let rv = cm
                            .metadata
                            .resource_version
                            .unwrap()
                            .parse::<u64>()
                            .unwrap();
                        acked.lock().unwrap().push((name, rv));
                    }
                    _ => return,
                }
            }
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 400 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load did not reach 400 writes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    let max_rv = acked.iter().map(|(_, rv)| *rv).max().unwrap();

    let server = Ordinal::start_on(tmp.path());
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let list = api.list(&Default::default()).await.unwrap();
    let list_rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    assert!(
        list_rv >= max_rv,
        "revision went backwards: {list_rv} < {max_rv}"
    );
    let stored: std::collections::HashMap<String, u64> = list
        .items
        .iter()
        .map(|c| {
            (
                c.metadata.name.clone().unwrap(),
                c.metadata
                    .resource_version
                    .clone()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            stored.get(name),
            Some(rv),
            "acknowledged write {name}@{rv} lost"
        );
    }

    // A watcher resumes from the last revision it saw before the crash.
    let mut events = api
        .watch(&WatchParams::default().timeout(20), &max_rv.to_string())
        .await
        .unwrap()
        .boxed();
    let fresh = api
        .create(&PostParams::default(), &configmap("after-restart"))
        .await
        .unwrap();
    let fresh_rv: u64 = fresh.metadata.resource_version.unwrap().parse().unwrap();
    assert!(fresh_rv > list_rv, "new writes get higher revisions");
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(WatchEvent::Added(cm)) if cm.metadata.name.as_deref() == Some("after-restart") => {
                break;
            }
            Some(WatchEvent::Error(e)) => panic!("watch could not resume: {e:?}"),
            Some(_) => {}
            None => panic!("watch ended before the new write arrived"),
        }
    }
}

#[test]
fn second_server_on_the_same_data_dir_is_refused() {
    let first = Ordinal::start();
    let err = common::spawn(&first.dir)
        .map(|_| ())
        .expect_err("the second must fail");
    assert!(err.contains("in use by another ordinal"), "{err}");
    // The first still serves.
    first.ok(&["get", "ns", "default"]);
}

#[test]
fn sigterm_shuts_down_cleanly_and_data_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Ordinal::start_on(tmp.path());
    server.ok(&["create", "configmap", "kept", "--from-literal=a=1"]);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    let server = Ordinal::start_on(tmp.path());
    server.ok(&["get", "configmap", "kept"]);
}
