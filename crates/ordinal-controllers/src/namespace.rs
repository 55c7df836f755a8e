//! The namespace controller, as upstream's (pkg/controller/namespace): for a
//! namespace being deleted it deletes everything in it, reports progress in
//! the namespace's status conditions, and once nothing remains removes the
//! `kubernetes` entry from `spec.finalizers` through the `finalize`
//! subresource, upon which the API server removes the namespace.
//!
//! Content is deleted with `deletecollection` (background propagation) per
//! namespaced resource; pods deleted gracefully stay until their node (or a
//! forced delete) removes them, and the controller checks again until they
//! are gone. Upstream waits an estimate of the remaining grace period; here
//! a remaining namespace is checked again every [`RECHECK`], since all of
//! this runs on one machine and the checks are cheap.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::{Client, ResourceExt};

use crate::informer::{Informer, Informers};
use crate::runtime::{self, Next, Queue, Reconciler};
use crate::served::{self, Served};

/// The namespace controller's entry in `spec.finalizers`.
pub const FINALIZER: &str = "kubernetes";
/// How soon a namespace whose content is still going is checked again.
pub const RECHECK: Duration = Duration::from_millis(500);
const WORKERS: usize = 2;

/// Runs the namespace controller on `informers` until `shutdown`
/// completes.
pub async fn run(informers: Arc<Informers>, shutdown: impl Future<Output = ()> + Send) {
    let namespaces: Arc<Informer<Namespace>> = informers.get();
    let queue = Queue::new();
    let q = Arc::clone(&queue);
    namespaces.on_change(Box::new(move |_, new| {
        if let Some(ns) = new
            && ns.metadata.deletion_timestamp.is_some()
        {
            q.add(ns.name_any());
        }
    }));
    let controller = Arc::new(Controller {
        client: informers.client().clone(),
    });
    runtime::drive(controller, queue, WORKERS, async {}, shutdown).await;
}

struct Controller {
    client: Client,
}

/// For controllers that keep one object named `name` of kind `K` in every
/// namespace (the `default` ServiceAccount, `kube-root-ca.crt`): the two
/// informers, a queue keyed by namespace that hears of every namespace
/// change and every change of such an object, and the future of both
/// caches having listed.
pub(crate) struct EveryNamespace<K> {
    pub namespaces: Arc<Informer<Namespace>>,
    pub objects: Arc<Informer<K>>,
    pub queue: Arc<Queue<String>>,
}

impl<K: crate::informer::Cached> EveryNamespace<K> {
    pub fn watch(informers: &Informers, name: &'static str) -> EveryNamespace<K> {
        let (namespaces, objects): (Arc<Informer<Namespace>>, Arc<Informer<K>>) =
            (informers.get(), informers.get());
        let queue = Queue::new();
        let q = Arc::clone(&queue);
        namespaces.on_change(Box::new(move |_, new| {
            if let Some(ns) = new {
                q.add(ns.name_any());
            }
        }));
        let q = Arc::clone(&queue);
        objects.on_change(Box::new(move |old, new| {
            for obj in old.into_iter().chain(new) {
                let meta = obj.meta();
                if meta.name.as_deref() == Some(name) {
                    q.add(meta.namespace.clone().unwrap_or_default());
                }
            }
        }));
        EveryNamespace {
            namespaces,
            objects,
            queue,
        }
    }

    /// Completes once both caches have listed.
    pub fn ready(&self) -> impl Future<Output = ()> + Send + 'static {
        let (namespaces, objects) = (Arc::clone(&self.namespaces), Arc::clone(&self.objects));
        async move {
            namespaces.synced().await;
            objects.synced().await;
        }
    }

    /// Whether the namespace `name` takes new objects: it exists and is
    /// not being deleted.
    pub fn active(&self, name: &str) -> bool {
        self.namespaces.get("", name).is_some_and(|ns| {
            ns.metadata.deletion_timestamp.is_none()
                && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
        })
    }
}

/// What a write of an [`EveryNamespace`] object comes to: done when it was
/// made or changed meanwhile (its event brings the namespace back) or the
/// namespace went or began terminating; else the runtime's rule.
pub(crate) fn outcome(written: kube::Result<()>) -> Next {
    match written {
        Err(kube::Error::Api(e)) if matches!(e.code, 403 | 404 | 409) => Next::Done,
        other => Next::from(other),
    }
}

impl Reconciler for Controller {
    type Key = String;

