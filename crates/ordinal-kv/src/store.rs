//! The durable state of one server: key-value pairs and the sequence
//! number of the last change, kept in the data directory (the pod's claim)
//! as a snapshot plus an append-only log.
//!
//! Every change gets the next sequence number. The primary numbers them;
//! replicas apply the primary's entries with the primary's numbers, so a
//! sequence number names the same state on every member and "after 41" is
//! all a follower has to say to catch up.
//!
//! On disk:
//!
//! - `snapshot.json` — `{"seq": S, "data": {...}}`: the state at `S`,
//!   replaced whole by write-to-temporary, fsync, rename, fsync of the
//!   directory, so it is always either the old or the new one;
//! - `log.jsonl` — one entry per line for `S+1, S+2, ...`, fsynced before a
//!   write is acknowledged. A crash can leave a torn last line; opening
//!   the store drops it (that write was never acknowledged). Anything else
//!   out of place is corruption and stops the server rather than serving
//!   wrong data.
//!
//! The log is folded into a new snapshot once it holds `compact_after`
//! entries. Followers asking for entries older than the snapshot are told
//! so (`Compacted`) and take the snapshot instead.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const SNAPSHOT: &str = "snapshot.json";
const SNAPSHOT_TMP: &str = "snapshot.json.tmp";
const LOG: &str = "log.jsonl";

/// How many log entries are kept before they are folded into a snapshot.
pub(crate) const DEFAULT_COMPACT_AFTER: usize = 10_000;

/// About how many bytes of keys and values one [`Store::since`] answer
/// carries.
pub(crate) const BATCH_BYTES: usize = 4 << 20;

/// One change: `key` set to `value`, or removed when `value` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The change's sequence number, the same on every member.
    pub seq: u64,
    /// The key changed.
    pub key: String,
    /// Its new value; `None`: removed.
    pub value: Option<String>,
}

/// The whole state at `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub seq: u64,
    pub data: BTreeMap<String, String>,
}

/// Why the store could not be opened or changed. Any of these stops the
/// server rather than serving data it cannot vouch for.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading, writing or syncing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A file holds something the store never writes (a torn last log
    /// line is not corruption: it is dropped).
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        reason: String,
    },
    /// A replica was handed an entry that does not follow its state.
    #[error("entry {got} does not follow sequence number {have}")]
    Gap {
        /// The replica's sequence number.
        have: u64,
        /// The first entry it was handed past it.
        got: u64,
    },
}

/// The entries asked for are older than the snapshot; only the snapshot
/// has them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the log starts after sequence number {snapshot}; take the snapshot")]
pub(crate) struct Compacted {
    pub snapshot: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The store of one server. Not shared: the server keeps it under a lock.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    data: BTreeMap<String, String>,
    seq: u64,
    /// The sequence number of `snapshot.json`; the log holds what follows.
    base: u64,
    /// The log's entries, in memory for followers.
    tail: Vec<Entry>,
    log: File,
    compact_after: usize,
}

impl Store {
    /// Whether `dir` already holds a store (a snapshot or a log).
    pub fn exists(dir: &Path) -> bool {
        dir.join(SNAPSHOT).exists() || dir.join(LOG).exists()
    }

