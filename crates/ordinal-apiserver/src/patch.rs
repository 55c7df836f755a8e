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

/// The most operations one JSON patch may hold: upstream's
/// `maxJSONPatchOperations`.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// How much `copy` operations of one JSON patch may add to the document,
/// in bytes of JSON: upstream's `JSONPatchMaxCopyBytes` (3 MiB). `add`
/// and `replace` values come out of the body, which is itself bounded, so
/// with this a patch can grow an object by at most body + 3 MiB however its
/// operations are arranged.
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 3 * 1024 * 1024;

/// How deep a JSON patch may nest the document. Stored objects are read
/// back with serde_json, which refuses more than 128 levels; operations
/// that could take a document past that (an `add` deep inside a value
/// another `add` put deep inside a third...) are refused as they come,
/// before the document is too deep to drop safely.
pub const MAX_DOCUMENT_DEPTH: usize = 100;

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
        BodyType::JsonPatch => {
            let patch: json_patch::Patch = serde_json::from_value(value).map_err(|e| {
                ApiError::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            if patch.0.len() > MAX_JSON_PATCH_OPERATIONS {
                return Err(ApiError::too_large_because(&format!(
                    "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                    patch.0.len()
                )));
            }
            Ok(Patch::Json(patch))
        }
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
            Patch::Json(p) => apply_json_patch(original, p).map_err(|e| {
                ApiError::unprocessable(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            }),
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

/// Why a JSON patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum JsonPatchError {
    /// An operation failed as RFC 6902 says (a missing path, a failed
    /// `test`), with the index of the operation.
    #[error(transparent)]
    Operation(#[from] json_patch::PatchError),
    /// The `copy` operations added more than [`MAX_JSON_PATCH_COPY_BYTES`]
    /// (upstream's json-patch library's words).
    #[error(
        "Unable to complete the copy, the accumulated size increase of copy is {accumulated}, exceeding the limit {limit}"
    )]
    CopyTooLarge { accumulated: usize, limit: usize },
    /// An operation would nest the document too deep.
    #[error(
        "operation '/{operation}' failed at path '{path}': the result would be nested more than {MAX_DOCUMENT_DEPTH} levels deep"
    )]
    TooDeep { operation: usize, path: String },
}

/// Applies a JSON patch one operation at a time, keeping count of what
/// `copy` operations add and of how deep the document gets, so that no
/// arrangement of operations can make the server build a huge or
/// bottomless document. The original is not touched; on error the
/// partial copy is dropped.
pub fn apply_json_patch(
    original: &Value,
    patch: &json_patch::Patch,
) -> Result<Value, JsonPatchError> {
    let mut doc = original.clone();
    let mut copied = 0usize;
    for (index, op) in patch.0.iter().enumerate() {
        let path = op.path().as_str();
        let added_depth = match op {
            json_patch::PatchOperation::Add(a) => Some(depth(&a.value)),
            json_patch::PatchOperation::Replace(r) => Some(depth(&r.value)),
            json_patch::PatchOperation::Move(m) => doc.pointer(m.from.as_str()).map(depth),
            json_patch::PatchOperation::Copy(c) => {
                let source = doc.pointer(c.from.as_str());
                if let Some(value) = source {
                    let budget = MAX_JSON_PATCH_COPY_BYTES.saturating_sub(copied);
                    match json_size_within(value, budget) {
                        Some(size) => copied = copied.saturating_add(size),
                        None => {
                            return Err(JsonPatchError::CopyTooLarge {
                                accumulated: copied.saturating_add(budget).saturating_add(1),
                                limit: MAX_JSON_PATCH_COPY_BYTES,
                            });
                        }
                    }
                }
                source.map(depth)
            }
            _ => None,
        };
        if let Some(added) = added_depth
            && pointer_depth(path).saturating_add(added) > MAX_DOCUMENT_DEPTH
        {
            return Err(JsonPatchError::TooDeep {
                operation: index,
                path: path.to_string(),
            });
        }
        json_patch::patch_unsafe(&mut doc, std::slice::from_ref(op)).map_err(|mut e| {
            e.operation = index;
            e
        })?;
    }
    Ok(doc)
}

/// How many levels a JSON pointer descends.
fn pointer_depth(pointer: &str) -> usize {
    pointer.bytes().filter(|b| *b == b'/').count()
}

/// The nesting depth of a value (a scalar is 0, `[]` and `{}` are 1).
/// Values here were parsed by serde_json or built from such values within
/// [`MAX_DOCUMENT_DEPTH`], so the recursion is bounded.
pub fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The length of a value's compact JSON, if it is at most `budget` bytes;
/// the count stops as soon as the budget is exceeded, so measuring a huge
/// value costs no more than the budget.
pub fn json_size_within(value: &Value, budget: usize) -> Option<usize> {
    struct Counter {
        count: usize,
        budget: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.count = self.count.saturating_add(buf.len());
            if self.count > self.budget {
                return Err(std::io::Error::other("over budget"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { count: 0, budget };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.count)
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
