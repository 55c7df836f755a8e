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

mod admission;
pub mod allocate;
pub mod auth;
mod bootstrap;
pub mod connections;
pub mod custom;
mod decode;
pub mod defaults;
mod delete_options;
mod deletion;
mod discovery;
mod eviction;
mod expiry;
pub mod fields;
pub mod fuzz;
pub mod kubelet;
mod lenient;
mod list;
mod names;
mod negotiate;
pub mod objects;
mod openapi;
mod patch;
pub mod pki;
mod pod_streams;
mod protobuf;
mod quantity;
pub mod rbac_policy;
mod registry;
mod render;
pub mod request;
pub mod resources;
mod rest;
mod selector;
pub mod server;
mod status;
mod storable;
mod stored;
mod subresource;
mod table;
pub mod validation;
mod watch;
