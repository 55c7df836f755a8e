//! Request-body decoding and strict field validation.
//!
//! Bodies are parsed once into a [`serde_json::Value`] by a visitor that
//! also records duplicate keys (which `serde_json::Value` would silently
//! collapse). Field validation then decodes the body into the matching
//! k8s-openapi type through `serde_ignored`, which reports every field the
//! type does not know. The messages follow upstream's JSON serializer and
//! create/update handlers:
//!
//! - strict errors: `strict decoding error: unknown field "spec.foo",
//!   duplicate field "metadata.name"` (at most 100, deduplicated), prefixed
//!   by the handler with `StatefulSet in version "v1" cannot be handled as a
//!   StatefulSet: `;
//! - `fieldValidation=Warn`: one `299 - "unknown field \"spec.foo\""`
//!   Warning header per problem;
//! - a wrongly typed value is a 400 with the same prefix;
//! - a body that is not JSON/YAML at all: `the object provided is
//!   unrecognized (must be of type Pod): couldn't get version/kind; json
//!   parse error: ... (<first 30 bytes>)`.
//!
//! Paths are printed as upstream prints them: `spec.template.spec.containers[0].imagee`,
//! map keys as `.key`.
//!
//! Known differences: duplicate keys in YAML bodies are reported with JSON
//! paths (upstream reports YAML line numbers); YAML is read as YAML 1.2
//! (`yes` is a string) and merge keys (`<<`) are not expanded; type errors
//! carry serde's wording and position rather than Go's.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::names::go_quote;

/// The media type family of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`, merge and strategic-merge patches.
    Json,
    /// `application/yaml` and `application/apply-patch+yaml`.
    Yaml,
}

/// What went wrong decoding a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Not well-formed JSON/YAML, or not an object: upstream cannot even
    /// read the kind.
    Syntax,
    /// Well-formed, but a value has the wrong type for its field.
    Type,
}

/// A body that cannot be decoded: 400 BadRequest with [`DecodeError::message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    /// The Status message. From [`check_fields`] it is upstream's full
    /// message; from [`parse_body`] it lacks the kind framing (see
    /// [`DecodeError::for_kind`]).
    pub message: String,
    detail: String,
}

impl DecodeError {
    fn syntax(detail: String) -> Self {
        DecodeError {
            kind: DecodeErrorKind::Syntax,
            message: detail.clone(),
            detail,
        }
    }

    /// Frames a [`parse_body`] error as upstream does for a request whose
    /// target kind is `target_kind`:
    /// `the object provided is unrecognized (must be of type Pod): <detail> (<summary>)`.
    pub fn for_kind(&self, target_kind: &str, body: &[u8]) -> DecodeError {
        match self.kind {
            DecodeErrorKind::Syntax => DecodeError {
                kind: self.kind,
                message: unrecognized_message(target_kind, &self.detail, body),
                detail: self.detail.clone(),
            },
            DecodeErrorKind::Type => self.clone(),
        }
    }
}

/// Upstream's `summarizeData`: the first 30 bytes of a JSON object, or
/// their hex for anything else.
pub fn summarize_data(data: &[u8]) -> String {
    const MAX: usize = 30;
    if data.is_empty() {
        return "<empty>".to_string();
    }
    let (head, more) = if data.len() > MAX {
        (&data[..MAX], " ...")
    } else {
        (data, "")
    };
    if data[0] == b'{' {
        format!("{}{more}", String::from_utf8_lossy(head))
    } else {
        let mut s = String::with_capacity(head.len() * 2 + more.len());
        for b in head {
            let _ = write!(s, "{b:02x}");
        }
        s.push_str(more);
        s
    }
}

/// `the object provided is unrecognized (must be of type Pod): <detail> (<summary>)`.
pub fn unrecognized_message(target_kind: &str, detail: &str, body: &[u8]) -> String {
    format!(
        "the object provided is unrecognized (must be of type {target_kind}): {detail} ({})",
        summarize_data(body)
    )
}

/// A body parsed into JSON, with the paths of keys that occurred twice in
/// one object (the later value is kept, as upstream).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub value: Value,
    pub duplicates: Vec<String>,
}

/// Parses a request body (JSON, or YAML for `application/yaml` and
/// `application/apply-patch+yaml`) into JSON. Malformed input is a
/// [`DecodeErrorKind::Syntax`] error.
pub fn parse_body(body: &[u8], format: Format) -> Result<Value, DecodeError> {
    parse_tracking(body, format).map(|p| p.value)
}

/// Like [`parse_body`], also reporting duplicate keys.
pub fn parse_tracking(body: &[u8], format: Format) -> Result<Parsed, DecodeError> {
    let mut c = Collector::default();
    let value = match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_slice(body);
            NodeSeed { c: &mut c }
                .deserialize(&mut de)
                .and_then(|v| de.end().map(|_| v))
                .map_err(|e| DecodeError::syntax(json_syntax_detail(&e, body)))?
        }
        Format::Yaml => {
            let mut docs = serde_yaml::Deserializer::from_slice(body);
            match docs.next() {
                None => Value::Null,
                Some(doc) => NodeSeed { c: &mut c }
                    .deserialize(doc)
                    .map_err(|e| DecodeError::syntax(yaml_syntax_detail(&e)))?,
            }
        }
    };
    Ok(Parsed {
        value,
        duplicates: c.dups,
    })
}

fn json_syntax_detail(e: &serde_json::Error, body: &[u8]) -> String {
    let go = if e.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        let full = e.to_string();
        let msg = full
            .rfind(" at line ")
            .map(|i| &full[..i])
            .unwrap_or(&full)
            .to_string();
        let context = if msg.starts_with("expected value") || msg.starts_with("trailing comma") {
            Some("looking for beginning of value")
        } else if msg.starts_with("key must be a string") {
            Some("looking for beginning of object key string")
        } else if msg.starts_with("expected `:`") {
            Some("after object key")
        } else if msg.starts_with("expected `,` or `}`") {
            Some("after object key:value pair")
        } else if msg.starts_with("expected `,` or `]`") {
            Some("after array element")
        } else if msg.starts_with("trailing characters") {
            Some("after top-level value")
        } else {
            None
        };
        match (context, char_at(body, e.line(), e.column())) {
            (Some(ctx), Some(c)) => format!("invalid character {} {ctx}", quote_char(c)),
            _ => msg,
        }
    };
    format!("couldn't get version/kind; json parse error: {go}")
}

