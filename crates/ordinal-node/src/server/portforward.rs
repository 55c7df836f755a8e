//! `/portForward/{namespace}/{pod}`: `kubectl port-forward`, as the
//! kubelet serves it.
//!
//! The transport is SPDY/3.1 (`X-Stream-Protocol-Version:
//! portforward.k8s.io`), either as the connection's upgrade (kubectl 1.30
//! and older, and the fallback of newer ones) or tunnelled inside a
//! WebSocket whose subprotocol is `SPDY/3.1+portforward.k8s.io` (kubectl
//! 1.31 and newer), binary messages carrying the SPDY bytes.
//!
//! For each local connection kubectl opens two streams, both with headers
//! `port` and `requestid`: `streamtype: error`, then `streamtype: data`.
//! Once both are there the node connects to the port on `localhost`
//! inside the pod's network namespace (a program listening on 127.0.0.1
//! in the pod is reachable) and copies bytes both ways; when the pod's
//! side ends, both streams are closed. A failure is written on the error
//! stream in the kubelet's words (kubectl prints it and goes on serving).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::exec::Refusal;
use super::spdy::{Connection, Stream, Writer};
use crate::streaming::PodNetwork;

/// The port-forward stream protocol.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol that carries it as SPDY (kubectl ≥ 1.31).
pub const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// How much is read from the pod's socket at once.
const CHUNK: usize = 256 * 1024;
/// How long a connection to the pod's port may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(10);

/// How the client's streams arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The connection upgraded to `SPDY/3.1`.
    Spdy,
    /// SPDY inside a WebSocket.
    Tunnel,
}

fn header_values(headers: &HeaderMap, name: impl header::AsHeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Whether `headers` ask to upgrade to SPDY/3.1.
pub fn is_spdy(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("spdy/3.1"))
}

/// The SPDY upgrade's answer: the first of the client's
/// `X-Stream-Protocol-Version`s the node speaks (`supported`, in the
/// node's order of preference), or the kubelet's refusal. A client that
/// names no version gets the first supported one.
pub fn spdy_handshake(headers: &HeaderMap, supported: &[&str]) -> Result<HeaderMap, Refusal> {
    let offered = header_values(headers, "x-stream-protocol-version");
    let chosen = if offered.is_empty() {
        supported[0]
    } else {
        offered
            .iter()
            .find_map(|o| supported.iter().find(|s| *s == o))
            .ok_or_else(|| {
                Refusal(
                    StatusCode::FORBIDDEN,
                    format!(
                        "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server accepts {supported:?}"
                    ),
                )
            })?
    };
    let mut reply = HeaderMap::new();
    reply.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    reply.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    reply.insert(
        "x-stream-protocol-version",
        HeaderValue::from_str(chosen).expect("a protocol name is a header value"),
    );
    Ok(reply)
}

/// Checks the upgrade of a port-forward request: SPDY, or a WebSocket
/// offering [`TUNNEL_PROTOCOL`].
pub fn handshake(headers: &HeaderMap) -> Result<(Transport, HeaderMap), Refusal> {
    if is_spdy(headers) {
        return spdy_handshake(headers, &[PROTOCOL]).map(|h| (Transport::Spdy, h));
    }
    let websocket = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(header::SEC_WEBSOCKET_KEY);
    let (true, Some(key)) = (websocket, key) else {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            "Upgrade request required".into(),
        ));
    };
    let offered = header_values(headers, header::SEC_WEBSOCKET_PROTOCOL);
    if !offered.iter().any(|p| p == TUNNEL_PROTOCOL) {
        return Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!(
                "requested protocol(s) are not supported: {offered:?}; supports [{TUNNEL_PROTOCOL:?}]"
            ),
        ));
    }
    let mut reply = HeaderMap::new();
    reply.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    reply.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    reply.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&derive_accept_key(key.as_bytes())).expect("base64"),
    );
    reply.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(TUNNEL_PROTOCOL),
    );
    Ok((Transport::Tunnel, reply))
}

