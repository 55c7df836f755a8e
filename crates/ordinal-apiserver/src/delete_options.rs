//! `DeleteOptions`: read from a DELETE's body (JSON, YAML or protobuf) or,
//! when it has none, from its query, and validated with upstream's
//! messages.

use http::HeaderMap;
use serde_json::Value;

use crate::decode;
use crate::negotiate::{self, BodyType};
use crate::protobuf;
use crate::request::Query;
use crate::status::{ApiError, ApiResult, Cause, Details};

/// `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

/// The `DeleteOptions` of one request, from its body or its query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    /// The deprecated `orphanDependents`.
    pub orphan_dependents: Option<bool>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

/// An `Invalid` error about the DeleteOptions themselves, as upstream's
/// handler reports it (`DeleteOptions.meta.k8s.io "" is invalid: ...`).
fn invalid_options(field: &str, message: String) -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("DeleteOptions.meta.k8s.io \"\" is invalid: {field}: {message}"),
        details: Box::new(Details {
            name: Some(String::new()),
            group: Some("meta.k8s.io".into()),
            kind: Some("DeleteOptions".into()),
            causes: vec![Cause {
                reason: if message.starts_with("Unsupported value") {
                    "FieldValueNotSupported".into()
                } else {
                    "FieldValueInvalid".into()
                },
                message,
                field: field.into(),
            }],
            retry_after_seconds: None,
        }),
    }
}

fn parse_propagation(raw: &str) -> ApiResult<Propagation> {
    match raw {
        "Orphan" => Ok(Propagation::Orphan),
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        other => Err(invalid_options(
            "propagationPolicy",
            format!(
                "Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ),
        )),
    }
}

fn decode_failure(message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: {message}"
    ))
}

/// The body of a DELETE as JSON, whatever encoding it came in.
fn body_json(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Value> {
    let value = match negotiate::body_type(headers)? {
        BodyType::Protobuf => protobuf::decode(bytes).map_err(decode_failure)?,
        other => decode::parse_body(bytes, other.format()).map_err(decode_failure)?,
    };
    if !value.is_object() {
        return Err(decode_failure("the body must be a JSON object"));
    }
    Ok(value)
}

/// Reads DeleteOptions as upstream's handler does: from the body when there
/// is one, from the query otherwise; then validates them.
pub fn parse_options(query: &Query, headers: &HeaderMap, bytes: &[u8]) -> ApiResult<DeleteOptions> {
    let mut opts = DeleteOptions::default();
    let mut dry_run: Vec<String> = Vec::new();
    let policy: Option<String>;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        opts.grace_period_seconds = query.integer("gracePeriodSeconds")?;
        policy = query.get("propagationPolicy").map(str::to_string);
        if query.get("orphanDependents").is_some_and(|v| !v.is_empty()) {
            opts.orphan_dependents = Some(query.flag("orphanDependents")?);
        }
        if let Some(d) = query.get("dryRun").filter(|d| !d.is_empty()) {
            dry_run.push(d.to_string());
        }
    } else {
        let body = body_json(headers, bytes)?;
        let typed: k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions =
            serde_json::from_value(body).map_err(decode_failure)?;
        opts.grace_period_seconds = typed.grace_period_seconds;
        policy = typed.propagation_policy;
        opts.orphan_dependents = typed.orphan_dependents;
        dry_run = typed.dry_run.unwrap_or_default();
        if let Some(pre) = typed.preconditions {
            opts.uid = pre.uid;
            opts.resource_version = pre.resource_version;
        }
    }
    if opts.orphan_dependents.is_some()
        && let Some(p) = &policy
    {
        return Err(invalid_options(
            "propagationPolicy",
            format!(
                "Invalid value: \"{p}\": orphanDependents and deletionPropagation cannot be both set"
            ),
        ));
    }
    opts.propagation = policy.as_deref().map(parse_propagation).transpose()?;
    if dry_run.iter().any(|d| d.as_str() != "All") {
        let listed: Vec<String> = dry_run.iter().map(|d| format!("{d:?}")).collect();
        return Err(invalid_options(
            "dryRun",
            format!(
                "Unsupported value: []string{{{}}}: supported values: \"All\"",
                listed.join(", ")
            ),
        ));
    }
    opts.dry_run = !dry_run.is_empty();
    // Upstream treats a negative grace period as one second.
    if let Some(g) = opts.grace_period_seconds
        && g < 0
    {
        opts.grace_period_seconds = Some(1);
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_query_and_body() {
        let h = HeaderMap::new();
        let q = Query::parse(Some("gracePeriodSeconds=-5&propagationPolicy=Foreground"));
        let o = parse_options(&q, &h, b"").unwrap();
        assert_eq!(o.grace_period_seconds, Some(1));
        assert_eq!(o.propagation, Some(Propagation::Foreground));
        let body = br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan","preconditions":{"uid":"u"},"dryRun":["All"]}"#;
        let o = parse_options(&Query::default(), &h, body).unwrap();
        assert_eq!(o.propagation, Some(Propagation::Orphan));
        assert_eq!(o.uid.as_deref(), Some("u"));
        assert!(o.dry_run);
        let err = parse_options(
            &Query::default(),
            &h,
            br#"{"propagationPolicy":"Sideways"}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        );
        let err = parse_options(
            &Query::default(),
            &h,
            br#"{"propagationPolicy":"Orphan","orphanDependents":true}"#,
        )
        .unwrap_err();
        assert_eq!(err.code, 422);
        let err =
            parse_options(&Query::default(), &h, br#"{"gracePeriodSeconds":"x"}"#).unwrap_err();
        assert_eq!(err.code, 400);
        let err = parse_options(&Query::parse(Some("dryRun=Some")), &h, b"").unwrap_err();
        assert_eq!(err.code, 422);
    }
}
