//! A minimal HTTP/1.1 client: one connection per request, which also
//! means every request resolves the member's DNS name afresh — a pod that
//! comes back with a new address is found at its old name.
//! `fetch_snapshot` is the one call two modules share: a clone and a
//! follower resyncing both copy a member's whole state.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::store::Snapshot;

/// Why a request got no answer. Every variant names the `host:port` it
/// was sent to.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The name did not resolve, or nothing accepted the connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where the request was sent.
        addr: String,
        /// The resolver's or the socket's error.
        source: std::io::Error,
    },
    /// The connection broke, or the answer was not HTTP/1.1.
    #[error("{addr}: {source}")]
    Http {
        /// Where the request was sent.
        addr: String,
        /// What hyper saw.
        source: hyper::Error,
    },
    /// No whole answer within the request's timeout.
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout {
        /// Where the request was sent.
        addr: String,
        /// The time the request was given, connecting included.
        timeout: Duration,
    },
}

/// An answer: status and the whole body.
#[derive(Debug)]
pub struct Response {
    /// The answer's status, whatever it is: an error status is an answer,
    /// not a [`ClientError`].
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
}

impl Response {
    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim_end().to_string()
    }
}

/// Sends one request to `addr` (`host:port`) and reads the whole answer,
/// all within `timeout`.
pub async fn request(
    addr: &str,
    method: Method,
    path: &str,
    body: Option<Bytes>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let http = |source| ClientError::Http {
            addr: addr.to_string(),
            source,
        };
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        let driver = tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, addr)
            .body(Full::new(body.unwrap_or_default()))
            .expect("a valid request");
        let res = sender.send_request(req).await.map_err(http)?;
        let status = res.status();
        let body = res.into_body().collect().await.map_err(http)?.to_bytes();
        driver.abort();
        Ok(Response { status, body })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ClientError::Timeout {
            addr: addr.to_string(),
            timeout,
        })?
}

/// Fetches `addr`'s whole state.
pub(crate) async fn fetch_snapshot(addr: &str, timeout: Duration) -> Result<Snapshot, FetchError> {
    let res = request(addr, Method::GET, "/snapshot", None, timeout).await?;
    if res.status != StatusCode::OK {
        return Err(FetchError::Refused {
            addr: addr.to_string(),
            status: res.status,
            body: res.text(),
        });
    }
    serde_json::from_slice(&res.body).map_err(|source| FetchError::Garbled {
        addr: addr.to_string(),
        source,
    })
}

/// Why a snapshot could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The member did not answer.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The member answered with a status other than 200.
    #[error("{addr} answered {status}: {body}")]
    Refused {
        /// The member asked.
        addr: String,
        /// Its answer's status.
        status: StatusCode,
        /// Its answer's body, as text.
        body: String,
    },
    /// The member answered 200 with a body that is not a snapshot.
    #[error("{addr} sent a snapshot that does not parse: {source}")]
    Garbled {
        /// The member asked.
        addr: String,
        /// Why the body did not parse.
        source: serde_json::Error,
    },
}
