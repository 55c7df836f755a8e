//! The image store: a directory shared by every process of the node (the
//! agent and the `ordinal image` CLI).
//!
//! ```text
//! lock                  writers (commit, rm, gc) flock it exclusively
//! blobs/sha256/<hex>    manifests, configs, indexes
//! layers/<n>/           one unpacked layer in overlay format
//! layers/<n>.json       its record (diff_id, digests seen, sizes)
//! images/<hex>.json     an image record, named by its config digest
//! tmp/                  work in progress, per process; swept at open
//! generation            bumped on every change of the set of images
//! ```
//!
//! Readers never lock: every file they read is replaced whole by rename.
//! A layer is renamed into `layers/` before its record is written, and an
//! image record is written only after all its layers are recorded, so a
//! crash leaves at worst an unrecorded layer directory, which the next
//! open removes.

mod commit;
pub(crate) mod files;
pub mod gc;
mod watch;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::ImageConfig;
use files::{ImageRecord, LayerRecord, WorkDir, WriteLock};
use ordinal_core::image_reference::Reference;

pub use commit::{NewImage, StagedLayer};
pub use gc::{DiskUsage, GcPolicy, GcReport};

/// One stored image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// `sha256:<config digest hex>`.
    pub id: String,
    /// Normalized, e.g. `docker.io/library/busybox:1.36`.
    pub repo_tags: Vec<String>,
    /// `docker.io/library/busybox@sha256:<manifest or index digest>`.
    pub repo_digests: Vec<String>,
    /// Compressed layers plus config, as containerd and the kubelet report.
    pub size: u64,
    /// What the runtime needs of the image's config.
    pub config: ImageConfig,
    /// Diff_ids, lowest first.
    pub layers: Vec<String>,
}

impl From<ImageRecord> for Image {
    fn from(r: ImageRecord) -> Image {
        Image {
            id: r.id,
            repo_tags: r.repo_tags,
            repo_digests: r.repo_digests,
            size: r.size,
            config: r.config,
            layers: r.layers,
        }
    }
}

/// Failures of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file of the store failed.
    #[error("image store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// No image has this name, id or id prefix.
    #[error("no such image: {0}")]
    NotFound(String),
    /// An id prefix that more than one image's id starts with.
    #[error("{0:?} matches more than one image")]
    Ambiguous(String),
    /// The image's record names a layer the store no longer has.
    #[error("image {image}: layer {diff_id} is missing from the store")]
    MissingLayer {
        /// The image's id.
        image: String,
        /// The missing layer's diff_id.
        diff_id: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A handle on a store directory; cheap to clone, shareable.
#[derive(Clone)]
pub struct ImageStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    work: WorkDir,
    /// Single-flight keys (normalized references, layer digests) shared by
    /// every handle on this root in this process.
    flights: Arc<Flights>,
    watcher: OnceLock<Arc<tokio::sync::watch::Sender<u64>>>,
}

/// In-process single-flight: one async mutex per key, so a second pull of
/// the same image or layer waits for the first and then finds it stored.
#[derive(Default)]
pub(crate) struct Flights {
    keys: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Flights {
    pub(crate) async fn enter(&self, key: &str) -> FlightGuard<'_> {
        let m = {
            let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
            keys.entry(key.to_string()).or_default().clone()
        };
        let guard = m.clone().lock_owned().await;
        FlightGuard {
            flights: self,
            key: key.to_string(),
            _guard: guard,
        }
    }
}

pub(crate) struct FlightGuard<'a> {
    flights: &'a Flights,
    key: String,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut keys = self.flights.keys.lock().unwrap_or_else(|e| e.into_inner());
        // Forget the key when nobody else waits on it (the map holds one
        // reference; this guard's mutex another).
        if keys
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) <= 2)
        {
            keys.remove(&self.key);
        }
    }
}

fn flights_for(root: &Path) -> Arc<Flights> {
    static ALL: OnceLock<Mutex<HashMap<PathBuf, std::sync::Weak<Flights>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(f) = all.get(root).and_then(std::sync::Weak::upgrade) {
        return f;
    }
    let f = Arc::new(Flights::default());
    all.insert(root.to_path_buf(), Arc::downgrade(&f));
    f
}

