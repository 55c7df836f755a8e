//! The durable side: schema, start-up reads, the group-commit transaction
//! and log compaction.
//!
//! Tables:
//! - `log(rev, key, kind, prev_rev, value)`: one row per write, keyed by the
//!   global revision. `value` is the object as written (for a delete: the
//!   last state stamped with the delete's revision); `prev_rev` is the
//!   revision of the key's previous version (0 for a create).
//! - `current(key, rev)`: the live keys and the log row holding each one's
//!   value, so current state is read with an index join, not a log scan.
//! - `meta(name, value)`: `revision` (the last committed revision, so it
//!   never goes backwards) and `compacted` (see below).
//!
//! Compaction to revision `c` removes log rows at or below `c` that nobody
//! needs any more, and keeps two kinds: rows that are some key's current
//! version, and rows that are the `prev_rev` of a row above `c`. So every
//! row above `compacted` can be turned back into a full [`Event`](crate::Event)
//! (with its previous object) on start-up, however old that previous version
//! is. It is done incrementally, one revision range at a time, inside a
//! write transaction: a row `p <= c` is dropped exactly when its successor
//! (the row whose `prev_rev` is `p`) is also `<= c`, or when it is a delete.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::{EventType, StoreError};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    rev      INTEGER PRIMARY KEY,
    key      TEXT    NOT NULL,
    kind     INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL,
    value    BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS current (
    key TEXT PRIMARY KEY,
    rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', 1), ('revision', 0), ('compacted', 0);
";

/// Makes the database file readable by its owner alone (it holds every
/// Secret), creating it empty if needed before SQLite opens it: SQLite
/// gives the `-wal` and `-shm` files it creates the database file's mode,
/// so those follow. Files left by an older version with wider modes are
/// narrowed too.
fn make_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// One row of the log as read back.
pub(crate) struct LogRow {
    pub(crate) rev: u64,
    pub(crate) key: String,
    pub(crate) kind: EventType,
    pub(crate) prev_rev: u64,
    pub(crate) value: Vec<u8>,
}

/// One write of a batch, as the transaction needs it.
pub(crate) struct LogWrite<'a> {
    pub(crate) rev: u64,
    pub(crate) key: &'a str,
    pub(crate) kind: EventType,
    pub(crate) prev_rev: u64,
    pub(crate) value: &'a [u8],
}

fn kind_code(kind: EventType) -> i64 {
    match kind {
        EventType::Added => 1,
        EventType::Modified => 2,
        EventType::Deleted => 3,
    }
}

fn kind_from_code(code: i64) -> rusqlite::Result<EventType> {
    match code {
        1 => Ok(EventType::Added),
        2 => Ok(EventType::Modified),
        3 => Ok(EventType::Deleted),
        other => Err(rusqlite::Error::IntegralValueOutOfRange(2, other)),
    }
}

/// Revisions are stored as SQLite integers (i64); they never get near 2^63.
fn to_sql(rev: u64) -> i64 {
    i64::try_from(rev).expect("revision fits in i64")
}

fn from_sql(rev: i64) -> u64 {
    u64::try_from(rev).unwrap_or(0)
}

/// The connection, owned by whoever writes (the writer thread after start-up).
pub(crate) struct Db {
    conn: Connection,
}

