//! The init container's job: on a replica's first start, copy the data of
//! the ordinal before it, so a new member starts from a recent state
//! instead of replaying everything from the primary — and so cloning
//! loads the newest replica rather than the primary. This is why the
//! members need stable names: `web-3` knows to ask `web-2.web`.
//!
//! A member whose claim already holds data (a pod that was deleted and
//! came back) keeps it: that data is what the claim is for.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{FetchError, fetch_snapshot};
use crate::identity::Identity;
use crate::protocol;
use crate::store::{Store, StoreError};

/// What [`clone`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The claim already holds data at this sequence number.
    Kept {
        /// The sequence number of the data kept.
        seq: u64,
        /// How many keys it holds.
        keys: usize,
    },
    /// The primary starts from what it has (nothing, on first start).
    Primary,
    /// Copied from `from`.
    Cloned {
        /// The member copied (`host:port`).
        from: String,
        /// The sequence number of the copy.
        seq: u64,
        /// How many keys it holds.
        keys: usize,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Kept { seq, keys } => write!(
                f,
                "the claim already holds {} at seq {seq}: keeping it, not cloning",
                protocol::keys(*keys)
            ),
            Outcome::Primary => write!(f, "ordinal 0 is the primary: nothing to clone"),
            Outcome::Cloned { from, seq, keys } => {
                write!(
                    f,
                    "cloned {} at seq {seq} from {from}",
                    protocol::keys(*keys)
                )
            }
        }
    }
}

/// Why [`clone`] left the claim empty; the init container fails, and the
/// kubelet runs it again.
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    /// No snapshot came from the member within the patience given.
    #[error("could not clone from {from} within {waited:?}: {last}")]
    Unreachable {
        /// The member cloned from (`host:port`).
        from: String,
        /// How long it was tried.
        waited: Duration,
        /// The last attempt's failure.
        last: FetchError,
    },
    /// The claim's store could not be read, or the copy not written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Clones into `dir` from `from` (default: the previous ordinal), trying
/// for up to `patience`: the previous member may not be in DNS yet.
pub async fn clone(
    identity: &Identity,
    dir: &Path,
    from: Option<&str>,
    patience: Duration,
) -> Result<Outcome, CloneError> {
    if Store::exists(dir) {
        let dir = dir.to_path_buf();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await
            .expect("opening does not panic")?;
        return Ok(Outcome::Kept {
            seq: store.seq(),
            keys: store.data().len(),
        });
    }
    let from = match from.map(str::to_string).or_else(|| identity.previous()) {
        Some(from) => from,
        None => return Ok(Outcome::Primary),
    };
    let deadline = Instant::now() + patience;
    let mut delay = Duration::from_millis(100);
    let mut reported = false;
    let snapshot = loop {
        match fetch_snapshot(&from, Duration::from_secs(10)).await {
            Ok(snapshot) => break snapshot,
            Err(last) if Instant::now() + delay >= deadline => {
                return Err(CloneError::Unreachable {
                    from,
                    waited: patience,
                    last,
                });
            }
            Err(e) => {
                if !reported {
                    tracing::info!("waiting for {from}: {e}");
                    reported = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    };
    let (seq, keys) = (snapshot.seq, snapshot.data.len());
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || Store::create(&dir, &snapshot))
        .await
        .expect("creating does not panic")?;
    Ok(Outcome::Cloned { from, seq, keys })
}
