//! Object name, label and annotation validation, with upstream's messages.
//!
//! The rules and the message texts follow apimachinery's
//! `pkg/util/validation` (DNS-1123 label and subdomain, DNS-1035 label,
//! qualified names, label values), `pkg/api/validation` (object meta,
//! annotations, path-segment names) and the per-kind `ValidateNameFunc`
//! choices of `pkg/apis/*/validation`. Field errors render as
//! `field.Error` does (`metadata.name: Invalid value: "Foo_Bar": ...`), and
//! carry the `FieldValue*` reason the server puts into a 422 Status cause.

use std::fmt;

/// The kinds of field error upstream distinguishes (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorKind {
    /// The Status cause `reason` (`metav1.CauseType`): `FieldValueInvalid`.
    pub fn reason(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "FieldValueNotFound",
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Duplicate => "FieldValueDuplicate",
            ErrorKind::Invalid => "FieldValueInvalid",
            ErrorKind::NotSupported => "FieldValueNotSupported",
            ErrorKind::Forbidden => "FieldValueForbidden",
            ErrorKind::TooLong => "FieldValueTooLong",
            ErrorKind::TooMany => "FieldValueTooMany",
            ErrorKind::Internal => "InternalError",
            ErrorKind::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human text of the kind: `Invalid value`.
    pub fn text(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "Not found",
            ErrorKind::Required => "Required value",
            ErrorKind::Duplicate => "Duplicate value",
            ErrorKind::Invalid => "Invalid value",
            ErrorKind::NotSupported => "Unsupported value",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::TooLong => "Too long",
            ErrorKind::TooMany => "Too many",
            ErrorKind::Internal => "Internal error",
            ErrorKind::TypeInvalid => "Invalid value",
        }
    }
}

/// The offending value of a field error, rendered as Go's `field.Error` does.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// No value is printed (`field.Required`, `field.Forbidden`, …).
    Omit,
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Already rendered (e.g. Go's `%#v` of a slice: `[]string{"a"}`).
    Raw(String),
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue::Str(s.to_string())
    }
}
impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue::Str(s)
    }
}
impl From<i64> for BadValue {
    fn from(v: i64) -> Self {
        BadValue::Int(v)
    }
}
impl From<i32> for BadValue {
    fn from(v: i32) -> Self {
        BadValue::Int(v.into())
    }
}
impl From<bool> for BadValue {
    fn from(v: bool) -> Self {
        BadValue::Bool(v)
    }
}

impl BadValue {
    /// Go's `%#v` of a `[]string`.
    pub fn string_slice(values: &[String]) -> BadValue {
        let inner: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
        BadValue::Raw(format!("[]string{{{}}}", inner.join(", ")))
    }

    /// A JSON value as the bad value (strings quoted, numbers plain).
    pub fn from_json(v: &serde_json::Value) -> BadValue {
        match v {
            serde_json::Value::Null => BadValue::Null,
            serde_json::Value::Bool(b) => BadValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => BadValue::Int(i),
                None => BadValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            serde_json::Value::String(s) => BadValue::Str(s.clone()),
            other => BadValue::Raw(other.to_string()),
        }
    }
}

