//! OpenAPI v2 (Swagger 2.0): `GET /openapi/v2`, one document for every
//! served group-version, in JSON or in gnostic's protobuf.
//!
//! kubectl 1.27 and 1.28 read it to decide whether the server validates
//! fields itself (the `fieldValidation` parameter of each kind's PATCH) and,
//! when not, to validate a manifest client-side; every kubectl reads it for
//! `kubectl explain --output plaintext-openapiv2`. client-go asks for the
//! protobuf form only (`DiscoveryClient.OpenAPISchema`); other clients ask
//! for JSON.
//!
//! The document is the v3 documents' paths in 2.0's spelling (query
//! parameters carry their type directly, a request body is an `in: body`
//! parameter, media types move to `consumes` and `produces`) and the whole
//! schema set under `definitions`.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{
    INFO_VERSION, V3_REF_PREFIX, bearer_token, build_paths, content_hash, group_versions, proto,
    schemas,
};

/// The media type client-go asks for.
pub const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The `Content-Type` of the protobuf answer: the same type without the
/// `@`, which Go's `mime` parser (kubectl 1.27 and 1.28 read the header
/// with it) refuses, as upstream's handler answers.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// One serialized form and its content hash (the ETag).
pub struct Encoded {
    /// The document's bytes.
    pub bytes: Bytes,
    /// 32 hex digits.
    pub hash: String,
}

/// The JSON form.
pub fn json() -> &'static Encoded {
    static DOC: OnceLock<Encoded> = OnceLock::new();
    DOC.get_or_init(|| encoded(serde_json::to_vec(document()).unwrap_or_default()))
}

/// The protobuf form.
pub fn protobuf() -> &'static Encoded {
    static DOC: OnceLock<Encoded> = OnceLock::new();
    DOC.get_or_init(|| encoded(proto::encode_v2(document())))
}

fn encoded(bytes: Vec<u8>) -> Encoded {
    let hash = content_hash(&bytes);
    Encoded {
        bytes: Bytes::from(bytes),
        hash,
    }
}

/// Whether an `Accept` header asks for the protobuf form.
pub fn wants_protobuf(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case(PROTOBUF)
            // The spelling older clients sent.
            || media.eq_ignore_ascii_case("application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    })
}

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut paths = Map::new();
        for (group, version) in group_versions() {
            for (path, item) in build_paths(group, version).paths {
                paths.insert(path, path_item(&item));
            }
        }
        json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": INFO_VERSION },
            "paths": paths,
            "definitions": schemas::definitions(),
            "securityDefinitions": { "BearerToken": bearer_token() },
            "security": [{ "BearerToken": [] }],
        })
    })
}

/// A v3 path item in 2.0's spelling.
fn path_item(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(item) = item.as_object() else {
        return Value::Object(out);
    };
    for (key, value) in item {
        let converted = if key == "parameters" {
            Value::Array(parameters(value))
        } else {
            operation(value)
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

fn parameters(list: &Value) -> Vec<Value> {
    list.as_array()
        .map(|ps| ps.iter().map(parameter).collect())
        .unwrap_or_default()
}

/// `{name, in, schema: {type, uniqueItems}}` → `{name, in, type, uniqueItems}`.
fn parameter(p: &Value) -> Value {
    let mut out = Map::new();
    if let Some(p) = p.as_object() {
        for (key, value) in p {
            if key == "schema" {
                if let Some(schema) = value.as_object() {
                    out.extend(schema.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            } else {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    let Some(op) = op.as_object() else {
        return Value::Object(out);
    };
    let mut params = op.get("parameters").map(parameters).unwrap_or_default();
    let mut consumes = Vec::new();
    if let Some(content) = op.get("requestBody").and_then(|b| b["content"].as_object()) {
        consumes.extend(content.keys().cloned());
        if let Some(schema) = content.values().next().map(|c| &c["schema"]) {
            params.insert(
                0,
                json!({ "name": "body", "in": "body", "required": true, "schema": to_v2(schema) }),
            );
        }
    }
    let mut produces: Vec<String> = Vec::new();
    let mut responses = Map::new();
    for (code, response) in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let mut r = Map::new();
        r.insert("description".into(), response["description"].clone());
        if let Some(content) = response["content"].as_object() {
            for media in content.keys() {
                if !produces.contains(media) {
                    produces.push(media.clone());
                }
            }
            if let Some(schema) = content.values().next().map(|c| &c["schema"]) {
                r.insert("schema".into(), to_v2(schema));
            }
        }
        responses.insert(code.clone(), Value::Object(r));
    }
    for (key, value) in op {
        match key.as_str() {
            "parameters" | "requestBody" | "responses" => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !consumes.is_empty() {
        out.insert("consumes".into(), json!(consumes));
    }
    if !produces.is_empty() {
        out.insert("produces".into(), json!(produces));
    }
    out.insert("schemes".into(), json!(["https"]));
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    out.insert("responses".into(), Value::Object(responses));
    Value::Object(out)
}

/// A v3 schema of a path (only ever a reference or a plain type) in 2.0's
/// spelling.
fn to_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            let name = r.strip_prefix(V3_REF_PREFIX).unwrap_or(r);
                            json!(format!("{}{name}", schemas::REF_PREFIX))
                        }
                        _ => to_v2(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_swagger_with_every_kind() {
        let d = document();
        assert_eq!(d["swagger"], "2.0");
        let patch =
            &d["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({ "group": "apps", "version": "v1", "kind": "StatefulSet" })
        );
        let params = patch["parameters"].as_array().unwrap();
        assert_eq!(params[0]["in"], "body");
        assert_eq!(
            params[0]["schema"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
        );
        let fv = params
            .iter()
            .find(|p| p["name"] == "fieldValidation")
            .unwrap();
        assert_eq!(fv["in"], "query");
        assert_eq!(fv["type"], "string");
        assert!(fv.get("schema").is_none());
        assert!(
            patch["consumes"]
                .as_array()
                .unwrap()
                .contains(&json!("application/strategic-merge-patch+json"))
        );
        assert_eq!(
            patch["responses"]["200"]["schema"]["$ref"],
            "#/definitions/io.k8s.api.apps.v1.StatefulSet"
        );
        let text = serde_json::to_string(d).unwrap();
        assert!(!text.contains(V3_REF_PREFIX));
        for piece in text.split(schemas::REF_PREFIX).skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(d["definitions"].get(name).is_some(), "{name}");
        }
        // Path-level parameters are converted too.
        let item = &d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        assert_eq!(item["parameters"][0]["type"], "string");
    }

    #[test]
    fn protobuf_is_asked_for_by_its_media_type() {
        assert!(wants_protobuf(PROTOBUF));
        assert!(wants_protobuf(&format!(
            "application/json;q=0.5, {PROTOBUF}"
        )));
        assert!(!wants_protobuf("application/json"));
        assert!(!wants_protobuf(""));
        assert_ne!(json().hash, protobuf().hash);
        assert!(!protobuf().bytes.is_empty());
    }
}
