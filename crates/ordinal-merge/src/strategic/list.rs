//! Merging lists: by merge key, as sets, or by replacement, and the
//! `$setElementOrder` that fixes a merged list's order.

use serde_json::{Map, Value};

use super::{Merger, PatchError};
use crate::directive::PATCH;
use crate::gofmt;
use crate::order::{self, Elements};
use crate::schema::{FieldInfo, Node};

impl Merger {
    /// Merges list `patch` into list `orig`, whose field is described by
    /// `info`; `node` is the node of the list's elements.
    pub(crate) fn merge_list(
        &self,
        orig: &mut Vec<Value>,
        patch: &[Value],
        info: FieldInfo,
        node: Node,
    ) -> Result<(), PatchError> {
        if !info.patch_strategy.merges() {
            *orig = self.fresh_list(patch);
            return Ok(());
        }
        let Some(kind) = order::element_kind(&[orig, patch])? else {
            return Ok(());
        };
        match kind {
            Elements::Scalars => {
                self.merge_scalars(orig, patch);
                Ok(())
            }
            Elements::Maps => {
                let key = info.patch_merge_key.ok_or(PatchError::NoMergeKey {
                    kind: go_kind(node),
                })?;
                self.merge_by_key(orig, patch, key, node)
            }
        }
    }

    /// A set union: the patch's values in its order, interleaved with the
    /// values only the object has.
    fn merge_scalars(&self, orig: &mut Vec<Value>, patch: &[Value]) {
        let mut from_patch: Vec<Value> = Vec::with_capacity(patch.len());
        for v in patch {
            if !from_patch.contains(v) {
                from_patch.push(v.clone());
            }
        }
        let server_order = orig.clone();
        let mut server_only: Vec<Value> = Vec::new();
        for v in orig.drain(..) {
            if !from_patch.contains(&v) && !server_only.contains(&v) {
                server_only.push(v);
            }
        }
        *orig = order::normalize(
            from_patch,
            server_only,
            patch,
            &server_order,
            "",
            Elements::Scalars,
        );
    }

    fn merge_by_key(
        &self,
        orig: &mut Vec<Value>,
        patch: &[Value],
        key: &str,
        node: Node,
    ) -> Result<(), PatchError> {
        let mut replace = false;
        let mut rest: Vec<&Map<String, Value>> = Vec::with_capacity(patch.len());
        for v in patch {
            let Some(m) = v.as_object() else { continue };
            let Some(d) = m.get(PATCH) else {
                rest.push(m);
                continue;
            };
            match d.as_str() {
                Some("delete") => {
                    let gone = m.get(key).ok_or_else(|| missing_key(v, key))?;
                    orig.retain(|o| o.as_object().and_then(|o| o.get(key)) != Some(gone));
                }
                Some("replace") => replace = true,
                Some("merge") => return Err(PatchError::MergeDirectiveInList),
                _ => {
                    return Err(PatchError::UnknownDirective {
                        directive: gofmt::string_verb(d),
                        map: gofmt::value(v),
                    });
                }
            }
        }

        if replace {
            let list: Vec<Value> = rest
                .iter()
                .map(|m| Value::Object(self.fresh_entries(m)))
                .collect();
            order::require_merge_key(&list, key)?;
            *orig = list;
            return Ok(());
        }

        for m in &rest {
            if !m.contains_key(key) {
                return Err(missing_key(&Value::Object((*m).clone()), key));
            }
        }
        order::require_merge_key(orig, key)?;
        let server_order = order::identities(orig, key, Elements::Maps);

        for m in &rest {
            let id = m.get(key);
            let found = orig
                .iter()
                .position(|o| o.as_object().and_then(|o| o.get(key)) == id);
            match found.and_then(|i| orig.get_mut(i)) {
                Some(Value::Object(o)) => self.merge_map(o, m, node)?,
                _ => orig.push(Value::Object(self.fresh_entries(m))),
            }
        }

        let patch_order: Vec<Value> = rest
            .iter()
            .map(|m| m.get(key).cloned().unwrap_or(Value::Null))
            .collect();
        let (from_patch, server_only): (Vec<Value>, Vec<Value>) = std::mem::take(orig)
            .into_iter()
            .partition(|v| patch_order.contains(order::identity(v, key, Elements::Maps)));
        *orig = order::normalize(
            from_patch,
            server_only,
            &patch_order,
            &server_order,
            key,
            Elements::Maps,
        );
        Ok(())
    }