    /// Opens the store in `dir`, creating an empty one when there is none,
    /// and replays it.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, DEFAULT_COMPACT_AFTER)
    }

    /// Makes a store in `dir` holding `snapshot` (a clone). The snapshot
    /// file appears whole or not at all, so an interrupted clone leaves no
    /// store behind and the next attempt starts over.
    pub(crate) fn create(dir: &Path, snapshot: &Snapshot) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_snapshot(dir, snapshot)?;
        Store::open(dir)
    }

    /// [`Store::open`] with the compaction threshold (tests use small ones).
    pub fn open_with(dir: &Path, compact_after: usize) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let snapshot = read_snapshot(&dir.join(SNAPSHOT))?;
        let log_path = dir.join(LOG);
        let created = !log_path.exists();
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        if created {
            sync_dir(dir)?;
        }
        let mut store = Store {
            dir: dir.to_path_buf(),
            seq: snapshot.seq,
            base: snapshot.seq,
            data: snapshot.data,
            tail: Vec::new(),
            log: log.try_clone().map_err(io(&log_path))?,
            compact_after: compact_after.max(1),
        };
        let mut text = Vec::new();
        log.read_to_end(&mut text).map_err(io(&log_path))?;
        let good = store.replay(&text, &log_path)?;
        if good < text.len() {
            // A torn last write: never acknowledged, so dropped.
            store.log.set_len(good as u64).map_err(io(&log_path))?;
            store.log.sync_all().map_err(io(&log_path))?;
        }
        Ok(store)
    }

    /// Applies the log's lines; returns how many bytes were good.
    fn replay(&mut self, text: &[u8], path: &Path) -> Result<usize, StoreError> {
        let mut offset = 0;
        while offset < text.len() {
            let Some(end) = text[offset..].iter().position(|&b| b == b'\n') else {
                // No newline: the last write was cut short.
                return Ok(offset);
            };
            let line = &text[offset..offset + end];
            let next = offset + end + 1;
            let entry: Entry = match serde_json::from_slice(line) {
                Ok(e) => e,
                Err(_) if next == text.len() => return Ok(offset),
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        path: path.to_path_buf(),
                        reason: format!("bad entry at byte {offset}: {e}"),
                    });
                }
            };
            // Entries the snapshot already holds: a crash came between
            // writing a snapshot and emptying the log.
            if entry.seq > self.seq {
                if entry.seq != self.seq + 1 {
                    return Err(StoreError::Corrupt {
                        path: path.to_path_buf(),
                        reason: format!("entry {} follows sequence number {}", entry.seq, self.seq),
                    });
                }
                self.apply_in_memory(entry);
            }
            offset = next;
        }
        Ok(offset)
    }

    fn apply_in_memory(&mut self, entry: Entry) {
        match &entry.value {
            Some(v) => {
                self.data.insert(entry.key.clone(), v.clone());
            }
            None => {
                self.data.remove(&entry.key);
            }
        }
        self.seq = entry.seq;
        self.tail.push(entry);
    }

    /// The sequence number of the last change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The value of `key`; `None` when it is not set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// Every key and its value, in key order.
    pub fn data(&self) -> &BTreeMap<String, String> {
        &self.data
    }

    /// A primary's write: the next sequence number, on disk before this
    /// returns.
    pub fn write(&mut self, key: &str, value: Option<&str>) -> Result<Entry, StoreError> {
        let entry = Entry {
            seq: self.seq + 1,
            key: key.to_string(),
            value: value.map(str::to_string),
        };
        self.append(std::slice::from_ref(&entry))?;
        self.apply_in_memory(entry.clone());
        self.maybe_compact()?;
        Ok(entry)
    }

    /// A replica's catch-up: the primary's entries, on disk (one fsync for
    /// the batch) before this returns. Entries it already has are skipped;
    /// a gap is refused.
    pub(crate) fn apply(&mut self, entries: &[Entry]) -> Result<(), StoreError> {
        let mut expected = self.seq;
        let fresh: Vec<Entry> = entries
            .iter()
            .filter(|e| e.seq > self.seq)
            .cloned()
            .collect();
        for e in &fresh {
            if e.seq != expected + 1 {
                return Err(StoreError::Gap {
                    have: expected,
                    got: e.seq,
                });
            }
            expected = e.seq;
        }
        if fresh.is_empty() {
            return Ok(());
        }
        self.append(&fresh)?;
        for e in fresh {
            self.apply_in_memory(e);
        }
        self.maybe_compact()
    }

    fn append(&mut self, entries: &[Entry]) -> Result<(), StoreError> {
        let path = self.dir.join(LOG);
        let mut buf = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut buf, e).expect("entries serialize");
            buf.push(b'\n');
        }
        self.log.write_all(&buf).map_err(io(&path))?;
        self.log.sync_data().map_err(io(&path))
    }

    /// The entries after `after`: at most `limit` of them, and no more
    /// than [`BATCH_BYTES`] of keys and values unless one entry alone is
    /// larger, so one answer stays a sensible size whatever the values.
    pub(crate) fn since(&self, after: u64, limit: usize) -> Result<Vec<Entry>, Compacted> {
        if after < self.base {
            return Err(Compacted {
                snapshot: self.base,
            });
        }
        let skip = (after - self.base) as usize;
        let mut bytes = 0;
        let mut out = Vec::new();
        for e in self.tail.iter().skip(skip).take(limit) {
            bytes += e.key.len() + e.value.as_ref().map_or(0, String::len);
            if !out.is_empty() && bytes > BATCH_BYTES {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }

    /// The current state, for a clone or a follower that fell too far
    /// behind.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            seq: self.seq,
            data: self.data.clone(),
        }
    }

    /// Replaces the whole state with `snapshot` (a clone, or a follower
    /// resyncing).
    pub(crate) fn install(&mut self, snapshot: Snapshot) -> Result<(), StoreError> {
        write_snapshot(&self.dir, &snapshot)?;
        self.truncate_log()?;
        self.seq = snapshot.seq;
        self.base = snapshot.seq;
        self.data = snapshot.data;
        self.tail.clear();
        Ok(())
    }

    fn maybe_compact(&mut self) -> Result<(), StoreError> {
        if self.tail.len() < self.compact_after {
            return Ok(());
        }
        write_snapshot(&self.dir, &self.snapshot())?;
        self.truncate_log()?;
        self.base = self.seq;
        self.tail.clear();
        Ok(())
    }

    fn truncate_log(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(LOG);
        self.log.set_len(0).map_err(io(&path))?;
        self.log.sync_all().map_err(io(&path))
    }
}

