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
//!   running the controllers as replicas (`ordinal controller`);
//! - [`node_lifecycle`]: marks nodes whose heartbeat stopped unreachable
//!   (run by `ordinal up`; a real cluster has its own).
//!
//! [`run`] runs the ones that also make sense against a real cluster (the
//! StatefulSet controller, garbage collector and namespace controller);
//! [`run_local`] the ones only `ordinal up` needs.

pub mod endpoints;
pub mod events;
pub mod gc;
pub mod leader;
pub mod namespace;
pub mod node_lifecycle;
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
        statefulset::run(client, shutdown),
    );
}

/// What the single-machine controllers need.
#[derive(Debug, Clone, Default)]
pub struct LocalConfig {
    pub node_lifecycle: node_lifecycle::Config,
}

/// The controllers a real cluster already has and `ordinal up` must bring
/// itself: endpoints and endpoint slices, and the node lifecycle
/// controller. `ordinal controller` does not run them, so it never
/// contends with kube-controller-manager.
pub async fn run_local(
    client: kube::Client,
    config: LocalConfig,
    shutdown: impl Future<Output = ()> + Send,
) {
    let shutdown = shutdown.shared();
    tokio::join!(
        endpoints::run(client.clone(), shutdown.clone()),
        node_lifecycle::run(client, config.node_lifecycle, shutdown),
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
