//! The node's HTTPS server on its own: client certificates, the exec
//! WebSocket protocol in both versions, the command's end when the client
//! goes away, and the log route's kubelet answers.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use ordinal_node::host::HostRuntime;
use ordinal_node::server::{self, NodeServer, NodeServerConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A CA, a node serving certificate and a client certificate it signs.
struct Pki {
    ca_pem: String,
    serving: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test-ca");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let issue = |names: Vec<String>, usage| {
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca_pem: ca_cert.pem(),
        serving: issue(
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: issue(vec![], ExtendedKeyUsagePurpose::ClientAuth),
    }
}

struct Setup {
    pki: Pki,
    node: NodeServer,
    runtime: Arc<HostRuntime>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(HostRuntime::new(dir.path()));
    let node = server::start(
        NodeServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            client_ca_pem: pki.ca_pem.clone(),
            serving: Some(pki.serving.clone()),
        },
        runtime.clone(),
    )
    .await
    .unwrap();
    let pod = serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u"},
        "spec": {"containers": [{"name": "app", "image": "host",
            "command": ["sh", "-c", "echo one; echo two; exec sleep 600"]}]},
    }))
    .unwrap();
    runtime.add_pod(&pod);
    runtime.start("default", "p", "app").unwrap();
    Setup {
        pki,
        node,
        runtime,
        _dir: dir,
    }
}

fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

fn pem_key(pem: &str) -> PrivateKeyDer<'static> {
    rustls_pemfile::private_key(&mut pem.as_bytes())
        .unwrap()
        .unwrap()
}

async fn tls(setup: &Setup, with_client_cert: bool) -> std::io::Result<TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in pem_certs(&setup.pki.ca_pem) {
        roots.add(cert).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = if with_client_cert {
        builder
            .with_client_auth_cert(pem_certs(&setup.pki.client.0), pem_key(&setup.pki.client.1))
            .unwrap()
    } else {
        builder.with_no_client_auth()
    };
    let tcp = TcpStream::connect(setup.node.addr()).await?;
    let mut stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await?;
    // TLS 1.3 reports a refused client certificate on the first read.
    stream.write_all(b"").await?;
    Ok(stream)
}

