//! The structural schema of a custom resource version (a CRD's
//! `openAPIV3Schema`), and what the API server does with it to every
//! object it takes: defaulting, pruning of unknown fields, and validation
//! with upstream's paths and messages (kube-openapi's validator as the
//! apiextensions server reports it).
//!
//! A schema is parsed once, when the CRD's row is built; parsing reports
//! what makes a schema unusable (not structural) so that the CRD's
//! validation can refuse it with field causes.

use std::collections::BTreeMap;

use regex::Regex;
use serde_json::{Map, Value};

use crate::names::{BadValue, ErrorKind, FieldError};

use super::cel::Rule;

/// One node of a structural schema.
#[derive(Debug, Default)]
pub struct Schema {
    pub(crate) kind: Option<String>,
    pub(crate) format: Option<String>,
    pub(crate) properties: BTreeMap<String, Schema>,
    pub(crate) additional: Additional,
    pub(crate) items: Option<Box<Schema>>,
    pub(crate) required: Vec<String>,
    pub(crate) enumeration: Vec<Value>,
    pub(crate) nullable: bool,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_maximum: bool,
    pub(crate) minimum: Option<f64>,
    pub(crate) exclusive_minimum: bool,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) min_items: Option<u64>,
    pub(crate) unique_items: bool,
    pub(crate) max_properties: Option<u64>,
    pub(crate) min_properties: Option<u64>,
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) default: Option<Value>,
    pub(crate) preserve_unknown: bool,
    pub(crate) int_or_string: bool,
    pub(crate) embedded: bool,
    pub(crate) all_of: Vec<Schema>,
    pub(crate) any_of: Vec<Schema>,
    pub(crate) one_of: Vec<Schema>,
    pub(crate) not: Option<Box<Schema>>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub(crate) list_type: Option<String>,
    /// `x-kubernetes-list-map-keys`.
    pub(crate) list_map_keys: Vec<String>,
    /// `x-kubernetes-map-type: atomic` (or a struct marked so).
    pub(crate) atomic_map: bool,
    /// `x-kubernetes-validations`.
    pub(crate) rules: Vec<Rule>,
}

/// `additionalProperties`: absent, a schema, or `true`/`false`.
#[derive(Debug, Default)]
pub enum Additional {
    /// Not given: unknown fields are pruned.
    #[default]
    Absent,
    /// `true`: any field, kept as it is.
    Allowed,
    /// A schema every other field follows.
    Schema(Box<Schema>),
}

/// What may stand where a schema is expected; a problem is a field error
/// under the CRD's `spec.versions[i].schema.openAPIV3Schema` path.
pub fn parse(value: &Value, path: &str, errs: &mut Vec<FieldError>) -> Schema {
    parse_node(value, path, true, errs)
}

