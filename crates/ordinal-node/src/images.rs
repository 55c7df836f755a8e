//! The node's images: the store under the node's directory (shared with
//! `ordinal image`, which may import while the node runs), pulls with the
//! pod's credentials and the node's registries file, which images the
//! node's pods use, garbage collection with the kubelet's thresholds, and
//! the list the Node reports in `status.images`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ContainerImage, Pod, Secret, ServiceAccount};
use kube::{Api, Client};
use ordinal_core::image_reference::Reference;
use ordinal_image::auth::{Credentials, Keyring};
use ordinal_image::pull::{PullError, PullOptions};
use ordinal_image::registries::RegistriesConfig;
use ordinal_image::{GcPolicy, Image, ImageStore, NoProgress};
use tokio::sync::watch;

use crate::runtime::RootSpec;

/// Where a node keeps its image store, under its directory.
pub fn store_dir(node_dir: &Path) -> PathBuf {
    node_dir.join("image-store")
}

/// How often unused images are looked at (the kubelet's period).
const GC_PERIOD: Duration = Duration::from_secs(300);
/// The Node lists at most this many images (the kubelet's
/// `nodeStatusMaxImages`).
const MAX_NODE_IMAGES: usize = 50;
/// How often this node writes one image's last use to the store, at most.
/// Garbage collection orders unused images by it and never takes one
/// younger than two minutes, so a minute's precision is enough; and a
/// write costs the store's lock and two fsyncs, which every one of a
/// thousand pods of one image paid before it started (2–6 ms each).
const TOUCH_EVERY: Duration = Duration::from_secs(60);

pub(crate) struct Images {
    store: Arc<ImageStore>,
    registries: Arc<RegistriesConfig>,
    /// Image IDs each pod (by UID) runs containers of: never collected.
    in_use: Mutex<HashMap<String, HashSet<String>>>,
    /// When this node last wrote each image's last use (by image ID).
    touched: Mutex<HashMap<String, Instant>>,
}

/// Whether an image last touched at `last` is to be touched again `now`.
fn touch_due(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|last| now.saturating_duration_since(last) >= TOUCH_EVERY)
}

impl Images {
    /// Opens the store; `registries` is the node's registries file (as
    /// k3s's `registries.yaml`), if any.
    pub fn open(dir: &Path, registries: Option<&Path>) -> Result<Images, String> {
        let store = ImageStore::open(dir)
            .map_err(|e| format!("opening the image store {}: {e}", dir.display()))?;
        let registries = match registries {
            Some(path) => RegistriesConfig::load(path).map_err(|e| e.to_string())?,
            None => RegistriesConfig::default(),
        };
        Ok(Images {
            store: Arc::new(store),
            registries: Arc::new(registries),
            in_use: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
        })
    }

    /// The image stored under this name or digest, if any.
    pub fn lookup(&self, reference: &Reference) -> Option<Image> {
        self.store.get(reference)
    }

    /// Pulls `reference` with these credentials (tried in order, then
    /// anonymously). Two pods pulling one image pull it once (the store
    /// shares the download).
    pub async fn pull(
        &self,
        reference: &Reference,
        credentials: Vec<Credentials>,
    ) -> Result<Image, PullError> {
        let options = PullOptions {
            credentials,
            registries: Arc::clone(&self.registries),
        };
        self.store.pull(reference, &options, &NoProgress).await
    }

    /// A container's root: the image's layers, lowest first.
    pub fn root(&self, image: &Image) -> Result<RootSpec, String> {
        let ids = self
            .store
            .layer_ids(image)
            .map_err(|e| format!("the layers of image {}: {e}", image.id))?;
        let dirs = self
            .store
            .layer_dirs(image)
            .map_err(|e| format!("the layers of image {}: {e}", image.id))?;
        Ok(RootSpec::Image {
            layers_dir: self.store.root().join("layers"),
            layers: ids,
            layer_dirs: dirs,
        })
    }

    /// The pod runs a container of `image`. Its last use is written to
    /// the store at most every [`TOUCH_EVERY`], off the async workers (the
    /// store's lock may be held by an import for a while).
    pub fn used_by(&self, pod_uid: &str, image: &Image) {
        let now = Instant::now();
        let due = {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            let due = touch_due(touched.get(&image.id).copied(), now);
            if due {
                touched.insert(image.id.clone(), now);
            }
            due
        };
        if due {
            let (store, image) = (Arc::clone(&self.store), image.clone());
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn_blocking(move || store.touch(&image))),
                Err(_) => store.touch(&image),
            }
        }
        self.in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(pod_uid.to_string())
            .or_default()
            .insert(image.id.clone());
    }

    /// The pod is gone: its images may be collected.
    pub fn released_by(&self, pod_uid: &str) {
        self.in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pod_uid);
    }

    fn used(&self) -> HashSet<String> {
        self.in_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flatten()
            .cloned()
            .collect()
    }

    /// Wakes when the set of images changes, by this process or another.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.store.subscribe()
    }

    /// `status.images` of the Node: the largest first, at most 50, each
    /// with its names and digests.
    pub fn node_images(&self) -> Vec<ContainerImage> {
        let mut images = self.store.list();
        images.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));
        images
            .into_iter()
            .take(MAX_NODE_IMAGES)
            .map(|i| ContainerImage {
                names: Some(i.repo_digests.iter().chain(&i.repo_tags).cloned().collect()),
                size_bytes: i64::try_from(i.size).ok(),
            })
            .collect()
    }

    /// Removes unused images when the disk is fuller than the kubelet's
    /// high threshold (85%), least recently used first, down to its low
    /// threshold (80%); every five minutes until `shutdown`.
    pub async fn collect_garbage(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(GC_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tick.tick() => {}
            }
            let (store, used) = (Arc::clone(&self.store), self.used());
            let done =
                tokio::task::spawn_blocking(move || store.gc(&GcPolicy::default(), &used)).await;
            match done {
                Ok(Ok(report)) if !report.removed_images.is_empty() => {
                    tracing::info!(removed = ?report.removed_images, freed = report.freed_bytes, "removed unused images")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "image garbage collection failed"),
                _ => {}
            }
        }
    }
}

