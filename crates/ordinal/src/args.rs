//! The flags the subcommands share: the node agent's and the Service
//! network's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The node's name unless told otherwise: this machine's host name, in
/// lower case as a Node name must be.
pub fn default_node_name() -> String {
    ordinal_controllers::hostname().to_lowercase()
}

/// Settings of the node agent.
#[derive(clap::Args, Clone)]
pub struct NodeArgs {
    /// How pods are isolated: `namespaces` (their own PID, network, UTS,
    /// IPC and mount namespaces; needs root) or `host` (plain processes on
    /// the host network). Default: namespaces when running as root.
    #[arg(long, value_parser = ["namespaces", "host"])]
    pub isolation: Option<String>,
    /// The pods' address range (default: a free /20 of 10.192.0.0/12).
    #[arg(long, value_parser = ordinal_node::network::ipam::parse_range)]
    pub pod_cidr: Option<ordinal_node::network::Ipv4Net>,
    /// The most pods this node runs.
    #[arg(long, default_value_t = 2048)]
    pub max_pods: u32,
    /// The node's name (default: this machine's host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Registry mirrors, plain-HTTP registries, credentials and CAs for
    /// image pulls, in k3s's `registries.yaml` format.
    #[arg(long, value_name = "FILE")]
    pub registries: Option<PathBuf>,
    /// How a container's root is made from its image: `overlayfs` (the
    /// image's layers shared, a writable layer per container) or `copy`
    /// (a private copy per container). Default: overlayfs, unless the
    /// data dir is itself on overlayfs.
    #[arg(long, value_parser = ["overlayfs", "copy"])]
    pub snapshotter: Option<String>,
    /// The most processes and threads one pod may have at once (the
    /// kubelet's podPidsLimit); 0 for no limit.
    #[arg(long, default_value_t = 4096)]
    pub pod_pids_limit: u64,
}

impl NodeArgs {
    /// The node's settings; `kubeconfig` is where the cluster CA is read
    /// from (None: the in-cluster service account's).
    pub fn config(
        &self,
        dir: PathBuf,
        kubeconfig: Option<&Path>,
        cluster_domain: &str,
    ) -> anyhow::Result<ordinal_node::Config> {
        let client_ca_pem = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                ordinal_node::server::client_ca_from_kubeconfig(&file)
                    .with_context(|| format!("the cluster CA of {}", path.display()))?
            }
            None => std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
                .context("reading the cluster CA (give --kubeconfig)")?,
        };
        use ordinal_node::runtime::process::Isolation;
        Ok(ordinal_node::Config {
            node_name: self
                .node_name
                .clone()
                .map(|n| n.to_lowercase())
                .unwrap_or_else(default_node_name),
            dir,
            isolation: match self.isolation.as_deref() {
                Some("host") => Some(Isolation::Host),
                Some(_) => Some(Isolation::Namespaces),
                None => None,
            },
            pod_cidr: self.pod_cidr,
            cluster_domain: cluster_domain.to_string(),
            dns_server: None,
            max_pods: self.max_pods,
            exe: std::env::current_exe().context("finding the ordinal binary")?,
            kubelet_port: 0,
            client_ca_pem,
            registries: self.registries.clone(),
            snapshotter: self.snapshotter.as_deref().map(|s| match s {
                "copy" => ordinal_node::SnapshotterKind::Copy,
                _ => ordinal_node::SnapshotterKind::Overlay,
            }),
            import_dir: None,
            pod_pids_limit: Some(self.pod_pids_limit).filter(|n| *n > 0),
        })
    }
}

/// `ordinal up`'s Service network and cluster DNS.
#[derive(clap::Args)]
pub struct NetworkArgs {
    /// The range Services get cluster IPs from; `default/kubernetes`
    /// takes its first address.
    #[arg(long, default_value = ordinal_apiserver::allocate::DEFAULT_SERVICE_CIDR)]
    pub service_cidr: String,
    /// The range of node ports (allocated and validated; not served).
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// Where the cluster DNS serves (UDP and TCP); repeat for more
    /// addresses. Port 0 picks a free port.
    #[arg(long = "dns-listen", default_value = DEFAULT_DNS_LISTEN)]
    pub dns_listen: Vec<SocketAddr>,
    /// Resolvers for names outside the cluster domain; repeat for more.
    /// Default: the nameservers of /etc/resolv.conf.
    #[arg(long = "dns-upstream")]
    pub dns_upstream: Vec<SocketAddr>,
    /// The cluster domain the DNS is authoritative for.
    #[arg(long, default_value = ordinal_dns::DEFAULT_DOMAIN)]
    pub cluster_domain: String,
    /// Run without cluster DNS.
    #[arg(long)]
    pub no_dns: bool,
}

/// The cluster DNS's default address: loopback, on a port that needs no
/// privilege and is outside the ephemeral range.
pub const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:10053";

impl NetworkArgs {
    pub fn service_network(&self) -> anyhow::Result<ordinal_apiserver::allocate::ServiceNetwork> {
        use ordinal_apiserver::allocate::ServiceNetwork;
        let mut network = ServiceNetwork::parse(&self.service_cidr)?;
        network.node_ports = ServiceNetwork::parse_node_ports(&self.service_node_port_range)?;
        Ok(network)
    }

    pub fn dns_config(&self) -> ordinal_dns::Config {
        ordinal_dns::Config {
            listen: self.dns_listen.clone(),
            domain: self.cluster_domain.clone(),
            upstreams: match self.dns_upstream.is_empty() {
                true => ordinal_dns::Upstreams::ResolvConf("/etc/resolv.conf".into()),
                false => ordinal_dns::Upstreams::Servers(self.dns_upstream.clone()),
            },
        }
    }
}
