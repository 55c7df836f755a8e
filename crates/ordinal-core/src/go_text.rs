//! Text the way upstream's Go code prints it, where users and clients see
//! the exact bytes: `%q`-quoted strings in messages (`strconv.Quote`).

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
}
