//! Behaviour of the store through its public API.

use std::sync::Arc;
use std::time::Duration;

use ordinal_store::{Attrs, Event, EventType, Store, StoreConfig, StoreError};
use serde_json::{Value, json};

fn config(dir: &tempfile::TempDir) -> StoreConfig {
    let mut config = StoreConfig::new(dir.path().join("state/store.db"));
    config.attrs = Arc::new(|_key: &str, value: &Value| Attrs {
        labels: value["metadata"]["labels"]
            .as_object()
            .map(|labels| {
                labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        fields: vec![(
            "spec.nodeName",
            value["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )],
    });
    config
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(config(dir)).unwrap()
}

fn pod(name: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {"nodeName": node},
    })
}

fn rv(value: &Value) -> u64 {
    value["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// `(kind, key, rev)` of an event, for compact assertions.
fn brief(event: &Event) -> (EventType, String, u64) {
    (event.kind, event.key().to_owned(), event.rev())
}

fn drain(watcher: &mut ordinal_store::Watcher) -> Vec<Arc<Event>> {
    std::iter::from_fn(|| watcher.try_recv()).collect()
}

#[tokio::test]
async fn create_get_update_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.revision(), 0);
    let key = "/core/pods/default/web-0".to_owned();

    let created = store.create(key.clone(), pod("web-0", "n1")).await.unwrap();
    assert_eq!(created.rev, 1);
    assert_eq!(&*created.key, key);
    assert_eq!(rv(&created.value()), 1);
    assert_eq!(created.value()["spec"]["nodeName"], "n1");
    assert_eq!(created.attrs.label("app"), Some("web"));
    assert_eq!(created.attrs.field("spec.nodeName"), Some("n1"));
    assert_eq!(store.get(&key), Some(created.clone()));
    assert_eq!(store.revision(), 1);

    let err = store
        .create(key.clone(), pod("web-0", "n2"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists), "{err}");

    let err = store
        .update(key.clone(), pod("web-0", "n2"), 7)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current_rev: 1 }),
        "{err}"
    );
    let updated = store
        .update(key.clone(), pod("web-0", "n2"), 1)
        .await
        .unwrap();
    assert_eq!((updated.rev, rv(&updated.value())), (2, 2));
    assert_eq!(updated.attrs.field("spec.nodeName"), Some("n2"));
    assert_eq!(store.get(&key).unwrap().rev, 2);

    let err = store.delete(key.clone(), Some(1)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current_rev: 2 }),
        "{err}"
    );
    let deleted = store.delete(key.clone(), Some(2)).await.unwrap();
    assert_eq!((deleted.rev, rv(&deleted.value())), (3, 3));
    assert_eq!(deleted.value()["spec"]["nodeName"], "n2", "the last state");
    assert_eq!(deleted.attrs, updated.attrs);
    assert_eq!(store.get(&key), None);

    let missing = "/core/pods/default/nope".to_owned();
    assert!(matches!(
        store.update(missing.clone(), pod("x", "n"), 1).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(missing, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(key.clone(), None).await,
        Err(StoreError::NotFound)
    ));

    // Failed writes consume no revision; re-creating works.
    assert_eq!(store.revision(), 3);
    assert_eq!(store.create(key, pod("web-0", "n3")).await.unwrap().rev, 4);
}

#[tokio::test]
async fn values_that_cannot_carry_a_resource_version_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for bad in [json!([1, 2]), json!("pod"), json!({"metadata": "x"})] {
        let err = store.create("/k".into(), bad).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    }
    assert_eq!(store.revision(), 0);
    let ok = store
        .create("/k".into(), json!({"kind": "Thing"}))
        .await
        .unwrap();
    assert_eq!(ok.value()["metadata"], json!({"resourceVersion": "1"}));
    let err = store.update("/k".into(), json!(3), 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
}

#[tokio::test]
async fn resource_version_in_the_input_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut value = pod("a", "n1");
    value["metadata"]["resourceVersion"] = json!("999");
    let created = store
        .create("/core/pods/default/a".into(), value)
        .await
        .unwrap();
    assert_eq!(rv(&created.value()), 1);
}

