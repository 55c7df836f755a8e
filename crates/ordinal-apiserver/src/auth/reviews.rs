//! The create-only "review" resources: questions to the authenticator and
//! authorizer, answered and never stored.
//!
//! - `authorization.k8s.io/v1`: `SelfSubjectAccessReview` (`kubectl auth
//!   can-i`), `SelfSubjectRulesReview` (`kubectl auth can-i --list`),
//!   `SubjectAccessReview` and `LocalSubjectAccessReview` (about another
//!   identity);
//! - `authentication.k8s.io/v1`: `SelfSubjectReview` (`kubectl auth
//!   whoami`), `TokenReview`;
//! - `serviceaccounts/token` (`TokenRequest`, `kubectl create token`).

use std::collections::BTreeMap;

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::attributes::{Attributes, ResourceAttributes};
use super::tokens::{self, Binding};
use super::{UserInfo, authorize, rbac};
use crate::names::FieldError;
use crate::render;
use crate::request::{Query, Target};
use crate::resources;
use crate::rest;
use crate::server::AppState;
use crate::status::{ApiError, ApiResult, Cause};

/// The group of the access reviews.
pub const AUTHORIZATION: &str = "authorization.k8s.io";
/// The group of the token and identity reviews.
pub const AUTHENTICATION: &str = "authentication.k8s.io";

/// Whether this server answers the request here rather than storing it.
pub(crate) fn handles(target: &Target) -> bool {
    matches!(target.resource.group, AUTHORIZATION | AUTHENTICATION)
        || (target.resource.plural == "serviceaccounts"
            && target.subresource.as_deref() == Some("token"))
}

