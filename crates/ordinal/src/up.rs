//! `ordinal up`: every component in one process, started in the order
//! they depend on each other and stopped in the reverse.
//!
//! 1. the API server (store, credentials, kubeconfig);
//! 2. the node's host side: its bridge, whose address is the pods'
//!    gateway, where the API server also listens for pods (the endpoints
//!    of the `kubernetes` Service);
//! 3. the cluster DNS, on loopback for the host and on the gateway for
//!    pods;
//! 4. the controllers (one set of shared informers for all of them), the
//!    service proxy and the node agent, each with its own `kube::Client`
//!    through the kubeconfig, like any client.
//!
//! Each is a component of [`Components`]; on SIGINT/SIGTERM they stop in
//! the reverse order: the node stops its pods first (highest ordinals
//! first), then the proxy, controllers, DNS and API server go.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use ordinal_apiserver::server::{self, Config};

use crate::args::{NetworkArgs, NodeArgs};
use crate::components::Components;
use crate::identities;
use crate::tasks::{Agent, client_from, wait_for_signal};

/// Which controllers `ordinal up` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controllers {
    /// All of them.
    All,
    /// A cluster's own, without the StatefulSet controller
    /// (`--no-controllers`: `ordinal controller` runs it).
    Cluster,
    /// None: the API alone (`--api-only`).
    None,
}

pub struct Up {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub controllers: Controllers,
    pub node: Option<NodeArgs>,
    pub node_lifecycle: ordinal_controllers::node_lifecycle::Config,
    /// Directories a StorageClass's `basePath` may point into, besides
    /// `<data dir>/volumes`.
    pub volume_roots: Vec<PathBuf>,
    pub network: NetworkArgs,
}

/// The single-machine controllers' settings: volumes live under the data
/// dir, on this machine's node.
fn local_config(
    up: &Up,
    node_name: String,
    ca_pem: String,
) -> anyhow::Result<ordinal_controllers::LocalConfig> {
    let data_dir = std::fs::canonicalize(&up.data_dir)
        .with_context(|| format!("resolving {}", up.data_dir.display()))?;
    // Volumes go under `<data dir>/volumes`, never elsewhere in the data
    // dir: the CA key, the token and the store live there.
    let mut allowed_roots = vec![data_dir.join("volumes")];
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
        root_ca: ca_pem,
    })
}

pub async fn run(up: Up) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut components = Components::default();
    let running = start_api(&up).await?;
    let (url, kubeconfig) = (running.url(), running.kubeconfig.clone());
    let ca_pem = running.credentials.ca_pem.clone();
    // Each component connects as itself, with only the rights RBAC gives
    // it (see `identities`).
    let as_controller = running.component_kubeconfig(identities::CONTROLLER);
    let as_node = running.component_kubeconfig(identities::NODE);
    let as_dns = running.component_kubeconfig(identities::DNS);
    let mut node = match &up.node {
        Some(args) => match prepare_node(&up, args, &as_node).await {
            Ok(node) => Some(node),
            Err(e) => {
                running.shutdown().await;
                return Err(e);
            }
        },
        None => None,
    };
    // Pods reach the API server on their gateway, through the
    // `kubernetes` Service.
    if let Some(network) = node.as_ref().and_then(|(node, _)| node.network()) {
        let at = SocketAddr::new(IpAddr::V4(network.gateway), running.addr.port());
        if let Err(e) = running.listen_for_pods(at).await {
            running.shutdown().await;
            return Err(e).with_context(|| format!("serving the API to pods on {at}"));
        }
    }
    components.started("API server", Duration::from_secs(15), move || {
        running.shutdown()
    });
    if !up.network.no_dns {
        let dns = start_dns(&up, &as_dns, node.as_mut().map(|(node, _)| node)).await?;
        components.started("cluster DNS", Duration::from_secs(5), move || {
            dns.shutdown()
        });
    }
    print_banner(&url, &kubeconfig, started);

    // The network's slot stays claimed until the very end: the DNS still
    // holds the gateway address after the node has stopped, and another
    // instance must not take the slot (and that address) before it lets go.
    let _slot = node.as_ref().and_then(|(node, _)| node.network().cloned());
    let node_name = node
        .as_ref()
        .map(|(_, name)| name.clone())
        .unwrap_or_else(crate::args::default_node_name);
    if up.controllers != Controllers::None {
        let client = client_from(&as_controller, Agent::Controller).await?;
        let local = local_config(&up, node_name.clone(), ca_pem)?;
        let which = match up.controllers {
            Controllers::Cluster => ordinal_controllers::Controllers::Cluster(local),
            _ => ordinal_controllers::Controllers::All(local),
        };
        components.spawn("controllers", Duration::from_secs(5), |stopped| {
            ordinal_controllers::run_all(client, which, stopped)
        });
    }
    if let Some((node, name)) = node {
        start_node(&mut components, &up, (node, name), &as_node, started).await?;
    }

    wait_for_signal().await?;
    println!("ordinal: shutting down");
    // The node goes first: its pods stop while everything else still
    // answers.
    components.stop().await;
    Ok(())
}