/// The character at a 1-based line and column (serde_json's position).
fn char_at(body: &[u8], line: usize, column: usize) -> Option<char> {
    if line == 0 || column == 0 {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let l = text.split('\n').nth(line - 1)?;
    // serde_json counts columns in bytes.
    let idx = column - 1;
    if !l.is_char_boundary(idx) {
        return None;
    }
    l.get(idx..)?.chars().next()
}

/// Go's `quoteChar` as the JSON scanner prints an offending character.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c => {
            let q = go_quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn yaml_syntax_detail(e: &serde_yaml::Error) -> String {
    let full = e.to_string();
    let msg = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => &full,
    };
    match e.location() {
        Some(loc) => format!(
            "error converting YAML to JSON: yaml: line {}: {msg}",
            loc.line()
        ),
        None => format!("error converting YAML to JSON: yaml: {msg}"),
    }
}

const MAX_STRICT_ERRORS: usize = 100;

#[derive(Default)]
struct Collector {
    path: String,
    dups: Vec<String>,
}

impl Collector {
    fn child_len(&mut self, key: &str) -> usize {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(key);
        len
    }
}

/// Builds a JSON value from any self-describing deserializer, recording
/// duplicate keys with their paths.
struct NodeSeed<'c> {
    c: &'c mut Collector,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => self.visit_f64(v as f64),
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => self.visit_f64(v as f64),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("json: unsupported value: {v}")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        loop {
            let len = self.c.path.len();
            let _ = write!(self.c.path, "[{}]", out.len());
            let item = seq.next_element_seed(NodeSeed { c: &mut *self.c });
            self.c.path.truncate(len);
            match item? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let len = self.c.child_len(&key);
            if out.contains_key(&key) && self.c.dups.len() < MAX_STRICT_ERRORS {
                let p = self.c.path.clone();
                if !self.c.dups.contains(&p) {
                    self.c.dups.push(p);
                }
            }
            let v = map.next_value_seed(NodeSeed { c: &mut *self.c });
            self.c.path.truncate(len);
            out.insert(key, v?);
        }
        Ok(Value::Object(out))
    }
}

/// A map key as a string: JSON keys are strings; YAML scalar keys are
/// stringified as upstream's YAML-to-JSON conversion does.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scalar map key")
    }
    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_unit<E>(self) -> Result<String, E> {
        Ok("null".to_string())
    }
    fn visit_none<E>(self) -> Result<String, E> {
        Ok("null".to_string())
    }
}

// ---------------------------------------------------------------------------
// Strict field validation

/// The unknown and duplicate fields of a body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldReport {
    /// Unknown fields, in document order: `spec.replicass`,
    /// `spec.template.spec.containers[0].imagee`.
    pub unknown: Vec<String>,
    /// Keys given twice in one object: `metadata.name`, `metadata.labels.app`.
    pub duplicate: Vec<String>,
    /// Where every unknown field is (not only the reported ones), to
    /// [`prune`] them.
    pub unknown_paths: Vec<FieldPath>,
    /// `StatefulSet in version "v1" cannot be handled as a StatefulSet`.
    prefix: String,
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A member of an object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

/// Where a field is in a JSON document, outermost step first.
pub type FieldPath = Vec<Step>;

/// Removes the fields at `paths` from `object`, as upstream drops what
/// its Go types do not know when it decodes a body. Paths that lead
/// nowhere are skipped.
pub fn prune(object: &mut Value, paths: &[FieldPath]) {
    fn remove(at: &mut Value, path: &[Step]) {
        match path {
            [] => {}
            [Step::Key(k)] => {
                if let Some(map) = at.as_object_mut() {
                    map.remove(k.as_str());
                }
            }
            [step, rest @ ..] => {
                let next = match step {
                    Step::Key(k) => at.get_mut(k.as_str()),
                    Step::Index(i) => at.get_mut(*i),
                };
                if let Some(next) = next {
                    remove(next, rest);
                }
            }
        }
    }
    for path in paths {
        remove(object, path);
    }
}

/// The unknown fields of `object` (a JSON object meant to be a
/// `group`/`kind`): the paths to [`prune`] and upstream's rendering of
/// the first ones. Type errors are not this check's (see
/// [`check_fields`]); a kind without a schema here has none.
pub fn unknown_fields_of(group: &str, kind: &str, object: &Value) -> (Vec<FieldPath>, Vec<String>) {
    let mut paths = Vec::new();
    let mut shown = Vec::new();
    let _ = typed_value_pass(group, kind, object, &mut shown, &mut paths);
    (paths, shown)
}

impl FieldReport {
    /// A report of these unknown fields alone, without a message prefix
    /// (a patched object's, whose problems are not the body's).
    pub fn of_unknown(unknown: Vec<String>) -> FieldReport {
        FieldReport {
            unknown,
            ..Default::default()
        }
    }

    /// No unknown and no duplicate fields.
    pub fn is_clean(&self) -> bool {
        self.unknown.is_empty() && self.duplicate.is_empty()
    }

    /// One upstream strict-decoding problem text per field:
    /// `unknown field "spec.foo"`, `duplicate field "metadata.name"` (at
    /// most 100, as upstream).
    pub fn problems(&self) -> Vec<String> {
        self.unknown
            .iter()
            .map(|p| format!("unknown field {}", go_quote(p)))
            .chain(
                self.duplicate
                    .iter()
                    .map(|p| format!("duplicate field {}", go_quote(p))),
            )
            .take(MAX_STRICT_ERRORS)
            .collect()
    }

    /// `strict decoding error: unknown field "spec.foo", duplicate field "metadata.name"`.
    pub fn strict_error_message(&self) -> Option<String> {
        if self.is_clean() {
            return None;
        }
        Some(format!(
            "strict decoding error: {}",
            self.problems().join(", ")
        ))
    }

    /// The whole 400 message for `fieldValidation=Strict` on create and
    /// update: `StatefulSet in version "v1" cannot be handled as a
    /// StatefulSet: strict decoding error: unknown field "spec.replicass"`.
    pub fn bad_request_message(&self) -> Option<String> {
        let strict = self.strict_error_message()?;
        if self.prefix.is_empty() {
            Some(strict)
        } else {
            Some(format!("{}: {strict}", self.prefix))
        }
    }

    /// For `fieldValidation=Warn`: one `Warning` header value per problem,
    /// `299 - "unknown field \"spec.foo\""`.
    pub fn warnings(&self) -> Vec<String> {
        self.problems()
            .iter()
            .map(|text| warning_header_value(text))
            .collect()
    }
}

/// A `Warning` header value as upstream's `NewWarningHeader(299, "-", text)`.
pub fn warning_header_value(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 8);
    s.push_str("299 - \"");
    for c in text.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

