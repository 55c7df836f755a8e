//! The one error type of the store.
//!
//! Every variant is cheap to clone: a failed group commit hands the same
//! error to every request of the batch, so the SQLite and I/O causes are
//! kept behind an [`Arc`].

use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The key does not exist (update, delete).
    #[error("object not found")]
    NotFound,
    /// The key already exists (create).
    #[error("object already exists")]
    AlreadyExists,
    /// The caller's expected revision is not the object's mod revision.
    #[error("conflict: the object has been modified; its revision is now {current_rev}")]
    Conflict {
        /// The object's mod revision at the time of the write.
        current_rev: u64,
    },
    /// A watch or past snapshot asked for a revision older than the history
    /// the store still holds. The API server turns it into `410 Gone`.
    #[error("revision {requested} is too old; the oldest available is {oldest}")]
    Expired {
        /// The revision asked for.
        requested: u64,
        /// The oldest revision the store can still serve.
        oldest: u64,
    },
    /// A past snapshot asked for a revision the store has not reached yet.
    #[error("revision {requested} is newer than the current revision {current}")]
    TooLarge {
        /// The revision asked for.
        requested: u64,
        /// The current revision.
        current: u64,
    },
    /// The value cannot be stored: it is not a JSON object, or its
    /// `metadata` is not an object.
    #[error("invalid object: {0}")]
    Invalid(&'static str),
    /// The store has been closed; nothing more is accepted.
    #[error("store is closed")]
    Closed,
    /// The database file holds something this store cannot read.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// SQLite failed; for a write this means the whole batch was rolled back.
    #[error("sqlite: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// An I/O error outside SQLite (creating the data directory, spawning the
    /// writer thread).
    #[error("i/o: {0}")]
    Io(#[source] Arc<std::io::Error>),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Sqlite(Arc::new(err))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(err: std::io::Error) -> Self {
        StoreError::Io(Arc::new(err))
    }
}

impl StoreError {
    /// Whether a write failed because the file system holding the database
    /// is full: nothing of it was stored, and writes succeed again once
    /// there is room.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            StoreError::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}
