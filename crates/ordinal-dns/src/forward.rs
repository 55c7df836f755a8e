//! Forwarding names outside the cluster zone to upstream resolvers, as
//! CoreDNS's `forward . /etc/resolv.conf` does: the client's query as it
//! came, over the transport it came on, to each upstream in turn until one
//! answers.
//!
//! Bounded: at most [`MAX_IN_FLIGHT`] forwarded queries at a time (a flood
//! of them gets SERVFAIL rather than piling up sockets), each attempt with
//! a timeout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;

/// Forwarded queries in flight at once.
pub const MAX_IN_FLIGHT: usize = 512;
/// How long one upstream has to answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream resolvers are configured")]
    NoUpstreams,
    #[error("too many forwarded queries in flight")]
    Busy,
    #[error("no upstream answered: {0}")]
    Failed(String),
}

/// Reads the `nameserver` lines of a resolv.conf (port 53; IPv6 scope
/// suffixes dropped).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let addr = words.next()?;
            let addr = addr.split('%').next()?;
            let ip: IpAddr = addr.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

/// The upstreams of a resolv.conf file.
pub fn resolv_conf(path: &Path) -> std::io::Result<Vec<SocketAddr>> {
    Ok(parse_resolv_conf(&std::fs::read_to_string(path)?))
}

/// Sends queries upstream.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    permits: Semaphore,
    timeout: Duration,
}

impl Forwarder {
    /// A forwarder to `upstreams`, leaving out `own` addresses (ours:
    /// forwarding to ourselves would loop).
    pub fn new(upstreams: Vec<SocketAddr>, own: &[SocketAddr]) -> Forwarder {
        Forwarder {
            upstreams: upstreams.into_iter().filter(|u| !own.contains(u)).collect(),
            permits: Semaphore::new(MAX_IN_FLIGHT),
            timeout: ATTEMPT_TIMEOUT,
        }
    }

    /// The upstreams queried, in order, without our own addresses.
    #[cfg(test)]
    pub(crate) fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Forwards the raw query and returns the first answer with the same
    /// ID.
    pub async fn forward(&self, query: &[u8], tcp: bool) -> Result<Message, ForwardError> {
        if self.upstreams.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        let _permit = self.permits.try_acquire().map_err(|_| ForwardError::Busy)?;
        let id = query.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let mut errors = Vec::new();
        for upstream in &self.upstreams {
            let attempt = async {
                let bytes = if tcp {
                    exchange_tcp(*upstream, query).await?
                } else {
                    exchange_udp(*upstream, query, id).await?
                };
                Message::from_vec(&bytes).map_err(|e| std::io::Error::other(e.to_string()))
            };
            match tokio::time::timeout(self.timeout, attempt).await {
                Ok(Ok(message)) => return Ok(message),
                Ok(Err(e)) => errors.push(format!("{upstream}: {e}")),
                Err(_) => errors.push(format!("{upstream}: timed out")),
            }
        }
        Err(ForwardError::Failed(errors.join("; ")))
    }
}

async fn exchange_udp(
    upstream: SocketAddr,
    query: &[u8],
    id: Option<u16>,
) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // Stray datagrams (another ID) are ignored.
        if n >= 2 && Some(u16::from_be_bytes([buf[0], buf[1]])) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn exchange_tcp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let len = u16::try_from(query.len()).map_err(|_| std::io::Error::other("query too long"))?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let len = stream.read_u16().await?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_are_read() {
        let text = "# comment\nsearch example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\nnameserver bogus\noptions ndots:5\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "192.0.2.53:53".parse::<SocketAddr>().unwrap(),
                "[fe80::1]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn our_own_addresses_are_never_upstreams() {
        let own: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let f = Forwarder::new(vec![own, "127.0.0.2:53".parse().unwrap()], &[own]);
        assert_eq!(
            f.upstreams(),
            ["127.0.0.2:53".parse::<SocketAddr>().unwrap()]
        );
    }
}
