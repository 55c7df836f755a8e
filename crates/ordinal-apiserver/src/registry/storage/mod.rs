//! storage.k8s.io/v1.

pub(crate) mod storage_class;
