//! Starting and stopping the API server: the data dir and its lock, the
//! store, credentials, the router, TLS serving and graceful shutdown.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use ordinal_core::serve::accept_until_shutdown;
use ordinal_store::{Attrs, Store, StoreConfig};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::allocate::{Allocator, ServiceNetwork};
use crate::bootstrap;
use crate::connections::{self, Connection, Limits, Table, Watched};
use crate::discovery;
use crate::openapi;
use crate::pki::{self, Credentials};
use crate::render;
use crate::request::{self, Query};
use crate::resources;
use crate::rest;
use crate::selector;
use crate::status::ApiError;

/// Request bodies larger than this get 413, as upstream's 3 MiB limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The Kubernetes version the server reports; kubectl's dispatcher picks the
/// matching kubectl from it.
pub const KUBERNETES_VERSION: &str = "v1.33.0";

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the store, the credentials and the kubeconfig live; made if
    /// absent, and locked against a second server.
    pub data_dir: PathBuf,
    /// The address to serve HTTPS on (port 0: any free port).
    pub listen: SocketAddr,
    /// Events kept in memory for watches that resume from a revision.
    pub watch_history: usize,
    /// How often idle watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// How long an Event lives after its last update (kube-apiserver's
    /// `--event-ttl`, one hour by default).
    pub event_ttl: Duration,
    /// Where Services get cluster IPs and node ports
    /// (`--service-cidr`, `--service-node-port-range`).
    pub service_network: ServiceNetwork,
    /// Objects made at start, after the system namespaces, when absent
    /// (one that exists is left as it is; see [`crate::bootstrap`]).
    pub bootstrap: Vec<serde_json::Value>,
    /// Timeouts and caps of client connections.
    pub limits: Limits,
    /// The identities of the embedder's own components: each gets a token
    /// and a kubeconfig (`DIR/pki/<file>.kubeconfig`, see
    /// [`Running::component_kubeconfig`]), and only the rights RBAC gives it.
    pub components: Vec<Component>,
}

/// A component's identity.
#[derive(Debug, Clone)]
pub struct Component {
    /// The file name of its token and kubeconfig: `controller`, `node`.
    pub file: String,
    /// The user it authenticates as.
    pub user: String,
    /// Its groups (`system:authenticated` is added).
    pub groups: Vec<String>,
}

impl Config {
    /// A configuration with upstream's defaults: 10,000 events of watch
    /// history, bookmarks every 30 s, Events kept an hour, the default
    /// service network and limits, nothing to bootstrap.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Config {
            data_dir: data_dir.into(),
            listen,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(30),
            event_ttl: Duration::from_secs(3600),
            service_network: ServiceNetwork::default(),
            bootstrap: Vec::new(),
            limits: Limits::default(),
            components: Vec::new(),
        }
    }
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another server holds the data dir's lock.
    #[error(
        "data dir {dir} is in use by another ordinal (pid {pid}); stop it first, or choose another --data-dir"
    )]
    Locked {
        /// The data dir.
        dir: PathBuf,
        /// The pid the lock file names (as written, possibly empty).
        pid: String,
    },
    /// Making the data dir or writing its lock file failed.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The listen address could not be bound.
    #[error("listening on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    /// The credentials could not be read or made.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// The store could not be opened or recovered.
    #[error("opening the store: {0}")]
    Store(#[from] ordinal_store::StoreError),
    /// The serving certificate or key is not usable by rustls.
    #[error("TLS: {0}")]
    Tls(String),
    /// The system namespaces or the configured objects could not be made.
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
}

/// Shared state of all request handlers.
pub struct AppState {
    /// Where every object is kept.
    pub store: Store,
    /// Who may call, and what they may do.
    pub auth: crate::auth::Auth,
    /// Turns true when the server shuts down: watches end.
    pub shutdown: watch::Receiver<bool>,
    /// How often idle watches that asked for bookmarks get one.
    pub bookmark_interval: Duration,
    /// The `host:port` the server listens on, as `/api` advertises it
    /// (`serverAddressByClientCIDRs`).
    pub server_address: String,
    /// The client for nodes' kubelet endpoints (`pods/log`, `pods/exec`).
    pub kubelet: crate::kubelet::KubeletClient,
    /// Cluster IPs and node ports of Services.
    pub allocator: Arc<Allocator>,
    /// Connection and request limits (the body timeout is read by the
    /// handlers).
    pub limits: Limits,
    /// The custom resources the store's CRDs define.
    pub custom: Arc<crate::custom::Catalog>,
}

