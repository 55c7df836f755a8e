//! The writer thread: validation, revision assignment, group commit and
//! publication.
//!
//! One OS thread owns the SQLite connection. Writes reach it over a channel,
//! each with a oneshot reply. It takes everything pending (up to
//! `max_batch`) as one batch and, in order:
//!
//! 1. validates each request against a working copy of the cache that
//!    already includes the earlier requests of the batch, giving the ones
//!    that succeed consecutive revisions (a rejected request uses none);
//! 2. writes the batch in one transaction and commits it: one fsync for the
//!    whole batch (group commit);
//! 3. only then publishes: swaps in the new cache, appends the events to the
//!    history, dispatches them to watchers, and replies.
//!
//! If the commit fails, every request of the batch gets the error and
//! nothing is published. While one batch is being fsynced the next one
//! queues up, so the batch size grows with the load by itself.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::checkpoint::Checkpointer;
use crate::object::{restamp, stamp};
use crate::snapshot::Objects;
use crate::sqlite::{Db, LogWrite};
use crate::{Attrs, Event, EventType, Object, Shared, StoreError};

/// What the writer answers a write with.
pub(crate) type Reply = oneshot::Sender<Result<Arc<Object>, StoreError>>;

/// A write as queued by [`Store`](crate::Store).
pub(crate) enum Op {
    Create {
        value: serde_json::Value,
        attrs: Attrs,
    },
    Update {
        value: serde_json::Value,
        attrs: Attrs,
        expected_rev: u64,
    },
    Delete {
        expected_rev: Option<u64>,
    },
}

pub(crate) struct Request {
    pub(crate) key: Arc<str>,
    pub(crate) op: Op,
    pub(crate) reply: Reply,
}

pub(crate) enum Msg {
    Write(Request),
    /// Finish what was queued before this message, then stop.
    Shutdown,
    /// Tests: block the writer until the sender side is dropped, so that
    /// writes queued meanwhile form one batch.
    #[cfg(test)]
    Pause(mpsc::Receiver<()>),
}

pub(crate) struct Writer {
    pub(crate) db: Db,
    pub(crate) checkpointer: Checkpointer,
    pub(crate) rx: mpsc::Receiver<Msg>,
    pub(crate) shared: Arc<Shared>,
    /// The committed cache (what readers see once published).
    pub(crate) objects: Objects,
    pub(crate) rev: u64,
    pub(crate) compacted: u64,
    pub(crate) log_retention: u64,
    pub(crate) max_batch: usize,
}

/// A request that passed validation, waiting for the commit.
struct Accepted {
    event: Arc<Event>,
    reply: Reply,
}

