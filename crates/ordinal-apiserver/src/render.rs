//! Turning stored objects into response bodies: single objects, lists,
//! Tables and metadata-only forms.
//!
//! Plain JSON lists are assembled from the stored bytes without parsing them
//! again; that is what keeps a LIST of ten thousand pods cheap.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use ordinal_store::Object;
use serde_json::{Value, json};

use crate::negotiate::{IncludeObject, Output};
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult};
use crate::stored;
use crate::table;

pub const JSON: &str = "application/json";

/// A JSON body with a status code.
pub fn json_response(code: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = (code, body.into()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

fn yaml_response(code: StatusCode, value: &Value) -> ApiResult<Response> {
    let text = serde_yaml::to_string(value)
        .map_err(|e| ApiError::internal(format!("encoding YAML: {e}")))?;
    let mut response = (code, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    Ok(response)
}

/// The `metadata` of an object, as a PartialObjectMetadata.
pub fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// [`partial_metadata`] of a stored object's JSON, building its metadata
/// alone: the rest is skipped as it is read. Metadata watches (the garbage
/// collector's, every client's metadata informer) see every write of their
/// resource; building each whole object for them was a twentieth of a
/// busy `ordinal up`'s CPU.
pub fn partial_metadata_of(stored: &[u8]) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct Head {
        metadata: Option<Value>,
    }
    let head: Head = serde_json::from_slice(stored).ok()?;
    Some(json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": head.metadata.unwrap_or_else(|| json!({})),
    }))
}

/// One Table row for an object.
pub fn table_row(resource: &Resource, object: &Value, include: IncludeObject) -> Value {
    let cells = table::cells(resource, object, jiff::Timestamp::now());
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = partial_metadata(object),
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

/// A Table of objects.
pub fn table(resource: &Resource, rv: &str, rows: Vec<Value>, cont: Option<&str>) -> Value {
    let mut metadata = json!({ "resourceVersion": rv });
    if let Some(c) = cont {
        metadata["continue"] = json!(c);
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": table::column_definitions(resource),
        "rows": rows,
    })
}

/// Renders one object in the requested form.
pub fn object(
    resource: &Resource,
    output: Output,
    code: StatusCode,
    bytes: &Bytes,
) -> ApiResult<Response> {
    if output == Output::Json {
        return Ok(json_response(code, stored::bytes(resource, bytes)));
    }
    value_in(resource, output, code, &stored::value(resource, bytes)?)
}

/// Renders an object held as a JSON value.
pub fn value_in(
    resource: &Resource,
    output: Output,
    code: StatusCode,
    value: &Value,
) -> ApiResult<Response> {
    match output {
        Output::Json => Ok(json_response(code, value.to_string())),
        Output::Yaml => yaml_response(code, value),
        Output::Metadata => Ok(json_response(code, partial_metadata(value).to_string())),
        Output::Table(include) => {
            let rv = value
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let row = table_row(resource, value, include);
            Ok(json_response(
                code,
                table(resource, rv, vec![row], None).to_string(),
            ))
        }
    }
}

/// The list envelope's metadata.
pub struct ListMeta {
    pub resource_version: String,
    pub cont: Option<String>,
    pub remaining: Option<usize>,
}

impl ListMeta {
    fn to_json(&self) -> Value {
        let mut m = json!({ "resourceVersion": self.resource_version });
        if let Some(c) = &self.cont {
            m["continue"] = json!(c);
        }
        if let Some(r) = self.remaining {
            m["remainingItemCount"] = json!(r);
        }
        m
    }
}