/// Selector attributes of an object, computed once when it is stored. The
/// key (`/<group>/<plural>/...`) says which resource it is.
fn attrs(catalog: &crate::custom::Catalog, key: &str, object: &serde_json::Value) -> Attrs {
    let mut parts = key.trim_start_matches('/').splitn(3, '/');
    let group = match parts.next() {
        Some("core") | None => "",
        Some(g) => g,
    };
    let plural = parts.next().unwrap_or("");
    let fields = match resources::by_plural(group, plural)
        .or_else(|| catalog.snapshot().by_plural(group, plural))
    {
        Some(resource) => selector::selectable_fields(resource, object),
        None => selector::meta_fields(object, true),
    };
    Attrs {
        labels: selector::labels_of(object),
        fields,
    }
}

/// How long a revision stays resumable: kube-apiserver compacts etcd every
/// five minutes (`--etcd-compaction-interval`), after which a watch from an
/// older revision is answered 410 Expired. Watchers with bookmarks hold a
/// fresher revision than this.
pub const WATCH_HISTORY_AGE: Duration = Duration::from_secs(300);

/// The store configuration of a data dir: `history` events kept for
/// watches, for at most [`WATCH_HISTORY_AGE`].
pub fn store_config(data_dir: &Path, history: usize) -> StoreConfig {
    store_config_for(data_dir, history, Arc::default())
}

/// [`store_config`] for a server whose custom resources are `catalog`'s
/// (their selectable fields are computed on every write).
pub fn store_config_for(
    data_dir: &Path,
    history: usize,
    catalog: Arc<crate::custom::Catalog>,
) -> StoreConfig {
    let mut config = StoreConfig::new(data_dir.join("state.db"));
    config.history = history;
    config.history_max_age = Some(WATCH_HISTORY_AGE);
    config.attrs = Arc::new(move |key, object| attrs(&catalog, key, object));
    config
}

/// Opens the store of a data dir.
pub fn open_store(data_dir: &Path, history: usize) -> Result<Store, StartError> {
    Ok(Store::open(store_config(data_dir, history))?)
}

/// Takes the data dir's lock for the life of the process; a second server on
/// the same dir fails here, before it touches anything.
fn lock_data_dir(dir: &Path) -> Result<fs::File, StartError> {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).map_err(|e| StartError::Io(dir.to_path_buf(), e))?;
    // The store, the CA key and the token live here: the owner's alone,
    // also when an older version made it readable by everyone.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| StartError::Io(dir.to_path_buf(), e))?;
    let path = dir.join("lock");
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| StartError::Io(path.clone(), e))?;
    if file.try_lock().is_err() {
        let pid = fs::read_to_string(&path).unwrap_or_default();
        return Err(StartError::Locked {
            dir: dir.to_path_buf(),
            pid: pid.trim().to_string(),
        });
    }
    file.set_len(0)
        .map_err(|e| StartError::Io(path.clone(), e))?;
    write!(file, "{}", std::process::id()).map_err(|e| StartError::Io(path.clone(), e))?;
    Ok(file)
}

/// The system namespaces, the default RBAC policy, then the embedder's
/// start-up objects, each created only when absent (see
/// [`crate::bootstrap`]).
async fn bootstrap(store: &Store, extra: &[serde_json::Value]) -> Result<(), StartError> {
    // The namespaces first: the other objects may live in them. The rest
    // depend on nothing made here, so they are written at once and the
    // store commits them together instead of one fsync each.
    for namespace in bootstrap::system_namespaces() {
        bootstrap::ensure(store, namespace).await?;
    }
    let rest = crate::rbac_policy::objects()
        .chain(crate::registry::scheduling::priority_class::system_classes())
        .chain(extra.iter().cloned());
    futures::future::try_join_all(rest.map(|object| bootstrap::ensure(store, object))).await?;
    Ok(())
}

