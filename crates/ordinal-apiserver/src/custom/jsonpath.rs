//! The JSONPath of printer columns, selectable fields and the scale
//! subresource: the subset upstream allows there (`.spec.replicas`,
//! `.items[0].name`, `.metadata.labels['app.kubernetes.io/name']`,
//! `.status.conditions[?(@.type=="Ready")].status`), optionally in braces.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    /// `[?(@.a.b=="x")]`: the elements whose field equals the value.
    Filter(Vec<String>, Value),
    /// `[*]`: every element.
    All,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    steps: Vec<Step>,
}

impl Path {
    /// Parses a path; the error says what is wrong, for the CRD's field
    /// error.
    pub fn parse(text: &str) -> Result<Path, String> {
        let inner = text.trim();
        let inner = inner
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(inner);
        if !inner.starts_with('.') {
            return Err("must be a simple json path starting with .".into());
        }
        let chars: Vec<char> = inner.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                        end += 1;
                    }
                    if end == start {
                        return Err(format!("empty field name at position {start}"));
                    }
                    steps.push(Step::Key(chars[start..end].iter().collect()));
                    i = end;
                }
                '[' => {
                    let close = find_close(&chars, i)
                        .ok_or_else(|| format!("unterminated [ at position {i}"))?;
                    let body: String = chars[i + 1..close].iter().collect();
                    steps.push(bracket(body.trim())?);
                    i = close + 1;
                }
                c => return Err(format!("unexpected {c:?} at position {i}")),
            }
        }
        Ok(Path { steps })
    }

    /// The first value the path reaches in `object`.
    pub fn first<'a>(&self, object: &'a Value) -> Option<&'a Value> {
        let mut found = Vec::new();
        walk(&self.steps, object, &mut found);
        found.into_iter().next()
    }
}

fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (j, &c) in chars.iter().enumerate().skip(open + 1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ']') => return Some(j),
            _ => {}
        }
    }
    None
}

fn unquote(text: &str) -> Option<String> {
    let t = text.trim();
    for q in ['\'', '"'] {
        if let Some(inner) = t.strip_prefix(q).and_then(|t| t.strip_suffix(q)) {
            return Some(inner.to_string());
        }
    }
    None
}

fn bracket(body: &str) -> Result<Step, String> {
    if body == "*" {
        return Ok(Step::All);
    }
    if let Ok(i) = body.parse::<usize>() {
        return Ok(Step::Index(i));
    }
    if let Some(key) = unquote(body) {
        return Ok(Step::Key(key));
    }
    if let Some(filter) = body.strip_prefix("?(").and_then(|b| b.strip_suffix(')')) {
        let (left, right) = filter
            .split_once("==")
            .ok_or_else(|| format!("unsupported filter {filter:?}"))?;
        let field = left
            .trim()
            .strip_prefix("@.")
            .ok_or_else(|| format!("unsupported filter {filter:?}"))?;
        let value = match unquote(right) {
            Some(s) => Value::String(s),
            None => serde_json::from_str(right.trim())
                .map_err(|_| format!("unsupported filter value {right:?}"))?,
        };
        return Ok(Step::Filter(
            field.split('.').map(str::to_string).collect(),
            value,
        ));
    }
    Err(format!("unsupported subscript [{body}]"))
}

fn walk<'a>(steps: &[Step], at: &'a Value, found: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        found.push(at);
        return;
    };
    match step {
        Step::Key(k) => {
            if let Some(v) = at.get(k.as_str()) {
                walk(rest, v, found);
            }
        }
        Step::Index(i) => {
            if let Some(v) = at.get(*i) {
                walk(rest, v, found);
            }
        }
        Step::All => {
            if let Some(items) = at.as_array() {
                for v in items {
                    walk(rest, v, found);
                }
            }
        }
        Step::Filter(field, value) => {
            if let Some(items) = at.as_array() {
                for v in items {
                    let mut cursor = Some(v);
                    for k in field {
                        cursor = cursor.and_then(|c| c.get(k.as_str()));
                    }
                    if cursor == Some(value) {
                        walk(rest, v, found);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_fields_items_and_filtered_elements() {
        let object = json!({
            "spec": { "replicas": 3, "items": [{ "name": "a" }, { "name": "b" }] },
            "metadata": { "labels": { "app.kubernetes.io/name": "web" } },
            "status": { "conditions": [{ "type": "Ready", "status": "True" }, { "type": "Synced", "status": "False" }] }
        });
        let get = |p: &str| Path::parse(p).unwrap().first(&object).cloned();
        assert_eq!(get(".spec.replicas"), Some(json!(3)));
        assert_eq!(get("{.spec.items[1].name}"), Some(json!("b")));
        assert_eq!(
            get(".metadata.labels['app.kubernetes.io/name']"),
            Some(json!("web"))
        );
        assert_eq!(
            get(r#".status.conditions[?(@.type=="Synced")].status"#),
            Some(json!("False"))
        );
        assert_eq!(get(".spec.missing"), None);
    }

    #[test]
    fn bad_paths_are_errors() {
        for bad in ["spec.replicas", ".spec..x", ".a[", ".a[?(@.b)]", ".a[x]"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = Path::parse(&text);
        }
    }
}