/// Renders a list of stored objects in the requested form.
///
/// JSON, Table and metadata lists are streamed: the body is written as
/// the client reads it, an item at a time, so a client that reads slowly
/// (or never) costs the server what the connection buffers, not the whole
/// list. A JSON list's items are the stored bytes themselves (shared, not
/// copied); a Table row is made when it is sent.
pub fn list(
    resource: &'static Resource,
    output: Output,
    meta: &ListMeta,
    items: Vec<Arc<Object>>,
) -> ApiResult<Response> {
    match output {
        Output::Json => {
            let head = json!({
                "kind": resource.list_kind(),
                "apiVersion": resource.api_version(),
                "metadata": meta.to_json(),
            });
            let items: Vec<Bytes> = items
                .iter()
                .map(|o| stored::bytes(resource, &o.bytes))
                .collect();
            let sizes: usize = items.iter().map(|b| b.len() + 1).sum();
            let pieces = items.into_iter().map(Some);
            let (body, length) = stream_json(&head, "items", pieces);
            let mut response = json_body(body);
            let length = length + sizes.saturating_sub(1);
            if let Ok(v) = HeaderValue::from_str(&length.to_string()) {
                response.headers_mut().insert(header::CONTENT_LENGTH, v);
            }
            Ok(response)
        }
        Output::Metadata => {
            let head = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta.to_json(),
            });
            let pieces = items
                .into_iter()
                .map(|o| partial_metadata_of(&o.bytes).map(|v| Bytes::from(v.to_string())));
            Ok(json_body(stream_json(&head, "items", pieces).0))
        }
        Output::Table(include) => {
            let mut metadata = json!({ "resourceVersion": meta.resource_version });
            if let Some(c) = &meta.cont {
                metadata["continue"] = json!(c);
            }
            if let Some(r) = meta.remaining {
                metadata["remainingItemCount"] = json!(r);
            }
            let head = json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "columnDefinitions": table::column_definitions(resource),
            });
            let pieces = items.into_iter().map(move |o| {
                let value = stored::value(resource, &o.bytes).ok()?;
                Some(Bytes::from(
                    table_row(resource, &value, include).to_string(),
                ))
            });
            Ok(json_body(stream_json(&head, "rows", pieces).0))
        }
        Output::Yaml => {
            let values = parse_all(resource, &items)?;
            let body = json!({
                "kind": resource.list_kind(),
                "apiVersion": resource.api_version(),
                "metadata": meta.to_json(),
                "items": values,
            });
            yaml_response(StatusCode::OK, &body)
        }
    }
}

fn json_body(body: axum::body::Body) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// A JSON object streamed as `head` with one more field, `field`, the
/// array of `pieces` (each an element's JSON; `None` is left out). Returns
/// the body and the length of everything but the pieces and their commas.
fn stream_json(
    head: &Value,
    field: &str,
    pieces: impl Iterator<Item = Option<Bytes>> + Send + 'static,
) -> (axum::body::Body, usize) {
    let head = head.to_string();
    let mut opening = Vec::with_capacity(head.len() + field.len() + 6);
    // Replace the closing brace with the array.
    opening.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    opening.extend_from_slice(format!(",\"{field}\":[").as_bytes());
    let fixed = opening.len() + 2;
    let mut first = true;
    let elements = pieces.flatten().flat_map(move |piece| {
        let comma = (!std::mem::take(&mut first)).then(|| Bytes::from_static(b","));
        comma.into_iter().chain(std::iter::once(piece))
    });
    let frames = std::iter::once(Bytes::from(opening))
        .chain(elements)
        .chain(std::iter::once(Bytes::from_static(b"]}")))
        .map(Ok::<_, std::convert::Infallible>);
    (
        axum::body::Body::from_stream(futures::stream::iter(frames)),
        fixed,
    )
}

fn parse_all(resource: &Resource, items: &[Arc<Object>]) -> ApiResult<Vec<Value>> {
    items
        .iter()
        .map(|o| stored::value(resource, &o.bytes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metadata_read_alone_is_the_metadata_of_the_whole_object() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "default", "resourceVersion": "7",
                "labels": {"app": "web"}, "ownerReferences": [{"kind": "StatefulSet", "name": "web", "uid": "u"}]},
            "spec": {"containers": [{"name": "app", "image": "busybox", "args": ["{\"metadata\": 1}"]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        });
        let bytes = pod.to_string();
        assert_eq!(
            partial_metadata_of(bytes.as_bytes()),
            Some(partial_metadata(&pod))
        );
        assert_eq!(
            partial_metadata_of(br#"{"kind": "Pod"}"#),
            Some(partial_metadata(&json!({"kind": "Pod"})))
        );
        assert_eq!(partial_metadata_of(b"{\"metadata\": "), None);
    }
}
