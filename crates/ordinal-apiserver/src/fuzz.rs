//! Entry points for fuzzing: each takes arbitrary bytes as a client could
//! send them and runs the server's code on them; none may panic, loop or
//! allocate without bound, whatever the bytes.
//!
//! The same functions are driven two ways: by `cargo fuzz` (the `fuzz/`
//! directory at the workspace root, which needs a nightly toolchain), and
//! by proptest in the ordinary test suite on stable
//! (`tests/fuzz_targets.rs`), which also replays every input the fuzzers
//! ever found a crash with (`fuzz/regressions/<target>/`).
//!
//! Inputs made of two documents (an object and a patch for it) are split
//! at the first `0xFF` byte, which never occurs in UTF-8 text.

use ordinal_core::quantity::Quantity;
use serde_json::{Value, json};

use crate::decode::{self, Format};
use crate::fields::KindSchema;
use crate::negotiate::BodyType;
use crate::patch;
use crate::resources::{self, Resource};
use crate::selector::{FieldSelector, LabelSelector};
use crate::storable;

/// The kind an input is about: the served kind its JSON names (`kind` and
/// `apiVersion`), else one picked by the input's length, so every kind
/// gets inputs.
fn resource_for(data: &[u8]) -> &'static Resource {
    let named = serde_json::from_slice::<Value>(split(data).0)
        .ok()
        .and_then(|v| {
            let kind = v.get("kind")?.as_str()?;
            let group = v
                .get("apiVersion")?
                .as_str()?
                .rsplit_once('/')
                .map_or("", |(g, _)| g);
            resources::by_kind(group, kind)
        });
    named.unwrap_or_else(|| {
        let served = resources::RESOURCES;
        &served[data.len() % served.len()]
    })
}

