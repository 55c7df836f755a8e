//! A real API server (TLS on a free loopback port) and a kube client for
//! it, for the tests that speak HTTP as clients do.

use http::Request;
use serde_json::Value;

use ordinal_apiserver::server::{self, Config};

/// A started server, its data dir and a client with the admin's
/// kubeconfig; the client does not retry, so every answer is the server's.
pub struct TlsServer {
    _dir: tempfile::TempDir,
    running: Option<server::Running>,
    pub client: kube::Client,
}

impl TlsServer {
    /// Starts a server on a fresh data dir.
    pub async fn start() -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        let running = server::start(Config::new(dir.path(), "127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        config.default_retry = false;
        TlsServer {
            _dir: dir,
            running: Some(running),
            client: kube::Client::try_from(config).unwrap(),
        }
    }

    /// One request; the status code and the JSON body (null when the body
    /// is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        accept: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("accept", accept)
            .body(body.map(|b| b.to_string().into_bytes()).unwrap_or_default())
            .unwrap();
        let response = self.client.send(request.map(Into::into)).await.unwrap();
        let code = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A JSON request.
    pub async fn json(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, "application/json", "application/json", body)
            .await
    }

    /// A JSON request that must succeed; its answer.
    pub async fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let (code, answer) = self.json(method, path, Some(body)).await;
        assert!(
            (200..300).contains(&code),
            "{method} {path}: {code} {answer}"
        );
        answer
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}
