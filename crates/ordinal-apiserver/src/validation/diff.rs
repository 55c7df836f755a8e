//! The difference between two versions of a field, for the messages of
//! updates that change something immutable. Upstream appends a Go
//! `cmp.Diff` of its internal structs; ordinal appends a line diff of the
//! JSON, with `-` for the stored version and `+` for the requested one.

use serde_json::Value;

/// Longest inputs diffed line by line; beyond, only a summary is given.
const MAX_LINES: usize = 2000;

/// A line diff of the pretty-printed JSON of `old` and `new`, with two
/// lines of context around each change.
pub fn json_diff(old: &Value, new: &Value) -> String {
    let a = pretty_lines(old);
    let b = pretty_lines(new);
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return "  (the objects are too large to compare line by line)".to_string();
    }
    // Longest common subsequence table, from the end.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', &a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', &a[i]));
            i += 1;
        } else {
            ops.push(('+', &b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 2).min(ops.len().saturating_sub(1));
        (lo..=hi).any(|x| ops.get(x).is_some_and(|(c, _)| *c != ' '))
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (k, (c, line)) in ops.iter().enumerate() {
        if *c != ' ' || near_change(k) {
            if skipped {
                out.push("  ...".to_string());
                skipped = false;
            }
            out.push(format!("{c} {line}"));
        } else {
            skipped = true;
        }
    }
    if skipped && !out.is_empty() {
        out.push("  ...".to_string());
    }
    out.join("\n")
}

fn pretty_lines(v: &Value) -> Vec<String> {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shows_changed_lines_with_context() {
        let old = json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7});
        let new = json!({"a": 1, "b": 2, "c": 3, "d": 40, "e": 5, "f": 6, "g": 7});
        let d = json_diff(&old, &new);
        assert_eq!(
            d,
            "  ...\n    \"b\": 2,\n    \"c\": 3,\n-   \"d\": 4,\n+   \"d\": 40,\n    \"e\": 5,\n    \"f\": 6,\n  ..."
        );
        assert_eq!(json_diff(&old, &old), "");
    }
}