impl Writer {
    pub(crate) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut stopping = false;
        while !stopping {
            let Ok(first) = self.rx.recv() else { break };
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Write(request) => batch.push(request),
                    Msg::Shutdown => {
                        stopping = true;
                        break;
                    }
                    #[cfg(test)]
                    Msg::Pause(resume) => {
                        let _ = resume.recv();
                    }
                }
                if batch.len() < self.max_batch {
                    next = self.rx.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.process(&mut batch);
            }
        }
        self.shared.lock_hub().close();
        tracing::debug!(rev = self.rev, "store writer stopped");
    }

    fn process(&mut self, batch: &mut Vec<Request>) {
        let mut working = self.objects.clone();
        let mut next_rev = self.rev + 1;
        let mut accepted = Vec::with_capacity(batch.len());
        let mut rejected = Vec::new();
        for Request { key, op, reply } in batch.drain(..) {
            match apply(&mut working, key, op, next_rev) {
                Ok(event) => {
                    next_rev += 1;
                    accepted.push(Accepted {
                        event: Arc::new(event),
                        reply,
                    });
                }
                Err(err) => rejected.push((reply, err)),
            }
        }
        if accepted.is_empty() {
            for (reply, err) in rejected {
                let _ = reply.send(Err(err));
            }
            return;
        }

        let last_rev = next_rev - 1;
        let compact = self.compaction_due(last_rev);
        let writes: Vec<LogWrite<'_>> = accepted
            .iter()
            .map(|a| LogWrite {
                rev: a.event.rev(),
                key: a.event.key(),
                kind: a.event.kind,
                prev_rev: a.event.prev.as_ref().map_or(0, |p| p.rev),
                value: &a.event.object.bytes,
            })
            .collect();
        let committed = self.db.commit(&writes, compact);
        let appended: usize = writes
            .iter()
            .map(|w| w.value.len() + w.key.len() + 64)
            .sum();
        drop(writes);
        let stats = &self.shared.stats;
        if let Err(err) = committed {
            tracing::error!(error = %err, writes = accepted.len(), "store commit failed; batch rolled back");
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            for a in accepted {
                let _ = a.reply.send(Err(err.clone()));
            }
            for (reply, _) in rejected {
                let _ = reply.send(Err(err.clone()));
            }
            return;
        }

        self.checkpointer.committed(appended);
        self.objects = working;
        self.rev = last_rev;
        if let Some((_, to)) = compact {
            self.compacted = to;
            stats.compacted.store(to, Ordering::Relaxed);
        }
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats
            .writes
            .fetch_add(accepted.len() as u64, Ordering::Relaxed);

        let events: Vec<Arc<Event>> = accepted.iter().map(|a| a.event.clone()).collect();
        {
            let mut hub = self.shared.lock_hub();
            self.shared.publish_objects(last_rev, self.objects.clone());
            hub.publish(&events);
        }
        for a in accepted {
            let _ = a.reply.send(Ok(a.event.object.clone()));
        }
        for (reply, err) in rejected {
            let _ = reply.send(Err(err));
        }
    }

    /// Compaction runs inside a write transaction once the log has grown an
    /// eighth of the retention past it, so its cost is spread thin.
    fn compaction_due(&self, last_rev: u64) -> Option<(u64, u64)> {
        let target = last_rev.saturating_sub(self.log_retention);
        let step = (self.log_retention / 8).max(1);
        (target >= self.compacted + step).then_some((self.compacted, target))
    }
}

