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
                let mut out = BytesMut::with_capacity(object.bytes.len() + 32);
                out.put_slice(b"{\"type\":\"");
                out.put_slice(kind.as_bytes());
                out.put_slice(b"\",\"object\":");
                out.put_slice(&object.bytes);
                out.put_slice(b"}\n");
                Some(out.freeze())
            }
            _ => {
                let value: Value = serde_json::from_slice(&object.bytes).ok()?;
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
                        let mut value: Value = serde_json::from_slice(&prev.bytes).ok()?;
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
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_every);
        ticker.tick().await;
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
                _ = ticker.tick(), if plan.bookmarks => {
                    if let Some(rv) = watcher.bookmark_rev()
                        && tx.send(Ok(plan.bookmark(rv, false))).await.is_err()
                    {
                        return;
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