/// Serves the session on the upgraded connection.
pub async fn serve(upgrade: OnUpgrade, transport: Transport, network: PodNetwork) {
    let upgraded = match upgrade.await {
        Ok(u) => TokioIo::new(u),
        Err(e) => {
            tracing::debug!(error = %e, "port-forward: the upgrade did not complete");
            return;
        }
    };
    let conn = match transport {
        Transport::Spdy => Connection::start(upgraded),
        Transport::Tunnel => {
            let mut config = WebSocketConfig::default();
            config.max_message_size = Some(64 << 20);
            config.max_frame_size = Some(64 << 20);
            let ws = WebSocketStream::from_raw_socket(upgraded, Role::Server, Some(config)).await;
            Connection::start(super::spdy::tunnel(ws))
        }
    };
    session(conn, Arc::new(network)).await;
}

/// Streams of one forwarded connection, as they arrive.
#[derive(Default)]
struct Pair {
    error: Option<Stream>,
    data: Option<Stream>,
}

/// The kubelet's pairing key: the `requestid` header, or for clients that
/// send none, the error stream's id (a data stream follows its error
/// stream, two ids later).
fn request_id(stream: &Stream, kind: &str) -> String {
    match stream.header("requestid") {
        Some(id) => id.to_string(),
        None if kind == "data" => stream.id.saturating_sub(2).to_string(),
        None => stream.id.to_string(),
    }
}

/// Accepts streams, pairs them, forwards each pair; ends with the
/// connection.
pub async fn session(mut conn: Connection, network: Arc<PodNetwork>) {
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let closed = conn.closed();
    tokio::pin!(closed);
    while let Some(stream) = conn.accept().await {
        let kind = stream.header("streamtype").unwrap_or("").to_string();
        let id = request_id(&stream, &kind);
        let pair = pairs.entry(id.clone()).or_default();
        match kind.as_str() {
            "error" if pair.error.is_none() => pair.error = Some(stream),
            "data" if pair.data.is_none() => pair.data = Some(stream),
            _ => {
                tracing::debug!(kind, id, "port-forward: unexpected stream");
                conn.refuse(stream).await;
                continue;
            }
        }
        if pair.error.is_some() && pair.data.is_some() {
            let Pair {
                error: Some(error),
                data: Some(data),
            } = pairs.remove(&id).expect("the pair is there")
            else {
                unreachable!("both streams are there")
            };
            tokio::spawn(forward(error, data, network.clone(), conn.closed()));
        }
    }
    conn.finish().await;
}

/// Forwards one connection: the data stream to the pod's port.
async fn forward(
    error: Stream,
    data: Stream,
    network: Arc<PodNetwork>,
    closed: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let errors = error.writer();
    let port = data.header("port").unwrap_or("").to_string();
    let connected = match port.parse::<u16>() {
        Ok(n) if n > 0 => dial(network.netns.clone(), n).await,
        _ if port.is_empty() => Err("port header is required".to_string()),
        _ => Err(format!("invalid port {port:?}")),
    };
    let tcp = match connected {
        Ok(tcp) => tcp,
        Err(why) => {
            let message = format!(
                "error forwarding port {port} to pod {}, uid : {why}",
                network.sandbox
            );
            tracing::debug!(message, "port-forward");
            errors.write(Bytes::from(message)).await;
            errors.close().await;
            data.writer().close().await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = tcp.into_split();
    let (mut inbound, writer): (mpsc::Receiver<Bytes>, Writer) = data.split();
    let upload = async move {
        while let Some(chunk) = inbound.recv().await {
            if to_pod.write_all(&chunk).await.is_err() {
                break;
            }
        }
        // The client will send no more: the pod reads its end.
        let _ = to_pod.shutdown().await;
        // Keep reading so a reset stream does not block the connection.
        while inbound.recv().await.is_some() {}
    };
    let download = async {
        let mut buf = BytesMut::with_capacity(CHUNK);
        loop {
            if buf.capacity() < CHUNK / 4 {
                buf.reserve(CHUNK);
            }
            match from_pod.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if !writer.write(buf.split().freeze()).await {
                        break;
                    }
                }
            }
        }
        writer.close().await;
    };
    let upload = tokio::spawn(upload);
    tokio::select! {
        () = download => {}
        () = closed => {}
    }
    upload.abort();
    errors.close().await;
    drop(error);
}

