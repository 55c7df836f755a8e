//! Durable, versioned storage for Kubernetes API objects.
//!
//! The store keeps JSON objects under string keys chosen by the API server
//! (`/core/pods/default/web-0`), gives every write the next value of one
//! global revision, and lets clients watch a key prefix from any recent
//! revision. It knows one thing about Kubernetes: it stamps
//! `metadata.resourceVersion` with the revision into every object it writes.
//!
//! How it is built:
//!
//! - `sqlite`: the durable state, a revision log plus a current-state
//!   table in SQLite (WAL, `synchronous = FULL`), compacted to a bounded
//!   number of revisions.
//! - `writer`: the single writer thread. Concurrent writes are validated,
//!   given revisions and committed together in one transaction (group
//!   commit); a write is acknowledged only after its commit is durable.
//! - `snapshot`: the in-memory cache of current objects, a persistent
//!   ordered map swapped whole after each commit, so GET and LIST read it
//!   without touching SQLite and hand out the stored bytes as they are.
//! - `watch`: the bounded history of recent events and the fan-out to
//!   watchers.
//! - `checkpoint`: copies the WAL back into the database file on a thread
//!   of its own, so no commit pays for it.
//! - `recover`: start-up, rebuilding the cache and the history from disk.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ordinal_store::StoreError> {
//! use ordinal_store::{Store, StoreConfig};
//! let store = Store::open(StoreConfig::new("/tmp/ordinal.db"))?;
//! let pod = store
//!     .create("/core/pods/default/web-0".into(), serde_json::json!({"metadata": {"name": "web-0"}}))
//!     .await?;
//! let mut watch = store.watch("/core/pods/default/", pod.rev)?;
//! store.delete("/core/pods/default/web-0".into(), Some(pod.rev)).await?;
//! let deleted = watch.recv().await.unwrap();
//! assert_eq!(deleted.rev(), pod.rev + 1);
//! # Ok(()) }
//! ```

mod checkpoint;
mod error;
mod object;
mod recover;
mod snapshot;
mod sqlite;
mod watch;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread::JoinHandle;

pub use error::StoreError;
pub use object::{Attrs, AttrsFn, Object};
pub use snapshot::Snapshot;
pub use watch::{Event, EventType, Watcher};

use snapshot::Objects;
use watch::Hub;
use writer::{Msg, Op, Request};

/// How to open a [`Store`].
#[derive(Clone)]
pub struct StoreConfig {
    /// The SQLite database file (created, with its directory, if missing).
    pub path: PathBuf,
    /// How many recent events are kept in memory for watches and
    /// [`Store::snapshot_at`]. Default 10,000.
    pub history: usize,
    /// How long an event stays in that history at most (`None`, the
    /// default: as long as the count allows). A watch or past snapshot from
    /// an older revision gets [`StoreError::Expired`], as from a compacted
    /// etcd revision.
    pub history_max_age: Option<std::time::Duration>,
    /// How many revisions the durable log keeps (at least 1). Default 10,000.
    pub log_retention: u64,
    /// Computes each object's selector facts. Default: no labels, no fields.
    pub attrs: AttrsFn,
    /// The most writes committed in one transaction. Default 512.
    pub max_batch: usize,
    /// Events queued per watcher before it is dropped as too slow.
    /// Default 4,096.
    pub watch_buffer: usize,
}

impl StoreConfig {
    /// The defaults, storing at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            history: 10_000,
            history_max_age: None,
            log_retention: 10_000,
            attrs: Arc::new(|_, _| Attrs::default()),
            max_batch: 512,
            watch_buffer: 4096,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("path", &self.path)
            .field("history", &self.history)
            .field("history_max_age", &self.history_max_age)
            .field("log_retention", &self.log_retention)
            .field("max_batch", &self.max_batch)
            .field("watch_buffer", &self.watch_buffer)
            .finish_non_exhaustive()
    }
}

