//! LIST: the resourceVersion semantics, selectors, and limit/continue
//! pagination that kubectl, client-go reflectors and kube-rs watchers use.
//!
//! | resourceVersion | resourceVersionMatch | served from |
//! |---|---|---|
//! | unset | — | the latest state |
//! | `0` | unset / NotOlderThan | the latest state (any is allowed) |
//! | `N` | unset / NotOlderThan | the latest state, if it is at least N |
//! | `N` | Exact | the state exactly at N, while history holds it |
//!
//! A continue token pins the revision of the first page, so later pages are
//! consistent with it; when that revision has left the history the token is
//! expired (410), as upstream does after compaction.

use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use http::HeaderMap;
use ordinal_store::{Object, Snapshot, StoreError};
use serde_json::json;

use crate::negotiate;
use crate::render::{self, ListMeta};
use crate::request::{Query, Target};
use crate::resources::Resource;
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::AppState;
use crate::status::{ApiError, ApiResult};

/// The label and field selectors of a list or watch.
pub struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    pub fn from_query(resource: &Resource, query: &Query) -> ApiResult<Self> {
        let labels = match query.get("labelSelector") {
            None | Some("") => None,
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
        };
        let fields = match query.get("fieldSelector") {
            None | Some("") => None,
            Some(s) => {
                let selector = FieldSelector::parse(s)
                    .and_then(|f| f.convert_for(resource))
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                Some(selector)
            }
        };
        Ok(Filter { labels, fields })
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches(&self, object: &Object) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|l| l.matches(&object.attrs.labels))
            && self
                .fields
                .as_ref()
                .is_none_or(|f| f.matches(&object.attrs.fields))
    }
}

/// The revision a request names in `resourceVersion`.
pub fn parse_rv(raw: &str) -> ApiResult<u64> {
    raw.parse::<u64>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {raw:?}")))
}

/// Maps a failure to read history.
pub fn history_error(err: StoreError) -> ApiError {
    match err {
        StoreError::Expired { requested, oldest } => {
            ApiError::expired(format!("too old resource version: {requested} ({oldest})"))
        }
        StoreError::TooLarge { requested, current } => {
            ApiError::too_large_resource_version(requested, current)
        }
        other => crate::rest::store_failure(other),
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

fn encode_continue(rv: u64, start: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("{start}\u{0}"),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(raw: &str) -> ApiResult<(u64, String)> {
    let invalid = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|_| invalid())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.v != "meta.k8s.io/v1" || token.rv == 0 {
        return Err(invalid());
    }
    let start = token.start.trim_end_matches('\u{0}').to_string();
    if start.contains("..") || start.starts_with('/') {
        return Err(invalid());
    }
    Ok((token.rv, start))
}

/// Picks the snapshot a list reads, per the table in the module docs.
fn snapshot_for(state: &AppState, query: &Query) -> ApiResult<Snapshot> {
    let rv = query.get("resourceVersion").filter(|s| !s.is_empty());
    let rv_match = query.get("resourceVersionMatch").filter(|s| !s.is_empty());
    match (rv, rv_match) {
        (None, Some(_)) => Err(ApiError::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        (None, None) | (Some("0"), None | Some("NotOlderThan")) => Ok(state.store.snapshot()),
        (Some("0"), Some("Exact")) => Err(ApiError::bad_request(
            "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
        )),
        (Some(raw), None | Some("NotOlderThan")) => {
            let rv = parse_rv(raw)?;
            let snapshot = state.store.snapshot();
            if rv > snapshot.rev {
                return Err(ApiError::too_large_resource_version(rv, snapshot.rev));
            }
            Ok(snapshot)
        }
        (Some(raw), Some("Exact")) => {
            let rv = parse_rv(raw)?;
            state.store.snapshot_at(rv).map_err(history_error)
        }
        (_, Some(other)) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

/// Serves a LIST.
pub fn serve(
    state: &AppState,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let resource = target.resource;
    let output = negotiate::output(headers, query.get("includeObject"))?;
    let filter = Filter::from_query(resource, query)?;
    // A LIST has no use for timeoutSeconds, but upstream decodes all of
    // ListOptions first, so a malformed one is a 400 here too.
    query.integer("timeoutSeconds")?;
    let limit = match query.integer("limit")? {
        Some(n) if n > 0 => Some(n as usize),
        _ => None,
    };
    let prefix = target.prefix();
    let (snapshot, after) = match query.get("continue").filter(|s| !s.is_empty()) {
        Some(token) => {
            if query
                .get("resourceVersion")
                .is_some_and(|rv| !rv.is_empty() && rv != "0")
            {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, start) = decode_continue(token)?;
            let snapshot = state.store.snapshot_at(rv).map_err(|e| match e {
                StoreError::Expired { .. } => ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ),
                other => history_error(other),
            })?;
            (snapshot, Some(format!("{prefix}{start}")))
        }
        None => (snapshot_for(state, query)?, None),
    };

    let mut items: Vec<Arc<Object>> = Vec::new();
    let mut more = false;
    let mut remaining = 0usize;
    for object in snapshot.range(&prefix, after.as_deref()) {
        if !filter.matches(object) {
            continue;
        }
        if let Some(limit) = limit
            && items.len() == limit
        {
            more = true;
            if !filter.is_empty() {
                break;
            }
            remaining += 1;
            continue;
        }
        items.push(object.clone());
    }
    let cont = if more {
        let last = items.last().map(|o| &*o.key).unwrap_or("");
        Some(encode_continue(
            snapshot.rev,
            last.strip_prefix(&prefix).unwrap_or(last),
        ))
    } else {
        None
    };
    let meta = ListMeta {
        resource_version: snapshot.rev.to_string(),
        remaining: (more && filter.is_empty()).then_some(remaining),
        cont,
    };
    render::list(resource, output, &meta, items)
}

/// The bookmark object a watch sends: kind, apiVersion and a revision.
pub fn bookmark(resource: &Resource, rv: u64, initial_events_end: bool) -> serde_json::Value {
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if initial_events_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    json!({
        "kind": resource.kind,
        "apiVersion": resource.api_version(),
        "metadata": metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_continue(42, "default/web-3");
        assert_eq!(
            decode_continue(&token).unwrap(),
            (42, "default/web-3".to_string())
        );
        for bad in [
            "",
            "!!!",
            "e30",
            &base64::engine::general_purpose::URL_SAFE
                .encode(b"{\"v\":\"x\",\"rv\":1,\"start\":\"a\"}"),
        ] {
            assert_eq!(decode_continue(bad).unwrap_err().code, 400, "{bad}");
        }
    }
}
