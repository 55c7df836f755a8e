//! WATCH: a chunked stream of newline-delimited `WatchEvent`s.
//!
//! The stream starts from a revision: with `resourceVersion` unset or `0`
//! the current objects are replayed as ADDED first (and, with
//! `sendInitialEvents=true`, closed by a bookmark annotated
//! `k8s.io/initial-events-end`); with `N` it resumes after N from the store's
//! history, or reports an in-stream 410 Expired ERROR when N is older than the
//! history kept — the form kube-rs and client-go relist on.
//!
//! Selectors are applied to both sides of a change, so an object that starts
//! matching arrives as ADDED and one that stops matching as DELETED, as
//! upstream's watch cache does.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ordinal_store::{Event, EventType, Object, StoreError};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::list::{self, Filter};
use crate::negotiate::{self, Output};
use crate::render;
use crate::request::{Query, Target};
use crate::resources::Resource;
use crate::server::AppState;
use crate::status::{ApiError, ApiResult};
use crate::stored;

/// Upstream's minRequestTimeout: a watch without timeoutSeconds ends after
/// this long and the client re-establishes it.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Events buffered between the producer task and the HTTP body.
const BODY_BUFFER: usize = 64;

struct Plan {
    resource: &'static Resource,
    output: Output,
    filter: Filter,
    bookmarks: bool,
}

impl Plan {
    /// One line of the stream: `{"type":..,"object":..}\n`.
    fn line(&self, kind: &str, object: &Object) -> Option<Bytes> {
        match self.output {
            Output::Json | Output::Yaml => {
                let bytes = stored::bytes(self.resource, &object.bytes);
                let mut out = BytesMut::with_capacity(bytes.len() + 32);
                out.put_slice(b"{\"type\":\"");
                out.put_slice(kind.as_bytes());
                out.put_slice(b"\",\"object\":");
                out.put_slice(&bytes);
                out.put_slice(b"}\n");
                Some(out.freeze())
            }
            // Metadata that converting would not change: read alone.
            Output::Metadata if !stored::converts(self.resource) => Some(event_text(
                kind,
                &render::partial_metadata_of(&object.bytes)?,
            )),
            _ => {
                let value = stored::value(self.resource, &object.bytes).ok()?;
                Some(self.value_line(kind, &value))
            }
        }
    }

    fn value_line(&self, kind: &str, value: &Value) -> Bytes {
        let object = match self.output {
            Output::Json | Output::Yaml => value.clone(),
            Output::Metadata => render::partial_metadata(value),
            Output::Table(include) => {
                let rv = value
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let row = render::table_row(self.resource, value, include);
                render::table(self.resource, rv, vec![row], None)
            }
        };
        event_text(kind, &object)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        event_text("BOOKMARK", &list::bookmark(self.resource, rv, initial_end))
    }

    /// The line an event produces for this watcher, if any.
    fn event_line(&self, event: &Event) -> Option<Bytes> {
        let now = self.filter.matches(&event.object);
        match event.kind {
            EventType::Added => now.then(|| self.line("ADDED", &event.object)).flatten(),
            EventType::Deleted => now.then(|| self.line("DELETED", &event.object)).flatten(),
            EventType::Modified => {
                let before = event.prev.as_ref().map_or(now, |p| self.filter.matches(p));
                match (before, now) {
                    (true, true) => self.line("MODIFIED", &event.object),
                    (false, true) => self.line("ADDED", &event.object),
                    (true, false) => {
                        // The object left the selection: report its last
                        // matching state at this revision.
                        let prev = event.prev.as_ref()?;
                        let mut value = stored::value(self.resource, &prev.bytes).ok()?;
                        value["metadata"]["resourceVersion"] = json!(event.object.rev.to_string());
                        Some(self.value_line("DELETED", &value))
                    }
                    (false, false) => None,
                }
            }
        }
    }
}