/// A small valid object of `resource`'s kind, the base that patches
/// change when the input carries none.
fn sample(resource: &Resource) -> Value {
    json!({
        "apiVersion": resource.api_version(),
        "kind": resource.kind,
        "metadata": {"name": "fuzz", "namespace": "default", "labels": {"app": "fuzz"},
                     "uid": "0", "resourceVersion": "1"},
        "spec": {"containers": [{"name": "c", "image": "i"}], "replicas": 1,
                 "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
        "data": {"a": "b"},
    })
}

/// Splits at the first `0xFF`: `(before, Some(after))`, or the whole input.
fn split(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// What a decoded write goes through after decoding — defaults,
/// validation (as a create and as an update of the sample), the type check
/// and size limit — and what reading it back does (selector attributes, a
/// Table row): none of it may fail on anything a client sent.
fn check_decoded(resource: &Resource, value: &Value) {
    let mut defaulted = value.clone();
    crate::defaults::apply(
        resource,
        &mut defaulted,
        &crate::defaults::Context::create(Some("standard".into())),
    );
    let _ = crate::validation::validate_create(resource, &defaulted);
    let old = sample(resource);
    let mut updated = value.clone();
    crate::defaults::apply(
        resource,
        &mut updated,
        &crate::defaults::Context::update(&old),
    );
    let _ = crate::validation::validate_update(resource, &old, &updated, false);
    let _ = crate::validation::validate_update(resource, &old, &updated, true);
    let _ = storable::check(resource, "fuzz", value);
    let _ = storable::check_patched(resource, value);
    let _ = crate::selector::selectable_fields(resource, value);
    let _ = crate::selector::labels_of(value);
    let _ = crate::render::table_row(resource, value, crate::negotiate::IncludeObject::Object);
}

/// A request body in JSON, decoded and field-checked as a create is.
pub fn decode_json(data: &[u8]) {
    let resource = resource_for(data);
    if let Ok((value, report)) =
        decode::decode_checked(resource.group, resource.kind, data, Format::Json)
    {
        let _ = report.bad_request_message();
        let _ = report.warnings();
        check_decoded(resource, &value);
    }
    let _ = decode::parse_body(data, Format::Json);
}

/// A request body in YAML (`application/yaml`, apply configurations).
pub fn decode_yaml(data: &[u8]) {
    let resource = resource_for(data);
    if let Ok((value, report)) =
        decode::decode_checked(resource.group, resource.kind, data, Format::Yaml)
    {
        let _ = report.bad_request_message();
        check_decoded(resource, &value);
    }
}

/// A Kubernetes protobuf body (`k8s\0` envelope).
pub fn decode_protobuf(data: &[u8]) {
    if let Ok(value) = crate::protobuf::decode(data) {
        let text = value.to_string();
        let resource = resource_for(data);
        let _ =
            decode::decode_checked(resource.group, resource.kind, text.as_bytes(), Format::Json);
    }
}

/// The object a patch target starts from: the input's first document when
/// it is a JSON object, else the sample.
fn original(resource: &Resource, doc: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(doc) {
        Ok(v @ Value::Object(_)) => v,
        _ => sample(resource),
    }
}

fn patch_with(kind: BodyType, data: &[u8]) {
    let resource = resource_for(data);
    let (first, second) = split(data);
    let (object, body) = match second {
        Some(body) => (original(resource, first), body),
        None => (sample(resource), first),
    };
    if let Ok(parsed) = patch::parse(kind, resource, body)
        && let Ok(patched) = parsed.apply(&object)
    {
        check_decoded(resource, &patched);
    }
}

/// A JSON merge patch (RFC 7396), over a sample or the input's object.
pub fn merge_patch(data: &[u8]) {
    patch_with(BodyType::MergePatch, data);
}

/// A strategic merge patch.
pub fn strategic_patch(data: &[u8]) {
    patch_with(BodyType::StrategicMergePatch, data);
}

/// A JSON patch (RFC 6902), with the server's bounds on operations,
/// growth and depth.
pub fn json_patch(data: &[u8]) {
    patch_with(BodyType::JsonPatch, data);
}

/// Server-side apply of a YAML configuration over a sample or the input's
/// live object, as two managers.
pub fn server_side_apply(data: &[u8]) {
    let resource = resource_for(data);
    let (first, second) = split(data);
    let (live, config) = match second {
        Some(config) => (original(resource, first), config),
        None => (sample(resource), first),
    };
    let Ok(applied) = decode::parse_body(config, Format::Yaml) else {
        return;
    };
    if !applied.is_object() {
        return;
    }
    let schema = KindSchema::of(resource);
    let api_version = resource.api_version();
    for (manager, force) in [("fuzz-a", false), ("fuzz-b", true)] {
        if let Ok(result) = ordinal_apply::apply(
            Some(&live),
            &applied,
            manager,
            force,
            &api_version,
            None,
            &schema,
        ) {
            check_decoded(resource, &result);
            let _ =
                ordinal_apply::update(Some(&live), &result, manager, &api_version, None, &schema);
        }
    }
    let _ = ordinal_apply::apply(None, &applied, "fuzz", false, &api_version, None, &schema);
}

/// Label and field selectors (`labelSelector=`, `fieldSelector=`), parsed
/// and matched against a few label sets.
pub fn selectors(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let labels = [
        vec![],
        vec![("app".to_string(), "fuzz".to_string())],
        vec![
            ("a".to_string(), "".to_string()),
            ("n".to_string(), "12".to_string()),
        ],
    ];
    if let Ok(selector) = LabelSelector::parse(&text) {
        for set in &labels {
            let _ = selector.matches(set);
        }
    }
    if let Ok(selector) = FieldSelector::parse(&text) {
        for resource in resources::RESOURCES {
            if let Ok(converted) = selector.convert_for(resource) {
                let _ = converted.matches(&[("metadata.name", "fuzz".to_string())]);
            }
        }
    }
}

/// A resource quantity, parsed, compared and added.
pub fn quantity(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(q) = Quantity::parse(&text) {
        let _ = q.plus(q).cmp_value(q);
        let _ = q.is_negative() || q.is_zero() || q.is_positive();
    }
}