#[tokio::test]
async fn state_and_revision_survive_reopen_even_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = store.create("/p/a".into(), pod("a", "n1")).await.unwrap();
    store.create("/p/b".into(), pod("b", "n1")).await.unwrap();
    store
        .update("/p/a".into(), pod("a", "n2"), a.rev)
        .await
        .unwrap();
    store.delete("/p/b".into(), None).await.unwrap();
    // Acknowledged writes are committed: a second opener sees them while the
    // first store is never closed.
    std::mem::forget(store);

    let store = open(&dir);
    assert_eq!(store.revision(), 4);
    let a = store.get("/p/a").unwrap();
    assert_eq!((a.rev, rv(&a.value())), (3, 3));
    assert_eq!(a.value()["spec"]["nodeName"], "n2");
    assert_eq!(
        a.attrs.field("spec.nodeName"),
        Some("n2"),
        "attrs are recomputed"
    );
    assert!(store.get("/p/b").is_none());
    assert_eq!(store.snapshot().len(), 1);
    // The revision keeps counting from where it was.
    assert_eq!(
        store
            .create("/p/c".into(), pod("c", "n1"))
            .await
            .unwrap()
            .rev,
        5
    );
}

#[tokio::test]
async fn revision_never_goes_backwards_even_when_everything_is_deleted_and_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.log_retention = 1;
    let store = Store::open(cfg.clone()).unwrap();
    for i in 0..5 {
        store
            .create(format!("/p/{i}"), pod("x", "n"))
            .await
            .unwrap();
        store.delete(format!("/p/{i}"), None).await.unwrap();
    }
    store.close();
    let store = Store::open(cfg).unwrap();
    assert_eq!(store.revision(), 10);
    assert!(store.snapshot().is_empty());
    assert_eq!(
        store
            .create("/p/0".into(), pod("x", "n"))
            .await
            .unwrap()
            .rev,
        11
    );
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_writes_are_group_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create(format!("/p/{i}"), pod("x", "n")).await })
        })
        .collect();
    let mut revs = Vec::new();
    for task in tasks {
        revs.push(task.await.unwrap().unwrap().rev);
    }
    revs.sort();
    assert_eq!(revs, (1..=64).collect::<Vec<_>>());
    let stats = store.stats();
    assert_eq!(stats.writes, 64);
    // All 64 are queued within one scheduler tick while the first commit is
    // being fsynced, so a couple of transactions carry them all.
    assert!(
        stats.commits <= 8,
        "{} commits for 64 writes",
        stats.commits
    );
}

#[tokio::test]
async fn snapshots_are_immutable_and_prefix_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for key in [
        "/core/pods/default/a",
        "/core/pods/default2/b",
        "/core/pods/default/c",
        "/core/nodes/n1",
    ] {
        store.create(key.into(), pod("x", "n")).await.unwrap();
    }
    let snap = store.snapshot();
    store
        .delete("/core/pods/default/a".into(), None)
        .await
        .unwrap();
    assert_eq!(snap.rev, 4);
    let keys: Vec<_> = snap
        .range("/core/pods/default/", None)
        .map(|o| o.key.to_string())
        .collect();
    assert_eq!(keys, ["/core/pods/default/a", "/core/pods/default/c"]);
    assert_eq!(snap.count("/core/pods/"), 3);
    let page: Vec<_> = snap
        .range("/core/pods/", Some("/core/pods/default/c"))
        .map(|o| o.key.to_string())
        .collect();
    assert_eq!(page, ["/core/pods/default2/b"]);
    assert_eq!(store.snapshot().count("/core/pods/default/"), 1);
}