const TYPE_STRUCT: &str = "struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";

/// The version and kind a body declares, defaulted from the target as
/// upstream's decoder does (`gvkWithDefaults`). An `Err` is the detail of
/// upstream's "unrecognized" error.
pub fn body_version_kind(
    body: &Value,
    target_group: &str,
    target_version: &str,
    target_kind: &str,
) -> Result<(String, String), String> {
    let field = |name: &str| -> Result<String, String> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!(
                "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go struct field .{name} of type string",
                go_type_name(other)
            )),
        }
    };
    let (api_version, kind) = match body {
        Value::Object(_) => (field("apiVersion")?, field("kind")?),
        Value::Null => (String::new(), String::new()),
        other => {
            return Err(format!(
                "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type {TYPE_STRUCT}",
                go_type_name(other)
            ));
        }
    };
    let (mut group, mut version) = if api_version.is_empty() || api_version == "/" {
        (String::new(), String::new())
    } else {
        match api_version.matches('/').count() {
            0 => (String::new(), api_version.clone()),
            1 => {
                let (g, v) = api_version.split_once('/').unwrap_or_default();
                (g.to_string(), v.to_string())
            }
            _ => return Err(format!("unexpected GroupVersion string: {api_version}")),
        }
    };
    let kind = if kind.is_empty() {
        target_kind.to_string()
    } else {
        kind
    };
    if version.is_empty() && group.is_empty() {
        group = target_group.to_string();
        version = target_version.to_string();
    }
    if version.is_empty() && group == target_group {
        version = target_version.to_string();
    }
    Ok((version, kind))
}

fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks a body against the schema of a kind: unknown fields, duplicate
/// fields, and values of the wrong type (an error). Kinds this module does
/// not know are checked for duplicates only (see [`is_known_kind`]).
pub fn check_fields(
    group: &str,
    kind: &str,
    body: &[u8],
    format: Format,
) -> Result<FieldReport, DecodeError> {
    decode_checked(group, kind, body, format).map(|(_, r)| r)
}

/// [`parse_body`] and [`check_fields`] in one pass over the body: the
/// parsed value and its field report. Errors carry upstream's complete
/// message for a request on `group`/`kind`.
pub fn decode_checked(
    group: &str,
    kind: &str,
    body: &[u8],
    format: Format,
) -> Result<(Value, FieldReport), DecodeError> {
    let parsed = parse_tracking(body, format).map_err(|e| e.for_kind(kind, body))?;
    let target_version = target_version(group, kind);
    let (body_version, body_kind) = body_version_kind(&parsed.value, group, target_version, kind)
        .map_err(|detail| DecodeError {
        kind: DecodeErrorKind::Syntax,
        message: unrecognized_message(kind, &detail, body),
        detail,
    })?;
    let prefix = format!(
        "{body_kind} in version {} cannot be handled as a {kind}",
        go_quote(&body_version)
    );
    let mut unknown = Vec::new();
    let mut unknown_paths = Vec::new();
    if !parsed.value.is_null() {
        let typed = match format {
            Format::Json => typed_pass(group, kind, body, &mut unknown, &mut unknown_paths),
            Format::Yaml => {
                let bytes = serde_json::to_vec(&parsed.value).map_err(|e| DecodeError {
                    kind: DecodeErrorKind::Type,
                    message: format!("{prefix}: {e}"),
                    detail: e.to_string(),
                })?;
                typed_pass(group, kind, &bytes, &mut unknown, &mut unknown_paths)
                    .map_err(|e| strip_position(&e))
            }
        };
        if let Err(detail) = typed {
            return Err(DecodeError {
                kind: DecodeErrorKind::Type,
                message: format!("{prefix}: {detail}"),
                detail,
            });
        }
    }
    let report = FieldReport {
        unknown,
        duplicate: parsed.duplicates,
        unknown_paths,
        prefix,
    };
    Ok((parsed.value, report))
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn target_version(group: &str, kind: &str) -> &'static str {
    match crate::resources::by_kind(group, kind) {
        Some(r) => r.version,
        None => "v1",
    }
}

/// Decodes the top-level object into `T` with `apiVersion` and `kind`
/// removed: k8s-openapi rejects a mismatching apiVersion, which upstream
/// reports differently (and later).
struct StripTypeMeta<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StripTypeMeta<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
                T::deserialize(MapAccessDeserializer::new(SkipTypeMeta { inner: map }))?;
                Ok(())
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
        }
        d.deserialize_map(V::<T>(PhantomData))?;
        Ok(StripTypeMeta(PhantomData))
    }
}

struct SkipTypeMeta<M> {
    inner: M,
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for SkipTypeMeta<M> {
    type Error = M::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        loop {
            let Some(key) = self.inner.next_key::<String>()? else {
                return Ok(None);
            };
            if key == "apiVersion" || key == "kind" {
                self.inner.next_value::<IgnoredAny>()?;
                continue;
            }
            return seed
                .deserialize(de::value::StringDeserializer::<M::Error>::new(key))
                .map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner.next_value_seed(seed)
    }
}

fn render_path(path: &serde_ignored::Path<'_>, out: &mut String) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            render_path(parent, out);
            let _ = write!(out, "[{index}]");
        }
        Path::Map { parent, key } => {
            render_path(parent, out);
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_path(parent, out),
    }
}

fn steps_of(path: &serde_ignored::Path<'_>, out: &mut FieldPath) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            steps_of(parent, out);
            out.push(Step::Index(*index));
        }
        Path::Map { parent, key } => {
            steps_of(parent, out);
            out.push(Step::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => steps_of(parent, out),
    }
}

/// Decodes `de` into `T` through `serde_ignored`: the first unknown fields
/// rendered as upstream prints them into `unknown`, every one of them as a
/// path into `paths`.
fn run_with<'de, T, D>(
    de: D,
    unknown: &mut Vec<String>,
    paths: &mut Vec<FieldPath>,
) -> Result<(), String>
where
    T: Deserialize<'de>,
    D: de::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    let mut seen: HashSet<String> = HashSet::new();
    let mut callback = |path: serde_ignored::Path<'_>| {
        let mut steps = Vec::new();
        steps_of(&path, &mut steps);
        if let [Step::Key(k)] = steps.as_slice()
            && (k == "apiVersion" || k == "kind")
        {
            return;
        }
        paths.push(steps);
        if unknown.len() >= MAX_STRICT_ERRORS {
            return;
        }
        let mut p = String::new();
        render_path(&path, &mut p);
        if seen.insert(p.clone()) {
            unknown.push(p);
        }
    };
    let wrapped = serde_ignored::Deserializer::new(de, &mut callback);
    StripTypeMeta::<T>::deserialize(wrapped).map_err(|e| e.to_string())?;
    Ok(())
}