fn stream_response(rx: mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Response {
    let mut response = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(render::JSON));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

fn error_line(err: &ApiError) -> Bytes {
    event_text("ERROR", &err.to_status())
}

/// `{"type":..,"object":..}\n`, with `type` first as upstream writes it:
/// a client decoding the event (serde's adjacently tagged enums, kube's
/// `WatchEvent`) reads the object straight into its type once it knows
/// the type, instead of buffering it whole.
fn event_text(kind: &str, object: &Value) -> Bytes {
    let mut text = String::with_capacity(64);
    text.push_str("{\"type\":");
    text.push_str(&Value::from(kind).to_string());
    text.push_str(",\"object\":");
    text.push_str(&object.to_string());
    text.push_str("}\n");
    Bytes::from(text)
}

/// How long before a watch's end its last bookmark is due: the client
/// resumes from a revision that is as fresh as it can be (upstream's
/// cacher sends one two seconds before the deadline).
const BOOKMARK_BEFORE_END: Duration = Duration::from_secs(2);

/// When a watch that allows bookmarks gets its next one: at least every
/// `every`, and once just before the watch ends, as upstream's
/// `cacheWatcher.nextBookmarkTime`.
#[derive(Debug, Clone, Copy)]
struct BookmarkSchedule {
    ends_at: tokio::time::Instant,
    every: Duration,
    next: Option<tokio::time::Instant>,
}

impl BookmarkSchedule {
    fn new(ends_at: tokio::time::Instant, every: Duration) -> Self {
        let mut schedule = BookmarkSchedule {
            ends_at,
            every,
            next: None,
        };
        schedule.sent(tokio::time::Instant::now());
        schedule
    }

    /// When the next bookmark is due; `None` once the one before the end
    /// has gone.
    fn due(&self) -> Option<tokio::time::Instant> {
        self.next
    }

    /// A bookmark went at `now`: the next one is a period later, or just
    /// before the end when that comes first (none when that moment has
    /// passed already).
    fn sent(&mut self, now: tokio::time::Instant) {
        let heartbeat = now + self.every;
        let before_end = self.ends_at.checked_sub(BOOKMARK_BEFORE_END);
        self.next = match before_end {
            Some(before_end) if before_end < heartbeat => (before_end > now).then_some(before_end),
            _ => Some(heartbeat),
        };
    }
}

/// Serves a WATCH.
pub async fn serve(
    state: &Arc<AppState>,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let resource = target.resource;
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let filter = Filter::from_query(resource, query)?;
    let bookmarks = query.flag("allowWatchBookmarks")?;
    let send_initial = match query.get("sendInitialEvents") {
        None | Some("") => None,
        Some(_) => Some(query.flag("sendInitialEvents")?),
    };
    if send_initial.is_some() && !bookmarks {
        return Err(ApiError::bad_request(
            "sendInitialEvents is forbidden for watch unless allowWatchBookmarks is true",
        ));
    }
    let timeout = match query.integer("timeoutSeconds")? {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        _ => DEFAULT_TIMEOUT,
    };
    let ends_at = tokio::time::Instant::now() + timeout;
    let rv = query.get("resourceVersion").filter(|s| !s.is_empty());
    let replay = match (rv, send_initial) {
        (_, Some(explicit)) => explicit,
        (None | Some("0"), None) => true,
        (Some(_), None) => false,
    };
    let prefix = target.prefix();

    let (initial, from_rev) = if replay {
        let snapshot = state.store.snapshot();
        if let Some(raw) = rv.filter(|r| *r != "0") {
            let wanted = list::parse_rv(raw)?;
            if wanted > snapshot.rev {
                return Err(ApiError::too_large_resource_version(wanted, snapshot.rev));
            }
        }
        let objects: Vec<Arc<Object>> = snapshot
            .range(&prefix, None)
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        (objects, snapshot.rev)
    } else {
        (Vec::new(), list::parse_rv(rv.unwrap_or("0"))?)
    };

    let plan = Plan {
        resource,
        output,
        filter,
        bookmarks,
    };
    let (tx, rx) = mpsc::channel(BODY_BUFFER);
    let mut watcher = match state.store.watch(&prefix, from_rev) {
        Ok(w) => w,
        Err(StoreError::Expired { requested, oldest }) => {
            let err =
                ApiError::expired(format!("too old resource version: {requested} ({oldest})"));
            let _ = tx.send(Ok(error_line(&err))).await;
            drop(tx);
            return Ok(stream_response(rx));
        }
        Err(other) => return Err(list::history_error(other)),
    };
    let mut shutdown = state.shutdown.clone();
    let bookmark_every = state.bookmark_interval;
    tokio::spawn(async move {
        for object in &initial {
            if let Some(line) = plan.line("ADDED", object)
                && tx.send(Ok(line)).await.is_err()
            {
                return;
            }
        }
        if send_initial == Some(true) && tx.send(Ok(plan.bookmark(from_rev, true))).await.is_err() {
            return;
        }
        drop(initial);
        let deadline = tokio::time::sleep_until(ends_at);
        tokio::pin!(deadline);
        let mut schedule = BookmarkSchedule::new(ends_at, bookmark_every);
        let next = tokio::time::sleep_until(schedule.due().unwrap_or(ends_at));
        tokio::pin!(next);
        loop {
            tokio::select! {
                event = watcher.recv() => {
                    let Some(event) = event else { break };
                    if let Some(line) = plan.event_line(&event)
                        && tx.send(Ok(line)).await.is_err()
                    {
                        return;
                    }
                }
                _ = &mut next, if plan.bookmarks && schedule.due().is_some() => {
                    if let Some(rv) = watcher.bookmark_rev()
                        && tx.send(Ok(plan.bookmark(rv, false))).await.is_err()
                    {
                        return;
                    }
                    schedule.sent(tokio::time::Instant::now());
                    if let Some(at) = schedule.due() {
                        next.as_mut().reset(at);
                    }
                }
                _ = &mut deadline => break,
                _ = shutdown.changed() => break,
                _ = tx.closed() => return,
            }
        }
    });
    Ok(stream_response(rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[test]
    fn bookmarks_come_every_period_then_once_just_before_the_end() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        let mut s = BookmarkSchedule::new(start + Duration::from_secs(150), minute);
        let first = s.due().unwrap();
        assert!(first >= start + minute && first <= Instant::now() + minute);
        s.sent(start + minute);
        assert_eq!(s.due(), Some(start + 2 * minute));
        s.sent(start + 2 * minute);
        // The next period would pass the end: the last one is due two
        // seconds before it.
        assert_eq!(s.due(), Some(start + Duration::from_secs(148)));
        s.sent(start + Duration::from_secs(148));
        assert_eq!(s.due(), None);
    }

    #[test]
    fn a_short_watch_gets_its_bookmark_just_before_the_end() {
        let start = Instant::now();
        let s = BookmarkSchedule::new(start + Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(s.due(), Some(start + Duration::from_secs(3)));
        // A watch shorter than the margin gets no bookmark before its end.
        let s = BookmarkSchedule::new(start + Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(s.due(), None);
    }
}
