//! The subcommands besides `ordinal up`: the controllers or the node agent
//! alone against any API server, and one DNS question.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::tasks::{Agent, Background, client_or_infer, wait_for_signal};

/// `ordinal controller`: the controllers against any API server, acting
/// only while this process holds the leader Lease.
pub async fn controller(kubeconfig: Option<PathBuf>) -> anyhow::Result<()> {
    let client = client_or_infer(kubeconfig.as_deref(), Agent::Controller).await?;
    let election =
        ordinal_controllers::leader::Config::new(ordinal_controllers::leader::identity());
    println!(
        "ordinal controller: {} campaigning for the lease {}/{}",
        election.identity, election.namespace, election.name
    );
    let task = Background::spawn(|stopped| {
        ordinal_controllers::leader::run_elected(client, election, stopped)
    });
    wait_for_signal().await?;
    println!("ordinal controller: shutting down");
    task.stop(Duration::from_secs(10)).await;
    Ok(())
}

/// `ordinal node`: the node agent alone against any API server.
pub async fn node(kubeconfig: Option<PathBuf>, config: ordinal_node::Config) -> anyhow::Result<()> {
    let client = client_or_infer(kubeconfig.as_deref(), Agent::Node).await?;
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
pub fn describe_node(node: &ordinal_node::Node) -> String {
    match node.network() {
        Some(net) => format!(
            "pods in their own namespaces on bridge {} ({}), gateway {}",
            net.bridge, net.cidr, net.gateway
        ),
        None => "host mode: pods are plain processes on the host network, \
                 with no namespaces of their own (run as root for isolation)"
            .to_string(),
    }
}

/// `ordinal dns-query`: one question, the answer printed as dig does.
pub async fn dns_query(name: String, qtype: String, server: SocketAddr) -> anyhow::Result<()> {
    let qtype: ordinal_dns::RecordType = qtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown record type {qtype:?}"))?;
    let answer = ordinal_dns::client::query(server, &name, qtype, Duration::from_secs(5)).await?;
    print!("{}", ordinal_dns::client::render(&answer));
    Ok(())
}
