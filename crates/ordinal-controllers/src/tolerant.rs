//! Watches and lists that survive an object which does not decode.
//!
//! kube-runtime's watcher decodes a whole LIST at once: one stored object
//! with a value of the wrong type (left by an older version, a disk error,
//! a write path that forgot to check) fails the list, the watcher backs
//! off and lists again, for ever, and the controller never sees any of the
//! other objects — `kubectl scale` creates nothing, deleted pods stay
//! Terminating. Here each object is decoded on its own: one that does not
//! decode is reported (a warning naming it and why) and skipped, and the
//! rest flow as usual.
//!
//! kube has no such mode, so this wraps the object type: [`Tolerant<K>`]
//! is a [`Resource`] with `K`'s URLs whose decoding never fails, and
//! [`watcher`] turns its events back into events of `K`, so reflectors and
//! caches downstream keep their types.
//!
//! The shared informers ([`crate::informer`]) and the garbage collector
//! read every watch through it.

use std::borrow::Cow;
use std::fmt::Debug;

use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams};
use kube::core::DynamicResourceScope;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// An object of type `K`, or what could be read of one that does not
/// decode as `K`.
#[derive(Debug, Clone)]
pub enum Tolerant<K> {
    Decoded(K),
    /// Its metadata (as much as decodes; empty when even that does not)
    /// and serde's reason.
    Undecodable {
        meta: Box<ObjectMeta>,
        error: String,
    },
}

/// Read through a JSON value, not a raw slice: inside an event whose
/// `object` comes before its `type`, serde buffers the object, and a
/// buffered object can be read as a value but not as raw JSON.
impl<'de, K: DeserializeOwned> Deserialize<'de> for Tolerant<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match K::deserialize(&value) {
            Ok(object) => Ok(Tolerant::Decoded(object)),
            Err(e) => {
                let meta = value
                    .get("metadata")
                    .and_then(|m| ObjectMeta::deserialize(m).ok())
                    .unwrap_or_default();
                Ok(Tolerant::Undecodable {
                    meta: Box::new(meta),
                    error: e.to_string(),
                })
            }
        }
    }
}

impl<K: Resource> Resource for Tolerant<K> {
    type DynamicType = K::DynamicType;
    type Scope = DynamicResourceScope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }
    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }
    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }
    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::api_version(dt)
    }
    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }
    fn metadata_api() -> bool {
        K::metadata_api()
    }
    fn url_path(dt: &Self::DynamicType, namespace: Option<&str>) -> String {
        K::url_path(dt, namespace)
    }
    fn meta(&self) -> &ObjectMeta {
        match self {
            Tolerant::Decoded(k) => k.meta(),
            Tolerant::Undecodable { meta, .. } => meta,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Tolerant::Decoded(k) => k.meta_mut(),
            Tolerant::Undecodable { meta, .. } => meta,
        }
    }
}

impl<K: Resource> Tolerant<K> {
    /// The object, or `None` after reporting why it is skipped.
    pub fn into_decoded(self, dt: &K::DynamicType) -> Option<K> {
        match self {
            Tolerant::Decoded(k) => Some(k),
            Tolerant::Undecodable { meta, error } => {
                tracing::warn!(
                    kind = %K::kind(dt),
                    namespace = meta.namespace.as_deref().unwrap_or(""),
                    name = meta.name.as_deref().unwrap_or(""),
                    resource_version = meta.resource_version.as_deref().unwrap_or(""),
                    %error,
                    "skipping a stored object that does not decode"
                );
                None
            }
        }
    }
}

/// An `Api` of the same URLs for [`Tolerant<K>`].
fn tolerant_api<K: Resource>(
    client: Client,
    namespace: Option<&str>,
    dt: &K::DynamicType,
) -> Api<Tolerant<K>> {
    match namespace {
        Some(ns) => Api::namespaced_with(client, ns, dt),
        None => Api::all_with(client, dt),
    }
}

/// Maps a tolerant event to one of `K`; `None` drops an object that does
/// not decode (after reporting it). An undecodable object that is deleted
/// is dropped as well: whoever held its earlier, decodable version sees
/// it go when the next relist leaves it out.
fn decoded_event<K: Resource>(event: Event<Tolerant<K>>, dt: &K::DynamicType) -> Option<Event<K>> {
    Some(match event {
        Event::Apply(o) => Event::Apply(o.into_decoded(dt)?),
        Event::Delete(o) => Event::Delete(o.into_decoded(dt)?),
        Event::InitApply(o) => Event::InitApply(o.into_decoded(dt)?),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    })
}