    async fn reconcile(&self, name: &String) -> Next {
        match self.sync(name).await {
            Ok(None) => Next::Done,
            Ok(Some(after)) => Next::After(after),
            Err(e) => {
                tracing::debug!(namespace = %name, error = %e, "namespace controller: will retry");
                Next::Retry
            }
        }
    }
}

/// What one pass over a namespace's content found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Content {
    /// `plural.group` → objects still there.
    pub remaining: BTreeMap<String, usize>,
    /// finalizer → objects still carrying it.
    pub finalizers: BTreeMap<String, usize>,
    /// Failures to delete or list, one message per resource.
    pub failures: Vec<String>,
}

impl Content {
    pub fn is_empty(&self) -> bool {
        self.remaining.values().all(|n| *n == 0)
    }
}

/// The condition types the controller maintains, in upstream's order.
const CONDITION_TYPES: &[(&str, &str, &str)] = &[
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
];

/// The failing conditions a pass found: (type, reason, message).
fn failing(content: &Content, discovery_error: Option<&str>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    if let Some(e) = discovery_error {
        out.push((
            "NamespaceDeletionDiscoveryFailure".into(),
            "DiscoveryFailed".into(),
            e.to_string(),
        ));
    }
    if !content.failures.is_empty() {
        let mut msgs = content.failures.clone();
        msgs.sort();
        out.push((
            "NamespaceDeletionContentFailure".into(),
            "ContentDeletionFailed".into(),
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                msgs.len(),
                msgs.join(", ")
            ),
        ));
    }
    let remaining: Vec<String> = content
        .remaining
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| format!("{r} has {n} resource instances"))
        .collect();
    if !remaining.is_empty() {
        out.push((
            "NamespaceContentRemaining".into(),
            "SomeResourcesRemain".into(),
            format!("Some resources are remaining: {}", remaining.join(", ")),
        ));
    }
    let finalizers: Vec<String> = content
        .finalizers
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect();
    if !finalizers.is_empty() {
        out.push((
            "NamespaceFinalizersRemaining".into(),
            "SomeFinalizerRemain".into(),
            format!("Some finalizers are remaining: {}", finalizers.join(", ")),
        ));
    }
    out
}