#[tokio::test]
async fn snapshot_at_returns_the_exact_past_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a1 = store.create("/p/a".into(), pod("a", "n1")).await.unwrap(); // 1
    let b1 = store.create("/p/b".into(), pod("b", "n1")).await.unwrap(); // 2
    let a2 = store
        .update("/p/a".into(), pod("a", "n2"), 1)
        .await
        .unwrap(); // 3
    store.delete("/p/b".into(), None).await.unwrap(); // 4
    let c1 = store.create("/p/c".into(), pod("c", "n1")).await.unwrap(); // 5

    let at = |rev| {
        let snap = store.snapshot_at(rev).unwrap();
        assert_eq!(snap.rev, rev);
        snap.range("/", None).cloned().collect::<Vec<_>>()
    };
    assert_eq!(at(0), []);
    assert_eq!(at(1), vec![a1.clone()]);
    assert_eq!(at(2), [a1, b1.clone()]);
    assert_eq!(at(3), [a2.clone(), b1]);
    assert_eq!(at(4), vec![a2.clone()]);
    assert_eq!(at(5), [a2, c1]);
    assert!(matches!(
        store.snapshot_at(6),
        Err(StoreError::TooLarge {
            requested: 6,
            current: 5
        })
    ));
}

#[tokio::test]
async fn snapshot_at_and_watch_expire_beyond_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.history = 3;
    let store = Store::open(cfg).unwrap();
    for i in 0..5 {
        store
            .create(format!("/p/{i}"), pod("x", "n"))
            .await
            .unwrap();
    }
    assert!(matches!(
        store.snapshot_at(1),
        Err(StoreError::Expired {
            requested: 1,
            oldest: 2
        })
    ));
    assert_eq!(store.snapshot_at(2).unwrap().len(), 2);
    assert!(matches!(
        store.watch("/p/", 1),
        Err(StoreError::Expired {
            requested: 1,
            oldest: 2
        })
    ));
    let mut w = store.watch("/p/", 2).unwrap();
    let revs: Vec<_> = drain(&mut w).iter().map(|e| e.rev()).collect();
    assert_eq!(revs, [3, 4, 5]);
}

#[tokio::test]
async fn watch_replays_the_missing_events_then_goes_live() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = store
        .create("/core/pods/default/a".into(), pod("a", "n1"))
        .await
        .unwrap(); // 1
    store
        .create("/core/pods/default2/x".into(), pod("x", "n1"))
        .await
        .unwrap(); // 2
    store
        .update("/core/pods/default/a".into(), pod("a", "n2"), a.rev)
        .await
        .unwrap(); // 3
    store
        .create("/core/pods/default/b".into(), pod("b", "n1"))
        .await
        .unwrap(); // 4

    let mut w = store.watch("/core/pods/default/", 1).unwrap();
    let mut all = store.watch("/", 0).unwrap();
    store
        .delete("/core/pods/default/a".into(), None)
        .await
        .unwrap(); // 5
    store
        .create("/core/pods/default2/y".into(), pod("y", "n1"))
        .await
        .unwrap(); // 6

    let events = drain(&mut w);
    let got: Vec<_> = events.iter().map(|e| brief(e)).collect();
    assert_eq!(
        got,
        [
            (EventType::Modified, "/core/pods/default/a".into(), 3),
            (EventType::Added, "/core/pods/default/b".into(), 4),
            (EventType::Deleted, "/core/pods/default/a".into(), 5),
        ]
    );
    assert_eq!(events[0].prev.as_ref().unwrap().rev, 1);
    assert_eq!(events[1].prev, None);
    let deleted = &events[2];
    assert_eq!(
        rv(&deleted.object.value()),
        5,
        "deleted object carries the delete's revision"
    );
    assert_eq!(deleted.prev.as_ref().unwrap().rev, 3);
    assert_eq!(w.bookmark_rev(), Some(6));

    assert_eq!(
        drain(&mut all).iter().map(|e| e.rev()).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );

    // recv waits for the next live event.
    let store2 = store.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        store2
            .create("/core/pods/default/c".into(), pod("c", "n1"))
            .await
            .unwrap()
    });
    let next = w.recv().await.unwrap();
    assert_eq!(
        brief(&next),
        (EventType::Added, "/core/pods/default/c".into(), 7)
    );
    assert_eq!(writer.await.unwrap().rev, 7);
}

