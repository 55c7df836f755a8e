//! The node agent: ordinal's kubelet. It registers a Node, runs the pods
//! bound to it as real processes, probes them, and reports their status —
//! through `kube::Client` only, so it works against any API server
//! (`ordinal node --kubeconfig PATH`) as well as inside `ordinal up`.
//!
//! - `agent`: the watch of this node's pods and one worker per pod;
//! - [`pod`]: the pod worker (sandbox, init and app containers, restarts,
//!   probes, termination, status);
//! - [`runtime`]: how containers come to exist (the process runtime:
//!   namespaces, mounts, the pause process);
//! - [`network`]: the instance's bridge, pod addresses and veths;
//! - [`proxy`]: the service proxy (nftables rules for ClusterIPs);
//! - `registration`: the Node object and its heartbeat Lease;
//! - `machine`: capacity, system info and pressure;
//! - `logs`: container log files in the CRI format, written and read;
//! - [`server`]: the node's HTTPS API (`kubectl logs`, `kubectl exec`)
//!   over what [`streaming`] asks of a runtime;
//! - [`host`]: a stand-alone runtime of plain host processes, for tests of
//!   the streaming path.

mod agent;
pub mod console;
pub mod host;
pub mod images;
mod logs;
mod machine;
pub mod network;
pub mod pod;
pub mod proxy;
mod registration;
pub mod runtime;
pub mod server;
pub mod streaming;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::Client;
use kube::runtime::WatchStreamExt;

use network::{Ipv4Net, Network};
use runtime::process::{Isolation, ProcessRuntime};

/// How to run the node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Node object's name, and the `spec.nodeName` of the pods it runs.
    pub node_name: String,
    /// Where the node keeps pods (`<dir>/pods/<uid>`).
    pub dir: PathBuf,
    /// `None`: namespaces when running as root, host mode otherwise.
    pub isolation: Option<Isolation>,
    /// The pod range; default: the instance slot's.
    pub pod_cidr: Option<Ipv4Net>,
    /// The cluster's DNS domain (`cluster.local`): the search path and
    /// hostnames pods are given.
    pub cluster_domain: String,
    /// The cluster DNS as pods reach it (`ordinal up` serves it on the
    /// bridge gateway); `None`: pods use the host's resolvers.
    pub dns_server: Option<IpAddr>,
    /// The most pods the node takes (its `pods` capacity); it also sizes
    /// the kernel's neighbour table on the bridge.
    pub max_pods: u32,
    /// The `ordinal` binary (run as the pods' pause process).
    pub exe: PathBuf,
    /// The port the node's API (logs, exec) is served on (0: any).
    pub kubelet_port: u16,
    /// The cluster CA (PEM): clients of the node's API must present a
    /// certificate it signed (the API server does).
    pub client_ca_pem: String,
    /// The registries file (mirrors, plain-HTTP registries, credentials,
    /// CAs), as k3s's `registries.yaml`.
    pub registries: Option<PathBuf>,
    /// How image roots are made; `None`: overlayfs unless the node's
    /// directory is on a filesystem overlayfs cannot use as upper layer.
    pub snapshotter: Option<SnapshotterKind>,
    /// Image archives to import at start (`ordinal up`'s `<data>/images`,
    /// as k3s's air-gap directory).
    pub import_dir: Option<PathBuf>,
    /// The most tasks (processes and threads) a pod may have at once (the
    /// kubelet's `podPidsLimit`); `None`: unlimited.
    pub pod_pids_limit: Option<u64>,
}

/// Which way image roots are made (`--snapshotter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotterKind {
    /// An overlay mount of the image's layers under a per-container
    /// upper directory: nothing is copied.
    Overlay,
    /// A copy of the layers per container, where overlayfs cannot be used
    /// (the node's directory is itself on overlayfs).
    Copy,
}

