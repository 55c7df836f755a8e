//! The node's HTTPS server: the routes of the kubelet that the API server
//! proxies `pods/log` and `pods/exec` to.
//!
//! - `GET /containerLogs/{namespace}/{pod}/{container}?follow=…` streams
//!   the log as plain text, chunked (the `logs` reader).
//! - `GET|POST /exec/{namespace}/{pod}/{container}?command=…&input=1&…`
//!   upgrades to a WebSocket session (the `exec` module) or to SPDY
//!   (`exec_spdy`, on the `spdy` connection).
//! - `GET|POST /attach/{namespace}/{pod}/{container}?input=1&…` upgrades
//!   to SPDY and joins the running container's streams (`exec_spdy`,
//!   `console`). WebSocket attach is refused before the upgrade, which
//!   makes kubectl 1.30 and newer fall back to SPDY.
//! - `GET|POST /portForward/{namespace}/{pod}` upgrades to SPDY, or to a
//!   WebSocket tunnelling SPDY (`portforward`).
//!
//! Clients must present a certificate signed by the cluster CA (the API
//! server's kubelet client certificate); the node serves a self-signed
//! certificate unless it is given one, because the API server does not
//! verify it (upstream's default without `--kubelet-certificate-authority`).

mod channel;
pub(crate) mod exec;
mod exec_spdy;
mod portforward;
pub(crate) mod pty;
mod spdy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use ordinal_core::serve::accept_until_shutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

use crate::logs::{LogOptions, OptionsError, reader};
use crate::streaming::StreamingRuntime;

/// How to run the node's server.
#[derive(Debug, Clone)]
pub struct NodeServerConfig {
    /// The address to serve on (port 0: any free port, see
    /// [`NodeServer::addr`]).
    pub listen: SocketAddr,
    /// The CA (PEM) whose client certificates may connect: the cluster CA,
    /// which the node agent reads from its kubeconfig.
    pub client_ca_pem: String,
    /// A serving certificate and key (PEM); `None` makes a self-signed one
    /// for the listen address at start.
    pub serving: Option<(String, String)>,
}

/// Why the node's server could not start, or its client CA not be read.
#[derive(Debug, thiserror::Error)]
pub enum NodeServerError {
    /// The listen address could not be bound.
    #[error("listening on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The serving certificate or the client CA is not usable PEM, or
    /// the self-signed certificate could not be made.
    #[error("TLS: {0}")]
    Tls(String),
    /// The kubeconfig's current cluster is missing, or has neither
    /// `certificate-authority-data` nor `certificate-authority`.
    #[error("the kubeconfig names no certificate authority for its cluster")]
    NoCertificateAuthority,
    /// The kubeconfig's CA file or data could not be read or decoded.
    #[error("reading the certificate authority: {0}")]
    CertificateAuthority(String),
}

/// A running node server.
pub struct NodeServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl NodeServer {
    /// The address it listens on (with the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits (a bounded time) for open requests.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

struct NodeState {
    runtime: Arc<dyn StreamingRuntime>,
}

/// Binds, sets up TLS and serves until [`NodeServer::shutdown`].
pub async fn start(
    config: NodeServerConfig,
    runtime: Arc<dyn StreamingRuntime>,
) -> Result<NodeServer, NodeServerError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| NodeServerError::Listen(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| NodeServerError::Listen(config.listen, e))?;
    let (cert_pem, key_pem) = match config.serving {
        Some(pair) => pair,
        None => self_signed(addr)?,
    };
    let tls = acceptor(&config.client_ca_pem, &cert_pem, &key_pem)?;
    let app = router(Arc::new(NodeState { runtime }));
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, tls, app, rx));
    tracing::info!(%addr, "node server ready");
    Ok(NodeServer {
        addr,
        shutdown,
        task,
    })
}

/// The CA (PEM) of a kubeconfig's current cluster: its
/// `certificate-authority-data`, else the file `certificate-authority`.
pub fn client_ca_from_kubeconfig(
    kubeconfig: &kube::config::Kubeconfig,
) -> Result<String, NodeServerError> {
    let context_name = kubeconfig.current_context.as_deref();
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| Some(c.name.as_str()) == context_name)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| cluster_name.as_deref().is_none_or(|n| n == c.name))
        .and_then(|c| c.cluster.as_ref())
        .ok_or(NodeServerError::NoCertificateAuthority)?;
    if let Some(data) = &cluster.certificate_authority_data {
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| NodeServerError::CertificateAuthority(e.to_string()))?;
        return String::from_utf8(pem)
            .map_err(|e| NodeServerError::CertificateAuthority(e.to_string()));
    }
    if let Some(path) = &cluster.certificate_authority {
        return std::fs::read_to_string(path)
            .map_err(|e| NodeServerError::CertificateAuthority(format!("{path}: {e}")));
    }
    Err(NodeServerError::NoCertificateAuthority)
}

fn self_signed(addr: SocketAddr) -> Result<(String, String), NodeServerError> {
    let tls = |e: rcgen::Error| NodeServerError::Tls(e.to_string());
    let mut names = vec!["localhost".to_string()];
    if !addr.ip().is_unspecified() {
        names.push(addr.ip().to_string());
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(tls)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ordinal-node");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(tls)?;
    let cert = params.self_signed(&key).map_err(tls)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn acceptor(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<TlsAcceptor, NodeServerError> {
    let tls = |e: &dyn std::fmt::Display| NodeServerError::Tls(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| tls(&e))?;
        roots.add(cert).map_err(|e| tls(&e))?;
    }
    if roots.is_empty() {
        return Err(NodeServerError::Tls(
            "the client CA has no certificate".into(),
        ));
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| tls(&e))?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls(&e))?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .map_err(|e| tls(&e))?
        .ok_or_else(|| NodeServerError::Tls("no private key".into()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| tls(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    app: Router,
    shutdown: watch::Receiver<bool>,
) {
    accept_until_shutdown("node", listener, shutdown, |tcp, peer, watcher| {
        let tls = tls.clone();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let stream = match tls.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "node server: TLS handshake failed");
                    return;
                }
            };
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "node server: connection ended with an error");
            }
        });
    })
    .await;
}

