//! The `$`-keys of a strategic merge patch.

/// `{"$patch": "replace" | "delete" | "merge"}` in a map or a list element.
pub(crate) const PATCH: &str = "$patch";
/// `"$retainKeys": [...]`: the keys of the map to keep.
pub(crate) const RETAIN_KEYS: &str = "$retainKeys";
/// `"$setElementOrder/<field>": [...]`: the order of a merged list.
pub(crate) const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `"$deleteFromPrimitiveList/<field>": [...]`: scalars to remove.
pub(crate) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// The field a prefixed directive key names: `Some("env")` for
/// `$setElementOrder/env`; `None` when the key starts with the prefix but is
/// not `<prefix>/<field>`, which upstream rejects as a malformed patch.
pub(crate) fn field_of<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, field) = key.split_once('/')?;
    (head == prefix).then_some(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_prefixed_keys() {
        assert_eq!(
            field_of("$setElementOrder/env", SET_ELEMENT_ORDER),
            Some("env")
        );
        assert_eq!(
            field_of("$setElementOrder/a/b", SET_ELEMENT_ORDER),
            Some("a/b")
        );
        assert_eq!(field_of("$setElementOrder", SET_ELEMENT_ORDER), None);
        assert_eq!(field_of("$setElementOrderX/env", SET_ELEMENT_ORDER), None);
    }
}
