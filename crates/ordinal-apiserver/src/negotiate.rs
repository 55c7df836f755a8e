//! Content negotiation: which form a client asked for (plain JSON, YAML, a
//! Table, or metadata only) and which form its request body is in.

use http::HeaderMap;
use http::header::{ACCEPT, CONTENT_TYPE};

use crate::decode::Format;
use crate::status::{ApiError, ApiResult};

/// What `includeObject` asks a Table row to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// The representation of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
    /// `as=Table;g=meta.k8s.io;v=v1` (kubectl get).
    Table(IncludeObject),
    /// `as=PartialObjectMetadata` (metadata-only clients such as the GC).
    Metadata,
}

/// Picks the first acceptable representation in the Accept header's order.
pub fn output(headers: &HeaderMap, include_object: Option<&str>) -> ApiResult<Output> {
    let accept = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if accept.is_empty() {
        return Ok(Output::Json);
    }
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut as_kind = None;
        let mut group = None;
        for param in parts {
            if let Some((k, v)) = param.split_once('=') {
                match k.trim() {
                    "as" => as_kind = Some(v.trim().to_string()),
                    "g" => group = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        let json_like = matches!(
            media.as_str(),
            "application/json" | "application/*" | "*/*" | "application/yaml"
        );
        if !json_like {
            continue;
        }
        match (as_kind.as_deref(), group.as_deref()) {
            (Some("Table"), Some("meta.k8s.io") | None) => {
                let include = match include_object {
                    Some("None") => IncludeObject::None,
                    Some("Object") => IncludeObject::Object,
                    Some("Metadata") | None | Some("") => IncludeObject::Metadata,
                    Some(other) => {
                        return Err(ApiError::bad_request(format!(
                            "includeObject: unsupported value \"{other}\""
                        )));
                    }
                };
                return Ok(Output::Table(include));
            }
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), _) => {
                return Ok(Output::Metadata);
            }
            (Some(_), _) => continue,
            (None, _) if media == "application/yaml" => return Ok(Output::Yaml),
            (None, _) => return Ok(Output::Json),
        }
    }
    Err(ApiError::not_acceptable(accept))
}

/// The kind of body a write request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
    /// `application/vnd.kubernetes.protobuf`: what kubectl's typed clients
    /// send for built-in kinds.
    Protobuf,
}

impl BodyType {
    pub fn format(self) -> Format {
        match self {
            BodyType::Yaml | BodyType::ApplyPatch => Format::Yaml,
            _ => Format::Json,
        }
    }
}

/// Reads the Content-Type of a request body.
pub fn body_type(headers: &HeaderMap) -> ApiResult<BodyType> {
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Ok(match media.as_str() {
        "" | "application/json" => BodyType::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => BodyType::Yaml,
        "application/json-patch+json" => BodyType::JsonPatch,
        "application/merge-patch+json" => BodyType::MergePatch,
        "application/strategic-merge-patch+json" => BodyType::StrategicMergePatch,
        "application/apply-patch+yaml" => BodyType::ApplyPatch,
        "application/vnd.kubernetes.protobuf" => BodyType::Protobuf,
        _ => return Err(ApiError::unsupported_media_type(raw)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn kubectl_get_asks_for_a_table() {
        let h = accept(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        );
        assert_eq!(
            output(&h, None).unwrap(),
            Output::Table(IncludeObject::Metadata)
        );
        assert_eq!(
            output(&h, Some("Object")).unwrap(),
            Output::Table(IncludeObject::Object)
        );
    }

    #[test]
    fn plain_and_metadata_and_unacceptable() {
        assert_eq!(output(&HeaderMap::new(), None).unwrap(), Output::Json);
        assert_eq!(
            output(&accept("application/json"), None).unwrap(),
            Output::Json
        );
        assert_eq!(output(&accept("*/*"), None).unwrap(), Output::Json);
        assert_eq!(
            output(&accept("application/yaml"), None).unwrap(),
            Output::Yaml
        );
        assert_eq!(
            output(
                &accept("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
                None
            )
            .unwrap(),
            Output::Metadata
        );
        assert_eq!(
            output(&accept("application/vnd.kubernetes.protobuf"), None)
                .unwrap_err()
                .code,
            406
        );
    }

    #[test]
    fn body_types() {
        let mut h = HeaderMap::new();
        assert_eq!(body_type(&h).unwrap(), BodyType::Json);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/strategic-merge-patch+json"),
        );
        assert_eq!(body_type(&h).unwrap(), BodyType::StrategicMergePatch);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(body_type(&h).unwrap_err().code, 415);
    }
}