fn router(state: Arc<NodeState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .route(
            "/exec/{namespace}/{pod}/{container}",
            get(exec_request).post(exec_request),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            get(attach_request).post(attach_request),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            get(port_forward_request).post(port_forward_request),
        )
        .with_state(state)
}

/// A plain-text error, as the kubelet writes them.
fn text(code: StatusCode, message: impl Into<String>) -> Response {
    let mut response = (code, message.into()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn container_logs(
    State(state): State<Arc<NodeState>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let opts = match LogOptions::from_query(query.as_deref()) {
        Ok(opts) => opts,
        Err(OptionsError::Decode(_)) => {
            return text(
                StatusCode::BAD_REQUEST,
                r#"{"message": "Unable to decode query."}"#,
            );
        }
        Err(OptionsError::Invalid(_)) => {
            return text(
                StatusCode::UNPROCESSABLE_ENTITY,
                r#"{"message": "Invalid request."}"#,
            );
        }
    };
    let source = match state
        .runtime
        .container_log(&namespace, &pod, &container, opts.previous)
    {
        Ok(source) => source,
        Err(e) => {
            let (code, message) = e.for_logs(&pod, &container);
            return text(code, message);
        }
    };
    let file = match std::fs::File::open(&source.path) {
        Ok(file) => file,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("failed to open log file {:?}: {e}", source.path),
            );
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::spawn(async move {
        if let Err(e) = reader::send_file(file, opts, source.follower, tx).await {
            tracing::debug!(path = %source.path.display(), error = %e, "reading a container log failed");
        }
    });
    let body = Body::from_stream(futures::StreamExt::map(
        ReceiverStream::new(rx),
        Ok::<_, std::convert::Infallible>,
    ));
    let mut response = Response::new(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn exec_request(
    State(state): State<Arc<NodeState>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    mut request: Request,
) -> Response {
    let opts = match exec::ExecOptions::from_query(request.uri().query()) {
        Ok(opts) => opts,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let command =
        match state
            .runtime
            .exec_command(&namespace, &pod, &container, &opts.command, opts.tty)
        {
            Ok(command) => command,
            Err(e) => {
                let (code, message) = e.for_exec(&container);
                return text(code, message);
            }
        };
    let (protocol, headers) = match exec::handshake(request.headers()) {
        Ok(ok) => ok,
        Err(exec::Refusal(code, message)) => return text(code, message),
    };
    switch(&mut request, headers, move |upgrade| async move {
        match protocol {
            exec::Transport::WebSocket(protocol) => {
                exec::serve(upgrade, protocol, opts, command).await
            }
            exec::Transport::Spdy => exec_spdy::serve(upgrade, opts, command).await,
        }
    })
}

/// Answers 101 with `headers` and runs `session` on the upgraded
/// connection; 400 when the connection cannot be upgraded.
fn switch<F>(
    request: &mut Request,
    headers: http::HeaderMap,
    session: impl FnOnce(hyper::upgrade::OnUpgrade) -> F,
) -> Response
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return text(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded (HTTP/1.1 required)",
        );
    };
    tokio::spawn(session(upgrade));
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *response.headers_mut() = headers;
    response
}

async fn port_forward_request(
    State(state): State<Arc<NodeState>>,
    Path((namespace, pod)): Path<(String, String)>,
    mut request: Request,
) -> Response {
    let network = match state.runtime.pod_network(&namespace, &pod) {
        Ok(network) => network,
        Err(crate::streaming::ContainerError::PodNotFound) => {
            return text(StatusCode::NOT_FOUND, "pod does not exist");
        }
        Err(_) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("pod {pod:?} has no sandbox yet"),
            );
        }
    };
    let (transport, headers) = match portforward::handshake(request.headers()) {
        Ok(ok) => ok,
        Err(exec::Refusal(code, message)) => return text(code, message),
    };
    switch(&mut request, headers, move |upgrade| {
        portforward::serve(upgrade, transport, network)
    })
}

async fn attach_request(
    State(state): State<Arc<NodeState>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    mut request: Request,
) -> Response {
    let opts = match exec::ExecOptions::attach_from_query(request.uri().query()) {
        Ok(opts) => opts,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let console = match state.runtime.attach(&namespace, &pod, &container) {
        Ok(console) => console,
        Err(e) => {
            let (code, message) = e.for_exec(&container);
            return text(code, message);
        }
    };
    if !portforward::is_spdy(request.headers()) {
        return text(
            StatusCode::BAD_REQUEST,
            "attach is served over SPDY only (X-Stream-Protocol-Version: v4.channel.k8s.io)",
        );
    }
    let headers = match portforward::spdy_handshake(request.headers(), exec_spdy::PROTOCOLS) {
        Ok(headers) => headers,
        Err(exec::Refusal(code, message)) => return text(code, message),
    };
    switch(&mut request, headers, move |upgrade| {
        exec_spdy::serve_attach(upgrade, opts, console)
    })
}
