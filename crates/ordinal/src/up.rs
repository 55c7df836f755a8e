//! `ordinal up`: every component in one process, started in the order
//! they depend on each other and stopped in the reverse.
//!
//! 1. the API server (store, credentials, kubeconfig);
//! 2. the node's host side: its bridge, whose address is the pods'
//!    gateway;
//! 3. the cluster DNS, on loopback for the host and on the gateway for
//!    pods;
//! 4. the controllers, the node agent and the service proxy, each with its
//!    own `kube::Client` through the kubeconfig, like any client.
//!
//! On SIGINT/SIGTERM the node stops its pods first (highest ordinals
//! first), then the proxy, controllers, DNS and API server go.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use ordinal_apiserver::server::{self, Config};

use crate::args::{NetworkArgs, NodeArgs};
use crate::tasks::{Background, client_from, wait_for_signal};

pub struct Up {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub controllers: bool,
    pub node: Option<NodeArgs>,
    pub node_lifecycle: ordinal_controllers::node_lifecycle::Config,
    /// Directories a StorageClass's `basePath` may point into, besides the
    /// data dir.
    pub volume_roots: Vec<PathBuf>,
    pub network: NetworkArgs,
}

/// The single-machine controllers' settings: volumes live under the data
/// dir, on this machine's node.
fn local_config(up: &Up, node_name: String) -> anyhow::Result<ordinal_controllers::LocalConfig> {
    let data_dir = std::fs::canonicalize(&up.data_dir)
        .with_context(|| format!("resolving {}", up.data_dir.display()))?;
    let mut allowed_roots = vec![data_dir.clone()];
    for root in &up.volume_roots {
        anyhow::ensure!(
            root.is_absolute(),
            "--volume-root {} must be an absolute path",
            root.display()
        );
        allowed_roots.push(root.clone());
    }
    Ok(ordinal_controllers::LocalConfig {
        volumes: ordinal_controllers::volumes::Config {
            volumes_dir: data_dir.join("volumes"),
            allowed_roots,
            local_node: node_name,
        },
        node_lifecycle: up.node_lifecycle.clone(),
    })
}

pub async fn run(up: Up) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut config = Config::new(&up.data_dir, up.listen);
    config.service_network = up.network.service_network()?;
    let service_cidr = config.service_network.cidr;
    let running = server::start(config)
        .await
        .with_context(|| format!("starting ordinal on {}", up.data_dir.display()))?;

    let mut node_name = crate::args::default_node_name();
    let mut node = match &up.node {
        Some(args) => {
            let config = args.config(
                up.data_dir.join("node"),
                Some(&running.kubeconfig),
                &up.network.cluster_domain,
            )?;
            node_name = config.node_name.clone();
            Some(
                ordinal_node::Node::prepare(config)
                    .await
                    .context("preparing the node")?,
            )
        }
        None => None,
    };

    let dns = match up.network.no_dns {
        true => None,
        false => {
            let client = client_from(&running.kubeconfig).await?;
            let dns = ordinal_dns::Dns::start(client, up.network.dns_config())
                .await
                .context("starting the cluster DNS (choose another --dns-listen, or --no-dns)")?;
            // Pods reach it on their gateway, port 53.
            if let Some(node) = &mut node
                && let Some(network) = node.network()
            {
                let gateway = SocketAddr::new(IpAddr::V4(network.gateway), 53);
                dns.listen(gateway)
                    .await
                    .with_context(|| format!("serving the cluster DNS on {gateway}"))?;
                node.set_dns_server(Some(gateway.ip()));
            }
            Some(dns)
        }
    };

    let kubeconfig =
        std::fs::canonicalize(&running.kubeconfig).unwrap_or(running.kubeconfig.clone());
    println!(
        "ordinal is up: API server {} (ready in {} ms)",
        running.url(),
        started.elapsed().as_millis()
    );
    if let Some(dns) = &dns {
        let addresses: Vec<String> = dns.addresses().iter().map(|a| a.to_string()).collect();
        println!("  cluster DNS {} (udp, tcp)", addresses.join(", "));
    }
    if let Some(node) = &node {
        println!("  {}", crate::commands::describe_node(node));
    }
    println!("  export KUBECONFIG={}", kubeconfig.display());

    let mut tasks: Vec<(&str, Background, Duration)> = Vec::new();
    if let Some(node) = node {
        if let Some(network) = node.network() {
            let client = client_from(&running.kubeconfig).await?;
            let proxy = ordinal_node::proxy::ProxyConfig {
                table: format!("ordinal{}", network.slot()),
                bridge: network.bridge.clone(),
                pod_cidr: network.cidr,
                service_cidr,
                netns: None,
            };
            let task = Background::spawn(|stopped| async move {
                if let Err(e) = ordinal_node::proxy::run(client, proxy, stopped).await {
                    eprintln!("ordinal: the service proxy stopped: {e:#}");
                }
            });
            tasks.push(("proxy", task, Duration::from_secs(5)));
        }
        let client = client_from(&running.kubeconfig).await?;
        let task = Background::spawn(|stopped| async move {
            if let Err(e) = node.run(client, stopped).await {
                eprintln!("ordinal: the node agent stopped: {e:#}");
            }
        });
        // The node goes first: its pods stop while everything else still
        // answers.
        tasks.insert(0, ("node", task, Duration::from_secs(60)));
    }
    if up.controllers {
        let client = client_from(&running.kubeconfig).await?;
        tasks.push((
            "controllers",
            Background::spawn(|stopped| ordinal_controllers::run(client, stopped)),
            Duration::from_secs(5),
        ));
        let client = client_from(&running.kubeconfig).await?;
        let local = local_config(&up, node_name)?;
        tasks.push((
            "local controllers",
            Background::spawn(|stopped| ordinal_controllers::run_local(client, local, stopped)),
            Duration::from_secs(5),
        ));
    }

    wait_for_signal().await?;
    println!("ordinal: shutting down");
    for (what, task, within) in tasks {
        tracing::debug!(what, "stopping");
        task.stop(within).await;
    }
    if let Some(dns) = dns {
        dns.shutdown().await;
    }
    running.shutdown().await;
    Ok(())
}
