//! Objects the server makes at start: the system namespaces, and whatever
//! its embedder asks for ([`crate::server::Config::bootstrap`], e.g. the
//! RuntimeClass `ordinal up` ships).
//!
//! Each is created only when absent, through the same steps as a client's
//! create (server-owned metadata, defaults, admission, validation, field
//! ownership), so it reads like any object of its kind. One that exists is
//! never touched: a user's edits survive restarts, a second start writes
//! nothing, and a start racing another writer keeps whichever object got
//! there first. (The `default/kubernetes` Service is the one exception,
//! and not made here: its target port follows the listen port.)

use ordinal_store::{Store, StoreError};
use serde_json::{Value, json};

use crate::admission;
use crate::fields;
use crate::objects;
use crate::request::Target;
use crate::resources::{self, Resource};
use crate::rest;

/// The field manager start-up objects are recorded under.
pub const MANAGER: &str = "ordinal";

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// The object was absent and is now stored.
    Created,
    /// An object of that name exists; it was left as it is.
    Present,
}

/// Why a start-up object could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("start-up object of kind {api_version}/{kind}: not a served resource")]
    NotServed { api_version: String, kind: String },
    #[error("start-up object {object} refused: {message}")]
    Refused { object: String, message: String },
    #[error("storing start-up object {object}: {source}")]
    Store {
        object: String,
        #[source]
        source: StoreError,
    },
}

/// The served resource an object's `apiVersion` and `kind` name.
fn resource_of(object: &Value) -> Result<&'static Resource, BootstrapError> {
    let field = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (field("apiVersion"), field("kind"));
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    resources::by_kind(group, kind)
        .filter(|r| r.version == version)
        .ok_or_else(|| BootstrapError::NotServed {
            api_version: api_version.into(),
            kind: kind.into(),
        })
}

/// Creates `object` unless an object of its kind, namespace and name
/// exists.
pub async fn ensure(store: &Store, mut object: Value) -> Result<Ensured, BootstrapError> {
    let resource = resource_of(&object)?;
    let namespace = objects::meta_str(&object, "namespace")
        .filter(|_| resource.namespaced)
        .map(str::to_string);
    let name = objects::meta_str(&object, "name").unwrap_or("").to_string();
    let what = match &namespace {
        Some(ns) => format!("{} {ns}/{name}", resource.qualified_name()),
        None => format!("{} {name}", resource.qualified_name()),
    };
    let key = resource.key(namespace.as_deref(), &name);
    if store.get(&key).is_some() {
        return Ok(Ensured::Present);
    }
    let refused = |e: crate::status::ApiError| BootstrapError::Refused {
        object: what.clone(),
        message: e.message,
    };
    objects::prepare_create(resource, &mut object).map_err(refused)?;
    rest::apply_create_defaults(resource, &mut object);
    objects::normalize(resource, &mut object);
    admission::create(store, resource, &name, &mut object).map_err(refused)?;
    let target = Target {
        resource,
        namespace,
        name: Some(name),
        subresource: None,
    };
    let object = fields::track_update(&target, None, object, MANAGER);
    match store.create(key, object).await {
        Ok(_) => Ok(Ensured::Created),
        Err(StoreError::AlreadyExists) => Ok(Ensured::Present),
        Err(source) => Err(BootstrapError::Store {
            object: what,
            source,
        }),
    }
}

/// The namespaces every cluster has from the start.
pub fn system_namespaces() -> impl Iterator<Item = Value> {
    rest::SYSTEM_NAMESPACES
        .iter()
        .map(|name| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::server::open_store(dir.path(), 100).unwrap();
        (store, dir)
    }

    fn runtime_class(handler: &str) -> Value {
        json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
               "metadata": {"name": "host"}, "handler": handler})
    }

    #[tokio::test]
    async fn an_absent_object_is_made_like_a_clients_and_a_present_one_is_left_alone() {
        let (store, _dir) = store();
        assert_eq!(
            ensure(&store, runtime_class("host")).await.unwrap(),
            Ensured::Created
        );
        let key = "/node.k8s.io/runtimeclasses/host";
        let first = store.get(key).unwrap();
        let stored: Value = serde_json::from_slice(&first.bytes).unwrap();
        assert!(stored["metadata"]["uid"].is_string());
        assert!(stored["metadata"]["creationTimestamp"].is_string());
        assert_eq!(stored["metadata"]["managedFields"][0]["manager"], MANAGER);
        let revision = store.revision();

        // A second start, even with another definition, writes nothing.
        assert_eq!(
            ensure(&store, runtime_class("other")).await.unwrap(),
            Ensured::Present
        );
        assert_eq!(store.revision(), revision);
        assert_eq!(store.get(key).unwrap().bytes, first.bytes);

        // Deleted, it comes back only when ensured again (the next start).
        store.delete(key.into(), None).await.unwrap();
        assert!(store.get(key).is_none());
        assert_eq!(
            ensure(&store, runtime_class("host")).await.unwrap(),
            Ensured::Created
        );
    }

    #[tokio::test]
    async fn system_namespaces_are_active_and_labelled() {
        let (store, _dir) = store();
        for ns in system_namespaces() {
            ensure(&store, ns).await.unwrap();
        }
        let ns: Value =
            serde_json::from_slice(&store.get("/core/namespaces/kube-system").unwrap().bytes)
                .unwrap();
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "kube-system"
        );
        let revision = store.revision();
        for ns in system_namespaces() {
            assert_eq!(ensure(&store, ns).await.unwrap(), Ensured::Present);
        }
        assert_eq!(store.revision(), revision);
    }

    #[tokio::test]
    async fn an_invalid_or_unserved_object_is_an_error_not_a_half_write() {
        let (store, _dir) = store();
        let e = ensure(&store, runtime_class("Not A Label"))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("start-up object runtimeclasses.node.k8s.io host refused: "),
            "{e}"
        );
        assert!(store.get("/node.k8s.io/runtimeclasses/host").is_none());
        let e = ensure(
            &store,
            json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema"}),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, BootstrapError::NotServed { .. }), "{e}");
    }
}
