//! A real registry for tests: Debian's `docker-registry` (the CNCF
//! distribution registry) started on a free loopback port with its own
//! storage, optionally TLS (a fresh CA) and htpasswd users, plus pushing
//! built images into it. The node's and the end-to-end tests pull from it
//! too (feature `testing`).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::auth::Credentials;
use crate::build::{BuiltImage, BuiltIndex};
use crate::registries::RegistriesConfig;

/// Where Debian's docker-registry package puts the binary.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How to run the registry.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Serve HTTPS with a certificate from a fresh CA.
    pub tls: bool,
    /// Users; none means no authentication.
    pub users: Vec<(String, String)>,
    /// Authenticate with bearer tokens from a token server (the
    /// challenge Docker Hub uses) instead of htpasswd basic auth.
    pub token_auth: bool,
}

/// A running registry; stopped and its files removed on drop.
pub struct Registry {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    ca_pem: Option<Vec<u8>>,
    users: Vec<(String, String)>,
    token_server: Option<token::TokenServer>,
}

impl Registry {
    /// Starts a registry and waits until it accepts connections. Fails at
    /// once, naming the package, when the binary is missing.
    pub fn start(options: RegistryOptions) -> io::Result<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "install Debian's docker-registry (/usr/bin/docker-registry is missing)",
            ));
        }
        crate::pull::install_crypto_provider();
        let dir = tempfile::tempdir()?;
        let addr = free_port()?;
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("storage").display()
        );
        let mut ca_pem = None;
        if options.tls {
            let (ca, cert, key) = certificates().map_err(io::Error::other)?;
            std::fs::write(dir.path().join("cert.pem"), cert)?;
            std::fs::write(dir.path().join("key.pem"), key)?;
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("cert.pem").display(),
                dir.path().join("key.pem").display()
            ));
            ca_pem = Some(ca.into_bytes());
        }
        let mut token_server = None;
        if options.token_auth {
            let server = token::TokenServer::start(options.users.clone())?;
            let bundle = dir.path().join("token-ca.pem");
            std::fs::write(&bundle, server.cert_pem())?;
            config.push_str(&format!(
                "auth:\n  token:\n    realm: http://{}/token\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                server.addr(),
                token::SERVICE,
                token::ISSUER,
                bundle.display()
            ));
            token_server = Some(server);
        } else if !options.users.is_empty() {
            let mut htpasswd = String::new();
            for (u, p) in &options.users {
                let h = bcrypt::hash_with_result(p, 4)
                    .map_err(io::Error::other)?
                    .format_for_version(bcrypt::Version::TwoY);
                htpasswd.push_str(&format!("{u}:{h}\n"));
            }
            std::fs::write(dir.path().join("htpasswd"), htpasswd)?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: ordinal-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut r = Registry {
            child,
            addr,
            dir,
            ca_pem,
            users: options.users,
            token_server,
        };
        r.wait_ready()?;
        Ok(r)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "docker-registry exited ({status}): {}",
                    self.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "docker-registry did not listen on {}: {}",
                    self.addr,
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `127.0.0.1:<port>`, the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The CA certificate (PEM) of a TLS registry.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// How many tokens the token server issued (0 without token auth).
    pub fn tokens_issued(&self) -> usize {
        self.token_server
            .as_ref()
            .map_or(0, token::TokenServer::issued)
    }

    /// The first configured user's credentials.
    pub fn credentials(&self) -> Option<Credentials> {
        self.users.first().map(|(u, p)| Credentials::new(u, p))
    }

    /// A registries config that reaches this registry: its CA trusted, or
    /// plain HTTP for a registry without TLS.
    pub fn registries_config(&self) -> Arc<RegistriesConfig> {
        let yaml = self.registries_yaml(&self.host());
        Arc::new(RegistriesConfig::parse(&yaml).expect("a valid registries.yaml"))
    }

    /// registries.yaml text making this registry the endpoint for
    /// `registry` (itself, or a mirror for another name).
    pub fn registries_yaml(&self, registry: &str) -> String {
        let host = self.host();
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        let mut y = format!("mirrors:\n  \"{registry}\":\n    endpoint: [\"{scheme}://{host}\"]\n");
        if self.ca_pem.is_some() {
            let ca = self.dir.path().join("ca.pem");
            std::fs::write(&ca, self.ca_pem.as_deref().unwrap_or_default()).expect("write the CA");
            y.push_str(&format!(
                "configs:\n  \"{host}\":\n    tls:\n      ca_file: {}\n",
                ca.display()
            ));
        }
        y
    }

    /// The registry's storage (to corrupt blobs in tests).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log (access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// How many successful GETs of this blob the registry served.
    pub fn blob_gets(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest} ");
        self.log()
            .lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains(&needle))
            .filter(|l| l.contains("HTTP/1.1\" 200") || l.contains("HTTP/2.0\" 200"))
            .count()
    }

    fn client(&self) -> (oci_client::Client, RegistryAuth) {
        let config = ClientConfig {
            protocol: if self.ca_pem.is_some() {
                ClientProtocol::Https
            } else {
                ClientProtocol::Http
            },
            extra_root_certificates: self
                .ca_pem
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            ..Default::default()
        };
        let auth = match self.users.first() {
            Some((u, p)) => RegistryAuth::Basic(u.clone(), p.clone()),
            None => RegistryAuth::Anonymous,
        };
        (oci_client::Client::new(config), auth)
    }

    /// A client authorized to push to `repository`, and the reference of
    /// `repository:tag`.
    async fn authorized_to_push(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<(oci_client::Client, oci_client::Reference), String> {
        let (client, auth) = self.client();
        let r = oci_client::Reference::with_tag(self.host(), repository.into(), tag.into());
        client
            .auth(&r, &auth, oci_client::RegistryOperation::Push)
            .await
            .map_err(|e| e.to_string())?;
        Ok((client, r))
    }

    /// Pushes an image as `repository:tag`.
    pub async fn push(
        &self,
        image: &BuiltImage,
        repository: &str,
        tag: &str,
    ) -> Result<(), String> {
        let (client, r) = self.authorized_to_push(repository, tag).await?;
        self.push_image(&client, &r, image).await?;
        put_manifest(
            &client,
            &r,
            &image.manifest.bytes,
            &image.manifest.media_type,
        )
        .await
    }

    /// Pushes a multi-platform image: every image by digest, then the
    /// index as `repository:tag`.
    pub async fn push_index(
        &self,
        index: &BuiltIndex,
        repository: &str,
        tag: &str,
    ) -> Result<(), String> {
        let (client, r) = self.authorized_to_push(repository, tag).await?;
        for img in &index.images {
            self.push_image(&client, &r, img).await?;
            let by_digest = r.clone_with_digest(img.manifest.digest.clone());
            put_manifest(
                &client,
                &by_digest,
                &img.manifest.bytes,
                &img.manifest.media_type,
            )
            .await?;
        }
        put_manifest(&client, &r, &index.index.bytes, &index.index.media_type).await
    }

    async fn push_image(
        &self,
        client: &oci_client::Client,
        r: &oci_client::Reference,
        image: &BuiltImage,
    ) -> Result<(), String> {
        for blob in image.layers.iter().chain(std::iter::once(&image.config)) {
            client
                .push_blob(r, blob.bytes.clone(), &blob.digest)
                .await
                .map_err(|e| format!("pushing {}: {e}", blob.digest))?;
        }
        Ok(())
    }
}