/// Connects to `localhost:port` inside `netns` (the host's when `None`).
/// The socket is made by a short-lived thread that enters the namespace
/// and ends, so no thread of the node ever runs in a pod's network
/// namespace afterwards; a socket keeps the namespace it was made in.
pub async fn dial(netns: Option<Arc<OwnedFd>>, port: u16) -> Result<tokio::net::TcpStream, String> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("port-forward".into())
        .spawn(move || {
            let result = (|| {
                if let Some(ns) = &netns {
                    // SAFETY: changes the network namespace of this thread
                    // only, which ends right after connecting.
                    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                        return Err(format!(
                            "entering the pod's network namespace: {}",
                            io::Error::last_os_error()
                        ));
                    }
                }
                connect_localhost(port)
            })();
            let _ = tx.send(result);
        })
        .map_err(|e| format!("starting a thread: {e}"))?;
    let stream = rx
        .await
        .map_err(|_| "the connecting thread ended".to_string())??;
    stream
        .set_nonblocking(true)
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| e.to_string())?;
    tokio::net::TcpStream::from_std(stream).map_err(|e| e.to_string())
}

/// `localhost` over IPv4, then IPv6, as the container runtimes try it.
fn connect_localhost(port: u16) -> Result<std::net::TcpStream, String> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match std::net::TcpStream::connect_timeout(&v4, DIAL_TIMEOUT) {
        Ok(s) => Ok(s),
        Err(e4) => std::net::TcpStream::connect_timeout(&v6, DIAL_TIMEOUT).map_err(|_| {
            format!(
                "failed to connect to localhost:{port} inside namespace of the pod: dial tcp4 {v4}: connect: {}",
                go_error(&e4)
            )
        }),
    }
}

