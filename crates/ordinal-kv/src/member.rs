//! One member of the replicated store: its identity, its store, and what
//! it serves over HTTP (see [`crate::protocol`] for the routes).
//!
//! The primary (ordinal 0) takes writes; a replica answers reads from its
//! own copy and refuses writes with a message naming the primary. The
//! store sits under a plain mutex and every call into it runs on the
//! blocking pool, because writes fsync.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::watch;

use crate::identity::Identity;
use crate::protocol::{LOG_BATCH, LogReply, MAX_WAIT_MS, Status, WriteReply};
use crate::store::{Snapshot, Store, StoreError};

/// A member's shared state.
pub struct Member {
    /// Who this member is in its StatefulSet; it decides the role.
    pub identity: Identity,
    /// Where writes go and what a replica follows: `<set>-0.<service>`
    /// unless told otherwise.
    primary: String,
    store: Mutex<Store>,
    /// The store's sequence number, for long polls.
    seq: watch::Sender<u64>,
    ready: AtomicBool,
    /// Set when the server stops, so long polls end at once.
    stopping: watch::Sender<bool>,
}

impl Member {
    /// A member serving `store` whose primary is at `primary`
    /// ([`Identity::primary`] in a StatefulSet; another address in tests).
    /// The primary is ready at once; a replica once its follower says it
    /// caught up.
    pub fn following(identity: Identity, store: Store, primary: String) -> Arc<Member> {
        let ready = identity.is_primary();
        Arc::new(Member {
            primary,
            seq: watch::Sender::new(store.seq()),
            store: Mutex::new(store),
            identity,
            ready: AtomicBool::new(ready),
            stopping: watch::Sender::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half
        // changed in memory (changes are applied after the disk write), so
        // a poisoned lock is still a usable store.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the store, off the async workers.
    pub(crate) async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> T {
        let me = Arc::clone(self);
        let out = tokio::task::spawn_blocking(move || {
            let mut store = me.lock();
            let out = f(&mut store);
            me.seq.send_if_modified(|s| {
                let changed = *s != store.seq();
                *s = store.seq();
                changed
            });
            out
        })
        .await;
        match out {
            Ok(out) => out,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// The primary's address.
    pub(crate) fn primary(&self) -> &str {
        &self.primary
    }

    /// The sequence number of the store's last change, as long polls see
    /// it.
    pub fn seq(&self) -> u64 {
        *self.seq.borrow()
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Marks a replica caught up with its primary: `/readyz` answers 200
    /// from then on.
    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Ends long polls; the HTTP server's graceful shutdown does the rest.
    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
    }

    pub(crate) fn status(&self) -> Status {
        let store = self.lock();
        Status {
            pod: self.identity.pod.clone(),
            role: if self.identity.is_primary() {
                "primary"
            } else {
                "replica"
            }
            .into(),
            primary: self.primary.clone(),
            seq: store.seq(),
            keys: store.data().len(),
            ready: self.is_ready(),
        }
    }
}

/// The HTTP routes of a member.
pub(crate) fn router(member: Arc<Member>) -> Router {
    Router::new()
        .route("/keys", get(list))
        .route("/keys/{key}", get(read).put(write).delete(remove))
        .route("/log", get(log))
        .route("/snapshot", get(snapshot))
        .route("/status", get(status))
        .route("/readyz", get(readyz))
        .with_state(member)
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(value).expect("replies serialize");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn text(status: StatusCode, message: String) -> Response {
    (status, format!("{message}\n")).into_response()
}

fn storage_failed(e: StoreError) -> Response {
    tracing::error!("storage failed: {e}");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("storage failed: {e}"),
    )
}

async fn list(State(m): State<Arc<Member>>) -> Response {
    let data = m.with_store(|s| s.data().clone()).await;
    json(StatusCode::OK, &data)
}

async fn read(State(m): State<Arc<Member>>, UrlPath(key): UrlPath<String>) -> Response {
    let k = key.clone();
    match m.with_store(move |s| s.get(&k).map(str::to_string)).await {
        Some(value) => text(StatusCode::OK, value),
        None => text(StatusCode::NOT_FOUND, format!("key {key:?} not found")),
    }
}

/// The answer a replica gives to a write.
fn read_only(m: &Member) -> Response {
    text(
        StatusCode::FORBIDDEN,
        format!(
            "{} is a read-only replica: send writes to the primary, {}",
            m.identity.pod, m.primary
        ),
    )
}

async fn write(
    State(m): State<Arc<Member>>,
    UrlPath(key): UrlPath<String>,
    body: Bytes,
) -> Response {
    if !m.identity.is_primary() {
        return read_only(&m);
    }
    let Ok(value) = String::from_utf8(body.to_vec()) else {
        return text(StatusCode::BAD_REQUEST, "the value is not UTF-8".into());
    };
    match m.with_store(move |s| s.write(&key, Some(&value))).await {
        Ok(entry) => json(StatusCode::OK, &WriteReply { seq: entry.seq }),
        Err(e) => storage_failed(e),
    }
}

async fn remove(State(m): State<Arc<Member>>, UrlPath(key): UrlPath<String>) -> Response {
    if !m.identity.is_primary() {
        return read_only(&m);
    }
    let k = key.clone();
    let done = m
        .with_store(move |s| match s.get(&k) {
            None => Ok(None),
            Some(_) => s.write(&k, None).map(Some),
        })
        .await;
    match done {
        Ok(Some(entry)) => json(StatusCode::OK, &WriteReply { seq: entry.seq }),
        Ok(None) => text(StatusCode::NOT_FOUND, format!("key {key:?} not found")),
        Err(e) => storage_failed(e),
    }
}

#[derive(Deserialize)]
struct LogQuery {
    after: u64,
    /// Milliseconds to wait for an entry when there is none yet.
    #[serde(default)]
    wait: u64,
}

/// The entries after `after`; when there are none yet, waits for one up
/// to `wait` ms. A follower that is ahead of this member gets an empty
/// answer at once, with this member's (lower) sequence number, so it can
/// tell.
async fn log(State(m): State<Arc<Member>>, Query(q): Query<LogQuery>) -> Response {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(q.wait.min(MAX_WAIT_MS));
    let mut changes = m.seq.subscribe();
    let mut stopping = m.stopping.subscribe();
    loop {
        changes.mark_unchanged();
        let after = q.after;
        let answer = m
            .with_store(move |s| s.since(after, LOG_BATCH).map(|e| (s.seq(), e)))
            .await;
        let (seq, entries) = match answer {
            Ok(found) => found,
            Err(compacted) => return text(StatusCode::GONE, compacted.to_string()),
        };
        if !entries.is_empty() || seq < q.after || *stopping.borrow() {
            return json(StatusCode::OK, &LogReply { seq, entries });
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = stopping.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {
                return json(StatusCode::OK, &LogReply { seq, entries });
            }
        }
    }
}

async fn snapshot(State(m): State<Arc<Member>>) -> Response {
    let snapshot: Snapshot = m.with_store(|s| s.snapshot()).await;
    json(StatusCode::OK, &snapshot)
}

async fn status(State(m): State<Arc<Member>>) -> Response {
    let me = Arc::clone(&m);
    let status = tokio::task::spawn_blocking(move || me.status())
        .await
        .expect("status does not panic");
    json(StatusCode::OK, &status)
}

async fn readyz(State(m): State<Arc<Member>>) -> Response {
    if m.is_ready() {
        text(StatusCode::OK, "ok".into())
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("catching up with the primary, {}", m.primary),
        )
    }
}
