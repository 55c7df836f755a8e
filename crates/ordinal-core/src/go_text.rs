//! Text the way upstream's Go code prints it, where users and clients see
//! the exact bytes: `%q`-quoted strings in messages (`strconv.Quote`), and
//! (feature `json`) compact JSON as Go's encoders write it, for bytes that
//! are hashed or compared (revision names, managedFields keys).

use std::fmt::Write;

/// Go's `%q` (`strconv.Quote`): a double-quoted string with Go's escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            // The other control characters (C1, U+0080 to U+009F).
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Which Go JSON encoder to write like. The two upstream uses differ in
/// numbers, in two escapes and in the exponent's spelling.
#[cfg(feature = "json")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoJson {
    /// `encoding/json` (Go 1.22 and later) writing what it decoded into
    /// `map[string]any`, as kube-controller-manager hashes revisions:
    /// every number a float64, `\b` and `\f` short, exponents as `e-7`.
    EncodingJson,
    /// structured-merge-diff writing field-path values (managedFields
    /// keys): integers with every digit, `\b` and `\f` as `\u00XX`,
    /// exponents of at least two digits.
    StructuredMergeDiff,
}

#[cfg(feature = "json")]
impl GoJson {
    /// `v` as compact JSON, object keys sorted bytewise as Go sorts map
    /// keys.
    pub fn encode(self, v: &serde_json::Value) -> String {
        let mut out = String::with_capacity(256);
        self.write_value(&mut out, v);
        out
    }

    /// Writes `v` as compact JSON, object keys sorted bytewise.
    pub fn write_value(self, out: &mut String, v: &serde_json::Value) {
        use serde_json::Value;
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => self.write_number(out, n),
            Value::String(s) => self.write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write_value(out, item);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (k, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write_string(out, k);
                    out.push(':');
                    self.write_value(out, item);
                }
                out.push('}');
            }
        }
    }

    /// Writes `s` as a JSON string literal; both encoders escape `<`, `>`
    /// and `&` (HTML-safe) and U+2028, U+2029.
    pub fn write_string(self, out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' if self == GoJson::EncodingJson => out.push_str("\\b"),
                '\u{c}' if self == GoJson::EncodingJson => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn write_number(self, out: &mut String, n: &serde_json::Number) {
        if self == GoJson::StructuredMergeDiff && (n.is_i64() || n.is_u64()) {
            let _ = write!(out, "{n}");
            return;
        }
        let f = n.as_f64().filter(|f| f.is_finite()).unwrap_or(0.0);
        let abs = f.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            out.push_str(&exponent(f, self == GoJson::StructuredMergeDiff));
        } else {
            // Rust's Display, like Go's 'f' with precision -1, prints the
            // shortest digits that round-trip, with no exponent.
            let _ = write!(out, "{f}");
        }
    }
}

#[cfg(feature = "json")]
/// `f` in Go's exponent form: `1e+21`, `1.5e-7` (`strconv`'s `'e'` with the
/// shortest digits); with `two_digits`, a negative exponent too has at
/// least two digits (`1.5e-07`), as `%g` prints it.
pub fn exponent(f: f64, two_digits: bool) -> String {
    let rust = format!("{f:e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((rust.as_str(), "0"));
    match exponent.strip_prefix('-') {
        Some(digits) if two_digits => format!("{mantissa}e-{digits:0>2}"),
        Some(digits) => format!("{mantissa}e-{digits}"),
        None => format!("{mantissa}e+{exponent:0>2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go_percent_q() {
        assert_eq!(quote("kubectl"), "\"kubectl\"");
        assert_eq!(quote("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\x01\"");
        assert_eq!(quote("a\"b\n\u{1}"), "\"a\\\"b\\n\\x01\"");
        assert_eq!(quote("\u{85}é\u{7f}"), "\"\\u0085é\\x7f\"");
    }

    #[cfg(feature = "json")]
    #[test]
    fn encoding_json_sorts_keys_and_writes_float64() {
        use serde_json::json;
        let go = GoJson::EncodingJson;
        let v = json!({"b": 1, "a": {"d": [true, null], "c": "x"}});
        assert_eq!(go.encode(&v), r#"{"a":{"c":"x","d":[true,null]},"b":1}"#);
        let v = json!("<a & b>\n\t\"q\"\\ \u{1} \u{8}\u{c} \u{2028} é");
        assert_eq!(
            go.encode(&v),
            r#""\u003ca \u0026 b\u003e\n\t\"q\"\\ \u0001 \b\f \u2028 é""#
        );
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
            assert_eq!(go.encode(&v), want, "{v}");
        }
    }

    #[cfg(feature = "json")]
    #[test]
    fn structured_merge_diff_keeps_integers_and_long_escapes() {
        use serde_json::json;
        let smd = GoJson::StructuredMergeDiff;
        assert_eq!(
            smd.encode(&json!("a<b>&\"c\"\n\u{8}\u{c}")),
            r#""a\u003cb\u003e\u0026\"c\"\n\u0008\u000c""#
        );
        assert_eq!(
            smd.encode(&json!({"b": 2.0, "a": [true, null]})),
            r#"{"a":[true,null],"b":2}"#
        );
        assert_eq!(
            smd.encode(&json!(1152921504606846976u64)),
            "1152921504606846976"
        );
        assert_eq!(smd.encode(&json!(1.5e-7)), "1.5e-07");
        assert_eq!(smd.encode(&json!(1e21)), "1e+21");
    }

    #[cfg(feature = "json")]
    proptest::proptest! {
        #[test]
        fn encoded_strings_decode_back(s in "\\PC*|[<>&\\u{0}-\\u{1f}\\u{2028}\\u{2029}\"\\\\a-z]*") {
            for go in [GoJson::EncodingJson, GoJson::StructuredMergeDiff] {
                let encoded = go.encode(&serde_json::Value::String(s.clone()));
                let decoded: String = serde_json::from_str(&encoded).expect("valid JSON");
                proptest::prop_assert_eq!(&decoded, &s);
                proptest::prop_assert!(!encoded.contains(['<', '>', '&']));
            }
        }
    }
}
