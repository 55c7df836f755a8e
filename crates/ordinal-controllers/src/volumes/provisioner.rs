//! The local-path provisioner, `ordinal.dev/local-path`: a directory per
//! PersistentVolume, as an external provisioner does it.
//!
//! **Provisioning.** A claim the binder handed over (annotated
//! `volume.kubernetes.io/storage-provisioner: ordinal.dev/local-path`)
//! whose class is ours, and — for a WaitForFirstConsumer class — whose
//! first consumer's node is chosen (`volume.kubernetes.io/selected-node`),
//! gets the directory `<base>/pvc-<claim uid>` (mode 0777, as upstream's
//! local-path provisioner makes it, so any pod user may write; the
//! directories above it that the provisioner makes are 0700, so no other
//! user of the host reaches it) and a PersistentVolume of the same name pre-bound to the
//! claim: `hostPath` (type `DirectoryOrCreate`) at the directory, the
//! request as capacity, the claim's access and volume modes, the class's
//! reclaim policy and mount options, and node affinity to the selected
//! node (for Immediate classes: to this machine's node when it exists).
//! The binder then completes the binding. `<base>` is the class's
//! `basePath` parameter or `<data-dir>/volumes`.
//!
//! **Where volumes may live.** A `basePath` must be absolute, free of
//! `..`, and inside one of the allowed roots (`<data-dir>/volumes` and
//! `ordinal up --volume-root` paths — never the data dir itself, which
//! holds the CA key and the store); no directory between the root and the
//! volume may be a symbolic link, so a link planted under a root cannot
//! send the provisioner elsewhere on the host. Otherwise, or when the
//! directory cannot be made, the claim gets a `ProvisioningFailed` warning
//! and is retried with back-off — never a crash.
//!
//! **Deleting.** A volume of ours whose claim is gone (Released) under
//! reclaim policy Delete loses its directory, then its finalizer, then the
//! object. Only `<base>/<volume name>` is ever removed: a volume whose path
//! is anything else (edited by hand, say) gets a `VolumeFailedDelete`
//! warning and keeps its data. Retain keeps both; the volume stays
//! Released.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};

use super::matching::claim_class;
use super::{
    ANN_BETA_STORAGE_PROVISIONER, ANN_PROVISIONED_BY, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER,
    Caches, Config, Key, PROVISIONER, PROVISIONER_FINALIZER, annotation, has_finalizer,
    is_conflict_or_gone, reference, volume_class, volume_phase,
};
use crate::runtime::{self, Next, Queue, Reconciler};
use ordinal_core::events::Recorder;

/// The class parameter naming another base directory.
pub const PARAM_BASE_PATH: &str = "basePath";
const WORKERS: usize = 16;
const RESYNC: Duration = Duration::from_secs(15);
const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// Why a volume cannot be provisioned (the text of a ProvisioningFailed
/// event, after `failed to provision volume with StorageClass "x": `).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProvisionError {
    #[error("basePath {0:?} must be an absolute path")]
    Relative(String),
    #[error("basePath {0:?} must not contain '..'")]
    Backsteps(String),
    #[error("basePath {path:?} is not inside an allowed volume root ({roots})")]
    OutsideRoots { path: String, roots: String },
    #[error("parameter {0:?} is not supported by {PROVISIONER}")]
    UnknownParameter(String),
    #[error("claim Selector is not supported")]
    Selector,
    #[error("volumeMode {0:?} is not supported by {PROVISIONER}")]
    VolumeMode(String),
    #[error("the claim requests no storage")]
    NoSize,
    #[error("creating directory {path}: {error}")]
    Directory { path: String, error: String },
    #[error(
        "{path} passes through the symbolic link {link}; volumes are made only under real directories of an allowed root"
    )]
    Link { path: String, link: String },
}

fn has_backsteps(path: &Path) -> bool {
    path.components().any(|c| c == Component::ParentDir)
}

