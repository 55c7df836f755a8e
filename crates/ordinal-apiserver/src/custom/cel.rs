//! `x-kubernetes-validations`: CEL rules on a schema node, compiled once
//! when the CRD's row is built (a rule that does not compile makes the CRD
//! invalid, as upstream) and evaluated on every write with `self` bound to
//! the node's value (and `oldSelf` to the previous value on updates, for
//! transition rules). The language is the `cel` crate's.

use std::sync::Arc;

use cel::{Context, Program, Value as CelValue};
use serde_json::Value;

use crate::names::{BadValue, ErrorKind, FieldError};

use super::schema::{Additional, Schema};

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    source: String,
    program: Arc<Program>,
    message: Option<String>,
    reason: ErrorKind,
    field_path: Option<String>,
    /// Whether the rule reads `oldSelf` (a transition rule).
    transition: bool,
    optional_old_self: bool,
}

impl Rule {
    /// Compiles one entry of `x-kubernetes-validations`; problems are field
    /// errors under `path`.
    pub fn parse(entry: &Value, path: &str, errs: &mut Vec<FieldError>) -> Option<Rule> {
        let Some(source) = entry.get("rule").and_then(Value::as_str) else {
            errs.push(FieldError::required(format!("{path}.rule"), ""));
            return None;
        };
        let program = match Program::compile(source) {
            Ok(p) => p,
            Err(e) => {
                errs.push(FieldError::invalid(
                    format!("{path}.rule"),
                    source,
                    format!("compilation failed: {e}"),
                ));
                return None;
            }
        };
        let reason = match entry.get("reason").and_then(Value::as_str) {
            None | Some("FieldValueInvalid") => ErrorKind::Invalid,
            Some("FieldValueForbidden") => ErrorKind::Forbidden,
            Some("FieldValueRequired") => ErrorKind::Required,
            Some("FieldValueDuplicate") => ErrorKind::Duplicate,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    format!("{path}.reason"),
                    other,
                    &[
                        "FieldValueDuplicate",
                        "FieldValueForbidden",
                        "FieldValueInvalid",
                        "FieldValueRequired",
                    ],
                ));
                return None;
            }
        };
        let references = program.references();
        let transition = references.has_variable("oldSelf");
        Some(Rule {
            source: source.to_string(),
            message: entry
                .get("message")
                .and_then(Value::as_str)
                .filter(|m| !m.trim().is_empty())
                .map(str::to_string),
            reason,
            field_path: entry
                .get("fieldPath")
                .and_then(Value::as_str)
                .map(str::to_string),
            transition,
            optional_old_self: entry
                .get("optionalOldSelf")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            program: Arc::new(program),
        })
    }

    /// The error of this rule on `value` (at `path`), if it fails.
    fn check(&self, value: &Value, old: Option<&Value>, path: &str) -> Option<FieldError> {
        if self.transition && old.is_none() && !self.optional_old_self {
            return None;
        }
        let mut context = Context::default();
        context.add_variable_from_value("self", to_cel(value));
        if self.transition {
            match old {
                Some(old) => context.add_variable_from_value("oldSelf", to_cel(old)),
                None => context.add_variable_from_value("oldSelf", CelValue::Null),
            }
        }
        let field = match &self.field_path {
            Some(extra) if extra.starts_with('.') => format!("{path}{extra}"),
            Some(extra) => format!("{path}.{extra}"),
            None => path.to_string(),
        };
        let failed = match self.program.execute(&context) {
            Ok(CelValue::Bool(true)) => return None,
            Ok(CelValue::Bool(false)) => None,
            Ok(other) => Some(format!(
                "rule did not evaluate to a bool: {:?}",
                other.type_of()
            )),
            Err(e) => Some(format!("{e}")),
        };
        let detail = match (failed, &self.message) {
            (Some(runtime), _) => format!("{runtime}, evaluating rule: {}", self.source),
            (None, Some(message)) => message.clone(),
            (None, None) => format!("failed rule: {}", self.source),
        };
        let shown = match self.reason {
            ErrorKind::Invalid => BadValue::Str(super::schema::type_name(value).to_string()),
            _ => BadValue::Omit,
        };
        Some(FieldError::new(self.reason, field, shown, detail))
    }
}

/// A JSON value as CEL sees it: objects are maps, integers ints.
fn to_cel(value: &Value) -> CelValue {
    cel::to_value(value).unwrap_or(CelValue::Null)
}