    /// Merges the list `field` of `orig` with the patch's list (either may be
    /// absent) and orders the result by `$setElementOrder` list `order`.
    pub(crate) fn merge_ordered_list(
        &self,
        orig: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        field: &str,
        order: &[Value],
        node: Node,
    ) -> Result<(), PatchError> {
        let orig_list = match orig.get_mut(field) {
            None => None,
            Some(Value::Array(list)) => Some(std::mem::take(list)),
            Some(other) => return Err(wrong_list(other)),
        };
        let patch_list = match patch.get(field) {
            None => None,
            Some(Value::Array(list)) => Some(list.as_slice()),
            Some(other) => return Err(wrong_list(other)),
        };
        let (info, child) = node.child(field);
        let key = info.patch_merge_key.unwrap_or("");
        check_order(patch_list.unwrap_or_default(), order, key)?;

        let by = if key.is_empty() {
            Elements::Scalars
        } else {
            Elements::Maps
        };
        let kind = order::element_kind(&[
            orig_list.as_deref().unwrap_or_default(),
            patch_list.unwrap_or_default(),
        ])?;
        let server_order = orig_list
            .as_deref()
            .map(|l| order::identities(l, key, by))
            .unwrap_or_default();
        let merged = match (orig_list, patch_list) {
            (None, None) => return Ok(()),
            (Some(list), None) => list,
            (None, Some(p)) => self.fresh_list(p),
            (Some(mut list), Some(p)) => {
                self.merge_list(&mut list, p, info, child)?;
                list
            }
        };

        if by == Elements::Maps {
            order::require_merge_key(&merged, key)?;
            if let Some(i) = order.iter().position(|o| !o.is_object()) {
                return Err(PatchError::NotAMap(i));
            }
        }
        let order_ids = order::identities(order, key, by);
        let (from_patch, server_only): (Vec<Value>, Vec<Value>) = merged
            .into_iter()
            .partition(|v| order_ids.contains(order::identity(v, key, by)));
        if kind == Some(Elements::Maps) {
            order::require_merge_key(&from_patch, key)?;
            order::require_merge_key(order, key)?;
            order::require_merge_key(&server_only, key)?;
        }
        let sorted = order::normalize(from_patch, server_only, &order_ids, &server_order, key, by);
        orig.insert(field.to_string(), Value::Array(sorted));
        Ok(())
    }
}

/// The patch's list must name its elements in the order of the
/// `$setElementOrder` list (deletions and directive elements aside).
fn check_order(patch_list: &[Value], order: &[Value], key: &str) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let mut named: Vec<&Value> = Vec::with_capacity(patch_list.len());
    for v in patch_list {
        if !key.is_empty() {
            if !v.is_object() {
                return Err(PatchError::WrongType {
                    expected: gofmt::MAP_TYPE,
                    actual: gofmt::type_name(v),
                });
            }
            if order::is_delete_directive(v) {
                continue;
            }
        }
        named.push(v);
    }
    let (mut p, mut s) = (0, 0);
    while let (Some(item), Some(wanted)) = (named.get(p), order.get(s)) {
        if item.as_object().is_some_and(|m| m.contains_key(PATCH)) {
            p += 1;
            continue;
        }
        if same_key(item, wanted, key)? {
            p += 1;
        }
        s += 1;
    }
    if p < named.len() {
        return Err(PatchError::OrderMismatch {
            patch: gofmt::value(&Value::Array(patch_list.to_vec())),
            order: gofmt::value(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

fn same_key(a: &Value, b: &Value, key: &str) -> Result<bool, PatchError> {
    if key.is_empty() {
        return Ok(a == b);
    }
    let value_of = |v: &Value| -> Result<Value, PatchError> {
        let m = v.as_object().ok_or(PatchError::WrongType {
            expected: gofmt::MAP_TYPE,
            actual: gofmt::type_name(v),
        })?;
        m.get(key).cloned().ok_or_else(|| missing_key(v, key))
    };
    Ok(value_of(a)? == value_of(b)?)
}

fn missing_key(v: &Value, key: &str) -> PatchError {
    PatchError::MissingMergeKey {
        map: gofmt::value(v),
        key: key.to_string(),
    }
}

fn wrong_list(v: &Value) -> PatchError {
    PatchError::WrongType {
        expected: gofmt::LIST_TYPE,
        actual: gofmt::type_name(v),
    }
}

/// Go's kind of a list's declared element type, for the error upstream
/// gives when it has no merge key.
fn go_kind(node: Node) -> &'static str {
    match node {
        Node::Struct(_) => "struct",
        Node::Unknown | Node::MapOf(_) => "string",
    }
}
