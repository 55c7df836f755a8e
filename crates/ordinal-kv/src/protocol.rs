//! What members and clients say to each other over HTTP.
//!
//! | request | answer |
//! |---|---|
//! | `GET /keys` | every pair, a JSON object |
//! | `GET /keys/{key}` | the value (text), or 404 |
//! | `PUT /keys/{key}` (value as the body) | `{"seq": N}`; 403 on a replica, naming the primary |
//! | `DELETE /keys/{key}` | `{"seq": N}`, or 404; 403 on a replica |
//! | `GET /log?after=N&wait=MS` | [`LogReply`]: the entries after N, waiting up to MS for one; 410 when they were folded into the snapshot |
//! | `GET /snapshot` | `Snapshot`: the whole state |
//! | `GET /status` | [`Status`] |
//! | `GET /readyz` | 200 once the member can serve: the primary at once, a replica once it has caught up with the primary |

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::store::Entry;

/// The port members serve on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7070;

/// How many entries one `/log` answer carries at most.
pub(crate) const LOG_BATCH: usize = 1000;

/// The longest a `/log` request may wait for a new entry.
pub(crate) const MAX_WAIT_MS: u64 = 30_000;

/// Characters a key keeps in a URL path; everything else is escaped.
const KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `/keys/{key}` with the key escaped.
pub fn key_path(key: &str) -> String {
    format!("/keys/{}", utf8_percent_encode(key, KEY))
}

/// "1 key", "2 keys": for messages.
pub fn keys(n: usize) -> String {
    if n == 1 {
        "1 key".to_string()
    } else {
        format!("{n} keys")
    }
}

/// The answer to `GET /log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReply {
    /// The answering member's sequence number when it answered.
    pub seq: u64,
    /// The entries after the one asked from, oldest first; empty when the
    /// wait ended with nothing new.
    pub entries: Vec<Entry>,
}

/// The answer to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteReply {
    /// The sequence number the write was given, durable on the primary.
    pub seq: u64,
}

/// The answer to `GET /status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The answering member's pod name.
    pub pod: String,
    /// `primary` or `replica`.
    pub role: String,
    /// Where writes go (a replica's primary; the primary's own address).
    pub primary: String,
    /// The sequence number of the member's last change.
    pub seq: u64,
    /// How many keys the member holds.
    pub keys: usize,
    /// Whether `/readyz` answers 200: a replica is not ready until it has
    /// caught up with its primary once.
    pub ready: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_escaped_in_paths() {
        assert_eq!(key_path("color"), "/keys/color");
        assert_eq!(key_path("a/b c?d"), "/keys/a%2Fb%20c%3Fd");
        assert_eq!(key_path("é"), "/keys/%C3%A9");
    }
}