/// The base directory a class provisions into, checked against the
/// allowed roots.
pub fn base_dir(class: &StorageClass, config: &Config) -> Result<PathBuf, ProvisionError> {
    let Some(raw) = class
        .parameters
        .as_ref()
        .and_then(|p| p.get(PARAM_BASE_PATH))
    else {
        return Ok(config.volumes_dir.clone());
    };
    let path = PathBuf::from(raw);
    if !path.is_absolute() {
        return Err(ProvisionError::Relative(raw.clone()));
    }
    if has_backsteps(&path) {
        return Err(ProvisionError::Backsteps(raw.clone()));
    }
    if !config.allowed_roots.iter().any(|r| path.starts_with(r)) {
        return Err(ProvisionError::OutsideRoots {
            path: raw.clone(),
            roots: config
                .allowed_roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(path)
}

/// The node affinity of a volume for `node`: its hostname label (the
/// node's name when the label is missing).
fn affinity_to(node: &Node) -> VolumeNodeAffinity {
    let value = node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(HOSTNAME_LABEL))
        .or(node.metadata.name.as_ref())
        .cloned()
        .unwrap_or_default();
    VolumeNodeAffinity {
        required: Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_expressions: Some(vec![NodeSelectorRequirement {
                    key: HOSTNAME_LABEL.into(),
                    operator: "In".into(),
                    values: Some(vec![value]),
                }]),
                match_fields: None,
            }],
        }),
    }
}

/// The name of the volume provisioned for a claim.
pub fn volume_name_for(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or(""))
}

/// The PersistentVolume (and its directory) for `claim`, pure.
pub fn plan_volume(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: Option<&Node>,
    config: &Config,
) -> Result<(PersistentVolume, PathBuf), ProvisionError> {
    if let Some(unknown) = class
        .parameters
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| k.as_str() != PARAM_BASE_PATH)
    {
        return Err(ProvisionError::UnknownParameter(unknown.clone()));
    }
    let spec = claim.spec.clone().unwrap_or_default();
    if spec.selector.is_some() {
        return Err(ProvisionError::Selector);
    }
    let mode = spec
        .volume_mode
        .clone()
        .unwrap_or_else(|| "Filesystem".into());
    if mode != "Filesystem" {
        return Err(ProvisionError::VolumeMode(mode));
    }
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .cloned()
        .ok_or(ProvisionError::NoSize)?;
    let name = volume_name_for(claim);
    let dir = base_dir(class, config)?.join(&name);
    let volume = PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name),
            annotations: Some(BTreeMap::from([(
                ANN_PROVISIONED_BY.to_string(),
                PROVISIONER.to_string(),
            )])),
            finalizers: Some(vec![PROVISIONER_FINALIZER.into()]),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity: Some(BTreeMap::from([("storage".to_string(), size)])),
            claim_ref: Some(reference(claim)),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".into()),
            ),
            storage_class_name: class.metadata.name.clone(),
            volume_mode: Some(mode),
            mount_options: class.mount_options.clone(),
            host_path: Some(HostPathVolumeSource {
                path: dir.display().to_string(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            node_affinity: node.map(affinity_to),
            ..Default::default()
        }),
        status: None,
    };
    Ok((volume, dir))
}

/// The directory of a volume of ours, if deleting it is safe: the path the
/// volume names must be exactly `<base>/<volume name>`.
pub fn deletable_dir(
    volume: &PersistentVolume,
    class: Option<&StorageClass>,
    config: &Config,
) -> Result<PathBuf, String> {
    let name = volume.metadata.name.as_deref().unwrap_or("");
    let spec = volume.spec.as_ref();
    let path = spec
        .and_then(|s| s.host_path.as_ref().map(|h| h.path.clone()))
        .or_else(|| spec.and_then(|s| s.local.as_ref().map(|l| l.path.clone())))
        .unwrap_or_default();
    let mut bases = vec![config.volumes_dir.clone()];
    if let Some(Ok(base)) = class.map(|c| base_dir(c, config)) {
        bases.push(base);
    }
    let path = PathBuf::from(&path);
    if !name.is_empty() && !has_backsteps(&path) && bases.iter().any(|b| path == b.join(name)) {
        Ok(path)
    } else {
        Err(format!(
            "refusing to delete {}: not a directory {PROVISIONER} made for volume {name:?}",
            path.display()
        ))
    }
}