fn parse_node(value: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) -> Schema {
    let Some(map) = value.as_object() else {
        errs.push(FieldError::invalid(
            path,
            BadValue::from_json(value),
            "must be a schema object",
        ));
        return Schema::default();
    };
    let mut s = Schema {
        kind: str_of(map, "type"),
        format: str_of(map, "format"),
        nullable: bool_of(map, "nullable"),
        maximum: num_of(map, "maximum"),
        exclusive_maximum: bool_of(map, "exclusiveMaximum"),
        minimum: num_of(map, "minimum"),
        exclusive_minimum: bool_of(map, "exclusiveMinimum"),
        multiple_of: num_of(map, "multipleOf"),
        max_length: uint_of(map, "maxLength"),
        min_length: uint_of(map, "minLength"),
        max_items: uint_of(map, "maxItems"),
        min_items: uint_of(map, "minItems"),
        unique_items: bool_of(map, "uniqueItems"),
        max_properties: uint_of(map, "maxProperties"),
        min_properties: uint_of(map, "minProperties"),
        default: map.get("default").cloned(),
        preserve_unknown: bool_of(map, "x-kubernetes-preserve-unknown-fields"),
        int_or_string: bool_of(map, "x-kubernetes-int-or-string"),
        embedded: bool_of(map, "x-kubernetes-embedded-resource"),
        list_type: str_of(map, "x-kubernetes-list-type"),
        atomic_map: str_of(map, "x-kubernetes-map-type").as_deref() == Some("atomic"),
        ..Schema::default()
    };
    if let Some(kind) = &s.kind
        && !matches!(
            kind.as_str(),
            "object" | "array" | "string" | "integer" | "number" | "boolean"
        )
    {
        errs.push(FieldError::not_supported(
            format!("{path}.type"),
            kind.as_str(),
            &["array", "boolean", "integer", "number", "object", "string"],
        ));
    }
    if let Some(Value::Array(required)) = map.get("required") {
        s.required = required
            .iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        s.enumeration = values.clone();
    }
    if let Some(Value::Array(keys)) = map.get("x-kubernetes-list-map-keys") {
        s.list_map_keys = keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
    }
    if let Some(pattern) = map.get("pattern").and_then(Value::as_str) {
        match Regex::new(pattern) {
            Ok(re) => s.pattern = Some((pattern.to_string(), re)),
            Err(e) => errs.push(FieldError::invalid(
                format!("{path}.pattern"),
                pattern,
                format!("must be a valid regular expression, but isn't: {e}"),
            )),
        }
    }
    if let Some(Value::Object(props)) = map.get("properties") {
        for (name, prop) in props {
            let child = parse_node(prop, &format!("{path}.properties[{name}]"), false, errs);
            s.properties.insert(name.clone(), child);
        }
    }
    match map.get("additionalProperties") {
        Some(Value::Bool(true)) => s.additional = Additional::Allowed,
        Some(Value::Bool(false)) | None | Some(Value::Null) => {}
        Some(other) => {
            s.additional = Additional::Schema(Box::new(parse_node(
                other,
                &format!("{path}.additionalProperties"),
                false,
                errs,
            )))
        }
    }
    if !s.properties.is_empty() && !matches!(s.additional, Additional::Absent) {
        errs.push(FieldError::forbidden(
            format!("{path}.additionalProperties"),
            "additionalProperties and properties are mutual exclusive",
        ));
    }
    match map.get("items") {
        Some(Value::Array(_)) => errs.push(FieldError::forbidden(
            format!("{path}.items"),
            "items must be a schema object and not an array",
        )),
        Some(items) => {
            s.items = Some(Box::new(parse_node(
                items,
                &format!("{path}.items"),
                false,
                errs,
            )))
        }
        None => {}
    }
    for (key, out) in [
        ("allOf", &mut s.all_of),
        ("anyOf", &mut s.any_of),
        ("oneOf", &mut s.one_of),
    ] {
        if let Some(Value::Array(list)) = map.get(key) {
            for (i, sub) in list.iter().enumerate() {
                out.push(parse_node(sub, &format!("{path}.{key}[{i}]"), false, errs));
            }
        }
    }
    if let Some(not) = map.get("not") {
        s.not = Some(Box::new(parse_node(
            not,
            &format!("{path}.not"),
            false,
            errs,
        )));
    }
    for forbidden in ["$ref", "definitions", "dependencies", "patternProperties"] {
        if map.contains_key(forbidden) {
            errs.push(FieldError::forbidden(
                format!("{path}.{forbidden}"),
                format!("{forbidden} is not supported"),
            ));
        }
    }
    check_structural(&s, path, root, errs);
    if let Some(Value::Array(rules)) = map.get("x-kubernetes-validations") {
        for (i, rule) in rules.iter().enumerate() {
            let rule_path = format!("{path}.x-kubernetes-validations[{i}]");
            if let Some(rule) = Rule::parse(rule, &rule_path, errs) {
                s.rules.push(rule);
            }
        }
    }
    if let Some(default) = &s.default {
        let mut default_errs = Vec::new();
        validate_node(&s, default, &format!("{path}.default"), &mut default_errs);
        for e in default_errs {
            errs.push(FieldError::invalid(
                format!("{path}.default"),
                BadValue::from_json(default),
                e.detail_text(),
            ));
        }
    }
    s
}

