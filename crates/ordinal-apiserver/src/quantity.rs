//! Resource quantities as they come in JSON: a string, or a bare number
//! as kubectl sometimes sends. The grammar, comparison and rounding are
//! [`ordinal_core::quantity`]'s.

use ordinal_core::quantity::Quantity;

/// Reads a JSON quantity: a string, or a bare number as kubectl sometimes
/// sends.
pub fn from_json(v: &serde_json::Value) -> Option<Quantity> {
    match v {
        serde_json::Value::String(s) => Quantity::parse(s),
        serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => None,
    }
}

/// The text of a JSON quantity for messages.
pub fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
