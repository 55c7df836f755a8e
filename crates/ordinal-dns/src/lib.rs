//! Cluster DNS for `cluster.local`, on hickory-server.
//!
//! Authoritative for the cluster domain with the record semantics of
//! CoreDNS's kubernetes plugin (`answer`), fed by watches of Services and
//! EndpointSlices through `kube::Client` (`feed` into [`model`]), and
//! forwarding every other name to upstream resolvers (`forward`; by
//! default the host's `/etc/resolv.conf`).
//!
//! ```no_run
//! # async fn example(client: kube::Client) -> Result<(), ordinal_dns::DnsError> {
//! let mut config = ordinal_dns::Config::default();
//! config.listen = vec!["127.0.0.1:10053".parse().unwrap()];
//! let dns = ordinal_dns::Dns::start(client, config).await?;
//! println!("cluster DNS on {:?}", dns.addresses());
//! // Later, when the node agent has made its bridge:
//! dns.listen("10.244.0.1:53".parse().unwrap()).await?;
//! dns.shutdown().await;
//! # Ok(()) }
//! ```

mod answer;
pub mod client;
mod feed;
mod forward;
pub mod fuzz;
pub mod model;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinSet;

use answer::Authority;
pub use hickory_proto::op::ResponseCode;
pub use hickory_proto::rr::RecordType;
pub use model::Model;
pub use server::DnsServer;

/// The cluster domain.
pub const DEFAULT_DOMAIN: &str = "cluster.local";

/// Where names outside the cluster domain go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstreams {
    /// The `nameserver`s of a resolv.conf file (the host's by default).
    ResolvConf(PathBuf),
    /// These servers.
    Servers(Vec<SocketAddr>),
}

/// How to run the cluster DNS.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to serve on, UDP and TCP each (port 0: any free port).
    pub listen: Vec<SocketAddr>,
    /// The cluster domain answered authoritatively ([`DEFAULT_DOMAIN`]
    /// unless set); a trailing dot is optional.
    pub domain: String,
    /// Where every other name is forwarded.
    pub upstreams: Upstreams,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            domain: DEFAULT_DOMAIN.into(),
            upstreams: Upstreams::ResolvConf("/etc/resolv.conf".into()),
        }
    }
}

/// Why the cluster DNS could not start or listen.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The configured domain is not a DNS name (the domain, why).
    #[error("invalid cluster domain {0:?}: {1}")]
    Domain(String, String),
    /// The resolv.conf exists but could not be read (a missing one means
    /// no upstreams, not an error).
    #[error("reading upstream resolvers from {0}: {1}")]
    ResolvConf(PathBuf, std::io::Error),
    /// An address could not be bound, or the server has stopped.
    #[error(transparent)]
    Server(#[from] server::ServerError),
}

/// The cluster DNS: the server and the watches that feed it.
pub struct Dns {
    server: DnsServer,
    feeds: JoinSet<()>,
}

impl Dns {
    /// Binds every listen address, then starts following the cluster
    /// through `client`. Names resolve as soon as the first lists arrive.
    pub async fn start(client: kube::Client, config: Config) -> Result<Dns, DnsError> {
        let model = Model::new();
        let server = Self::serve(Arc::clone(&model), &config).await?;
        let mut feeds = JoinSet::new();
        feeds.spawn(feed::services(client.clone(), Arc::clone(&model)));
        feeds.spawn(feed::slices(client, Arc::clone(&model)));
        Ok(Dns { server, feeds })
    }

    /// A server answering from `model` (which the caller fills), without
    /// watches: for tests and benchmarks of the server alone.
    pub async fn serve(model: Arc<Model>, config: &Config) -> Result<DnsServer, DnsError> {
        let authority = Authority::new(&config.domain)
            .map_err(|e| DnsError::Domain(config.domain.clone(), e.to_string()))?;
        let upstreams = match &config.upstreams {
            Upstreams::Servers(servers) => servers.clone(),
            Upstreams::ResolvConf(path) => match forward::resolv_conf(path) {
                Ok(servers) => servers,
                // No resolv.conf: cluster names still resolve; others fail.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(DnsError::ResolvConf(path.clone(), e)),
            },
        };
        let forwarder = forward::Forwarder::new(upstreams, &config.listen);
        let handler = server::Handler::new(model, authority, forwarder);
        Ok(DnsServer::start(handler, &config.listen).await?)
    }

    /// The addresses served (with the ports the system picked).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.server.addresses()
    }

    /// Serves on one more address (the node agent's bridge gateway, say).
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr, DnsError> {
        Ok(self.server.listen(addr).await?)
    }

    /// Stops serving and watching.
    pub async fn shutdown(mut self) {
        self.feeds.abort_all();
        self.server.shutdown().await;
        while self.feeds.join_next().await.is_some() {}
    }
}
