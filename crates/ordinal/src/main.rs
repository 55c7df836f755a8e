//! The `ordinal` binary: wires the components together behind one CLI.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use ordinal_apiserver::server::{self, Config};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "ordinal",
    version,
    about = "The Kubernetes StatefulSet system in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (and, as they land, the controllers, node and DNS)
    /// on a data dir.
    Up {
        /// Where objects, credentials and the kubeconfig live.
        #[arg(long, default_value = ".ordinal", env = "ORDINAL_DATA_DIR")]
        data_dir: PathBuf,
        /// Address of the Kubernetes API (HTTPS).
        #[arg(long, default_value = "127.0.0.1:6443", env = "ORDINAL_LISTEN")]
        listen: SocketAddr,
        /// Serve the API only; run the controllers elsewhere with
        /// `ordinal controller`.
        #[arg(long)]
        no_controllers: bool,
        #[command(flatten)]
        node: NodeArgs,
        /// Run no node agent: pods are scheduled but nothing runs them
        /// (another `ordinal node` may).
        #[arg(long)]
        no_node: bool,
        /// How long a node's heartbeat may be missing before the node is
        /// marked unreachable and its pods not ready (seconds).
        #[arg(long, default_value_t = 40)]
        node_monitor_grace_period: u64,
    },
    /// Run the node agent alone against any API server: register a Node
    /// named after this machine and run the pods bound to it.
    Node {
        /// The kubeconfig to use; default: $KUBECONFIG, then
        /// ~/.kube/config, then the in-cluster service account.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// Where the node keeps its pods.
        #[arg(long, default_value = ".ordinal-node", env = "ORDINAL_NODE_DIR")]
        dir: PathBuf,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// The pod sandbox process (started by the node agent).
    #[command(name = "internal-pause", hide = true)]
    InternalPause {
        /// The pod it holds, for `ps`.
        pod: Option<String>,
    },
    /// Run the controllers (StatefulSet, garbage collector, namespace)
    /// against any Kubernetes API server. Replicas elect a leader through
    /// the Lease kube-system/ordinal-controller; only the leader acts.
    Controller {
        /// The kubeconfig to use; default: $KUBECONFIG, then
        /// ~/.kube/config, then the in-cluster service account.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
    /// Print the version of ordinal and of the Kubernetes API it serves.
    Version,
}

/// Settings of the node agent.
#[derive(clap::Args, Clone)]
struct NodeArgs {
    /// How pods are isolated: `namespaces` (their own PID, network, UTS,
    /// IPC and mount namespaces; needs root) or `host` (plain processes on
    /// the host network). Default: namespaces when running as root.
    #[arg(long, value_parser = ["namespaces", "host"])]
    isolation: Option<String>,
    /// The pods' address range (default: a free /20 of 10.192.0.0/12).
    #[arg(long)]
    pod_cidr: Option<ordinal_node::network::Cidr>,
    /// The most pods this node runs.
    #[arg(long, default_value_t = 2048)]
    max_pods: u32,
    /// The node's name (default: this machine's host name).
    #[arg(long)]
    node_name: Option<String>,
}

impl NodeArgs {
    /// The node's settings; `kubeconfig` is where the cluster CA is read
    /// from (None: the in-cluster service account's).
    fn config(
        &self,
        dir: PathBuf,
        kubeconfig: Option<&Path>,
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
                .unwrap_or_else(ordinal_controllers::hostname)
                .to_lowercase(),
            dir,
            isolation: match self.isolation.as_deref() {
                Some("host") => Some(Isolation::Host),
                Some(_) => Some(Isolation::Namespaces),
                None => None,
            },
            pod_cidr: self.pod_cidr,
            cluster_domain: "cluster.local".into(),
            dns_server: None,
            max_pods: self.max_pods,
            exe: std::env::current_exe().context("finding the ordinal binary")?,
            kubelet_port: 0,
            client_ca_pem,
        })
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::InternalPause { .. } = cli.command {
        ordinal_node::runtime::pause::main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ORDINAL_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Version => {
            println!(
                "ordinal {} (Kubernetes API {})",
                env!("CARGO_PKG_VERSION"),
                server::KUBERNETES_VERSION
            );
            Ok(())
        }
        Command::Up {
            data_dir,
            listen,
            no_controllers,
            node,
            no_node,
            node_monitor_grace_period,
        } => {
            let node = match no_node {
                true => None,
                false => Some(node),
            };
            let lifecycle = ordinal_controllers::node_lifecycle::Config {
                grace: Duration::from_secs(node_monitor_grace_period.max(1)),
            };
            runtime()?.block_on(up(data_dir, listen, !no_controllers, node, lifecycle))
        }
        Command::Controller { kubeconfig } => runtime()?.block_on(controller(kubeconfig)),
        Command::Node {
            kubeconfig,
            dir,
            node,
        } => {
            let config = node.config(dir, kubeconfig.as_deref())?;
            runtime()?.block_on(node_alone(kubeconfig, config))
        }
        Command::InternalPause { .. } => unreachable!("handled before the runtime starts"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn up(
    data_dir: PathBuf,
    listen: SocketAddr,
    controllers: bool,
    node: Option<NodeArgs>,
    lifecycle: ordinal_controllers::node_lifecycle::Config,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let running = server::start(Config::new(&data_dir, listen))
        .await
        .with_context(|| format!("starting ordinal on {}", data_dir.display()))?;
    // The node's host side (its bridge) before anything listens on the
    // pods' gateway.
    let node = match node {
        Some(args) => {
            let config = args.config(data_dir.join("node"), Some(&running.kubeconfig))?;
            Some(
                ordinal_node::Node::prepare(config)
                    .await
                    .context("preparing the node")?,
            )
        }
        None => None,
    };
    let kubeconfig =
        std::fs::canonicalize(&running.kubeconfig).unwrap_or(running.kubeconfig.clone());
    println!(
        "ordinal is up: API server {} (ready in {} ms)",
        running.url(),
        started.elapsed().as_millis()
    );
    println!("  export KUBECONFIG={}", kubeconfig.display());
    let (controllers, lifecycle) = match controllers {
        true => {
            let client = client_from(&running.kubeconfig).await?;
            let lifecycle = Background::spawn(|stopped| {
                ordinal_controllers::node_lifecycle::run(client, lifecycle, stopped)
            });
            (
                Some(start_controllers(&running.kubeconfig).await?),
                Some(lifecycle),
            )
        }
        false => (None, None),
    };
    let node = match node {
        Some(node) => {
            println!("  {}", describe_node(&node));
            let client = client_from(&running.kubeconfig).await?;
            Some(Background::spawn(|stopped| async move {
                if let Err(e) = node.run(client, stopped).await {
                    eprintln!("ordinal: the node agent stopped: {e:#}");
                }
            }))
        }
        None => None,
    };
    wait_for_signal().await?;
    println!("ordinal: shutting down");
    if let Some(node) = node {
        node.stop(Duration::from_secs(60)).await;
    }
    if let Some(controllers) = controllers {
        controllers.stop().await;
    }
    if let Some(lifecycle) = lifecycle {
        lifecycle.stop(Duration::from_secs(5)).await;
    }
    running.shutdown().await;
    Ok(())
}

/// `ordinal controller`: the controllers against any API server, acting
/// only while this process holds the leader Lease.
async fn controller(kubeconfig: Option<PathBuf>) -> anyhow::Result<()> {
    let config = match &kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &Default::default())
                .await
                .with_context(|| format!("loading {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("finding a kubeconfig ($KUBECONFIG, ~/.kube/config) or in-cluster config")?,
    };
    let client = kube::Client::try_from(config).context("building the client")?;
    let election =
        ordinal_controllers::leader::Config::new(ordinal_controllers::leader::identity());
    println!(
        "ordinal controller: {} campaigning for the lease {}/{}",
        election.identity, election.namespace, election.name
    );
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(ordinal_controllers::leader::run_elected(
        client,
        election,
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
    ));
    wait_for_signal().await?;
    println!("ordinal controller: shutting down");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    Ok(())
}

/// `ordinal node`: the node agent alone against any API server.
async fn node_alone(
    kubeconfig: Option<PathBuf>,
    config: ordinal_node::Config,
) -> anyhow::Result<()> {
    let client = match &kubeconfig {
        Some(path) => client_from(path).await?,
        None => {
            let config = kube::Config::infer().await.context(
                "finding a kubeconfig ($KUBECONFIG, ~/.kube/config) or in-cluster config",
            )?;
            kube::Client::try_from(config).context("building the client")?
        }
    };
    let node = ordinal_node::Node::prepare(config)
        .await
        .context("preparing the node")?;
    println!("ordinal node: {}", describe_node(&node));
    let task = Background::spawn(|stopped| async move {
        if let Err(e) = node.run(client, stopped).await {
            eprintln!("ordinal node: stopped: {e:#}");
        }
    });
    wait_for_signal().await?;
    println!("ordinal node: shutting down");
    task.stop(Duration::from_secs(60)).await;
    Ok(())
}

/// One line about the node for the start-up banner.
fn describe_node(node: &ordinal_node::Node) -> String {
    match node.network() {
        Some(net) => format!(
            "node: pods in their own namespaces on bridge {} ({}), gateway {}",
            net.bridge, net.cidr, net.gateway
        ),
        None => "node: host mode (not root): pods are plain processes on the host network, \
                 with no namespaces of their own"
            .to_string(),
    }
}

async fn client_from(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .with_context(|| format!("loading {}", kubeconfig.display()))?;
    kube::Client::try_from(config).context("building the client")
}

/// A task that runs until told to stop.
struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    fn spawn<F, Fut>(f: F) -> Background
    where
        F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let signal = Box::pin(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        let task = tokio::spawn(f(signal));
        Background { stop, task }
    }

    async fn stop(self, within: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(within, self.task).await;
    }
}

/// The in-process controllers (garbage collector, namespace controller,
/// StatefulSet controller),
/// talking to the API server through a `kube::Client` like any client.
struct Controllers {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Controllers {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Builds a client from the kubeconfig the server wrote and starts the
/// controllers; they discover the API in the background, so this does not
/// delay start-up.
async fn start_controllers(kubeconfig: &Path) -> anyhow::Result<Controllers> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .context("loading the controllers' kubeconfig")?;
    let client = kube::Client::try_from(config).context("building the controllers' client")?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(ordinal_controllers::run(client, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    Ok(Controllers { stop, task })
}

/// Ctrl-C or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