/// The endpoints of `default/kubernetes` (an Endpoints and an
/// EndpointSlice, as upstream's endpoint reconciler writes them): the
/// address pods reach the API server on.
async fn kubernetes_endpoints(
    store: &Store,
    addr: SocketAddr,
) -> Result<(), ordinal_store::StoreError> {
    let ip = addr.ip().to_string();
    let port = addr.port();
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": { "name": "kubernetes", "namespace": "default",
                      "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
        "subsets": [{ "addresses": [{ "ip": ip }], "ports": [{ "name": "https", "port": port, "protocol": "TCP" }] }],
    });
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": { "name": "kubernetes", "namespace": "default",
                      "labels": { "kubernetes.io/service-name": "kubernetes" } },
        "addressType": "IPv4",
        "endpoints": [{ "addresses": [ip], "conditions": { "ready": true } }],
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    });
    for (resource, object) in [("endpoints", endpoints), ("endpointslices", slice)] {
        let group = if resource == "endpoints" {
            ""
        } else {
            "discovery.k8s.io"
        };
        let Some(r) = resources::by_plural(group, resource) else {
            continue;
        };
        let key = r.key(Some("default"), "kubernetes");
        match store.get(&key) {
            Some(current) => {
                let Ok(mut stored) = serde_json::from_slice::<serde_json::Value>(&current.bytes)
                else {
                    continue;
                };
                let field = if resource == "endpoints" {
                    "subsets"
                } else {
                    "endpoints"
                };
                if stored.get(field) == object.get(field)
                    && stored.get("ports") == object.get("ports")
                {
                    continue;
                }
                for f in ["subsets", "endpoints", "ports"] {
                    if let Some(v) = object.get(f) {
                        stored[f] = v.clone();
                    }
                }
                match store.update(key, stored, current.rev).await {
                    Ok(_) | Err(ordinal_store::StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            None => {
                if let Err(e) = bootstrap::ensure(store, object).await {
                    tracing::warn!(error = %e, "publishing the endpoints of default/kubernetes");
                }
            }
        }
    }
    Ok(())
}

/// The `default/kubernetes` Service every cluster has: the first address
/// of the service range, port 443 to the API server's port. Made on first
/// start; on later starts its target port follows the listen port. Without
/// selector, so the endpoints controllers leave it alone; its endpoints
/// (the API server's address) are not published, since that address is
/// usually loopback, which Endpoints may not hold.
async fn kubernetes_service(
    store: &Store,
    allocator: &Arc<Allocator>,
    port: u16,
) -> Result<(), ordinal_store::StoreError> {
    let services = &resources::SERVICES;
    let key = services.key(Some("default"), "kubernetes");
    if let Some(current) = store.get(&key) {
        let Ok(mut object) = serde_json::from_slice::<serde_json::Value>(&current.bytes) else {
            return Ok(());
        };
        let target = object.pointer("/spec/ports/0/targetPort").cloned();
        if target == Some(json!(port)) {
            return Ok(());
        }
        if let Some(p) = object.pointer_mut("/spec/ports/0")
            && p.get("name") == Some(&json!("https"))
        {
            p["targetPort"] = json!(port);
            match store.update(key, object, current.rev).await {
                Ok(_) | Err(ordinal_store::StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(());
    }
    let first = allocator.network().first().to_string();
    let mut object = json!({
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": crate::objects::now_rfc3339(),
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "clusterIP": first,
            "clusterIPs": [first],
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            "type": "ClusterIP",
            "sessionAffinity": "None",
        },
    });
    if let Err(e) = crate::admission::create(store, services, "kubernetes", &mut object) {
        tracing::warn!(error = %e, "the default/kubernetes Service is not valid");
        return Ok(());
    }
    let _reserved = match allocator.create(store, "kubernetes", &mut object, false) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e.message, "no default/kubernetes Service");
            return Ok(());
        }
    };
    match store.create(key, object).await {
        Ok(_) | Err(ordinal_store::StoreError::AlreadyExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A running API server.
pub struct Running {
    /// The address it listens on (with the real port when 0 was asked).
    pub addr: SocketAddr,
    /// The admin kubeconfig written into the data dir.
    pub kubeconfig: PathBuf,
    /// The CA, the admin token and the kubelet client certificate.
    pub credentials: Credentials,
    pub(crate) store: Store,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    data_dir: PathBuf,
    /// The listeners added after start ([`Running::listen_for_pods`]).
    also: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    serving: Serving,
    _lock: fs::File,
}

/// What another listener needs to serve the same API.
struct Serving {
    tls: TlsAcceptor,
    app: Router,
    table: Arc<Table>,
    shutdown: watch::Receiver<bool>,
}

impl Running {
    /// The URL clients use.
    pub fn url(&self) -> String {
        pki::client_url(self.addr)
    }

    /// The kubeconfig of the component whose file name is `file` (one of
    /// [`Config::components`]).
    pub fn component_kubeconfig(&self, file: &str) -> PathBuf {
        self.data_dir.join("pki").join(format!("{file}.kubeconfig"))
    }

    /// Serves the API also on `addr` (the pods' gateway, port `port` of the
    /// `kubernetes` Service's endpoints) and publishes that address as the
    /// endpoints of `default/kubernetes`, so pods reach the server through
    /// the Service, as in-cluster clients expect.
    pub async fn listen_for_pods(&self, addr: SocketAddr) -> Result<(), StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| StartError::Listen(addr, e))?;
        let s = &self.serving;
        let task = tokio::spawn(serve(
            listener,
            s.tls.clone(),
            s.app.clone(),
            s.table.clone(),
            s.shutdown.clone(),
        ));
        if let Ok(mut also) = self.also.lock() {
            also.push(task);
        }
        kubernetes_endpoints(&self.store, addr)
            .await
            .map_err(StartError::Store)
    }

    /// Stops accepting, ends open watches, waits for in-flight requests (up
    /// to a bound), and closes the store so every acknowledged write is on
    /// disk.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let also = self
            .also
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default();
        for task in also {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        self.store.close();
    }
}

/// Starts a server: lock, store, credentials, kubeconfig, listener.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let started = Instant::now();
    let lock = lock_data_dir(&config.data_dir)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Listen(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Listen(config.listen, e))?;
    // Pods reach the server through the `kubernetes` Service: its cluster
    // IP and DNS names are in the certificate.
    let in_cluster: Vec<String> = std::iter::once(config.service_network.first().to_string())
        .chain(
            [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ]
            .map(String::from),
        )
        .collect();
    let credentials = pki::ensure(&config.data_dir, addr, &in_cluster)?;
    let custom = Arc::new(crate::custom::Catalog::default());
    let store = Store::open(store_config_for(
        &config.data_dir,
        config.watch_history,
        custom.clone(),
    ))?;
    bootstrap(&store, &config.bootstrap).await?;
    let allocator = Allocator::new(config.service_network.clone());
    kubernetes_service(&store, &allocator, addr.port()).await?;

    let kubeconfig = config.data_dir.join("kubeconfig");
    pki::write_private(
        &kubeconfig,
        pki::kubeconfig(&credentials, &pki::client_url(addr)).as_bytes(),
    )?;
    let mut auth =
        crate::auth::Auth::new(credentials.token.clone(), pki::token_signer(&credentials)?);
    for c in &config.components {
        let token = pki::component_token(&config.data_dir, &c.file)?;
        let path = config
            .data_dir
            .join("pki")
            .join(format!("{}.kubeconfig", c.file));
        pki::write_private(
            &path,
            pki::kubeconfig_with(&credentials, &pki::client_url(addr), &c.user, &token).as_bytes(),
        )?;
        let mut groups = c.groups.clone();
        groups.push(crate::auth::AUTHENTICATED.into());
        auth.add_static(
            token,
            crate::auth::UserInfo {
                name: c.user.clone(),
                groups,
                ..Default::default()
            },
        );
    }

    let kubelet = crate::kubelet::KubeletClient::new(
        &credentials.kubelet_client_cert_pem,
        &credentials.kubelet_client_key_pem,
    )
    .map_err(StartError::Tls)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let state = Arc::new(AppState {
        store: store.clone(),
        auth,
        shutdown: shutdown_rx.clone(),
        bookmark_interval: config.bookmark_interval,
        server_address: addr.to_string(),
        kubelet,
        allocator,
        limits: config.limits.clone(),
        custom: custom.clone(),
    });
    crate::expiry::spawn(store.clone(), config.event_ttl, shutdown_rx.clone());
    custom.refresh(&store);
    crate::custom::controller::spawn(store.clone(), custom, shutdown_rx.clone());
    let tls = tls_acceptor(&credentials)?;
    let app = router(state);
    let table = Table::new(config.limits.clone());
    let task = tokio::spawn(serve(
        listener,
        tls.clone(),
        app.clone(),
        table.clone(),
        shutdown_rx.clone(),
    ));
    tracing::info!(%addr, elapsed_ms = started.elapsed().as_millis() as u64, "API server ready");
    Ok(Running {
        addr,
        kubeconfig,
        credentials,
        store,
        shutdown: shutdown_tx,
        task,
        data_dir: config.data_dir.clone(),
        also: std::sync::Mutex::new(Vec::new()),
        serving: Serving {
            tls,
            app,
            table,
            shutdown: shutdown_rx,
        },
        _lock: lock,
    })
}

fn tls_acceptor(creds: &Credentials) -> Result<TlsAcceptor, StartError> {
    let certs = rustls_pemfile::certs(&mut creds.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Tls(e.to_string()))?;
    let key = rustls_pemfile::private_key(&mut creds.key_pem.as_bytes())
        .map_err(|e| StartError::Tls(e.to_string()))?
        .ok_or_else(|| StartError::Tls("no private key".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    app: Router,
    table: Arc<Table>,
    shutdown: watch::Receiver<bool>,
) {
    accept_until_shutdown("api", listener, shutdown, |tcp, peer, watcher| {
        // Over the caps with nothing to push out: closed at once, so the
        // backlog keeps draining and the next client (the admin) is seen.
        let Some(conn) = table.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: every slot is held by authenticated clients");
            return;
        };
        tokio::spawn(serve_connection(
            tcp,
            peer,
            tls.clone(),
            app.clone(),
            conn,
            watcher,
        ));
    })
    .await;
}

/// HTTP/1.1 and HTTP/2 as upstream's server sets them up: headers up to
/// its 1 MiB (hyper's own buffers a little larger, so that the server,
/// not hyper, answers a request over the limit, with a Status), 250
/// concurrent streams per HTTP/2 connection.
fn http_builder() -> auto::Builder<TokioExecutor> {
    let over = connections::MAX_HEADER_BYTES + 64 * 1024;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(over)
        .max_headers(connections::MAX_HEADER_FIELDS);
    builder
        .http2()
        .max_concurrent_streams(connections::MAX_CONCURRENT_STREAMS)
        .max_header_list_size(u32::try_from(over).unwrap_or(u32::MAX));
    builder
}

/// One connection: TLS within the handshake timeout, then HTTP until the
/// client leaves, the connection falls idle or too slow (see
/// [`crate::connections`]), the table pushes it out, or the server stops.
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: TlsAcceptor,
    app: Router,
    conn: Arc<Connection>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let limits = conn.limits().clone();
    let stream = tokio::select! {
        accepted = tokio::time::timeout(limits.handshake_timeout, tls.accept(tcp)) => match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = conn.pushed_out() => return,
    };
    let http1 = stream.get_ref().1.alpn_protocol() != Some(b"h2".as_slice());
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&conn)));
    let per_request = Arc::clone(&conn);
    let service = tower::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        let in_flight = per_request.begin();
        request.extensions_mut().insert(Arc::clone(&per_request));
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, request.map(Body::new)).await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|body| Body::new(connections::Tracked::new(body, in_flight))),
            )
        }
    });
    let builder = http_builder();
    let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
    let connection = watcher.watch(connection.into_owned());
    tokio::pin!(connection);
    let tick = (limits.header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut check = tokio::time::interval(tick);
    loop {
        tokio::select! {
            ended = &mut connection => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = conn.pushed_out() => {
                tracing::debug!(%peer, "connection pushed out by a newer one");
                return;
            }
            _ = check.tick() => {
                if let Some(why) = conn.overdue(&limits, http1) {
                    tracing::debug!(%peer, why, "closing connection");
                    return;
                }
            }
        }
    }
}