/// A node whose host-side setup is done (network up), ready to run.
pub struct Node {
    config: Config,
    isolation: Isolation,
    network: Option<Arc<Network>>,
}

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The bridge or the instance slot could not be set up.
    #[error("setting up the pod network: {0}")]
    Network(#[from] network::NetworkError),
    /// The node's directory could not be made, or the runtime not started.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The API server refused the Node object (or could not be reached).
    #[error("registering the node: {0}")]
    Register(#[from] kube::Error),
    /// The node's HTTPS API (logs, exec) could not start.
    #[error("starting the node's API: {0}")]
    Server(#[from] server::NodeServerError),
    /// The image store (or the registries file) could not be opened.
    #[error("{0}")]
    Images(String),
}

impl Node {
    /// Chooses the isolation and, with namespaces, makes the bridge.
    pub async fn prepare(mut config: Config) -> Result<Node, NodeError> {
        // Absolute once and for all: a container's root is mounted after
        // the runtime has moved into the image's layers, where a path
        // relative to where ordinal started (`ordinal up`'s default
        // `.ordinal`) names nothing.
        config.dir = std::path::absolute(&config.dir)?;
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let isolation = config.isolation.unwrap_or(if root {
            Isolation::Namespaces
        } else {
            Isolation::Host
        });
        let network = match isolation {
            Isolation::Namespaces => Some(Arc::new(
                Network::setup(config.pod_cidr, config.max_pods).await?,
            )),
            Isolation::Host => None,
        };
        std::fs::create_dir_all(config.dir.join("pods"))?;
        Ok(Node {
            config,
            isolation,
            network,
        })
    }

    /// How image roots are made: as configured, else overlayfs unless the
    /// node's directory is itself on overlayfs (which cannot be an upper
    /// layer).
    pub fn snapshotter(&self) -> SnapshotterKind {
        if let Some(kind) = self.config.snapshotter {
            return kind;
        }
        const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
        let path = std::ffi::CString::new(self.config.dir.as_os_str().as_encoded_bytes());
        let on_overlay = path.is_ok_and(|path| {
            // SAFETY: statfs into a zeroed struct of the right type.
            let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
            // SAFETY: a NUL-terminated path we own, and that struct.
            unsafe {
                libc::statfs(path.as_ptr(), &mut fs) == 0
                    && fs.f_type as i64 == OVERLAYFS_SUPER_MAGIC
            }
        });
        if on_overlay {
            SnapshotterKind::Copy
        } else {
            SnapshotterKind::Overlay
        }
    }

    /// Where pods' resolv.conf sends them (the cluster DNS); `None`: the
    /// host's resolvers.
    pub fn set_dns_server(&mut self, server: Option<IpAddr>) {
        self.config.dns_server = server;
    }

    /// The instance's bridge and pod range; `None` in host mode.
    pub fn network(&self) -> Option<&Arc<Network>> {
        self.network.as_ref()
    }

    /// The node's address: the bridge gateway, or loopback in host mode.
    pub fn address(&self) -> IpAddr {
        match &self.network {
            Some(n) => IpAddr::V4(n.gateway),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// Registers the node and runs its pods until `shutdown`; then stops
    /// the pods (highest ordinals first) and removes the bridge.
    pub async fn run(
        self,
        client: Client,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), NodeError> {
        let address = self.address();
        let registry = pod::registry::Registry::default();
        let server = server::start(
            server::NodeServerConfig {
                listen: std::net::SocketAddr::new(address, self.config.kubelet_port),
                client_ca_pem: self.config.client_ca_pem.clone(),
                serving: None,
            },
            Arc::new(registry.clone()),
        )
        .await?;
        let instance = self
            .network
            .as_ref()
            .map(|n| n.bridge.clone())
            .unwrap_or_else(|| "ordinal-host".into());
        let cgroups = tokio::task::spawn_blocking(move || {
            runtime::cgroups::Cgroups::setup(std::path::Path::new("/sys/fs/cgroup"), &instance)
        })
        .await
        .map_err(|e| NodeError::Io(std::io::Error::other(e)))?;
        if let Some(why) = cgroups.unavailable() {
            eprintln!(
                "ordinal: node {}: pods run without some resource limits: {why}",
                self.config.node_name
            );
        }
        let identity = registration::Identity {
            limits_unenforced: cgroups.unavailable().map(String::from),
            name: self.config.node_name.clone(),
            address,
            kubelet_port: server.addr().port(),
            pod_cidr: self.network.as_ref().map(|n| n.cidr.to_string()),
            data_dir: self.config.dir.clone(),
            max_pods: self.config.max_pods,
        };
        let node = registration::register(&client, &identity).await?;
        let images = match self.isolation {
            Isolation::Namespaces => Some(Arc::new(
                images::Images::open(
                    &images::store_dir(&self.config.dir),
                    self.config.registries.as_deref(),
                )
                .map_err(NodeError::Images)?,
            )),
            Isolation::Host => None,
        };
        let snapshotter = match self.snapshotter() {
            SnapshotterKind::Overlay => runtime::process::Snapshotter::Overlay,
            SnapshotterKind::Copy => {
                runtime::process::Snapshotter::Copy(Arc::new(ordinal_image::materialize))
            }
        };
        let cgroups = Arc::new(cgroups);
        let runtime = ProcessRuntime::new(
            self.isolation,
            self.network.clone(),
            self.config.exe.clone(),
            address,
            snapshotter,
            Arc::clone(&cgroups),
        )?;
        let capacity = machine::capacity(&self.config.dir, self.config.max_pods);
        let recorder = ordinal_core::events::Recorder::new(
            client.clone(),
            ordinal_core::events::Source {
                component: "kubelet".into(),
                host: self.config.node_name.clone(),
            },
        );
        let dns = pod::files::Dns {
            server: self.config.dns_server,
            domain: self.config.cluster_domain.clone(),
            host_resolv_conf: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        };
        // Every Service, for containers' service variables.
        let (services, services_writer) = kube::runtime::reflector::store();
        let ctx = Arc::new(pod::Context {
            client: client.clone(),
            runtime: Arc::new(runtime),
            recorder,
            node_name: self.config.node_name.clone(),
            host_ip: address,
            pods_dir: self.config.dir.join("pods"),
            dns,
            node_cpu_millis: i64::from(capacity.cpus) * 1000,
            node_memory: capacity.memory_bytes as i64,
            registry,
            images: images.clone(),
            pod_pids_limit: self.config.pod_pids_limit,
            services,
        });
        let shutdown = shutdown.shared();
        let follow_services = {
            let shutdown = shutdown.clone();
            let api: kube::Api<k8s_openapi::api::core::v1::Service> =
                kube::Api::all(client.clone());
            let stream = kube::runtime::watcher(api, Default::default())
                .default_backoff()
                .reflect(services_writer)
                .for_each(|_| async {});
            async move {
                tokio::select! {
                    _ = stream => {}
                    _ = shutdown => {}
                }
            }
        };
        let image_work = async {
            if let Some(images) = &images {
                if let Some(dir) = &self.config.import_dir {
                    images::import_dir(images, dir).await;
                }
                Arc::clone(images).collect_garbage(shutdown.clone()).await;
            }
        };
        tokio::join!(
            registration::heartbeat(
                client.clone(),
                identity,
                node.metadata.uid.clone(),
                images.clone(),
                shutdown.clone()
            ),
            agent::run(ctx, shutdown.clone()),
            image_work,
            follow_services,
        );
        server.shutdown().await;
        let _ = tokio::task::spawn_blocking(move || cgroups.teardown()).await;
        if let Some(network) = &self.network {
            network.teardown().await;
        }
        Ok(())
    }
}
