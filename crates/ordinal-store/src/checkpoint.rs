//! WAL checkpoints, off the write path.
//!
//! In WAL mode SQLite appends commits to the `-wal` file and, by default,
//! copies them back into the database file (a checkpoint, with its own
//! fsync) inside whichever commit crosses 1,000 pages. That commit, and
//! every write waiting behind it, then takes several times longer: a tail
//! latency spike. The writer's connection therefore has automatic
//! checkpoints off, and this thread, on its own connection, runs a PASSIVE
//! checkpoint (which never blocks the writer) whenever the writer reports
//! that enough has been appended. The WAL is reused from its start by the
//! first commit after a complete checkpoint, so it stays bounded.

use std::path::Path;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::StoreError;

/// Roughly how many bytes of commits go into the WAL between checkpoints.
const CHECKPOINT_BYTES: usize = 4 << 20;

/// The writer's side: counts appended bytes and nudges the thread.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    appended: usize,
}

impl Checkpointer {
    /// Starts the checkpoint thread on a second connection to `path`.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("ordinal-store-checkpoint".into())
            .spawn(move || {
                while nudged.recv().is_ok() {
                    if let Err(err) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %err, "store WAL checkpoint failed");
                    }
                }
            })?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            appended: 0,
        })
    }

    /// Records that a commit appended about `bytes` to the WAL.
    pub(crate) fn committed(&mut self, bytes: usize) {
        self.appended += bytes;
        if self.appended < CHECKPOINT_BYTES {
            return;
        }
        if let Some(nudge) = &self.nudge {
            match nudge.try_send(()) {
                // Already nudged and not done yet: it will cover this too.
                Ok(()) | Err(TrySendError::Full(())) => self.appended = 0,
                Err(TrySendError::Disconnected(())) => self.nudge = None,
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
