//! apps/v1.

pub(crate) mod controller_revision;
pub(crate) mod stateful_set;
