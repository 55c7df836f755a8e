//! Label and field selectors, parsed and matched as upstream does.
//!
//! The label selector grammar, lexer quirks and error texts follow
//! apimachinery `pkg/labels/selector.go`; field selectors follow
//! `pkg/fields/selector.go` (comma-separated terms, `=`/`==`/`!=`, values
//! escaped with `\`). Which field labels a resource supports, and the
//! errors for the others, follow the field label conversion functions of
//! `pkg/apis/core/v1/conversion.go` (and the default
//! `metadata.name`/`metadata.namespace` set); the values are extracted as
//! the registries' `GetAttrs`/`ToSelectableFields` do.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use ordinal_core::labels::{Operator, Requirement};

use crate::names::{
    BadValue, FieldError, aggregate_message, go_quote, is_qualified_name, is_valid_label_value,
};
use crate::resources::Resource;

/// A malformed selector or an unsupported field label. The message is
/// upstream's; the server answers 400 BadRequest with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A `labelSelector` that does not parse or names invalid keys/values.
    #[error("{0}")]
    Label(String),
    /// A `fieldSelector` that does not parse.
    #[error("{0}")]
    Field(String),
    /// A field label the resource does not support.
    #[error("{0}")]
    UnsupportedField(String),
}

// ---------------------------------------------------------------------------
// Label selectors

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Upstream's `NewRequirement`: validates the key, the value count for the
/// operator and every value. `vals` are kept in the given order (the parser
/// passes them sorted).
pub fn requirement(
    key: &str,
    operator: Operator,
    vals: Vec<String>,
) -> Result<Requirement, SelectorError> {
    let mut errs: Vec<FieldError> = Vec::new();
    let key_errs = is_qualified_name(key);
    if !key_errs.is_empty() {
        errs.push(FieldError::invalid("key", key, key_errs.join("; ")));
    }
    match operator {
        Operator::In | Operator::NotIn => {
            if vals.is_empty() {
                errs.push(FieldError::invalid(
                    "values",
                    BadValue::string_slice(&vals),
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if vals.len() != 1 {
                errs.push(FieldError::invalid(
                    "values",
                    BadValue::string_slice(&vals),
                    "exact-match compatibility requires one single value",
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !vals.is_empty() {
                errs.push(FieldError::invalid(
                    "values",
                    BadValue::string_slice(&vals),
                    "values set must be empty for exists and does not exist",
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if vals.len() != 1 {
                errs.push(FieldError::invalid(
                    "values",
                    BadValue::string_slice(&vals),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in vals.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(FieldError::invalid(
                        format!("values[{i}]"),
                        v.as_str(),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
    }
    for (i, v) in vals.iter().enumerate() {
        let msgs = is_valid_label_value(v);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("values[{i}][{key}]"),
                v.as_str(),
                msgs.join("; "),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(SelectorError::Label(aggregate_message(&errs)));
    }
    Ok(Requirement {
        key: key.to_string(),
        operator,
        values: vals,
    })
}

/// A parsed label selector: the AND of its requirements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// Upstream's `labels.Nothing()`: matches no object.
    nothing: bool,
}

impl LabelSelector {
    /// The selector that matches nothing (a nil metav1 selector).
    #[cfg(test)]
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses a `labelSelector` query parameter as upstream's `labels.Parse`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut p = Parser::new(s);
        let mut reqs = p.parse().map_err(SelectorError::Label)?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Builds a selector from a metav1 `LabelSelector` (matchLabels and
    /// matchExpressions), as upstream's `LabelSelectorAsSelector`.
    pub fn from_label_selector(sel: &metav1::LabelSelector) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if let Some(ml) = &sel.match_labels {
            for (k, v) in ml {
                reqs.push(requirement(k, Operator::Equals, vec![v.clone()])?);
            }
        }
        if let Some(exprs) = &sel.match_expressions {
            for e in exprs {
                let Some(op) = Operator::of_expression(&e.operator) else {
                    return Err(SelectorError::Label(format!(
                        "{} is not a valid label selector operator",
                        go_quote(&e.operator)
                    )));
                };
                let vals = e.values.clone().unwrap_or_default();
                reqs.push(requirement(&e.key, op, vals)?);
            }
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Like [`Self::from_label_selector`], with `None` (a nil selector)
    /// matching nothing, as upstream.
    #[cfg(test)]
    pub fn from_optional(sel: Option<&metav1::LabelSelector>) -> Result<Self, SelectorError> {
        match sel {
            None => Ok(Self::nothing()),
            Some(s) => Self::from_label_selector(s),
        }
    }

    /// Whether the labels satisfy every requirement.
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector restricts nothing (matches every object).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    #[cfg(test)]
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The value a selector requires for `key`, if it pins exactly one.
    #[cfg(test)]
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn literal_token(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Upstream's byte lexer, including its treatment of a NUL byte as "end".
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn read(&mut self) -> u8 {
        if self.pos < self.s.len() {
            let b = self.s[self.pos];
            self.pos += 1;
            b
        } else {
            0
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn scan_id_or_keyword(&mut self) -> (Token, String) {
        let start = self.pos;
        let mut end;
        loop {
            let ch = self.read();
            if ch == 0 {
                // Either the real end (pos unchanged) or a NUL byte (consumed).
                end = self.pos;
                if end > start && self.s.get(end - 1) == Some(&0) {
                    end -= 1;
                }
                break;
            }
            if is_special(ch) || is_whitespace(ch) {
                self.unread();
                end = self.pos;
                break;
            }
        }
        let lit = Self::text(&self.s[start..end]);
        match literal_token(&lit) {
            Some(t) => (t, lit),
            None => (Token::Identifier, lit),
        }
    }

    fn scan_special_symbol(&mut self) -> (Token, String) {
        let mut buffer: Vec<u8> = Vec::new();
        let mut last: Option<(Token, String)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special(ch) {
                buffer.push(ch);
                let s = Self::text(&buffer);
                if let Some(t) = literal_token(&s) {
                    last = Some((t, s));
                } else if last.is_some() {
                    self.unread();
                    break;
                }
            } else {
                self.unread();
                break;
            }
        }
        match last {
            Some(item) => item,
            None => (
                Token::Error,
                format!("error expected: keyword found '{}'", Self::text(&buffer)),
            ),
        }
    }

    fn lex(&mut self) -> (Token, String) {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            (Token::End, String::new())
        } else if is_special(ch) {
            self.unread();
            self.scan_special_symbol()
        } else {
            self.unread();
            self.scan_id_or_keyword()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn new(s: &str) -> Self {
        let mut lexer = Lexer {
            s: s.as_bytes(),
            pos: 0,
        };
        let mut items = Vec::new();
        loop {
            let (t, lit) = lexer.lex();
            items.push((t, lit));
            if t == Token::End {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn item(&self, i: usize) -> (Token, String) {
        self.items
            .get(i)
            .cloned()
            .unwrap_or((Token::End, String::new()))
    }

    fn in_context(t: Token, ctx: Context) -> Token {
        if ctx == Context::Values && matches!(t, Token::In | Token::NotIn) {
            Token::Identifier
        } else {
            t
        }
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        let (t, l) = self.item(self.position);
        (Self::in_context(t, ctx), l)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let (t, l) = self.item(self.position);
        self.position += 1;
        (Self::in_context(t, ctx), l)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (t, lit) = self.lookahead(Context::Values);
            match t {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::End => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!("found '{l}', expected: ',' or 'end of string'"));
                        }
                    }
                }
                Token::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return requirement(&key, op, Vec::new()).map_err(|e| e.to_string());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        requirement(&key, op, values).map_err(|e| e.to_string())
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut t, mut lit) = self.consume(Context::Values);
        if t == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (t, lit) = self.consume(Context::Values);
        }
        if t != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = is_qualified_name(&lit);
        if !errs.is_empty() {
            // Upstream reports this with a nil field path.
            return Err(FieldError::invalid("<nil>", lit.as_str(), errs.join("; ")).to_string());
        }
        let (next, _) = self.lookahead(Context::Values);
        if (next == Token::End || next == Token::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (t, lit) = self.consume(Context::KeyAndOperator);
        Ok(match t {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: {BINARY_OPERATORS}")),
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.consume(Context::Values);
        if t != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.lookahead(Context::Values);
        match t {
            Token::Identifier | Token::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Context::Values);
                if t != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(sorted_unique(s))
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (t, lit) = self.consume(Context::Values);
            match t {
                Token::Identifier => {
                    s.push(lit);
                    let (t2, l2) = self.lookahead(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Context::Values);
                    if t2 == Token::ClosedPar {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if t2 == Token::Comma {
                        self.consume(Context::Values);
                        s.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.lookahead(Context::Values);
        if t == Token::End || t == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.consume(Context::Values);
        if t == Token::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

// ---------------------------------------------------------------------------
// Field selectors

/// A field selector operator. `=` and `==` mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    Equals,
    NotEquals,
}

/// One term of a field selector: `field=value` or `field!=value`, the value
/// unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub op: FieldOp,
    pub value: String,
}

impl FieldRequirement {
    fn matches(&self, fields: &[(&'static str, String)]) -> bool {
        let have = fields
            .iter()
            .find(|(k, _)| *k == self.field)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        match self.op {
            FieldOp::Equals => have == self.value,
            FieldOp::NotEquals => have != self.value,
        }
    }
}

/// A parsed field selector: the AND of its terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        if let Some(r) = rest.strip_prefix("!=") {
            return Some((&term[..i], FieldOp::NotEquals, r));
        }
        if let Some(r) = rest.strip_prefix("==") {
            return Some((&term[..i], FieldOp::Equals, r));
        }
        if let Some(r) = rest.strip_prefix('=') {
            return Some((&term[..i], FieldOp::Equals, r));
        }
    }
    None
}

/// Upstream's `fields.UnescapeValue`.
pub fn unescape_field_value(s: &str) -> Result<String, SelectorError> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(SelectorError::Field(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    )));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Upstream prints the rune with %v: its code point.
            ',' | '=' => {
                return Err(SelectorError::Field(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::Field(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// Upstream's `fields.EscapeValue`.
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FieldSelector {
    /// Parses a `fieldSelector` query parameter as upstream's
    /// `fields.ParseSelector` (terms are checked in sorted order, as
    /// upstream does, which decides which bad term an error names).
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort_unstable();
        let mut terms = Vec::new();
        for part in parts {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(SelectorError::Field(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            terms.push(FieldRequirement {
                field: lhs.to_string(),
                op,
                value: unescape_field_value(rhs)?,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether an object with these selectable fields matches. A field the
    /// object lacks compares as the empty string, as upstream.
    pub fn matches(&self, fields: &[(&'static str, String)]) -> bool {
        self.terms.iter().all(|t| t.matches(fields))
    }

    /// The terms, so the server can check each field is supported.
    #[cfg(test)]
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.terms
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value an `=` term pins for `field` (upstream's
    /// `RequiresExactMatch`), e.g. the name of `kubectl get -w pod/x`.
    #[cfg(test)]
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && t.op == FieldOp::Equals)
            .map(|t| t.value.as_str())
    }

    /// Checks every field label against the resource and rewrites legacy
    /// aliases (`spec.host` → `spec.nodeName` for pods), as upstream's
    /// list handler does before listing; an unsupported label is the
    /// 400 BadRequest error upstream returns.
    pub fn convert_for(&self, resource: &Resource) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for t in &self.terms {
            let field = convert_field_label(resource, &t.field)?;
            terms.push(FieldRequirement {
                field: field.to_string(),
                op: t.op,
                value: t.value.clone(),
            });
        }
        Ok(FieldSelector { terms })
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match t.op {
                FieldOp::Equals => "=",
                FieldOp::NotEquals => "!=",
            };
            write!(f, "{}{op}{}", t.field, escape_field_value(&t.value))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Supported field labels and their values

/// Selectable fields of one object: label and value.
pub type Fields = Vec<(&'static str, String)>;

const DEFAULT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// Checks a field label for a resource and returns its canonical name
/// (`spec.host` is an old alias of a pod's `spec.nodeName`). The error is
/// upstream's: `field label not supported: X` for resources with their own
/// conversion, `"X" is not a known field selector: only "metadata.name",
/// "metadata.namespace"` for the others.
pub fn convert_field_label(
    resource: &Resource,
    field: &str,
) -> Result<&'static str, SelectorError> {
    match resource.strategy.field_labels() {
        Some(list) => {
            if let Some(f) = list.iter().find(|f| **f == field) {
                return Ok(f);
            }
            if let Some(f) = resource.strategy.field_label_alias(field) {
                return Ok(f);
            }
            Err(SelectorError::UnsupportedField(format!(
                "field label not supported: {field}"
            )))
        }
        None => DEFAULT_FIELDS
            .iter()
            .find(|f| **f == field)
            .copied()
            .ok_or_else(|| {
                SelectorError::UnsupportedField(format!(
                    "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                    go_quote(field)
                ))
            }),
    }
}

/// Whether a field label is supported for a resource; upstream answers 400
/// BadRequest otherwise (see [`convert_field_label`] for the message).
#[cfg(test)]
pub fn is_supported_field(resource: &Resource, field: &str) -> bool {
    convert_field_label(resource, field).is_ok()
}

/// The string at `path` in `v`; `""` when absent or not a string.
pub(crate) fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

/// The boolean at `path` in `v`; `false` when absent or not a boolean.
pub(crate) fn bool_at(v: &serde_json::Value, path: &[&str]) -> bool {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return false,
        }
    }
    cur.as_bool().unwrap_or(false)
}

/// The selectable fields of an object of a resource, extracted once when
/// it is stored, as upstream's per-registry `ToSelectableFields`.
pub fn selectable_fields(resource: &Resource, object: &serde_json::Value) -> Fields {
    let mut out = meta_fields(object, resource.namespaced);
    resource.strategy.selectable_fields(object, &mut out);
    out
}

/// The fields every object has: `metadata.name`, and `metadata.namespace`
/// when it is namespaced.
pub fn meta_fields(object: &serde_json::Value, namespaced: bool) -> Fields {
    let s = |path: &[&str]| str_at(object, path).to_string();
    let mut out: Fields = vec![("metadata.name", s(&["metadata", "name"]))];
    if namespaced {
        out.push(("metadata.namespace", s(&["metadata", "namespace"])));
    }
    out
}

/// The labels of an object (`metadata.labels`), as pairs.
pub fn labels_of(object: &serde_json::Value) -> Vec<(String, String)> {
    match object.pointer("/metadata/labels") {
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The served resource `group`/`plural`.
    pub(super) fn res(group: &str, plural: &str) -> &'static Resource {
        crate::resources::by_plural(group, plural).expect("served")
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn err(s: &str) -> String {
        LabelSelector::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn equality_selectors_match() {
        let sel = LabelSelector::parse("app=web,tier!=db").unwrap();
        assert_eq!(sel.requirements().len(), 2);
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "frontend")])));
        assert!(sel.matches(&labels(&[("app", "web")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("app", "api")])));
        assert_eq!(sel.to_string(), "app=web,tier!=db");
        let sel = LabelSelector::parse("app==web").unwrap();
        assert!(sel.matches(&labels(&[("app", "web")])));
        assert_eq!(sel.requires_exact_match("app"), Some("web"));
    }

    #[test]
    fn set_selectors_match() {
        let sel = LabelSelector::parse("env in (prod, qa)").unwrap();
        assert!(sel.matches(&labels(&[("env", "qa")])));
        assert!(!sel.matches(&labels(&[("env", "dev")])));
        assert!(!sel.matches(&labels(&[])));
        assert_eq!(sel.requirements()[0].values, vec!["prod", "qa"]);
        let sel = LabelSelector::parse("env notin (prod)").unwrap();
        assert!(sel.matches(&labels(&[])));
        assert!(!sel.matches(&labels(&[("env", "prod")])));
        // `in` and `notin` are plain values inside the parentheses.
        let sel = LabelSelector::parse("x in (in,notin)").unwrap();
        assert!(sel.matches(&labels(&[("x", "notin")])));
        // Empty value sets mean the empty value.
        let sel = LabelSelector::parse("x in ()").unwrap();
        assert!(sel.matches(&labels(&[("x", "")])));
        let sel = LabelSelector::parse("x in (a,,b)").unwrap();
        assert_eq!(sel.requirements()[0].values, vec!["", "a", "b"]);
    }

    #[test]
    fn existence_selectors_match() {
        let sel = LabelSelector::parse("!canary").unwrap();
        assert!(sel.matches(&labels(&[("app", "web")])));
        assert!(!sel.matches(&labels(&[("canary", "")])));
        let sel = LabelSelector::parse("app").unwrap();
        assert!(sel.matches(&labels(&[("app", "")])));
        assert!(!sel.matches(&labels(&[])));
        let sel = LabelSelector::parse(" app , !canary ").unwrap();
        assert_eq!(sel.to_string(), "app,!canary");
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("  ").unwrap().is_empty());
        // Greater/less than, as upstream's parser accepts.
        let sel = LabelSelector::parse("replicas>2").unwrap();
        assert!(sel.matches(&labels(&[("replicas", "3")])));
        assert!(!sel.matches(&labels(&[("replicas", "2")])));
        assert!(!sel.matches(&labels(&[("replicas", "x")])));
        // The empty value after `=`.
        let sel = LabelSelector::parse("a=,b").unwrap();
        assert!(sel.matches(&labels(&[("a", ""), ("b", "1")])));
    }

    #[test]
    fn label_selector_errors_are_upstreams() {
        assert_eq!(
            err("app=("),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(err("a=b c"), "found 'c', expected: ',' or 'end of string'");
        assert_eq!(err("a,"), "found '', expected: identifier after ','");
        assert_eq!(
            err(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            err("!"),
            "unable to parse requirement: found '', expected: identifier"
        );
        assert_eq!(
            err("a in (,"),
            "unable to parse requirement: found '', expected: ',', or identifier"
        );
        assert_eq!(
            err("Bad_=x"),
            "unable to parse requirement: <nil>: Invalid value: \"Bad_\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            err("app=x_"),
            "unable to parse requirement: values[0][app]: Invalid value: \"x_\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(
            err("a>b"),
            "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        // A NUL byte ends a token as upstream's lexer reads it.
        assert!(LabelSelector::parse("a\0").is_ok());
    }

    #[test]
    fn from_metav1_selector() {
        let sel: metav1::LabelSelector = serde_json::from_value(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"}
            ]
        }))
        .unwrap();
        let s = LabelSelector::from_label_selector(&sel).unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "b")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "b"), ("canary", "1")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        let empty = metav1::LabelSelector::default();
        assert!(
            LabelSelector::from_label_selector(&empty)
                .unwrap()
                .is_empty()
        );
        assert!(
            !LabelSelector::from_optional(None)
                .unwrap()
                .matches(&labels(&[]))
        );
        let bad: metav1::LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "k", "operator": "Foo"}]
        }))
        .unwrap();
        assert_eq!(
            LabelSelector::from_label_selector(&bad)
                .unwrap_err()
                .to_string(),
            "\"Foo\" is not a valid label selector operator"
        );
        let bad: metav1::LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "k", "operator": "In", "values": []}]
        }))
        .unwrap();
        assert_eq!(
            LabelSelector::from_label_selector(&bad)
                .unwrap_err()
                .to_string(),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
    }

    #[test]
    fn field_selectors_parse_and_match() {
        let fs = FieldSelector::parse("metadata.name=web-0,status.phase!=Running").unwrap();
        let fields = vec![
            ("metadata.name", "web-0".to_string()),
            ("status.phase", "Pending".to_string()),
        ];
        assert!(fs.matches(&fields));
        let fields2 = vec![
            ("metadata.name", "web-0".to_string()),
            ("status.phase", "Running".to_string()),
        ];
        assert!(!fs.matches(&fields2));
        assert_eq!(fs.requires_exact_match("metadata.name"), Some("web-0"));
        let fs = FieldSelector::parse("spec.nodeName==").unwrap();
        assert!(fs.matches(&[("spec.nodeName", String::new())]));
        assert!(fs.matches(&[]));
        assert!(FieldSelector::parse("").unwrap().is_empty());
        assert!(FieldSelector::parse(",").unwrap().is_empty());
    }

    #[test]
    fn field_selector_escaping() {
        let fs = FieldSelector::parse(r"metadata.name=a\,b\=c\\d").unwrap();
        assert_eq!(fs.requirements()[0].value, r"a,b=c\d");
        assert_eq!(fs.to_string(), r"metadata.name=a\,b\=c\\d");
        assert_eq!(
            FieldSelector::parse(r"a=b\x").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            FieldSelector::parse("a=b,nonsense")
                .unwrap_err()
                .to_string(),
            "invalid selector: 'a=b,nonsense'; can't understand 'nonsense'"
        );
        assert_eq!(escape_field_value(r"a,b=c\"), r"a\,b\=c\\");
    }

    #[test]
    fn field_labels_per_resource() {
        assert!(is_supported_field(res("", "pods"), "spec.nodeName"));
        assert!(is_supported_field(res("", "events"), "involvedObject.uid"));
        assert!(is_supported_field(
            res("apps", "statefulsets"),
            "metadata.namespace"
        ));
        assert!(!is_supported_field(res("", "nodes"), "metadata.namespace"));
        assert_eq!(
            convert_field_label(res("", "pods"), "spec.foo")
                .unwrap_err()
                .to_string(),
            "field label not supported: spec.foo"
        );
        assert_eq!(
            convert_field_label(res("", "configmaps"), "data.x")
                .unwrap_err()
                .to_string(),
            "\"data.x\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let fs = FieldSelector::parse("spec.host=n1")
            .unwrap()
            .convert_for(res("", "pods"))
            .unwrap();
        assert_eq!(fs.requirements()[0].field, "spec.nodeName");
    }

    #[test]
    fn selectable_fields_of_objects() {
        let pod = serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        let f = selectable_fields(res("", "pods"), &pod);
        let fs =
            FieldSelector::parse("spec.nodeName=n1,status.podIP=10.0.0.5,spec.hostNetwork=false")
                .unwrap();
        assert!(fs.matches(&f));
        assert_eq!(labels_of(&pod), labels(&[("app", "web")]));
        let ev = serde_json::json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"uid": "u1", "name": "web-0", "kind": "Pod"},
            "reportingComponent": "kubelet",
            "type": "Normal"
        });
        let f = selectable_fields(res("", "events"), &ev);
        let fs =
            FieldSelector::parse("involvedObject.uid=u1,involvedObject.name=web-0,source=kubelet")
                .unwrap();
        assert!(fs.matches(&f));
        let node = serde_json::json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        let f = selectable_fields(res("", "nodes"), &node);
        assert!(!f.iter().any(|(k, _)| *k == "metadata.namespace"));
        assert!(
            FieldSelector::parse("spec.unschedulable=true")
                .unwrap()
                .matches(&f)
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::tests::res;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn label_parser_never_panics(s in ".{0,64}") {
            let _ = LabelSelector::parse(&s);
        }

        #[test]
        fn label_parser_never_panics_on_selector_alphabet(s in "[a-z!=(), \t<>\0_./-]{0,40}") {
            if let Ok(sel) = LabelSelector::parse(&s) {
                // What parses prints back to something that parses the same.
                let again = LabelSelector::parse(&sel.to_string()).unwrap();
                prop_assert_eq!(again.requirements(), sel.requirements());
            }
        }

        #[test]
        fn field_parser_never_panics(s in ".{0,64}") {
            if let Ok(fs) = FieldSelector::parse(&s) {
                let _ = fs.convert_for(res("", "pods"));
                let _ = fs.matches(&[("metadata.name", "x".to_string())]);
            }
        }

        #[test]
        fn field_values_round_trip(v in ".{0,20}") {
            let s = format!("metadata.name={}", escape_field_value(&v));
            let fs = FieldSelector::parse(&s).unwrap();
            prop_assert_eq!(fs.requires_exact_match("metadata.name"), Some(v.as_str()));
        }
    }
}