/// Validates one request against `working` and applies it there.
fn apply(working: &mut Objects, key: Arc<str>, op: Op, rev: u64) -> Result<Event, StoreError> {
    match op {
        Op::Create { mut value, attrs } => {
            if working.contains_key(&key) {
                return Err(StoreError::AlreadyExists);
            }
            let object = Arc::new(Object {
                bytes: stamp(&mut value, rev),
                key: key.clone(),
                rev,
                attrs,
            });
            working.insert(key, object.clone());
            Ok(Event {
                kind: EventType::Added,
                object,
                prev: None,
            })
        }
        Op::Update {
            mut value,
            attrs,
            expected_rev,
        } => {
            let prev = working.get(&key).ok_or(StoreError::NotFound)?.clone();
            if prev.rev != expected_rev {
                return Err(StoreError::Conflict {
                    current_rev: prev.rev,
                });
            }
            let object = Arc::new(Object {
                bytes: stamp(&mut value, rev),
                key: key.clone(),
                rev,
                attrs,
            });
            working.insert(key, object.clone());
            Ok(Event {
                kind: EventType::Modified,
                object,
                prev: Some(prev),
            })
        }
        Op::Delete { expected_rev } => {
            let prev = working.get(&key).ok_or(StoreError::NotFound)?.clone();
            if let Some(expected) = expected_rev
                && prev.rev != expected
            {
                return Err(StoreError::Conflict {
                    current_rev: prev.rev,
                });
            }
            working.remove(&key);
            Ok(Event {
                kind: EventType::Deleted,
                object: Arc::new(restamp(&prev, rev)),
                prev: Some(prev),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreConfig};
    use serde_json::json;

    fn open(dir: &tempfile::TempDir, max_batch: usize) -> Store {
        let mut config = StoreConfig::new(dir.path().join("db"));
        config.max_batch = max_batch;
        Store::open(config).unwrap()
    }

    /// Queues `n` creates while the writer is paused, then lets it run, so
    /// the batching is not left to timing.
    async fn queue_creates_while_paused(store: &Store, n: usize) -> Vec<u64> {
        let (resume, paused) = mpsc::channel::<()>();
        store.inner.tx.send(Msg::Pause(paused)).unwrap();
        let mut answers = Vec::new();
        for i in 0..n {
            let (reply, answer) = oneshot::channel();
            let op = Op::Create {
                value: json!({}),
                attrs: Attrs::default(),
            };
            let key = format!("/p/{i}").into();
            store
                .inner
                .tx
                .send(Msg::Write(Request { key, op, reply }))
                .unwrap();
            answers.push(answer);
        }
        drop(resume);
        let mut revs = Vec::new();
        for answer in answers {
            revs.push(answer.await.unwrap().unwrap().rev);
        }
        revs
    }

    #[tokio::test]
    async fn queued_writes_share_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 512);
        let revs = queue_creates_while_paused(&store, 64).await;
        assert_eq!(
            revs,
            (1..=64).collect::<Vec<_>>(),
            "queue order is revision order"
        );
        let stats = store.stats();
        assert_eq!((stats.writes, stats.commits), (64, 1));
    }

    #[tokio::test]
    async fn batches_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 16);
        queue_creates_while_paused(&store, 64).await;
        let stats = store.stats();
        assert_eq!((stats.writes, stats.commits), (64, 4));
    }

    #[tokio::test]
    async fn a_batch_sees_its_own_earlier_writes_and_rejects_use_no_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 512);
        let (resume, paused) = mpsc::channel::<()>();
        store.inner.tx.send(Msg::Pause(paused)).unwrap();
        let ops = vec![
            Op::Create {
                value: json!({"v": 1}),
                attrs: Attrs::default(),
            },
            Op::Create {
                value: json!({"v": 2}),
                attrs: Attrs::default(),
            },
            Op::Update {
                value: json!({"v": 3}),
                attrs: Attrs::default(),
                expected_rev: 1,
            },
            Op::Update {
                value: json!({"v": 4}),
                attrs: Attrs::default(),
                expected_rev: 1,
            },
            Op::Delete {
                expected_rev: Some(2),
            },
            Op::Delete { expected_rev: None },
            Op::Create {
                value: json!({"v": 5}),
                attrs: Attrs::default(),
            },
        ];
        let mut answers = Vec::new();
        for op in ops {
            let (reply, answer) = oneshot::channel();
            store
                .inner
                .tx
                .send(Msg::Write(Request {
                    key: "/k".into(),
                    op,
                    reply,
                }))
                .unwrap();
            answers.push(answer);
        }
        drop(resume);
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.unwrap().map(|o| o.rev));
        }
        assert!(matches!(results[0], Ok(1)));
        assert!(matches!(results[1], Err(StoreError::AlreadyExists)));
        assert!(matches!(results[2], Ok(2)));
        assert!(matches!(
            results[3],
            Err(StoreError::Conflict { current_rev: 2 })
        ));
        assert!(matches!(results[4], Ok(3)));
        assert!(matches!(results[5], Err(StoreError::NotFound)));
        assert!(matches!(results[6], Ok(4)));
        assert_eq!(store.stats().commits, 1);
        assert_eq!(store.get("/k").unwrap().value()["v"], 5);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_the_whole_batch_and_publishes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, 512);
        let mut watcher = store.watch("/", 0).unwrap();
        // Make SQLite refuse one particular row, from outside the store.
        rusqlite::Connection::open(dir.path().join("db"))
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON log WHEN NEW.key = '/bad'
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();

        let (resume, paused) = mpsc::channel::<()>();
        store.inner.tx.send(Msg::Pause(paused)).unwrap();
        let mut answers = Vec::new();
        for key in ["/ok", "/bad", "/ok"] {
            let (reply, answer) = oneshot::channel();
            let op = Op::Create {
                value: json!({}),
                attrs: Attrs::default(),
            };
            store
                .inner
                .tx
                .send(Msg::Write(Request {
                    key: key.into(),
                    op,
                    reply,
                }))
                .unwrap();
            answers.push(answer);
        }
        drop(resume);
        for answer in answers {
            let err = answer.await.unwrap().unwrap_err();
            assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
        }
        let stats = store.stats();
        assert_eq!(
            (stats.revision, stats.commits, stats.failed_commits),
            (0, 0, 1)
        );
        assert!(store.get("/ok").is_none());
        assert!(watcher.try_recv().is_none());

        // The revisions of the failed batch are used by the next one.
        assert_eq!(store.create("/ok".into(), json!({})).await.unwrap().rev, 1);
        assert_eq!(watcher.try_recv().unwrap().rev(), 1);
    }
}
