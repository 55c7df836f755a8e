//! Controllers that reconcile through the Kubernetes API only (`kube::Client`).
//!
//! Not built yet: the StatefulSet controller (issue 4), the garbage collector
//! and the endpoints, volume and node-lifecycle controllers arrive with their
//! issues. This crate exists now so the workspace has its final shape.
