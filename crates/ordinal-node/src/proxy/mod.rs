//! The service proxy: makes `ClusterIP:port` reach a ready pod, with one
//! nftables table per ordinal instance kept in step with the cluster's
//! Services and EndpointSlices (read through `kube::Client`).
//!
//! [`run`] removes a stale table of the same name (left by a process that
//! died), then on every change rewrites the whole table in one `nft -f`
//! transaction (`rules::ruleset`) — skipped when the text is unchanged —
//! and removes the table when it stops. Changes are coalesced: while one
//! rewrite runs, further events only mark the state dirty.
//!
//! Packets must be forwarded between the bridge's ports for the DNAT to
//! reach a pod (`net.ipv4.ip_forward = 1`), which is the node agent's to
//! set when it makes the bridge.

mod nft;
mod rules;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use tokio::sync::Notify;

use nft::Nft;
pub use nft::NftError;
use rules::Network;

/// Where and how the proxy works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The nft table this instance owns (`ordinal-<instance>`).
    pub table: String,
    /// The bridge pods are attached to.
    pub bridge: String,
    /// The pods' addresses.
    pub pod_cidr: Ipv4Net,
    /// The cluster IPs (`--service-cidr`).
    pub service_cidr: Ipv4Net,
    /// The network namespace to program (a path like `/run/netns/NAME`);
    /// `None`: this process's own.
    pub netns: Option<PathBuf>,
    /// The node whose pods' host ports are served, and its address;
    /// `None`: no host ports.
    pub node: Option<(String, std::net::Ipv4Addr)>,
}

impl ProxyConfig {
    fn network(&self) -> Network {
        Network {
            table: self.table.clone(),
            bridge: self.bridge.clone(),
            pod_cidr: self.pod_cidr,
            service_cidr: self.service_cidr,
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// [`ProxyConfig::table`] is not a name nft accepts.
    #[error("invalid nft table name {0:?}: use letters, digits, '-' and '_'")]
    TableName(String),
    /// `nft` could not be run, or refused the first ruleset.
    #[error(transparent)]
    Nft(#[from] NftError),
}

/// Runs the proxy until `shutdown` completes, then removes its table.
/// Fails at once when `nft` cannot be run or refuses the first ruleset.
pub async fn run(
    client: Client,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ProxyError> {
    let table = &config.table;
    if table.is_empty()
        || table.len() > 64
        || !table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ProxyError::TableName(table.clone()));
    }
    let nft = Nft::new(config.netns.as_deref())?;
    let network = config.network();
    // A table left by an earlier run goes before anything else: the first
    // ruleset (no services yet) replaces it.
    nft.apply(&rules::ruleset(&network, &[], &[], None)).await?;
    let mut applied = rules::ruleset(&network, &[], &[], None);

    let changed = Arc::new(Notify::new());
    let (services, services_writer) = reflector::store::<Service>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let follow_services = {
        let changed = Arc::clone(&changed);
        let api: Api<Service> = Api::all(client.clone());
        watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(services_writer)
            .for_each(move |_| {
                changed.notify_one();
                async {}
            })
    };
    let (pods, pods_writer) = reflector::store::<Pod>();
    let follow_pods = {
        let changed = Arc::clone(&changed);
        let api: Api<Pod> = Api::all(client.clone());
        // Only this node's pods (none without a node: the field selector
        // then matches nothing, and the store is ready at once).
        let node = config.node.as_ref().map(|(n, _)| n.as_str()).unwrap_or("");
        let selector = format!("spec.nodeName={node}");
        watcher::watcher(api, watcher::Config::default().fields(&selector))
            .default_backoff()
            .reflect(pods_writer)
            .for_each(move |_| {
                changed.notify_one();
                async {}
            })
    };
    let follow_slices = {
        let changed = Arc::clone(&changed);
        let api: Api<EndpointSlice> = Api::all(client);
        watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(slices_writer)
            .for_each(move |_| {
                changed.notify_one();
                async {}
            })
    };
    let sync = async {
        let _ = services.wait_until_ready().await;
        let _ = slices.wait_until_ready().await;
        let _ = pods.wait_until_ready().await;
        let node_ip = config.node.as_ref().map(|(_, ip)| *ip);
        loop {
            let text = current(&network, &services, &slices, &pods, node_ip);
            if text != applied {
                match nft.apply(&text).await {
                    Ok(()) => applied = text,
                    Err(e) => {
                        tracing::warn!(error = %e, table = %network.table, "service proxy: nft failed")
                    }
                }
            }
            changed.notified().await;
        }
    };
    tokio::select! {
        _ = follow_services => {}
        _ = follow_slices => {}
        _ = follow_pods => {}
        _ = sync => {}
        _ = shutdown => {}
    }
    remove(&nft, table).await;
    Ok(())
}

fn current(
    network: &Network,
    services: &Store<Service>,
    slices: &Store<EndpointSlice>,
    pods: &Store<Pod>,
    node_ip: Option<std::net::Ipv4Addr>,
) -> String {
    let services = services.state();
    let slices = slices.state();
    let routes = rules::routes(
        services.iter().map(|s| s.as_ref()),
        slices.iter().map(|s| s.as_ref()),
    );
    let host_ports = match node_ip {
        Some(ip) => rules::host_port_routes(pods.state().iter().map(|p| p.as_ref()), ip),
        None => Vec::new(),
    };
    rules::ruleset(network, &routes, &host_ports, node_ip)
}

/// Deletes the table (creating it first, so a missing one is no error).
async fn remove(nft: &Nft, table: &str) {
    let text = format!("table ip {table}\ndelete table ip {table}\n");
    if let Err(e) = nft.apply(&text).await {
        tracing::warn!(error = %e, %table, "service proxy: removing the table failed");
    }
}
