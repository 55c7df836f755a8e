//! The node agent: runs the pods bound to this node as processes.
//!
//! Not built yet (issue 5). This crate exists now so the workspace has its
//! final shape.

pub mod proxy;
