//! Controllers that reconcile through the Kubernetes API only
//! (`kube::Client`), so each works against ordinal and a real cluster alike.
//!
//! - [`gc`]: the garbage collector (owner references, foreground and
//!   orphan deletion);
//! - [`namespace`]: the namespace controller (empties and finalizes
//!   namespaces being deleted);
//! - [`events`]: recording core/v1 Events with client-go's aggregation;
//! - [`statefulset`]: the StatefulSet controller (a pure planning core and
//!   the driver that runs it against the API);
//! - [`endpoints`]: the Endpoints and EndpointSlice controllers (the
//!   addresses of the pods each Service selects);
//! - [`leader`]: leader election through a coordination.k8s.io Lease, for
//!   running the controllers as replicas (`ordinal controller`).
//!
//! [`run`] runs them all until shutdown.

pub mod endpoints;
pub mod events;
pub mod gc;
pub mod leader;
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
        namespace::run(client.clone(), shutdown.clone()),
        statefulset::run(client.clone(), shutdown.clone()),
        endpoints::run(client, shutdown),
    );
}

/// This machine's host name (for Events' `source.host` and leader
/// identities); `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
