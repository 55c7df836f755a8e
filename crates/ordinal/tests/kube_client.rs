//! kube-rs, unchanged, against `ordinal up`: typed CRUD, optimistic
//! concurrency, list pagination and the runtime watcher.

mod common;

use std::time::Duration;

use common::Ordinal;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::watcher;

fn configmap(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("app".to_string(), "demo".to_string())].into()),
            ..Default::default()
        },
        data: Some([("value".to_string(), value.to_string())].into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_list_replace_and_stale_replace_conflicts() {
    let o = Ordinal::start();
    let client = o.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &configmap("one", "1"))
        .await
        .unwrap();
    let rv1 = created.metadata.resource_version.clone().unwrap();
    assert!(created.metadata.uid.is_some());

    let list = api
        .list(&ListParams::default().labels("app=demo"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.metadata.resource_version.is_some());

    let mut changed = created.clone();
    changed.data = Some([("value".to_string(), "2".to_string())].into());
    let replaced = api
        .replace("one", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(
        replaced.metadata.resource_version.as_deref(),
        Some(rv1.as_str())
    );

    // Replaying the old resourceVersion is a 409 Conflict.
    let mut stale = created.clone();
    stale.data = Some([("value".to_string(), "3".to_string())].into());
    match api.replace("one", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409);
            assert_eq!(status.reason, "Conflict");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(api.get("one").await.unwrap().data.unwrap()["value"], "2");

    // Creating into a missing namespace is 404 on the namespace.
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    match missing
        .create(&PostParams::default(), &configmap("x", "1"))
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.message, "namespaces \"nowhere\" not found");
        }
        other => panic!("expected 404, got {other:?}"),
    }
}

#[tokio::test]
async fn paginated_list_is_complete_and_ordered() {
    let o = Ordinal::start();
    let client = o.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..25 {
        api.create(
            &PostParams::default(),
            &configmap(&format!("cm-{i:02}"), "x"),
        )
        .await
        .unwrap();
    }
    let mut names = Vec::new();
    let mut params = ListParams::default().limit(7);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.unwrap();
        pages += 1;
        // The namespace's own `kube-root-ca.crt` may be among them.
        names.extend(
            page.items
                .iter()
                .filter_map(|c| c.metadata.name.clone())
                .filter(|n| n.starts_with("cm-")),
        );
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => break,
        }
    }
    assert_eq!(pages, 4);
    let expected: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn runtime_watcher_sees_initial_state_and_changes() {
    let o = Ordinal::start();
    let client = o.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &configmap("before", "1"))
        .await
        .unwrap();

    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut stream = watcher(api.clone(), config.labels("app=demo")).boxed();
        let mut seen_init = false;
        let mut seen_before = false;
        let name = format!("after-{}", seen_init as u8);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut created = false;
        loop {
            let event = tokio::time::timeout_at(deadline, stream.try_next())
                .await
                .expect("watcher made progress")
                .expect("watcher ok")
                .expect("stream open");
            match event {
                watcher::Event::InitApply(cm) if cm.metadata.name.as_deref() == Some("before") => {
                    seen_before = true
                }
                watcher::Event::InitDone => {
                    seen_init = true;
                    let fresh = format!("{name}-{}", rand_suffix());
                    api.create(&PostParams::default(), &configmap(&fresh, "2"))
                        .await
                        .unwrap();
                    created = true;
                }
                watcher::Event::Apply(cm)
                    if created
                        && cm
                            .metadata
                            .name
                            .as_deref()
                            .is_some_and(|n| n.starts_with("after")) =>
                {
                    break;
                }
                _ => {}
            }
        }
        assert!(seen_init && seen_before);
    }
    // Namespaces are cluster scoped.
    let ns: Api<Namespace> = Api::all(client);
    assert!(ns.get("kube-system").await.is_ok());
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