/// What the provisioner does for a claim, pure.
#[derive(Debug, PartialEq)]
pub enum ClaimWork<'a> {
    /// Not ours, already done, or not yet ready (no node selected).
    Nothing,
    /// Provision on this node (`None`: no node affinity).
    Provision {
        class: &'a StorageClass,
        node: Option<String>,
    },
}

/// Whether and where to provision for `claim`.
pub fn claim_work<'a>(
    claim: &PersistentVolumeClaim,
    class: Option<&'a StorageClass>,
    local_node_exists: bool,
    config: &Config,
) -> ClaimWork<'a> {
    let meta = &claim.metadata;
    let handed = annotation(meta, ANN_STORAGE_PROVISIONER) == Some(PROVISIONER)
        || annotation(meta, ANN_BETA_STORAGE_PROVISIONER) == Some(PROVISIONER);
    let unbound = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or("")
        .is_empty();
    if !handed || !unbound || meta.deletion_timestamp.is_some() {
        return ClaimWork::Nothing;
    }
    let Some(class) = class.filter(|c| c.provisioner == PROVISIONER) else {
        return ClaimWork::Nothing;
    };
    let node = match annotation(meta, ANN_SELECTED_NODE) {
        Some(node) => Some(node.to_string()),
        None if class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") => {
            return ClaimWork::Nothing;
        }
        None => local_node_exists.then(|| config.local_node.clone()),
    };
    ClaimWork::Provision { class, node }
}

struct Provisioner {
    client: Client,
    caches: Caches,
    config: Config,
    recorder: Recorder,
    queue: Arc<Queue<Key>>,
}

/// Runs the provisioner until `shutdown` completes.
pub async fn run(
    client: Client,
    caches: Caches,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) {
    let recorder = runtime::recorder(&client, &format!("{PROVISIONER}_{}", crate::hostname()));
    let p = Arc::new(Provisioner {
        client,
        caches,
        config,
        recorder,
        queue: Queue::new(),
    });
    p.watch();
    let (ready, queue) = (p.caches.ready(), Arc::clone(&p.queue));
    runtime::drive(p, queue, WORKERS, ready, shutdown).await;
}

fn ours(volume: &PersistentVolume) -> bool {
    annotation(&volume.metadata, ANN_PROVISIONED_BY) == Some(PROVISIONER)
}

/// A volume of ours the deleter should look at.
fn volume_needs_work(volume: &PersistentVolume) -> bool {
    ours(volume)
        && (matches!(volume_phase(volume), "Released" | "Failed")
            || (volume.metadata.deletion_timestamp.is_some()
                && has_finalizer(&volume.metadata, PROVISIONER_FINALIZER)))
}

impl Reconciler for Provisioner {
    type Key = Key;
    const RESYNC: Option<Duration> = Some(RESYNC);

    async fn reconcile(&self, key: &Key) -> Next {
        match key {
            Key::Claim(ns, name) => self.provision(ns, name).await,
            Key::Volume(name) => self.delete(name).await,
        }
        .into()
    }

    fn resync(&self) {
        for c in self.caches.claims.list() {
            if matches!(
                claim_work(
                    &c,
                    self.caches.classes.get("", claim_class(&c)).as_deref(),
                    false,
                    &self.config
                ),
                ClaimWork::Provision { .. }
            ) {
                self.queue.add(Key::claim(&c));
            }
        }
        for v in self.caches.volumes.list() {
            if volume_needs_work(&v) {
                self.queue.add(Key::volume(&v));
            }
        }
    }
}

impl Provisioner {
    fn watch(self: &Arc<Self>) {
        let q = Arc::clone(&self.queue);
        self.caches.claims.on_change(Box::new(move |_, new| {
            if let Some(c) = new
                && (annotation(&c.metadata, ANN_STORAGE_PROVISIONER) == Some(PROVISIONER)
                    || annotation(&c.metadata, ANN_BETA_STORAGE_PROVISIONER) == Some(PROVISIONER))
            {
                q.add(Key::claim(c));
            }
        }));
        let q = Arc::clone(&self.queue);
        self.caches.volumes.on_change(Box::new(move |_, new| {
            if let Some(v) = new
                && volume_needs_work(v)
            {
                q.add(Key::volume(v));
            }
        }));
    }

