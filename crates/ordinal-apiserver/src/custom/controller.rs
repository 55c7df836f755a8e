//! The apiextensions server's own controllers, in one loop over the CRDs
//! in the store: the naming controller (`NamesAccepted`, `acceptedNames`),
//! the establishing controller (`Established`), and the finalizer that
//! deletes a removed CRD's objects (`Terminating`) before the CRD goes. It
//! refreshes the [`Catalog`] on every change, so a CRD another path wrote
//! (a restart, a bootstrap) is served too.

use std::sync::Arc;
use std::time::Duration;

use ordinal_store::{Store, StoreError};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{CLEANUP_FINALIZER, CRD_PREFIX, Catalog, Names, str_at};

/// How often a CRD being deleted is looked at again while its objects
/// wait on their own finalizers.
const TERMINATING_RECHECK: Duration = Duration::from_millis(500);

/// Runs the loop until shutdown.
pub fn spawn(store: Store, catalog: Arc<Catalog>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            let from = store.revision();
            catalog.refresh(&store);
            let mut terminating = reconcile(&store).await;
            let Ok(mut watcher) = store.watch(CRD_PREFIX, from) else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            loop {
                let wait = if terminating {
                    TERMINATING_RECHECK
                } else {
                    Duration::from_secs(3600)
                };
                tokio::select! {
                    event = watcher.recv() => {
                        if event.is_none() {
                            break;
                        }
                        while watcher.try_recv().is_some() {}
                    }
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
                if *shutdown.borrow() {
                    return;
                }
                catalog.refresh(&store);
                terminating = reconcile(&store).await;
            }
        }
    });
}

/// One pass over every CRD; whether one is still being deleted.
async fn reconcile(store: &Store) -> bool {
    let snapshot = store.snapshot();
    let mut crds: Vec<(String, u64, Value)> = snapshot
        .range(CRD_PREFIX, None)
        .filter_map(|o| {
            serde_json::from_slice(&o.bytes)
                .ok()
                .map(|v| (o.key.to_string(), o.rev, v))
        })
        .collect();
    crds.sort_by_key(|(_, _, crd)| Names::order(crd));
    let mut names = Names::default();
    let mut terminating = false;
    for (key, rev, crd) in crds {
        let conflicts = names.claim(&crd);
        if crd.pointer("/metadata/deletionTimestamp").is_some() {
            terminating |= !cleanup(store, &key, rev, &crd).await;
            continue;
        }
        let status = status_for(&crd, &conflicts);
        if crd.get("status") != Some(&status) {
            let mut updated = crd.clone();
            updated["status"] = status;
            match store.update(key, updated, rev).await {
                Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => {}
                Err(e) => tracing::warn!(error = %e, "updating a CRD's status"),
            }
        }
    }
    terminating
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A condition, keeping its transition time when its status is unchanged.
fn condition(crd: &Value, kind: &str, status: &str, reason: &str, message: &str) -> Value {
    let previous = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|c| c["type"] == kind));
    let since = match previous {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now()),
    };
    json!({
        "type": kind,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    })
}

/// The status the naming and establishing controllers give a CRD.
fn status_for(crd: &Value, conflicts: &[String]) -> Value {
    let mut status = crd.get("status").cloned().unwrap_or_else(|| json!({}));
    let mut conditions = Vec::new();
    if conflicts.is_empty() {
        status["acceptedNames"] = crd.pointer("/spec/names").cloned().unwrap_or_default();
        conditions.push(condition(
            crd,
            "NamesAccepted",
            "True",
            "NoConflicts",
            "no conflicts found",
        ));
        conditions.push(condition(
            crd,
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
        ));
    } else {
        if status.get("acceptedNames").is_none() {
            status["acceptedNames"] = json!({ "plural": "", "kind": "" });
        }
        conditions.push(condition(
            crd,
            "NamesAccepted",
            "False",
            "NameConflict",
            &conflicts.join(", "),
        ));
        conditions.push(condition(
            crd,
            "Established",
            "False",
            "NotAccepted",
            "not all names are accepted",
        ));
    }
    status["conditions"] = Value::Array(conditions);
    status
}

/// Deletes a removed CRD's objects, then lets the CRD go; whether it is
/// done. Objects with finalizers of their own are marked deleted and
/// waited for, as upstream's finalizer deletes through the normal path.
async fn cleanup(store: &Store, key: &str, rev: u64, crd: &Value) -> bool {
    let holds = crd
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x == CLEANUP_FINALIZER));
    if !holds {
        if crd
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
        {
            let _ = store.delete(key.to_string(), Some(rev)).await;
        }
        return true;
    }
    let prefix = format!(
        "/{}/{}/",
        str_at(crd, "/spec/group"),
        str_at(crd, "/spec/names/plural")
    );
    let snapshot = store.snapshot();
    let objects: Vec<(String, u64, Value)> = snapshot
        .range(&prefix, None)
        .filter_map(|o| {
            serde_json::from_slice(&o.bytes)
                .ok()
                .map(|v| (o.key.to_string(), o.rev, v))
        })
        .collect();
    let left = objects.len();
    for (object_key, object_rev, mut object) in objects {
        let finalized = object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if !finalized {
            let _ = store.delete(object_key, Some(object_rev)).await;
        } else if object.pointer("/metadata/deletionTimestamp").is_none() {
            object["metadata"]["deletionTimestamp"] = json!(now());
            object["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            let _ = store.update(object_key, object, object_rev).await;
        }
    }
    let mut updated = crd.clone();
    let remaining = store.snapshot().count(&prefix);
    let (reason, message) = if remaining == 0 {
        (
            "InstanceDeletionCompleted",
            "removed all instances".to_string(),
        )
    } else {
        (
            "InstanceDeletionInProgress",
            format!("CustomResource deletion is in progress ({left} left)"),
        )
    };
    let terminating = condition(crd, "Terminating", "True", reason, &message);
    if let Some(list) = updated
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        list.retain(|c| c["type"] != "Terminating");
        list.push(terminating);
    }
    if remaining == 0 {
        if let Some(f) = updated
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            f.retain(|x| x != CLEANUP_FINALIZER);
        }
        let empty = updated
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if empty {
            let _ = store.delete(key.to_string(), Some(rev)).await;
        } else {
            let _ = store.update(key.to_string(), updated, rev).await;
        }
        return true;
    }
    if updated != *crd {
        let _ = store.update(key.to_string(), updated, rev).await;
    }
    false
}