/// The HTTP surface: health, version, discovery, OpenAPI and resources.
pub fn router(state: Arc<AppState>) -> Router {
    let public = Router::new()
        .route("/healthz", get(health))
        .route("/livez", get(health))
        .route("/readyz", get(ready));
    // Generated clients ask for discovery with a trailing slash
    // (`/apis/apps/`); upstream answers both spellings.
    let private = Router::new()
        .route("/version", get(version))
        .route("/version/", get(version))
        .route("/api", get(api_root))
        .route("/api/", get(api_root))
        .route("/apis", get(apis_root))
        .route("/apis/", get(apis_root))
        .route("/apis/{group}", get(api_group))
        .route("/apis/{group}/", get(api_group))
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/openid/v1/jwks", get(openid_jwks))
        .route("/openapi/v2", get(openapi_v2))
        .route("/openapi/v3", get(openapi_index))
        .route("/openapi/v3/{*path}", get(openapi_document))
        .fallback(resource_request)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    public
        .merge(private)
        .with_state(state)
        .layer(middleware::from_fn(errors_as_status))
        .layer(middleware::from_fn(limit_header_size))
}

/// The request line and header fields, in bytes, as Go's server counts
/// them against `MaxHeaderBytes`.
fn head_size(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let line = request.method().as_str().len() + target + 12;
    request.headers().iter().fold(line, |total, (name, value)| {
        total.saturating_add(name.as_str().len() + value.len() + 4)
    })
}

