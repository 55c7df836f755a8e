//! The API server's router driven in-process (no TLS, no client retries),
//! shared by the integration tests.

#![allow(dead_code)]

pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use ordinal_apiserver::server::{self, AppState};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token";

pub struct Harness {
    pub router: axum::Router,
    pub store: ordinal_store::Store,
    pub _dir: tempfile::TempDir,
    pub _shutdown: tokio::sync::watch::Sender<bool>,
}

pub fn harness(history: usize) -> Harness {
    harness_with(history, Duration::from_millis(100), |_| {})
}

/// A harness whose idle watches get a bookmark every `bookmark_interval`,
/// with the store's configuration adjusted by `tweak`.
pub fn harness_with(
    history: usize,
    bookmark_interval: Duration,
    tweak: impl FnOnce(&mut ordinal_store::StoreConfig),
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::store_config(dir.path(), history);
    tweak(&mut config);
    let store = ordinal_store::Store::open(config).unwrap();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let creds =
        ordinal_apiserver::pki::ensure(dir.path(), "127.0.0.1:6443".parse().unwrap(), &[]).unwrap();
    let kubelet = ordinal_apiserver::kubelet::KubeletClient::new(
        &creds.kubelet_client_cert_pem,
        &creds.kubelet_client_key_pem,
    )
    .unwrap();
    let state = Arc::new(AppState {
        store: store.clone(),
        auth: ordinal_apiserver::auth::Auth::new(
            TOKEN.into(),
            ordinal_apiserver::pki::token_signer(&creds).unwrap(),
        ),
        shutdown: rx,
        bookmark_interval,
        server_address: "127.0.0.1:6443".into(),
        kubelet,
        allocator: ordinal_apiserver::allocate::Allocator::new(Default::default()),
        limits: Default::default(),
        custom: Default::default(),
    });
    Harness {
        router: server::router(state),
        store,
        _dir: dir,
        _shutdown: tx,
    }
}

impl Harness {
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(method, uri, "application/json", body).await
    }

    /// Like `call`, with the body's content type (a patch type, say).
    pub async fn call_as(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", content_type)
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Opens a watch and returns its first `n` lines.
    pub async fn watch_lines(&self, uri: &str, n: usize) -> Vec<Value> {
        let request = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        let mut buffer = Vec::new();
        let mut lines = Vec::new();
        while lines.len() < n {
            let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
                .await
                .expect("a watch event in time");
            let Some(Ok(frame)) = frame else { break };
            if let Ok(data) = frame.into_data() {
                buffer.extend_from_slice(&data);
                while let Some(pos) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=pos).collect();
                    lines.push(serde_json::from_slice(&line).unwrap());
                }
            }
        }
        lines
    }

    pub async fn create_cm(&self, name: &str, labels: Value) -> u64 {
        let (code, body) = self
            .call(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                Some(json!({"metadata": {"name": name, "labels": labels}})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }
}

pub async fn bootstrapped(history: usize) -> Harness {
    with_default_namespace(harness(history)).await
}

/// `h` with the default namespace, as `ordinal up` creates it.
pub async fn with_default_namespace(h: Harness) -> Harness {
    // The default namespace, as `ordinal up` creates it.
    h.store
        .create(
            "/core/namespaces/default".into(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        )
        .await
        .unwrap();
    h
}

/// A response as the client sees it: code, headers and raw body.
pub struct Raw {
    pub code: StatusCode,
    pub headers: http::HeaderMap,
    pub body: bytes::Bytes,
}

impl Raw {
    /// The body as JSON (a Status, usually); `Null` when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Harness {
    /// Sends a request built by the caller (headers and all) as it is.
    pub async fn send(&self, request: Request<Body>) -> Raw {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let code = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Raw {
            code,
            headers,
            body,
        }
    }

    /// A request with the token, method, URI, content type and raw body.
    pub async fn call_bytes(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Raw {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", content_type)
            .body(body.into())
            .unwrap();
        self.send(request).await
    }
}