#[tokio::test]
async fn watch_from_the_current_revision_sees_only_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.create("/p/a".into(), pod("a", "n")).await.unwrap();
    let snap = store.snapshot();
    let mut w = store.watch("/p/", snap.rev).unwrap();
    assert!(w.try_recv().is_none());
    assert_eq!(w.bookmark_rev(), Some(1));
    store.create("/p/b".into(), pod("b", "n")).await.unwrap();
    assert_eq!(w.bookmark_rev(), None, "an event is pending");
    assert_eq!(w.try_recv().unwrap().rev(), 2);
    assert_eq!(w.bookmark_rev(), Some(2));
}

#[tokio::test]
async fn watch_resumes_after_reopen_with_previous_objects() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.log_retention = 20;
    let store = Store::open(cfg.clone()).unwrap();
    // An old object whose previous version will be far below the log window.
    let old = store
        .create("/p/old".into(), pod("old", "n1"))
        .await
        .unwrap(); // 1
    for i in 0..40 {
        store
            .create(format!("/q/{i}"), pod("x", "n"))
            .await
            .unwrap(); // 2..=41
    }
    let last_seen = store.revision();
    store
        .update("/p/old".into(), pod("old", "n2"), old.rev)
        .await
        .unwrap(); // 42
    store
        .create("/p/new".into(), pod("new", "n1"))
        .await
        .unwrap(); // 43
    store.delete("/p/new".into(), None).await.unwrap(); // 44
    store.close();
    assert!(matches!(
        store.create("/p/x".into(), json!({})).await,
        Err(StoreError::Closed)
    ));

    let store = Store::open(cfg).unwrap();
    assert!(store.stats().compacted > 1, "the log was compacted");
    let mut w = store.watch("/p/", last_seen).unwrap();
    let events = drain(&mut w);
    let got: Vec<_> = events.iter().map(|e| brief(e)).collect();
    assert_eq!(
        got,
        [
            (EventType::Modified, "/p/old".into(), 42),
            (EventType::Added, "/p/new".into(), 43),
            (EventType::Deleted, "/p/new".into(), 44),
        ]
    );
    let prev = events[0].prev.as_ref().unwrap();
    assert_eq!(
        (prev.rev, prev.attrs.field("spec.nodeName")),
        (1, Some("n1"))
    );
    assert_eq!(events[2].prev.as_ref().unwrap().rev, 43);
    assert_eq!(rv(&events[2].object.value()), 44);
    // And the past is reconstructible too.
    let before = store.snapshot_at(last_seen).unwrap();
    assert_eq!(before.get("/p/old").unwrap().rev, 1);
    assert!(before.get("/p/new").is_none());
}

#[tokio::test]
async fn watch_after_reopen_from_a_compacted_revision_expires() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.log_retention = 8;
    let store = Store::open(cfg.clone()).unwrap();
    for i in 0..30 {
        store
            .create(format!("/p/{i}"), pod("x", "n"))
            .await
            .unwrap();
    }
    // In memory the history (10,000 events) still reaches back.
    assert!(store.watch("/p/", 1).is_ok());
    drop(store);

    let store = Store::open(cfg).unwrap();
    let stats = store.stats();
    assert!(
        stats.compacted >= 30 - 8 - 1 && stats.compacted <= 22,
        "{stats:?}"
    );
    assert_eq!(stats.history_floor, stats.compacted);
    let err = store.watch("/p/", 1).unwrap_err();
    assert!(
        matches!(err, StoreError::Expired { requested: 1, .. }),
        "{err}"
    );
    let mut w = store.watch("/p/", stats.compacted).unwrap();
    assert_eq!(drain(&mut w).last().unwrap().rev(), 30);
}

