//! The Endpoints and EndpointSlice controllers: for every Service with a
//! selector, the addresses of the pods it selects, as upstream publishes
//! them — the core/v1 Endpoints object named after the Service
//! ([`subsets`]) and discovery/v1 EndpointSlices ([`slices`]), both from
//! the same rules about pods ([`pods`]). Services without a selector (and
//! ExternalName Services) are left to whoever manages their endpoints.
//!
//! The planning parts are pure functions from a Service and pods to the
//! objects that should exist; [`controller`] runs them from watches
//! through the API. Cluster DNS and the service proxy read the slices.

pub mod controller;
pub mod pods;
pub mod slices;
pub mod subsets;

pub use controller::run;