/// Whether any node of the schema carries a rule.
pub fn has_rules(schema: &Schema) -> bool {
    !schema.rules.is_empty()
        || schema.properties.values().any(has_rules)
        || schema.items.as_deref().is_some_and(has_rules)
        || matches!(&schema.additional, Additional::Schema(s) if has_rules(s))
}

/// Evaluates every rule of the schema over `value` (and `old`, the previous
/// object on an update, for transition rules), depth first.
pub fn validate(
    schema: &Schema,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    if !has_rules(schema) {
        return;
    }
    walk(schema, value, old, path, errs);
}

fn walk(
    schema: &Schema,
    value: &Value,
    old: Option<&Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    match value {
        Value::Object(map) => {
            for (name, prop) in &schema.properties {
                if path.is_empty() && name == "metadata" {
                    continue;
                }
                if let Some(v) = map.get(name) {
                    let old_v = old.and_then(|o| o.get(name));
                    walk(prop, v, old_v, &join(path, name), errs);
                }
            }
            if let Additional::Schema(extra) = &schema.additional {
                for (k, v) in map {
                    walk(extra, v, old.and_then(|o| o.get(k)), &join(path, k), errs);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = &schema.items {
                // Old items are matched by position only for map lists'
                // keys upstream; positions are a fair approximation for
                // the others, and no old item is passed for sets.
                for (i, v) in items.iter().enumerate() {
                    let old_v = match schema.list_type.as_deref() {
                        Some("map") => old.and_then(Value::as_array).and_then(|olds| {
                            olds.iter()
                                .find(|o| schema.list_map_keys.iter().all(|k| o.get(k) == v.get(k)))
                        }),
                        _ => None,
                    };
                    walk(item_schema, v, old_v, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
    let shown_path = if path.is_empty() { "<nil>" } else { path };
    for rule in &schema.rules {
        if let Some(e) = rule.check(value, old, shown_path) {
            errs.push(e);
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Schema {
        let mut errs = Vec::new();
        let s = super::super::schema::parse(&v, "s", &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        s
    }

    fn replicas_schema() -> Schema {
        schema(json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "x-kubernetes-validations": [
                        { "rule": "self.minReplicas <= self.replicas", "message": "replicas should be at least minReplicas" },
                        { "rule": "!has(self.mode) || self.mode == oldSelf.mode", "message": "mode is immutable" },
                        { "rule": "self.replicas < 100" }
                    ],
                    "properties": {
                        "replicas": { "type": "integer" },
                        "minReplicas": { "type": "integer" },
                        "mode": { "type": "string" }
                    }
                }
            }
        }))
    }

    fn run(value: Value, old: Option<Value>) -> Vec<String> {
        let mut errs = Vec::new();
        validate(&replicas_schema(), &value, old.as_ref(), "", &mut errs);
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rules_pass_and_fail_with_their_messages() {
        assert!(run(json!({ "spec": { "replicas": 3, "minReplicas": 1 } }), None).is_empty());
        assert_eq!(
            run(json!({ "spec": { "replicas": 1, "minReplicas": 3 } }), None),
            [r#"spec: Invalid value: "object": replicas should be at least minReplicas"#]
        );
        assert_eq!(
            run(
                json!({ "spec": { "replicas": 200, "minReplicas": 3 } }),
                None
            ),
            [r#"spec: Invalid value: "object": failed rule: self.replicas < 100"#]
        );
    }

    #[test]
    fn transition_rules_see_the_old_object_only_on_updates() {
        let new = json!({ "spec": { "replicas": 3, "minReplicas": 1, "mode": "b" } });
        assert!(run(new.clone(), None).is_empty());
        let old = json!({ "spec": { "replicas": 3, "minReplicas": 1, "mode": "a" } });
        assert_eq!(
            run(new, Some(old)),
            [r#"spec: Invalid value: "object": mode is immutable"#]
        );
    }

    #[test]
    fn rules_that_do_not_compile_are_refused() {
        let mut errs = Vec::new();
        super::super::schema::parse(
            &json!({ "type": "object", "x-kubernetes-validations": [{ "rule": "self.a ==" }] }),
            "s",
            &mut errs,
        );
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].to_string().contains("compilation failed"),
            "{errs:?}"
        );
    }

    #[test]
    fn a_runtime_error_is_a_field_error_not_a_panic() {
        // `minReplicas` absent: the field is missing at evaluation.
        let got = run(json!({ "spec": { "replicas": 3 } }), None);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("spec: Invalid value: \"object\": "),
            "{got:?}"
        );
    }
}
