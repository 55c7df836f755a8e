//! ordinal-kv: a small replicated key-value server, the program of the
//! `examples/replicated-kv` StatefulSet. It shows why StatefulSets exist:
//! each member's role comes from its ordinal (0 is the primary and takes
//! writes; the others are read-only replicas), a new replica clones the
//! member before it by its stable DNS name, every member follows the
//! primary by name, and each keeps its data on its own claim.
//!
//! | module | job |
//! |---|---|
//! | [`identity`] | set, ordinal and peers' names from the pod name |
//! | [`store`] | the durable state: snapshot + append-only log, fsync |
//! | [`protocol`] | the HTTP routes and their JSON |
//! | [`member`] | the server: reads, writes on the primary, the log feed |
//! | `follower` | a replica's catch-up with the primary |
//! | [`clone`] | the init container: copy the previous ordinal's data |
//! | [`client`] | one HTTP request, for the CLI and the follower |

pub mod client;
pub mod clone;
mod follower;
pub mod identity;
pub mod member;
pub mod protocol;
pub mod store;

use std::sync::Arc;

use tokio::net::TcpListener;

/// Serves `member` on `listener` (following the primary when it is a
/// replica) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    member: Arc<member::Member>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let follower = (!member.identity.is_primary()).then(|| {
        tokio::spawn(follower::follow(
            Arc::clone(&member),
            member.primary().to_string(),
            stop_rx,
        ))
    });
    let m = Arc::clone(&member);
    let result = axum::serve(listener, member::router(Arc::clone(&member)))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            m.stop();
        })
        .await;
    if let Some(f) = follower {
        f.abort();
    }
    result
}
