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

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};

use crate::informer::Informers;
use crate::namespace::{self, EveryNamespace};
use crate::runtime::{self, Next, Reconciler};

/// The ServiceAccount every namespace has.
pub const DEFAULT: &str = "default";
const WORKERS: usize = 1;

/// Runs the controller on `informers` until `shutdown` completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let every = EveryNamespace::<ServiceAccount>::watch(&informers, DEFAULT);
    let (queue, ready) = (Arc::clone(&every.queue), every.ready());
    let controller = Arc::new(Controller {
        client: informers.client().clone(),
        every,
    });
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Controller {
    client: kube::Client,
    every: EveryNamespace<ServiceAccount>,
}

impl Reconciler for Controller {
    type Key = String;

    async fn reconcile(&self, namespace: &String) -> Next {
        if !self.every.active(namespace) || self.every.objects.get(namespace, DEFAULT).is_some() {
            return Next::Done;
        }
        let mut account = ServiceAccount::default();
        account.metadata.name = Some(DEFAULT.into());
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let made = api.create(&PostParams::default(), &account).await;
        namespace::outcome(made.map(|made| self.every.objects.store(made)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ApiServer, eventually};
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::DeleteParams;

    #[tokio::test]
    async fn every_namespace_gets_a_default_account_and_keeps_it() {
        let running = ApiServer::start().await.run(run);
        let client = running.client.clone();

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

        running.stop().await;
    }
}