fn run<T>(bytes: &[u8], unknown: &mut Vec<String>, paths: &mut Vec<FieldPath>) -> Result<(), String>
where
    T: for<'de> Deserialize<'de>,
{
    let mut de = serde_json::Deserializer::from_slice(bytes);
    run_with::<T, _>(&mut de, unknown, paths)
}

fn run_value<T>(
    value: &Value,
    unknown: &mut Vec<String>,
    paths: &mut Vec<FieldPath>,
) -> Result<(), String>
where
    T: for<'de> Deserialize<'de>,
{
    run_with::<T, _>(value, unknown, paths)
}

fn decode_only<T>(bytes: &[u8]) -> Result<(), String>
where
    T: for<'de> Deserialize<'de>,
{
    let mut de = serde_json::Deserializer::from_slice(bytes);
    StripTypeMeta::<T>::deserialize(&mut de).map_err(|e| e.to_string())?;
    Ok(())
}

macro_rules! kinds {
    ($( ($group:literal, $kind:literal) => $ty:ty ),* $(,)?) => {
        /// Whether [`check_fields`] knows the schema of a kind.
        #[cfg(test)]
        pub fn is_known_kind(group: &str, kind: &str) -> bool {
            matches!((group, kind), $( ($group, $kind) )|*)
        }

        fn typed_pass(
            group: &str,
            kind: &str,
            bytes: &[u8],
            unknown: &mut Vec<String>,
            paths: &mut Vec<FieldPath>,
        ) -> Result<(), String> {
            match (group, kind) {
                $( ($group, $kind) => run::<$ty>(bytes, unknown, paths), )*
                _ => Ok(()),
            }
        }

        fn typed_value_pass(
            group: &str,
            kind: &str,
            value: &Value,
            unknown: &mut Vec<String>,
            paths: &mut Vec<FieldPath>,
        ) -> Result<(), String> {
            match (group, kind) {
                $( ($group, $kind) => run_value::<$ty>(value, unknown, paths), )*
                _ => Ok(()),
            }
        }

        /// Whether a JSON document decodes as the k8s-openapi type of
        /// `group`/`kind` (unknown fields aside): every value of the right
        /// type, base64 where bytes are, lists where lists are. An `Err`
        /// is serde's message with its position in `bytes`. Kinds not in
        /// the table pass.
        pub fn check_types(group: &str, kind: &str, bytes: &[u8]) -> Result<(), String> {
            match (group, kind) {
                $( ($group, $kind) => decode_only::<$ty>(bytes), )*
                _ => Ok(()),
            }
        }
    };
}