#[tokio::test]
async fn the_log_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.log_retention = 50;
    let store = Store::open(cfg.clone()).unwrap();
    let mut revs = [0u64; 5];
    for round in 0..100 {
        for (k, rev) in revs.iter_mut().enumerate() {
            let key = format!("/p/{k}");
            *rev = if round == 0 {
                store.create(key, pod("x", "n")).await.unwrap().rev
            } else {
                store
                    .update(key, pod("x", &round.to_string()), *rev)
                    .await
                    .unwrap()
                    .rev
            };
        }
        // A short-lived key too, deleted again.
        let tmp = store.create("/tmp/x".into(), pod("t", "n")).await.unwrap();
        store.delete("/tmp/x".into(), Some(tmp.rev)).await.unwrap();
    }
    assert_eq!(store.revision(), 700);
    store.close();
    let rows: i64 = rusqlite::Connection::open(&cfg.path)
        .unwrap()
        .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
        .unwrap();
    // The retained window (plus one compaction step) and the previous
    // versions it refers to, not the 700 writes.
    assert!(rows <= 50 + 50 / 8 + 5, "{rows} log rows");
    let store = Store::open(cfg).unwrap();
    assert_eq!(store.snapshot().len(), 5);
    assert_eq!(store.get("/p/3").unwrap().value()["spec"]["nodeName"], "99");
}

#[tokio::test]
async fn a_slow_watcher_is_dropped_without_blocking_writers() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&dir);
    cfg.watch_buffer = 4;
    let store = Store::open(cfg).unwrap();
    let mut slow = store.watch("/p/", 0).unwrap();
    let mut fast = store.watch("/p/", 0).unwrap();
    let mut seen = Vec::new();
    for i in 0..20 {
        store
            .create(format!("/p/{i}"), pod("x", "n"))
            .await
            .unwrap();
        seen.extend(drain(&mut fast).iter().map(|e| e.rev()));
    }
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    assert_eq!(store.stats().watchers, 1, "the slow one was unregistered");
    let got: Vec<_> = drain(&mut slow).iter().map(|e| e.rev()).collect();
    assert_eq!(got, [1, 2, 3, 4], "what was queued is delivered");
    assert!(slow.recv().await.is_none(), "then the watch ends");
    // Revisions 1..=4 were one batch each and were all delivered; 5 was lost.
    assert_eq!(slow.bookmark_rev(), Some(4), "never claims a lost event");
}

#[tokio::test]
async fn close_flushes_pending_writes_and_ends_watches() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir);
    let store = Store::open(cfg.clone()).unwrap();
    let mut w = store.watch("/", 0).unwrap();
    let pending: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create(format!("/p/{i}"), json!({})).await })
        })
        .collect();
    for task in pending {
        task.await.unwrap().unwrap();
    }
    store.close();
    store.close();
    assert!(matches!(store.watch("/", 10), Err(StoreError::Closed)));
    assert!(matches!(
        store.delete("/p/1".into(), None).await,
        Err(StoreError::Closed)
    ));
    assert_eq!(drain(&mut w).len(), 10);
    assert!(w.recv().await.is_none());
    drop(store);
    assert_eq!(Store::open(cfg).unwrap().snapshot().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_started_during_writes_miss_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    store
                        .create(format!("/p/{w}-{i}"), json!({}))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut watches = Vec::new();
    let mut last = u64::MAX;
    while store.revision() < 400 {
        // The list-then-watch pattern of every Kubernetes client, once per
        // revision seen.
        let snap = store.snapshot();
        if snap.rev != last {
            last = snap.rev;
            watches.push((snap.rev, snap.len(), store.watch("/p/", snap.rev).unwrap()));
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(watches.len() > 1);
    for (from, listed, mut watcher) in watches {
        assert_eq!(listed as u64, from, "a snapshot holds whole batches");
        let revs: Vec<_> = drain(&mut watcher).iter().map(|e| e.rev()).collect();
        assert_eq!(
            revs,
            (from + 1..=400).collect::<Vec<_>>(),
            "watch from {from}"
        );
    }
}

/// The database holds every Secret: its file and SQLite's `-wal` and
/// `-shm` beside it are the owner's alone, also when an older version left
/// them readable by everyone.
#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/store.db");
    let mode = |suffix: &str| {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    let store = open(&dir);
    store.create("/p/a".into(), pod("a", "n1")).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(suffix), 0o600, "store.db{suffix}");
    }
    store.close();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        if std::path::Path::new(&p).exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let store = open(&dir);
    store.create("/p/b".into(), pod("b", "n1")).await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        assert_eq!(mode(suffix), 0o600, "store.db{suffix} after reopen");
    }
}
