//! Moving staged work into the store: layers first (each renamed into
//! `layers/<n>` and then recorded), the image record last, all under the
//! writers' lock.

use std::collections::HashMap;
use std::fs;
use std::os::fd::AsFd;
use std::path::PathBuf;

use super::files::{self, ImageRecord, LayerRecord};
use super::{Image, ImageStore, StoreError, io_err};
use crate::config::ParsedConfig;
use crate::unpack::Unpacked;

/// A layer unpacked into the work directory, verified, not yet stored.
pub struct StagedLayer {
    pub dir: PathBuf,
    pub unpacked: Unpacked,
}

/// An image ready to be recorded once its layers are stored.
pub struct NewImage {
    pub config_bytes: Vec<u8>,
    pub config_digest: String,
    pub parsed: ParsedConfig,
    /// Manifests and indexes to keep, by digest.
    pub blobs: Vec<(String, Vec<u8>)>,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub size: u64,
}

impl ImageStore {
    /// A fresh empty directory in this handle's work area.
    pub(crate) fn stage_dir(&self) -> Result<PathBuf, StoreError> {
        let p = self.work().fresh("layer-");
        fs::create_dir(&p).map_err(io_err(&p))?;
        Ok(p)
    }

    /// The stored layer that arrived as this compressed digest.
    pub(crate) fn layer_by_compressed(&self, digest: &str) -> Option<LayerRecord> {
        self.layer_records()
            .into_iter()
            .find(|l| l.compressed.iter().any(|c| c == digest) || l.diff_id == digest)
    }

    /// Stores a staged layer (or drops it when the store already has its
    /// diff_id) and returns its short id.
    pub(crate) fn commit_layer(&self, staged: StagedLayer) -> Result<u32, StoreError> {
        let _lock = self.lock()?;
        let records = self.layer_records();
        let u = &staged.unpacked;
        if let Some(mut existing) = records.into_iter().find(|l| l.diff_id == u.diff_id) {
            let _ = crate::unpack::confined::remove_tree(&staged.dir);
            if !existing.compressed.contains(&u.compressed_digest) {
                existing.compressed.push(u.compressed_digest.clone());
                self.write_layer_record(&existing)?;
            }
            return Ok(existing.id);
        }
        let layers = self.root().join("layers");
        let id = self.next_layer_id()?;
        // One syncfs instead of an fsync per file: the layer's data is on
        // disk before its directory gets its final name.
        let dir = fs::File::open(&staged.dir).map_err(io_err(&staged.dir))?;
        rustix::fs::syncfs(dir.as_fd()).map_err(|e| io_err(&staged.dir)(e.into()))?;
        drop(dir);
        let dest = layers.join(id.to_string());
        fs::rename(&staged.dir, &dest).map_err(io_err(&dest))?;
        files::sync_dir(&layers).map_err(io_err(&layers))?;
        let mut compressed = vec![u.compressed_digest.clone()];
        compressed.dedup();
        self.write_layer_record(&LayerRecord {
            id,
            diff_id: u.diff_id.clone(),
            compressed,
            disk_size: u.disk_size,
            tar_size: u.tar_size,
            stored: files::now(),
        })?;
        Ok(id)
    }

    pub(crate) fn write_layer_record(&self, rec: &LayerRecord) -> Result<(), StoreError> {
        let path = self.root().join("layers").join(format!("{}.json", rec.id));
        let bytes =
            serde_json::to_vec_pretty(rec).map_err(|e| io_err(&path)(std::io::Error::other(e)))?;
        files::write_atomic(&self.work().path, &path, &bytes).map_err(io_err(&path))
    }

    /// One more than the highest id in use, by directory or record.
    fn next_layer_id(&self) -> Result<u32, StoreError> {
        let layers = self.root().join("layers");
        let mut max = 0u32;
        for e in fs::read_dir(&layers).map_err(io_err(&layers))?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".json").unwrap_or(&name);
            if let Ok(n) = stem.parse::<u32>() {
                max = max.max(n);
            }
        }
        Ok(max + 1)
    }

    /// Records an image whose layers are all stored: its blobs, its
    /// record (merged with an existing one of the same id), its tags
    /// taken from any image that had them. Bumps the generation.
    pub(crate) fn commit_image(&self, new: NewImage) -> Result<Image, StoreError> {
        let _lock = self.lock()?;
        let by_diff: HashMap<String, u32> = self
            .layer_records()
            .into_iter()
            .map(|l| (l.diff_id, l.id))
            .collect();
        let mut layer_ids = Vec::with_capacity(new.parsed.diff_ids.len());
        for d in &new.parsed.diff_ids {
            let id = by_diff.get(d).ok_or_else(|| StoreError::MissingLayer {
                image: new.config_digest.clone(),
                diff_id: d.clone(),
            })?;
            layer_ids.push(*id);
        }
        let blobs = self.root().join("blobs/sha256");
        let all_blobs = std::iter::once((&new.config_digest, &new.config_bytes))
            .chain(new.blobs.iter().map(|(d, b)| (d, b)));
        for (digest, bytes) in all_blobs {
            let Some(hex) = crate::digest::sha256_hex(digest) else {
                continue;
            };
            let path = blobs.join(hex);
            if !path.exists() {
                files::write_atomic(&self.work().path, &path, bytes).map_err(io_err(&path))?;
            }
        }
        let now = files::now();
        let mut rec = match self.record(&new.config_digest) {
            Some(mut old) => {
                old.layer_ids = layer_ids;
                old
            }
            None => ImageRecord {
                id: new.config_digest.clone(),
                repo_tags: Vec::new(),
                repo_digests: Vec::new(),
                layers: new.parsed.diff_ids.clone(),
                layer_ids,
                size: new.size,
                config: new.parsed.config.clone(),
                created: now,
                last_used: now,
            },
        };
        for t in &new.repo_tags {
            if !rec.repo_tags.contains(t) {
                rec.repo_tags.push(t.clone());
            }
        }
        for d in &new.repo_digests {
            if !rec.repo_digests.contains(d) {
                rec.repo_digests.push(d.clone());
            }
        }
        rec.last_used = now;
        // A tag names one image: it moves here from wherever it was.
        for mut other in self.image_records() {
            if other.id == rec.id {
                continue;
            }
            let before = other.repo_tags.len();
            other.repo_tags.retain(|t| !new.repo_tags.contains(t));
            if other.repo_tags.len() != before {
                self.write_record(&other)?;
            }
        }
        self.write_record(&rec)?;
        self.bump_generation()?;
        Ok(rec.into())
    }
}
