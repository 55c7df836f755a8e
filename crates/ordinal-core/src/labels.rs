//! Label selectors as apimachinery's `pkg/labels` matches them: a selector
//! is the AND of its requirements, each a key, an operator and values.
//!
//! This module holds what a selector means: the operators, matching a
//! requirement against an object's labels, upstream's text form, and a
//! metav1 `LabelSelector` (`matchLabels`, `matchExpressions`) compiled into
//! requirements. Parsing the `labelSelector` query string and validating
//! keys and values with upstream's messages belong to the API server, which
//! builds the same [`Requirement`]s.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ordinal_core::labels::{Operator, Requirement};
//!
//! let tier = Requirement {
//!     key: "tier".into(),
//!     operator: Operator::In,
//!     values: vec!["cache".into(), "db".into()],
//! };
//! let labels = BTreeMap::from([("tier".to_string(), "db".to_string())]);
//! assert!(tier.matches(&labels));
//! assert_eq!(tier.to_string(), "tier in (cache,db)");
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// A requirement's operator (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`
    Equals,
    /// `==`
    DoubleEquals,
    /// `!=`
    NotEquals,
    /// `in`
    In,
    /// `notin`
    NotIn,
    /// a bare key
    Exists,
    /// `!key`
    DoesNotExist,
    /// `>` (`gt`)
    GreaterThan,
    /// `<` (`lt`)
    LessThan,
}

impl Operator {
    /// Upstream's operator string (`selection.Operator`).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }

    /// The operator of a metav1 `matchExpressions` entry (`In`, `NotIn`,
    /// `Exists`, `DoesNotExist`); `None` for any other text.
    pub fn of_expression(operator: &str) -> Option<Operator> {
        match operator {
            "In" => Some(Operator::In),
            "NotIn" => Some(Operator::NotIn),
            "Exists" => Some(Operator::Exists),
            "DoesNotExist" => Some(Operator::DoesNotExist),
            _ => None,
        }
    }
}

/// An object's labels, however the caller holds them.
pub trait Labels {
    /// The value of the label `key`, if the object has it.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for [(String, String)] {
    fn label(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// One requirement of a label selector: a key, an operator and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key the requirement reads.
    pub key: String,
    /// How the label's value (or its absence) is tested.
    pub operator: Operator,
    /// The values for `In`, `NotIn` (one or more), `Gt` and `Lt` (exactly
    /// one, an integer); empty for `Exists` and `DoesNotExist`.
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether the labels satisfy this requirement.
    pub fn matches(&self, labels: &(impl Labels + ?Sized)) -> bool {
        let value = labels.label(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(have)) = value.map(str::parse::<i64>) else {
                    return false;
                };
                let [want] = self.values.as_slice() else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// Upstream's `Requirement.String()`: `key=v`, `key in (a,b)`, `!key`.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        let mut vals = self.values.clone();
        vals.sort();
        f.write_str(&vals.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

#[cfg(feature = "k8s")]
pub use self::k8s::{InvalidExpression, Selector};

#[cfg(feature = "k8s")]
mod k8s {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    use super::{Operator, Requirement};

    static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

    /// A `matchExpressions` entry whose operator is unknown or takes a
    /// different number of values.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct InvalidExpression {
        operator: String,
        values: usize,
    }

    impl std::fmt::Display for InvalidExpression {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "{:?} is not a valid label selector operator with {} values",
                self.operator, self.values
            )
        }
    }

    impl std::error::Error for InvalidExpression {}

    /// A metav1 `LabelSelector` compiled for matching, as a controller
    /// uses one: an empty selector matches everything.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct Selector {
        requirements: Vec<Requirement>,
    }

