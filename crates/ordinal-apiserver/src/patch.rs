//! PATCH bodies applied to a stored object.
//!
//! JSON patch (RFC 6902) and JSON merge patch (RFC 7396) come from the
//! `json-patch` crate. A strategic merge patch is exactly a merge patch while
//! it carries no lists and no `$` directives (the common case: labels,
//! annotations, scalars, the `restartedAt` annotation of `rollout restart`),
//! and is applied as one; patches that need merge keys or directives are
//! refused with 415 until the strategic merge engine lands (issue 3).
//! Server-side apply is refused the same way.

use serde_json::Value;

use crate::negotiate::BodyType;
use crate::status::{ApiError, ApiResult};

/// A parsed patch, ready to apply to any version of the object.
#[derive(Debug, Clone)]
pub enum Patch {
    Json(json_patch::Patch),
    Merge(Value),
}

fn contains_list_or_directive(value: &Value) -> bool {
    match value {
        Value::Array(_) => true,
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.starts_with('$') || contains_list_or_directive(v)),
        _ => false,
    }
}

/// Parses a patch body of the given type.
pub fn parse(kind: BodyType, body: &[u8]) -> ApiResult<Patch> {
    if matches!(kind, BodyType::Json | BodyType::Yaml | BodyType::Protobuf) {
        return Err(ApiError::unsupported_media_type(match kind {
            BodyType::Yaml => "application/yaml",
            BodyType::Protobuf => "application/vnd.kubernetes.protobuf",
            _ => "application/json",
        }));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match kind {
        BodyType::JsonPatch => serde_json::from_value(value).map(Patch::Json).map_err(|e| {
            ApiError::bad_request(format!(
                "the server rejected our request due to an error in our request: {e}"
            ))
        }),
        BodyType::MergePatch => {
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal a non-object into a merge patch",
                ));
            }
            Ok(Patch::Merge(value))
        }
        BodyType::StrategicMergePatch => {
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal a non-object into a strategic merge patch",
                ));
            }
            if contains_list_or_directive(&value) {
                return Err(ApiError::unsupported_media_type(
                    "application/strategic-merge-patch+json (with lists or directives: not yet supported)",
                ));
            }
            Ok(Patch::Merge(value))
        }
        BodyType::ApplyPatch => Err(ApiError::unsupported_media_type(
            "application/apply-patch+yaml (server-side apply: not yet supported)",
        )),
        BodyType::Json | BodyType::Yaml | BodyType::Protobuf => {
            Err(ApiError::unsupported_media_type("a non-patch body"))
        }
    }
}

impl Patch {
    /// Applies the patch to a copy of `original`.
    pub fn apply(&self, original: &Value) -> ApiResult<Value> {
        let mut doc = original.clone();
        match self {
            Patch::Json(p) => json_patch::patch(&mut doc, p).map_err(|e| {
                ApiError::unprocessable(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?,
            Patch::Merge(p) => json_patch::merge(&mut doc, p),
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_sets_and_deletes() {
        let p = parse(
            BodyType::MergePatch,
            br#"{"metadata":{"labels":{"a":"1","b":null}}}"#,
        )
        .unwrap();
        let out = p
            .apply(&json!({"metadata": {"labels": {"b": "2", "c": "3"}}}))
            .unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"a": "1", "c": "3"}));
    }

    #[test]
    fn json_patch_tests_and_fails_cleanly() {
        let p = parse(
            BodyType::JsonPatch,
            br#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
        )
        .unwrap();
        assert_eq!(
            p.apply(&json!({"spec": {"replicas": 1}})).unwrap()["spec"]["replicas"],
            3
        );
        let bad = parse(
            BodyType::JsonPatch,
            br#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
        )
        .unwrap();
        assert_eq!(
            bad.apply(&json!({"spec": {"replicas": 1}}))
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(parse(BodyType::JsonPatch, b"{").unwrap_err().code, 400);
    }

    #[test]
    fn strategic_patches_without_lists_are_merge_patches() {
        let p = parse(
            BodyType::StrategicMergePatch,
            br#"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}}}}}"#,
        )
        .unwrap();
        let out = p
            .apply(&json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}))
            .unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["name"],
            "a"
        );
        assert_eq!(
            out["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
            "now"
        );
        let listy = parse(
            BodyType::StrategicMergePatch,
            br#"{"spec":{"containers":[{"name":"a"}]}}"#,
        );
        assert_eq!(listy.unwrap_err().code, 415);
    }
}
