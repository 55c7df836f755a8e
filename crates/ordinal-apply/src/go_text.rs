//! Text the way kube-apiserver's Go code writes it, where users or clients
//! see the exact bytes: JSON strings escaped like Go's `encoding/json`
//! (which also escapes `<`, `>` and `&`), values inside paths as
//! structured-merge-diff prints them (strings `%q`-quoted with
//! `ordinal_core::go_text`), and numbers in Go's shortest form.

use ordinal_core::go_text::{GoJson, exponent, quote};
use serde_json::{Number, Value};

/// Writes `s` as a JSON string literal, as structured-merge-diff does.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    GoJson::StructuredMergeDiff.write_string(out, s);
}

/// Writes `v` as compact JSON, as structured-merge-diff does: Go's
/// escaping and number formatting, object keys sorted.
pub(crate) fn write_json_value(out: &mut String, v: &Value) {
    GoJson::StructuredMergeDiff.write_value(out, v);
}

/// How structured-merge-diff prints a value inside a path: strings quoted,
/// numbers and booleans bare, lists and maps spelled out.
pub(crate) fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => display_number(n),
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value_to_string).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, item)| format!("{k}={}", value_to_string(item)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
    }
}

/// A number as Go's `%v` prints a float64 (`%g` with the shortest digits).
fn display_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        exponent(f, true)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_strings_escape_html_like_go() {
        let mut out = String::new();
        write_json_string(&mut out, "a<b>&\"c\"\n");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"c\"\n""#);
    }

    #[test]
    fn numbers_print_in_go_form() {
        assert_eq!(value_to_string(&json!(80)), "80");
        assert_eq!(value_to_string(&json!(1.5)), "1.5");
        assert_eq!(value_to_string(&json!(1e21)), "1e+21");
        let mut out = String::new();
        write_json_value(&mut out, &json!({"b": 2.0, "a": [true, null]}));
        assert_eq!(out, r#"{"a":[true,null],"b":2}"#);
    }
}
