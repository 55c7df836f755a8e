//! Errors as Kubernetes `Status` objects.
//!
//! Every failure a request can meet ends here, with the HTTP code, `reason`
//! and message text that upstream's API server gives for it, because kubectl
//! and client libraries branch on `reason` and print `message` verbatim.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::resources::Resource;

/// One cause of an `Invalid` error: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl From<&crate::names::FieldError> for Cause {
    fn from(e: &crate::names::FieldError) -> Self {
        Cause {
            reason: e.kind.reason().to_string(),
            message: e.body(),
            field: e.field.clone(),
        }
    }
}

/// `details` of a Status: what the error is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<u32>,
}

/// A failed request, convertible into a Status response. Kept small (the
/// details are boxed) because every handler returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Box<Details>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    /// The field causes of an `Invalid` error.
    pub fn causes(&self) -> &[Cause] {
        &self.details.causes
    }

    fn about(mut self, resource: &Resource, name: &str) -> Self {
        self.details.name = Some(name.to_string());
        if !resource.group.is_empty() {
            self.details.group = Some(resource.group.to_string());
        }
        self.details.kind = Some(resource.plural.to_string());
        self
    }

    /// `pods "web-0" not found`.
    pub fn not_found(resource: &Resource, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified_name()),
        )
        .about(resource, name)
    }

    /// A path that names nothing the server serves.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// `pods "web-0" already exists`.
    pub fn already_exists(resource: &Resource, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified_name()),
        )
        .about(resource, name)
    }

    /// An optimistic-concurrency failure on update.
    pub fn conflict(resource: &Resource, name: &str, detail: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {detail}",
                resource.qualified_name()
            ),
        )
        .about(resource, name)
    }

    /// The resourceVersion in the request is not the stored one.
    pub fn stale(resource: &Resource, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `StatefulSet.apps "Web" is invalid: metadata.name: Invalid value: ...`.
    pub fn invalid(resource: &Resource, name: &str, causes: Vec<Cause>) -> Self {
        Self::invalid_kind(resource.group, resource.kind, name, causes)
    }

    /// An `Invalid` error about any group and kind, including ones that are
    /// not served resources (`PatchOptions.meta.k8s.io`).
    pub fn invalid_kind(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let listed: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = if listed.len() == 1 {
            listed[0].clone()
        } else {
            format!("[{}]", listed.join(", "))
        };
        let mut err = Self::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {summary}"),
        );
        err.details.name = Some(name.to_string());
        if !group.is_empty() {
            err.details.group = Some(group.to_string());
        }
        err.details.kind = Some(kind.to_string());
        err.details.causes = causes;
        err
    }

    /// A well-formed request the server cannot apply (a failing JSON patch
    /// `test`, for one).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(resource: &Resource, name: &str, detail: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: {detail}",
                resource.qualified_name()
            ),
        )
        .about(resource, name)
    }

    /// `<resource>[.<group>] ["<name>"] is forbidden: <reason>` about the
    /// resource a request names (served or not), or `reason` alone for a
    /// non-resource request, as upstream's `NewForbidden` words it.
    pub fn forbidden_raw(
        resource: Option<&crate::auth::attributes::ResourceAttributes>,
        reason: String,
    ) -> Self {
        let Some(r) = resource else {
            return Self::new(403, "Forbidden", reason);
        };
        let qualified = if r.group.is_empty() {
            r.resource.clone()
        } else {
            format!("{}.{}", r.resource, r.group)
        };
        let message = if r.name.is_empty() {
            format!("{qualified} is forbidden: {reason}")
        } else {
            format!("{qualified} \"{}\" is forbidden: {reason}", r.name)
        };
        let mut e = Self::new(403, "Forbidden", message);
        if !r.name.is_empty() {
            e.details.name = Some(r.name.clone());
        }
        if !r.group.is_empty() {
            e.details.group = Some(r.group.clone());
        }
        e.details.kind = Some(r.resource.clone());
        e
    }

    /// A verb the resource does not support.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "the server was unable to respond with a content type that the client supports (requested: {accept})"
            ),
        )
    }

    /// A watch or list from a revision the server no longer keeps.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!(
                "Request entity too large: limit is {}",
                crate::server::MAX_BODY_BYTES
            ),
        )
    }

    /// 413 with upstream's `NewRequestEntityTooLargeError` text.
    pub fn too_large_because(detail: &str) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: {detail}"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"
            ),
        )
    }

    /// A resourceVersion newer than anything stored.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        let mut err = Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {requested}, current: {current}"),
        );
        err.details.causes = vec![Cause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        }];
        err.details.retry_after_seconds = Some(1);
        err
    }

    /// 504 Timeout, as upstream's timeout filter answers a request that
    /// ran out of time (`Timeout: <why>`).
    pub fn timeout(why: &str) -> Self {
        Self::new(504, "Timeout", format!("Timeout: {why}"))
    }

    /// An error code upstream's Status has no reason for (431, 414): the
    /// reason is empty, as `StatusReasonUnknown`.
    pub fn with_code(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "", message)
    }

    /// A failure of the server itself (disk full, store closed): never used
    /// for anything a client sent.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }

    /// Any code and reason: for answers relayed from a node, whose
    /// upstream forms are built from the node's status code.
    pub fn relayed(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, reason, message)
    }

    /// Names what the error is about in `details` (`kind` is the
    /// resource, as `pods/log`).
    pub fn about_resource(mut self, kind: &str, name: &str) -> Self {
        self.details.kind = Some(kind.to_string());
        self.details.name = Some(name.to_string());
        self
    }

    /// The Status object as JSON.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        let d = &self.details;
        // Upstream's fields are omitempty: an Invalid about no kind (a
        // patch that does not decode) has only its causes.
        if let Some(name) = d.name.as_ref().filter(|n| !n.is_empty()) {
            details.insert("name".into(), json!(name));
        }
        if let Some(group) = &d.group {
            details.insert("group".into(), json!(group));
        }
        if let Some(kind) = d.kind.as_ref().filter(|k| !k.is_empty()) {
            details.insert("kind".into(), json!(kind));
        }
        if !d.causes.is_empty() {
            let causes: Vec<Value> = d
                .causes
                .iter()
                .map(|c| {
                    let mut cause = json!({"reason": c.reason, "message": c.message});
                    if !c.field.is_empty() {
                        cause["field"] = json!(c.field);
                    }
                    cause
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        if let Some(secs) = d.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(secs));
        }
        // Upstream's generic NotFound (an unknown path, a subresource it
        // does not serve) carries an empty `details`, and kubectl reads it
        // without a nil check (`kubectl debug` on a server without
        // ephemeral containers).
        if !details.is_empty() || self.reason == "NotFound" {
            status["details"] = Value::Object(details);
        }
        if self.reason.is_empty()
            && let Some(map) = status.as_object_mut()
        {
            map.remove("reason");
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_status().to_string();
        let mut response = (code, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.details.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A `Status` reporting success, as returned by some deletes.
pub fn success(resource: &Resource, name: &str, uid: Option<&str>) -> Value {
    let mut details = json!({"name": name, "kind": resource.plural});
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    if let Some(uid) = uid {
        details["uid"] = json!(uid);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::lookup;

    #[test]
    fn not_found_names_the_qualified_resource() {
        let sts = lookup("apps", "v1", "statefulsets").unwrap();
        let status = ApiError::not_found(sts, "web").to_status();
        assert_eq!(status["message"], "statefulsets.apps \"web\" not found");
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["code"], 404);
        assert_eq!(status["details"]["group"], "apps");
        assert_eq!(status["details"]["kind"], "statefulsets");
    }

    #[test]
    fn invalid_lists_causes_with_fields() {
        let pods = lookup("", "v1", "pods").unwrap();
        let err = ApiError::invalid(
            pods,
            "Bad_Name",
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: \"Bad_Name\": nope".into(),
                field: "metadata.name".into(),
            }],
        );
        let status = err.to_status();
        assert_eq!(
            status["message"],
            "Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": nope"
        );
        assert_eq!(status["details"]["kind"], "Pod");
        assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
        assert_eq!(status["code"], 422);
    }
}
