//! Members on 127.0.0.1 talking HTTP: a primary taking writes, replicas
//! refusing them, following the primary, catching up after being away,
//! resyncing from a snapshot, and the init container's clone.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use ordinal_kv::client::{self, Response};
use ordinal_kv::clone::{CloneError, Outcome, clone};
use ordinal_kv::identity::Identity;
use ordinal_kv::member::Member;
use ordinal_kv::protocol::{LogReply, Status, key_path};
use ordinal_kv::store::Store;
use tokio::sync::oneshot;

/// A member serving on a free loopback port until dropped.
struct Running {
    addr: String,
    member: Arc<Member>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the server and waits for it to finish.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .expect("the server stops promptly")
            .unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(pod: &str, dir: &Path, primary: Option<&str>, compact_after: usize) -> Running {
    let identity = Identity::parse(pod, "kv", 7070).unwrap();
    let dir_owned = dir.to_path_buf();
    let store = tokio::task::spawn_blocking(move || Store::open_with(&dir_owned, compact_after))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let member = match primary {
        Some(p) => Member::following(identity, store, p.to_string()),
        None => Member::following(identity, store, addr.clone()),
    };
    let (tx, rx) = oneshot::channel();
    let m = Arc::clone(&member);
    let task = tokio::spawn(async move {
        ordinal_kv::serve(listener, m, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running {
        addr,
        member,
        stop: Some(tx),
        task,
    }
}

async fn call(addr: &str, method: Method, path: &str, body: Option<&str>) -> Response {
    client::request(
        addr,
        method,
        path,
        body.map(|b| Bytes::from(b.to_string())),
        Duration::from_secs(20),
    )
    .await
    .unwrap()
}

async fn put(addr: &str, key: &str, value: &str) -> Response {
    call(addr, Method::PUT, &key_path(key), Some(value)).await
}

async fn get(addr: &str, key: &str) -> Option<String> {
    let res = call(addr, Method::GET, &key_path(key), None).await;
    (res.status == StatusCode::OK).then(|| res.text())
}

async fn status(addr: &str) -> Status {
    serde_json::from_slice(&call(addr, Method::GET, "/status", None).await.body).unwrap()
}

/// Waits until `check` holds, for at most 10 s.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn the_primary_takes_writes_and_replicas_refuse_them_naming_the_primary() {
    let (pdir, rdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let primary = start("web-0", pdir.path(), None, 100).await;
    let replica = start("web-1", rdir.path(), Some(&primary.addr), 100).await;

    let res = put(&primary.addr, "color", "blue").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
    assert_eq!(res.text(), r#"{"seq":1}"#);
    assert_eq!(get(&primary.addr, "color").await.as_deref(), Some("blue"));

    let res = put(&replica.addr, "color", "red").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.text(),
        format!(
            "web-1 is a read-only replica: send writes to the primary, {}",
            primary.addr
        )
    );
    let res = call(&replica.addr, Method::DELETE, &key_path("color"), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // The refused write changed nothing anywhere.
    eventually("the replica has the write", || async {
        get(&replica.addr, "color").await.as_deref() == Some("blue")
    })
    .await;
    assert_eq!(get(&primary.addr, "color").await.as_deref(), Some("blue"));

    // Deletes are writes too; a missing key is a 404.
    let res = call(&primary.addr, Method::DELETE, &key_path("color"), None).await;
    assert_eq!(res.text(), r#"{"seq":2}"#);
    let res = call(&primary.addr, Method::DELETE, &key_path("color"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.text(), r#"key "color" not found"#);
    eventually("the replica saw the delete", || async {
        get(&replica.addr, "color").await.is_none()
    })
    .await;
    primary.stop().await;
    replica.stop().await;
}

#[tokio::test]
async fn a_replica_is_ready_only_once_it_has_caught_up_and_then_follows_at_once() {
    let (pdir, rdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The replica starts before its primary exists: not ready.
    let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let primary_addr = free.local_addr().unwrap().to_string();
    drop(free);
    let replica = start("web-1", rdir.path(), Some(&primary_addr), 100).await;
    let res = call(&replica.addr, Method::GET, "/readyz", None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.text(),
        format!("catching up with the primary, {primary_addr}")
    );
    assert!(!status(&replica.addr).await.ready);

    // The primary comes up (on that address) with data.
    let identity = Identity::parse("web-0", "kv", 7070).unwrap();
    let mut store = Store::open(pdir.path()).unwrap();
    for i in 0..5 {
        store.write(&format!("k{i}"), Some("v")).unwrap();
    }
    let member = Member::following(identity, store, primary_addr.clone());
    let listener = tokio::net::TcpListener::bind(&primary_addr).await.unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(ordinal_kv::serve(listener, member, async {
        let _ = rx.await;
    }));
    eventually("the replica is ready", || async {
        call(&replica.addr, Method::GET, "/readyz", None)
            .await
            .status
            == StatusCode::OK
    })
    .await;
    let s = status(&replica.addr).await;
    assert_eq!(
        (s.role.as_str(), s.seq, s.keys, s.ready),
        ("replica", 5, 5, true)
    );

    // A write reaches the replica within the long poll, not at its end
    // (10 s).
    let started = Instant::now();
    put(&primary_addr, "late", "yes").await;
    eventually("the write is replicated", || async {
        get(&replica.addr, "late").await.is_some()
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Stopping a server ends its open long polls at once.
    let stopping = Instant::now();
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the primary stops while a replica is polling")
        .unwrap()
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(5));
    // The replica stays ready and serves what it has.
    assert_eq!(get(&replica.addr, "late").await.as_deref(), Some("yes"));
    assert!(status(&replica.addr).await.ready);
    replica.stop().await;
}

#[tokio::test]
async fn a_replica_that_was_away_catches_up_from_its_own_data() {
    let (pdir, rdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let primary = start("web-0", pdir.path(), None, 100).await;
    let replica = start("web-1", rdir.path(), Some(&primary.addr), 100).await;
    put(&primary.addr, "a", "1").await;
    eventually("replicated", || async {
        get(&replica.addr, "a").await.is_some()
    })
    .await;
    replica.stop().await;

    put(&primary.addr, "b", "2").await;
    // Its own data is on disk: it restarts at seq 1 and fetches only seq 2.
    assert_eq!(Store::open(rdir.path()).unwrap().seq(), 1);
    let replica = start("web-1", rdir.path(), Some(&primary.addr), 100).await;
    eventually("caught up", || async {
        status(&replica.addr).await.seq == 2
    })
    .await;
    assert_eq!(get(&replica.addr, "b").await.as_deref(), Some("2"));
    primary.stop().await;
    replica.stop().await;
}

#[tokio::test]
async fn a_replica_behind_a_compacted_log_or_ahead_of_its_primary_takes_the_snapshot() {
    let (pdir, rdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let primary = start("web-0", pdir.path(), None, 3).await;
    for i in 0..10 {
        put(&primary.addr, &format!("k{i}"), &i.to_string()).await;
    }
    // Entries 1..=9 are only in the primary's snapshot now.
    let res = call(&primary.addr, Method::GET, "/log?after=0", None).await;
    assert_eq!(res.status, StatusCode::GONE);
    let replica = start("web-1", rdir.path(), Some(&primary.addr), 3).await;
    eventually("the replica holds the primary's state", || async {
        status(&replica.addr).await.seq == 10
    })
    .await;
    assert_eq!(get(&replica.addr, "k0").await.as_deref(), Some("0"));
    replica.stop().await;
    primary.stop().await;

    // The primary loses its data and starts over: the replica is ahead,
    // and takes the primary's state as the truth.
    let pdir = tempfile::tempdir().unwrap();
    let primary = start("web-0", pdir.path(), None, 3).await;
    put(&primary.addr, "fresh", "start").await;
    let replica = start("web-1", rdir.path(), Some(&primary.addr), 3).await;
    eventually("the replica resynced", || async {
        status(&replica.addr).await.seq == 1
    })
    .await;
    assert_eq!(get(&replica.addr, "k0").await, None);
    assert_eq!(get(&replica.addr, "fresh").await.as_deref(), Some("start"));
    replica.stop().await;
    primary.stop().await;
}

#[tokio::test]
async fn the_log_feed_waits_for_a_new_entry_and_answers_a_follower_ahead_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let primary = start("web-0", dir.path(), None, 100).await;
    put(&primary.addr, "a", "1").await;
    let reply = |res: Response| serde_json::from_slice::<LogReply>(&res.body).unwrap();

    let r = reply(call(&primary.addr, Method::GET, "/log?after=0", None).await);
    assert_eq!((r.seq, r.entries.len()), (1, 1));
    // Nothing new: waits, then answers empty.
    let started = Instant::now();
    let r = reply(call(&primary.addr, Method::GET, "/log?after=1&wait=300", None).await);
    assert!(r.entries.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Ahead of the primary: no waiting.
    let started = Instant::now();
    let r = reply(call(&primary.addr, Method::GET, "/log?after=9&wait=5000", None).await);
    assert_eq!((r.seq, r.entries.len()), (1, 0));
    assert!(started.elapsed() < Duration::from_secs(2));
    // A write during the wait answers it.
    let addr = primary.addr.clone();
    let poll = tokio::spawn(async move {
        reply(call(&addr, Method::GET, "/log?after=1&wait=10000", None).await)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    put(&primary.addr, "b", "2").await;
    let r = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.entries[0].key, "b");
    // A bad query is the client's fault.
    let res = call(&primary.addr, Method::GET, "/log?after=x", None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(primary.member.seq(), 2);
    primary.stop().await;
}

#[tokio::test]
async fn the_init_container_clones_the_previous_member_once() {
    let (pdir, cdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let primary = start("web-0", pdir.path(), None, 100).await;
    put(&primary.addr, "color", "blue").await;
    put(&primary.addr, "size", "L").await;

    let web2 = Identity::parse("web-2", "kv", 7070).unwrap();
    let data = cdir.path().join("data");
    let outcome = clone(&web2, &data, Some(&primary.addr), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Cloned {
            from: primary.addr.clone(),
            seq: 2,
            keys: 2
        }
    );
    assert_eq!(
        outcome.to_string(),
        format!("cloned 2 keys at seq 2 from {}", primary.addr)
    );
    let store = Store::open(&data).unwrap();
    assert_eq!(store.get("size"), Some("L"));
    drop(store);

    // Data on the claim is kept: a pod that comes back does not clone.
    put(&primary.addr, "more", "x").await;
    let outcome = clone(&web2, &data, Some(&primary.addr), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Kept { seq: 2, keys: 2 });

    // Ordinal 0 has nothing to clone from.
    let web0 = Identity::parse("web-0", "kv", 7070).unwrap();
    let empty = cdir.path().join("zero");
    assert_eq!(
        clone(&web0, &empty, None, Duration::from_secs(1))
            .await
            .unwrap(),
        Outcome::Primary
    );
    assert!(!Store::exists(&empty));
    primary.stop().await;

    // Nobody to clone from: it gives up after its patience, leaving no
    // store behind, so a retry starts over.
    let nothing = cdir.path().join("nothing");
    let started = Instant::now();
    let err = clone(
        &web2,
        &nothing,
        Some("127.0.0.1:1"),
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CloneError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("could not clone from 127.0.0.1:1"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!Store::exists(&nothing));
}
