//! Why a strategic merge patch could not be applied, worded as
//! kube-apiserver words it, with the HTTP status it answers.

/// A patch that cannot be applied. The messages are upstream's, so that
/// clients see what kube-apiserver would say; [`PatchError::status_code`]
/// and [`PatchError::reason`] give the `Status` it would answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is JSON but not an object.
    #[error("json: cannot unmarshal {0} into Go value of type map[string]interface {{}}")]
    NotAnObject(&'static str),
    /// A `$deleteFromPrimitiveList/...` key or value of the wrong form.
    #[error("invalid patch format of primitive list")]
    PrimitiveListFormat,
    /// `$retainKeys` is not a list.
    #[error("invalid patch format of retainKeys")]
    RetainKeysFormat,
    /// The patch sets a key that its own `$retainKeys` does not keep.
    #[error("patch content doesn't match retainKeys list")]
    RetainKeysMismatch,
    /// A `$setElementOrder...` key of the wrong form.
    #[error("invalid patch format of setElementOrder list")]
    SetElementOrderFormat,
    /// A merged list whose elements are lists.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// A merged list's element without its merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    MissingMergeKey {
        /// The element, printed as Go prints it.
        map: String,
        /// The merge key.
        key: String,
    },
    /// `$patch` with a value other than `replace`/`delete` (or `merge`
    /// in a map).
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownDirective {
        /// The directive's value.
        directive: String,
        /// The map that holds it.
        map: String,
    },
    /// `{"$patch": "merge"}` as a list element.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A value of the wrong JSON type where a map or a list is needed.
    #[error("expected a {expected}, but received a {actual}")]
    WrongType {
        /// Go's name of the type needed.
        expected: &'static str,
        /// Go's name of the type found.
        actual: &'static str,
    },
    /// A merged list whose elements are not all of one type.
    #[error("list element types are not identical: {lists}")]
    MixedElementTypes {
        /// The lists, printed as Go prints them.
        lists: String,
    },
    /// A merged list of objects whose field declares no merge key.
    #[error("cannot merge lists without merge key for type {kind}")]
    NoMergeKey {
        /// Go's kind of the declared element type.
        kind: &'static str,
    },
    /// A merged list's patch elements out of step with its
    /// `$setElementOrder` list.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    OrderMismatch {
        /// The patch's list.
        patch: String,
        /// The `$setElementOrder` list.
        order: String,
    },
    /// An element of a `$setElementOrder` list of a list of objects is not
    /// an object.
    #[error("value for key {0} is not a map.")]
    NotAMap(usize),
    /// A diff of two objects whose `$patch` values are not strings.
    #[error("invalid value for special key: $patch")]
    InvalidDirectiveValue,
    /// Combining two patches (three-way diff) whose `$retainKeys` differ.
    #[error(
        "{0} and {1} are not deep equal: this may happen when calculating the 3-way diff patch"
    )]
    RetainKeysDiffer(String, String),
}

impl PatchError {
    /// The HTTP status kube-apiserver answers with: 400 for malformed
    /// directives and bodies, 422 for lists of lists and `$retainKeys`
    /// mismatches, 500 for the rest (upstream passes those through as
    /// plain errors).
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::NotAnObject(_)
            | PatchError::PrimitiveListFormat
            | PatchError::RetainKeysFormat
            | PatchError::SetElementOrderFormat => 400,
            PatchError::ListOfLists | PatchError::RetainKeysMismatch => 422,
            _ => 500,
        }
    }

    /// The `reason` of that `Status`: `BadRequest`, `Invalid`, or empty
    /// (upstream's `StatusReasonUnknown`) for a 500.
    pub fn reason(&self) -> &'static str {
        match self.status_code() {
            400 => "BadRequest",
            422 => "Invalid",
            _ => "",
        }
    }
}