impl ImageStore {
    /// Opens (creating) the store at `root`, sweeping what crashed or
    /// dead processes left behind.
    pub fn open(root: &Path) -> Result<ImageStore, StoreError> {
        for sub in ["blobs/sha256", "layers", "images", "tmp"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        let root = fs::canonicalize(root).map_err(io_err(root))?;
        let tmp = root.join("tmp");
        WorkDir::sweep(&tmp);
        let work = WorkDir::create(&tmp).map_err(io_err(&tmp))?;
        let store = ImageStore {
            inner: Arc::new(Inner {
                flights: flights_for(&root),
                root,
                work,
                watcher: OnceLock::new(),
            }),
        };
        store.sweep_unrecorded_layers()?;
        Ok(store)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub(crate) fn work(&self) -> &WorkDir {
        &self.inner.work
    }

    pub(crate) fn flights(&self) -> &Flights {
        &self.inner.flights
    }

    fn dir(&self, sub: &str) -> PathBuf {
        self.inner.root.join(sub)
    }

    pub(crate) fn lock(&self) -> Result<WriteLock, StoreError> {
        WriteLock::take(self.root()).map_err(io_err(self.root()))
    }

    /// Layer directories without a record: a crash between the rename
    /// and the record. Only removed under the lock, so never a commit in
    /// progress.
    fn sweep_unrecorded_layers(&self) -> Result<(), StoreError> {
        let layers = self.dir("layers");
        let unrecorded: Vec<PathBuf> = fs::read_dir(&layers)
            .map_err(io_err(&layers))?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| !p.with_extension("json").exists())
            .collect();
        if unrecorded.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        for p in unrecorded {
            if !p.with_extension("json").exists() {
                tracing::info!(path = %p.display(), "removing a layer left by an interrupted commit");
                crate::unpack::confined::remove_tree(&p).map_err(io_err(&p))?;
            }
        }
        Ok(())
    }

    pub(crate) fn image_records(&self) -> Vec<ImageRecord> {
        let dir = self.dir("images");
        let Ok(rd) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut out: Vec<ImageRecord> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| files::read_json(&e.path()))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    pub(crate) fn layer_records(&self) -> Vec<LayerRecord> {
        let dir = self.dir("layers");
        let Ok(rd) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| files::read_json(&e.path()))
            .collect()
    }

    fn record_path(&self, id: &str) -> PathBuf {
        let hex = crate::digest::sha256_hex(id).unwrap_or(id);
        self.dir("images").join(format!("{hex}.json"))
    }

    fn record(&self, id: &str) -> Option<ImageRecord> {
        files::read_json(&self.record_path(id))
    }

    /// The image a reference names: by tag, or by repo digest (the
    /// manifest or index digest under that name).
    pub fn get(&self, r: &Reference) -> Option<Image> {
        self.get_record(r).map(Image::from)
    }

    fn get_record(&self, r: &Reference) -> Option<ImageRecord> {
        let records = self.image_records();
        if let Some(digested) = r.digested_name() {
            return records
                .into_iter()
                .find(|i| i.repo_digests.contains(&digested));
        }
        let tagged = r.tagged_name()?;
        records.into_iter().find(|i| i.repo_tags.contains(&tagged))
    }

    /// An image as the CLI names it: a reference, a full id
    /// (`sha256:…`), or a unique prefix of the id's hex.
    pub fn find(&self, s: &str) -> Option<Image> {
        self.find_record(s).ok().map(Image::from)
    }

    fn find_record(&self, s: &str) -> Result<ImageRecord, StoreError> {
        let hexish = s.strip_prefix("sha256:").unwrap_or(s);
        let is_hex = !hexish.is_empty()
            && hexish
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !s.starts_with("sha256:")
            && let Ok(r) = Reference::parse(s)
            && let Some(rec) = self.get_record(&r)
        {
            return Ok(rec);
        }
        if is_hex && (hexish.len() >= 4 || s.starts_with("sha256:")) {
            let mut matches: Vec<ImageRecord> = self
                .image_records()
                .into_iter()
                .filter(|i| i.id["sha256:".len()..].starts_with(hexish))
                .collect();
            return match matches.len() {
                1 => Ok(matches.remove(0)),
                0 => Err(StoreError::NotFound(s.to_string())),
                _ => Err(StoreError::Ambiguous(s.to_string())),
            };
        }
        Err(StoreError::NotFound(s.to_string()))
    }

    /// Every stored image, by id.
    pub fn list(&self) -> Vec<Image> {
        self.image_records().into_iter().map(Image::from).collect()
    }

    /// The layer directories of `image`, lowest first (overlay's
    /// `lowerdir` wants them highest first).
    pub fn layer_dirs(&self, image: &Image) -> Result<Vec<PathBuf>, StoreError> {
        let layers = self.dir("layers");
        Ok(self
            .layer_ids(image)?
            .into_iter()
            .map(|id| layers.join(id))
            .collect())
    }