    impl Selector {
        /// Upstream's `LabelSelectorAsSelector`: `matchLabels` as equality
        /// requirements, `matchExpressions` with their operators; an
        /// expression with an unknown operator, or values where it takes
        /// none (or none where it needs some), is an error. Keys and values
        /// are not validated: the API server did that on write.
        pub fn compile(selector: &LabelSelector) -> Result<Selector, InvalidExpression> {
            let mut requirements: Vec<Requirement> = selector
                .match_labels
                .iter()
                .flatten()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::Equals,
                    values: vec![v.clone()],
                })
                .collect();
            for e in selector.match_expressions.iter().flatten() {
                let values = e.values.clone().unwrap_or_default();
                let operator = Operator::of_expression(&e.operator)
                    .filter(|op| {
                        let takes_values = matches!(op, Operator::In | Operator::NotIn);
                        takes_values != values.is_empty()
                    })
                    .ok_or_else(|| InvalidExpression {
                        operator: e.operator.clone(),
                        values: values.len(),
                    })?;
                requirements.push(Requirement {
                    key: e.key.clone(),
                    operator,
                    values,
                });
            }
            Ok(Selector { requirements })
        }

        /// Whether an object's labels (`metadata.labels`; none is no
        /// labels) satisfy every requirement.
        pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
            let labels = labels.unwrap_or(&NO_LABELS);
            self.requirements.iter().all(|r| r.matches(labels))
        }

        /// [`Selector::compile`], then [`Selector::matches`].
        pub fn compile_and_match(
            selector: &LabelSelector,
            labels: Option<&BTreeMap<String, String>>,
        ) -> Result<bool, InvalidExpression> {
            Ok(Selector::compile(selector)?.matches(labels))
        }
    }

    /// Upstream's `labels.Selector` `String()`: the requirements sorted by
    /// key, joined by commas; empty for a selector that requires nothing.
    impl std::fmt::Display for Selector {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let mut sorted: Vec<&Requirement> = self.requirements.iter().collect();
            sorted.sort_by(|a, b| a.key.cmp(&b.key));
            for (i, r) in sorted.into_iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{r}")?;
            }
            Ok(())
        }
    }
}

#[cfg(all(test, feature = "k8s"))]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn selector_prints_as_upstreams_string() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["db", "cache"]),
                expr("canary", "NotIn", &["true"]),
                expr("team", "Exists", &[]),
                expr("legacy", "DoesNotExist", &[]),
            ]),
        };
        assert_eq!(
            Selector::compile(&selector).unwrap().to_string(),
            "app=web,canary notin (true),!legacy,team,tier in (cache,db)"
        );
        assert_eq!(
            Selector::compile(&LabelSelector::default())
                .unwrap()
                .to_string(),
            ""
        );
    }

    #[test]
    fn selector_matches_labels_and_expressions() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["db", "cache"]),
                expr("canary", "NotIn", &["true"]),
                expr("team", "Exists", &[]),
                expr("legacy", "DoesNotExist", &[]),
            ]),
        };
        let s = Selector::compile(&selector).unwrap();
        assert!(s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "db"),
            ("team", "a")
        ]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "ui"),
            ("team", "a")
        ]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "db"),
            ("team", "a"),
            ("canary", "true")
        ]))));
        assert!(!s.matches(Some(&labels(&[("app", "web"), ("tier", "db")]))));
        assert!(!s.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "db"),
            ("team", "a"),
            ("legacy", "1")
        ]))));
        assert!(!s.matches(None));
    }

    #[test]
    fn empty_selector_matches_everything_and_bad_operators_are_errors() {
        let everything = LabelSelector::default();
        assert!(Selector::compile(&everything).unwrap().matches(None));
        let bad = LabelSelector {
            match_expressions: Some(vec![expr("a", "Near", &["b"])]),
            ..LabelSelector::default()
        };
        assert!(Selector::compile(&bad).is_err());
        let in_without_values = LabelSelector {
            match_expressions: Some(vec![expr("a", "In", &[])]),
            ..LabelSelector::default()
        };
        assert!(Selector::compile(&in_without_values).is_err());
    }

    #[test]
    fn label_selectors_match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("tier", "fast")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "zone".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        let l = labels(&[("tier", "fast"), ("zone", "b")]);
        assert_eq!(Selector::compile_and_match(&sel, Some(&l)), Ok(true));
        let l = labels(&[("tier", "fast"), ("zone", "c")]);
        assert_eq!(Selector::compile_and_match(&sel, Some(&l)), Ok(false));
        assert_eq!(
            Selector::compile_and_match(&LabelSelector::default(), None),
            Ok(true)
        );
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "x".into(),
                operator: "Exists".into(),
                values: Some(vec!["y".into()]),
            }]),
            ..Default::default()
        };
        assert!(Selector::compile_and_match(&bad, None).is_err());
    }
}
