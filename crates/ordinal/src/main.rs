//! The `ordinal` binary: wires the components together behind one CLI.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

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
        Command::Up { data_dir, listen } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(up(data_dir, listen))
        }
    }
}

async fn up(data_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
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
    wait_for_signal().await?;
    println!("ordinal: shutting down");
    running.shutdown().await;
    Ok(())
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
