//! The root CA publisher, as upstream's (pkg/controller/certificates/
//! rootcacertpublisher): every active namespace has a ConfigMap
//! `kube-root-ca.crt` whose `ca.crt` is the CA that signed the API
//! server's certificate, so a pod (its projected service-account volume,
//! or a client it runs) can verify the API server. Made when the
//! namespace appears, made again if deleted, and put back if edited.

use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use crate::informer::Informers;
use crate::namespace::{self, EveryNamespace};
use crate::runtime::{self, Next, Reconciler};

/// The ConfigMap every namespace has.
pub const NAME: &str = "kube-root-ca.crt";
const KEY: &str = "ca.crt";
const DESCRIPTION: &str = "kubernetes.io/description";
const DESCRIPTION_TEXT: &str = "Contains a CA bundle that can be used to verify the \
    kube-apiserver when using internal endpoints such as the internal service IP or \
    kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes \
    clusters.";
const WORKERS: usize = 1;

/// Runs the publisher of `ca_pem` on `informers` until `shutdown`
/// completes.
pub async fn run(
    informers: Arc<Informers>,
    ca_pem: String,
    shutdown: impl Future<Output = ()> + Send,
) {
    let every = EveryNamespace::<ConfigMap>::watch(&informers, NAME);
    let (queue, ready) = (Arc::clone(&every.queue), every.ready());
    let controller = Arc::new(Publisher {
        client: informers.client().clone(),
        every,
        ca_pem,
    });
    runtime::drive(controller, queue, WORKERS, ready, shutdown).await;
}

struct Publisher {
    client: kube::Client,
    every: EveryNamespace<ConfigMap>,
    ca_pem: String,
}

impl Publisher {
    /// Whether `map` holds the CA and the description; keys and
    /// annotations others added are theirs.
    fn holds_ca(&self, map: &ConfigMap) -> bool {
        let data = map.data.as_ref().and_then(|d| d.get(KEY));
        let description = map
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DESCRIPTION));
        data == Some(&self.ca_pem) && description.map(String::as_str) == Some(DESCRIPTION_TEXT)
    }

    /// `map` with the CA and the description put in.
    fn with_ca(&self, mut map: ConfigMap) -> ConfigMap {
        map.data
            .get_or_insert_default()
            .insert(KEY.into(), self.ca_pem.clone());
        map.metadata
            .annotations
            .get_or_insert_default()
            .insert(DESCRIPTION.into(), DESCRIPTION_TEXT.into());
        map
    }
}

impl Reconciler for Publisher {
    type Key = String;

    async fn reconcile(&self, namespace: &String) -> Next {
        if !self.every.active(namespace) {
            return Next::Done;
        }
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let written = match self.every.objects.get(namespace, NAME) {
            Some(current) if self.holds_ca(&current) => return Next::Done,
            // Put back what was edited; other keys and annotations stay.
            Some(current) => {
                let map = self.with_ca((*current).clone());
                self.every.objects.replace(&api, &map).await.map(|_| ())
            }
            None => {
                let mut map = ConfigMap::default();
                map.metadata.name = Some(NAME.into());
                api.create(&PostParams::default(), &self.with_ca(map))
                    .await
                    .map(|made| self.every.objects.store(made))
            }
        };
        namespace::outcome(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ApiServer, eventually};
    use kube::api::{DeleteParams, Patch, PatchParams};

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[tokio::test]
    async fn every_namespace_gets_the_ca_and_it_is_put_back() {
        let running = ApiServer::start()
            .await
            .run(|informers, shutdown| run(informers, PEM.into(), shutdown));
        let client = running.client.clone();
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let ca = |m: &ConfigMap| m.data.as_ref().and_then(|d| d.get(KEY)).cloned();
        let first = eventually("default/kube-root-ca.crt", || async {
            maps.get_opt(NAME).await.unwrap()
        })
        .await;
        assert_eq!(ca(&first).as_deref(), Some(PEM));

        // Edited: put back, the user's extra key kept.
        let edit = serde_json::json!({"data": {"ca.crt": "mine", "extra": "x"}});
        maps.patch(NAME, &PatchParams::default(), &Patch::Merge(edit))
            .await
            .unwrap();
        let fixed = eventually("the CA put back", || async {
            let m = maps.get(NAME).await.unwrap();
            (ca(&m).as_deref() == Some(PEM)).then_some(m)
        })
        .await;
        assert_eq!(
            fixed
                .data
                .as_ref()
                .unwrap()
                .get("extra")
                .map(String::as_str),
            Some("x")
        );
        // Put back once: the user's key is no reason to write again.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let later = maps.get(NAME).await.unwrap();
        assert_eq!(
            later.metadata.resource_version,
            fixed.metadata.resource_version
        );

        // Deleted: made again.
        maps.delete(NAME, &DeleteParams::default()).await.unwrap();
        eventually("made again", || async {
            maps.get_opt(NAME)
                .await
                .unwrap()
                .filter(|m| m.metadata.uid != first.metadata.uid)
        })
        .await;

        running.stop().await;
    }
}
