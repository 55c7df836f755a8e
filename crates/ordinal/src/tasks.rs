//! Small things every subcommand needs: a client from a kubeconfig, a task
//! that runs until told to stop, and waiting for Ctrl-C or SIGTERM.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;

/// Which of ordinal's components a client speaks for. Its User-Agent
/// (`ordinal-controller/0.1.0 (linux/x86_64)`) names the component, as
/// upstream's do, so the API server records the component as the field
/// manager of what it writes without a `fieldManager`, and logs and audit
/// can tell the components apart.
#[derive(Debug, Clone, Copy)]
pub enum Agent {
    Controller,
    Node,
    Dns,
}

impl Agent {
    fn user_agent(self) -> String {
        let name = match self {
            Agent::Controller => "ordinal-controller",
            Agent::Node => "ordinal-node",
            Agent::Dns => "ordinal-dns",
        };
        format!(
            "{name}/{} ({}/{})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    }
}

/// A client through the kubeconfig at `path`, speaking for `agent`.
pub async fn client_from(path: &Path, agent: Agent) -> anyhow::Result<kube::Client> {
    let file = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .with_context(|| format!("loading {}", path.display()))?;
    client(config, agent)
}

/// A client through `path`, or else `$KUBECONFIG`, `~/.kube/config` or
/// the in-cluster service account, speaking for `agent`.
pub async fn client_or_infer(path: Option<&Path>, agent: Agent) -> anyhow::Result<kube::Client> {
    match path {
        Some(path) => client_from(path, agent).await,
        None => {
            let config = kube::Config::infer().await.context(
                "finding a kubeconfig ($KUBECONFIG, ~/.kube/config) or in-cluster config",
            )?;
            client(config, agent)
        }
    }
}

fn client(mut config: kube::Config, agent: Agent) -> anyhow::Result<kube::Client> {
    let value = http::HeaderValue::from_str(&agent.user_agent())
        .context("the client's User-Agent is not a header value")?;
    config.headers.push((http::header::USER_AGENT, value));
    kube::Client::try_from(config).context("building a client")
}

/// What a background task is given to learn that it should stop.
pub type Stopped = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A task that runs until told to stop.
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    pub fn spawn<F, Fut>(f: F) -> Background
    where
        F: FnOnce(Stopped) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let signal = Box::pin(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        let task = tokio::spawn(f(signal));
        Background { stop, task }
    }

    /// Tells the task to stop and waits for it, at most `within`.
    pub async fn stop(self, within: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(within, self.task).await;
    }
}

/// Ctrl-C or SIGTERM.
pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
