//! ordinal's Kubernetes API server.
//!
//! The server speaks the Kubernetes REST protocol that kubectl and kube-rs
//! use unchanged: discovery, OpenAPI, CRUD, list and watch with
//! resourceVersion semantics, Table output and Status errors. Objects live in
//! [`ordinal_store`].
//!
//! A request flows: [`server`] (TLS, authentication) → [`request`] (which
//! resource) → [`rest`] (the verb; [`list`] and [`watch`] for reads of
//! collections) → [`ordinal_store`] → [`render`] (JSON, YAML or a Table).

pub mod admission;
pub mod allocate;
pub mod bootstrap;
pub mod connections;
pub mod decode;
pub mod defaults;
pub mod delete_options;
pub mod deletion;
pub mod discovery;
pub mod expiry;
pub mod fields;
pub mod fuzz;
pub mod kubelet;
pub mod lenient;
pub mod list;
pub mod names;
pub mod negotiate;
pub mod objects;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod pod_streams;
pub mod protobuf;
pub mod quantity;
mod registry;
pub mod render;
pub mod request;
pub mod resources;
pub mod rest;
pub mod selector;
pub mod server;
pub mod status;
pub mod storable;
pub mod subresource;
pub mod table;
pub mod validation;
pub mod watch;