/// 431 with a Status for a request whose headers are over upstream's
/// limit (hyper's buffer is a little larger, so such a request reaches
/// this far).
async fn limit_header_size(request: Request, next: Next) -> Response {
    let size = head_size(&request);
    if size > connections::MAX_HEADER_BYTES {
        return ApiError::with_code(
            431,
            format!(
                "Request Header Fields Too Large: the request line and headers are {size} bytes, more than the {} the server reads",
                connections::MAX_HEADER_BYTES
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// Any error response that is not a Status already (axum's own: a path
/// that does not decode, a method a route does not take) becomes one, so
/// every error a well-formed request meets is a Kubernetes Status. The
/// health endpoints keep their plain text, as upstream's.
/// Marks a response relayed from a node as the node gave it: upstream's
/// proxy passes the kubelet's own error text, which clients show as is.
#[derive(Clone, Copy)]
pub(crate) struct Relayed;

async fn errors_as_status(request: Request, next: Next) -> Response {
    let health = matches!(request.uri().path(), "/healthz" | "/livez" | "/readyz");
    let response = next.run(request).await;
    let code = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let relayed = response.extensions().get::<Relayed>().is_some();
    if health || is_json || relayed || !(code.is_client_error() || code.is_server_error()) {
        return response;
    }
    let text = http_body_util::BodyExt::collect(http_body_util::Limited::new(
        response.into_body(),
        64 * 1024,
    ))
    .await
    .map(|c| String::from_utf8_lossy(&c.to_bytes()).trim().to_string())
    .unwrap_or_default();
    let error = match code.as_u16() {
        400 => ApiError::bad_request(if text.is_empty() {
            "bad request".into()
        } else {
            text
        }),
        404 => ApiError::no_route(),
        405 => ApiError::method_not_allowed(),
        other => ApiError::with_code(
            other,
            if text.is_empty() {
                code.canonical_reason().unwrap_or("error").to_string()
            } else {
                text
            },
        ),
    };
    error.into_response()
}

async fn health() -> &'static str {
    "ok"
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if *state.shutdown.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    } else {
        "ok".into_response()
    }
}

/// Authentication, impersonation and authorization of everything but the
/// health endpoints: the identity the request acts as is left in its
/// extensions for the handlers that answer about it.
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let snapshot = state.store.snapshot();
    let Some(mut user) = presented.and_then(|token| state.auth.authenticate(token, &snapshot))
    else {
        return ApiError::unauthorized().into_response();
    };
    if let Some(conn) = request.extensions().get::<Arc<Connection>>() {
        conn.mark_authenticated();
    }
    match crate::auth::impersonate(&snapshot, &user, request.headers()) {
        Ok(Some(target)) => user = target,
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    if !user.is_master() {
        let attrs = crate::auth::attributes::of_request(
            request.method().as_str(),
            request.uri().path(),
            request.uri().query(),
        );
        if !crate::auth::authorize(&snapshot, &user, &attrs) {
            let refused = crate::auth::forbidden(&user, &attrs);
            tracing::debug!(user = %user.name, message = %refused.message, "request forbidden");
            return refused.into_response();
        }
    }
    request.extensions_mut().insert(user);
    next.run(request).await
}

/// The token of an `Authorization` header, read as upstream's bearer-token
/// authenticator reads it: the header trimmed, split on single spaces, the
/// scheme `bearer` in any case, the token the second part. So `Bearer  tok`
/// (two spaces) presents an empty token and authenticates nobody, and
/// anything after the token is ignored.
fn bearer_token(header: &str) -> Option<&str> {
    let mut parts = header.trim().splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn version() -> Response {
    let body = json!({
        "major": "1",
        "minor": "33",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "ordinal",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": format!("rust (ordinal {})", env!("CARGO_PKG_VERSION")),
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    });
    render::json_response(StatusCode::OK, body.to_string())
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn discovery_response(
    request_headers: &http::HeaderMap,
    aggregated: serde_json::Value,
    legacy: serde_json::Value,
) -> Response {
    let accept = request_headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if discovery::wants_aggregated(accept) {
        let mut response = render::json_response(StatusCode::OK, aggregated.to_string());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(discovery::AGGREGATED_CONTENT_TYPE),
        );
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        response
    } else {
        render::json_response(StatusCode::OK, legacy.to_string())
    }
}

async fn api_root(State(state): State<Arc<AppState>>, headers: http::HeaderMap) -> Response {
    discovery_response(
        &headers,
        discovery::aggregated_core(),
        discovery::api_versions(&state.server_address),
    )
}

async fn apis_root(State(state): State<Arc<AppState>>, headers: http::HeaderMap) -> Response {
    let custom = state.custom.snapshot();
    discovery_response(
        &headers,
        discovery::aggregated_groups(&custom),
        discovery::api_group_list(&custom),
    )
}

async fn api_group(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(group): axum::extract::Path<String>,
) -> Response {
    match discovery::api_group(&group, &state.custom.snapshot()) {
        Some(doc) => render::json_response(StatusCode::OK, doc.to_string()),
        None => ApiError::no_route().into_response(),
    }
}

/// The service-account issuer's discovery document (OIDC), so that
/// outside parties can verify ServiceAccount tokens.
async fn openid_configuration(State(state): State<Arc<AppState>>) -> Response {
    let body = json!({
        "issuer": crate::auth::tokens::ISSUER,
        "jwks_uri": format!("https://{}/openid/v1/jwks", state.server_address),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    render::json_response(StatusCode::OK, body.to_string())
}

/// The keys ServiceAccount tokens are signed with.
async fn openid_jwks(State(state): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/jwk-set+json"),
        )],
        state.auth.signer.jwks().to_string(),
    )
        .into_response()
}

/// `GET /openapi/v2`: protobuf when asked for (client-go asks for nothing
/// else), JSON otherwise; a matching `If-None-Match` gets 304.
async fn openapi_v2(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (doc, media) = if openapi::v2::wants_protobuf(accept) {
        (openapi::v2::protobuf(), openapi::v2::PROTOBUF_CONTENT_TYPE)
    } else {
        (openapi::v2::json(), "application/json")
    };
    let etag = format!("\"{}\"", doc.hash);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(media))],
            doc.bytes.clone(),
        )
            .into_response()
    };
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

