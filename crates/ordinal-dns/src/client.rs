//! A one-shot DNS client: one question to one server over UDP, again over
//! TCP when the answer was truncated. `ordinal dns-query` and the tests use
//! it.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Why a query got no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The name is not a valid DNS name, or the query does not encode
    /// (the name, why).
    #[error("invalid name {0:?}: {1}")]
    Name(String, String),
    /// Sending to or reading from the server failed, over UDP or TCP.
    #[error("asking {0}: {1}")]
    Io(SocketAddr, std::io::Error),
    /// The server did not answer within the timeout.
    #[error("no answer from {0} within {1:?}")]
    Timeout(SocketAddr, Duration),
    /// The server's answer does not decode as a DNS message.
    #[error("malformed answer from {0}: {1}")]
    Malformed(SocketAddr, String),
}

/// The query message for `name` and `qtype` (recursion desired, EDNS with
/// a 1232-byte payload).
pub fn message(name: &str, qtype: RecordType) -> Result<Message, QueryError> {
    let mut qname =
        Name::from_ascii(name).map_err(|e| QueryError::Name(name.into(), e.to_string()))?;
    qname.set_fqdn(true);
    let mut message = Message::query();
    message.metadata.id = rand::random();
    message.metadata.message_type = MessageType::Query;
    message.metadata.op_code = OpCode::Query;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(qname, qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    Ok(message)
}

/// Asks `server` about `name`.
pub async fn query(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    timeout: Duration,
) -> Result<Message, QueryError> {
    let message = message(name, qtype)?;
    let bytes = message
        .to_vec()
        .map_err(|e| QueryError::Name(name.into(), e.to_string()))?;
    let answer = tokio::time::timeout(timeout, udp(server, &bytes, message.metadata.id))
        .await
        .map_err(|_| QueryError::Timeout(server, timeout))??;
    if !answer.metadata.truncation {
        return Ok(answer);
    }
    tokio::time::timeout(timeout, tcp(server, &bytes))
        .await
        .map_err(|_| QueryError::Timeout(server, timeout))?
}

async fn udp(server: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, QueryError> {
    let io = |e| QueryError::Io(server, e);
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(bytes).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(io)?;
        let answer = Message::from_vec(&buf[..n])
            .map_err(|e| QueryError::Malformed(server, e.to_string()))?;
        if answer.metadata.id == id {
            return Ok(answer);
        }
    }
}

async fn tcp(server: SocketAddr, bytes: &[u8]) -> Result<Message, QueryError> {
    let io = |e| QueryError::Io(server, e);
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(io)?;
    let len = stream.read_u16().await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.map_err(io)?;
    Message::from_vec(&buf).map_err(|e| QueryError::Malformed(server, e.to_string()))
}

/// The message as `dig` prints its main parts.
pub fn render(message: &Message) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        ";; status: {}, answers: {}, authority: {}, additional: {}{}",
        message.metadata.response_code,
        message.answers.len(),
        message.authorities.len(),
        message.additionals.len(),
        if message.metadata.authoritative {
            ", authoritative"
        } else {
            ""
        }
    );
    for (title, records) in [
        ("ANSWER", &message.answers),
        ("AUTHORITY", &message.authorities),
        ("ADDITIONAL", &message.additionals),
    ] {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(out, ";; {title} SECTION:");
        for r in records {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}",
                r.name,
                r.ttl,
                r.dns_class,
                r.record_type(),
                r.data
            );
        }
    }
    out
}
