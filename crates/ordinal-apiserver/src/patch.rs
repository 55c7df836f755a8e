//! PATCH bodies applied to a stored object.
//!
//! JSON patch (RFC 6902) and JSON merge patch (RFC 7396) come from the
//! `json-patch` crate; strategic merge patch from [`ordinal_merge`], which
//! knows the merge keys and strategies of every served kind. Server-side
//! apply is not a patch of this kind: `rest` hands it to [`crate::fields`].

use serde_json::Value;

use crate::negotiate::BodyType;
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult};

/// A parsed patch, ready to apply to any version of the object.
#[derive(Debug, Clone)]
pub enum Patch {
    Json(json_patch::Patch),
    Merge(Value),
    Strategic {
        patch: Value,
        group: &'static str,
        kind: &'static str,
    },
}

/// Parses a patch body of the given type, for an object of `resource`.
pub fn parse(kind: BodyType, resource: &Resource, body: &[u8]) -> ApiResult<Patch> {
    if matches!(
        kind,
        BodyType::Json | BodyType::Yaml | BodyType::Protobuf | BodyType::ApplyPatch
    ) {
        return Err(ApiError::unsupported_media_type(match kind {
            BodyType::Yaml => "application/yaml",
            BodyType::Protobuf => "application/vnd.kubernetes.protobuf",
            BodyType::ApplyPatch => "application/apply-patch+yaml",
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
        _ => {
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal a non-object into a strategic merge patch",
                ));
            }
            Ok(Patch::Strategic {
                patch: value,
                group: resource.group,
                kind: resource.kind,
            })
        }
    }
}

/// The Status of a strategic merge patch that cannot be applied. Where
/// upstream passes an engine error through as a 500 (a merge-list element
/// without its key, an unknown directive), we answer 422 with the same
/// message: the fault is the request's, and a 500 invites a retry of it.
fn strategic_error(e: &ordinal_merge::PatchError) -> ApiError {
    match e.status_code() {
        400 => ApiError::bad_request(e.to_string()),
        _ => ApiError::unprocessable(e.to_string()),
    }
}

impl Patch {
    /// Applies the patch to a copy of `original`.
    pub fn apply(&self, original: &Value) -> ApiResult<Value> {
        match self {
            Patch::Json(p) => {
                let mut doc = original.clone();
                json_patch::patch(&mut doc, p).map_err(|e| {
                    ApiError::unprocessable(format!(
                        "the server rejected our request due to an error in our request: {e}"
                    ))
                })?;
                Ok(doc)
            }
            Patch::Merge(p) => {
                let mut doc = original.clone();
                json_patch::merge(&mut doc, p);
                Ok(doc)
            }
            Patch::Strategic { patch, group, kind } => {
                ordinal_merge::apply(original, patch, group, kind).map_err(|e| strategic_error(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;
    use serde_json::json;

    fn pods() -> &'static Resource {
        lookup("", "v1", "pods").unwrap()
    }

    #[test]
    fn merge_patch_sets_and_deletes() {
        let p = parse(
            BodyType::MergePatch,
            pods(),
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
            pods(),
            br#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
        )
        .unwrap();
        assert_eq!(
            p.apply(&json!({"spec": {"replicas": 1}})).unwrap()["spec"]["replicas"],
            3
        );
        let bad = parse(
            BodyType::JsonPatch,
            pods(),
            br#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
        )
        .unwrap();
        assert_eq!(
            bad.apply(&json!({"spec": {"replicas": 1}}))
                .unwrap_err()
                .code,
            422
        );
        assert_eq!(
            parse(BodyType::JsonPatch, pods(), b"{").unwrap_err().code,
            400
        );
    }

    #[test]
    fn strategic_patches_merge_containers_by_name() {
        let p = parse(
            BodyType::StrategicMergePatch,
            pods(),
            br#"{"spec":{"containers":[{"name":"b","image":"b:2"}]}}"#,
        )
        .unwrap();
        let out = p
            .apply(&json!({"spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}}))
            .unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}])
        );
    }

    #[test]
    fn strategic_patch_errors_are_client_errors() {
        let missing_key = parse(
            BodyType::StrategicMergePatch,
            pods(),
            br#"{"spec":{"containers":[{"image":"x"}]}}"#,
        )
        .unwrap();
        let err = missing_key
            .apply(&json!({"spec": {"containers": [{"name": "a"}]}}))
            .unwrap_err();
        assert_eq!(err.code, 422, "{err}");
        assert!(
            err.message
                .contains("does not contain declared merge key: name"),
            "{err}"
        );
        let bad_order = parse(
            BodyType::StrategicMergePatch,
            pods(),
            br#"{"spec":{"$setElementOrder/containers":5}}"#,
        )
        .unwrap();
        assert_eq!(bad_order.apply(&json!({"spec": {}})).unwrap_err().code, 422);
        let bad_retain = parse(
            BodyType::StrategicMergePatch,
            pods(),
            br#"{"spec":{"volumes":[{"name":"v","$retainKeys":5}]}}"#,
        )
        .unwrap();
        assert_eq!(
            bad_retain
                .apply(&json!({"spec": {"volumes": [{"name": "v"}]}}))
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            parse(BodyType::StrategicMergePatch, pods(), b"[1]")
                .unwrap_err()
                .code,
            400
        );
    }

    mod round_trip {
        use super::*;
        use proptest::prelude::*;

        /// JSON without nulls (a merge patch cannot set a null).
        fn doc() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                any::<bool>().prop_map(Value::from),
                (-5i64..5).prop_map(Value::from),
                "[a-c]{0,2}".prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    prop::collection::btree_map("[a-d]", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
            .prop_map(|v| json!({ "spec": v }))
        }

        proptest! {
            /// A merge patch computed from (a, b) takes a to b, through the
            /// same parse/apply path a PATCH request uses.
            #[test]
            fn merge_patch_from_a_to_b(a in doc(), b in doc()) {
                // Unknown kinds have no merge keys: the two-way diff is a
                // plain RFC 7396 merge patch.
                let patch = ordinal_merge::diff::two_way(&a, &b, "", "NoSuchKind");
                let parsed = parse(
                    BodyType::MergePatch,
                    pods(),
                    patch.to_string().as_bytes(),
                ).unwrap();
                prop_assert_eq!(parsed.apply(&a).unwrap(), b);
            }

            /// The same for strategic patches of pods.
            #[test]
            fn strategic_patch_from_a_to_b(a in doc(), b in doc()) {
                let patch = ordinal_merge::diff::two_way(&a, &b, "", "Pod");
                let parsed = parse(
                    BodyType::StrategicMergePatch,
                    pods(),
                    patch.to_string().as_bytes(),
                ).unwrap();
                prop_assert_eq!(parsed.apply(&a).unwrap(), b);
            }
        }
    }
}
