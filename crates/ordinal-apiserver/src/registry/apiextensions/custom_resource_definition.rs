//! CustomResourceDefinitions: upstream's defaulting and validation
//! (`apiextensions/validation`), with the cleanup finalizer and the stored
//! versions the apiextensions strategy keeps. What a CRD serves is
//! `crate::custom`'s.

use serde_json::{Value, json};

use crate::custom::{self, CLEANUP_FINALIZER};
use crate::defaults::Context;
use crate::names::{self, FieldError};
use crate::registry::Strategy;

#[derive(Debug)]
pub struct CustomResourceDefinitionStrategy;

impl Strategy for CustomResourceDefinitionStrategy {
    fn default(&self, object: &mut Value, _ctx: &Context) {
        let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        spec.entry("conversion")
            .or_insert_with(|| json!({ "strategy": "None" }));
        if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
            let kind = names
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !kind.is_empty() {
                names
                    .entry("singular")
                    .or_insert_with(|| json!(kind.to_lowercase()));
                names
                    .entry("listKind")
                    .or_insert_with(|| json!(format!("{kind}List")));
            }
        }
    }

    fn prepare_for_create(&self, object: &mut Value) {
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f == CLEANUP_FINALIZER)
            {
                list.push(json!(CLEANUP_FINALIZER));
            }
        }
        let storage = storage_version(object);
        if let Some(map) = object.as_object_mut() {
            map.insert(
                "status".into(),
                json!({
                    "conditions": [],
                    "acceptedNames": { "plural": "", "kind": "" },
                    "storedVersions": storage.into_iter().collect::<Vec<_>>(),
                }),
            );
        }
    }

    fn normalize(&self, object: &mut Value) {
        // The storage version joins the stored versions on every write.
        let Some(storage) = storage_version(object) else {
            return;
        };
        let Some(map) = object.as_object_mut() else {
            return;
        };
        let status = map.entry("status").or_insert_with(|| json!({}));
        let Some(status) = status.as_object_mut() else {
            return;
        };
        let stored = status.entry("storedVersions").or_insert_with(|| json!([]));
        if let Some(list) = stored.as_array_mut()
            && !list.iter().any(|v| v == &json!(storage))
        {
            list.push(json!(storage));
        }
    }

    fn validate_create(&self, object: &Value) -> Vec<FieldError> {
        validate(object)
    }

    fn validate_update(&self, old: &Value, new: &Value) -> Vec<FieldError> {
        let mut errs = validate(new);
        for (path, pointer) in [
            ("spec.group", "/spec/group"),
            ("spec.names.plural", "/spec/names/plural"),
        ] {
            if old.pointer(pointer) != new.pointer(pointer) {
                errs.push(FieldError::invalid(
                    path,
                    names_value(new.pointer(pointer)),
                    "field is immutable",
                ));
            }
        }
        if old.pointer("/spec/scope") != new.pointer("/spec/scope") {
            errs.push(FieldError::invalid(
                "spec.scope",
                names_value(new.pointer("/spec/scope")),
                "field is immutable",
            ));
        }
        let versions: Vec<&str> = version_names(new);
        if let Some(Value::Array(stored)) = new.pointer("/status/storedVersions") {
            for (i, v) in stored.iter().filter_map(Value::as_str).enumerate() {
                if !versions.contains(&v) {
                    errs.push(FieldError::invalid(
                        format!("status.storedVersions[{i}]"),
                        v,
                        "must appear in spec.versions",
                    ));
                }
            }
        }
        errs
    }
}

fn names_value(v: Option<&Value>) -> names::BadValue {
    v.map(names::BadValue::from_json)
        .unwrap_or(names::BadValue::Null)
}

fn version_names(object: &Value) -> Vec<&str> {
    object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.get("name")?.as_str()).collect())
        .unwrap_or_default()
}

