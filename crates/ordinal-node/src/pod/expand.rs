//! `$(VAR)` references in env values, command, args and subPathExpr, as
//! upstream's `expansion` package treats them: `$(NAME)` becomes the value
//! of a variable defined earlier, `$$` becomes `$`, and anything that does
//! not resolve (an unknown name, an unclosed `$(`) is kept as written.

/// Expands `input` with `lookup`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut literal_from = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'$' => {
                    out.push_str(&input[literal_from..i]);
                    out.push('$');
                    i += 2;
                    literal_from = i;
                    continue;
                }
                b'(' => {
                    if let Some(close) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + close];
                        out.push_str(&input[literal_from..i]);
                        match lookup(name) {
                            Some(value) => out.push_str(&value),
                            None => out.push_str(&input[i..i + 3 + close]),
                        }
                        i += 3 + close;
                        literal_from = i;
                        continue;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.push_str(&input[literal_from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "POD" => Some("web-0".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn upstream_cases() {
        assert_eq!(expand("--name=$(POD)", env), "--name=web-0");
        assert_eq!(expand("$(POD)$(POD)", env), "web-0web-0");
        assert_eq!(expand("$(UNKNOWN)-x", env), "$(UNKNOWN)-x");
        assert_eq!(expand("$$(POD)", env), "$(POD)");
        assert_eq!(expand("$$$(POD)", env), "$web-0");
        assert_eq!(expand("cost $5", env), "cost $5");
        assert_eq!(expand("open $(POD", env), "open $(POD");
        assert_eq!(expand("x$(EMPTY)y", env), "xy");
        assert_eq!(expand("trailing $", env), "trailing $");
        assert_eq!(expand("ünïcödé $(POD) ✓", env), "ünïcödé web-0 ✓");
    }

    proptest! {
        #[test]
        fn text_without_dollar_is_unchanged(s in "[^$]*") {
            prop_assert_eq!(expand(&s, env), s);
        }

        #[test]
        fn never_panics(s in ".*") {
            let _ = expand(&s, env);
        }
    }
}
