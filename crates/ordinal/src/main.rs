//! The `ordinal` binary: wires the components together behind one CLI.

mod args;
mod commands;
mod components;
mod identities;
mod image;
mod tasks;
mod up;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use args::{DEFAULT_DNS_LISTEN, NetworkArgs, NodeArgs};
use clap::{Parser, Subcommand};
use ordinal_apiserver::server;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: with a thousand pods the process
/// allocates from many threads, where glibc's per-thread arenas held on to
/// hundreds of megabytes after the pods were gone and its locking showed
/// up in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ordinal",
    version,
    about = "The Kubernetes StatefulSet system in one binary",
    long_about = "The Kubernetes StatefulSet system in one binary: an API server that \
kubectl talks to, durable storage, the StatefulSet controller, a node agent that runs \
pods as processes, per-pod volumes and cluster DNS.",
    after_help = "Start here:\n  sudo ordinal up                      # everything, data in ./.ordinal\n  \
export KUBECONFIG=$PWD/.ordinal/kubeconfig\n  kubectl apply -f examples/statefulset-basics/\n\n\
Logs are quiet by default; ORDINAL_LOG=info (or debug, or a tracing filter such \
as ordinal_node=debug) says more, on stderr.\n`ordinal <command> --help` explains each command."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on this machine: the API server, the controllers, a
    /// node agent that runs pods, the cluster DNS and the service proxy.
    Up {
        /// Where objects, credentials and the kubeconfig live.
        #[arg(long, default_value = ".ordinal", env = "ORDINAL_DATA_DIR")]
        data_dir: PathBuf,
        /// Address of the Kubernetes API (HTTPS).
        #[arg(long, default_value = "127.0.0.1:6443", env = "ORDINAL_LISTEN")]
        listen: SocketAddr,
        /// Leave the StatefulSet controller to `ordinal controller` (in a
        /// pod, as `deploy/ordinal-controller.yaml` runs it, or elsewhere);
        /// the cluster's own controllers (scheduler, Deployments, Jobs,
        /// volumes, ...) still run.
        #[arg(long)]
        no_controllers: bool,
        /// Serve the API with no controller at all.
        #[arg(long, conflicts_with = "no_controllers")]
        api_only: bool,
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        network: NetworkArgs,
        /// Run no node agent: pods are scheduled but nothing runs them
        /// (another `ordinal node` may).
        #[arg(long)]
        no_node: bool,
        /// How long a node's heartbeat may be missing before the node is
        /// marked unreachable and its pods not ready (seconds).
        #[arg(long, default_value_t = 40)]
        node_monitor_grace_period: u64,
        /// A directory a StorageClass's `basePath` parameter may point
        /// into, besides `<data dir>/volumes` (repeatable).
        #[arg(long = "volume-root", value_name = "DIR")]
        volume_roots: Vec<PathBuf>,
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
        /// The cluster domain, for the pods' resolv.conf and /etc/hosts.
        #[arg(long, default_value = ordinal_dns::DEFAULT_DOMAIN)]
        cluster_domain: String,
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
    /// The node's images: import archives without a registry, list,
    /// pull, remove (works while `ordinal up` runs).
    Image {
        /// The data dir of the `ordinal up` whose node's images these are.
        #[arg(
            long,
            default_value = ".ordinal",
            env = "ORDINAL_DATA_DIR",
            global = true
        )]
        data_dir: PathBuf,
        #[command(subcommand)]
        command: image::ImageCommand,
    },
    /// Print the version of ordinal and of the Kubernetes API it serves.
    Version,
}

/// Raises the soft limit on open files to the hard limit, as Go programs
/// (kube-apiserver among them) do at start: the API server sizes its
/// connection cap from it (see `ordinal_apiserver::connections`).
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_t`, the
/// same in mimalloc 2 and 3; libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> anyhow::Result<()> {
    // Memory freed goes back to the system at once. By default mimalloc
    // purges only when later allocations pass by: after a burst (a
    // start-up reading every stored object, a hundred 1 MB writes, a
    // LIST of a large collection) `ordinal up` kept ~90 MB it no longer
    // used, indefinitely. It costs some write throughput (pod creates,
    // 32 clients: 4,800–5,100/s against 6,200/s with mimalloc's default
    // delay of 10 ms, in one run each); `MIMALLOC_PURGE_DELAY` in the
    // environment still decides.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: an option of the allocator, set before any thread starts.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
    // mimalloc asks for transparent huge pages for its arenas; a 2 MB page
    // per touched region made an idle `ordinal up` 52 MB instead of 38.
    // SAFETY: a process attribute, no memory arguments.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    // Run a command inside a container (started by the node agent for
    // exec, probes and hooks): dispatched before anything else runs, with
    // the container's environment as this process's.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("internal-exec") {
        ordinal_node::runtime::enter::main(&args[2..]);
    }
    let cli = Cli::parse();
    if let Command::InternalPause { .. } = cli.command {
        ordinal_node::runtime::pause::main();
    }
    if let Command::Up { .. } = cli.command {
        raise_open_file_limit();
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
            api_only,
            node,
            no_node,
            node_monitor_grace_period,
            network,
            volume_roots,
        } => {
            let node = match no_node {
                true => None,
                false => Some(node),
            };
            let node_lifecycle = ordinal_controllers::node_lifecycle::Config {
                grace: Duration::from_secs(node_monitor_grace_period.max(1)),
            };
            runtime()?.block_on(up::run(up::Up {
                data_dir,
                listen,
                controllers: match (api_only, no_controllers) {
                    (true, _) => up::Controllers::None,
                    (false, true) => up::Controllers::Cluster,
                    (false, false) => up::Controllers::All,
                },
                node,
                node_lifecycle,
                volume_roots,
                network,
            }))
        }
        Command::Controller { kubeconfig } => runtime()?.block_on(commands::controller(kubeconfig)),
        Command::Node {
            kubeconfig,
            dir,
            node,
            cluster_domain,
        } => {
            let config = node.config(dir, kubeconfig.as_deref(), &cluster_domain)?;
            runtime()?.block_on(commands::node(kubeconfig, config))
        }
        Command::DnsQuery {
            name,
            qtype,
            server,
        } => runtime()?.block_on(commands::dns_query(name, qtype, server)),
        Command::Image { data_dir, command } => runtime()?.block_on(image::run(&data_dir, command)),
        Command::InternalPause { .. } => unreachable!("handled before the runtime starts"),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
