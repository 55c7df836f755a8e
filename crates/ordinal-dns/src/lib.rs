//! Cluster DNS for `cluster.local`.
//!
//! Not built yet (issue 7). This crate exists now so the workspace has its
//! final shape.
