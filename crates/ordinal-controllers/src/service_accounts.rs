//! The service account controller, as upstream's
//! (pkg/controller/serviceaccount): every active namespace has a
//! ServiceAccount named `default`, made when the namespace appears and
//! made again if it is deleted. Manifests and operators that name no
//! ServiceAccount (and `kubectl create token default`) count on it.
//!
//! A namespace being deleted is left alone, so the controller never races
//! the namespace controller emptying it.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};

use crate::informer::{Informer, Informers};
use crate::runtime::{self, Next, Queue, Reconciler};

/// The ServiceAccount every namespace has.
pub const DEFAULT: &str = "default";
const WORKERS: usize = 1;

/// Runs the controller on `informers` until `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let namespaces: Arc<Informer<Namespace>> = informers.get();
    let accounts: Arc<Informer<ServiceAccount>> = informers.get();
    let queue = Queue::new();
    let q = Arc::clone(&queue);
    namespaces.on_change(Box::new(move |_, new| {
        if let Some(ns) = new {
            q.add(ns.metadata.name.clone().unwrap_or_default());
        }
    }));
    let q = Arc::clone(&queue);
    accounts.on_change(Box::new(move |old, new| {
        // Only a deletion of `default` needs the controller.
        if let (Some(gone), None) = (old, new)
            && gone.metadata.name.as_deref() == Some(DEFAULT)
        {
            q.add(gone.metadata.namespace.clone().unwrap_or_default());
        }
    }));
    let ready = {
        let (namespaces, accounts) = (Arc::clone(&namespaces), Arc::clone(&accounts));
        async move {
            namespaces.synced().await;
            accounts.synced().await;
        }
    };
    let controller = Arc::new(Controller {
        client: informers.client().clone(),
        namespaces,
        accounts,
    });
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    client: kube::Client,
    namespaces: Arc<Informer<Namespace>>,
    accounts: Arc<Informer<ServiceAccount>>,
}

/// Whether `ns` takes new objects: it exists and is not being deleted.
fn active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

impl Reconciler for Controller {
    type Key = String;

    async fn reconcile(&self, namespace: &String) -> Next {
        let Some(ns) = self.namespaces.get("", namespace) else {
            return Next::Done;
        };
        if !active(&ns) || self.accounts.get(namespace, DEFAULT).is_some() {
            return Next::Done;
        }
        let mut account = ServiceAccount::default();
        account.metadata.name = Some(DEFAULT.into());
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        match api.create(&PostParams::default(), &account).await {
            Ok(made) => {
                self.accounts.store(made);
                Next::Done
            }
            // Made meanwhile, or the namespace went or began terminating.
            Err(kube::Error::Api(e)) if matches!(e.code, 403 | 404 | 409) => Next::Done,
            Err(e) => Next::from(Err::<(), _>(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ApiServer, eventually};
    use kube::api::DeleteParams;

    #[tokio::test]
    async fn every_namespace_gets_a_default_account_and_keeps_it() {
        let server = ApiServer::start().await;
        let client = server.client.clone();
        let informers = Informers::new(client.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let controller = tokio::spawn(run(Arc::clone(&informers), async move {
            let _ = stopped.await;
        }));

        // A namespace that was there before, and one made after the start.
        let default: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        eventually("default/default", || async {
            default.get_opt(DEFAULT).await.unwrap()
        })
        .await;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let mut team = Namespace::default();
        team.metadata.name = Some("team".into());
        namespaces
            .create(&PostParams::default(), &team)
            .await
            .unwrap();
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team");
        let first = eventually("team/default", || async {
            accounts.get_opt(DEFAULT).await.unwrap()
        })
        .await;

        // Deleted, it comes back as a new object.
        accounts
            .delete(DEFAULT, &DeleteParams::default())
            .await
            .unwrap();
        let again = eventually("team/default again", || async {
            accounts
                .get_opt(DEFAULT)
                .await
                .unwrap()
                .filter(|a| a.metadata.uid != first.metadata.uid)
        })
        .await;
        assert_eq!(again.metadata.name.as_deref(), Some(DEFAULT));

        let _ = stop.send(());
        controller.await.unwrap();
        informers.stop().await;
        server.stop().await;
    }
}