async fn put_manifest(
    client: &oci_client::Client,
    r: &oci_client::Reference,
    bytes: &[u8],
    media_type: &str,
) -> Result<(), String> {
    let ct = http::HeaderValue::from_str(media_type).map_err(|e| e.to_string())?;
    client
        .push_manifest_raw(r, bytes.to_vec(), ct)
        .await
        .map(|_| ())
        .map_err(|e| format!("pushing manifest {r}: {e}"))
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> io::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    l.local_addr()
}

/// A CA, and a serving certificate it signed for 127.0.0.1 and localhost.
fn certificates() -> Result<(String, String, String), rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "ordinal-test-registry-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    leaf.distinguished_name.push(DnType::CommonName, "registry");
    let key = KeyPair::generate()?;
    let issuer = Issuer::new(ca, ca_key);
    let cert = leaf.signed_by(&key, &issuer)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// A bearer-token server for the registry's `token` auth: checks basic
/// credentials and issues ES256 JWTs carrying the certificate (`x5c`) the
/// registry trusts, granting the scope asked for.
mod token {
    use std::io::{self, BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::thread::JoinHandle;

    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use rcgen::{CertificateParams, DnType, KeyPair};
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use serde_json::json;

    pub const SERVICE: &str = "ordinal-test-registry";
    pub const ISSUER: &str = "ordinal-test-token-issuer";

    pub struct TokenServer {
        addr: SocketAddr,
        cert_pem: String,
        stop: Arc<AtomicBool>,
        issued: Arc<AtomicUsize>,
        thread: Option<JoinHandle<()>>,
    }

    struct Signer {
        key: EcdsaKeyPair,
        cert_der: Vec<u8>,
        users: Vec<(String, String)>,
    }

    impl TokenServer {
        pub fn start(users: Vec<(String, String)>) -> io::Result<TokenServer> {
            let key = KeyPair::generate().map_err(io::Error::other)?;
            let mut params =
                CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
            params.distinguished_name.push(DnType::CommonName, ISSUER);
            let cert = params.self_signed(&key).map_err(io::Error::other)?;
            let signer = Signer {
                key: EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &key.serialize_der(),
                    &ring::rand::SystemRandom::new(),
                )
                .map_err(|e| io::Error::other(e.to_string()))?,
                cert_der: cert.der().to_vec(),
                users,
            };
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let stop = Arc::new(AtomicBool::new(false));
            let issued = Arc::new(AtomicUsize::new(0));
            let (stop2, issued2) = (stop.clone(), issued.clone());
            let thread = std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Ok(conn) = conn
                        && signer.serve(conn).unwrap_or(false)
                    {
                        issued2.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
            Ok(TokenServer {
                addr,
                cert_pem: cert.pem(),
                stop,
                issued,
                thread: Some(thread),
            })
        }

        pub fn addr(&self) -> SocketAddr {
            self.addr
        }

        pub fn cert_pem(&self) -> &str {
            &self.cert_pem
        }

        pub fn issued(&self) -> usize {
            self.issued.load(Ordering::SeqCst)
        }
    }

    impl Drop for TokenServer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    impl Signer {
        /// Answers one request; true when a token was issued.
        fn serve(&self, mut conn: TcpStream) -> io::Result<bool> {
            let mut reader = BufReader::new(conn.try_clone()?);
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let target = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let mut authorization = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h)? == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(v.trim().to_string());
                }
            }
            let user = authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("Basic "))
                .and_then(|b| STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|up| self.users.iter().any(|(u, p)| up == &format!("{u}:{p}")));
            let Some(user) = user else {
                let body =
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
                write!(
                    conn,
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )?;
                return Ok(false);
            };
            let subject = user.split(':').next().unwrap_or_default().to_string();
            let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let access: Vec<serde_json::Value> = query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("scope="))
                .filter_map(|scope| {
                    let scope = scope.replace("%3A", ":").replace("%2F", "/").replace("%2C", ",");
                    let mut parts = scope.splitn(3, ':');
                    let (typ, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                    Some(json!({"type": typ, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                })
                .collect();
            let token = self.sign(&subject, access)?;
            let body =
                json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            Ok(true)
        }

        fn sign(&self, subject: &str, access: Vec<serde_json::Value>) -> io::Result<String> {
            let now = jiff::Timestamp::now().as_second();
            let header =
                json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
            let claims = json!({
                "iss": ISSUER, "sub": subject, "aud": SERVICE,
                "exp": now + 300, "nbf": now - 10, "iat": now,
                "jti": format!("{now}-{subject}"), "access": access,
            });
            let signing_input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let sig = self
                .key
                .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
                .map_err(|e| io::Error::other(e.to_string()))?;
            Ok(format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(sig.as_ref())
            ))
        }
    }
}
