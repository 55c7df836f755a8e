//! JSON values printed the way Go's `fmt` prints decoded JSON, so that our
//! error messages read like kube-apiserver's (`map[$patch:delete name:a]`).

use std::fmt::Write;

use serde_json::Value;

/// `fmt.Sprintf("%v", v)` of a value decoded into `interface{}`: maps with
/// sorted keys as `map[k:v ...]`, lists as `[a b]`, strings bare, `<nil>`.
pub(crate) fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// `fmt.Sprintf("%s", v)`: strings bare, anything else as Go marks a
/// mismatched verb, e.g. `%!s(int64=1)`.
pub(crate) fn string_verb(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        other => format!("%!s({}={})", type_name(other), value(other)),
    }
}

/// `reflect.TypeOf(v).String()` for a decoded JSON value.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => LIST_TYPE,
        Value::Object(_) => MAP_TYPE,
    }
}

pub(crate) const MAP_TYPE: &str = "map[string]interface {}";
pub(crate) const LIST_TYPE: &str = "[]interface {}";

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&float(f)),
            _ => {
                let _ = write!(out, "{n}");
            }
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(item) = map.get(k) {
                    write_value(out, item);
                }
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64 (`%g` with the shortest digits): plain decimal
/// while the decimal exponent is in -4..6, `e` notation with a signed
/// two-digit exponent otherwise (`1e+06`, `1.5e-07`).
fn float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go() {
        assert_eq!(
            value(&json!({"name": "a", "$patch": "delete"})),
            "map[$patch:delete name:a]"
        );
        assert_eq!(
            value(&json!([1, "x", null, true, {"b": [2]}])),
            "[1 x <nil> true map[b:[2]]]"
        );
        assert_eq!(value(&json!(1.5)), "1.5");
        assert_eq!(value(&json!(1e21)), "1e+21");
        assert_eq!(value(&json!(1234567.0)), "1.234567e+06");
        assert_eq!(value(&json!(123456.5)), "123456.5");
        assert_eq!(value(&json!(1e-7)), "1e-07");
        assert_eq!(string_verb(&json!("merge")), "merge");
        assert_eq!(string_verb(&json!(3)), "%!s(int64=3)");
        assert_eq!(type_name(&json!({})), "map[string]interface {}");
        assert_eq!(type_name(&json!(2.5)), "float64");
    }
}