/// Brings the namespace's deletion conditions up to date with a pass's
/// findings; returns whether anything changed.
pub fn update_conditions(
    conditions: &mut Vec<NamespaceCondition>,
    content: &Content,
    discovery_error: Option<&str>,
    now: Time,
) -> bool {
    let failing = failing(content, discovery_error);
    let mut changed = false;
    for (kind, ok_reason, ok_message) in CONDITION_TYPES {
        let (status, reason, message) = match failing.iter().find(|(t, _, _)| t == kind) {
            Some((_, r, m)) => ("True", r.clone(), m.clone()),
            None => ("False", ok_reason.to_string(), ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == *kind) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: kind.to_string(),
                    status: status.into(),
                    reason: Some(reason),
                    message: Some(message),
                    last_transition_time: Some(now.clone()),
                });
                changed = true;
            }
            Some(c) => {
                if c.status != status
                    || c.reason.as_deref() != Some(reason.as_str())
                    || c.message.as_deref() != Some(message.as_str())
                {
                    if c.status != status {
                        c.last_transition_time = Some(now.clone());
                    }
                    c.status = status.into();
                    c.reason = Some(reason);
                    c.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    changed
}

/// `spec.finalizers` without the controller's own entry, or `None` when it
/// is not there (the namespace is already finalized by us).
pub fn without_our_finalizer(ns: &Namespace) -> Option<Vec<String>> {
    let list = ns.spec.as_ref()?.finalizers.clone().unwrap_or_default();
    if !list.iter().any(|f| f == FINALIZER) {
        return None;
    }
    Some(list.into_iter().filter(|f| f != FINALIZER).collect())
}

fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

impl Controller {
    /// One pass; `Some(delay)` asks to look again after `delay`.
    async fn sync(&self, name: &str) -> Result<Option<Duration>, kube::Error> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(mut ns) = api.get_opt(name).await? else {
            return Ok(None);
        };
        if ns.metadata.deletion_timestamp.is_none() || without_our_finalizer(&ns).is_none() {
            return Ok(None);
        }
        let (content, discovery_error) = match served::discover(&self.client).await {
            Ok(served) => (self.delete_content(name, &served).await, None),
            Err(e) => (Content::default(), Some(e.to_string())),
        };
        let status = ns.status.get_or_insert_with(Default::default);
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        let now = Time(jiff::Timestamp::now());
        if update_conditions(conditions, &content, discovery_error.as_deref(), now) {
            match api.replace_status(name, &PostParams::default(), &ns).await {
                Ok(updated) => ns = updated,
                Err(e) if is_status(&e, 409) => return Ok(Some(Duration::ZERO)),
                Err(e) if is_status(&e, 404) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        if discovery_error.is_some() || !content.is_empty() || !content.failures.is_empty() {
            return Ok(Some(RECHECK));
        }
        // Nothing left: hand the namespace back for removal.
        let Some(rest) = without_our_finalizer(&ns) else {
            return Ok(None);
        };
        ns.spec.get_or_insert_with(Default::default).finalizers = Some(rest);
        match api
            .replace_subresource("finalize", name, &PostParams::default(), &ns)
            .await
        {
            Ok(_) => Ok(None),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) if is_status(&e, 409) => Ok(Some(Duration::ZERO)),
            Err(e) => Err(e),
        }
    }

    /// Deletes what a namespace holds and reports what is left.
    async fn delete_content(&self, namespace: &str, served: &[Arc<Served>]) -> Content {
        let targets: Vec<Arc<Served>> = served
            .iter()
            .filter(|s| {
                s.namespaced
                    && s.supports("list")
                    && (s.supports("deletecollection") || s.supports("delete"))
            })
            .cloned()
            .collect();
        let passes = futures::stream::iter(targets)
            .map(|s| async move {
                let pass = self.delete_resource(namespace, &s).await;
                (s, pass)
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        let mut content = Content::default();
        for (s, pass) in passes {
            match pass {
                Ok(items) => {
                    if !items.is_empty() {
                        content.remaining.insert(s.group_resource(), items.len());
                    }
                    for item in &items {
                        for f in item.finalizers() {
                            *content.finalizers.entry(f.clone()).or_default() += 1;
                        }
                    }
                }
                Err(e) => content
                    .failures
                    .push(format!("{}: {e}", s.group_resource())),
            }
        }
        content
    }

    /// Deletes one resource's objects in the namespace (background) and
    /// lists what remains.
    async fn delete_resource(
        &self,
        namespace: &str,
        resource: &Served,
    ) -> Result<Vec<kube::core::PartialObjectMeta<DynamicObject>>, kube::Error> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &resource.api);
        let background = DeleteParams::background();
        if resource.supports("deletecollection") {
            api.delete_collection(&background, &ListParams::default())
                .await?;
        }
        let left = api.list_metadata(&ListParams::default()).await?.items;
        if !resource.supports("deletecollection") {
            for item in left
                .iter()
                .filter(|i| i.metadata.deletion_timestamp.is_none())
            {
                match api.delete(&item.name_any(), &background).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, 404) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(api.list_metadata(&ListParams::default()).await?.items);
        }
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Time {
        Time("2025-01-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn conditions_report_what_remains_then_that_all_is_gone() {
        let mut conditions = Vec::new();
        let mut content = Content::default();
        content.remaining.insert("pods.".into(), 2);
        content.remaining.insert("configmaps.".into(), 1);
        content.finalizers.insert("example.com/hold".into(), 1);
        assert!(update_conditions(&mut conditions, &content, None, now()));
        assert_eq!(conditions.len(), 5);
        let remaining = conditions
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .unwrap();
        assert_eq!(remaining.status, "True");
        assert_eq!(
            remaining.message.as_deref(),
            Some(
                "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances"
            )
        );
        let fin = conditions
            .iter()
            .find(|c| c.type_ == "NamespaceFinalizersRemaining")
            .unwrap();
        assert_eq!(fin.reason.as_deref(), Some("SomeFinalizerRemain"));
        // The same findings change nothing.
        assert!(!update_conditions(&mut conditions, &content, None, now()));
        // All gone: every condition is False with upstream's words.
        assert!(update_conditions(
            &mut conditions,
            &Content::default(),
            None,
            now()
        ));
        assert!(conditions.iter().all(|c| c.status == "False"));
        let discovered = &conditions[0];
        assert_eq!(discovered.reason.as_deref(), Some("ResourcesDiscovered"));
    }

    #[test]
    fn only_our_finalizer_is_removed() {
        let mut ns = Namespace::default();
        assert_eq!(without_our_finalizer(&ns), None);
        ns.spec = Some(k8s_openapi::api::core::v1::NamespaceSpec {
            finalizers: Some(vec!["kubernetes".into(), "example.com/x".into()]),
        });
        assert_eq!(
            without_our_finalizer(&ns),
            Some(vec!["example.com/x".to_string()])
        );
    }
}