    async fn provision(&self, ns: &str, name: &str) -> Result<(), String> {
        let Some(claim) = self.caches.claims.get(ns, name) else {
            return Ok(());
        };
        let class = self.caches.classes.get("", claim_class(&claim));
        let local_node = self.caches.nodes.get("", &self.config.local_node).is_some();
        let ClaimWork::Provision { class, node } =
            claim_work(&claim, class.as_deref(), local_node, &self.config)
        else {
            return Ok(());
        };
        let volume_name = volume_name_for(&claim);
        if self.caches.volumes.get("", &volume_name).is_some() {
            return Ok(());
        }
        let claim_ref = reference(claim.as_ref());
        let class_name = class.metadata.name.clone().unwrap_or_default();
        self.recorder.normal(
            &claim_ref,
            "Provisioning",
            format!("External provisioner is provisioning volume for claim \"{ns}/{name}\""),
        );
        let node_obj = node.as_deref().and_then(|n| self.caches.nodes.get("", n));
        let node_obj = match (&node, node_obj) {
            (Some(n), None) => Some(Arc::new(Node {
                metadata: ObjectMeta {
                    name: Some(n.clone()),
                    ..Default::default()
                },
                ..Default::default()
            })),
            (_, found) => found,
        };
        let planned = match plan_volume(&claim, class, node_obj.as_deref(), &self.config) {
            Ok((volume, dir)) => {
                let roots = self.config.allowed_roots.clone();
                blocking(move || make_dir(&dir, &roots).map(|()| volume)).await
            }
            Err(e) => Err(e),
        };
        let volume = match planned {
            Ok(v) => v,
            Err(e) => {
                let message =
                    format!("failed to provision volume with StorageClass \"{class_name}\": {e}");
                self.recorder
                    .warning(&claim_ref, "ProvisioningFailed", message.clone());
                return Err(message);
            }
        };
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &volume).await {
            Ok(created) => {
                self.caches.volumes.store(created);
            }
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
            Err(e) => {
                self.recorder.warning(
                    &claim_ref,
                    "ProvisioningFailed",
                    format!("failed to provision volume with StorageClass \"{class_name}\": {e}"),
                );
                return Err(e.to_string());
            }
        }
        self.recorder.normal(
            &claim_ref,
            "ProvisioningSucceeded",
            format!("Successfully provisioned volume {volume_name}"),
        );
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), String> {
        let Some(volume) = self.caches.volumes.get("", name) else {
            return Ok(());
        };
        if !volume_needs_work(&volume) {
            return Ok(());
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let policy = volume
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            .unwrap_or("Retain");
        let released = matches!(volume_phase(&volume), "Released" | "Failed");
        if policy != "Delete" || !released {
            // Retain keeps the data; a volume deleted by hand while still
            // in use keeps it too, until it is released.
            if policy != "Delete" && volume.metadata.deletion_timestamp.is_some() {
                return self.drop_finalizer(&api, &volume).await;
            }
            return Ok(());
        }
        let class = self.caches.classes.get("", volume_class(&volume));
        let dir = match deletable_dir(&volume, class.as_deref(), &self.config) {
            Ok(dir) => dir,
            Err(message) => {
                self.recorder.warning(
                    &reference(volume.as_ref()),
                    "VolumeFailedDelete",
                    message.clone(),
                );
                return Err(message);
            }
        };
        let removing = dir.clone();
        let roots = self.config.allowed_roots.clone();
        if let Err(e) = blocking(move || remove_dir(&removing, &roots)).await {
            let message = format!("removing {}: {e}", dir.display());
            self.recorder.warning(
                &reference(volume.as_ref()),
                "VolumeFailedDelete",
                message.clone(),
            );
            return Err(message);
        }
        self.drop_finalizer(&api, &volume).await?;
        if volume.metadata.deletion_timestamp.is_none() {
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: volume.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(name, &params).await {
                Ok(_) => {}
                Err(e) if is_conflict_or_gone(&e) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    async fn drop_finalizer(
        &self,
        api: &Api<PersistentVolume>,
        volume: &PersistentVolume,
    ) -> Result<(), String> {
        if !has_finalizer(&volume.metadata, PROVISIONER_FINALIZER) {
            return Ok(());
        }
        let mut v = volume.clone();
        if let Some(f) = v.metadata.finalizers.as_mut() {
            f.retain(|x| x != PROVISIONER_FINALIZER);
        }
        match self.caches.volumes.replace(api, &v).await {
            Ok(_) => Ok(()),
            Err(e) if is_conflict_or_gone(&e) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Runs file-system work off the async workers.
async fn blocking<T: Send + 'static, E: From<std::io::Error> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string()).into()))
}

impl From<std::io::Error> for ProvisionError {
    fn from(e: std::io::Error) -> Self {
        ProvisionError::Directory {
            path: String::new(),
            error: e.to_string(),
        }
    }
}

/// The allowed root a directory lies in (the deepest, when roots nest).
fn root_of<'a>(dir: &Path, roots: &'a [PathBuf]) -> Option<&'a Path> {
    roots
        .iter()
        .filter(|r| dir.starts_with(r))
        .max_by_key(|r| r.components().count())
        .map(PathBuf::as_path)
}

/// Walks from `dir`'s allowed root down to `dir`, one directory at a
/// time, refusing a component that is a symbolic link or not a directory.
/// With `make`, missing directories are made on the way: 0700 above the
/// volume, 0777 for the volume itself (the last component). Each step
/// looks at the entry itself (`symlink_metadata`), so nothing is ever
/// followed out of the root, and nothing is made outside it.
fn walk_confined(dir: &Path, roots: &[PathBuf], make: bool) -> Result<(), ProvisionError> {
    use std::os::unix::fs::DirBuilderExt;
    let fail = |path: &Path, e: std::io::Error| ProvisionError::Directory {
        path: path.display().to_string(),
        error: e.to_string(),
    };
    let Some(root) = root_of(dir, roots) else {
        return Err(ProvisionError::OutsideRoots {
            path: dir.display().to_string(),
            roots: roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    if make {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| fail(root, e))?;
    }
    let rest: Vec<Component> = dir
        .strip_prefix(root)
        .map(|r| r.components().collect())
        .unwrap_or_default();
    let mut current = root.to_path_buf();
    for (i, component) in rest.iter().enumerate() {
        current.push(component);
        let last = i + 1 == rest.len();
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(ProvisionError::Link {
                    path: dir.display().to_string(),
                    link: current.display().to_string(),
                });
            }
            Ok(m) if !m.is_dir() => {
                return Err(fail(
                    &current,
                    std::io::Error::other("exists and is not a directory"),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && make => {
                let mode = if last { 0o777 } else { 0o700 };
                match std::fs::DirBuilder::new().mode(mode).create(&current) {
                    Ok(()) => {}
                    // Made meanwhile: looked at again below.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(fail(&current, e)),
                }
                let made = std::fs::symlink_metadata(&current).map_err(|e| fail(&current, e))?;
                if !made.is_dir() {
                    return Err(ProvisionError::Link {
                        path: dir.display().to_string(),
                        link: current.display().to_string(),
                    });
                }
            }
            Err(e) => return Err(fail(&current, e)),
        }
    }
    Ok(())
}

/// Makes a volume directory any pod user may write to, confined to the
/// allowed roots (see [`walk_confined`]).
fn make_dir(dir: &Path, roots: &[PathBuf]) -> Result<(), ProvisionError> {
    use std::os::unix::fs::PermissionsExt;
    walk_confined(dir, roots, true)?;
    // The umask may have narrowed the mode it was made with.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).map_err(|e| {
        ProvisionError::Directory {
            path: dir.display().to_string(),
            error: e.to_string(),
        }
    })
}

/// Removes a volume directory, after checking the way to it holds no link.
fn remove_dir(dir: &Path, roots: &[PathBuf]) -> std::io::Result<()> {
    match walk_confined(dir, roots, false) {
        Ok(()) => {}
        Err(ProvisionError::Directory { error, .. })
            if !dir.exists() && error.contains("No such") =>
        {
            return Ok(());
        }
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volumes::tests::{claim, class, node};

    fn config() -> Config {
        Config {
            volumes_dir: "/data/volumes".into(),
            allowed_roots: vec!["/data".into(), "/mnt/fast".into()],
            local_node: "here".into(),
        }
    }

    fn handed(mut c: PersistentVolumeClaim) -> PersistentVolumeClaim {
        c.metadata
            .annotations
            .get_or_insert_default()
            .insert(ANN_STORAGE_PROVISIONER.into(), PROVISIONER.into());
        c
    }

    fn with_base(mut sc: StorageClass, base: &str) -> StorageClass {
        sc.parameters = Some([(PARAM_BASE_PATH.to_string(), base.to_string())].into());
        sc
    }

    #[test]
    fn a_volume_mirrors_its_claim_and_class() {
        let c = claim("data-web-0", "1Gi", "local-path");
        let mut sc = class("local-path", PROVISIONER, "WaitForFirstConsumer");
        sc.reclaim_policy = Some("Retain".into());
        let (v, dir) = plan_volume(&c, &sc, Some(&node("node-1")), &config()).unwrap();
        assert_eq!(dir, PathBuf::from("/data/volumes/pvc-uid-data-web-0"));
        assert_eq!(v.metadata.name.as_deref(), Some("pvc-uid-data-web-0"));
        let spec = v.spec.unwrap();
        assert_eq!(
            spec.host_path.unwrap().path,
            "/data/volumes/pvc-uid-data-web-0"
        );
        assert_eq!(spec.capacity.unwrap()["storage"].0, "1Gi");
        assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".into()]));
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Retain")
        );
        assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
        let r = spec.claim_ref.unwrap();
        assert_eq!(
            (r.name.as_deref(), r.uid.as_deref()),
            (Some("data-web-0"), Some("uid-data-web-0"))
        );
        let term = &spec
            .node_affinity
            .unwrap()
            .required
            .unwrap()
            .node_selector_terms[0];
        assert_eq!(
            term.match_expressions.as_ref().unwrap()[0].values,
            Some(vec!["node-1".into()])
        );
        assert_eq!(
            v.metadata.annotations.unwrap()[ANN_PROVISIONED_BY],
            PROVISIONER
        );
    }

    #[test]
    fn base_paths_must_stay_inside_the_allowed_roots() {
        let c = claim("d", "1Gi", "fast");
        let sc = |base: &str| with_base(class("fast", PROVISIONER, "Immediate"), base);
        let (_, dir) = plan_volume(&c, &sc("/mnt/fast/vols"), None, &config()).unwrap();
        assert_eq!(dir, PathBuf::from("/mnt/fast/vols/pvc-uid-d"));
        assert_eq!(
            plan_volume(&c, &sc("relative/dir"), None, &config()).unwrap_err(),
            ProvisionError::Relative("relative/dir".into())
        );
        assert_eq!(
            plan_volume(&c, &sc("/data/../etc"), None, &config()).unwrap_err(),
            ProvisionError::Backsteps("/data/../etc".into())
        );
        assert!(matches!(
            plan_volume(&c, &sc("/etc"), None, &config()).unwrap_err(),
            ProvisionError::OutsideRoots { .. }
        ));
        let mut odd = class("fast", PROVISIONER, "Immediate");
        odd.parameters = Some([("type".to_string(), "ssd".to_string())].into());
        assert_eq!(
            plan_volume(&c, &odd, None, &config()).unwrap_err(),
            ProvisionError::UnknownParameter("type".into())
        );
        let mut block = c.clone();
        block.spec.as_mut().unwrap().volume_mode = Some("Block".into());
        assert_eq!(
            plan_volume(
                &block,
                &class("fast", PROVISIONER, "Immediate"),
                None,
                &config()
            )
            .unwrap_err(),
            ProvisionError::VolumeMode("Block".into())
        );
    }

    #[test]
    fn which_claims_are_provisioned_and_where() {
        let wffc = class("local-path", PROVISIONER, "WaitForFirstConsumer");
        let immediate = class("now", PROVISIONER, "Immediate");
        let other = class("nfs", "example.com/nfs", "Immediate");
        let c = handed(claim("d", "1Gi", "local-path"));
        // Waiting for the scheduler's choice.
        assert_eq!(
            claim_work(&c, Some(&wffc), true, &config()),
            ClaimWork::Nothing
        );
        let mut selected = c.clone();
        selected
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(ANN_SELECTED_NODE.into(), "node-1".into());
        assert_eq!(
            claim_work(&selected, Some(&wffc), true, &config()),
            ClaimWork::Provision {
                class: &wffc,
                node: Some("node-1".into())
            }
        );
        assert_eq!(
            claim_work(&c, Some(&immediate), true, &config()),
            ClaimWork::Provision {
                class: &immediate,
                node: Some("here".into())
            }
        );
        assert_eq!(
            claim_work(&c, Some(&immediate), false, &config()),
            ClaimWork::Provision {
                class: &immediate,
                node: None
            }
        );
        assert_eq!(
            claim_work(&c, Some(&other), true, &config()),
            ClaimWork::Nothing
        );
        // Not handed over by the binder yet, or already bound.
        assert_eq!(
            claim_work(&claim("d", "1Gi", "now"), Some(&immediate), true, &config()),
            ClaimWork::Nothing
        );
        let mut bound = c.clone();
        bound.spec.as_mut().unwrap().volume_name = Some("pv".into());
        assert_eq!(
            claim_work(&bound, Some(&immediate), true, &config()),
            ClaimWork::Nothing
        );
    }

    #[test]
    fn only_the_directory_made_for_the_volume_is_deleted() {
        let c = claim("d", "1Gi", "local-path");
        let sc = class("local-path", PROVISIONER, "WaitForFirstConsumer");
        let (mut v, dir) = plan_volume(&c, &sc, None, &config()).unwrap();
        assert_eq!(deletable_dir(&v, Some(&sc), &config()), Ok(dir));
        v.spec.as_mut().unwrap().host_path.as_mut().unwrap().path = "/".into();
        assert!(deletable_dir(&v, Some(&sc), &config()).is_err());
        v.spec.as_mut().unwrap().host_path.as_mut().unwrap().path =
            "/data/volumes/other-volume".into();
        assert!(deletable_dir(&v, None, &config()).is_err());
        let fast = with_base(class("fast", PROVISIONER, "Immediate"), "/mnt/fast");
        let (v, dir) = plan_volume(&c, &fast, None, &config()).unwrap();
        assert_eq!(deletable_dir(&v, Some(&fast), &config()), Ok(dir));
        // With its class gone, a volume outside the default base stays.
        assert!(deletable_dir(&v, None, &config()).is_err());
    }

    #[test]
    fn directories_are_made_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let roots = vec![tmp.path().join("root")];
        let dir = roots[0].join("vols").join("pvc-1");
        make_dir(&dir, &roots).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // upstream's local-path modes: the volume open to any pod user,
        // what leads to it the owner's alone.
        assert_eq!(mode(&dir), 0o777);
        assert_eq!(mode(&roots[0].join("vols")), 0o700);
        assert_eq!(mode(&roots[0]), 0o700);
        remove_dir(&dir, &roots).unwrap();
        assert!(!dir.exists());
        remove_dir(&dir, &roots).unwrap();
        // A base that is a file cannot hold directories: an error, no panic.
        let file = roots[0].join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(
            make_dir(&file.join("pvc-2"), &roots),
            Err(ProvisionError::Directory { .. })
        ));
    }

    #[test]
    fn links_under_a_root_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let roots = vec![tmp.path().join("root")];
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&roots[0]).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, roots[0].join("escape")).unwrap();
        for dir in [
            roots[0].join("escape").join("pvc-1"),
            roots[0].join("escape").join("deeper").join("pvc-1"),
            roots[0].join("escape"),
        ] {
            let err = make_dir(&dir, &roots).unwrap_err();
            assert!(matches!(err, ProvisionError::Link { .. }), "{dir:?}: {err}");
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // Deleting through the link is refused too: what is behind it stays.
        std::fs::create_dir(outside.join("pvc-2")).unwrap();
        assert!(remove_dir(&roots[0].join("escape").join("pvc-2"), &roots).is_err());
        assert!(outside.join("pvc-2").exists());
        // Outside every root.
        assert!(matches!(
            make_dir(&outside.join("pvc-3"), &roots),
            Err(ProvisionError::OutsideRoots { .. })
        ));
    }
}