fn storage_version(object: &Value) -> Option<String> {
    object
        .pointer("/spec/versions")?
        .as_array()?
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Upstream's `ValidateCustomResourceDefinition`, for what a user writes.
fn validate(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = text(crd, "/spec/group");
    let plural = text(crd, "/spec/names/plural");
    let name = text(crd, "/metadata/name");
    if name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        for e in names::is_dns1123_subdomain(group) {
            errs.push(FieldError::invalid("spec.group", group, e));
        }
        if !group.contains('.') {
            errs.push(FieldError::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    match text(crd, "/spec/scope") {
        "Cluster" | "Namespaced" => {}
        "" => errs.push(FieldError::required("spec.scope", "")),
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    validate_names(crd, &mut errs);
    let versions = crd.pointer("/spec/versions").and_then(Value::as_array);
    match versions {
        None => errs.push(FieldError::required(
            "spec.versions",
            "must have at least one version",
        )),
        Some(list) if list.is_empty() => {
            errs.push(FieldError::invalid(
                "spec.versions",
                names::BadValue::Raw("[]".into()),
                "must have exactly one version marked as storage version",
            ));
        }
        Some(list) => {
            let storage = list
                .iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .count();
            if storage != 1 {
                errs.push(FieldError::invalid(
                    "spec.versions",
                    names::BadValue::Raw(format!("{} versions marked as storage", storage)),
                    "must have exactly one version marked as storage version",
                ));
            }
            let mut seen: Vec<&str> = Vec::new();
            for (i, v) in list.iter().enumerate() {
                let vname = text(v, "/name");
                let at = format!("spec.versions[{i}]");
                for e in names::is_dns1035_label(vname) {
                    errs.push(FieldError::invalid(format!("{at}.name"), vname, e));
                }
                if seen.contains(&vname) {
                    errs.push(FieldError::invalid(
                        format!("{at}.name"),
                        vname,
                        "must be unique",
                    ));
                }
                seen.push(vname);
            }
            if !list
                .iter()
                .any(|v| v.get("served").and_then(Value::as_bool) == Some(true))
            {
                errs.push(FieldError::invalid(
                    "spec.versions",
                    names::BadValue::Raw("[]".into()),
                    "must have at least one version marked as served",
                ));
            }
        }
    }
    match text(crd, "/spec/conversion/strategy") {
        "" | "None" => {}
        "Webhook" => errs.push(FieldError::forbidden(
            "spec.conversion.strategy",
            "webhook conversion is not supported by this API server yet; use strategy None (every version then serves the stored object with its own apiVersion)",
        )),
        other => errs.push(FieldError::not_supported(
            "spec.conversion.strategy",
            other,
            &["None", "Webhook"],
        )),
    }
    errs.extend(custom::validate_versions(crd));
    errs
}

fn validate_names(crd: &Value, errs: &mut Vec<FieldError>) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or_default();
    let plural = text(&names, "/plural");
    if plural.is_empty() {
        errs.push(FieldError::required("spec.names.plural", ""));
    } else {
        for e in names::is_dns1035_label(plural) {
            errs.push(FieldError::invalid("spec.names.plural", plural, e));
        }
    }
    let singular = text(&names, "/singular");
    if !singular.is_empty() {
        for e in names::is_dns1035_label(singular) {
            errs.push(FieldError::invalid("spec.names.singular", singular, e));
        }
    }
    let kind = text(&names, "/kind");
    if kind.is_empty() {
        errs.push(FieldError::required("spec.names.kind", ""));
    } else {
        let lower = kind.to_lowercase();
        if !names::is_dns1035_label(&lower).is_empty() {
            errs.push(FieldError::invalid(
                "spec.names.kind",
                kind,
                "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?",
            ));
        }
    }
    let list_kind = text(&names, "/listKind");
    if !list_kind.is_empty() && list_kind == kind {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            list_kind,
            "kind and listKind may not be the same",
        ));
    }
    if let Some(Value::Array(shorts)) = names.get("shortNames") {
        for (i, s) in shorts.iter().enumerate() {
            let s = s.as_str().unwrap_or("");
            for e in names::is_dns1035_label(s) {
                errs.push(FieldError::invalid(
                    format!("spec.names.shortNames[{i}]"),
                    s,
                    e,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_crd_is_valid_and_bad_ones_say_why() {
        let good = custom::tests::widget_crd();
        assert!(
            validate(&good).is_empty(),
            "{:?}",
            messages(&validate(&good))
        );
        let mut bad = good.clone();
        bad["metadata"]["name"] = json!("widgets.other.com");
        bad["spec"]["versions"][1]["storage"] = json!(true);
        bad["spec"]["conversion"] = json!({ "strategy": "Webhook" });
        let got = messages(&validate(&bad));
        assert!(
            got.iter()
                .any(|m| m.starts_with("metadata.name: Invalid value: \"widgets.other.com\"")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|m| m.contains("must have exactly one version marked as storage version")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|m| m.starts_with("spec.conversion.strategy: Forbidden: webhook conversion")),
            "{got:?}"
        );
    }

    #[test]
    fn creation_adds_the_cleanup_finalizer_and_stored_versions() {
        let mut crd = custom::tests::widget_crd();
        CustomResourceDefinitionStrategy.prepare_for_create(&mut crd);
        assert_eq!(crd["metadata"]["finalizers"], json!([CLEANUP_FINALIZER]));
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    }
}
