//! A minimal HTTP/1.1 client: one connection per request, which also
//! means every request resolves the member's DNS name afresh — a pod that
//! comes back with a new address is found at its old name.
//! [`fetch_snapshot`] is the one call two modules share: a clone and a
//! follower resyncing both copy a member's whole state.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::store::Snapshot;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr}: {source}")]
    Http { addr: String, source: hyper::Error },
    #[error("{addr} did not answer within {timeout:?}")]
    Timeout { addr: String, timeout: Duration },
}

/// An answer: status and the whole body.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
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
pub async fn fetch_snapshot(addr: &str, timeout: Duration) -> Result<Snapshot, FetchError> {
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
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{addr} answered {status}: {body}")]
    Refused {
        addr: String,
        status: StatusCode,
        body: String,
    },
    #[error("{addr} sent a snapshot that does not parse: {source}")]
    Garbled {
        addr: String,
        source: serde_json::Error,
    },
}
