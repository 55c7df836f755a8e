//! For tests of the effect halves (executors, drivers): a real ordinal API
//! server on a free loopback port, in a temporary directory, with a client,
//! and a controller running on it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use kube::Client;
use ordinal_apiserver::server::{self, Config};

use crate::informer::Informers;

/// A running API server and a client of it.
pub(crate) struct ApiServer {
    _dir: tempfile::TempDir,
    running: Option<server::Running>,
    pub client: Client,
}

impl ApiServer {
    pub async fn start() -> ApiServer {
        let dir = tempfile::tempdir().unwrap();
        let running = server::start(Config::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        ApiServer {
            _dir: dir,
            running: Some(running),
            client: Client::try_from(config).unwrap(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// A controller under test: a real API server, the shared informers on
/// it, and the controller running on them until [`Running::stop`].
pub(crate) struct Running {
    server: ApiServer,
    /// A client of the server.
    pub client: Client,
    informers: Arc<Informers>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    /// Runs `controller` (a controller's `run`) on new informers of this
    /// server, with a shutdown [`Running::stop`] completes.
    pub fn run<F, Fut>(self, controller: F) -> Running
    where
        F: FnOnce(Arc<Informers>, BoxFuture<'static, ()>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let client = self.client.clone();
        let informers = Informers::new(client.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = Box::pin(async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(controller(Arc::clone(&informers), shutdown));
        Running {
            server: self,
            client,
            informers,
            stop,
            task,
        }
    }
}

impl Running {
    /// Shuts the controller down, waits for it, then stops the informers
    /// and the server.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
        self.informers.stop().await;
        self.server.stop().await;
    }
}

/// Polls `check` until it returns `Some`, for at most ten seconds.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