fn read_snapshot(path: &Path) -> Result<Snapshot, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Snapshot::default()),
        Err(e) => Err(io(path)(e)),
    }
}

fn write_snapshot(dir: &Path, snapshot: &Snapshot) -> Result<(), StoreError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    serde_json::to_writer(&mut f, snapshot).map_err(|e| io(&tmp)(e.into()))?;
    f.sync_all().map_err(io(&tmp))?;
    let path = dir.join(SNAPSHOT);
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    sync_dir(dir)
}

/// Makes a directory's entries (a created or renamed file) durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(seq: u64, key: &str, value: Option<&str>) -> Entry {
        Entry {
            seq,
            key: key.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn writes_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!Store::exists(dir.path()));
        let mut s = Store::open(dir.path()).unwrap();
        assert!(Store::exists(dir.path()));
        assert_eq!(s.write("color", Some("blue")).unwrap().seq, 1);
        assert_eq!(s.write("size", Some("L")).unwrap().seq, 2);
        assert_eq!(s.write("color", None).unwrap().seq, 3);
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.seq(), 3);
        assert_eq!(s.get("color"), None);
        assert_eq!(s.get("size"), Some("L"));
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_store_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.write("a", Some("1")).unwrap();
        drop(s);
        let log = dir.path().join(LOG);
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(br#"{"seq":2,"key":"b","va"#).unwrap();
        drop(f);
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.seq(), 1);
        assert_eq!(s.get("b"), None);
        // The next write lands on a clean line.
        s.write("b", Some("2")).unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!((s.seq(), s.get("b")), (2, Some("2")));
    }

    #[test]
    fn damage_before_the_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.write("a", Some("1")).unwrap();
        drop(s);
        let log = dir.path().join(LOG);
        let good = std::fs::read_to_string(&log).unwrap();
        std::fs::write(&log, format!("garbage\n{good}")).unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
        // A gap in the numbering is damage too.
        std::fs::write(&log, "{\"seq\":2,\"key\":\"a\",\"value\":null}\n").unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("entry 2 follows sequence number 0"),
            "{err}"
        );
    }

    #[test]
    fn the_log_is_folded_into_a_snapshot_and_old_entries_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open_with(dir.path(), 3).unwrap();
        for i in 1..=4 {
            s.write(&format!("k{i}"), Some("v")).unwrap();
        }
        // 1..=3 went into the snapshot; 4 is in the log.
        assert_eq!(s.since(0, 100), Err(Compacted { snapshot: 3 }));
        assert_eq!(s.since(3, 100).unwrap(), vec![entry(4, "k4", Some("v"))]);
        assert_eq!(s.since(4, 100).unwrap(), vec![]);
        drop(s);
        let log = std::fs::read_to_string(dir.path().join(LOG)).unwrap();
        assert_eq!(log.lines().count(), 1);
        let s = Store::open_with(dir.path(), 3).unwrap();
        assert_eq!(s.seq(), 4);
        assert_eq!(s.data().len(), 4);
    }

    #[test]
    fn answers_to_followers_are_bounded_in_bytes_but_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let big = "x".repeat(BATCH_BYTES / 2);
        for k in ["a", "b", "c"] {
            s.write(k, Some(&big)).unwrap();
        }
        let keys = |v: Vec<Entry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
        assert_eq!(keys(s.since(0, 100).unwrap()), ["a"]);
        assert_eq!(keys(s.since(1, 100).unwrap()), ["b"]);
        let huge = "y".repeat(BATCH_BYTES + 1);
        s.write("d", Some(&huge)).unwrap();
        assert_eq!(keys(s.since(3, 100).unwrap()), ["d"]);
        assert_eq!(keys(s.since(3, 0).unwrap()), Vec::<String>::new());
    }

    #[test]
    fn a_crash_between_snapshot_and_log_truncation_replays_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.write("a", Some("1")).unwrap();
        s.write("b", Some("2")).unwrap();
        // The snapshot at 2 is written but the log still holds 1 and 2.
        write_snapshot(dir.path(), &s.snapshot()).unwrap();
        drop(s);
        let mut s = Store::open(dir.path()).unwrap();
        assert_eq!(s.seq(), 2);
        assert_eq!(s.since(2, 10).unwrap(), vec![]);
        s.write("c", Some("3")).unwrap();
        assert_eq!(s.seq(), 3);
    }

    #[test]
    fn a_replica_applies_in_order_skips_what_it_has_and_refuses_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.apply(&[entry(1, "a", Some("1")), entry(2, "b", Some("2"))])
            .unwrap();
        // A repeated batch (the answer to a retried poll) changes nothing.
        s.apply(&[entry(2, "b", Some("2")), entry(3, "a", None)])
            .unwrap();
        assert_eq!(s.seq(), 3);
        assert_eq!(s.get("a"), None);
        let err = s.apply(&[entry(5, "x", Some("x"))]).unwrap_err();
        assert!(matches!(err, StoreError::Gap { have: 3, got: 5 }), "{err}");
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.seq(), 3);
        assert_eq!(s.get("b"), Some("2"));
    }

    #[test]
    fn installing_a_snapshot_replaces_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.write("old", Some("x")).unwrap();
        let mut data = BTreeMap::new();
        data.insert("color".to_string(), "blue".to_string());
        s.install(Snapshot { seq: 7, data }).unwrap();
        assert_eq!(s.since(6, 10), Err(Compacted { snapshot: 7 }));
        s.apply(&[entry(8, "size", Some("L"))]).unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.seq(), 8);
        assert_eq!(s.get("old"), None);
        assert_eq!(s.get("color"), Some("blue"));
        assert_eq!(s.get("size"), Some("L"));
    }

    proptest! {
        // Each case fsyncs a few dozen times.
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever the writes and wherever compaction falls, a reopened
        /// store and a replica fed the primary's log (or its snapshot
        /// when the log is gone) hold the primary's state.
        #[test]
        fn reopened_and_replicated_state_equals_the_primarys(
            writes in proptest::collection::vec((0u8..5, proptest::option::of(0u8..3)), 0..40),
            compact_after in 1usize..8,
            poll_every in 1usize..10,
        ) {
            let pdir = tempfile::tempdir().unwrap();
            let rdir = tempfile::tempdir().unwrap();
            let mut primary = Store::open_with(pdir.path(), compact_after).unwrap();
            let mut replica = Store::open_with(rdir.path(), compact_after).unwrap();
            for (i, (k, v)) in writes.iter().enumerate() {
                let value = v.map(|v| v.to_string());
                primary.write(&format!("k{k}"), value.as_deref()).unwrap();
                if i % poll_every == 0 {
                    match primary.since(replica.seq(), 3) {
                        Ok(batch) => replica.apply(&batch).unwrap(),
                        Err(Compacted { .. }) => replica.install(primary.snapshot()).unwrap(),
                    }
                }
            }
            loop {
                match primary.since(replica.seq(), 3) {
                    Ok(batch) if batch.is_empty() => break,
                    Ok(batch) => replica.apply(&batch).unwrap(),
                    Err(Compacted { .. }) => replica.install(primary.snapshot()).unwrap(),
                }
            }
            prop_assert_eq!(replica.snapshot(), primary.snapshot());
            let want = primary.snapshot();
            drop(primary);
            drop(replica);
            prop_assert_eq!(Store::open_with(pdir.path(), compact_after).unwrap().snapshot(), want.clone());
            prop_assert_eq!(Store::open_with(rdir.path(), compact_after).unwrap().snapshot(), want);
        }
    }
}