/// Counters describing what the store has done since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// The current revision.
    pub revision: u64,
    /// Live objects in the cache.
    pub objects: usize,
    /// Transactions committed by the writer (one per batch).
    pub commits: u64,
    /// Writes committed (each one a revision).
    pub writes: u64,
    /// Batches whose commit failed and was rolled back.
    pub failed_commits: u64,
    /// The revision the durable log is compacted to.
    pub compacted: u64,
    /// Events held in memory for watches.
    pub history_len: usize,
    /// The oldest revision a watch or a past snapshot can start from.
    pub history_floor: u64,
    /// Registered watchers.
    pub watchers: usize,
}

/// The published state: what readers see, swapped whole after each commit.
struct Published {
    rev: u64,
    objects: Objects,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    writes: AtomicU64,
    failed_commits: AtomicU64,
    compacted: AtomicU64,
}

/// State shared between the handles and the writer thread.
///
/// Lock order: `hub` before `published`. The writer swaps `published` while
/// holding `hub`, so a reader holding `hub` sees the cache and the history at
/// the same revision.
struct Shared {
    published: RwLock<Published>,
    hub: Mutex<Hub>,
    stats: Counters,
}

impl Shared {
    fn lock_hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read<T>(&self, f: impl FnOnce(&Published) -> T) -> T {
        f(&self
            .published
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn publish_objects(&self, rev: u64, objects: Objects) {
        let mut published = self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        published.rev = rev;
        published.objects = objects;
    }
}

struct Inner {
    shared: Arc<Shared>,
    tx: std::sync::mpsc::Sender<Msg>,
    attrs: AttrsFn,
    closed: AtomicBool,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Inner {
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Msg::Shutdown);
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("store writer thread panicked");
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.close();
    }
}

/// A handle to the store; clones share it. The store closes (flushing
/// pending writes) when [`Store::close`] is called or the last handle drops.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens the database at `config.path`, rebuilds the cache and the watch
    /// history from it, and starts the writer thread.
    pub fn open(config: StoreConfig) -> Result<Store, StoreError> {
        let db = sqlite::Db::open(&config.path)?;
        let mut recovered = recover::recover(&db, &config.attrs, config.history)?;
        recovered.history.set_max_age(config.history_max_age);
        let shared = Arc::new(Shared {
            published: RwLock::new(Published {
                rev: recovered.rev,
                objects: recovered.objects.clone(),
            }),
            hub: Mutex::new(Hub::new(
                recovered.history,
                recovered.rev,
                config.watch_buffer,
            )),
            stats: Counters::default(),
        });
        shared
            .stats
            .compacted
            .store(recovered.compacted, Ordering::Relaxed);
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = writer::Writer {
            db,
            checkpointer: checkpoint::Checkpointer::start(&config.path)?,
            rx,
            shared: shared.clone(),
            objects: recovered.objects,
            rev: recovered.rev,
            compacted: recovered.compacted,
            log_retention: config.log_retention.max(1),
            max_batch: config.max_batch.max(1),
        };
        let handle = std::thread::Builder::new()
            .name("ordinal-store-writer".into())
            .spawn(move || writer.run())?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                tx,
                attrs: config.attrs,
                closed: AtomicBool::new(false),
                writer: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The last committed revision.
    pub fn revision(&self) -> u64 {
        self.inner.shared.read(|p| p.rev)
    }

    /// The current object under exactly `key`.
    pub fn get(&self, key: &str) -> Option<Arc<Object>> {
        self.inner.shared.read(|p| p.objects.get(key).cloned())
    }

    /// Every current object, as of [`Snapshot::rev`]. `O(1)`.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.shared.read(|p| Snapshot {
            rev: p.rev,
            objects: p.objects.clone(),
        })
    }

    /// Every object as it was at exactly revision `rev`: the current state
    /// with the newer events of the history undone.
    ///
    /// [`StoreError::Expired`] if `rev` is older than the history holds,
    /// [`StoreError::TooLarge`] if it is newer than the current revision.
    pub fn snapshot_at(&self, rev: u64) -> Result<Snapshot, StoreError> {
        let (current, newer) = {
            let mut hub = self.inner.shared.lock_hub();
            let current = self.snapshot();
            if rev > current.rev {
                return Err(StoreError::TooLarge {
                    requested: rev,
                    current: current.rev,
                });
            }
            hub.history.expire(std::time::Instant::now());
            let oldest = hub.history.floor();
            if rev < oldest {
                return Err(StoreError::Expired {
                    requested: rev,
                    oldest,
                });
            }
            let newer: Vec<Arc<Event>> = hub.history.after(rev).cloned().collect();
            (current, newer)
        };
        let mut objects = current.objects;
        for event in newer.iter().rev() {
            match (&event.kind, &event.prev) {
                (EventType::Added, _) | (_, None) => {
                    objects.remove(event.key());
                }
                (EventType::Modified | EventType::Deleted, Some(prev)) => {
                    objects.insert(prev.key.clone(), prev.clone());
                }
            }
        }
        Ok(Snapshot { rev, objects })
    }

    /// Creates `key`. [`StoreError::AlreadyExists`] if it exists.
    ///
    /// Returns once the write is durable, with the object as stored
    /// (`metadata.resourceVersion` stamped). A write whose future is dropped
    /// after it was queued still happens.
    pub async fn create(
        &self,
        key: String,
        value: serde_json::Value,
    ) -> Result<Arc<Object>, StoreError> {
        object::check_stampable(&value)?;
        let attrs = (self.inner.attrs)(&key, &value);
        self.submit(key, Op::Create { value, attrs }).await
    }

    /// Replaces `key` if its mod revision is `expected_rev`
    /// (compare-and-swap). [`StoreError::NotFound`] if it does not exist,
    /// [`StoreError::Conflict`] if it has another revision.
    pub async fn update(
        &self,
        key: String,
        value: serde_json::Value,
        expected_rev: u64,
    ) -> Result<Arc<Object>, StoreError> {
        object::check_stampable(&value)?;
        let attrs = (self.inner.attrs)(&key, &value);
        self.submit(
            key,
            Op::Update {
                value,
                attrs,
                expected_rev,
            },
        )
        .await
    }

    /// Deletes `key`, if its mod revision is `expected_rev` when given.
    /// Returns its last state stamped with the revision of the delete.
    pub async fn delete(
        &self,
        key: String,
        expected_rev: Option<u64>,
    ) -> Result<Arc<Object>, StoreError> {
        self.submit(key, Op::Delete { expected_rev }).await
    }

    async fn submit(&self, key: String, op: Op) -> Result<Arc<Object>, StoreError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = Request {
            key: key.into(),
            op,
            reply,
        };
        self.inner
            .tx
            .send(Msg::Write(request))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Watches every key starting with `prefix` for events with a revision
    /// greater than `after_rev`: first those still in the history, then live
    /// ones, none missed or repeated.
    ///
    /// [`StoreError::Expired`] when the history no longer reaches back to
    /// `after_rev` (the client must list again).
    pub fn watch(&self, prefix: &str, after_rev: u64) -> Result<Watcher, StoreError> {
        self.inner.shared.lock_hub().watch(prefix, after_rev)
    }

    /// Stops accepting writes, waits for the queued ones to be committed and
    /// answered, stops the writer and ends every watcher. Blocks the calling
    /// thread for at most one commit. Idempotent; dropping the last handle
    /// does the same.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Counters, for tests and metrics.
    pub fn stats(&self) -> StoreStats {
        let shared = &self.inner.shared;
        let hub = shared.lock_hub();
        let (revision, objects) = shared.read(|p| (p.rev, p.objects.len()));
        StoreStats {
            revision,
            objects,
            commits: shared.stats.commits.load(Ordering::Relaxed),
            writes: shared.stats.writes.load(Ordering::Relaxed),
            failed_commits: shared.stats.failed_commits.load(Ordering::Relaxed),
            compacted: shared.stats.compacted.load(Ordering::Relaxed),
            history_len: hub.history.len(),
            history_floor: hub.history.floor(),
            watchers: hub.watcher_count(),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("revision", &self.revision())
            .finish_non_exhaustive()
    }
}
