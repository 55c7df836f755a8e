//! The accept loop of ordinal's HTTPS servers (the API server's and the
//! node's): accept until told to stop, hand each connection on with a
//! graceful-shutdown watcher, then stop accepting and give the open
//! connections a bounded time to finish.
//!
//! What a connection then goes through (the TLS handshake, its timeouts,
//! HTTP/1.1 or HTTP/2) is the caller's: the API server bounds and watches
//! every connection, the node only serves it.

use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long open connections may take to finish once the server stops.
pub const DRAIN: Duration = Duration::from_secs(5);
/// The pause after a failed accept (out of descriptors, say), so a
/// persistent failure does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Accepts connections on `listener` until `shutdown` changes, giving each
/// to `connection` (with `TCP_NODELAY` set) together with the watcher its
/// HTTP connection should run under; `connection` spawns what serves it.
/// Then closes the listener and waits at most [`DRAIN`] for the watched
/// connections to end. `server` names the server in logs.
pub async fn accept_until_shutdown(
    server: &'static str,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    mut connection: impl FnMut(TcpStream, SocketAddr, Watcher),
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(server, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        connection(tcp, peer, graceful.watcher());
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_connection_is_handed_on_until_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        let (seen, mut peers) = tokio::sync::mpsc::unbounded_channel();
        let server = tokio::spawn(accept_until_shutdown(
            "test",
            listener,
            stopped,
            move |tcp, peer, _watcher| {
                assert!(tcp.nodelay().unwrap());
                seen.send(peer).unwrap();
            },
        ));
        let client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(peers.recv().await, Some(client.local_addr().unwrap()));
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), server)
            .await
            .expect("stops at once with no connection watched")
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
    }
}
