//! `ordinal-kv`: the replicated key-value server of
//! `examples/replicated-kv`, its init container (`clone`) and a client.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use http::{Method, StatusCode};
use ordinal_kv::client::{self, Response};
use ordinal_kv::identity::Identity;
use ordinal_kv::member::Member;
use ordinal_kv::protocol::{DEFAULT_PORT, Status, WriteReply, key_path, keys};
use ordinal_kv::store::Store;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "ordinal-kv",
    version,
    about = "A small replicated key-value server: ordinal 0 of its StatefulSet is the primary, the others are read-only replicas"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve: as the primary on ordinal 0, else as a replica following
    /// <set>-0.<service>.
    Serve {
        #[command(flatten)]
        member: MemberArgs,
        /// The address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        listen: String,
        /// Follow this primary (host:port) instead of <set>-0.<service>.
        #[arg(long)]
        primary: Option<String>,
    },
    /// The init container: on a replica's first start, copy the data of
    /// the previous ordinal (<set>-<n-1>.<service>) into --data. Does
    /// nothing on ordinal 0 or when --data already holds data.
    Clone {
        #[command(flatten)]
        member: MemberArgs,
        /// Clone from this member (host:port) instead of the previous
        /// ordinal.
        #[arg(long)]
        from: Option<String>,
        /// How long to keep trying to reach it, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Print a key's value.
    Get {
        key: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Set a key (on the primary).
    Put {
        key: String,
        value: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Remove a key (on the primary).
    Delete {
        key: String,
        #[command(flatten)]
        server: ServerArg,
    },
    /// Print every key=value.
    List {
        #[command(flatten)]
        server: ServerArg,
    },
    /// Print a member's role, sequence number and readiness.
    Status {
        #[command(flatten)]
        server: ServerArg,
    },
}

#[derive(Args)]
struct MemberArgs {
    /// The data directory (the pod's claim).
    #[arg(long)]
    data: PathBuf,
    /// The StatefulSet's governing Service: peers are <set>-<n>.<service>.
    #[arg(long)]
    service: String,
    /// The port every member serves on.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// This pod's name, <set>-<ordinal> [default: the host name, which
    /// is the pod's name in a StatefulSet pod]
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
}

impl MemberArgs {
    fn identity(&self) -> anyhow::Result<Identity> {
        let pod = match &self.pod_name {
            Some(p) => p.clone(),
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .context("reading the host name")?
                .trim()
                .to_string(),
        };
        Ok(Identity::parse(&pod, &self.service, self.port)?)
    }
}

#[derive(Args)]
struct ServerArg {
    /// The member to ask (host:port).
    #[arg(long, env = "KV_SERVER", default_value = "127.0.0.1:7070")]
    server: String,
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("KV_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            member,
            listen,
            primary,
        } => serve(member, &listen, primary).await,
        Command::Clone {
            member,
            from,
            timeout,
        } => {
            let identity = member.identity()?;
            let outcome = ordinal_kv::clone::clone(
                &identity,
                &member.data,
                from.as_deref(),
                Duration::from_secs(timeout),
            )
            .await?;
            tracing::info!("{outcome}");
            Ok(())
        }
        Command::Get { key, server } => {
            let res = call(&server, Method::GET, &key_path(&key), None).await?;
            println!("{}", expect_ok(res)?.text());
            Ok(())
        }
        Command::Put { key, value, server } => {
            let body = Bytes::from(value.clone());
            let res = call(&server, Method::PUT, &key_path(&key), Some(body)).await?;
            let reply: WriteReply = serde_json::from_slice(&expect_ok(res)?.body)?;
            println!("{key}={value} (seq {})", reply.seq);
            Ok(())
        }
        Command::Delete { key, server } => {
            let res = call(&server, Method::DELETE, &key_path(&key), None).await?;
            let reply: WriteReply = serde_json::from_slice(&expect_ok(res)?.body)?;
            println!("deleted {key} (seq {})", reply.seq);
            Ok(())
        }
        Command::List { server } => {
            let res = call(&server, Method::GET, "/keys", None).await?;
            let data: std::collections::BTreeMap<String, String> =
                serde_json::from_slice(&expect_ok(res)?.body)?;
            for (k, v) in data {
                println!("{k}={v}");
            }
            Ok(())
        }
        Command::Status { server } => {
            let res = call(&server, Method::GET, "/status", None).await?;
            let s: Status = serde_json::from_slice(&expect_ok(res)?.body)?;
            let role = if s.role == "primary" {
                "primary".to_string()
            } else {
                format!("replica of {}", s.primary)
            };
            let ready = if s.ready { "ready" } else { "not ready" };
            println!(
                "{}: {role}, seq {}, {}, {ready}",
                s.pod,
                s.seq,
                keys(s.keys)
            );
            Ok(())
        }
    }
}

async fn call(
    server: &ServerArg,
    method: Method,
    path: &str,
    body: Option<Bytes>,
) -> anyhow::Result<Response> {
    Ok(client::request(&server.server, method, path, body, TIMEOUT).await?)
}

/// The answer when it is a success; its message as the error otherwise.
fn expect_ok(res: Response) -> anyhow::Result<Response> {
    if res.status == StatusCode::OK {
        Ok(res)
    } else {
        bail!("{}", res.text())
    }
}

async fn serve(args: MemberArgs, listen: &str, primary: Option<String>) -> anyhow::Result<()> {
    let identity = args.identity()?;
    let primary = primary.unwrap_or_else(|| identity.primary());
    let dir = args.data.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir)).await??;
    tracing::info!(
        "opened {}: {} at seq {}",
        args.data.display(),
        keys(store.data().len()),
        store.seq()
    );
    let addr = format!("{listen}:{}", args.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    if identity.is_primary() {
        tracing::info!("{} is the primary: taking writes on {addr}", identity.pod);
    } else {
        tracing::info!(
            "{} is a read-only replica following the primary {primary}",
            identity.pod,
        );
    }
    let member = Member::following(identity, store, primary);
    ordinal_kv::serve(listener, member, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (what the node sends when the pod is deleted) or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
