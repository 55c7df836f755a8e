//! The strategy of one served version of a custom resource: what the
//! apiextensions server does with its objects, from the CRD's version
//! entry (schema, subresources, printer columns, selectable fields).

use serde_json::{Value, json};

use crate::defaults::Context;
use crate::names::FieldError;
use crate::registry::Strategy;
use crate::selector::Fields;
use crate::table::{Column, Printer};

use super::schema::{self, Schema};
use super::{cel, jsonpath};

/// One printer column of `additionalPrinterColumns`.
#[derive(Debug)]
pub struct PrinterColumn {
    pub(crate) column: Column,
    pub(crate) path: jsonpath::Path,
}

/// The `scale` subresource's paths.
#[derive(Debug, Clone)]
pub struct ScalePaths {
    /// `specReplicasPath`: where the desired count is.
    pub spec_replicas: String,
    /// `statusReplicasPath`: where the observed count is.
    pub status_replicas: String,
    /// `labelSelectorPath`: where the selector's string form is.
    pub label_selector: Option<String>,
}

/// What the server does with one version of a custom resource.
#[derive(Debug)]
pub struct CustomStrategy {
    pub(crate) api_version: &'static str,
    pub(crate) storage_api_version: &'static str,
    pub(crate) prefix: &'static str,
    pub(crate) schema: Schema,
    /// The version's `openAPIV3Schema` as written, for OpenAPI.
    pub(crate) raw_schema: Value,
    pub(crate) columns: &'static [Column],
    pub(crate) printer_columns: Vec<PrinterColumn>,
    pub(crate) selectable: &'static [&'static str],
    pub(crate) selectable_paths: Vec<(&'static str, jsonpath::Path)>,
    pub(crate) scale: Option<ScalePaths>,
    /// Whether the version has the `status` subresource.
    pub(crate) status: bool,
    /// Whether the CRD is being deleted: its objects may not be created.
    pub(crate) terminating: bool,
}

impl CustomStrategy {
    fn validate(&self, object: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = schema::validate(&self.schema, object);
        if errs.is_empty() {
            cel::validate(&self.schema, object, old, "", &mut errs);
        }
        errs
    }
}

impl Strategy for CustomStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        // With a status subresource, a new object starts without one, as
        // upstream's custom resource strategy makes it.
        if self.status
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
    }

    fn default(&self, object: &mut Value, _ctx: &Context) {
        schema::apply_defaults(&self.schema, object);
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        self.validate(object, None)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        self.validate(new, Some(old))
    }

    fn validate_status_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        self.validate(new, Some(old))
    }

    fn prune_unknown(&self, object: &mut Value) -> Option<Vec<String>> {
        let mut pruned = Vec::new();
        schema::prune(&self.schema, object, "", &mut pruned);
        Some(
            pruned
                .into_iter()
                .map(|p| p.trim_start_matches('.').to_string())
                .collect(),
        )
    }

    fn creatable(&self) -> Result<(), String> {
        if self.terminating {
            Err("create not allowed while custom resource definition is terminating".into())
        } else {
            Ok(())
        }
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(self.selectable)
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        for (label, path) in &self.selectable_paths {
            if let Some(v) = path.first(object) {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push((label, text));
            }
        }
    }

    fn table_columns(&self) -> &'static [Column] {
        self.columns
    }

    fn table_cells(&self, object: &Value, now: jiff::Timestamp) -> Vec<Value> {
        let mut cells = vec![
            object
                .pointer("/metadata/name")
                .cloned()
                .unwrap_or(Value::Null),
        ];
        for column in &self.printer_columns {
            let value = column.path.first(object).cloned().unwrap_or(Value::Null);
            cells.push(cell(column.column.kind, value, now));
        }
        cells
    }

    fn printer(&self) -> &'static Printer {
        &crate::table::DEFAULT
    }

    fn storage_prefix(&self) -> Option<&'static str> {
        // The storage version's objects go out as stored (a LIST is the
        // stored bytes); another version's are converted on the way, which
        // with strategy `None` is their `apiVersion`.
        (self.api_version != self.storage_api_version).then_some(self.prefix)
    }

    fn stored_form(&self, object: &mut Value) {
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), json!(self.storage_api_version));
        }
    }

    fn served_form(&self, object: &mut Value) {
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), json!(self.api_version));
        }
    }

    fn custom(&self) -> Option<&CustomStrategy> {
        Some(self)
    }
}

/// A printer column's cell as upstream's table convertor gives it: the
/// value when it has the column's type, else nothing.
/// A `date` is shown as the time since it, as upstream's convertor does.
fn cell(kind: &str, value: Value, now: jiff::Timestamp) -> Value {
    if kind == "date" {
        return match value.as_str() {
            Some(t) if t.parse::<jiff::Timestamp>().is_ok() => {
                Value::String(crate::table::age(Some(t), now))
            }
            _ => Value::Null,
        };
    }
    match (kind, &value) {
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => value,
        ("number", Value::Number(_)) => value,
        ("boolean", Value::Bool(_)) => value,
        ("string" | "date", Value::String(_)) => value,
        ("string", Value::Number(_) | Value::Bool(_)) => Value::String(value.to_string()),
        ("string", Value::Array(_) | Value::Object(_)) => Value::String(value.to_string()),
        _ => Value::Null,
    }
}
