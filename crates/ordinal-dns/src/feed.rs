//! Keeps the [`Model`] in step with the cluster: one watch of Services and
//! one of EndpointSlices, through `kube::Client`. Each event changes the
//! model at once, so an answer reflects a readiness change as soon as the
//! slice's watch event arrives; a relist replaces everything it covers.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use crate::model::{Model, ServiceInfo, SliceInfo};

fn ids(meta: &kube::api::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// Follows Services until the watch ends (never, with back-off).
pub async fn services(client: Client, model: Arc<Model>) {
    let api: Api<Service> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut relist: Vec<(String, String, ServiceInfo)> = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(s)) => {
                let (ns, name) = ids(&s.metadata);
                model.apply_service(&ns, &name, ServiceInfo::from_service(&s));
            }
            Ok(Event::Delete(s)) => {
                let (ns, name) = ids(&s.metadata);
                model.delete_service(&ns, &name);
            }
            Ok(Event::Init) => relist.clear(),
            Ok(Event::InitApply(s)) => {
                let (ns, name) = ids(&s.metadata);
                relist.push((ns, name, ServiceInfo::from_service(&s)));
            }
            Ok(Event::InitDone) => model.reset_services(std::mem::take(&mut relist)),
            Err(e) => tracing::debug!(error = %e, "cluster DNS: service watch error"),
        }
    }
}

/// Follows EndpointSlices until the watch ends.
pub async fn slices(client: Client, model: Arc<Model>) {
    let api: Api<EndpointSlice> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut relist: Vec<(String, String, Option<SliceInfo>)> = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(s)) => {
                let (ns, name) = ids(&s.metadata);
                model.apply_slice(&ns, &name, SliceInfo::from_slice(&s));
            }
            Ok(Event::Delete(s)) => {
                let (ns, name) = ids(&s.metadata);
                model.delete_slice(&ns, &name);
            }
            Ok(Event::Init) => relist.clear(),
            Ok(Event::InitApply(s)) => {
                let (ns, name) = ids(&s.metadata);
                relist.push((ns, name, SliceInfo::from_slice(&s)));
            }
            Ok(Event::InitDone) => model.reset_slices(std::mem::take(&mut relist)),
            Err(e) => tracing::debug!(error = %e, "cluster DNS: endpoint slice watch error"),
        }
    }
}
