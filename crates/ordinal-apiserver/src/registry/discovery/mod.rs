//! discovery.k8s.io/v1.

pub(crate) mod endpoint_slice;
