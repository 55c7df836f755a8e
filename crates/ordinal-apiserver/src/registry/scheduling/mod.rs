//! scheduling.k8s.io/v1.

pub(crate) mod priority_class;