/// The structural rules upstream's apiextensions validation applies: every
/// specified node has a type (unless it is int-or-string or keeps unknown
/// fields), arrays have items, and the root is an object.
fn check_structural(s: &Schema, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    if s.kind.is_none() && !s.int_or_string && !s.preserve_unknown {
        errs.push(FieldError::required(
            format!("{path}.type"),
            "must not be empty for specified object fields",
        ));
    }
    if root && s.kind.as_deref().is_some_and(|k| k != "object") {
        errs.push(FieldError::invalid(
            format!("{path}.type"),
            s.kind.clone().unwrap_or_default(),
            "must be object at the root",
        ));
    }
    if s.kind.as_deref() == Some("array") && s.items.is_none() {
        errs.push(FieldError::required(
            format!("{path}.items"),
            "must be specified",
        ));
    }
    if s.int_or_string && s.kind.is_some() {
        errs.push(FieldError::forbidden(
            format!("{path}.type"),
            "must be empty if x-kubernetes-int-or-string is true",
        ));
    }
    if let Some(list_type) = &s.list_type {
        if !matches!(list_type.as_str(), "atomic" | "set" | "map") {
            errs.push(FieldError::not_supported(
                format!("{path}.x-kubernetes-list-type"),
                list_type.as_str(),
                &["atomic", "set", "map"],
            ));
        }
        if s.kind.as_deref() != Some("array") {
            errs.push(FieldError::invalid(
                format!("{path}.type"),
                s.kind.clone().unwrap_or_default(),
                "must be array if x-kubernetes-list-type is specified",
            ));
        }
        if list_type == "map" && s.list_map_keys.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.x-kubernetes-list-map-keys"),
                "must not be empty if x-kubernetes-list-type is map",
            ));
        }
    }
    if root && let Some(meta) = s.properties.get("metadata") {
        let allowed = ["name", "generateName"];
        if meta
            .properties
            .keys()
            .any(|k| !allowed.contains(&k.as_str()))
            || meta.kind.as_deref().is_some_and(|k| k != "object")
        {
            errs.push(FieldError::forbidden(
                format!("{path}.properties[metadata]"),
                "must not specify anything other than name and generateName, but metadata is implicitly specified",
            ));
        }
    }
}

impl FieldError {
    /// The error's text after the path, as it appears inside another
    /// message.
    pub(crate) fn detail_text(&self) -> String {
        if self.detail.is_empty() {
            self.body()
        } else {
            self.detail.clone()
        }
    }
}

impl Schema {
    /// The node at a field path as server-side apply names it (object
    /// field names from the root, list elements stepped through).
    pub fn node_at(&self, path: &[&str]) -> Option<&Schema> {
        let mut at = self;
        for key in path {
            while at.kind.as_deref() == Some("array") {
                at = at.items.as_deref()?;
            }
            at = match at.properties.get(*key) {
                Some(p) => p,
                None => match &at.additional {
                    Additional::Schema(extra) => extra,
                    _ => return None,
                },
            };
        }
        Some(at)
    }
}

fn str_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_string)
}

fn bool_of(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn num_of(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key).and_then(Value::as_f64)
}

