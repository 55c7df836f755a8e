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
        network: NetworkArgs,
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
    /// Ask a DNS server (by default the cluster DNS of `ordinal up`) one
    /// question, as `dig` would.
    DnsQuery {
        /// The name to look up (`web-0.web.default.svc.cluster.local`).
        name: String,
        /// A, AAAA, SRV, PTR, TXT, SOA, NS, CNAME or ANY.
        #[arg(long = "type", short = 't', default_value = "A")]
        qtype: String,
        /// The server to ask.
        #[arg(long, default_value = DEFAULT_DNS_LISTEN)]
        server: SocketAddr,
    },
    /// Print the version of ordinal and of the Kubernetes API it serves.
    Version,
}

/// `ordinal up`'s Service network and cluster DNS (issue 7).
#[derive(clap::Args)]
struct NetworkArgs {
    /// The range Services get cluster IPs from; `default/kubernetes`
    /// takes its first address.
    #[arg(long, default_value = ordinal_apiserver::allocate::DEFAULT_SERVICE_CIDR)]
    service_cidr: String,
    /// The range of node ports (allocated and validated; not served).
    #[arg(long, default_value = "30000-32767")]
    service_node_port_range: String,
    /// Where the cluster DNS serves (UDP and TCP); repeat for more
    /// addresses. Port 0 picks a free port.
    #[arg(long = "dns-listen", default_value = DEFAULT_DNS_LISTEN)]
    dns_listen: Vec<SocketAddr>,
    /// Resolvers for names outside the cluster domain; repeat for more.
    /// Default: the nameservers of /etc/resolv.conf.
    #[arg(long = "dns-upstream")]
    dns_upstream: Vec<SocketAddr>,
    /// The cluster domain the DNS is authoritative for.
    #[arg(long, default_value = ordinal_dns::DEFAULT_DOMAIN)]
    cluster_domain: String,
    /// Run without cluster DNS.
    #[arg(long)]
    no_dns: bool,
}

/// The cluster DNS's default address: loopback, on a port that needs no
/// privilege and is outside the ephemeral range.
const DEFAULT_DNS_LISTEN: &str = "127.0.0.1:10053";

impl NetworkArgs {
    fn service_network(&self) -> anyhow::Result<ordinal_apiserver::allocate::ServiceNetwork> {
        use ordinal_apiserver::allocate::ServiceNetwork;
        let mut network = ServiceNetwork::parse(&self.service_cidr)?;
        network.node_ports = ServiceNetwork::parse_node_ports(&self.service_node_port_range)?;
        Ok(network)
    }

    fn dns_config(&self) -> ordinal_dns::Config {
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
            network,
        } => runtime()?.block_on(up(data_dir, listen, !no_controllers, network)),
        Command::Controller { kubeconfig } => runtime()?.block_on(controller(kubeconfig)),
        Command::DnsQuery {
            name,
            qtype,
            server,
        } => runtime()?.block_on(dns_query(name, qtype, server)),
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
    network: NetworkArgs,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut config = Config::new(&data_dir, listen);
    config.service_network = network.service_network()?;
    let running = server::start(config)
        .await
        .with_context(|| format!("starting ordinal on {}", data_dir.display()))?;
    let kubeconfig =
        std::fs::canonicalize(&running.kubeconfig).unwrap_or(running.kubeconfig.clone());
    let dns = match network.no_dns {
        true => None,
        false => Some(start_dns(&running.kubeconfig, network.dns_config()).await?),
    };
    println!(
        "ordinal is up: API server {} (ready in {} ms)",
        running.url(),
        started.elapsed().as_millis()
    );
    if let Some(dns) = &dns {
        let addresses: Vec<String> = dns.addresses().iter().map(|a| a.to_string()).collect();
        println!("  cluster DNS {} (udp, tcp)", addresses.join(", "));
    }
    println!("  export KUBECONFIG={}", kubeconfig.display());
    let controllers = match controllers {
        true => Some(start_controllers(&running.kubeconfig).await?),
        false => None,
    };
    wait_for_signal().await?;
    println!("ordinal: shutting down");
    if let Some(controllers) = controllers {
        controllers.stop().await;
    }
    if let Some(dns) = dns {
        dns.shutdown().await;
    }
    running.shutdown().await;
    Ok(())
}

/// The cluster DNS, fed through its own client from the kubeconfig the
/// server wrote.
async fn start_dns(
    kubeconfig: &Path,
    config: ordinal_dns::Config,
) -> anyhow::Result<ordinal_dns::Dns> {
    let client = client_from(kubeconfig).await?;
    ordinal_dns::Dns::start(client, config)
        .await
        .context("starting the cluster DNS (choose another --dns-listen, or --no-dns)")
}

async fn client_from(kubeconfig: &Path) -> anyhow::Result<kube::Client> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .with_context(|| format!("loading {}", kubeconfig.display()))?;
    kube::Client::try_from(config).context("building a client")
}

/// `ordinal dns-query`: one question, the answer printed as dig does.
async fn dns_query(name: String, qtype: String, server: SocketAddr) -> anyhow::Result<()> {
    let qtype: ordinal_dns::RecordType = qtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown record type {qtype:?}"))?;
    let answer = ordinal_dns::client::query(server, &name, qtype, Duration::from_secs(5)).await?;
    print!("{}", ordinal_dns::client::render(&answer));
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
