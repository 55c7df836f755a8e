//! What a merged list holds and in which order its elements end up.
//!
//! Upstream orders a merged list in two groups: the elements the patch
//! names (in the patch's order, or its `$setElementOrder`) and the elements
//! only the server has (in the server's order). The two are then
//! interleaved: a server-only element goes before a patch element only when
//! both appear in the server's list and it came first there.

use serde_json::Value;

use crate::directive::PATCH;
use crate::gofmt;
use crate::strategic::PatchError;

/// What the elements of a list are, as far as merging cares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Elements {
    /// Objects, identified by a merge key.
    Maps,
    /// Scalars, identified by themselves.
    Scalars,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Null,
    Bool,
    Int,
    Float,
    Str,
    List,
    Map,
}

fn class(v: &Value) -> Class {
    match v {
        Value::Null => Class::Null,
        Value::Bool(_) => Class::Bool,
        Value::Number(n) if n.is_f64() => Class::Float,
        Value::Number(_) => Class::Int,
        Value::String(_) => Class::Str,
        Value::Array(_) => Class::List,
        Value::Object(_) => Class::Map,
    }
}

/// The common kind of the elements of all `lists`, or `None` if they are
/// all empty. Lists of lists and mixed element types are errors, as
/// upstream's decoder makes them (an integer and a float differ there too).
pub(crate) fn element_kind(lists: &[&[Value]]) -> Result<Option<Elements>, PatchError> {
    let mut first: Option<Class> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let c = class(v);
        match first {
            None if c == Class::List => return Err(PatchError::ListOfLists),
            None => first = Some(c),
            Some(f) if f != c => {
                let shown: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(PatchError::MixedElementTypes {
                    lists: gofmt::value(&Value::Array(shown)),
                });
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|c| {
        if c == Class::Map {
            Elements::Maps
        } else {
            Elements::Scalars
        }
    }))
}

static NULL: Value = Value::Null;

/// What identifies an element: its merge key's value for maps (null when it
/// has none), the element itself for scalars.
pub(crate) fn identity<'a>(v: &'a Value, key: &str, kind: Elements) -> &'a Value {
    match kind {
        Elements::Maps => v.as_object().and_then(|m| m.get(key)).unwrap_or(&NULL),
        Elements::Scalars => v,
    }
}

/// The identities of a list's elements, in order.
pub(crate) fn identities(list: &[Value], key: &str, kind: Elements) -> Vec<Value> {
    list.iter()
        .map(|v| identity(v, key, kind).clone())
        .collect()
}

/// Every element is an object carrying the merge key, or the error
/// upstream gives for the first that is not.
pub(crate) fn require_merge_key(list: &[Value], key: &str) -> Result<(), PatchError> {
    for item in list {
        let Some(m) = item.as_object() else {
            return Err(PatchError::WrongType {
                expected: gofmt::MAP_TYPE,
                actual: gofmt::type_name(item),
            });
        };
        if !m.contains_key(key) {
            return Err(PatchError::MissingMergeKey {
                map: gofmt::value(item),
                key: key.to_string(),
            });
        }
    }
    Ok(())
}

pub(crate) fn is_delete_directive(v: &Value) -> bool {
    v.as_object()
        .and_then(|m| m.get(PATCH))
        .is_some_and(|d| d == "delete")
}

fn position(ids: &[Value], id: &Value) -> Option<usize> {
    ids.iter().position(|x| x == id)
}

/// Sorts `items` (stably) by where their identities appear in `order_ids`;
/// elements that are `$patch: delete` directives go last.
pub(crate) fn sort_by(items: &mut Vec<Value>, order_ids: &[Value], key: &str, kind: Elements) {
    let (mut keep, deletes): (Vec<Value>, Vec<Value>) = if kind == Elements::Maps {
        std::mem::take(items)
            .into_iter()
            .partition(|v| !is_delete_directive(v))
    } else {
        (std::mem::take(items), Vec::new())
    };
    keep.sort_by_cached_key(|v| position(order_ids, identity(v, key, kind)).unwrap_or(usize::MAX));
    keep.extend(deletes);
    *items = keep;
}

/// Orders the patch's elements by `patch_order` and the server-only ones by
/// `server_order` (both identity lists), then interleaves them.
pub(crate) fn normalize(
    mut from_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: &str,
    kind: Elements,
) -> Vec<Value> {
    sort_by(&mut from_patch, patch_order, key, kind);
    sort_by(&mut server_only, server_order, key, kind);
    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                let li = position(server_order, identity(l, key, kind));
                let ri = position(server_order, identity(r, key, kind));
                matches!((li, ri), (Some(li), Some(ri)) if li < ri)
            }
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(list: &[Value]) -> Vec<&str> {
        list.iter()
            .map(|v| v["name"].as_str().unwrap_or("?"))
            .collect()
    }

    #[test]
    fn new_patch_elements_come_before_later_server_elements() {
        let server = vec![
            json!({"name": "a"}),
            json!({"name": "b"}),
            json!({"name": "c"}),
        ];
        let ids = identities(&server, "name", Elements::Maps);
        let patch = vec![json!({"name": "b", "x": 1}), json!({"name": "d"})];
        let pids = identities(&patch, "name", Elements::Maps);
        let out = normalize(
            patch,
            vec![server[0].clone(), server[2].clone()],
            &pids,
            &ids,
            "name",
            Elements::Maps,
        );
        assert_eq!(names(&out), ["a", "b", "d", "c"]);
    }

    #[test]
    fn kinds() {
        assert_eq!(element_kind(&[&[], &[]]).unwrap(), None);
        assert_eq!(
            element_kind(&[&[json!("a")], &[json!("b")]]).unwrap(),
            Some(Elements::Scalars)
        );
        assert_eq!(
            element_kind(&[&[json!({})], &[]]).unwrap(),
            Some(Elements::Maps)
        );
        assert_eq!(element_kind(&[&[json!([1])]]), Err(PatchError::ListOfLists));
        let err = element_kind(&[&[json!(1)], &[json!(1.5)]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "list element types are not identical: [[1] [1.5]]"
        );
    }
}
