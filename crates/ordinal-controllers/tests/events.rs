//! The event recorder against a real ordinal API server: repeats fold into
//! one Event with a count, and events expire after the server's TTL.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, ObjectReference};
use kube::api::ListParams;
use kube::{Api, Client};
use ordinal_apiserver::server::{self, Config};
use ordinal_core::events::{Recorder, Source};

async fn client_for(running: &server::Running) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// Polls `check` until it holds, for at most five seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn set_ref() -> ObjectReference {
    ObjectReference {
        kind: Some("StatefulSet".into()),
        api_version: Some("apps/v1".into()),
        namespace: Some("default".into()),
        name: Some("web".into()),
        uid: Some("0c2f4d3e-0000-0000-0000-000000000001".into()),
        ..Default::default()
    }
}

async fn events(client: &Client) -> Vec<Event> {
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    api.list(&ListParams::default()).await.unwrap().items
}

#[tokio::test]
async fn repeats_fold_into_one_event_with_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let running = server::start(Config::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let client = client_for(&running).await;
    let recorder = Recorder::new(
        client.clone(),
        Source {
            component: "statefulset-controller".into(),
            host: "test".into(),
        },
    );
    for _ in 0..3 {
        recorder.warning(&set_ref(), "FailedCreate", "create Pod web-0 failed");
    }
    recorder.normal(
        &set_ref(),
        "SuccessfulCreate",
        "create Pod web-0 successful",
    );
    eventually("two events, one counted three times", || async {
        let list = events(&client).await;
        list.len() == 2
            && list.iter().any(|e| {
                e.reason.as_deref() == Some("FailedCreate")
                    && e.count == Some(3)
                    && e.type_.as_deref() == Some("Warning")
            })
    })
    .await;
    let list = events(&client).await;
    let failed = list
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedCreate"))
        .unwrap();
    assert_eq!(failed.involved_object.name.as_deref(), Some("web"));
    assert!(failed.first_timestamp.is_some() && failed.last_timestamp.is_some());
    running.shutdown().await;
}

#[tokio::test]
async fn events_expire_after_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.event_ttl = Duration::from_secs(1);
    let running = server::start(config).await.unwrap();
    let client = client_for(&running).await;
    let recorder = Recorder::new(
        client.clone(),
        Source {
            component: "test".into(),
            host: "test".into(),
        },
    );
    recorder.normal(&set_ref(), "Hello", "short-lived");
    eventually("the event to be written", || async {
        events(&client).await.len() == 1
    })
    .await;
    eventually("the event to expire", || async {
        events(&client).await.is_empty()
    })
    .await;
    running.shutdown().await;
}