/// One validation error on one field, as upstream's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: ErrorKind,
    /// The field path: `metadata.name`, `spec.template.spec.containers[0].image`.
    pub field: String,
    pub value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        kind: ErrorKind,
        field: impl Into<String>,
        value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(ErrorKind::Invalid, field, value.into(), detail)
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Required, field, BadValue::Omit, detail)
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, field, BadValue::Omit, detail)
    }

    pub fn not_found(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(ErrorKind::NotFound, field, value.into(), "")
    }

    pub fn duplicate(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(ErrorKind::Duplicate, field, value.into(), "")
    }

    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, field, BadValue::Omit, detail)
    }

    /// `field.NotSupported`: `Unsupported value: "x": supported values: "a", "b"`.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        valid: &[&str],
    ) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorKind::NotSupported, field, value.into(), detail)
    }

    /// `field.TooLong`: `Too long: may not be more than 63 bytes`.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        Self::new(
            ErrorKind::TooLong,
            field,
            BadValue::Omit,
            format!("may not be more than {max_bytes} {unit}"),
        )
    }

    /// `field.TooMany`: `Too many: 5: must have at most 3 items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        Self::new(
            ErrorKind::TooMany,
            field,
            BadValue::Int(actual as i64),
            format!("must have at most {max} {unit}"),
        )
    }

    /// The Status cause reason: `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// Upstream's `ErrorBody()`: the message without the field path, which
    /// is what a Status cause carries as `message`.
    pub fn body(&self) -> String {
        let mut s = match self.kind {
            ErrorKind::Required
            | ErrorKind::Forbidden
            | ErrorKind::TooLong
            | ErrorKind::Internal => self.kind.text().to_string(),
            _ => match &self.value {
                BadValue::Omit => self.kind.text().to_string(),
                BadValue::Null => format!("{}: null", self.kind.text()),
                BadValue::Str(v) => format!("{}: {}", self.kind.text(), go_quote(v)),
                BadValue::Int(v) => format!("{}: {v}", self.kind.text()),
                BadValue::Float(v) => format!("{}: {v}", self.kind.text()),
                BadValue::Bool(v) => format!("{}: {v}", self.kind.text()),
                BadValue::Raw(v) => format!("{}: {v}", self.kind.text()),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Go's `utilerrors.NewAggregate(errs).Error()`: one message as is, several
/// as `[a, b]`, duplicates removed.
pub fn aggregate_message(errs: &[FieldError]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut msgs = Vec::new();
    for e in errs {
        let m = e.to_string();
        if seen.insert(m.clone()) {
            msgs.push(m);
        }
    }
    match msgs.len() {
        0 => String::new(),
        1 => msgs.remove(0),
        _ => format!("[{}]", msgs.join(", ")),
    }
}

/// The message of upstream's 422 Invalid Status:
/// `StatefulSet.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`.
/// `qualified_kind` is `Kind` for the core group and `Kind.group` otherwise.
#[cfg(test)]
pub fn invalid_message(qualified_kind: &str, name: &str, errs: &[FieldError]) -> String {
    if errs.is_empty() {
        format!("{qualified_kind} {} is invalid", go_quote(name))
    } else {
        format!(
            "{qualified_kind} {} is invalid: {}",
            go_quote(name),
            aggregate_message(errs)
        )
    }
}

/// Go's `strconv.Quote`, used wherever upstream formats with `%q`.
pub fn go_quote(s: &str) -> String {
    ordinal_core::go_text::quote(s)
}

// ---------------------------------------------------------------------------
// apimachinery pkg/util/validation

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;
pub const DNS1123_SUBDOMAIN_MAX_LENGTH: usize = 253;
pub const DNS1035_LABEL_MAX_LENGTH: usize = 63;
pub const QUALIFIED_NAME_MAX_LENGTH: usize = 63;
pub const LABEL_VALUE_MAX_LENGTH: usize = 63;
/// Upstream's `TotalAnnotationSizeLimitB`: 256 KiB over all keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// `validation.EmptyError()`.
pub fn empty_error() -> String {
    "must be non-empty".to_string()
}

/// `validation.MaxLenError(n)`.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `validation.RegexError(msg, fmt, examples...)`, including its odd
/// `'a',  or 'b'` spacing.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?` exactly.
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(matches_dns1123_label)
}

fn matches_dns1035_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b[0].is_ascii_lowercase() && matches_dns1123_label(s)
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| is_alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

/// `validation.IsDNS1123Label`.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `validation.IsDNS1123Subdomain`.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `validation.IsDNS1035Label`.
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1035_LABEL_MAX_LENGTH {
        errs.push(max_len_error(DNS1035_LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `validation.IsQualifiedName`: label keys, annotation keys, finalizers.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push(format!("prefix part {}", empty_error()));
            } else {
                for m in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push(format!("name part {}", empty_error()));
    } else if name.len() > QUALIFIED_NAME_MAX_LENGTH {
        errs.push(format!(
            "name part {}",
            max_len_error(QUALIFIED_NAME_MAX_LENGTH)
        ));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `validation.IsValidLabelValue`.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LENGTH {
        errs.push(max_len_error(LABEL_VALUE_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

// ---------------------------------------------------------------------------
// Per-resource name rules

/// Which `ValidateNameFunc` upstream applies to a resource's names (its
/// strategy says). Persistent volumes and claims are DNS subdomains too
/// (upstream's `ValidatePersistentVolumeName` is `NameIsDNSSubdomain`, and
/// claims use it as well); the provisioner builds directory names from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: most objects.
    Dns1123Subdomain,
    /// `NameIsDNSLabel`: namespaces.
    Dns1123Label,
    /// `NameIsDNS1035Label`: services.
    Dns1035Label,
    /// `path.ValidatePathSegmentName`: anything that can be one URL path
    /// segment (RBAC roles and bindings, whose names hold `:` as in
    /// `system:node`).
    PathSegment,
}

/// Upstream's `maskTrailingDash`: a generateName prefix may end in `-`, so
/// the last two characters are replaced with `a` before validating.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        // `-` is one byte, so len-2 is a char boundary only if the char
        // before the dash is one byte too; mirror Go's byte slicing safely.
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            return format!("{}a", &name[..cut]);
        }
        // A multi-byte character before the dash: keep it (the name is
        // invalid either way, as upstream's byte slicing makes it).
        return format!("{}a", &name[..name.len() - 1]);
    }
    name.to_string()
}

fn apply_rule(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    match rule {
        NameRule::Dns1123Subdomain => {
            if prefix {
                is_dns1123_subdomain(&mask_trailing_dash(name))
            } else {
                is_dns1123_subdomain(name)
            }
        }
        NameRule::Dns1123Label => {
            if prefix {
                is_dns1123_label(&mask_trailing_dash(name))
            } else {
                is_dns1123_label(name)
            }
        }
        NameRule::Dns1035Label => {
            if prefix {
                is_dns1035_label(&mask_trailing_dash(name))
            } else {
                is_dns1035_label(name)
            }
        }
        NameRule::PathSegment => path_segment_errors(name, prefix),
    }
}

/// `path.IsValidPathSegmentName` (`prefix`: `IsValidPathSegmentPrefix`,
/// which allows a prefix to be `.` or `..`): a name must not be `.` or
/// `..` and must not contain `/` or `%`.
pub fn path_segment_errors(name: &str, prefix: bool) -> Vec<String> {
    if !prefix && let Some(bad) = [".", ".."].into_iter().find(|b| *b == name) {
        return vec![format!("may not be '{bad}'")];
    }
    ["/", "%"]
        .into_iter()
        .filter(|bad| name.contains(bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// The problems with `name` as the name of an object of this resource, as
/// upstream's messages (empty when valid). An empty name is not checked here:
/// see [`validate_object_meta`] for the "name or generateName is required"
/// rule.
pub fn validate_name(rule: NameRule, name: &str) -> Vec<String> {
    apply_rule(rule, name, false)
}

/// The problems with a `generateName` prefix (validated as upstream does:
/// a trailing `-` is allowed).
pub fn validate_generate_name(rule: NameRule, prefix: &str) -> Vec<String> {
    apply_rule(rule, prefix, true)
}

/// The problems with a namespace name (`ValidateNamespaceName`).
pub fn validate_namespace_name(name: &str) -> Vec<String> {
    is_dns1123_label(name)
}

/// `ValidateLabelName`: a label key.
pub fn validate_label_key(key: &str, field: &str) -> Vec<FieldError> {
    is_qualified_name(key)
        .into_iter()
        .map(|m| FieldError::invalid(field, key, m))
        .collect()
}

/// A label value (errors reported on the labels field, as upstream does).
pub fn validate_label_value(value: &str, field: &str) -> Vec<FieldError> {
    is_valid_label_value(value)
        .into_iter()
        .map(|m| FieldError::invalid(field, value, m))
        .collect()
}

/// `ValidateLabels`: every key and value; errors on `field` itself
/// (`metadata.labels`), not per key.
pub fn validate_labels<'a>(
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    field: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        errs.extend(validate_label_key(k, field));
        errs.extend(validate_label_value(v, field));
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive) and
/// the total size of keys and values is at most 256 KiB.
pub fn validate_annotations<'a>(
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    field: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(field, k, m));
        }
        total = total.saturating_add(k.len()).saturating_add(v.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn string_pairs(v: Option<&serde_json::Value>) -> Vec<(&str, &str)> {
    match v {
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The object-meta checks of upstream's `ValidateObjectMeta` that concern
/// input shape: `generateName`, `name` (required unless generateName is set
/// — callers generate the name before validating, as upstream does),
/// `namespace` (required and a DNS label for namespaced resources, forbidden
/// otherwise), `generation`, `labels` and `annotations`. `meta` is the
/// object's `metadata` value; paths are reported under `metadata.`.
pub fn validate_object_meta(
    rule: NameRule,
    namespaced: bool,
    meta: &serde_json::Value,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let get_str = |k: &str| meta.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let generate_name = get_str("generateName");
    if !generate_name.is_empty() {
        for m in validate_generate_name(rule, generate_name) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                generate_name,
                m,
            ));
        }
    }
    let name = get_str("name");
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for m in validate_name(rule, name) {
            errs.push(FieldError::invalid("metadata.name", name, m));
        }
    }
    let namespace = get_str("namespace");
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            for m in validate_namespace_name(namespace) {
                errs.push(FieldError::invalid("metadata.namespace", namespace, m));
            }
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(
            "metadata.namespace",
            "not allowed on this type",
        ));
    }
    if let Some(g) = meta.get("generation").and_then(|v| v.as_i64())
        && g < 0
    {
        errs.push(FieldError::invalid(
            "metadata.generation",
            g,
            "must be greater than or equal to 0",
        ));
    }
    errs.extend(validate_labels(
        string_pairs(meta.get("labels")),
        "metadata.labels",
    ));
    errs.extend(validate_annotations(
        string_pairs(meta.get("annotations")),
        "metadata.annotations",
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name rule the served resource `group`/`plural` validates with.
    pub(super) fn rule(group: &str, plural: &str) -> NameRule {
        crate::resources::RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .expect("served")
            .strategy
            .name_rule()
    }

    const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn subdomain_names_for_pods_and_statefulsets() {
        assert!(validate_name(rule("", "pods"), "web-0").is_empty());
        assert!(validate_name(rule("apps", "statefulsets"), "web.v2").is_empty());
        assert_eq!(
            validate_name(rule("", "pods"), "Foo_Bar"),
            vec![SUBDOMAIN_MSG]
        );
        assert_eq!(
            validate_name(rule("", "configmaps"), "-a"),
            vec![SUBDOMAIN_MSG]
        );
        assert_eq!(
            validate_name(rule("", "configmaps"), "a..b"),
            vec![SUBDOMAIN_MSG]
        );
        let long = "a".repeat(254);
        assert_eq!(
            validate_name(rule("", "secrets"), &long),
            vec!["must be no more than 253 characters".to_string()]
        );
    }

    #[test]
    fn namespaces_are_labels_and_say_no_dots() {
        assert!(validate_name(rule("", "namespaces"), "kube-system").is_empty());
        assert_eq!(
            validate_name(rule("", "namespaces"), "a.b"),
            vec!["must not contain dots"]
        );
        assert_eq!(
            validate_name(rule("", "namespaces"), "A"),
            vec![
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
        assert_eq!(
            validate_name(rule("", "namespaces"), &"a".repeat(64)),
            vec!["must be no more than 63 characters"]
        );
    }

    #[test]
    fn services_are_dns1035_labels() {
        assert!(validate_name(rule("", "services"), "web").is_empty());
        assert_eq!(
            validate_name(rule("", "services"), "1web"),
            vec![
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            ]
        );
    }

    #[test]
    fn volumes_and_claims_are_dns_subdomains() {
        assert!(validate_name(rule("", "persistentvolumes"), "pvc-1.data").is_empty());
        for plural in ["persistentvolumes", "persistentvolumeclaims"] {
            for bad in ["UP", "-a", "..", "a/b", "Any_Name:1", &"a".repeat(254)] {
                assert!(
                    !validate_name(rule("", plural), bad).is_empty(),
                    "{plural} {bad}"
                );
            }
            assert_eq!(
                validate_name(rule("", plural), &"a".repeat(254)),
                vec!["must be no more than 253 characters"]
            );
        }
    }

    #[test]
    fn generate_name_allows_a_trailing_dash() {
        assert!(validate_generate_name(rule("apps", "statefulsets"), "web-").is_empty());
        assert!(validate_generate_name(rule("", "services"), "svc-").is_empty());
        assert_eq!(
            validate_generate_name(rule("", "pods"), "Web-"),
            vec![SUBDOMAIN_MSG]
        );
        assert!(validate_generate_name(rule("", "persistentvolumes"), "x-").is_empty());
        // Multi-byte characters before the dash do not panic.
        assert!(!validate_generate_name(rule("", "pods"), "é-").is_empty());
    }

    #[test]
    fn field_error_renders_like_upstream() {
        let e = FieldError::invalid("metadata.name", "Foo_Bar", SUBDOMAIN_MSG);
        assert_eq!(
            e.to_string(),
            format!("metadata.name: Invalid value: \"Foo_Bar\": {SUBDOMAIN_MSG}")
        );
        assert_eq!(e.reason(), "FieldValueInvalid");
        let r = FieldError::required("metadata.name", "name or generateName is required");
        assert_eq!(
            r.to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(
            FieldError::required("metadata.namespace", "").to_string(),
            "metadata.namespace: Required value"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT).to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::not_supported("spec.type", "Foo", &["ClusterIP", "NodePort"]).body(),
            "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"NodePort\""
        );
        assert_eq!(
            FieldError::invalid("spec.replicas", -1i64, "must be greater than or equal to 0")
                .to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(go_quote("a\"b\n\u{1}"), "\"a\\\"b\\n\\x01\"");
    }

    #[test]
    fn invalid_status_message_aggregates() {
        let errs = vec![
            FieldError::invalid("metadata.name", "A", "x"),
            FieldError::invalid("metadata.name", "A", "x"),
            FieldError::required("spec.selector", ""),
        ];
        assert_eq!(
            invalid_message("StatefulSet.apps", "A", &errs),
            "StatefulSet.apps \"A\" is invalid: [metadata.name: Invalid value: \"A\": x, spec.selector: Required value]"
        );
        assert_eq!(
            invalid_message("Pod", "p", &errs[..1]),
            "Pod \"p\" is invalid: metadata.name: Invalid value: \"A\": x"
        );
    }

    #[test]
    fn qualified_names_and_label_values() {
        assert!(is_qualified_name("app.kubernetes.io/name").is_empty());
        assert!(is_qualified_name("MyName").is_empty());
        assert_eq!(
            is_qualified_name("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert_eq!(is_qualified_name("a/b/c").len(), 1);
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist of"));
        assert_eq!(
            is_qualified_name("a_"),
            vec![
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert!(is_valid_label_value("").is_empty());
        assert!(is_valid_label_value("my_value").is_empty());
        assert_eq!(is_valid_label_value("bad value").len(), 1);
        assert_eq!(is_valid_label_value(&"a".repeat(64)).len(), 1);
    }

    #[test]
    fn object_meta_checks() {
        let meta = serde_json::json!({
            "name": "Web",
            "labels": {"app": "web", "bad key": "ok", "k": "bad value"},
            "annotations": {"Example.com/Note": "fine"},
        });
        let errs = validate_object_meta(rule("apps", "statefulsets"), true, &meta);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.name",
                "metadata.namespace",
                "metadata.labels",
                "metadata.labels"
            ]
        );
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let meta = serde_json::json!({"name": "a", "annotations": {"k": big}});
        let errs = validate_object_meta(rule("", "persistentvolumes"), false, &meta);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, ErrorKind::TooLong);
        let meta = serde_json::json!({"name": "a", "namespace": "default"});
        let errs = validate_object_meta(rule("", "nodes"), false, &meta);
        assert_eq!(
            errs[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        let meta = serde_json::json!({"generateName": "web-", "namespace": "default"});
        let errs = validate_object_meta(rule("", "pods"), true, &meta);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].kind, ErrorKind::Required);
    }
}

#[cfg(test)]
mod proptests {
    use super::tests::rule;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn name_validation_never_panics(s in ".{0,300}") {
            for plural in ["pods", "namespaces", "services", "persistentvolumes"] {
                let _ = validate_name(rule("", plural), &s);
                let _ = validate_generate_name(rule("", plural), &s);
            }
            let _ = is_qualified_name(&s);
            let _ = is_valid_label_value(&s);
            let _ = go_quote(&s);
        }

        #[test]
        fn valid_subdomains_are_accepted(s in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z0-9]{1,5}){0,3}") {
            prop_assert!(validate_name(rule("", "pods"), &s).is_empty());
        }
    }
}