/// An OS error as Go prints it (`connection refused`).
fn go_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::TimedOut => "i/o timeout".into(),
        _ => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spdy::testing::TestClient;
    use super::*;
    use ordinal_core::spdy::Frame;

    #[test]
    fn handshakes_pick_spdy_or_the_tunnel() {
        let mut spdy = HeaderMap::new();
        spdy.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        spdy.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        spdy.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("portforward.k8s.io"),
        );
        let (transport, reply) = handshake(&spdy).unwrap();
        assert_eq!(transport, Transport::Spdy);
        assert_eq!(reply["x-stream-protocol-version"], "portforward.k8s.io");
        assert_eq!(reply[header::UPGRADE], "SPDY/3.1");

        spdy.insert(
            "x-stream-protocol-version",
            HeaderValue::from_static("v9.portforward.k8s.io"),
        );
        let Refusal(code, text) = handshake(&spdy).unwrap_err();
        assert_eq!(code, StatusCode::FORBIDDEN);
        assert!(text.contains("unable to negotiate protocol"), "{text}");

        let mut ws = HeaderMap::new();
        ws.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        ws.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        ws.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        ws.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("SPDY/3.1+portforward.k8s.io"),
        );
        let (transport, reply) = handshake(&ws).unwrap();
        assert_eq!(transport, Transport::Tunnel);
        assert_eq!(
            reply[header::SEC_WEBSOCKET_PROTOCOL],
            "SPDY/3.1+portforward.k8s.io"
        );
        ws.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        assert!(handshake(&ws).is_err());
    }

    #[tokio::test]
    async fn dialling_a_closed_port_says_connection_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = dial(None, port).await.unwrap_err();
        assert!(err.ends_with("connect: connection refused"), "{err}");
    }

    fn syn(stream: u32, kind: &str, port: u16, request: u32) -> Frame {
        Frame::SynStream {
            stream,
            associated: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            headers: vec![
                ("streamtype".into(), kind.into()),
                ("port".into(), port.to_string()),
                ("requestid".into(), request.to_string()),
            ],
        }
    }

    /// Reads frames until stream `id` is half-closed; its bytes.
    async fn drain<T>(client: &mut TestClient<T>, id: u32, other: &mut Vec<Frame>) -> Vec<u8>
    where
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut bytes = Vec::new();
        loop {
            match client.next().await.expect("the connection is open") {
                Frame::Data { stream, fin, data } if stream == id => {
                    bytes.extend_from_slice(&data);
                    if fin {
                        return bytes;
                    }
                }
                frame => other.push(frame),
            }
        }
    }

    #[tokio::test]
    async fn a_pair_of_streams_reaches_the_port_and_errors_are_upstreams() {
        // A "pod" that answers one line and closes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 5];
            socket.read_exact(&mut request).await.unwrap();
            socket.write_all(b"you said ").await.unwrap();
            socket.write_all(&request).await.unwrap();
        });
        let closed_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (client, server) = tokio::io::duplex(1 << 20);
        let network = Arc::new(PodNetwork {
            sandbox: "sandbox-1".into(),
            netns: None,
        });
        tokio::spawn(session(Connection::start(server), network));
        let mut client = TestClient::new(client);
        client.send(syn(1, "error", port, 0)).await;
        client.send(syn(3, "data", port, 0)).await;
        client
            .send(Frame::Data {
                stream: 3,
                fin: true,
                data: "hello".into(),
            })
            .await;
        let mut other = Vec::new();
        assert_eq!(drain(&mut client, 3, &mut other).await, b"you said hello");
        // Both streams were accepted; the error stream ends empty.
        assert_eq!(drain(&mut client, 1, &mut other).await, b"");
        assert!(
            other
                .iter()
                .any(|f| matches!(f, Frame::SynReply { stream: 1, .. }))
        );
        assert!(
            other
                .iter()
                .any(|f| matches!(f, Frame::SynReply { stream: 3, .. }))
        );

        // Nothing listens: the error stream says so, in upstream's words.
        client.send(syn(5, "error", closed_port, 1)).await;
        client.send(syn(7, "data", closed_port, 1)).await;
        let message = drain(&mut client, 5, &mut other).await;
        let message = String::from_utf8(message).unwrap();
        assert!(
            message.starts_with(&format!(
                "error forwarding port {closed_port} to pod sandbox-1, uid : "
            )),
            "{message}"
        );
        assert!(message.ends_with("connection refused"), "{message}");
        assert_eq!(drain(&mut client, 7, &mut other).await, b"");
    }

    /// kubectl 1.31+: SPDY inside WebSocket binary messages.
    #[tokio::test]
    async fn the_websocket_tunnel_carries_spdy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4];
            socket.read_exact(&mut request).await.unwrap();
            socket.write_all(&request).await.unwrap();
        });
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let network = Arc::new(PodNetwork {
            sandbox: "s".into(),
            netns: None,
        });
        tokio::spawn(async move {
            let ws = WebSocketStream::from_raw_socket(server_io, Role::Server, None).await;
            session(Connection::start(super::super::spdy::tunnel(ws)), network).await;
        });
        let ws = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
        let mut client = TestClient::new(super::super::spdy::tunnel(ws));
        client.send(syn(1, "error", port, 0)).await;
        client.send(syn(3, "data", port, 0)).await;
        client
            .send(Frame::Data {
                stream: 3,
                fin: false,
                data: "ping".into(),
            })
            .await;
        let mut other = Vec::new();
        assert_eq!(drain(&mut client, 3, &mut other).await, b"ping");
        assert_eq!(drain(&mut client, 1, &mut other).await, b"");
    }
}
