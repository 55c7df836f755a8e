//! Controllers that reconcile through the Kubernetes API only (`kube::Client`),
//! so each works in `ordinal up` and against any other API server alike.
//!
//! - [`events`]: recording core/v1 Events with client-go's aggregation.
//!
//! The StatefulSet controller (issue 4), the garbage collector and the
//! endpoints, volume and node-lifecycle controllers arrive with their issues.

pub mod events;
pub mod statefulset;
