//! Reaching the kubelet endpoint of a node, as the API server does for
//! `pods/log` and `pods/exec`.
//!
//! The node's address comes from its Node object: the first of
//! `status.addresses` in the order InternalIP, ExternalIP, Hostname,
//! InternalDNS, ExternalDNS (upstream's `--kubelet-preferred-address-types`
//! as kubeadm and k3s set it), and the port from
//! `status.daemonEndpoints.kubeletEndpoint.Port` (10250 when unset). The
//! API server connects with HTTPS, presenting its kubelet client
//! certificate (issued by the cluster CA), and does not verify the node's
//! serving certificate: upstream's behaviour without
//! `--kubelet-certificate-authority`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, header};
use http_body_util::Empty;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::resources;
use crate::status::{ApiError, ApiResult};

/// The kubelet port when a node does not say.
pub const DEFAULT_KUBELET_PORT: u16 = 10250;

/// How long connecting to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const ADDRESS_ORDER: &[&str] = &[
    "InternalIP",
    "ExternalIP",
    "Hostname",
    "InternalDNS",
    "ExternalDNS",
];

/// Where a node's kubelet endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeLocation {
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl NodeLocation {
    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("https://{}{path_and_query}", self.authority())
    }
}

/// Finds the kubelet endpoint of node `name` in the store.
pub(crate) fn locate(store: &ordinal_store::Store, name: &str) -> ApiResult<NodeLocation> {
    let nodes = &resources::NODES;
    let object = store
        .get(&nodes.key(None, name))
        .ok_or_else(|| ApiError::not_found(nodes, name))?;
    let node: Value = serde_json::from_slice(&object.bytes)
        .map_err(|e| ApiError::internal(format!("decoding node {name}: {e}")))?;
    location_of(&node)
}

/// The location a Node object names.
pub(crate) fn location_of(node: &Value) -> ApiResult<NodeLocation> {
    let status = &node["status"];
    let addresses: Vec<(&str, &str)> = status["addresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|addr| Some((addr["type"].as_str()?, addr["address"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let host = ADDRESS_ORDER
        .iter()
        .find_map(|wanted| {
            addresses
                .iter()
                .find(|(kind, address)| kind == wanted && !address.is_empty())
                .map(|(_, address)| address.to_string())
        })
        .ok_or_else(|| {
            let known: Vec<String> = addresses
                .iter()
                .map(|(kind, address)| format!("{{{kind} {address}}}"))
                .collect();
            ApiError::relayed(
                500,
                "",
                format!(
                    "no preferred addresses found; known addresses: [{}]",
                    known.join(" ")
                ),
            )
        })?;
    let port = status["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT);
    Ok(NodeLocation { host, port })
}

/// Accepts whatever certificate the node serves (its handshake signature
/// is still checked): the API server does not verify kubelets unless
/// given a CA for them.
#[derive(Debug)]
struct AnyServerCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a node could not be reached; the text reads like Go's dial errors
/// because kubectl users know those.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DialError(pub String);

/// The API server's HTTPS client for kubelet endpoints.
#[derive(Clone)]
pub struct KubeletClient {
    tls: TlsConnector,
}

impl std::fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeletClient")
    }
}

impl KubeletClient {
    /// A client presenting the given certificate and key (PEM).
    pub fn new(cert_pem: &str, key_pem: &str) -> Result<KubeletClient, String> {
        let certs = rustls_pemfile::certs(&mut cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
            .map_err(|e| e.to_string())?
            .ok_or("no private key in the kubelet client key")?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCertificate(provider)))
            .with_client_auth_cert(certs, key)
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(KubeletClient {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Opens an HTTP/1.1 connection to the node (upgrades allowed).
    pub(crate) async fn connect(
        &self,
        location: &NodeLocation,
    ) -> Result<SendRequest<Empty<Bytes>>, DialError> {
        let authority = location.authority();
        let dial = |e: &dyn std::fmt::Display| DialError(format!("dial tcp {authority}: {e}"));
        let tcp = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect((location.host.as_str(), location.port)),
        )
        .await
        .map_err(|_| dial(&"i/o timeout"))?
        .map_err(|e| dial(&connect_error(&e)))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(location.host.clone())
            .map_err(|e| DialError(format!("invalid node address {:?}: {e}", location.host)))?;
        let tls = tokio::time::timeout(CONNECT_TIMEOUT, self.tls.connect(name, tcp))
            .await
            .map_err(|_| DialError(format!("tls handshake with {authority}: i/o timeout")))?
            .map_err(|e| DialError(format!("tls handshake with {authority}: {e}")))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| DialError(format!("connecting to {authority}: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "kubelet connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// An I/O error in Go's words where it matters.
fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        _ => format!("connect: {e}"),
    }
}

/// A request to a node: `path_and_query` on the node, the upgrade headers
/// of the client's request when there are any.
pub(crate) fn request(
    method: Method,
    location: &NodeLocation,
    path_and_query: &str,
    headers: &[(header::HeaderName, header::HeaderValue)],
) -> Result<Request<Empty<Bytes>>, http::Error> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(header::HOST, location.authority());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Empty::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_picked_in_order_and_ports_default() {
        let node = json!({"status": {
            "addresses": [
                {"type": "Hostname", "address": "node-a"},
                {"type": "InternalIP", "address": "127.0.0.1"},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 12345}},
        }});
        assert_eq!(
            location_of(&node).unwrap(),
            NodeLocation {
                host: "127.0.0.1".into(),
                port: 12345
            }
        );
        let node = json!({"status": {"addresses": [{"type": "Hostname", "address": "node-a"}]}});
        assert_eq!(
            location_of(&node).unwrap(),
            NodeLocation {
                host: "node-a".into(),
                port: DEFAULT_KUBELET_PORT
            }
        );
        let v6 = NodeLocation {
            host: "::1".into(),
            port: 10250,
        };
        assert_eq!(v6.url("/x"), "https://[::1]:10250/x");
        let err = location_of(&json!({"status": {}})).unwrap_err();
        assert_eq!(
            err.message,
            "no preferred addresses found; known addresses: []"
        );
    }
}