/// Imports every archive in `dir` (as k3s's air-gap directory) that was
/// not imported before in the same version (name, size and modification
/// time are remembered in the store), saying on stderr what each brought.
/// Pods waiting for those images start as each arrives.
pub(crate) async fn import_dir(images: &Arc<Images>, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() || p.join("index.json").is_file())
        .collect();
    files.sort();
    let seen_file = images.store.root().join("imported-from-dir.json");
    let mut seen: HashMap<String, (u64, i64)> = std::fs::read(&seen_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for file in files {
        let stamp = std::fs::metadata(&file).map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.size(), m.mtime())
        });
        let key = file.to_string_lossy().into_owned();
        if stamp.as_ref().ok() == seen.get(&key) {
            continue;
        }
        let (store, path) = (Arc::clone(&images.store), file.clone());
        let done = tokio::task::spawn_blocking(move || store.import(&path, &NoProgress)).await;
        match done {
            Ok(Ok(imported)) => {
                let names: Vec<String> = imported
                    .iter()
                    .map(|i| i.repo_tags.first().cloned().unwrap_or_else(|| i.id.clone()))
                    .collect();
                eprintln!("ordinal: imported {}: {}", file.display(), names.join(", "));
                if let Ok(stamp) = stamp {
                    seen.insert(key, stamp);
                }
            }
            Ok(Err(e)) => eprintln!("ordinal: importing {} failed: {e}", file.display()),
            Err(e) => eprintln!("ordinal: importing {} failed: {e}", file.display()),
        }
    }
    if let Ok(bytes) = serde_json::to_vec(&seen) {
        let _ = std::fs::write(&seen_file, bytes);
    }
}

/// The credentials a pod's image pulls may use: its `imagePullSecrets`,
/// then its ServiceAccount's (upstream's admission copies those into the
/// pod; the node reads them itself so pods created elsewhere get them
/// too). Secrets that are missing or malformed are skipped, as the kubelet
/// skips them.
pub(crate) async fn pull_credentials(
    client: &Client,
    pod: &Pod,
    reference: &Reference,
) -> Vec<Credentials> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let spec = pod.spec.as_ref();
    let mut names: Vec<String> = spec
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.clone())
        .collect();
    let account = spec
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    if let Ok(Some(sa)) = Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .get_opt(&account)
        .await
    {
        for r in sa.image_pull_secrets.into_iter().flatten() {
            if !names.contains(&r.name) {
                names.push(r.name);
            }
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut keyring = Keyring::new();
    for name in names {
        let Ok(Some(secret)) = secrets.get_opt(&name).await else {
            continue;
        };
        let kind = secret.type_.clone().unwrap_or_default();
        let data: std::collections::BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        if let Err(e) = keyring.add_secret(&kind, &data) {
            tracing::debug!(secret = %name, error = %e, "skipping a pull secret");
        }
    }
    keyring.lookup(reference)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use ordinal_image::build::{Format, ImageBuilder, Tagged, write};
    use ordinal_image::compression::Compression;

    use super::*;

    #[test]
    fn an_image_is_touched_again_only_after_a_minute() {
        let now = Instant::now();
        assert!(touch_due(None, now));
        assert!(!touch_due(Some(now), now));
        assert!(!touch_due(Some(now), now + Duration::from_secs(59)));
        assert!(touch_due(Some(now), now + TOUCH_EVERY));
        // A clock that seems to go back never touches.
        assert!(!touch_due(Some(now + Duration::from_secs(5)), now));
    }

    /// The inode of the image's record: a touch replaces the file.
    fn record_inode(images: &Images, image: &Image) -> u64 {
        let hex = image.id.trim_start_matches("sha256:");
        let path = images
            .store
            .root()
            .join("images")
            .join(format!("{hex}.json"));
        std::fs::metadata(path).expect("the image record").ino()
    }

    #[test]
    fn pods_starting_together_write_the_last_use_once() {
        let tmp = tempfile::tempdir().unwrap();
        let built = ImageBuilder::new()
            .add_bytes("/hello", b"hi", 0o644)
            .cmd(["/hello"])
            .build();
        let archive = tmp.path().join("a.tar");
        let tagged = [Tagged::one(&built, "example.com/touched:1")];
        write(&archive, Format::DockerArchive, Compression::None, &tagged).unwrap();
        let images = Images::open(&tmp.path().join("store"), None).unwrap();
        let image = images
            .store
            .import(&archive, &NoProgress)
            .unwrap()
            .remove(0);
        let before = record_inode(&images, &image);
        // No async runtime here: the touch happens before used_by returns.
        images.used_by("pod-a", &image);
        let touched = record_inode(&images, &image);
        assert_ne!(before, touched, "the first use is written");
        images.used_by("pod-b", &image);
        images.used_by("pod-c", &image);
        assert_eq!(
            touched,
            record_inode(&images, &image),
            "later uses within the minute are not"
        );
        assert!(images.used().contains(&image.id));
        images.released_by("pod-a");
        images.released_by("pod-b");
        assert!(images.used().contains(&image.id), "pod-c still uses it");
        images.released_by("pod-c");
        assert!(images.used().is_empty());
    }
}
