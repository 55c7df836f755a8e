//! Start-up: rebuild the object cache and the watch history from disk.
//!
//! The cache comes from `current` joined to the log. The history comes from
//! the newest log rows (at most `history` of them, never at or below the
//! compacted revision), so a client that reconnects after a restart with a
//! recent resourceVersion resumes its watch without a 410. Each event's
//! previous object is the previous event of the same key in the window, or
//! else the log row at its `prev_rev`, which compaction keeps on purpose.
//!
//! Parsing the JSON (to compute [`Attrs`](crate::Attrs)) is the expensive part;
//! it runs on all cores.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::snapshot::Objects;
use crate::sqlite::{Db, LogRow};
use crate::watch::History;
use crate::{AttrsFn, Event, EventType, Object, StoreError};

pub(crate) struct Recovered {
    pub(crate) rev: u64,
    pub(crate) compacted: u64,
    pub(crate) objects: Objects,
    pub(crate) history: History,
}

pub(crate) fn recover(
    db: &Db,
    attrs: &AttrsFn,
    history_len: usize,
) -> Result<Recovered, StoreError> {
    let rev = db.revision()?;
    let compacted = db.compacted()?;

    let live = db.load_current()?;
    let live = build_objects(live, attrs)?;
    let by_rev: HashMap<u64, Arc<Object>> = live.iter().map(|o| (o.rev, o.clone())).collect();
    let objects: Objects = live.into_iter().map(|o| (o.key.clone(), o)).collect();

    let floor = compacted.max(rev.saturating_sub(history_len as u64));
    let rows = db.log_after(floor)?;
    let history = rebuild_history(db, attrs, rows, by_rev, floor, history_len)?;

    tracing::debug!(
        rev,
        compacted,
        objects = objects.len(),
        history = history.len(),
        "store recovered"
    );
    Ok(Recovered {
        rev,
        compacted,
        objects,
        history,
    })
}

fn rebuild_history(
    db: &Db,
    attrs: &AttrsFn,
    rows: Vec<LogRow>,
    mut known: HashMap<u64, Arc<Object>>,
    floor: u64,
    capacity: usize,
) -> Result<History, StoreError> {
    // Parse, in parallel, every row whose object is not a live one already.
    let mut meta = Vec::with_capacity(rows.len());
    let mut to_parse = Vec::new();
    for row in rows {
        meta.push((row.rev, row.kind, row.prev_rev));
        if !known.contains_key(&row.rev) || row.kind == EventType::Deleted {
            to_parse.push((row.key, row.rev, row.value));
        }
    }
    let mut parsed: HashMap<u64, Arc<Object>> = build_objects(to_parse, attrs)?
        .into_iter()
        .map(|o| (o.rev, o))
        .collect();

    let mut history = History::new(capacity, floor);
    let mut expected = floor + 1;
    for (rev, kind, prev_rev) in meta {
        let object = match parsed.remove(&rev) {
            Some(object) => object,
            None => known[&rev].clone(),
        };
        let prev = match kind {
            EventType::Added => None,
            EventType::Modified | EventType::Deleted => match known.get(&prev_rev) {
                Some(prev) => Some(prev.clone()),
                None => match db.log_row(prev_rev)? {
                    Some(row) => build_objects(vec![(row.key, row.rev, row.value)], attrs)?.pop(),
                    None => None,
                },
            },
        };
        if kind != EventType::Deleted {
            known.insert(rev, object.clone());
        }
        let complete = kind == EventType::Added || prev.is_some();
        if rev != expected || !complete {
            // A hole in the log (or a previous version that is gone): the
            // window can only start after it.
            tracing::warn!(rev, expected, "store log window restarts at a gap");
            history = History::new(capacity, if complete { rev - 1 } else { rev });
            expected = rev + 1;
            if !complete {
                continue;
            }
        }
        expected = rev + 1;
        history.push(Arc::new(Event { kind, object, prev }));
    }
    Ok(history)
}

/// Turns stored rows `(key, rev, json)` into objects, computing their attrs.
/// Large inputs are split across the machine's cores.
fn build_objects(
    rows: Vec<(String, u64, Vec<u8>)>,
    attrs: &AttrsFn,
) -> Result<Vec<Arc<Object>>, StoreError> {
    let build = |(key, rev, value): (String, u64, Vec<u8>)| -> Result<Arc<Object>, StoreError> {
        let json: serde_json::Value = serde_json::from_slice(&value)
            .map_err(|err| StoreError::Corrupt(format!("{key} at revision {rev}: {err}")))?;
        let attrs = attrs(&key, &json);
        Ok(Arc::new(Object {
            key: key.into(),
            rev,
            bytes: Bytes::from(value),
            attrs,
        }))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || rows.len() < 512 {
        return rows.into_iter().map(build).collect();
    }
    let chunk = rows.len().div_ceil(threads);
    let mut chunks = Vec::with_capacity(threads);
    let mut rows = rows.into_iter();
    loop {
        let part: Vec<_> = rows.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        chunks.push(part);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                scope.spawn(move || part.into_iter().map(build).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut out = Vec::new();
        for handle in handles {
            out.extend(handle.join().expect("object parsing thread panicked")?);
        }
        Ok(out)
    })
}
