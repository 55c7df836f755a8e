//! node.k8s.io/v1.

pub(crate) mod runtime_class;
