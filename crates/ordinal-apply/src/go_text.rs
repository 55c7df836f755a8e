//! Text the way kube-apiserver's Go code writes it, where users or clients
//! see the exact bytes: JSON strings escaped like Go's `encoding/json`
//! (which also escapes `<`, `>` and `&`), values inside paths as
//! structured-merge-diff prints them (strings `%q`-quoted with
//! `ordinal_core::go_text`), and numbers in Go's shortest form.

use std::fmt::Write;

use ordinal_core::go_text::quote;
use serde_json::{Number, Value};

/// Writes `s` as a JSON string literal, escaped as Go's `encoding/json` does.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes `v` as compact JSON with Go's escaping and number formatting;
/// object keys in sorted order, as Go writes maps.
pub(crate) fn write_json_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number(n)),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_json_value(out, item);
            }
            out.push('}');
        }
    }
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

/// A number as Go's `encoding/json` writes it: integers as they are,
/// floats without a trailing `.0`, and in exponent form only when very
/// large or small.
fn json_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        go_exponent(f)
    } else {
        format!("{f}")
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
        go_exponent(f)
    } else {
        format!("{f}")
    }
}

/// `1e21` in Go's spelling: `1e+21`, exponent of at least two digits.
fn go_exponent(f: f64) -> String {
    let rust = format!("{f:e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((rust.as_str(), "0"));
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exponent),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
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
