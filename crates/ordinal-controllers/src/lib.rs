//! Controllers that reconcile through the Kubernetes API only
//! (`kube::Client`), so each works against ordinal and a real cluster alike.
//!
//! - [`gc`]: the garbage collector (owner references, foreground and
//!   orphan deletion);
//! - [`namespace`]: the namespace controller (empties and finalizes
//!   namespaces being deleted);
//! - [`events`]: recording core/v1 Events with client-go's aggregation;
//! - [`statefulset`]: the pure planning core of the StatefulSet controller
//!   (its driver arrives with issue 4).
//!
//! [`run`] runs them all until shutdown.

pub mod events;
pub mod gc;
pub mod namespace;
mod queue;
pub mod served;
pub mod statefulset;

use std::future::Future;

use futures::FutureExt;

/// Runs every controller of this crate until `shutdown` completes, then
/// returns once they have stopped.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send) {
    let shutdown = shutdown.shared();
    tokio::join!(
        gc::run(client.clone(), shutdown.clone()),
        namespace::run(client, shutdown),
    );
}