fn uint_of(map: &Map<String, Value>, key: &str) -> Option<u64> {
    map.get(key).and_then(Value::as_u64)
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The fields of `value` the schema does not know, removed, with the
/// path of each (as `fieldValidation` reports them: `.spec.foo`).
/// `metadata` of the root and of embedded resources keeps only
/// ObjectMeta's fields, which the generic code checks.
pub fn prune(schema: &Schema, value: &mut Value, path: &str, pruned: &mut Vec<String>) {
    if schema.preserve_unknown && schema.properties.is_empty() && schema.items.is_none() {
        if let Additional::Schema(extra) = &schema.additional
            && let Value::Object(map) = value
        {
            for (k, v) in map.iter_mut() {
                prune(extra, v, &child(path, k), pruned);
            }
        }
        return;
    }
    match value {
        Value::Object(map) => {
            let keep_meta = schema.embedded;
            let mut gone = Vec::new();
            for (k, v) in map.iter_mut() {
                // The root's and an embedded resource's type and metadata
                // are ObjectMeta's, checked by the generic code.
                if (keep_meta || path.is_empty())
                    && matches!(k.as_str(), "apiVersion" | "kind" | "metadata")
                {
                    continue;
                }
                if let Some(prop) = schema.properties.get(k) {
                    prune(prop, v, &child(path, k), pruned);
                } else if let Additional::Schema(extra) = &schema.additional {
                    prune(extra, v, &child(path, k), pruned);
                } else if matches!(schema.additional, Additional::Allowed)
                    || schema.preserve_unknown
                {
                } else {
                    gone.push(k.clone());
                }
            }
            for k in gone {
                map.remove(&k);
                pruned.push(format!(".{}", child(path, &k)));
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, v) in items.iter_mut().enumerate() {
                    prune(item_schema, v, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

/// Sets the schema's defaults where a field is absent (and where it is
/// null but not nullable), as upstream's structural defaulting.
pub fn apply_defaults(schema: &Schema, value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, prop) in &schema.properties {
                let absent = match map.get(name) {
                    None => true,
                    Some(Value::Null) => !prop.nullable,
                    Some(_) => false,
                };
                if absent && let Some(default) = &prop.default {
                    map.insert(name.clone(), default.clone());
                }
                if let Some(v) = map.get_mut(name) {
                    apply_defaults(prop, v);
                }
            }
            if let Additional::Schema(extra) = &schema.additional {
                for v in map.values_mut() {
                    apply_defaults(extra, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for v in items {
                    apply_defaults(item_schema, v);
                }
            }
        }
        _ => {}
    }
}

/// The problems of `value` against the schema, paths relative to the
/// object's root (`spec.replicas`).
pub fn validate(schema: &Schema, value: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    // The root's metadata is ObjectMeta, checked by the generic code.
    if let (Value::Object(map), Some(_)) = (value, schema.kind.as_deref()) {
        for (name, prop) in &schema.properties {
            if matches!(name.as_str(), "metadata" | "apiVersion" | "kind") {
                continue;
            }
            if let Some(v) = map.get(name) {
                validate_node(prop, v, name, &mut errs);
            }
        }
        for required in &schema.required {
            if !map.contains_key(required) {
                errs.push(FieldError::required(required.clone(), ""));
            }
        }
        if let Additional::Schema(extra) = &schema.additional {
            for (k, v) in map {
                if !matches!(k.as_str(), "metadata" | "apiVersion" | "kind") {
                    validate_node(extra, v, k, &mut errs);
                }
            }
        }
    }
    errs
}

/// JSON's type name as the validator says it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match (kind, value) {
        ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("string", Value::String(_))
        | ("boolean", Value::Bool(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn in_body(path: &str, what: String) -> String {
    format!("{path} in body {what}")
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

pub(crate) fn validate_node(s: &Schema, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if value.is_null() {
        if !s.nullable && s.kind.is_some() && !s.preserve_unknown {
            errs.push(FieldError::new(
                ErrorKind::Invalid,
                path,
                BadValue::Str("null".into()),
                in_body(
                    path,
                    format!(
                        "must be of type {}: \"null\"",
                        s.kind.as_deref().unwrap_or("")
                    ),
                ),
            ));
        }
        return;
    }
    if s.int_or_string {
        if !matches!(value, Value::String(_)) && !type_matches("integer", value) {
            errs.push(FieldError::invalid(
                path,
                type_name(value),
                in_body(
                    path,
                    format!("must be of type integer,string: {:?}", type_name(value)),
                ),
            ));
            return;
        }
    } else if let Some(kind) = s.kind.as_deref()
        && !type_matches(kind, value)
    {
        errs.push(FieldError::invalid(
            path,
            type_name(value),
            in_body(
                path,
                format!("must be of type {kind}: {:?}", type_name(value)),
            ),
        ));
        return;
    }
    if !s.enumeration.is_empty() && !s.enumeration.contains(value) {
        let allowed: Vec<String> = s
            .enumeration
            .iter()
            .map(|v| match v {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        errs.push(FieldError::not_supported(
            path,
            BadValue::from_json(value),
            &allowed,
        ));
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(max) = s.maximum
                && (x > max || (s.exclusive_maximum && x >= max))
            {
                let op = if s.exclusive_maximum {
                    "less than"
                } else {
                    "less than or equal to"
                };
                errs.push(FieldError::invalid(
                    path,
                    BadValue::from_json(value),
                    in_body(path, format!("should be {op} {}", format_number(max))),
                ));
            }
            if let Some(min) = s.minimum
                && (x < min || (s.exclusive_minimum && x <= min))
            {
                let op = if s.exclusive_minimum {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                errs.push(FieldError::invalid(
                    path,
                    BadValue::from_json(value),
                    in_body(path, format!("should be {op} {}", format_number(min))),
                ));
            }
            if let Some(factor) = s.multiple_of
                && factor > 0.0
                && (x / factor).fract() != 0.0
            {
                errs.push(FieldError::invalid(
                    path,
                    BadValue::from_json(value),
                    in_body(
                        path,
                        format!("should be a multiple of {}", format_number(factor)),
                    ),
                ));
            }
        }
        Value::String(text) => {
            let chars = text.chars().count() as u64;
            if let Some(max) = s.max_length
                && chars > max
            {
                errs.push(FieldError::new(
                    ErrorKind::TooLong,
                    path,
                    BadValue::Omit,
                    format!("may not be more than {max} bytes"),
                ));
            }
            if let Some(min) = s.min_length
                && chars < min
            {
                errs.push(FieldError::invalid(
                    path,
                    text.as_str(),
                    in_body(path, format!("should be at least {min} chars long")),
                ));
            }
            if let Some((source, re)) = &s.pattern
                && !re.is_match(text)
            {
                errs.push(FieldError::invalid(
                    path,
                    text.as_str(),
                    in_body(path, format!("should match '{source}'")),
                ));
            }
            if let Some(format) = s.format.as_deref()
                && !format_ok(format, text)
            {
                errs.push(FieldError::invalid(
                    path,
                    text.as_str(),
                    in_body(path, format!("must be of type {format}: {text:?}")),
                ));
            }
        }
        Value::Array(items) => {
            if let Some(max) = s.max_items
                && items.len() as u64 > max
            {
                errs.push(FieldError::too_many(path, items.len(), max as usize));
            }
            if let Some(min) = s.min_items
                && (items.len() as u64) < min
            {
                errs.push(FieldError::invalid(
                    path,
                    BadValue::Int(items.len() as i64),
                    in_body(path, format!("should have at least {min} items")),
                ));
            }
            if s.unique_items || s.list_type.as_deref() == Some("set") {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        errs.push(FieldError::duplicate(
                            format!("{path}[{i}]"),
                            BadValue::from_json(item),
                        ));
                    }
                }
            }
            if s.list_type.as_deref() == Some("map") {
                let mut seen: Vec<Vec<&Value>> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let key: Vec<&Value> = s
                        .list_map_keys
                        .iter()
                        .map(|k| item.get(k).unwrap_or(&Value::Null))
                        .collect();
                    if seen.contains(&key) {
                        let shown: Vec<String> = s
                            .list_map_keys
                            .iter()
                            .zip(&key)
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect();
                        errs.push(FieldError::duplicate(
                            format!("{path}[{i}]"),
                            BadValue::Raw(format!("map[{}]", shown.join(" "))),
                        ));
                    }
                    seen.push(key);
                }
            }
            if let Some(item_schema) = &s.items {
                for (i, item) in items.iter().enumerate() {
                    validate_node(item_schema, item, &format!("{path}[{i}]"), errs);
                }
            }
        }
        Value::Object(map) => {
            if let Some(max) = s.max_properties
                && map.len() as u64 > max
            {
                errs.push(FieldError::too_many(path, map.len(), max as usize));
            }
            if let Some(min) = s.min_properties
                && (map.len() as u64) < min
            {
                errs.push(FieldError::invalid(
                    path,
                    BadValue::Int(map.len() as i64),
                    in_body(path, format!("should have at least {min} properties")),
                ));
            }
            for required in &s.required {
                if !map.contains_key(required) {
                    errs.push(FieldError::required(child(path, required), ""));
                }
            }
            for (k, v) in map {
                if s.embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(prop) = s.properties.get(k) {
                    validate_node(prop, v, &child(path, k), errs);
                } else if let Additional::Schema(extra) = &s.additional {
                    validate_node(extra, v, &child(path, k), errs);
                }
            }
            if s.embedded {
                for field in ["apiVersion", "kind"] {
                    if map
                        .get(field)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        errs.push(FieldError::required(
                            child(path, field),
                            "must not be empty",
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    for sub in &s.all_of {
        validate_node(sub, value, path, errs);
    }
    if !s.any_of.is_empty()
        && !s.any_of.iter().any(|sub| {
            let mut e = Vec::new();
            validate_node(sub, value, path, &mut e);
            e.is_empty()
        })
    {
        errs.push(FieldError::invalid(
            path,
            BadValue::from_json(value),
            in_body(path, "must validate at least one schema (anyOf)".into()),
        ));
    }
    if !s.one_of.is_empty() {
        let passing = s
            .one_of
            .iter()
            .filter(|sub| {
                let mut e = Vec::new();
                validate_node(sub, value, path, &mut e);
                e.is_empty()
            })
            .count();
        if passing != 1 {
            errs.push(FieldError::invalid(
                path,
                BadValue::from_json(value),
                in_body(path, "must validate one and only one schema (oneOf)".into()),
            ));
        }
    }
    if let Some(not) = &s.not {
        let mut e = Vec::new();
        validate_node(not, value, path, &mut e);
        if e.is_empty() {
            errs.push(FieldError::invalid(
                path,
                BadValue::from_json(value),
                in_body(path, "must not validate the schema (not)".into()),
            ));
        }
    }
}

/// The string formats upstream checks (the others are accepted as they
/// are, as kube-openapi does for unknown formats).
fn format_ok(format: &str, text: &str) -> bool {
    match format {
        "int32" | "int64" | "float" | "double" | "byte" | "binary" | "password" => true,
        "date-time" | "datetime" => {
            jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%:z", text).is_ok()
                || text.parse::<jiff::Timestamp>().is_ok()
        }
        "date" => text.parse::<jiff::civil::Date>().is_ok(),
        "ipv4" => text.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => text.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => text.parse::<ipnet::IpNet>().is_ok(),
        "uuid" => uuid::Uuid::parse_str(text).is_ok(),
        "hostname" => crate::names::is_dns1123_subdomain(text).is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        let mut errs = Vec::new();
        let s = parse(&v, "spec.validation.openAPIV3Schema", &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        s
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn widget() -> Schema {
        schema(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["size"],
                    "properties": {
                        "size": { "type": "integer", "minimum": 1, "maximum": 10 },
                        "mode": { "type": "string", "enum": ["fast", "slow"], "default": "fast" },
                        "name": { "type": "string", "pattern": "^[a-z]+$", "maxLength": 5 },
                        "tags": { "type": "array", "items": { "type": "string" }, "x-kubernetes-list-type": "set" },
                        "port": { "x-kubernetes-int-or-string": true },
                        "free": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                        "labels": { "type": "object", "additionalProperties": { "type": "string" } }
                    }
                },
                "status": { "type": "object", "properties": { "ready": { "type": "boolean" } } }
            }
        }))
    }

    #[test]
    fn type_errors_read_as_upstreams() {
        let errs = validate(&widget(), &json!({ "spec": { "size": "big" } }));
        assert_eq!(
            messages(&errs),
            [
                r#"spec.size: Invalid value: "string": spec.size in body must be of type integer: "string""#
            ]
        );
    }

    #[test]
    fn bounds_enums_patterns_and_required() {
        let errs = validate(
            &widget(),
            &json!({ "spec": { "size": 0, "mode": "medium", "name": "ABCDEFG", "tags": ["a", "a"] } }),
        );
        let got = messages(&errs);
        assert!(got.contains(&"spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1".to_string()), "{got:?}");
        assert!(
            got.contains(
                &r#"spec.mode: Unsupported value: "medium": supported values: "fast", "slow""#
                    .to_string()
            ),
            "{got:?}"
        );
        assert!(
            got.contains(&"spec.name: Too long: may not be more than 5 bytes".to_string()),
            "{got:?}"
        );
        assert!(got.contains(&r#"spec.name: Invalid value: "ABCDEFG": spec.name in body should match '^[a-z]+$'"#.to_string()), "{got:?}");
        assert!(
            got.contains(&r#"spec.tags[1]: Duplicate value: "a""#.to_string()),
            "{got:?}"
        );
        let errs = validate(&widget(), &json!({ "spec": {} }));
        assert_eq!(messages(&errs), ["spec.size: Required value"]);
    }

    #[test]
    fn int_or_string_takes_both() {
        assert!(validate(&widget(), &json!({ "spec": { "size": 1, "port": 80 } })).is_empty());
        assert!(validate(&widget(), &json!({ "spec": { "size": 1, "port": "http" } })).is_empty());
        assert_eq!(
            validate(&widget(), &json!({ "spec": { "size": 1, "port": true } })).len(),
            1
        );
    }

    #[test]
    fn pruning_drops_unknown_fields_but_keeps_preserved_ones() {
        let mut v = json!({
            "apiVersion": "x/v1", "kind": "W", "metadata": { "name": "a" },
            "spec": { "size": 1, "extra": 1, "free": { "anything": { "deep": 1 } }, "labels": { "a": "b" } },
            "other": true
        });
        let mut pruned = Vec::new();
        let s = widget();
        prune(&s, &mut v, "", &mut pruned);
        pruned.sort();
        assert_eq!(pruned, [".other", ".spec.extra"]);
        assert_eq!(v["spec"]["free"]["anything"]["deep"], 1);
        assert_eq!(v["spec"]["labels"]["a"], "b");
    }

    #[test]
    fn defaults_fill_absent_fields() {
        let mut v = json!({ "spec": { "size": 1 } });
        apply_defaults(&widget(), &mut v);
        assert_eq!(v["spec"]["mode"], "fast");
        let mut v = json!({ "spec": { "size": 1, "mode": "slow" } });
        apply_defaults(&widget(), &mut v);
        assert_eq!(v["spec"]["mode"], "slow");
    }

    #[test]
    fn schemas_that_are_not_structural_are_refused() {
        let mut errs = Vec::new();
        parse(
            &json!({ "type": "object", "properties": { "spec": { "properties": { "a": { "type": "array" } } } } }),
            "s",
            &mut errs,
        );
        let got = messages(&errs);
        assert!(got.contains(&"s.properties[spec].type: Required value: must not be empty for specified object fields".to_string()), "{got:?}");
        assert!(
            got.contains(
                &"s.properties[spec].properties[a].items: Required value: must be specified"
                    .to_string()
            ),
            "{got:?}"
        );
        let mut errs = Vec::new();
        parse(
            &json!({ "type": "object", "properties": { "a": { "type": "integer", "default": "x" } } }),
            "s",
            &mut errs,
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
    }

    proptest::proptest! {
        /// Whatever a client sends, validation and pruning never panic, and
        /// pruning leaves nothing the schema does not know.
        #[test]
        fn arbitrary_objects_never_panic(v in crate::custom::tests::arbitrary_json()) {
            let s = widget();
            let _ = validate(&s, &v);
            let mut pruned_value = json!({ "spec": v.clone(), "junk": v });
            let mut pruned = Vec::new();
            prune(&s, &mut pruned_value, "", &mut pruned);
            proptest::prop_assert!(pruned_value.get("junk").is_none());
            apply_defaults(&s, &mut pruned_value);
        }
    }
}
