//! Updates of a StatefulSet's `volumeClaimTemplates`, which ordinal lets
//! change where upstream forbids any change (upstream's KEP-4650 is not
//! merged).
//!
//! A template may be added. Of an existing template (matched by name) the
//! storage request may grow and the labels and annotations may change; the
//! StatefulSet controller carries those to the existing claims. Shrinking
//! the request, changing `storageClassName`, `accessModes`, `volumeMode` or
//! `selector`, and removing or renaming a template are refused, one error
//! per field. Any other difference inside a template is left to the set's
//! generic rule, which refuses it with upstream's message.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::common::{IMMUTABLE, Path, go_label_selector, go_string_slice, semantic_eq};
use crate::names::{BadValue, FieldError};
use crate::quantity;

/// What an existing template may do instead, said after every refusal.
const ALLOWED: &str = "of an existing volumeClaimTemplate only the storage request may change (grow), and its labels and annotations";

/// The fields of a template's claim spec that have their own error.
const IMMUTABLE_FIELDS: &[&str] = &["storageClassName", "accessModes", "volumeMode", "selector"];

/// The templates of a spec by name (the first of a name wins), with their
/// index.
fn by_name(spec: &Value) -> BTreeMap<&str, (usize, &Value)> {
    let mut out = BTreeMap::new();
    let templates = spec
        .get("volumeClaimTemplates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, template) in templates.iter().enumerate() {
        let name = template
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        out.entry(name).or_insert((i, template));
    }
    out
}

/// Checks the changes from `old_spec`'s templates to `new_spec`'s, adding
/// an error per refused change to `errs`. Returns the two template lists as
/// the generic comparison of the rest of the spec must see them: only the
/// templates both specs have, keyed by name, without what this module
/// decided on.
pub(super) fn check_update(
    old_spec: &Value,
    new_spec: &Value,
    errs: &mut Vec<FieldError>,
) -> (Value, Value) {
    let (old, new) = (by_name(old_spec), by_name(new_spec));
    let path = Path::new("spec").child("volumeClaimTemplates");
    for name in old.keys() {
        if !new.contains_key(name) {
            errs.push(FieldError::forbidden(
                &path,
                format!(
                    "may not remove or rename volumeClaimTemplate {name:?}: volumeClaimTemplates may be added; {ALLOWED}"
                ),
            ));
        }
    }
    let mut old_kept = Map::new();
    let mut new_kept = Map::new();
    for (name, &(index, template)) in &new {
        let Some(&(_, previous)) = old.get(name) else {
            continue;
        };
        let spec_path = path.index(index).child("spec");
        storage(previous, template, &spec_path, errs);
        immutable_fields(previous, template, &spec_path, errs);
        old_kept.insert(name.to_string(), comparable(previous));
        new_kept.insert(name.to_string(), comparable(template));
    }
    (Value::Object(old_kept), Value::Object(new_kept))
}

/// The storage request may grow, not shrink or go.
fn storage(old: &Value, new: &Value, spec_path: &Path, errs: &mut Vec<FieldError>) {
    const STORAGE: &str = "/spec/resources/requests/storage";
    let path = spec_path
        .child("resources")
        .child("requests")
        .child("storage");
    let (Some(old_value), new_value) = (old.pointer(STORAGE), new.pointer(STORAGE)) else {
        // Nothing to shrink from.
        return;
    };
    let Some(new_value) = new_value.filter(|v| !v.is_null()) else {
        errs.push(FieldError::required(
            &path,
            format!("may not be removed; {ALLOWED}"),
        ));
        return;
    };
    // A request that does not parse is the claim validation's to report
    // when a claim is made from it; unparsed, it is compared as text.
    let shrinks = match (
        quantity::from_json(old_value),
        quantity::from_json(new_value),
    ) {
        (Some(old_size), Some(new_size)) => new_size < old_size,
        _ => old_value != new_value,
    };
    if shrinks {
        errs.push(FieldError::invalid(
            &path,
            quantity::text(new_value),
            format!(
                "may not be less than the previous value {}; {ALLOWED}",
                quantity::text(old_value)
            ),
        ));
    }
}

/// `storageClassName`, `accessModes`, `volumeMode` and `selector` stay.
fn immutable_fields(old: &Value, new: &Value, spec_path: &Path, errs: &mut Vec<FieldError>) {
    let field = |v: &'_ Value, key: &str| -> Value {
        v.get("spec")
            .and_then(|s| s.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    for key in IMMUTABLE_FIELDS {
        let (before, after) = (field(old, key), field(new, key));
        let same = if *key == "storageClassName" {
            // "" (no class) and unset (the default class) differ here.
            before == after
        } else {
            semantic_eq(&before, &after)
        };
        if same {
            continue;
        }
        let shown = match (*key, &after) {
            (_, Value::Null) => BadValue::Null,
            ("accessModes", modes) => BadValue::Raw(go_string_slice(Some(modes))),
            ("selector", selector) => BadValue::Raw(go_label_selector(selector)),
            (_, other) => BadValue::from_json(other),
        };
        errs.push(FieldError::invalid(
            spec_path.child(key),
            shown,
            format!("{IMMUTABLE}; {ALLOWED}"),
        ));
    }
}

/// A template without the parts this module rules on.
fn comparable(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(meta) = template.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("labels");
        meta.remove("annotations");
    }
    if let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) {
        for key in IMMUTABLE_FIELDS {
            spec.remove(*key);
        }
        if let Some(requests) = spec
            .get_mut("resources")
            .and_then(|r| r.get_mut("requests"))
            .and_then(Value::as_object_mut)
        {
            requests.remove("storage");
        }
    }
    template
}