async fn openapi_index(State(state): State<Arc<AppState>>) -> Response {
    render::json_response(
        StatusCode::OK,
        openapi::v3_index(&state.custom.snapshot()).to_string(),
    )
}

async fn openapi_document(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> Response {
    match openapi::v3_document(&path, &state.custom.snapshot()) {
        Some((doc, hash)) => {
            let mut response = render::json_response(StatusCode::OK, doc);
            if let Ok(etag) = HeaderValue::from_str(&format!("\"{hash}\"")) {
                response.headers_mut().insert(header::ETAG, etag);
            }
            response
        }
        None => ApiError::no_route().into_response(),
    }
}

/// Refuses a role or binding write that grants more than its writer holds
/// (see [`crate::auth::escalation`]); hands back the body it had to read.
async fn escalation_checked(
    state: &AppState,
    user: &crate::auth::UserInfo,
    target: &request::Target,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Body, ApiError> {
    let bytes = crate::rest::read_body(body, state.limits.body_timeout).await?;
    let namespace = target.namespace.clone().unwrap_or_default();
    let snapshot = state.store.snapshot();
    let object = if parts.method == Method::PATCH {
        None
    } else {
        let query = Query::parse(parts.uri.query());
        let r = target.resource;
        Some(
            crate::rest::decode_as(r.group, r.version, r.kind, &query, &parts.headers, &bytes)?
                .object,
        )
    };
    let name = target
        .name
        .clone()
        .or_else(|| {
            object
                .as_ref()
                .and_then(|o| o.pointer("/metadata/name"))
                .and_then(|n| n.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    crate::auth::escalation::check(
        &snapshot,
        user,
        target.resource.plural,
        &namespace,
        &name,
        object.as_ref(),
    )?;
    Ok(Body::from(bytes))
}

/// Everything under `/api/v1/...` and `/apis/<group>/<version>/...`.
async fn resource_request(State(state): State<Arc<AppState>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    // Legacy resource lists: /api/v1 and /apis/<group>/<version>.
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api", version] => {
            return match discovery::api_resource_list("", version, &state.custom.snapshot()) {
                Some(doc) => render::json_response(StatusCode::OK, doc.to_string()),
                None => ApiError::no_route().into_response(),
            };
        }
        ["apis", group, version] => {
            return match discovery::api_resource_list(group, version, &state.custom.snapshot()) {
                Some(doc) => render::json_response(StatusCode::OK, doc.to_string()),
                None => ApiError::no_route().into_response(),
            };
        }
        _ => {}
    }
    let target = match request::parse_path(path, &state.custom.snapshot()) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return e.into_response(),
        None => return ApiError::no_route().into_response(),
    };
    let user = parts
        .extensions
        .get::<crate::auth::UserInfo>()
        .cloned()
        .unwrap_or_default();
    if crate::auth::reviews::handles(&target) {
        let query = Query::parse(parts.uri.query());
        return crate::auth::reviews::handle(
            &state,
            &user,
            &parts.method,
            &target,
            &query,
            &parts.headers,
            body,
        )
        .await
        .unwrap_or_else(|e| e.into_response());
    }
    let body = if crate::auth::escalation::applies(target.resource.group, target.resource.plural)
        && !user.is_master()
        && matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
    {
        match escalation_checked(&state, &user, &target, &parts, body).await {
            Ok(body) => body,
            Err(e) => return e.into_response(),
        }
    } else {
        body
    };
    if target.resource == &resources::PODS && target.name.is_some() {
        match target.subresource.as_deref() {
            Some("log") => return crate::pod_streams::log(&state, &target, parts).await,
            Some("exec") => return crate::pod_streams::exec(&state, &target, parts).await,
            Some("attach") => return crate::pod_streams::attach(&state, &target, parts).await,
            Some("portforward") => {
                return crate::pod_streams::port_forward(&state, &target, parts).await;
            }
            _ => {}
        }
    }
    let query = Query::parse(parts.uri.query());
    rest::handle(state, parts.method, target, query, parts.headers, body).await
}
