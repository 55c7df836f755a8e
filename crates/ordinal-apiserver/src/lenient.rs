//! Accessors over `serde_json` values for code that walks API objects
//! without trusting their shape.
//!
//! A missing field, a `null` and a value of the wrong JSON type all read as
//! "not there"; nothing here panics or replaces a value of the wrong type,
//! so that validation can still see and report it.

use serde_json::{Map, Value};

/// The object at `key`, if it is one.
pub fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// The string at `key`, if it is one.
pub fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The string at `key`, or `""` (Go's zero value) when absent.
pub fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    str_at(v, key).unwrap_or("")
}

/// The integer at `key`, if it is one.
pub fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// The array at `key`, or an empty slice.
pub fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether `key` is missing or `null`: what Go decodes as an unset pointer.
pub fn absent(map: &Map<String, Value>, key: &str) -> bool {
    matches!(map.get(key), None | Some(Value::Null))
}

/// Whether `key` holds Go's zero value of a string (missing, null or "").
pub fn empty_str(map: &Map<String, Value>, key: &str) -> bool {
    match map.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

/// Sets `key` to `value` when it is unset (a pointer field's default).
pub fn default_ptr(map: &mut Map<String, Value>, key: &str, value: Value) {
    if absent(map, key) {
        map.insert(key.to_string(), value);
    }
}

/// Sets a string field to `value` when it is empty (a string field's
/// default: Go cannot tell "" from unset).
pub fn default_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if empty_str(map, key) {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Sets an integer field to `value` when it is unset or 0 (a non-pointer
/// integer's default).
pub fn default_nonzero(map: &mut Map<String, Value>, key: &str, value: i64) {
    let unset = match map.get(key) {
        None | Some(Value::Null) => true,
        Some(v) => v.as_i64() == Some(0),
    };
    if unset {
        map.insert(key.to_string(), Value::from(value));
    }
}

/// The object at `key`, if it is one.
pub fn obj_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key`, created empty when unset; `None` when the field
/// holds something that is not an object.
pub fn ensure_obj<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = map.entry(key.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The elements of the array at `key` that are objects.
pub fn objs_mut<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|items| items.iter_mut().filter_map(Value::as_object_mut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults_fill_only_unset_fields() {
        let mut m = map(json!({"a": null, "b": "", "c": 0, "d": "x", "e": 5, "f": "wrong"}));
        default_ptr(&mut m, "a", json!(1));
        default_str(&mut m, "b", "B");
        default_nonzero(&mut m, "c", 3);
        default_str(&mut m, "d", "D");
        default_nonzero(&mut m, "e", 3);
        default_nonzero(&mut m, "f", 3);
        assert_eq!(
            Value::Object(m),
            json!({"a": 1, "b": "B", "c": 3, "d": "x", "e": 5, "f": "wrong"})
        );
    }

    #[test]
    fn ensure_obj_leaves_wrong_types_alone() {
        let mut m = map(json!({"a": null, "b": 7}));
        assert!(ensure_obj(&mut m, "a").is_some());
        assert!(ensure_obj(&mut m, "b").is_none());
        assert!(ensure_obj(&mut m, "c").is_some());
        assert_eq!(Value::Object(m), json!({"a": {}, "b": 7, "c": {}}));
    }

    #[test]
    fn readers_tolerate_odd_shapes() {
        let v = json!({"s": 1, "l": "x", "i": "2"});
        assert_eq!(string(&v, "s"), "");
        assert!(list(&v, "l").is_empty());
        assert_eq!(int(&v, "i"), None);
        assert!(obj(&json!(3), "x").is_none());
    }
}