/// kube-runtime's `watcher` over `api`'s URLs, with objects that do not
/// decode reported and skipped (see the module docs).
pub fn watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Clone + Debug + Eq + std::hash::Hash + Send + Sync + Unpin,
{
    watcher_with(api, K::DynamicType::default(), config)
}

/// [`watcher`] for kinds known at run time (`PartialObjectMeta<DynamicObject>`).
pub fn watcher_with<K>(
    api: Api<K>,
    dt: K::DynamicType,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<Event<K>>> + Send
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Clone + Debug + Eq + std::hash::Hash + Send + Sync + Unpin,
{
    let namespace = api.namespace().map(str::to_string);
    let tolerant = tolerant_api::<K>(api.into_client(), namespace.as_deref(), &dt);
    watcher::watcher(tolerant, config).filter_map(move |event| {
        let out = match event {
            Ok(event) => decoded_event(event, &dt).map(Ok),
            Err(e) => Some(Err(e)),
        };
        std::future::ready(out)
    })
}

/// `api.list(params)`, with objects that do not decode reported and
/// skipped.
pub async fn list<K>(api: &Api<K>, params: &ListParams) -> kube::Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let dt = K::DynamicType::default();
    let tolerant = tolerant_api::<K>(api.clone().into_client(), api.namespace(), &dt);
    let listed = tolerant.list(params).await?;
    Ok(listed
        .items
        .into_iter()
        .filter_map(|o| o.into_decoded(&dt))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::core::ObjectList;

    #[test]
    fn one_bad_item_does_not_spoil_a_list() {
        let body = r#"{"apiVersion":"v1","kind":"ConfigMapList","metadata":{"resourceVersion":"9"},
            "items":[
              {"metadata":{"name":"good","namespace":"default"},"data":{"a":"1"}},
              {"metadata":{"name":"bad","namespace":"default"},"data":{"a":5}},
              {"metadata":{"name":"worse","labels":{"x":5}}},
              {"metadata":{"name":"also-good"}}
            ]}"#;
        assert!(serde_json::from_str::<ObjectList<ConfigMap>>(body).is_err());
        let list: ObjectList<Tolerant<ConfigMap>> = serde_json::from_str(body).unwrap();
        let names: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|o| o.into_decoded(&()))
            .map(|c| c.metadata.name.unwrap())
            .collect();
        assert_eq!(names, ["good", "also-good"]);
    }

    #[test]
    fn watch_events_decode_whatever_their_field_order() {
        use kube::core::WatchEvent;
        use kube::core::{DynamicObject, PartialObjectMeta};
        for line in [
            r#"{"type":"ADDED","object":{"metadata":{"name":"a"},"data":{"k":"v"}}}"#,
            r#"{"object":{"metadata":{"name":"a"},"data":{"k":"v"}},"type":"ADDED"}"#,
        ] {
            let event: WatchEvent<Tolerant<ConfigMap>> = serde_json::from_str(line).unwrap();
            assert!(
                matches!(event, WatchEvent::Added(Tolerant::Decoded(_))),
                "{line}"
            );
            let event: WatchEvent<Tolerant<PartialObjectMeta<DynamicObject>>> =
                serde_json::from_str(line).unwrap();
            assert!(
                matches!(event, WatchEvent::Added(Tolerant::Decoded(_))),
                "{line}"
            );
        }
        let bad = r#"{"object":{"metadata":{"name":"b"},"data":{"k":5}},"type":"MODIFIED"}"#;
        let event: WatchEvent<Tolerant<ConfigMap>> = serde_json::from_str(bad).unwrap();
        assert!(matches!(
            event,
            WatchEvent::Modified(Tolerant::Undecodable { .. })
        ));
    }

    #[test]
    fn undecodable_objects_keep_what_metadata_decodes() {
        let bad: Tolerant<ConfigMap> =
            serde_json::from_str(r#"{"metadata":{"name":"bad","namespace":"ns"},"data":{"a":5}}"#)
                .unwrap();
        match &bad {
            Tolerant::Undecodable { meta, error } => {
                assert_eq!(meta.name.as_deref(), Some("bad"));
                assert!(error.contains("invalid type"), "{error}");
            }
            other => panic!("decoded: {other:?}"),
        }
        assert_eq!(bad.meta().namespace.as_deref(), Some("ns"));
        assert!(decoded_event(Event::Apply(bad.clone()), &()).is_none());
        assert!(matches!(
            decoded_event::<ConfigMap>(Event::InitDone, &()),
            Some(Event::InitDone)
        ));
        assert_eq!(
            Tolerant::<ConfigMap>::url_path(&(), Some("ns")),
            "/api/v1/namespaces/ns/configmaps"
        );
    }
}
