//! ordinal's Kubernetes API server.
//!
//! The server speaks the Kubernetes REST protocol that kubectl and kube-rs
//! use unchanged: discovery, OpenAPI, CRUD, list and watch with
//! resourceVersion semantics, Table output and Status errors. Objects live in
//! [`ordinal_store`].

pub mod decode;
pub mod names;
pub mod resources;
pub mod selector;
