//! What more than one ordinal crate needs, written once: the vocabulary of
//! Kubernetes itself that the API server, the controllers and the node
//! agent each read the same way.
//!
//! - [`quantity`]: resource quantities as apimachinery parses, compares and
//!   rounds them.
//! - [`go_text`]: text as upstream's Go code prints it (`%q`), and (feature
//!   `json`) JSON as Go's encoders write it.
//! - [`image_reference`]: container image references as the kubelet
//!   parses and normalizes them (the API server's default pull policy reads
//!   the same grammar).
//! - [`labels`]: label selectors as apimachinery matches them.
//! - `fit` (feature `k8s`): whether a node has room for a pod, the
//!   scheduler's predicates that the node agent's admission reuses.
//! - `pod` (feature `k8s`): a pod's phase, readiness and availability.
//! - `events` (feature `events`): recording core/v1 Events with
//!   client-go's aggregation, through `kube::Client`.
//! - `serve` (feature `serve`): the accept loop of the HTTPS servers, with
//!   graceful shutdown.
//! - `spdy` (feature `spdy`): SPDY/3.1 framing, for kubectl's streams.
//! - [`set_policy`]: ordinal's own StatefulSet annotations, which the API
//!   server validates and the StatefulSet controller follows; the one
//!   piece here that upstream does not define, kept here so the two never
//!   disagree on what a value means.
//!
//! ```
//! use ordinal_core::quantity::Quantity;
//!
//! let request = Quantity::parse("1536Mi").unwrap();
//! assert_eq!(request, Quantity::parse("1.5Gi").unwrap());
//! assert_eq!(Quantity::parse("250m").unwrap().milli_value(), 250);
//! ```
//!
//! What belongs here is small and defined by upstream: a piece moves in
//! when a second crate needs it, and keeps its tests. What does not: any
//! piece of one component's behaviour (a controller's plan, a resource's
//! validation, the node's runtime), anything named for being shared rather
//! than for what it does, and heavy dependencies a small user would pay
//! for.
//!
//! Features keep the small users light. The workspace takes the crate
//! without default features, so the apply and image crates, which need
//! only quantities, selectors, references and text, build without
//! k8s-openapi. `k8s` (the default) adds what reads k8s-openapi types;
//! `events` the recorder, which needs a Kubernetes client and a Tokio
//! runtime (the controllers and the node agent); `serve` the accept
//! loop, on Tokio and hyper-util (the API server and the node).

#[cfg(feature = "cron")]
pub mod cron;
pub mod go_text;
pub mod image_reference;
pub mod labels;
pub mod quantity;
pub mod set_policy;

#[cfg(feature = "events")]
pub mod events;
#[cfg(feature = "k8s")]
pub mod fit;
#[cfg(feature = "k8s")]
pub mod pod;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "spdy")]
pub mod spdy;
