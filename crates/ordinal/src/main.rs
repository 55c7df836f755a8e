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
        /// A directory a StorageClass's `basePath` parameter may point
        /// into, besides the data dir (repeatable).
        #[arg(long = "volume-root", value_name = "DIR")]
        volume_roots: Vec<PathBuf>,
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
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
            volume_roots,
        } => runtime()?.block_on(up(data_dir, listen, !no_controllers, volume_roots)),
        Command::Controller { kubeconfig } => runtime()?.block_on(controller(kubeconfig)),
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
    volume_roots: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let running = server::start(Config::new(&data_dir, listen))
        .await
        .with_context(|| format!("starting ordinal on {}", data_dir.display()))?;
    let kubeconfig =
        std::fs::canonicalize(&running.kubeconfig).unwrap_or(running.kubeconfig.clone());
    println!(
        "ordinal is up: API server {} (ready in {} ms)",
        running.url(),
        started.elapsed().as_millis()
    );
    println!("  export KUBECONFIG={}", kubeconfig.display());
    let controllers = match controllers {
        true => Some(
            start_controllers(&running.kubeconfig, local_config(&data_dir, volume_roots)?).await?,
        ),
        false => None,
    };
    wait_for_signal().await?;
    println!("ordinal: shutting down");
    if let Some(controllers) = controllers {
        controllers.stop().await;
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

/// The in-process controllers (garbage collector, namespace controller,
/// StatefulSet controller; scheduler and volume controllers),
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

/// The single-machine controllers' settings: volumes live in
/// `<data-dir>/volumes`; a StorageClass may point into the data dir or a
/// `--volume-root`.
fn local_config(
    data_dir: &Path,
    volume_roots: Vec<PathBuf>,
) -> anyhow::Result<ordinal_controllers::LocalConfig> {
    let data_dir = std::fs::canonicalize(data_dir)
        .with_context(|| format!("resolving {}", data_dir.display()))?;
    let mut allowed_roots = vec![data_dir.clone()];
    for root in volume_roots {
        anyhow::ensure!(
            root.is_absolute(),
            "--volume-root {} must be an absolute path",
            root.display()
        );
        allowed_roots.push(root);
    }
    Ok(ordinal_controllers::LocalConfig {
        volumes: ordinal_controllers::volumes::Config {
            volumes_dir: data_dir.join("volumes"),
            allowed_roots,
            local_node: ordinal_controllers::hostname(),
        },
    })
}

/// Builds a client from the kubeconfig the server wrote and starts the
/// controllers (and, beside them, the scheduler and the volume
/// controllers of the single machine); they discover the API in the
/// background, so this does not delay start-up.
async fn start_controllers(
    kubeconfig: &Path,
    local: ordinal_controllers::LocalConfig,
) -> anyhow::Result<Controllers> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .context("loading the controllers' kubeconfig")?;
    let client = kube::Client::try_from(config).context("building the controllers' client")?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let mut stopped_local = stopped.clone();
    let task = tokio::spawn(async move {
        tokio::join!(
            ordinal_controllers::run(client.clone(), async move {
                let _ = stopped.wait_for(|s| *s).await;
            }),
            ordinal_controllers::run_local(client, local, async move {
                let _ = stopped_local.wait_for(|s| *s).await;
            }),
        );
    });
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
