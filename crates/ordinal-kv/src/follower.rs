//! How a replica keeps up with the primary: a long poll of the primary's
//! `/log` from the replica's own sequence number, each batch made durable
//! before the next poll. Entries the primary has already folded into its
//! snapshot (410), or a primary that is behind the replica (its data was
//! lost), make the replica take the primary's snapshot instead: the
//! primary is the one source of truth.
//!
//! The replica is Ready once it has caught up with the primary for the
//! first time, so an OrderedReady StatefulSet creates the next ordinal
//! only after this one holds the primary's data. It stays Ready if the
//! primary goes away later, serving what it has.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use tokio::sync::watch;

use crate::client::{self, ClientError, FetchError, fetch_snapshot};
use crate::member::Member;
use crate::protocol::{self, LogReply};
use crate::store::StoreError;

/// How long one long poll waits at the primary for a new entry.
pub const POLL_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{addr} answered {status}: {body}")]
    Refused {
        addr: String,
        status: StatusCode,
        body: String,
    },
    #[error("{addr} sent a reply that does not parse: {source}")]
    Garbled {
        addr: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Snapshot(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one poll found.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    /// The replica now holds everything the primary had when it answered.
    CaughtUp(u64),
    /// There is more to fetch.
    Behind,
}

/// Replaces the replica's state with the primary's snapshot.
async fn resync(member: &Arc<Member>, primary: &str, why: &str) -> Result<(), PollError> {
    let snapshot = fetch_snapshot(primary, POLL_WAIT).await?;
    let (seq, keys) = (snapshot.seq, snapshot.data.len());
    member.with_store(move |s| s.install(snapshot)).await?;
    tracing::warn!(
        "{why}: took the primary's snapshot, {} at seq {seq}",
        protocol::keys(keys)
    );
    Ok(())
}

async fn poll(member: &Arc<Member>, primary: &str) -> Result<Progress, PollError> {
    let own = member.seq();
    // Until the first catch-up, ask without waiting: an answer with
    // nothing new is what tells a replica it has caught up.
    let wait = if member.is_ready() {
        POLL_WAIT
    } else {
        Duration::ZERO
    };
    let path = format!("/log?after={own}&wait={}", wait.as_millis());
    let res = client::request(primary, Method::GET, &path, None, POLL_WAIT * 2).await?;
    if res.status == StatusCode::GONE {
        resync(
            member,
            primary,
            &format!("the primary no longer has the entries after seq {own}"),
        )
        .await?;
        return Ok(Progress::Behind);
    }
    if res.status != StatusCode::OK {
        return Err(PollError::Refused {
            addr: primary.to_string(),
            status: res.status,
            body: res.text(),
        });
    }
    let reply: LogReply =
        serde_json::from_slice(&res.body).map_err(|source| PollError::Garbled {
            addr: primary.to_string(),
            source,
        })?;
    if reply.seq < own {
        resync(
            member,
            primary,
            &format!(
                "the primary is at seq {} but this replica at {own}: the primary lost data",
                reply.seq
            ),
        )
        .await?;
        return Ok(Progress::Behind);
    }
    let entries = reply.entries;
    let now = member
        .with_store(move |s| s.apply(&entries).map(|()| s.seq()))
        .await?;
    Ok(if now >= reply.seq {
        Progress::CaughtUp(now)
    } else {
        Progress::Behind
    })
}

/// Follows `primary` until `stop` turns true.
pub async fn follow(member: Arc<Member>, primary: String, mut stop: watch::Receiver<bool>) {
    let mut failing = false;
    let mut backoff = Duration::from_millis(100);
    while !*stop.borrow() {
        let result = tokio::select! {
            r = poll(&member, &primary) => r,
            _ = stop.changed() => return,
        };
        match result {
            Ok(progress) => {
                if failing {
                    tracing::info!("reached the primary {primary} again");
                    failing = false;
                }
                backoff = Duration::from_millis(100);
                if let Progress::CaughtUp(seq) = progress
                    && !member.is_ready()
                {
                    member.set_ready();
                    tracing::info!("caught up with the primary {primary} at seq {seq}: ready");
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("cannot follow the primary: {e}; retrying");
                    failing = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}
