//! The DNS server: hickory-server's UDP and TCP serving with our request
//! handler, which answers the cluster zone from the [`Model`] and forwards
//! the rest.
//!
//! Listeners can be added while the server runs ([`DnsServer::listen`]),
//! so the node agent can add the bridge gateway address when it has made
//! the bridge.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

use crate::answer::{Authority, Lookup};
use crate::forward::Forwarder;
use crate::model::Model;

/// How long an idle TCP connection is kept.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest UDP answer we send to a client that advertises more.
const MAX_UDP_PAYLOAD: u16 = 1232;

/// Why the server could not start or listen.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listening for DNS on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("the DNS server has stopped")]
    Stopped,
}

/// Answers requests.
pub(crate) struct Handler {
    model: Arc<Model>,
    authority: Authority,
    forwarder: Forwarder,
}

impl Handler {
    pub(crate) fn new(model: Arc<Model>, authority: Authority, forwarder: Forwarder) -> Handler {
        Handler {
            model,
            authority,
            forwarder,
        }
    }

    async fn error<R: ResponseHandler>(
        request: &Request,
        mut response: R,
        code: ResponseCode,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::new(&request.queries, None);
        match response
            .send_response(builder.error_msg(&request.metadata, code))
            .await
        {
            Ok(info) => info,
            Err(_) => failed(request),
        }
    }
}

fn failed(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

/// The EDNS of our answer when the query had one.
fn response_edns(request: &Request) -> Option<Edns> {
    let requested = request.edns.as_ref()?;
    let mut edns = Edns::new();
    edns.set_max_payload(requested.max_payload().clamp(512, MAX_UDP_PAYLOAD));
    Some(edns)
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        if request.metadata.op_code != OpCode::Query {
            return Self::error(request, response, ResponseCode::NotImp).await;
        }
        let Ok(info) = request.request_info() else {
            return Self::error(request, response, ResponseCode::FormErr).await;
        };
        let zone = self.model.zone();
        let qname = info.query.original().name();
        let edns = response_edns(request);
        match self.authority.lookup(&zone, qname, info.query.query_type()) {
            Lookup::Answer(answer) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.authoritative = true;
                metadata.recursion_available = true;
                metadata.response_code = answer.rcode;
                let soa: Vec<Record> = match answer.soa {
                    true => vec![self.authority.soa(&zone)],
                    false => Vec::new(),
                };
                let mut builder = MessageResponseBuilder::new(&request.queries, None);
                if let Some(edns) = &edns {
                    builder.edns(edns);
                }
                let message = builder.build(
                    metadata,
                    answer.answers.iter(),
                    std::iter::empty(),
                    soa.iter(),
                    answer.additionals.iter(),
                );
                response
                    .send_response(message)
                    .await
                    .unwrap_or_else(|_| failed(request))
            }
            Lookup::NotOurs => {
                let tcp = request.protocol() == Protocol::Tcp;
                let upstream = match self.forwarder.forward(request.as_slice(), tcp).await {
                    Ok(message) => message,
                    Err(e) => {
                        tracing::debug!(error = %e, name = %qname, "forwarding failed");
                        return Self::error(request, response, ResponseCode::ServFail).await;
                    }
                };
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.recursion_available = upstream.metadata.recursion_available;
                metadata.authoritative = upstream.metadata.authoritative;
                metadata.truncation = upstream.metadata.truncation;
                metadata.authentic_data = upstream.metadata.authentic_data;
                metadata.response_code = upstream.metadata.response_code;
                let mut builder = MessageResponseBuilder::new(&request.queries, None);
                if let Some(edns) = &edns {
                    builder.edns(edns);
                }
                let message = builder.build(
                    metadata,
                    upstream.answers.iter(),
                    upstream.authorities.iter(),
                    std::iter::empty(),
                    upstream.additionals.iter(),
                );
                response
                    .send_response(message)
                    .await
                    .unwrap_or_else(|_| failed(request))
            }
        }
    }
}

/// A running DNS server.
pub struct DnsServer {
    server: Mutex<Option<hickory_server::Server<Handler>>>,
    addresses: Mutex<Vec<SocketAddr>>,
}

impl DnsServer {
    /// Starts serving with `handler` on every address of `listen` (UDP and
    /// TCP on each; port 0 picks a free port, the same for both).
    pub(crate) async fn start(
        handler: Handler,
        listen: &[SocketAddr],
    ) -> Result<DnsServer, ServerError> {
        let server = DnsServer {
            server: Mutex::new(Some(hickory_server::Server::new(handler))),
            addresses: Mutex::new(Vec::new()),
        };
        for addr in listen {
            server.listen(*addr).await?;
        }
        Ok(server)
    }

    /// Adds a listener (UDP and TCP) while the server runs; returns the
    /// address it got.
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
        let (udp, tcp) = bind_pair(addr).await?;
        let bound = udp.local_addr().map_err(|e| ServerError::Listen(addr, e))?;
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        let server = server.as_mut().ok_or(ServerError::Stopped)?;
        server.register_socket(udp);
        server.register_listener(tcp, TCP_TIMEOUT, 64);
        self.addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(bound);
        tracing::info!(%bound, "cluster DNS listening (udp, tcp)");
        Ok(bound)
    }

    /// Where the server listens.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops every listener and waits for them.
    pub async fn shutdown(&self) {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut server) = server {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), server.shutdown_gracefully()).await;
        }
    }
}

/// Binds UDP and TCP on one address; with port 0, a port free for both.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), ServerError> {
    let err = |e| ServerError::Listen(addr, e);
    if addr.port() != 0 {
        let udp = UdpSocket::bind(addr).await.map_err(err)?;
        let tcp = TcpListener::bind(addr).await.map_err(err)?;
        return Ok((udp, tcp));
    }
    let mut last = None;
    for _ in 0..16 {
        let udp = UdpSocket::bind(addr).await.map_err(err)?;
        let bound = udp.local_addr().map_err(err)?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(err(
        last.unwrap_or_else(|| std::io::Error::other("no free port"))
    ))
}
