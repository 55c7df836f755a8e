//! Building blocks shared by the per-type validators: field paths, the
//! generic checks of `pkg/apis/core/validation` (non-negative numbers,
//! immutable fields, ports, IPs, label selectors), and Go's `%#v` rendering
//! of the values upstream puts into messages.

use serde_json::{Map, Value};

use crate::lenient;
use crate::names::{self, BadValue, FieldError, go_quote};
use crate::selector;

/// A field path as upstream prints it: `spec.containers[0].ports[1].name`,
/// map keys as `spec.resources[storage]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Path {
        Path(root.to_string())
    }

    pub fn child(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }

    pub fn key(&self, key: &str) -> Path {
        Path(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Path> for String {
    fn from(p: Path) -> String {
        p.0
    }
}

impl From<&Path> for String {
    fn from(p: &Path) -> String {
        p.0.clone()
    }
}

/// `validation.InclusiveRangeError(1, 65535)` and friends.
pub const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
pub const NON_NEGATIVE: &str = "must be greater than or equal to 0";
pub const IMMUTABLE: &str = "field is immutable";
pub const IP_ERROR: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";

/// `ValidateNonnegativeField` of an optional integer field.
pub fn non_negative(v: &Value, key: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if let Some(n) = lenient::int(v, key)
        && n < 0
    {
        errs.push(FieldError::invalid(path.child(key), n, NON_NEGATIVE));
    }
}

/// `ValidateImmutableField`: `<path>: Invalid value: <new>: field is immutable`.
pub fn immutable(new: Option<&Value>, old: Option<&Value>, path: &Path) -> Option<FieldError> {
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    let (n, o) = (norm(new), norm(old));
    (n != o).then(|| {
        FieldError::invalid(
            path,
            n.as_ref()
                .map(BadValue::from_json)
                .unwrap_or(BadValue::Null),
            IMMUTABLE,
        )
    })
}

/// The messages of `validation.IsValidPortNum`.
pub fn port_num_errors(n: i64) -> Option<&'static str> {
    (!(1..=65535).contains(&n)).then_some(PORT_RANGE)
}

/// `validation.IsValidPortName` (an IANA service name).
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push(names::max_len_error(15));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.is_empty()
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `ValidatePortNumOrName` of an int-or-string port.
pub fn port_num_or_name(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    match v {
        Some(Value::String(name)) => {
            for m in port_name_errors(name) {
                errs.push(FieldError::invalid(path, name.as_str(), m));
            }
        }
        Some(Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(0);
            if let Some(m) = port_num_errors(n) {
                errs.push(FieldError::invalid(path, n, m));
            }
        }
        None | Some(Value::Null) => errs.push(FieldError::invalid(path, 0i64, PORT_RANGE)),
        Some(other) => errs.push(FieldError::invalid(
            path,
            BadValue::from_json(other),
            "must be an integer or a port name",
        )),
    }
}

/// `ValidateDNS1123Label`.
pub fn dns_label(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    for m in names::is_dns1123_label(value) {
        errs.push(FieldError::invalid(path, value, m));
    }
}

/// `ValidateDNS1123Subdomain`.
pub fn dns_subdomain(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    for m in names::is_dns1123_subdomain(value) {
        errs.push(FieldError::invalid(path, value, m));
    }
}

/// Whether `s` is an IP address as Go's `net.ParseIP` reads one.
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// `IsValidIP`.
pub fn ip(value: &str, path: &Path, errs: &mut Vec<FieldError>) {
    if !is_ip(value) {
        errs.push(FieldError::invalid(path, value, IP_ERROR));
    }
}

/// `(key, value)` pairs of a string map.
pub fn string_pairs(v: Option<&Value>) -> Vec<(&str, &str)> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.as_str(), s)))
                .collect()
        })
        .unwrap_or_default()
}

/// `ValidateLabels` of a label map at `path`.
pub fn labels(v: Option<&Value>, path: &Path, errs: &mut Vec<FieldError>) {
    errs.extend(names::validate_labels(string_pairs(v), path.as_str()));
}

/// Go's `%#v` of a `map[string]string` (keys sorted, as Go prints them).
pub fn go_string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().map(go_quote).unwrap_or_else(|| v.to_string());
                    format!("{}:{v}", go_quote(k))
                })
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a `[]string`, `nil` when absent.
pub fn go_string_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|s| s.as_str().map(go_quote).unwrap_or_else(|| s.to_string()))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// Go's `%#v` of a `metav1.LabelSelector`.
pub fn go_label_selector(v: &Value) -> String {
    let expressions = match v.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(lenient::string(e, "key")),
                        go_quote(lenient::string(e, "operator")),
                        go_string_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(v.get("matchLabels"))
    )
}

/// `ValidateLabelSelector` (strict: label values must be valid).
pub fn label_selector(sel: &Value, path: &Path, errs: &mut Vec<FieldError>) {
    for (i, e) in lenient::list(sel, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let operator = lenient::string(e, "operator");
        let values = lenient::list(e, "values");
        match operator {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            other => errs.push(FieldError::invalid(
                p.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        let key = lenient::string(e, "key");
        errs.extend(names::validate_label_key(key, p.child("key").as_str()));
        for (j, value) in values.iter().enumerate() {
            let value = value.as_str().unwrap_or("");
            errs.extend(names::validate_label_value(
                value,
                p.child("values").index(j).as_str(),
            ));
        }
    }
    labels(sel.get("matchLabels"), &path.child("matchLabels"), errs);
}

/// The selector a `metav1.LabelSelector` value describes, if it is one.
pub fn parse_selector(sel: &Value) -> Option<selector::LabelSelector> {
    let typed: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
        serde_json::from_value(sel.clone()).ok()?;
    selector::LabelSelector::from_label_selector(&typed).ok()
}

/// `(key, value)` pairs of a label map, owned, for selector matching.
pub fn owned_pairs(v: Option<&Value>) -> Vec<(String, String)> {
    string_pairs(v)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An int-or-string in a message: Go prints `IntOrString` with `String()`,
/// i.e. without quotes.
pub fn int_or_string_value(v: &Value) -> BadValue {
    match v {
        Value::String(s) => BadValue::Raw(s.clone()),
        other => BadValue::from_json(other),
    }
}

/// The integer value of `"50%"`, if the string is a percentage.
pub fn percent(s: &str) -> Option<i64> {
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `IsValidPercent`'s message.
pub fn percent_error() -> String {
    names::regex_error(
        "a valid percent string must be a numeric string followed by an ending '%'",
        "[0-9]+%",
        &["1%", "93%"],
    )
}

/// The object at `key`, or an empty map.
pub fn obj_or_empty<'a>(v: &'a Value, key: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    lenient::obj(v, key).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// Null, missing, "" and [] and {} all mean "unset" to Go.
pub fn is_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

/// Compares two values as Go's semantic equality would after decoding:
/// unset fields (null, missing, empty) are equal to each other.
pub fn semantic_eq(a: &Value, b: &Value) -> bool {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), norm(v)))
                    .filter(|(_, v)| !is_unset(Some(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(norm).collect()),
            other => other.clone(),
        }
    }
    norm(a) == norm(b)
}