    /// The short names of the layer directories under `layers/`, lowest
    /// first: mount with `lowerdir=` of these from inside `layers/`.
    pub fn layer_ids(&self, image: &Image) -> Result<Vec<String>, StoreError> {
        let rec = self
            .record(&image.id)
            .ok_or_else(|| StoreError::NotFound(image.id.clone()))?;
        let layers = self.dir("layers");
        let mut out = Vec::with_capacity(rec.layer_ids.len());
        for (n, diff_id) in rec.layer_ids.iter().zip(&rec.layers) {
            let json = layers.join(format!("{n}.json"));
            match files::read_json::<LayerRecord>(&json) {
                Some(l) if &l.diff_id == diff_id => out.push(n.to_string()),
                _ => {
                    return Err(StoreError::MissingLayer {
                        image: image.id.clone(),
                        diff_id: diff_id.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Records that `image` was just used (for garbage collection).
    pub fn touch(&self, image: &Image) {
        let Ok(_lock) = self.lock() else { return };
        let Some(mut rec) = self.record(&image.id) else {
            return;
        };
        rec.last_used = files::now();
        if let Ok(bytes) = serde_json::to_vec_pretty(&rec) {
            let _ = files::write_atomic(&self.work().path, &self.record_path(&rec.id), &bytes);
        }
    }

    /// Removes a name: a tag is untagged and the image deleted when no
    /// tag remains; an id or a repo digest deletes the image. Layers
    /// nothing references any more go at the next [`ImageStore::gc`].
    pub fn remove(&self, what: &str) -> Result<Image, StoreError> {
        let _lock = self.lock()?;
        let mut rec = self.find_record(what)?;
        let tag = Reference::parse(what)
            .ok()
            .filter(|r| r.digest().is_none())
            .and_then(|r| r.tagged_name())
            .filter(|t| rec.repo_tags.contains(t));
        if let Some(tag) = tag {
            rec.repo_tags.retain(|t| t != &tag);
            if !rec.repo_tags.is_empty() {
                self.write_record(&rec)?;
                self.bump_generation()?;
                return Ok(rec.into());
            }
        }
        self.delete_record(&rec)?;
        self.bump_generation()?;
        Ok(rec.into())
    }

    pub(crate) fn write_record(&self, rec: &ImageRecord) -> Result<(), StoreError> {
        let path = self.record_path(&rec.id);
        let bytes = serde_json::to_vec_pretty(rec).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: io::Error::other(e),
        })?;
        files::write_atomic(&self.work().path, &path, &bytes).map_err(io_err(&path))
    }

    /// Deletes an image record and the blobs only it referenced.
    pub(crate) fn delete_record(&self, rec: &ImageRecord) -> Result<(), StoreError> {
        let path = self.record_path(&rec.id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        self.sweep_blobs()
    }

    /// Removes blobs no image record names (config, manifest, index).
    fn sweep_blobs(&self) -> Result<(), StoreError> {
        let mut keep: HashSet<String> = HashSet::new();
        for r in self.image_records() {
            keep.insert(r.id["sha256:".len()..].to_string());
            for d in &r.repo_digests {
                if let Some((_, digest)) = d.split_once('@')
                    && let Some(hex) = crate::digest::sha256_hex(digest)
                {
                    keep.insert(hex.to_string());
                }
            }
        }
        let blobs = self.dir("blobs/sha256");
        for e in fs::read_dir(&blobs).map_err(io_err(&blobs))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    /// The blob with this digest, if stored.
    pub fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        let hex = crate::digest::sha256_hex(digest)?;
        fs::read(self.dir("blobs/sha256").join(hex)).ok()
    }

    /// A counter that changes whenever the set of images changes.
    pub fn generation(&self) -> u64 {
        fs::read_to_string(self.dir("generation"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Bumps the generation; callers hold the lock.
    pub(crate) fn bump_generation(&self) -> Result<(), StoreError> {
        let path = self.dir("generation");
        let next = self.generation() + 1;
        files::write_atomic(&self.work().path, &path, next.to_string().as_bytes())
            .map_err(io_err(&path))
    }

    /// A receiver that sees the generation whenever any process changes
    /// the store (inotify on the store directory).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner
            .watcher
            .get_or_init(|| watch::start(self.root().to_path_buf(), self.generation()))
            .subscribe()
    }

    /// The filesystem's usage and the store's own share of it.
    pub fn usage(&self) -> DiskUsage {
        gc::usage(self)
    }
}

#[cfg(test)]
mod tests;
