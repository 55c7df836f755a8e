//! What every object is before the store takes it: a value of its kind's
//! type, of bounded size.
//!
//! Request bodies are decoded against their type on the way in, but
//! patches, server-side apply and the server's own changes build objects
//! from pieces, and an object stored with a field of the wrong type (a
//! number where a label value belongs) cannot be read by any typed client
//! afterwards: controllers stop on it. So every create and update passes
//! [`check`] last, whatever produced it.

use serde_json::Value;

use crate::decode;
use crate::names::go_quote;
use crate::resources::Resource;
use crate::status::{ApiError, ApiResult, Cause};

/// The largest object the store takes, in bytes of JSON. Upstream stores
/// protobuf in etcd, whose default request limit is 1.5 MiB, and sizes its
/// JSON request limit at twice that for the difference in encoding; ordinal
/// stores JSON, so its objects get the request limit itself (3 MiB).
pub const MAX_OBJECT_BYTES: usize = crate::server::MAX_BODY_BYTES;

/// Checks an object about to be stored (see the module docs). A failure is
/// the server's or a path's that forgot to check, never a client's
/// ordinary mistake, which is caught earlier with a better message.
pub fn check(resource: &Resource, name: &str, object: &Value) -> ApiResult<()> {
    let bytes = encode_bounded(object)?;
    decode::check_types(resource.group, resource.kind, &bytes).map_err(|detail| {
        ApiError::invalid(
            resource,
            name,
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: the object is not a valid {}: {detail}",
                    resource.kind
                ),
                field: String::new(),
            }],
        )
    })
}

/// The result of a merge, strategic-merge or JSON patch, checked as
/// upstream's patch handler checks it: decoded into the kind's type, and
/// refused with upstream's 422 (` "" is invalid: patch: Invalid value:
/// "<the patched object>": <why>`) when it does not decode.
pub fn check_patched(resource: &Resource, patched: &Value) -> ApiResult<()> {
    let bytes = encode_bounded(patched)?;
    decode::check_types(resource.group, resource.kind, &bytes).map_err(|detail| {
        ApiError::invalid_kind(
            "",
            "",
            "",
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: format!(
                    "Invalid value: {}: {detail}",
                    go_quote(&String::from_utf8_lossy(&bytes))
                ),
                field: "patch".into(),
            }],
        )
    })
}

/// The object's JSON, refused with 413 past [`MAX_OBJECT_BYTES`] (the
/// encoding stops there, so an oversized object costs no more than that).
fn encode_bounded(object: &Value) -> ApiResult<Vec<u8>> {
    struct Bounded(Vec<u8>);
    impl std::io::Write for Bounded {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0.len().saturating_add(buf.len()) > MAX_OBJECT_BYTES {
                return Err(std::io::Error::other("too large"));
            }
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Bounded(Vec::new());
    serde_json::to_writer(&mut out, object).map_err(|_| {
        ApiError::too_large_because(&format!(
            "the object would be larger than {MAX_OBJECT_BYTES} bytes, the most the store takes"
        ))
    })?;
    Ok(out.0)
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
    fn values_of_the_wrong_type_are_refused() {
        let cms = lookup("", "v1", "configmaps").unwrap();
        let secrets = lookup("", "v1", "secrets").unwrap();
        for (resource, object) in [
            (
                pods(),
                json!({"metadata": {"name": "p", "labels": {"x": 5}}}),
            ),
            (
                pods(),
                json!({"metadata": {"name": "p"}, "status": {"phase": 5}}),
            ),
            (
                pods(),
                json!({"metadata": {"name": "p"}, "spec": {"containers": {"name": "c"}}}),
            ),
            (cms, json!({"metadata": {"name": "c"}, "data": {"k": 5}})),
            (
                secrets,
                json!({"metadata": {"name": "s"}, "data": {"k": "not base64!"}}),
            ),
        ] {
            let err = check(resource, "x", &object).unwrap_err();
            assert_eq!(err.code, 422, "{object}");
            let err = check_patched(resource, &object).unwrap_err();
            assert_eq!(err.code, 422, "{object}");
            assert!(
                err.message
                    .starts_with(" \"\" is invalid: patch: Invalid value: \"{"),
                "{err}"
            );
        }
    }

    #[test]
    fn well_typed_objects_pass_and_unknown_fields_are_not_this_check() {
        let object = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"x": "5"}},
            "spec": {"containers": [{"name": "c", "image": "i"}], "unknown": 1},
            "status": {"phase": "Pending"},
        });
        check(pods(), "p", &object).unwrap();
        check_patched(pods(), &object).unwrap();
    }

    #[test]
    fn oversized_objects_are_413() {
        let cms = lookup("", "v1", "configmaps").unwrap();
        let big = json!({"metadata": {"name": "c"}, "data": {"k": "x".repeat(MAX_OBJECT_BYTES)}});
        assert_eq!(check(cms, "c", &big).unwrap_err().code, 413);
        assert_eq!(check_patched(cms, &big).unwrap_err().code, 413);
    }
}
