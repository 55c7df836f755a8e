//! JSON text exactly as Go's `encoding/json` writes a `map[string]any`:
//! keys sorted bytewise, `<`, `>`, `&`, U+2028 and U+2029 escaped, numbers
//! as float64. Revision names are a hash of these bytes, so they must be
//! identical to what kube-controller-manager hashes.

use serde_json::Value;

pub(crate) fn encode(value: &Value) -> String {
    let mut out = String::with_capacity(1024);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Go decodes JSON numbers into float64 and prints them with the shortest
/// representation, in exponent form outside [1e-6, 1e21).
fn write_number(out: &mut String, n: &serde_json::Number) {
    let f = match n.as_f64() {
        Some(f) if f.is_finite() => f,
        _ => {
            out.push('0');
            return;
        }
    };
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let formatted = format!("{f:e}");
        let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
        out.push_str(mantissa);
        out.push('e');
        match exponent.strip_prefix('-') {
            Some(digits) => {
                out.push('-');
                out.push_str(digits);
            }
            None => {
                out.push('+');
                if exponent.len() < 2 {
                    out.push('0');
                }
                out.push_str(exponent);
            }
        }
    } else {
        // Rust's Display, like Go's 'f' format with precision -1, prints the
        // shortest digits that round-trip, padded with zeros, no exponent.
        out.push_str(&format!("{f}"));
    }
}

fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_output_is_compact() {
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
        assert_eq!(encode(&v), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let v = json!("<a & b>\n\t\"q\"\\ \u{1} \u{8}\u{c} \u{2028} é");
        assert_eq!(
            encode(&v),
            r#""\u003ca \u0026 b\u003e\n\t\"q\"\\ \u0001 \b\f \u2028 é""#
        );
    }

    #[test]
    fn numbers_print_as_go_float64() {
        let cases = [
            (json!(30), "30"),
            (json!(-7), "-7"),
            (json!(0.5), "0.5"),
            (json!(1e21), "1e+21"),
            (json!(1.5e-7), "1.5e-7"),
            (json!(123456789012u64), "123456789012"),
            (json!(1152921504606846976u64), "1152921504606847000"),
            (json!(0), "0"),
        ];
        for (v, want) in cases {
            assert_eq!(encode(&v), want, "{v}");
        }
    }
}
