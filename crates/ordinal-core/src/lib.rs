//! What more than one ordinal crate needs, written once: the vocabulary of
//! Kubernetes itself that the API server, the controllers and the node
//! agent each read the same way.
//!
//! - [`quantity`]: resource quantities as apimachinery parses, compares and
//!   rounds them.
//! - [`go_text`]: text as upstream's Go code prints it (`%q`).
//! - [`image_reference`]: container image references as the kubelet
//!   parses and normalizes them (the API server's default pull policy reads
//!   the same grammar).
//! - [`labels`]: label selectors as apimachinery matches them.
//! - `fit` (feature `k8s`): whether a node has room for a pod, the
//!   scheduler's predicates that the node agent's admission reuses.
//! - `pod` (feature `k8s`): a pod's phase, readiness and availability.
//! - `events` (feature `events`): recording core/v1 Events with
//!   client-go's aggregation, through `kube::Client`.
//! - `watch` (feature `watch`): what controllers' caches do to watch
//!   events (forgetting managedFields).
//! - `serve` (feature `serve`): the accept loop of the HTTPS servers, with
//!   graceful shutdown.
//!
//! What belongs here is small, pure and upstream-defined: a piece moves in
//! when a second crate needs it, and keeps its tests. What does not: any
//! piece of one component's behaviour (a controller's plan, a resource's
//! validation, the node's runtime), anything named for being shared
//! rather than for what it does, and heavy dependencies a small user would
//! pay for. The parts that read k8s-openapi types sit behind the `k8s`
//! feature (on by default, off in the workspace's dependency entry), so a
//! crate that needs only quantities, selectors and text (the apply
//! crate) builds without k8s-openapi; the event recorder needs a Kubernetes client
//! and a Tokio runtime, so it sits behind `events`, which only its users
//! (the controllers and the node agent) turn on; the accept loop needs
//! Tokio and hyper-util, behind `serve` (the API server and the node).

pub mod go_text;
pub mod image_reference;
pub mod labels;
pub mod quantity;

#[cfg(feature = "events")]
pub mod events;
#[cfg(feature = "k8s")]
pub mod fit;
#[cfg(feature = "k8s")]
pub mod pod;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "watch")]
pub mod watch;