kinds! {
    ("", "Pod") => k8s_openapi::api::core::v1::Pod,
    ("", "ConfigMap") => k8s_openapi::api::core::v1::ConfigMap,
    ("", "Endpoints") => k8s_openapi::api::core::v1::Endpoints,
    ("", "Event") => k8s_openapi::api::core::v1::Event,
    ("", "Namespace") => k8s_openapi::api::core::v1::Namespace,
    ("", "Node") => k8s_openapi::api::core::v1::Node,
    ("", "PersistentVolumeClaim") => k8s_openapi::api::core::v1::PersistentVolumeClaim,
    ("", "PersistentVolume") => k8s_openapi::api::core::v1::PersistentVolume,
    ("", "Secret") => k8s_openapi::api::core::v1::Secret,
    ("", "ServiceAccount") => k8s_openapi::api::core::v1::ServiceAccount,
    ("", "Service") => k8s_openapi::api::core::v1::Service,
    ("", "Binding") => k8s_openapi::api::core::v1::Binding,
    ("", "PodTemplate") => k8s_openapi::api::core::v1::PodTemplate,
    ("", "ReplicationController") => k8s_openapi::api::core::v1::ReplicationController,
    ("", "LimitRange") => k8s_openapi::api::core::v1::LimitRange,
    ("", "ResourceQuota") => k8s_openapi::api::core::v1::ResourceQuota,
    ("", "DeleteOptions") => k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions,
    ("meta.k8s.io", "DeleteOptions") => k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions,
    ("apps", "ControllerRevision") => k8s_openapi::api::apps::v1::ControllerRevision,
    ("apps", "StatefulSet") => k8s_openapi::api::apps::v1::StatefulSet,
    ("apps", "Deployment") => k8s_openapi::api::apps::v1::Deployment,
    ("apps", "ReplicaSet") => k8s_openapi::api::apps::v1::ReplicaSet,
    ("apps", "DaemonSet") => k8s_openapi::api::apps::v1::DaemonSet,
    ("apiextensions.k8s.io", "CustomResourceDefinition") => k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ("autoscaling", "Scale") => k8s_openapi::api::autoscaling::v1::Scale,
    ("policy", "Eviction") => k8s_openapi::api::policy::v1::Eviction,
    ("policy", "PodDisruptionBudget") => k8s_openapi::api::policy::v1::PodDisruptionBudget,
    ("batch", "Job") => k8s_openapi::api::batch::v1::Job,
    ("batch", "CronJob") => k8s_openapi::api::batch::v1::CronJob,
    ("coordination.k8s.io", "Lease") => k8s_openapi::api::coordination::v1::Lease,
    ("discovery.k8s.io", "EndpointSlice") => k8s_openapi::api::discovery::v1::EndpointSlice,
    ("events.k8s.io", "Event") => k8s_openapi::api::events::v1::Event,
    ("storage.k8s.io", "StorageClass") => k8s_openapi::api::storage::v1::StorageClass,
    ("node.k8s.io", "RuntimeClass") => k8s_openapi::api::node::v1::RuntimeClass,
    ("scheduling.k8s.io", "PriorityClass") => k8s_openapi::api::scheduling::v1::PriorityClass,
    ("rbac.authorization.k8s.io", "Role") => k8s_openapi::api::rbac::v1::Role,
    ("rbac.authorization.k8s.io", "ClusterRole") => k8s_openapi::api::rbac::v1::ClusterRole,
    ("rbac.authorization.k8s.io", "RoleBinding") => k8s_openapi::api::rbac::v1::RoleBinding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding") => k8s_openapi::api::rbac::v1::ClusterRoleBinding,
    // TokenRequest is not here: kubectl sends its status as
    // `{"token": "", "expirationTimestamp": null}`, which Go reads as zero
    // values and k8s-openapi refuses (both fields are required there).
    ("authentication.k8s.io", "TokenReview") => k8s_openapi::api::authentication::v1::TokenReview,
    ("authentication.k8s.io", "SelfSubjectReview") => k8s_openapi::api::authentication::v1::SelfSubjectReview,
    ("authorization.k8s.io", "SelfSubjectAccessReview") => k8s_openapi::api::authorization::v1::SelfSubjectAccessReview,
    ("authorization.k8s.io", "SelfSubjectRulesReview") => k8s_openapi::api::authorization::v1::SelfSubjectRulesReview,
    ("authorization.k8s.io", "SubjectAccessReview") => k8s_openapi::api::authorization::v1::SubjectAccessReview,
    ("authorization.k8s.io", "LocalSubjectAccessReview") => k8s_openapi::api::authorization::v1::LocalSubjectAccessReview,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(group: &str, kind: &str, v: &Value) -> FieldReport {
        let body = serde_json::to_vec(v).unwrap();
        check_fields(group, kind, &body, Format::Json).unwrap()
    }

    fn statefulset() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "managedFields": [{
                    "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
                    "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}
                }],
                "creationTimestamp": null
            },
            "spec": {
                "serviceName": "web",
                "replicas": 3,
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
                "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
                "template": {
                    "metadata": {"labels": {"app": "web"}, "annotations": {"x": "y"}},
                    "spec": {
                        "terminationGracePeriodSeconds": 10,
                        "containers": [{
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "command": ["/bin/sh", "-c"],
                            "args": ["exec nginx"],
                            "env": [
                                {"name": "A", "value": "1"},
                                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                            ],
                            "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "100m", "memory": 64}, "limits": {"cpu": 1, "memory": "128Mi"}},
                            "readinessProbe": {"httpGet": {"path": "/", "port": "web"}, "initialDelaySeconds": 1, "periodSeconds": 2},
                            "livenessProbe": {"tcpSocket": {"port": 80}, "failureThreshold": 3},
                            "startupProbe": {"exec": {"command": ["true"]}},
                            "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}],
                            "securityContext": {"runAsUser": 1000, "capabilities": {"drop": ["ALL"]}}
                        }],
                        "volumes": [{"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}],
                        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}}
                        ]}},
                        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]
                    }
                },
                "volumeClaimTemplates": [{
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path", "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Pending"}
                }]
            },
            "status": {"replicas": 0, "availableReplicas": 0, "currentRevision": "web-1"}
        })
    }

    #[test]
    fn realistic_statefulset_is_clean() {
        let r = check("apps", "StatefulSet", &statefulset());
        assert!(r.is_clean(), "{r:?}");
        assert_eq!(r.strict_error_message(), None);
        assert!(r.warnings().is_empty());
        // volumeClaimTemplates usually come without apiVersion/kind.
        let mut sts = statefulset();
        let t = sts["spec"]["volumeClaimTemplates"][0]
            .as_object_mut()
            .unwrap();
        t.remove("apiVersion");
        t.remove("kind");
        assert!(check("apps", "StatefulSet", &sts).is_clean());
    }

    #[test]
    fn finds_unknown_fields_with_upstream_paths() {
        let mut sts = statefulset();
        sts["spec"]["replicass"] = json!(3);
        sts["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("x");
        sts["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostPortt"] = json!(1);
        sts["metadata"]["app"] = json!({"nested": true});
        sts["topLevel"] = json!(null);
        let r = check("apps", "StatefulSet", &sts);
        let mut unknown = r.unknown.clone();
        unknown.sort();
        assert_eq!(
            unknown,
            vec![
                "metadata.app",
                "spec.replicass",
                "spec.template.spec.containers[0].imagee",
                "spec.template.spec.containers[0].ports[0].hostPortt",
                "topLevel",
            ]
        );
        assert!(r.duplicate.is_empty());
        let body = br#"{"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicass":3}}"#;
        let r = check_fields("apps", "StatefulSet", body, Format::Json).unwrap();
        assert_eq!(
            r.bad_request_message().unwrap(),
            "StatefulSet in version \"v1\" cannot be handled as a StatefulSet: strict decoding error: unknown field \"spec.replicass\""
        );
        assert_eq!(
            r.warnings(),
            vec!["299 - \"unknown field \\\"spec.replicass\\\"\""]
        );
    }

    #[test]
    fn finds_duplicate_fields() {
        let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},"data":{}}"#;
        let (v, r) = decode_checked("", "ConfigMap", body, Format::Json).unwrap();
        assert_eq!(v["metadata"]["name"], "b");
        assert_eq!(r.duplicate, vec!["metadata.name", "metadata.labels.x"]);
        assert_eq!(
            r.strict_error_message().unwrap(),
            "strict decoding error: duplicate field \"metadata.name\", duplicate field \"metadata.labels.x\""
        );
        let body = br#"{"kind":"Pod","spec":{"containers":[{"name":"a","image":"x","image":"y","foo":1}]}}"#;
        let r = check_fields("", "Pod", body, Format::Json).unwrap();
        assert_eq!(r.unknown, vec!["spec.containers[0].foo"]);
        assert_eq!(r.duplicate, vec!["spec.containers[0].image"]);
        assert_eq!(
            r.bad_request_message().unwrap(),
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].foo\", duplicate field \"spec.containers[0].image\""
        );
        // Duplicates inside unknown subtrees are still found.
        let body = br#"{"x":{"a":1,"a":2}}"#;
        let r = check_fields("", "Secret", body, Format::Json).unwrap();
        assert_eq!(r.unknown, vec!["x"]);
        assert_eq!(r.duplicate, vec!["x.a"]);
    }

    #[test]
    fn type_errors_are_bad_requests() {
        let body = br#"{"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"replicas":"three"}}"#;
        let e = check_fields("apps", "StatefulSet", body, Format::Json).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Type);
        assert!(
            e.message.starts_with("StatefulSet in version \"v1\" cannot be handled as a StatefulSet: invalid type: string \"three\""),
            "{e}"
        );
        let body = br#"{"metadata":{"labels":{"a":1}}}"#;
        let e = check_fields("", "ConfigMap", body, Format::Json).unwrap_err();
        assert!(
            e.message
                .starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: "),
            "{e}"
        );
        // The body's kind and version appear in the prefix.
        let body = br#"{"apiVersion":"v2","kind":"Thing","spec":{"replicas":true}}"#;
        let e = check_fields("apps", "StatefulSet", body, Format::Json).unwrap_err();
        assert!(
            e.message
                .starts_with("Thing in version \"v2\" cannot be handled as a StatefulSet: "),
            "{e}"
        );
    }

    #[test]
    fn nulls_and_type_meta_are_fine() {
        let body = br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":null},"spec":{"selector":null,"ports":[{"port":80,"targetPort":"web"}],"clusterIP":"None"},"status":null}"#;
        let r = check_fields("", "Service", body, Format::Json).unwrap();
        assert!(r.is_clean(), "{r:?}");
        // A mismatching apiVersion is not a field problem here.
        let body = br#"{"apiVersion":"apps/v1beta1","kind":"Pod"}"#;
        assert!(
            check_fields("", "Pod", body, Format::Json)
                .unwrap()
                .is_clean()
        );
        let r = check_fields("", "Pod", b"null", Format::Json).unwrap();
        assert!(r.is_clean());
    }

    #[test]
    fn every_registered_kind_accepts_a_realistic_manifest() {
        let manifests: Vec<(&str, &str, Value)> = vec![
            (
                "",
                "ConfigMap",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}, "binaryData": {"b": "AAE="}, "immutable": false}),
            ),
            (
                "",
                "Endpoints",
                json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.0.0.1", "hostname": "web-0", "targetRef": {"kind": "Pod", "name": "web-0", "uid": "u"}}], "ports": [{"port": 80, "name": "web", "protocol": "TCP"}]}]}),
            ),
            (
                "",
                "Event",
                json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-0.1"}, "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default", "uid": "u", "apiVersion": "v1", "resourceVersion": "5", "fieldPath": "spec.containers{nginx}"}, "reason": "Started", "message": "Started container", "source": {"component": "kubelet", "host": "n1"}, "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:01Z", "count": 1, "type": "Normal", "eventTime": "2024-01-01T00:00:00.000000Z", "reportingComponent": "kubelet", "reportingInstance": "n1"}),
            ),
            (
                "",
                "Namespace",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            ),
            (
                "",
                "Node",
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/24", "unschedulable": false, "taints": [{"key": "k", "effect": "NoSchedule"}]}, "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": 110}, "allocatable": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "KubeletReady", "message": "ok"}], "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}], "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "ordinal", "kernelVersion": "6", "kubeProxyVersion": "", "kubeletVersion": "v1.33.0", "machineID": "", "operatingSystem": "linux", "osImage": "x", "systemUUID": ""}, "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}),
            ),
            (
                "",
                "PersistentVolumeClaim",
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "www-web-0"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "local-path", "volumeMode": "Filesystem", "volumeName": "pv-1"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}),
            ),
            (
                "",
                "PersistentVolume",
                json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path", "hostPath": {"path": "/tmp/pv", "type": "DirectoryOrCreate"}, "claimRef": {"kind": "PersistentVolumeClaim", "name": "www-web-0", "namespace": "default", "uid": "u"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}, "status": {"phase": "Bound"}}),
            ),
            (
                "",
                "Pod",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-0", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u", "controller": true, "blockOwnerDeletion": true}], "finalizers": ["x/y"], "deletionGracePeriodSeconds": 30}, "spec": {"hostname": "web-0", "subdomain": "web", "nodeName": "n1", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "containers": [{"name": "c", "image": "busybox", "imagePullPolicy": "IfNotPresent", "terminationMessagePolicy": "File", "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}}}], "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always"}], "volumes": [{"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}}, {"name": "e", "emptyDir": {"sizeLimit": "1Gi"}}], "securityContext": {"fsGroup": 2000}, "readinessGates": [{"conditionType": "x"}]}, "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}], "startTime": "2024-01-01T00:00:00Z", "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-01-01T00:00:00Z"}], "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "image": "busybox", "imageID": "", "started": true, "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}}, "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": null, "finishedAt": null}}}], "qosClass": "BestEffort"}}),
            ),
            (
                "",
                "Secret",
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "YQ=="}, "stringData": {"b": "c"}}),
            ),
            (
                "",
                "ServiceAccount",
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}, "automountServiceAccountToken": false, "secrets": [{"name": "x"}], "imagePullSecrets": [{"name": "y"}]}),
            ),
            (
                "",
                "Service",
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"], "type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}, {"port": 8080, "targetPort": 8080}], "publishNotReadyAddresses": true, "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"}, "status": {"loadBalancer": {}}}),
            ),
            (
                "apps",
                "ControllerRevision",
                json!({"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "web-1"}, "revision": 1, "data": {"spec": {"template": {"$patch": "replace", "anything": {"goes": 1}}}}}),
            ),
            (
                "apps",
                "Deployment",
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "annotations": {"deployment.kubernetes.io/revision": "2"}}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}, "minReadySeconds": 5, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, "paused": false, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}, "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "unavailableReplicas": 0, "collisionCount": 0, "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastUpdateTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}),
            ),
            (
                "apps",
                "ReplicaSet",
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-5d4f8c7b9", "labels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": true, "blockOwnerDeletion": true}]}, "spec": {"replicas": 3, "minReadySeconds": 5, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}}, "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "5d4f8c7b9"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}, "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 1, "conditions": [{"type": "ReplicaFailure", "status": "False", "reason": "r", "message": "m", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}),
            ),
            (
                "coordination.k8s.io",
                "Lease",
                json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2024-01-01T00:00:00.000000Z", "acquireTime": "2024-01-01T00:00:00.000000Z", "leaseTransitions": 0}}),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"}}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false}, "hostname": "web-0", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "web-0"}}], "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}),
            ),
            (
                "events.k8s.io",
                "Event",
                json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"}, "eventTime": "2024-01-01T00:00:00.000000Z", "reportingController": "ordinal/statefulset", "reportingInstance": "x", "action": "Create", "reason": "SuccessfulCreate", "regarding": {"kind": "StatefulSet", "name": "web"}, "note": "create Pod web-0", "type": "Normal", "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:00.000000Z"}}),
            ),
            (
                "storage.k8s.io",
                "StorageClass",
                json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "ordinal.dev/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true, "parameters": {"a": "b"}}),
            ),
            (
                "node.k8s.io",
                "RuntimeClass",
                json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "gvisor"}, "handler": "runsc", "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}}, "scheduling": {"nodeSelector": {"runtime": "gvisor"}, "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}}),
            ),
            (
                "scheduling.k8s.io",
                "PriorityClass",
                json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000, "globalDefault": false, "description": "for urgent pods", "preemptionPolicy": "Never"}),
            ),
            (
                "rbac.authorization.k8s.io",
                "Role",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader", "namespace": "default"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web-0"], "verbs": ["get", "list"]}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRole",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:x"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "c", "operator": "Exists"}]}]}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "RoleBinding",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "read"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}, "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}, {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"}]}),
            ),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "cluster-admin"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}]}),
            ),
            (
                "autoscaling",
                "Scale",
                json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web"}}),
            ),
            (
                "policy",
                "Eviction",
                json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-0"}, "deleteOptions": {"gracePeriodSeconds": 0}}),
            ),
            (
                "policy",
                "PodDisruptionBudget",
                json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"}, "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "web"}}, "unhealthyPodEvictionPolicy": "AlwaysAllow"}, "status": {"observedGeneration": 1, "disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3, "disruptedPods": {"web-0": "2024-01-01T00:00:00Z"}, "conditions": [{"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods", "message": "", "observedGeneration": 1, "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}),
            ),
            (
                "batch",
                "Job",
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}, "spec": {"completions": 3, "parallelism": 2, "backoffLimit": 4, "completionMode": "Indexed", "activeDeadlineSeconds": 600, "ttlSecondsAfterFinished": 60, "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}, {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 0"]}]}}}, "status": {"active": 1, "ready": 0, "terminating": 0, "succeeded": 1, "completedIndexes": "0", "uncountedTerminatedPods": {"succeeded": ["u1"]}, "startTime": "2024-01-01T00:00:00Z", "conditions": [{"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": "m", "lastProbeTime": "2024-01-01T00:00:00Z", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}),
            ),
            (
                "batch",
                "CronJob",
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"}, "spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Paris", "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 30, "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1, "jobTemplate": {"metadata": {"labels": {"app": "tick"}}, "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}, "status": {"active": [{"apiVersion": "batch/v1", "kind": "Job", "name": "tick-1", "namespace": "default", "uid": "u"}], "lastScheduleTime": "2024-01-01T00:00:00Z", "lastSuccessfulTime": "2024-01-01T00:00:00Z"}}),
            ),
            (
                "",
                "Binding",
                json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web-0"}, "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}),
            ),
            (
                "authentication.k8s.io",
                "TokenReview",
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {}, "spec": {"token": "t", "audiences": ["a"]}}),
            ),
            (
                "authentication.k8s.io",
                "SelfSubjectReview",
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}}),
            ),
            (
                "authorization.k8s.io",
                "SelfSubjectAccessReview",
                json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {}, "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}}}),
            ),
            (
                "authorization.k8s.io",
                "SelfSubjectRulesReview",
                json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "metadata": {}, "spec": {"namespace": "default"}}),
            ),
            (
                "authorization.k8s.io",
                "SubjectAccessReview",
                json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {}, "spec": {"user": "jane", "groups": ["devs"], "extra": {"k": ["v"]}, "uid": "u", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}}),
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "widgets.example.com"},
                       "spec": {"group": "example.com", "scope": "Namespaced", "conversion": {"strategy": "None"},
                                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"], "categories": ["all"]},
                                "versions": [{"name": "v1", "served": true, "storage": true,
                                              "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
                                                  "x-kubernetes-validations": [{"rule": "self.size > 0", "message": "positive"}],
                                                  "properties": {"size": {"type": "integer", "minimum": 1, "default": 1}, "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}},
                                              "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}},
                                              "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                                              "selectableFields": [{"jsonPath": ".spec.size"}]}]}}),
            ),
            (
                "authorization.k8s.io",
                "LocalSubjectAccessReview",
                json!({"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview", "metadata": {"namespace": "default"}, "spec": {"user": "jane", "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "secrets", "name": "s"}}}),
            ),
            (
                "",
                "DeleteOptions",
                json!({"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background", "gracePeriodSeconds": 30, "preconditions": {"uid": "u", "resourceVersion": "1"}, "dryRun": ["All"]}),
            ),
        ];
        let mut covered: Vec<(&str, &str)> = Vec::new();
        for (group, kind, v) in &manifests {
            assert!(is_known_kind(group, kind), "{group}/{kind}");
            let r = check(group, kind, v);
            assert!(r.is_clean(), "{group}/{kind}: {r:?}");
            covered.push((group, kind));
        }
        covered.push(("apps", "StatefulSet"));
        for r in crate::resources::RESOURCES {
            assert!(
                covered.contains(&(r.group, r.kind)),
                "no manifest for {}/{}",
                r.group,
                r.kind
            );
            assert!(is_known_kind(r.group, r.kind));
        }
    }

    #[test]
    fn yaml_bodies() {
        let yaml = b"apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  serviceName: web\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n        imagee: typo\n        resources:\n          limits: {cpu: 1, memory: 1Gi}\n";
        let (v, r) = decode_checked("apps", "StatefulSet", yaml, Format::Yaml).unwrap();
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(r.unknown, vec!["spec.template.spec.containers[0].imagee"]);
        let dup = b"metadata:\n  name: a\n  name: b\n";
        let (v, r) = decode_checked("", "ConfigMap", dup, Format::Yaml).unwrap();
        assert_eq!(v["metadata"]["name"], "b");
        assert_eq!(r.duplicate, vec!["metadata.name"]);
        // Non-string keys become strings, as upstream's YAML-to-JSON does.
        let v = parse_body(b"data:\n  1: one\n  true: yes\n", Format::Yaml).unwrap();
        assert_eq!(v["data"]["1"], "one");
        assert_eq!(v["data"]["true"], "yes");
        assert_eq!(parse_body(b"", Format::Yaml).unwrap(), Value::Null);
        let e = parse_body(b"a: b: c\n", Format::Yaml).unwrap_err();
        assert!(
            e.message
                .starts_with("error converting YAML to JSON: yaml: line 1: "),
            "{e}"
        );
        let e = check_fields("", "Pod", b"a: [\n", Format::Yaml).unwrap_err();
        assert!(
            e.message.starts_with("the object provided is unrecognized (must be of type Pod): error converting YAML to JSON: yaml: "),
            "{e}"
        );
        let e = check_fields(
            "apps",
            "StatefulSet",
            b"spec:\n  replicas: three\n",
            Format::Yaml,
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("StatefulSet in version \"v1\" cannot be handled as a StatefulSet: invalid type: string \"three\""),
            "{e}"
        );
        assert!(!e.message.contains("at line"), "{e}");
    }

    #[test]
    fn malformed_json_is_unrecognized() {
        let e = check_fields(
            "",
            "Pod",
            br#"{"apiVersion":"v1","kind":"Pod"#,
            Format::Json,
        )
        .unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Syntax);
        assert_eq!(
            e.message,
            "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"apiVersion\":\"v1\",\"kind\":\"Pod)"
        );
        let e = parse_body(b"{x}", Format::Json).unwrap_err();
        assert_eq!(
            e.message,
            "couldn't get version/kind; json parse error: invalid character 'x' looking for beginning of object key string"
        );
        let e = parse_body(b"{} x", Format::Json).unwrap_err();
        assert_eq!(
            e.message,
            "couldn't get version/kind; json parse error: invalid character 'x' after top-level value"
        );
        let e = check_fields(
            "",
            "Pod",
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"#,
            Format::Json,
        )
        .unwrap_err();
        assert!(
            e.message
                .ends_with(r#"({"apiVersion":"v1","kind":"Pod ...)"#),
            "{e}"
        );
        let e = check_fields("", "Pod", b"", Format::Json).unwrap_err();
        assert_eq!(
            e.message,
            "the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)"
        );
        let e = check_fields("", "Pod", b"[1]", Format::Json).unwrap_err();
        assert!(
            e.message
                .contains("json: cannot unmarshal array into Go value of type struct"),
            "{e}"
        );
        assert!(e.message.ends_with("(5b315d)"), "{e}");
        let e = check_fields("", "Pod", br#"{"apiVersion":"a/b/c"}"#, Format::Json).unwrap_err();
        assert!(
            e.message
                .contains(": unexpected GroupVersion string: a/b/c ("),
            "{e}"
        );
        let e = check_fields("", "Pod", br#"{"kind":5}"#, Format::Json).unwrap_err();
        assert!(
            e.message
                .contains("cannot unmarshal number into Go struct field .kind of type string"),
            "{e}"
        );
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn timing_of_a_statefulset_check() {
        let body = serde_json::to_vec(&statefulset()).unwrap();
        let n = 2000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            let (_, r) = decode_checked("apps", "StatefulSet", &body, Format::Json).unwrap();
            assert!(r.is_clean());
        }
        let per = start.elapsed() / n;
        let start = std::time::Instant::now();
        for _ in 0..n {
            let _: Value = serde_json::from_slice(&body).unwrap();
        }
        let plain = start.elapsed() / n;
        println!(
            "{} bytes: decode_checked {per:?}, plain serde_json::Value {plain:?}",
            body.len()
        );
    }

    #[test]
    fn strict_errors_are_capped_at_100() {
        let mut m = serde_json::Map::new();
        for i in 0..150 {
            m.insert(format!("f{i:03}"), json!(1));
        }
        let r = check("", "ConfigMap", &Value::Object(m));
        assert_eq!(r.problems().len(), 100);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z0-9 ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("metadata".to_string()),
                        Just("spec".to_string()),
                        Just("containers".to_string()),
                        Just("name".to_string()),
                        Just("replicas".to_string()),
                        Just("template".to_string()),
                        Just("apiVersion".to_string()),
                        "[a-z]{1,6}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_body(&b, Format::Json);
            let _ = parse_body(&b, Format::Yaml);
            let _ = check_fields("apps", "StatefulSet", &b, Format::Json);
            let _ = check_fields("", "Pod", &b, Format::Yaml);
        }

        #[test]
        fn arbitrary_json_never_panics(v in arb_json()) {
            let b = serde_json::to_vec(&v).unwrap();
            for (g, k) in [("apps", "StatefulSet"), ("", "Pod"), ("", "Service"), ("autoscaling", "Scale")] {
                match check_fields(g, k, &b, Format::Json) {
                    Ok(r) => { let _ = r.bad_request_message(); let _ = r.warnings(); }
                    Err(e) => prop_assert!(!e.message.is_empty()),
                }
            }
            let y = serde_yaml::to_string(&v).unwrap();
            let _ = check_fields("", "Pod", y.as_bytes(), Format::Yaml);
            // JSON parsing keeps the value.
            prop_assert_eq!(parse_body(&b, Format::Json).unwrap(), v);
        }

        #[test]
        fn deep_nesting_is_an_error_not_a_crash(depth in 100usize..2000) {
            let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let _ = parse_body(body.as_bytes(), Format::Json);
            let body = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
            let _ = check_fields("", "Pod", body.as_bytes(), Format::Json);
            let yaml = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let _ = parse_body(yaml.as_bytes(), Format::Yaml);
        }
    }
}

#[cfg(test)]
mod prune_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_pruned_and_known_ones_kept() {
        let body = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "foo": 1, "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {
                "replicas": 2, "replicass": 3,
                "template": {"spec": {"containers": [
                    {"name": "a", "image": "x"},
                    {"name": "b", "image": "y", "imagee": "z", "ports": [{"containerPort": 80, "bad": {"deep": 1}}]}
                ]}}
            },
            "status": {"replicas": 1, "nope": true}
        });
        let bytes = body.to_string();
        let (mut value, report) =
            decode_checked("apps", "StatefulSet", bytes.as_bytes(), Format::Json).unwrap();
        assert_eq!(report.unknown_paths.len(), 5);
        prune(&mut value, &report.unknown_paths);
        let mut expected = body.clone();
        expected["metadata"].as_object_mut().unwrap().remove("foo");
        expected["spec"]
            .as_object_mut()
            .unwrap()
            .remove("replicass");
        let b = &mut expected["spec"]["template"]["spec"]["containers"][1];
        b.as_object_mut().unwrap().remove("imagee");
        b["ports"][0].as_object_mut().unwrap().remove("bad");
        expected["status"].as_object_mut().unwrap().remove("nope");
        assert_eq!(value, expected);

        // The same paths come from the parsed value, as for a patched object.
        let (paths, shown) = unknown_fields_of("apps", "StatefulSet", &body);
        assert_eq!(paths, report.unknown_paths);
        assert_eq!(shown, report.unknown);
        // A clean object has nothing to prune.
        let (paths, _) = unknown_fields_of("apps", "StatefulSet", &expected);
        assert!(paths.is_empty());
    }

    #[test]
    fn pruning_paths_that_lead_nowhere_changes_nothing() {
        let mut v = json!({"a": [1, {"b": 2}]});
        let before = v.clone();
        prune(
            &mut v,
            &[
                vec![Step::Key("x".into()), Step::Key("y".into())],
                vec![Step::Key("a".into()), Step::Index(5), Step::Key("b".into())],
                vec![Step::Key("a".into()), Step::Index(0), Step::Key("b".into())],
                vec![],
            ],
        );
        assert_eq!(v, before);
        prune(
            &mut v,
            &[vec![
                Step::Key("a".into()),
                Step::Index(1),
                Step::Key("b".into()),
            ]],
        );
        assert_eq!(v, json!({"a": [1, {}]}));
    }
}