/// A plain HTTP/1.1 GET; returns status code and body.
async fn get(setup: &Setup, path: &str) -> (u16, String) {
    let mut stream = tls(setup, true).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: node\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let code = text[9..12].parse().unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

async fn websocket(
    setup: &Setup,
    query: &str,
    protocol: &str,
) -> WebSocketStream<TlsStream<TcpStream>> {
    let stream = tls(setup, true).await.unwrap();
    let mut request = format!("wss://127.0.0.1/exec/default/p/app?{query}")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let (ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    ws
}

/// Reads frames until the connection closes: the bytes of each channel.
async fn collect(ws: &mut WebSocketStream<TlsStream<TcpStream>>) -> [Vec<u8>; 4] {
    let mut channels: [Vec<u8>; 4] = Default::default();
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(message) = ws.next().await {
            match message.unwrap() {
                Message::Binary(data) => {
                    let (&channel, rest) = data.split_first().unwrap();
                    channels[channel as usize].extend_from_slice(rest);
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    })
    .await
    .expect("the session ends");
    channels
}

#[tokio::test]
async fn clients_without_a_certificate_of_the_ca_are_refused() {
    let setup = setup().await;
    let refused = async {
        let mut stream = tls(&setup, false).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: n\r\n\r\n")
            .await?;
        let mut buf = [0u8; 64];
        stream.read(&mut buf).await
    }
    .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(get(&setup, "/healthz").await, (200, "ok".into()));
}

/// Stdin comes in binary frames, or in text frames as the Python clients
/// send it (`"\x00" + data`); upstream's kubelet reads both.
#[tokio::test]
async fn v5_stdin_and_its_close_reach_the_command() {
    let setup = setup().await;
    let mut ws = websocket(
        &setup,
        "command=cat&input=1&output=1&error=1",
        "v5.channel.k8s.io",
    )
    .await;
    ws.send(Message::text("\u{0}hello ")).await.unwrap();
    ws.send(Message::binary(b"\x00world\n".to_vec()))
        .await
        .unwrap();
    ws.send(Message::binary(vec![255, 0])).await.unwrap();
    let [_, out, err, status] = collect(&mut ws).await;
    assert_eq!(out, b"hello world\n");
    assert_eq!(err, b"");
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["status"], "Success");
}

#[tokio::test]
async fn v4_carries_the_exit_code() {
    let setup = setup().await;
    let mut ws = websocket(
        &setup,
        "command=sh&command=-c&command=echo+hi%3B+echo+ho+%3E%262%3B+exit+2&output=1&error=1",
        "v4.channel.k8s.io",
    )
    .await;
    let [_, out, err, status] = collect(&mut ws).await;
    assert_eq!(out, b"hi\n");
    assert_eq!(err, b"ho\n");
    let status: serde_json::Value = serde_json::from_slice(&status).unwrap();
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "2");
}

#[tokio::test]
async fn the_command_dies_with_its_client() {
    let setup = setup().await;
    let mut ws = websocket(
        &setup,
        "command=sh&command=-c&command=echo+%24%24%3B+exec+sleep+600&output=1",
        "v5.channel.k8s.io",
    )
    .await;
    let mut pid = String::new();
    while !pid.ends_with('\n') {
        if let Message::Binary(data) = ws.next().await.unwrap().unwrap()
            && data.first() == Some(&1)
        {
            pid.push_str(&String::from_utf8_lossy(&data[1..]));
        }
    }
    let pid: i32 = pid.trim().parse().unwrap();
    // SAFETY: signal 0 only checks that the process exists.
    let alive = || unsafe { libc::kill(pid, 0) } == 0;
    assert!(alive());
    drop(ws);
    tokio::time::timeout(Duration::from_secs(10), async {
        while alive() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the command is killed when its client goes away");
}

#[tokio::test]
async fn log_route_answers_as_the_kubelet() {
    let setup = setup().await;
    let mut follower = {
        use ordinal_node::streaming::StreamingRuntime;
        setup
            .runtime
            .container_log("default", "p", "app", false)
            .unwrap()
            .follower
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if get(&setup, "/containerLogs/default/p/app").await.1 == "one\ntwo\n" {
                break;
            }
            follower.changed().await;
        }
    })
    .await
    .expect("the log fills");
    assert_eq!(
        get(&setup, "/containerLogs/default/p/app?tailLines=1").await,
        (200, "two\n".into())
    );
    assert_eq!(
        get(&setup, "/containerLogs/default/nope/app").await,
        (404, "pod \"nope\" does not exist".into())
    );
    assert_eq!(
        get(&setup, "/containerLogs/default/p/nope").await,
        (404, "container \"nope\" not found in pod \"p\"".into())
    );
    assert_eq!(
        get(&setup, "/containerLogs/default/p/app?previous=true").await,
        (
            400,
            "previous terminated container \"app\" in pod \"p\" not found".into()
        )
    );
    assert_eq!(
        get(&setup, "/containerLogs/default/p/app?tailLines=-1").await,
        (422, r#"{"message": "Invalid request."}"#.into())
    );
    assert_eq!(
        get(&setup, "/containerLogs/default/p/app?tailLines=x").await,
        (400, r#"{"message": "Unable to decode query."}"#.into())
    );
    assert_eq!(
        get(&setup, "/exec/default/p/app?command=true&output=1").await,
        (400, "Upgrade request required".into())
    );
    assert_eq!(
        get(&setup, "/exec/default/p/app?command=true").await,
        (
            400,
            "you must specify at least 1 of stdin, stdout, stderr".into()
        )
    );
}
