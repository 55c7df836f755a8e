//! Secrets.

use base64::Engine;
use serde_json::{Value, json};

use crate::names::FieldError;
use crate::registry::Strategy;
use crate::selector::{Fields, str_at};
use crate::table::{self, Printer};
use crate::validation::config;

#[derive(Debug)]
pub struct SecretStrategy;

impl Strategy for SecretStrategy {
    /// `stringData` is folded into `data`; the type defaults to `Opaque`.
    fn normalize(&self, object: &mut Value) {
        if let Some(Value::Object(string_data)) =
            object.as_object_mut().and_then(|m| m.remove("stringData"))
        {
            if !object.get("data").is_some_and(Value::is_object) {
                object["data"] = json!({});
            }
            for (k, v) in string_data {
                let text = v.as_str().unwrap_or_default();
                object["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
            }
        }
        if object
            .get("type")
            .is_none_or(|t| t.as_str().is_none_or(str::is_empty))
        {
            object["type"] = json!("Opaque");
        }
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        config::validate_secret(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        config::validate_secret_update(old, new)
    }

    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(&["type", "metadata.namespace", "metadata.name"])
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        out.push(("type", str_at(object, &["type"]).to_string()));
    }

    fn printer(&self) -> &'static Printer {
        &table::config::SECRET
    }
}