/// Answers a review or a TokenRequest.
pub(crate) async fn handle(
    state: &AppState,
    user: &UserInfo,
    method: &http::Method,
    target: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    if method != http::Method::POST || (target.name.is_some() && target.subresource.is_none()) {
        return Err(ApiError::method_not_allowed());
    }
    let bytes = rest::read_body(body, state.limits.body_timeout).await?;
    let resource = target.resource;
    let (group, version, kind) = match target.subresource.as_deref() {
        Some("token") => (AUTHENTICATION, "v1", "TokenRequest"),
        _ => (resource.group, resource.version, resource.kind),
    };
    let decoded = rest::decode_as(group, version, kind, query, headers, &bytes)?;
    let mut object = decoded.object;
    let snapshot = state.store.snapshot();
    let status = match kind {
        "SelfSubjectAccessReview" => access_review(&snapshot, user, &object, None)?,
        "LocalSubjectAccessReview" | "SubjectAccessReview" => {
            let subject = subject_of(&object);
            let namespace = (kind == "LocalSubjectAccessReview")
                .then(|| target.namespace.clone().unwrap_or_default());
            access_review(&snapshot, &subject, &object, namespace.as_deref())?
        }
        "SelfSubjectRulesReview" => rules_review(&snapshot, user, &object)?,
        "SelfSubjectReview" => json!({ "userInfo": user_json(user) }),
        "TokenReview" => token_review(state, &snapshot, &object),
        "TokenRequest" => {
            let (spec, status) = token_request(state, &snapshot, target, &object)?;
            object["spec"] = spec;
            let sa = target.name.clone().unwrap_or_default();
            object["metadata"] = json!({
                "name": sa,
                "namespace": target.namespace.clone().unwrap_or_default(),
                "creationTimestamp": null,
            });
            status
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({ "creationTimestamp": null });
    }
    object["apiVersion"] = json!(format!("{group}/{version}"));
    object["kind"] = json!(kind);
    object["status"] = status;
    let response = render::json_response(StatusCode::CREATED, object.to_string());
    Ok(rest::with_warnings(response, &decoded.warnings))
}

fn invalid(kind: &str, errors: Vec<FieldError>) -> ApiError {
    ApiError::invalid_kind(AUTHORIZATION, kind, "", causes(&errors))
}

fn causes(errors: &[FieldError]) -> Vec<Cause> {
    errors.iter().map(Cause::from).collect()
}

/// The identity a (Local)SubjectAccessReview asks about.
fn subject_of(object: &Value) -> UserInfo {
    let spec = &object["spec"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut extra = BTreeMap::new();
    if let Some(map) = spec["extra"].as_object() {
        for (k, v) in map {
            extra.insert(k.clone(), strings(v));
        }
    }
    UserInfo {
        name: spec["user"].as_str().unwrap_or_default().to_string(),
        uid: spec["uid"].as_str().unwrap_or_default().to_string(),
        groups: strings(&spec["groups"]),
        extra,
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `status` of an access review: whether the identity may do what the
/// spec's attributes describe.
fn access_review(
    snapshot: &ordinal_store::Snapshot,
    user: &UserInfo,
    object: &Value,
    local_namespace: Option<&str>,
) -> ApiResult<Value> {
    let kind = object["kind"]
        .as_str()
        .unwrap_or("SelfSubjectAccessReview")
        .to_string();
    let spec = &object["spec"];
    let resource = spec.get("resourceAttributes").filter(|v| v.is_object());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| v.is_object());
    let attrs = match (resource, non_resource) {
        (Some(r), None) => {
            let namespace = text(r, "namespace");
            if let Some(local) = local_namespace
                && namespace != local
            {
                return Err(invalid(
                    &kind,
                    vec![FieldError::invalid(
                        "spec.resourceAttributes.namespace",
                        namespace.clone(),
                        "must match metadata.namespace",
                    )],
                ));
            }
            Attributes::Resource(ResourceAttributes {
                verb: text(r, "verb"),
                group: text(r, "group"),
                version: text(r, "version"),
                resource: text(r, "resource"),
                subresource: text(r, "subresource"),
                namespace,
                name: text(r, "name"),
            })
        }
        (None, Some(n)) => Attributes::NonResource {
            verb: text(n, "verb"),
            path: text(n, "path"),
        },
        _ => {
            return Err(invalid(
                &kind,
                vec![FieldError::invalid(
                    "spec.resourceAttributes",
                    "null",
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )],
            ));
        }
    };
    if kind != "SelfSubjectAccessReview" && user.name.is_empty() && user.groups.is_empty() {
        return Err(invalid(
            &kind,
            vec![FieldError::invalid(
                "spec.user",
                "",
                "at least one of user or group must be specified",
            )],
        ));
    }
    Ok(json!({ "allowed": authorize(snapshot, user, &attrs) }))
}

/// `status` of a SelfSubjectRulesReview: every rule that applies in the
/// namespace.
fn rules_review(
    snapshot: &ordinal_store::Snapshot,
    user: &UserInfo,
    object: &Value,
) -> ApiResult<Value> {
    let namespace = object["spec"]["namespace"].as_str().unwrap_or_default();
    let rules = rbac::rules_for(snapshot, user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    if user.is_master() {
        resource_rules.push(json!({ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] }));
        non_resource_rules.push(json!({ "verbs": ["*"], "nonResourceURLs": ["*"] }));
    }
    for rule in rules {
        if rule.non_resource_urls.is_empty() {
            let mut r = Map::new();
            r.insert("verbs".into(), json!(rule.verbs));
            r.insert("apiGroups".into(), json!(rule.api_groups));
            r.insert("resources".into(), json!(rule.resources));
            if !rule.resource_names.is_empty() {
                r.insert("resourceNames".into(), json!(rule.resource_names));
            }
            resource_rules.push(Value::Object(r));
        } else {
            non_resource_rules
                .push(json!({ "verbs": rule.verbs, "nonResourceURLs": rule.non_resource_urls }));
        }
    }
    Ok(json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    }))
}

fn user_json(user: &UserInfo) -> Value {
    let mut out = Map::new();
    out.insert("username".into(), json!(user.name));
    if !user.uid.is_empty() {
        out.insert("uid".into(), json!(user.uid));
    }
    out.insert("groups".into(), json!(user.groups));
    if !user.extra.is_empty() {
        out.insert("extra".into(), json!(user.extra));
    }
    Value::Object(out)
}

/// `status` of a TokenReview.
fn token_review(state: &AppState, snapshot: &ordinal_store::Snapshot, object: &Value) -> Value {
    let token = object["spec"]["token"].as_str().unwrap_or_default();
    match state.auth.authenticate(token, snapshot) {
        Some(user) => json!({
            "authenticated": true,
            "user": user_json(&user),
            "audiences": [tokens::ISSUER],
        }),
        None => json!({ "user": {}, "error": "[invalid bearer token, token lookup failed]" }),
    }
}

/// Issues a token for the ServiceAccount the URL names: the defaulted spec
/// and the status.
fn token_request(
    state: &AppState,
    snapshot: &ordinal_store::Snapshot,
    target: &Target,
    object: &Value,
) -> ApiResult<(Value, Value)> {
    let namespace = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone().unwrap_or_default();
    let accounts = target.resource;
    let account: Value = snapshot
        .get(&accounts.key(Some(&namespace), &name))
        .and_then(|o| serde_json::from_slice(&o.bytes).ok())
        .ok_or_else(|| ApiError::not_found(accounts, &name))?;
    let spec = &object["spec"];
    let expiration = spec["expirationSeconds"]
        .as_i64()
        .unwrap_or(tokens::DEFAULT_EXPIRATION);
    let mut errors = Vec::new();
    if expiration < tokens::MIN_EXPIRATION {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            expiration,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > 1 << 32 {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            expiration,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let audiences: Vec<String> = spec["audiences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut pod = None;
    let bound = spec.get("boundObjectRef").filter(|v| v.is_object());
    if let Some(bound) = bound {
        let kind = text(bound, "kind");
        let bound_name = text(bound, "name");
        match kind.as_str() {
            "Pod" => {
                let found: Option<Value> = snapshot
                    .get(&resources::PODS.key(Some(&namespace), &bound_name))
                    .and_then(|o| serde_json::from_slice(&o.bytes).ok());
                let Some(found) = found else {
                    return Err(ApiError::not_found(&resources::PODS, &bound_name));
                };
                let uid = text(&found["metadata"], "uid");
                let want = text(bound, "uid");
                if !want.is_empty() && want != uid {
                    return Err(ApiError::conflict(
                        &resources::PODS,
                        &bound_name,
                        &format!(
                            "the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
                        ),
                    ));
                }
                pod = Some((bound_name, uid));
            }
            other => errors.push(FieldError::not_supported(
                "spec.boundObjectRef.kind",
                other,
                &["Pod"],
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_kind(
            AUTHENTICATION,
            "TokenRequest",
            &name,
            causes(&errors),
        ));
    }
    let binding = Binding {
        namespace: namespace.clone(),
        name: name.clone(),
        uid: text(&account["metadata"], "uid"),
        pod,
    };
    let (token, exp) = state.auth.signer.issue(&binding, &audiences, expiration);
    let expires = jiff::Timestamp::from_second(exp)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    let mut spec = spec.as_object().cloned().unwrap_or_default();
    spec.insert(
        "audiences".into(),
        json!(if audiences.is_empty() {
            vec![tokens::ISSUER.to_string()]
        } else {
            audiences
        }),
    );
    spec.insert("expirationSeconds".into(), json!(expiration));
    if spec.get("boundObjectRef") == Some(&Value::Null) {
        spec.remove("boundObjectRef");
    }
    Ok((
        Value::Object(spec),
        json!({ "token": token, "expirationTimestamp": expires }),
    ))
}
