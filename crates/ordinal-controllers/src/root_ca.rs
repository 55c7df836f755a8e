//! The root CA publisher, as upstream's (pkg/controller/certificates/
//! rootcacertpublisher): every active namespace has a ConfigMap
//! `kube-root-ca.crt` whose `ca.crt` is the CA that signed the API
//! server's certificate, so a pod (its projected service-account volume,
//! or a client it runs) can verify the API server. Made when the
//! namespace appears, made again if deleted, and put back if edited.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use crate::informer::Informers;
use crate::namespace::EveryNamespace;
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

/// What the ConfigMap should hold.
fn wanted(ca_pem: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    (
        BTreeMap::from([(KEY.to_string(), ca_pem.to_string())]),
        BTreeMap::from([(DESCRIPTION.to_string(), DESCRIPTION_TEXT.to_string())]),
    )
}

impl Reconciler for Publisher {
    type Key = String;

    async fn reconcile(&self, namespace: &String) -> Next {
        if !self.every.active(namespace) {
            return Next::Done;
        }
        let (data, annotations) = wanted(&self.ca_pem);
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let written =
            match self.every.objects.get(namespace, NAME) {
                Some(current)
                    if current.data.as_ref() == Some(&data)
                        && current.metadata.annotations.as_ref().is_some_and(|a| {
                            a.get(DESCRIPTION) == annotations.get(DESCRIPTION)
                        }) =>
                {
                    return Next::Done;
                }
                Some(current) => {
                    // Put back what was edited; other keys and annotations stay.
                    let mut map = (*current).clone();
                    map.data.get_or_insert_default().extend(data);
                    map.metadata
                        .annotations
                        .get_or_insert_default()
                        .extend(annotations);
                    self.every.objects.replace(&api, &map).await.map(|_| ())
                }
                None => {
                    let mut map = ConfigMap {
                        data: Some(data),
                        ..ConfigMap::default()
                    };
                    map.metadata.name = Some(NAME.into());
                    map.metadata.annotations = Some(annotations);
                    api.create(&PostParams::default(), &map)
                        .await
                        .map(|made| self.every.objects.store(made))
                }
            };
        match written {
            // Made or changed meanwhile (the next event brings it back
            // here), or the namespace went or began terminating.
            Err(kube::Error::Api(e)) if matches!(e.code, 403 | 404 | 409) => Next::Done,
            other => Next::from(other),
        }
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
        let server = ApiServer::start().await;
        let client = server.client.clone();
        let informers = Informers::new(client.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let publisher = tokio::spawn(run(Arc::clone(&informers), PEM.into(), async move {
            let _ = stopped.await;
        }));
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
            fixed.data.unwrap().get("extra").map(String::as_str),
            Some("x")
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

        let _ = stop.send(());
        publisher.await.unwrap();
        informers.stop().await;
        server.stop().await;
    }
}
