//! Controllers that reconcile through the Kubernetes API only
//! (`kube::Client`), so each works against ordinal and a real cluster alike.
//!
//! - [`gc`]: the garbage collector (owner references, foreground and
//!   orphan deletion);
//! - [`namespace`]: the namespace controller (empties and finalizes
//!   namespaces being deleted);
//! - [`statefulset`]: the StatefulSet controller (a pure planning core and
//!   the driver that runs it against the API);
//! - [`deployment`] and [`replicaset`]: the Deployment controller
//!   (ReplicaSets per template, rolling and recreate rollouts) and the
//!   ReplicaSet controller (its pods);
//! - [`endpoints`]: the Endpoints and EndpointSlice controllers (the
//!   addresses of the pods each Service selects);
//! - [`leader`]: leader election through a coordination.k8s.io Lease, for
//!   running the controllers as replicas (`ordinal controller`);
//! - [`node_lifecycle`]: marks nodes whose heartbeat stopped unreachable,
//!   and force-deletes the pods of a node tainted out of service (run by
//!   `ordinal up`; a real cluster has its own).
//!
//! Each controller is a reconcile function over keys, driven by the one
//! runtime ([`runtime`]) and fed by the process's shared informers
//! ([`informer`]).
//!
//! [`run`] runs the ones that also make sense against a real cluster (the
//! StatefulSet controller, garbage collector and namespace controller).
//! The single-machine `ordinal up` also runs what a real cluster brings
//! its own of ([`run_all`] with a [`LocalConfig`]; `ordinal up
//! --no-controllers` runs only these, leaving StatefulSets to `ordinal
//! controller`):
//!
//! - [`deployment`] and [`replicaset`];
//! - [`scheduler`]: binds pods to Ready nodes, volumes included;
//! - [`volumes`]: the PersistentVolume binder, the local-path provisioner,
//!   protection, expansion and the default StorageClass;
//! - [`endpoints`], [`node_lifecycle`], [`service_accounts`] (a
//!   `default` ServiceAccount in every namespace) and [`root_ca`] (the
//!   ConfigMap `kube-root-ca.crt` in every namespace) and
//!   [`clusterrole_aggregation`] (the rules of `admin`, `edit`, `view`
//!   and every ClusterRole with an aggregation rule);
//! - [`service_lb`]: the service load balancer (a `LoadBalancer`
//!   Service's ingress is the Ready nodes' addresses, as k3s's);
//! - [`disruption`]: the disruption controller (PodDisruptionBudgets'
//!   status, which evictions spend);
//! - [`job`] and [`cronjob`]: the Job controller (with the deletion of
//!   finished jobs after their TTL) and the CronJob controller.

mod clusterrole_aggregation;
pub mod cronjob;
pub mod deployment;
mod disruption;
mod endpoints;
mod gc;
mod informer;
pub mod job;
pub mod leader;
mod namespace;
pub mod node_lifecycle;
mod queue;
pub mod replicaset;
mod root_ca;
mod runtime;
mod scheduler;
mod selection;
mod served;
mod service_accounts;
mod service_lb;
pub mod statefulset;
#[cfg(test)]
mod testing;
mod tolerant;
pub mod volumes;

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;

use informer::Informers;

/// Runs every controller of this crate until `shutdown` completes, then
/// returns once they have stopped.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send) {
    run_all(client, Controllers::Portable, shutdown).await
}

/// What the single-machine controllers need to know.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Where the local-path provisioner keeps volumes.
    pub volumes: volumes::Config,
    /// When a silent node counts as unreachable.
    pub node_lifecycle: node_lifecycle::Config,
    /// The CA that signed the API server's certificate (PEM), published
    /// to every namespace as the ConfigMap `kube-root-ca.crt`.
    pub root_ca: String,
}

/// Which controllers a process runs.
#[derive(Debug, Clone)]
pub enum Controllers {
    /// What `ordinal controller` brings to any cluster: the StatefulSet
    /// controller, with the garbage collector and the namespace controller.
    Portable,
    /// What a cluster brings of its own (see [`run_all`]), for
    /// `ordinal up --no-controllers`: every controller but the StatefulSet
    /// controller, which `ordinal controller` runs, in a pod or elsewhere.
    Cluster(LocalConfig),
    /// Both: `ordinal up`.
    All(LocalConfig),
}

/// Runs the controllers `which` names until `shutdown` completes. Those of
/// a cluster are the ones only the single-machine `ordinal up` has — the
/// scheduler and the volume controllers, the Deployment and ReplicaSet
/// controllers, endpoints and endpoint slices, the node lifecycle
/// controller, the service account controller, the root CA publisher, the
/// disruption, Job, CronJob and cluster-role aggregation controllers — with
/// the garbage collector and the namespace controller. All share one set
/// of informers: one watch and one cache per resource. `ordinal
/// controller` runs [`Controllers::Portable`], so it never contends with
/// kube-controller-manager but for the collector and namespace controller,
/// which are idempotent.
pub async fn run_all(
    client: kube::Client,
    which: Controllers,
    shutdown: impl Future<Output = ()> + Send,
) {
    let shutdown = shutdown.shared();
    let informers = Informers::new(client.clone());
    let (statefulsets, local) = match which {
        Controllers::Portable => (true, None),
        Controllers::Cluster(config) => (false, Some(config)),
        Controllers::All(config) => (true, Some(config)),
    };
    let statefulsets = async {
        if statefulsets {
            statefulset::run(Arc::clone(&informers), shutdown.clone()).await
        }
    };
    let local = async {
        if let Some(config) = local {
            run_local(&informers, config, shutdown.clone()).await
        }
    };
    tokio::join!(
        gc::run(client.clone(), shutdown.clone()),
        namespace::run(Arc::clone(&informers), shutdown.clone()),
        statefulsets,
        local,
    );
    informers.stop().await;
}

async fn run_local(
    informers: &Arc<Informers>,
    config: LocalConfig,
    shutdown: impl Future<Output = ()> + Send + Clone,
) {
    let client = informers.client().clone();
    let caches = volumes::Caches::new(informers);
    tokio::join!(
        {
            let (client, shutdown) = (client.clone(), shutdown.clone());
            async move {
                tokio::select! {
                    () = volumes::default_class::ensure(client) => {}
                    () = shutdown => {}
                }
            }
        },
        volumes::pv_controller::run(client.clone(), caches.clone(), shutdown.clone()),
        volumes::provisioner::run(
            client.clone(),
            caches.clone(),
            config.volumes,
            shutdown.clone()
        ),
        volumes::protection::run(client.clone(), caches.clone(), shutdown.clone()),
        volumes::resizer::run(client.clone(), caches.clone(), shutdown.clone()),
        scheduler::run(client.clone(), caches, informers, shutdown.clone()),
        deployment::run(Arc::clone(informers), shutdown.clone()),
        replicaset::run(Arc::clone(informers), shutdown.clone()),
        endpoints::run(Arc::clone(informers), shutdown.clone()),
        disruption::run(Arc::clone(informers), shutdown.clone()),
        service_accounts::run(Arc::clone(informers), shutdown.clone()),
        service_lb::run(Arc::clone(informers), shutdown.clone()),
        root_ca::run(Arc::clone(informers), config.root_ca, shutdown.clone()),
        job::run(Arc::clone(informers), shutdown.clone()),
        cronjob::run(Arc::clone(informers), shutdown.clone()),
        clusterrole_aggregation::run(Arc::clone(informers), shutdown.clone()),
        node_lifecycle::run(informers, config.node_lifecycle, shutdown),
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
