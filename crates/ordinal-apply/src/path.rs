//! Field paths: the steps that lead from an object's root to one of its
//! fields, and the total order Kubernetes sorts them in.
//!
//! A step is a field name (`.spec`), the key of a map-list element
//! (`[name="nginx"]`), the value of a set element (`[="a"]`) or, inside
//! atomic lists only, an index (`[0]`). Paths print the way kube-apiserver
//! prints them in conflict messages, e.g.
//! `.spec.template.spec.containers[name="nginx"].image`.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

use crate::go_text;

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of an object (struct fields and map keys alike).
    Field(String),
    /// A map-list element, named by its key fields, sorted by field name.
    Key(Vec<(String, Value)>),
    /// A set element, named by its value.
    Value(Value),
    /// A position in an atomic list.
    Index(usize),
}

impl PathElement {
    /// Builds a map-list key from `(field, value)` pairs in any order.
    pub fn key(mut fields: Vec<(String, Value)>) -> PathElement {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    /// Field names first, then keys, then values, then indexes; within a
    /// kind, by content. This is the order FieldsV1 lists children in.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_key_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_str("[")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", go_text::value_to_string(value))?;
                }
                f.write_str("]")
            }
            PathElement::Value(value) => write!(f, "[={}]", go_text::value_to_string(value)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A whole path from the root; prints as kube-apiserver prints field paths.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<PathElement>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// Key fields compare pairwise by name then value; a shorter list that is a
/// prefix of a longer one sorts first.
fn compare_key_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b) {
        let by_name = an.cmp(bn);
        if by_name != Ordering::Equal {
            return by_name;
        }
        let by_value = compare_values(av, bv);
        if by_value != Ordering::Equal {
            return by_value;
        }
    }
    a.len().cmp(&b.len())
}

/// The total order on JSON values that upstream uses for set elements and
/// keys: numbers (compared numerically), then strings, booleans, lists,
/// objects, and null last.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (xe, ye) in x.iter().zip(y) {
                let c = compare_values(xe, ye);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            // serde_json keeps object keys sorted, so the pairs come in key order.
            for ((xk, xv), (yk, yv)) in x.iter().zip(y) {
                let c = xk.cmp(yk).then_with(|| compare_values(xv, yv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a.cmp(&b);
    }
    let a = x.as_f64().unwrap_or(0.0);
    let b = y.as_f64().unwrap_or(0.0);
    a.total_cmp(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    #[test]
    fn paths_print_like_kube_apiserver() {
        let path = Path(vec![
            field("spec"),
            field("template"),
            field("spec"),
            field("containers"),
            PathElement::key(vec![("name".into(), json!("nginx"))]),
            field("ports"),
            PathElement::key(vec![
                ("protocol".into(), json!("TCP")),
                ("containerPort".into(), json!(80)),
            ]),
            field("containerPort"),
        ]);
        assert_eq!(
            path.to_string(),
            r#".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort"#
        );
        let set = Path(vec![
            field("metadata"),
            field("finalizers"),
            PathElement::Value(json!("a/b")),
        ]);
        assert_eq!(set.to_string(), r#".metadata.finalizers[="a/b"]"#);
    }

    #[test]
    fn elements_sort_fields_before_keys_before_values() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("x")),
            PathElement::key(vec![("name".into(), json!("b"))]),
            field("b"),
            PathElement::key(vec![("name".into(), json!("a"))]),
            field("a"),
        ];
        elements.sort();
        let printed: Vec<String> = elements.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            printed,
            vec![
                ".a",
                ".b",
                r#"[name="a"]"#,
                r#"[name="b"]"#,
                r#"[="x"]"#,
                "[0]"
            ]
        );
    }

    #[test]
    fn numbers_sort_numerically_and_before_strings() {
        assert_eq!(compare_values(&json!(9), &json!(10)), Ordering::Less);
        assert_eq!(compare_values(&json!(1.5), &json!(1)), Ordering::Greater);
        assert_eq!(compare_values(&json!(100), &json!("1")), Ordering::Less);
        assert_eq!(compare_values(&json!(null), &json!({})), Ordering::Greater);
    }
}