impl Db {
    /// Opens (creating if needed) the database with WAL and full fsync.
    pub(crate) fn open(path: &Path) -> Result<Db, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        make_private(path)?;
        let conn = Connection::open(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!(
                "cannot switch {} to WAL mode (got {mode})",
                path.display()
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -16384;
             -- checkpoints run on their own thread: see checkpoint.rs
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.execute_batch(SCHEMA)?;
        let db = Db { conn };
        let schema = db.meta("schema")?;
        if schema != SCHEMA_VERSION as u64 {
            return Err(StoreError::Corrupt(format!(
                "unknown schema version {schema} (expected {SCHEMA_VERSION})"
            )));
        }
        Ok(db)
    }

    fn meta(&self, name: &str) -> Result<u64, StoreError> {
        let value: i64 =
            self.conn
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                    r.get(0)
                })?;
        Ok(from_sql(value))
    }

    /// The last committed revision.
    pub(crate) fn revision(&self) -> Result<u64, StoreError> {
        let meta = self.meta("revision")?;
        let newest: Option<i64> = self
            .conn
            .query_row("SELECT max(rev) FROM log", [], |r| r.get(0))?;
        Ok(meta.max(newest.map_or(0, from_sql)))
    }

    /// The revision the log has been compacted to.
    pub(crate) fn compacted(&self) -> Result<u64, StoreError> {
        self.meta("compacted")
    }

    /// Every live key with its mod revision and value.
    pub(crate) fn load_current(&self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let live: i64 = self
            .conn
            .query_row("SELECT count(*) FROM current", [], |r| r.get(0))?;
        let mut stmt = self
            .conn
            .prepare("SELECT c.key, c.rev, l.value FROM current c JOIN log l ON l.rev = c.rev")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, from_sql(r.get(1)?), r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        if rows.len() as i64 != live {
            return Err(StoreError::Corrupt(format!(
                "{} live keys but only {} of their log rows",
                live,
                rows.len()
            )));
        }
        Ok(rows)
    }

    /// The log rows above `after`, oldest first.
    pub(crate) fn log_after(&self, after: u64) -> Result<Vec<LogRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT rev, key, kind, prev_rev, value FROM log WHERE rev > ?1 ORDER BY rev",
        )?;
        let rows = stmt
            .query_map([to_sql(after)], read_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One log row, if it is still there.
    pub(crate) fn log_row(&self, rev: u64) -> Result<Option<LogRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rev, key, kind, prev_rev, value FROM log WHERE rev = ?1")?;
        Ok(stmt.query_row([to_sql(rev)], read_row).optional()?)
    }

    /// Writes one batch in one transaction and commits it (fsync). When
    /// `compact` is `Some((from, to))`, also compacts the log range
    /// `(from, to]` in the same transaction.
    pub(crate) fn commit(
        &mut self,
        writes: &[LogWrite<'_>],
        compact: Option<(u64, u64)>,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO log (rev, key, kind, prev_rev, value) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut upsert = tx.prepare_cached(
                "INSERT INTO current (key, rev) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET rev = excluded.rev",
            )?;
            let mut remove = tx.prepare_cached("DELETE FROM current WHERE key = ?1")?;
            for w in writes {
                insert.execute(params![
                    to_sql(w.rev),
                    w.key,
                    kind_code(w.kind),
                    to_sql(w.prev_rev),
                    w.value
                ])?;
                match w.kind {
                    EventType::Added | EventType::Modified => {
                        upsert.execute(params![w.key, to_sql(w.rev)])?;
                    }
                    EventType::Deleted => {
                        remove.execute([w.key])?;
                    }
                }
            }
            if let Some(last) = writes.last() {
                tx.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'revision'")?
                    .execute([to_sql(last.rev)])?;
            }
        }
        if let Some((from, to)) = compact {
            compact_range(&tx, from, to)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// See the module docs: drops, within `(from, to]`, every delete row and
/// every row superseded by a row that is itself `<= to`.
fn compact_range(conn: &Connection, from: u64, to: u64) -> rusqlite::Result<()> {
    let (from, to) = (to_sql(from), to_sql(to));
    conn.prepare_cached(
        "DELETE FROM log WHERE rev IN
           (SELECT prev_rev FROM log WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0)",
    )?
    .execute([from, to])?;
    conn.prepare_cached("DELETE FROM log WHERE rev > ?1 AND rev <= ?2 AND kind = 3")?
        .execute([from, to])?;
    conn.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'compacted'")?
        .execute([to])?;
    Ok(())
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogRow> {
    Ok(LogRow {
        rev: from_sql(r.get(0)?),
        key: r.get(1)?,
        kind: kind_from_code(r.get(2)?)?,
        prev_rev: from_sql(r.get(3)?),
        value: r.get(4)?,
    })
}