/// The API server, with its store, credentials and kubeconfig.
async fn start_api(up: &Up) -> anyhow::Result<server::Running> {
    let fresh = !up.data_dir.join("kubeconfig").exists();
    let mut config = Config::new(&up.data_dir, up.listen);
    config.service_network = up.network.service_network()?;
    config.bootstrap.push(host_runtime_class());
    config.bootstrap.extend(identities::policy());
    config.components = identities::components(&node_name(up));
    let running = server::start(config)
        .await
        .with_context(|| format!("starting ordinal on {}", up.data_dir.display()))?;
    let dir = std::fs::canonicalize(&up.data_dir).unwrap_or(up.data_dir.clone());
    progress(format_args!(
        "data in {} ({})",
        dir.display(),
        if fresh {
            "new: CA, token and kubeconfig made"
        } else {
            "existing"
        }
    ));
    progress(format_args!("API server on {}", running.url()));
    Ok(running)
}

/// The name the node agent registers as (and the components' identities
/// name).
fn node_name(up: &Up) -> String {
    up.node
        .as_ref()
        .and_then(|args| args.node_name.clone())
        .map(|n| n.to_lowercase())
        .unwrap_or_else(crate::args::default_node_name)
}

/// The node's host side (its bridge, whose address is the pods' gateway)
/// and its image store, before anything runs on it; and its name.
async fn prepare_node(
    up: &Up,
    args: &NodeArgs,
    kubeconfig: &Path,
) -> anyhow::Result<(ordinal_node::Node, String)> {
    let mut config = args.config(
        up.data_dir.join("node"),
        Some(kubeconfig),
        &up.network.cluster_domain,
    )?;
    // Archives dropped here are imported at start (k3s's air-gap
    // directory).
    config.import_dir = Some(up.data_dir.join("images"));
    let name = config.node_name.clone();
    let node = ordinal_node::Node::prepare(config)
        .await
        .context("preparing the node")?;
    progress(format_args!(
        "node {name}: {}",
        crate::commands::describe_node(&node)
    ));
    Ok((node, name))
}

/// The cluster DNS, on loopback for the host and on the gateway for pods.
async fn start_dns(
    up: &Up,
    kubeconfig: &Path,
    node: Option<&mut ordinal_node::Node>,
) -> anyhow::Result<ordinal_dns::Dns> {
    let client = client_from(kubeconfig, Agent::Dns).await?;
    let dns = ordinal_dns::Dns::start(client, up.network.dns_config())
        .await
        .context("starting the cluster DNS (choose another --dns-listen, or --no-dns)")?;
    // Pods reach it on their gateway, port 53.
    if let Some(node) = node
        && let Some(network) = node.network()
    {
        let gateway = SocketAddr::new(IpAddr::V4(network.gateway), 53);
        dns.listen(gateway)
            .await
            .with_context(|| format!("serving the cluster DNS on {gateway}"))?;
        node.set_dns_server(Some(gateway.ip()));
    }
    let addresses: Vec<String> = dns.addresses().iter().map(|a| a.to_string()).collect();
    progress(format_args!(
        "cluster DNS for {} on {} (udp, tcp)",
        up.network.cluster_domain,
        addresses.join(", ")
    ));
    Ok(dns)
}

