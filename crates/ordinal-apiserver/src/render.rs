//! Turning stored objects into response bodies: single objects, lists,
//! Tables and metadata-only forms.
//!
//! Plain JSON lists are assembled from the stored bytes without parsing them
//! again; that is what keeps a LIST of ten thousand pods cheap.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, StatusCode, header};
use ordinal_store::Object;
use serde_json::{Value, json};

use crate::negotiate::{IncludeObject, Output};
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult};
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
        return Ok(json_response(code, bytes.clone()));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))?;
    value_in(resource, output, code, &value)
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
pub fn list(
    resource: &Resource,
    output: Output,
    meta: &ListMeta,
    items: &[Arc<Object>],
) -> ApiResult<Response> {
    match output {
        Output::Json => {
            let size: usize = items.iter().map(|o| o.bytes.len() + 1).sum();
            let mut body = BytesMut::with_capacity(size + 256);
            let head = json!({
                "kind": resource.list_kind(),
                "apiVersion": resource.api_version(),
                "metadata": meta.to_json(),
            })
            .to_string();
            // Replace the closing brace with the items array.
            body.put_slice(&head.as_bytes()[..head.len() - 1]);
            body.put_slice(b",\"items\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    body.put_u8(b',');
                }
                body.put_slice(&item.bytes);
            }
            body.put_slice(b"]}");
            Ok(json_response(StatusCode::OK, body.freeze()))
        }
        Output::Yaml | Output::Metadata => {
            let values = parse_all(items)?;
            let (kind, api_version, items) = if output == Output::Metadata {
                (
                    "PartialObjectMetadataList".to_string(),
                    "meta.k8s.io/v1".to_string(),
                    values.iter().map(partial_metadata).collect(),
                )
            } else {
                (resource.list_kind(), resource.api_version(), values)
            };
            let body = json!({
                "kind": kind,
                "apiVersion": api_version,
                "metadata": meta.to_json(),
                "items": items,
            });
            if output == Output::Yaml {
                yaml_response(StatusCode::OK, &body)
            } else {
                Ok(json_response(StatusCode::OK, body.to_string()))
            }
        }
        Output::Table(include) => {
            let values = parse_all(items)?;
            let rows = values
                .iter()
                .map(|v| table_row(resource, v, include))
                .collect();
            let mut t = table(resource, &meta.resource_version, rows, meta.cont.as_deref());
            if let Some(r) = meta.remaining {
                t["metadata"]["remainingItemCount"] = json!(r);
            }
            Ok(json_response(StatusCode::OK, t.to_string()))
        }
    }
}

fn parse_all(items: &[Arc<Object>]) -> ApiResult<Vec<Value>> {
    items
        .iter()
        .map(|o| {
            serde_json::from_slice(&o.bytes)
                .map_err(|e| ApiError::internal(format!("decoding stored object: {e}")))
        })
        .collect()
}
