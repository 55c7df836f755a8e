//! For tests of the effect halves (executors, drivers): a real ordinal API
//! server on a free loopback port, in a temporary directory, with a client.

use std::future::Future;
use std::time::{Duration, Instant};

use kube::Client;
use ordinal_apiserver::server::{self, Config};

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