/// The banner: its first line is what scripts wait for.
fn print_banner(url: &str, kubeconfig: &Path, started: Instant) {
    let kubeconfig = std::fs::canonicalize(kubeconfig).unwrap_or(kubeconfig.to_path_buf());
    println!(
        "ordinal is up: API server {url} (ready in {} ms)",
        started.elapsed().as_millis()
    );
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!(
        "  kubectl get nodes,pods -A      # then apply a StatefulSet; Ctrl-C stops ordinal and its pods"
    );
}

/// The node agent, its service proxy and the report of its readiness, each
/// with its own client.
async fn start_node(
    components: &mut Components,
    up: &Up,
    (node, name): (ordinal_node::Node, String),
    kubeconfig: &Path,
    started: Instant,
) -> anyhow::Result<()> {
    let service_cidr = up.network.service_network()?.cidr;
    let client = client_from(kubeconfig, Agent::Node).await?;
    components.spawn("node readiness report", Duration::from_secs(1), {
        let name = name.clone();
        move |stopped| report_node_ready(client, name, started, stopped)
    });
    if let Some(network) = node.network() {
        let client = client_from(kubeconfig, Agent::Node).await?;
        let proxy = ordinal_node::proxy::ProxyConfig {
            table: format!("ordinal{}", network.slot()),
            bridge: network.bridge.clone(),
            pod_cidr: network.cidr,
            service_cidr,
            netns: None,
            node: Some((name, network.gateway)),
        };
        components.spawn("proxy", Duration::from_secs(5), |stopped| async move {
            if let Err(e) = ordinal_node::proxy::run(client, proxy, stopped).await {
                eprintln!("ordinal: the service proxy stopped: {e:#}");
            }
        });
    }
    let client = client_from(kubeconfig, Agent::Node).await?;
    components.spawn("node", Duration::from_secs(60), |stopped| async move {
        if let Err(e) = node.run(client, stopped).await {
            eprintln!("ordinal: the node agent stopped: {e:#}");
        }
    });
    Ok(())
}

/// The RuntimeClass `host` (handler `host`): pods that name it keep
/// ordinal's host-program runtime (their `command` runs a program of this
/// machine) instead of running their image, for developers running a
/// binary they just built.
///
/// `ordinal up` makes it at every start when it is absent, labelled as
/// ordinal's (`app.kubernetes.io/managed-by: ordinal`). A user may edit it
/// or delete it: an edit is kept, and a deleted class stays deleted until
/// the next start of `ordinal up` creates it again; nothing re-creates it
/// while ordinal runs.
pub fn host_runtime_class() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {
            "name": HOST_RUNTIME_CLASS,
            "labels": {"app.kubernetes.io/managed-by": "ordinal"},
        },
        "handler": HOST_RUNTIME_CLASS,
    })
}

/// The name and handler of the host-program RuntimeClass.
pub const HOST_RUNTIME_CLASS: &str = "host";

/// One line of start-up progress, on stderr so that the banner stays the
/// first line of stdout.
fn progress(what: std::fmt::Arguments<'_>) {
    eprintln!("ordinal: {what}");
}

/// Says when the node first reports Ready (its registration and first
/// heartbeat run after the banner, in the agent).
async fn report_node_ready(
    client: kube::Client,
    name: String,
    started: Instant,
    stopped: crate::tasks::Stopped,
) {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Node;
    use kube::runtime::{WatchStreamExt, watcher};

    let nodes: kube::Api<Node> = kube::Api::all(client);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let ready = async {
        let stream = watcher::watcher(nodes, config).applied_objects();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(node) = event
                && node_is_ready(&node)
            {
                return true;
            }
        }
        false
    };
    tokio::select! {
        _ = stopped => {}
        true = ready => progress(format_args!(
            "node {name} is Ready ({} ms after start); pods bound to it run now",
            started.elapsed().as_millis()
        )),
        else => {}
    }
}

fn node_is_ready(node: &k8s_openapi::api::core::v1::Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
